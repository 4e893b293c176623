"""The end of a variant: when the workload counts as done. Pipeline and pattern workers
have committed their input to its end, share groups have no lag, consumers have stopped
delivering, and every topic the workload wrote is read to its end into the history (the
drain), so the checker judges what the log holds, not what a client saw in time."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kchaos.cluster.base import Cluster
from kchaos.cluster.inspect import partitions
from kchaos.errors import ClusterError
from kchaos.events import Client
from kchaos.experiment import Experiment
from kchaos.history import HistoryWriter
from kchaos.patterns import share
from kchaos.patterns.worker import PatternProcess
from kchaos.roles import Member
from kchaos.spec.resolve import ResolvedVariant
from kchaos.workload import pipeline
from kchaos.workload.consumer import drain
from kchaos.workload.pipeline import PipelineProcess

#: How long a worker group may take to commit its input to the end after the producers stop.
CATCH_UP_S = 45.0


def catch_up(
    cluster: Cluster,
    members: dict[str, Any],
    history: HistoryWriter,
    transactional_input: bool,
    limit: float = CATCH_UP_S,
) -> None:
    """Wait until each pipeline or pattern group committed its topics to their end (a
    share group: until its lag is 0). A group that has not by ``limit`` is recorded (a
    ``client`` event), and the run goes on."""
    workers = [c for c in members.values() if isinstance(c, PipelineProcess | PatternProcess)]
    deadline = time.monotonic() + limit
    for group in sorted({w.group for w in workers}):
        first = next(w for w in workers if w.group == group)
        if first.share:
            _share_caught_up(cluster, group, deadline, history)
            continue
        topics = first.committed_topics
        for t in topics:
            left = max(1.0, deadline - time.monotonic())
            transactional = transactional_input and t == topics[0]  # retry topics never are
            if not pipeline.wait_caught_up(cluster.bootstrap, group, t, left, transactional):
                history.write(
                    Client(group, "not-caught-up", history.now(), detail=f"{t} not committed after {limit:g} s")
                )
                break


def _share_caught_up(cluster: Cluster, group: str, deadline: float, history: HistoryWriter) -> None:
    """A share group is done when its lag is 0 (no committed offsets to compare)."""
    while time.monotonic() < deadline:
        if share.lag(cluster, group) == 0:
            return
        time.sleep(1.0)
    history.write(Client(group, "not-caught-up", history.now(), detail="share group lag not 0"))


def quiet_time(rv: ResolvedVariant) -> float:
    """How long deliveries must stand still before consumers count as caught up: longer
    than one batch takes to process (a slow consumer delivers once a batch)."""
    spec = rv.groups
    if spec is None:
        return 0.6
    slowest = max(spec.processing_of(g) for g in range(spec.groups))
    return max(0.6, 1.5 * slowest * spec.batch / 1000 + 2 * spec.poll_ms / 1000)


def settle(consumers: Sequence[Member], quiet: float = 0.6, limit: float = 20.0) -> None:
    """Let consumers catch up: wait until deliveries stop growing for ``quiet`` seconds."""
    if not consumers:
        return
    deadline, seen, since = time.monotonic() + limit, -1, time.monotonic()
    while time.monotonic() < deadline:
        now = sum(c.delivered for c in consumers)
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.2)


def drain_all(
    cluster: Cluster,
    exp: Experiment,
    rv: ResolvedVariant,
    names: dict[str, str],
    transactional: bool,
    txn_timeout: float | None,
    history: HistoryWriter,
) -> None:
    """Read every topic the workload wrote to its end (read_committed, and also
    read_uncommitted where transactions wrote), into the history."""
    # A read_committed drain waits out the transaction timeout: a hanging transaction
    # holds it below the end until the coordinator aborts it (else: stuck-lso).
    wait = max(60.0, (txn_timeout or 0) + 15)
    for name, n, txn in _drained_topics(cluster, exp, rv, names, transactional):
        for iso in ["read_committed"] + (["read_uncommitted"] if txn else []):
            drain(cluster.bootstrap, name, list(range(n)), history, iso, f"drain-{iso}", timeout=wait)


def _drained_topics(
    cluster: Cluster, exp: Experiment, rv: ResolvedVariant, names: dict[str, str], transactional: bool
) -> list[tuple[str, int, bool]]:
    """(topic, partitions, transactional) of each topic the drain reads: the workload's
    topic as it is now (an add-partitions step may have grown it), a pipeline's output, a
    pattern's topics and a schema reader's dead-letter topic."""

    def declared(name: str) -> int:
        return next(t.partitions for t in exp.topics if t.name == name)

    topic = names[rv.workload.topic]
    parts = rv.variant.partitions or declared(rv.workload.topic)
    try:
        parts = max(parts, len(partitions(cluster, topic).get(topic, [])))
    except ClusterError:  # no broker answers: the drain records what it cannot read
        pass
    out = [(topic, parts, transactional)]
    if rv.pipeline is not None:
        out.append((names[rv.pipeline.output], declared(rv.pipeline.output), rv.pipeline.mode == "exactly-once"))
    out += [(names[t], declared(t), False) for t in (rv.pattern.topics() if rv.pattern else ())]
    if rv.schemas is not None and rv.schemas.dead_letter:
        out.append((names[rv.schemas.dead_letter], declared(rv.schemas.dead_letter), False))
    return out
