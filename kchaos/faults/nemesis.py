"""The nemesis: runs an experiment's fault steps against a cluster and heals them all.

Each step's action comes from the one table (``faults.actions``) and its target from the
one grammar (``faults.targets``), both checked when the file loaded. At run time the
target is resolved to a node (a leader or coordinator is whoever holds the role now),
the action runs, and a ``fault`` start event is recorded; the action that undoes it
(start after kill/stop, resume after pause, heal) records the end. ``heal_all`` ends
every open fault whatever happened: it runs on the way out, also on Ctrl-C and on error.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kchaos.cluster import targets
from kchaos.cluster.base import Cluster
from kchaos.cluster.inspect import coordinator_of, resolve_target
from kchaos.errors import BadInput
from kchaos.events import Fault
from kchaos.faults import actions
from kchaos.faults.context import StepContext
from kchaos.faults.step import FaultStep
from kchaos.faults.steps import STEPS
from kchaos.history import HistoryWriter

#: What each client action does to a workload client (``ClientProcess``, ``JavaConsumer``).
DO: dict[str, Callable[[Any], None]] = {
    "kill-client": lambda c: c.kill(),
    "pause-client": lambda c: c.pause(),
    "hang-client": lambda c: c.hang(),
    "stop-client": lambda c: c.leave(),
}
UNDO: dict[str, Callable[[Any], None]] = {
    "resume-client": lambda c: c.resume(),
    "restart-client": lambda c: c.restart(),
    "start-client": lambda c: c.restart(),
}


@dataclass(eq=False)  # two equal faults (the same slow link twice) are still two
class OpenFault:
    """A fault that is on: what undoes it, and what its ``end`` event names.

    ``node`` is the resolved node of a cluster fault (``to``: the other end of a link);
    ``client`` the target of a workload-client fault (``consumer:G:M``, ``pattern:M``).
    ``network`` faults are undone by healing the network and applying the others again."""

    name: str
    label: str
    node: int | None = None
    client: str | None = None
    network: bool = False
    to: int | None = None
    args: dict[str, Any] = field(default_factory=dict)


class Nemesis:
    """Applies fault steps to one cluster, recording them in one history."""

    def __init__(
        self, cluster: Cluster, history: HistoryWriter, rng: random.Random, topic_names: dict[str, str] | None = None
    ) -> None:
        self.cluster, self.history, self.rng = cluster, history, rng
        self.topic_names = topic_names or {}
        self.names: dict[str, int] = {}
        #: The workload's producers and consumer group ids, for workload faults
        #: (``crash-producer``) and for ``txn-coordinator[:N]`` / ``group-coordinator[:N]``.
        self.producers: list[Any] = []
        self.groups: list[str] = []
        #: Workload clients in processes of their own, by target (``consumer:G:M``, ``pipeline:M``, ``pattern:M``).
        self.clients: dict[str, Any] = {}
        self.open: list[OpenFault] = []

    def target(self, ref: str | int | None) -> int:
        """The node a target names now."""
        if ref is None:
            raise BadInput("this fault step needs a target")
        try:
            t = targets.parse(ref)
        except ValueError as err:
            raise BadInput(str(err)) from None
        if t.kind == "$":
            if t.name not in self.names:
                raise BadInput(f"target ${t.name}: no earlier step named {t.name!r} (use as: {t.name})")
            return self.names[t.name]  # type: ignore[index]
        if t.kind == "txn-coordinator":
            txid = self._producer(t.index or 0).config["transactional.id"]
            return coordinator_of(self.cluster, "__transaction_state", txid)
        if t.kind == "group-coordinator":
            if (t.index or 0) >= len(self.groups):
                raise BadInput(f"target {ref}: this workload has {len(self.groups)} consumer groups")
            return coordinator_of(self.cluster, "__consumer_offsets", self.groups[t.index or 0])
        if t.topic is not None:  # the file's topic name -> this run's topic
            t = targets.Target(t.kind, t.node, self.topic_names.get(t.topic, t.topic), t.partition, t.index, t.name)
        return resolve_target(self.cluster, t, self.rng)

    def _producer(self, ref: str | int) -> Any:
        """The workload's producer number ``ref`` (0-based)."""
        text = str(ref)
        if not text.isdigit() or int(text) >= len(self.producers):
            raise BadInput(f"producer {text!r}: this workload has producers 0..{len(self.producers) - 1}")
        producer = self.producers[int(text)]
        if "transactional.id" not in producer.config:
            raise BadInput(f"producer {text}: not transactional (set transactional.id in the variant's producer)")
        return producer

    def record(self, name: str, target: Any, phase: str, args: dict[str, Any] | None = None) -> None:
        """A ``fault`` event in the history: the one record of what the nemesis did (the
        checker and the report both read it there)."""
        self.history.write(Fault(name, str(target), phase, self.history.now(), args))  # type: ignore[arg-type]

    def step_context(self) -> StepContext:
        """What a named step may use of this run (its clients and producers as they are now)."""
        return StepContext(
            self.cluster, self.history, self.topic_names, self.clients, self.producers, self.target, self.record
        )

    def run(self, s: FaultStep) -> None:
        """Perform one step now."""
        act = actions.action(s.do)
        if act.name == "heal":
            self.heal_all()
            return
        if act.name == "crash-producer":
            p = self._producer(s.target or 0)
            p.crash(**act.bind(s.args))
            self.record(act.name, p.producer_name, "start", **({"args": s.args} if s.args else {}))
            self.record(act.name, p.producer_name, "end")
            return
        if act.target == "client":
            self._client_fault(act, s)
            return
        if act.name == "step":
            args = {k: v for k, v in s.args.items() if k != "name"}
            fn = STEPS.get(str(s.args.get("name")))
            if fn is None:
                raise BadInput(f"unknown step {s.args.get('name')!r}; known: {', '.join(STEPS)}")
            fn(self.step_context(), **args)
            return
        node = self.target(s.target)
        if s.name:
            self.names[s.name] = node
        args = act.bind(s.args)
        if act.undoes:
            actions.apply(self.cluster, act, node, None, args)
            self._end(lambda f, node=node, undone=act.undoes: f.node == node and f.name in undone)
            return
        to = self.target(s.to) if act.target == "pair" else None
        label = actions.apply(self.cluster, act, node, to, args)
        self.record(act.name, label, "start", **({"args": s.args} if s.args else {}))
        self.open.append(OpenFault(act.name, label, node=node, network=not act.process, to=to, args=args))

    def _client_fault(self, act: actions.Action, s: FaultStep) -> None:
        """The client actions (kill, pause, hang, stop; resume, start, restart) on one
        workload client. An undoing action with nothing open to undo (starting a standby
        member, restarting a live one) is a fault of its own, begun and ended at once."""
        ref = targets.parse(s.target).text() if s.target is not None else ""
        client = self.clients.get(ref)
        if client is None:
            raise BadInput(f"target {s.target}: no client process {ref!r} (consumers need process: true)")
        args = act.bind(s.args)
        held = client.wait_in_hand(10.0) if args.get("mid_batch") else None
        if held and args.get("hold_ms"):
            time.sleep(args["hold_ms"] / 1000)
        recorded = {"client": ref, "pid": client.pid, "delivered": client.delivered, "in_hand": client.in_hand}
        if held is not None:
            recorded["mid_batch"] = held
        if s.name:  # the step's own name: the checker measures each rebalance trigger under it
            recorded["as"] = s.name
        if act.undoes:
            opened = any(f.client == ref and f.name in act.undoes for f in self.open)
            if not opened:
                self.record(act.name, client.reader, "start", args=recorded)
            UNDO[act.name](client)
            if opened:
                by = {"by": act.name, **({"as": s.name} if s.name else {})}
                self._end(lambda f: f.client == ref and f.name in act.undoes, by)
            else:
                self.record(act.name, client.reader, "end")
            return
        if args.get("at"):  # a pipeline or pattern worker, killed where its loop reaches a point
            recorded["at"] = args["at"]
            recorded["reached"] = client.kill_at(args["at"])
            self.record(act.name, client.reader, "start", args=recorded)
            self.open.append(OpenFault(act.name, client.reader, client=ref))
            return
        # Recorded first: a graceful stop takes its time (the member's revoke callback runs
        # in it), and all it causes must come after the trigger in the history.
        self.record(act.name, client.reader, "start", args=recorded)
        DO[act.name](client)
        self.open.append(OpenFault(act.name, client.reader, client=ref))

    def _end(self, matches: Callable[[OpenFault], bool], by: dict[str, Any] | None = None) -> None:
        """End the open faults that match; ``by``: the step that ended them (its action
        and ``as`` name), recorded with the end so a restart can be measured as a trigger."""
        for f in [f for f in self.open if matches(f)]:
            self.open.remove(f)
            self.record(f.name, f.label, "end", by)

    def undo(self, fault: OpenFault) -> None:
        """End one open cluster fault (an entry of ``open``) and leave the others on: a
        killed or stopped node starts, a paused one resumes; a network fault goes by
        healing the network and applying the other open network faults again (Toxiproxy
        state is per link, and two faults can share a link)."""
        if not any(f is fault for f in self.open) or fault.client:
            return
        if fault.network:
            self.cluster.heal_network()
            for other in self.open:
                if other.network and other is not fault:
                    actions.apply(self.cluster, actions.action(other.name), other.node, other.to, other.args)
        else:
            undo = actions.action("resume" if fault.name == "pause" else "start")
            actions.apply(self.cluster, undo, fault.node, None, {})
        self._end(lambda f: f is fault)

    def heal_all(self) -> list[str]:
        """Everything back (clients first, then network, paused and stopped nodes); every
        open fault ends, also when healing the cluster fails (the error then goes on)."""
        done: list[str] = []
        try:
            for f in self.open:
                if f.client:  # a killed, hung or stopped client starts again, a paused one goes on
                    client = self.clients[f.client]
                    if f.name == "pause-client":
                        client.resume()
                        done.append(f"resumed {f.client}")
                    else:
                        client.restart()
                        done.append(f"restarted {f.client}")
            done += self.cluster.heal()
        finally:
            self._end(lambda f: True)
        return done

    def active(self) -> list[str]:
        return [f"{f.name} {f.label}" for f in self.open]
