"""The nemesis: runs an experiment's fault steps against a cluster and heals them all.

Each step's action comes from the one table (``faults.actions``) and its target from the
one grammar (``cluster.targets``), both checked when the file loaded. At run time the
action's executor (``faults.executors``) resolves the target to a node (a leader or
coordinator is whoever holds the role now), does the fault and records a ``fault``
start event; the action that undoes it (start after kill/stop, resume after pause, heal)
records the end. ``heal_all`` ends every open fault whatever happened: it runs on the
way out, also on Ctrl-C and on error.
"""

from __future__ import annotations

from kchaos.faults import actions
from kchaos.faults.executors import EXECUTORS
from kchaos.faults.state import FaultState, OpenFault
from kchaos.faults.step import FaultStep

__all__ = ["Nemesis", "OpenFault"]


class Nemesis(FaultState):
    """Applies fault steps to one cluster, recording them in one history."""

    def run(self, s: FaultStep) -> None:
        """Perform one step now."""
        act = actions.action(s.do)
        if act.executor == "heal":
            self.heal_all()
            return
        EXECUTORS[act.executor].apply(self, act, s)

    def undo(self, fault: OpenFault) -> None:
        """End one open fault (an entry of ``open``) and leave the others on."""
        if not any(f is fault for f in self.open):
            return
        EXECUTORS[actions.action(fault.name).executor].undo(self, fault)
        self.end(lambda f: f is fault)

    def heal_all(self) -> list[str]:
        """Everything back (clients first, then network, paused and stopped nodes); every
        open fault ends, also when healing the cluster fails (the error then goes on)."""
        done: list[str] = []
        try:
            for f in self.open:
                if f.client:
                    done.append(EXECUTORS["client"].undo(self, f) or "")
            done += self.cluster.heal()
        finally:
            self.end(lambda f: True)
        return done

    def active(self) -> list[str]:
        return [f"{f.name} {f.label}" for f in self.open]
