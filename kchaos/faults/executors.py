"""How each kind of fault is done and undone. Every action of the table
(``faults.actions``) names its executor (``Action.executor``): ``cluster`` (a node's
process or its network links, through the cluster), ``client`` (a workload client in a
process of its own), ``producer`` (a workload producer made to crash), ``step`` (a
named step) and ``heal``. An executor applies a step and undoes one open fault of its
kind; the nemesis only looks the executor up. A new fault is a row of the table, and,
only when no executor here can do it, one more executor."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from kchaos.cluster import targets
from kchaos.errors import BadInput
from kchaos.faults import actions
from kchaos.faults.context import StepContext
from kchaos.faults.state import FaultState, OpenFault
from kchaos.faults.step import FaultStep
from kchaos.faults.steps import STEPS


class Executor(Protocol):
    def apply(self, state: FaultState, act: actions.Action, step: FaultStep) -> None:
        """Perform ``step`` now, recording it; an opened fault joins ``state.open``."""

    def undo(self, state: FaultState, fault: OpenFault) -> str | None:
        """Undo one open fault of this kind (not yet ended in ``state``); says what it did."""


class ClusterFaults:
    """Faults on a node's process (kill, stop, pause) or its links (isolate, partition,
    slow, ...), and the actions that undo them (start, resume)."""

    def apply(self, state: FaultState, act: actions.Action, step: FaultStep) -> None:
        node = state.target(step.target)
        if step.name:
            state.names[step.name] = node
        args = act.bind(step.args)
        if act.undoes:
            actions.apply(state.cluster, act, node, None, args)
            state.end(lambda f, node=node, undone=act.undoes: f.node == node and f.name in undone)
            return
        to = state.target(step.to) if act.target == "pair" else None
        label = actions.apply(state.cluster, act, node, to, args)
        state.record(act.name, label, "start", **({"args": step.args} if step.args else {}))
        state.open.append(OpenFault(act.name, label, node=node, network=not act.process, to=to, args=args))

    def undo(self, state: FaultState, fault: OpenFault) -> str | None:
        """A killed or stopped node starts, a paused one resumes; a network fault goes by
        healing the network and applying the other open network faults again (Toxiproxy
        state is per link, and two faults can share a link)."""
        if fault.network:
            state.cluster.heal_network()
            for other in state.open:
                if other.network and other is not fault:
                    actions.apply(state.cluster, actions.action(other.name), other.node, other.to, other.args)
            return f"healed {fault.label}"
        undo = actions.action("resume" if fault.name == "pause" else "start")
        actions.apply(state.cluster, undo, fault.node, None, {})
        return f"{undo.name} node {fault.node}"


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


class ClientFaults:
    """The client actions (kill, pause, hang, stop; resume, start, restart) on one
    workload client. An undoing action with nothing open to undo (starting a standby
    member, restarting a live one) is a fault of its own, begun and ended at once."""

    def apply(self, state: FaultState, act: actions.Action, step: FaultStep) -> None:
        ref = targets.parse(step.target).text() if step.target is not None else ""
        client = state.clients.get(ref)
        if client is None:
            raise BadInput(f"target {step.target}: no client process {ref!r} (consumers need process: true)")
        args = act.bind(step.args)
        recorded = self._before(client, ref, args, step)
        if act.undoes:
            self._undoing(state, act, step, client, ref, recorded)
            return
        if args.get("at"):  # a pipeline or pattern worker, killed where its loop reaches a point
            recorded["at"] = args["at"]
            recorded["reached"] = client.kill_at(args["at"])
            state.record(act.name, client.reader, "start", args=recorded)
            state.open.append(OpenFault(act.name, client.reader, client=ref))
            return
        # Recorded first: a graceful stop takes its time (the member's revoke callback runs
        # in it), and all it causes must come after the trigger in the history.
        state.record(act.name, client.reader, "start", args=recorded)
        DO[act.name](client)
        state.open.append(OpenFault(act.name, client.reader, client=ref))

    @staticmethod
    def _before(client: Any, ref: str, args: dict[str, Any], step: FaultStep) -> dict[str, Any]:
        """Wait for the moment the step asks (mid-batch, held), then what the fault event
        records of the client: its pid, what it delivered, what it holds unprocessed."""
        held = client.wait_in_hand(10.0) if args.get("mid_batch") else None
        if held and args.get("hold_ms"):
            time.sleep(args["hold_ms"] / 1000)
        recorded = {"client": ref, "pid": client.pid, "delivered": client.delivered, "in_hand": client.in_hand}
        if held is not None:
            recorded["mid_batch"] = held
        if step.name:  # the step's own name: the checker measures each rebalance trigger under it
            recorded["as"] = step.name
        return recorded

    @staticmethod
    def _undoing(
        state: FaultState, act: actions.Action, step: FaultStep, client: Any, ref: str, recorded: dict[str, Any]
    ) -> None:
        opened = any(f.client == ref and f.name in act.undoes for f in state.open)
        if not opened:
            state.record(act.name, client.reader, "start", args=recorded)
        UNDO[act.name](client)
        if opened:
            by = {"by": act.name, **({"as": step.name} if step.name else {})}
            state.end(lambda f: f.client == ref and f.name in act.undoes, by)
        else:
            state.record(act.name, client.reader, "end")

    def undo(self, state: FaultState, fault: OpenFault) -> str | None:
        """A killed, hung or stopped client starts again, a paused one goes on."""
        client = state.clients[fault.client]  # type: ignore[index]
        if fault.name == "pause-client":
            client.resume()
            return f"resumed {fault.client}"
        client.restart()
        return f"restarted {fault.client}"


class ProducerFaults:
    """``crash-producer``: a workload producer dies mid-transaction (begun and ended at
    once: nothing stays open)."""

    def apply(self, state: FaultState, act: actions.Action, step: FaultStep) -> None:
        p = state.producer(step.target or 0)
        p.crash(**act.bind(step.args))
        state.record(act.name, p.producer_name, "start", **({"args": step.args} if step.args else {}))
        state.record(act.name, p.producer_name, "end")

    def undo(self, state: FaultState, fault: OpenFault) -> str | None:
        return None


class NamedSteps:
    """``step``: a named step (``faults.steps``) with the run's context; a step that
    leaves something changed records its own events."""

    def apply(self, state: FaultState, act: actions.Action, step: FaultStep) -> None:
        fn = STEPS.get(str(step.args.get("name")))
        if fn is None:
            raise BadInput(f"unknown step {step.args.get('name')!r}; known: {', '.join(STEPS)}")
        ctx = StepContext(
            state.cluster, state.history, state.topic_names, state.clients, state.producers, state.target, state.record
        )
        fn(ctx, **{k: v for k, v in step.args.items() if k != "name"})

    def undo(self, state: FaultState, fault: OpenFault) -> str | None:
        return None


#: The executor of each kind (``Action.executor``); ``heal`` is the nemesis' own.
EXECUTORS: dict[str, Executor] = {
    "cluster": ClusterFaults(),
    "client": ClientFaults(),
    "producer": ProducerFaults(),
    "step": NamedSteps(),
}
