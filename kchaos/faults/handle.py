"""Faults for Python code: the cluster-wide actions of the one table as calls that
return a handle, usable as a context manager that heals that fault on exit.

    faults = Faults(cluster, history)
    with faults.kill(leader_of("orders", 0)):
        ...                      # the leader is down here
    faults.slow(node(2), latency_ms=300)   # stays until faults.heal()

The nemesis does the work (target resolution, ``fault`` events in the history, undo),
so a test's faults are recorded exactly as an experiment's are and the checker can name
the fault a finding happened during.
"""

from __future__ import annotations

import random
from types import TracebackType
from typing import Any

from kchaos.cluster.base import Cluster
from kchaos.faults.actions import action as action_named
from kchaos.faults.nemesis import Nemesis, OpenFault
from kchaos.faults.step import FaultStep


class _NoHistory:
    """Stands in for a history when faults are applied without one."""

    def now(self) -> float:
        return 0.0

    def write(self, event: Any) -> None:
        pass


class ActiveFault:
    """One fault that is on. ``heal()`` (or leaving its ``with`` block) undoes it alone."""

    def __init__(self, nemesis: Nemesis, entry: OpenFault) -> None:
        self._nemesis, self._entry = nemesis, entry

    @property
    def action(self) -> str:
        return self._entry.name

    @property
    def node(self) -> int:
        """The node the target resolved to when the fault started."""
        return int(self._entry.node)  # type: ignore[arg-type]

    @property
    def active(self) -> bool:
        return any(f is self._entry for f in self._nemesis.open)

    def heal(self) -> None:
        """Undo this fault (a no-op when it already ended, e.g. by ``Faults.heal``)."""
        self._nemesis.undo(self._entry)

    def __enter__(self) -> ActiveFault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.heal()

    def __repr__(self) -> str:
        return f"<fault {self._entry.name} {self._entry.label}{'' if self.active else ' (healed)'}>"


class Faults:
    """Apply faults to ``cluster``, recording them in ``history`` (any ``HistoryWriter``).

    Targets are the grammar's texts; ``kchaos.cluster.targets`` has functions that write
    them (``leader_of``, ``follower_of``, ``controller``, ``node``, ``group_coordinator``).
    A leader or coordinator target names whoever holds the role when the fault starts.
    """

    def __init__(self, cluster: Cluster, history: Any = None, seed: int | None = None) -> None:
        self.cluster = cluster
        self._nemesis = Nemesis(cluster, history if history is not None else _NoHistory(), random.Random(seed))

    def apply(
        self, action: str, target: str | int | None = None, to: str | int | None = None, **args: Any
    ) -> ActiveFault:
        """Start ``action`` (a name of the table, e.g. ``"kill"``, ``"reset-peer"``)."""
        step = FaultStep(do=action, target=target, to=to, args=args)
        if step.do in ("heal", "start", "resume") or action_named(step.do).scope != "cluster":
            raise ValueError(f"{action!r} is not a fault to start here; use the handle's heal() or Faults.heal()")
        before = len(self._nemesis.open)
        self._nemesis.run(step)
        if len(self._nemesis.open) <= before:
            raise RuntimeError(f"{action} did not open a fault")  # every cluster action does
        return ActiveFault(self._nemesis, self._nemesis.open[-1])

    def kill(self, target: str | int) -> ActiveFault:
        """SIGKILL a node; healing starts it again."""
        return self.apply("kill", target)

    def stop(self, target: str | int) -> ActiveFault:
        """Stop a node gracefully (controlled shutdown); healing starts it again."""
        return self.apply("stop", target)

    def pause(self, target: str | int) -> ActiveFault:
        """Freeze a node (SIGSTOP); healing resumes it."""
        return self.apply("pause", target)

    def isolate(self, target: str | int, keep_clients: bool = False) -> ActiveFault:
        """Cut a node off from every peer and controller (and clients, unless ``keep_clients``)."""
        return self.apply("isolate", target, keep_clients=keep_clients)

    def cut(self, source: str | int, to: str | int) -> ActiveFault:
        """Cut the directed link: connections ``source`` opens to ``to``."""
        return self.apply("cut", source, to)

    def slow(self, target: str | int, latency_ms: int = 200, **network: Any) -> ActiveFault:
        """Add latency to a node's links (``direction``, ``links`` as in docs/faults.md)."""
        return self.apply("slow", target, latency_ms=latency_ms, **network)

    def bandwidth(self, target: str | int, rate_kb: int = 100, **network: Any) -> ActiveFault:
        """Limit a node's links to ``rate_kb`` KB/s."""
        return self.apply("bandwidth", target, rate_kb=rate_kb, **network)

    def reset_peer(self, target: str | int, timeout_ms: int = 0, **network: Any) -> ActiveFault:
        """Reset (TCP RST) a node's connections."""
        return self.apply("reset-peer", target, timeout_ms=timeout_ms, **network)

    def timeout(self, target: str | int, timeout_ms: int = 0, **network: Any) -> ActiveFault:
        """Make a node's links swallow all data (connections hang)."""
        return self.apply("timeout", target, timeout_ms=timeout_ms, **network)

    @property
    def active(self) -> list[str]:
        """The faults on now, as ``"kill 2"``."""
        return self._nemesis.active()

    def heal(self) -> list[str]:
        """Everything back, also what was broken outside this object; returns what was done."""
        return self._nemesis.heal_all()

    def __enter__(self) -> Faults:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.heal()
