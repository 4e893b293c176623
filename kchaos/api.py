"""kchaos' public Python API: what ``import kchaos`` offers (``kchaos.__all__``,
``docs/api.md``). Everything else in the package is internal and may change.

The pieces, in the pipeline's order:

- a cluster: ``up`` (start one), ``attach`` (one that runs), ``down``; ``create_topic``
  and ``wait_healthy`` for a test's setup and teardown;
- faults: ``Faults`` (context managers that heal on exit) and the target functions
  ``node``, ``leader_of``, ``follower_of``, ``controller``, ``random_broker``,
  ``txn_coordinator``, ``group_coordinator``;
- recording: ``History`` with ``RecordedProducer`` / ``RecordedConsumer``, ``Worker``
  for code in a process of its own, ``crash_point`` to mark where a crash matters,
  ``drain`` to read what the log holds at the end;
- the verdict: ``check`` and ``assert_no_anomalies`` (``AnomaliesFound``).
"""

from __future__ import annotations

from typing import Any

from confluent_kafka.admin import NewTopic

from kchaos.checker.verdict import AnomaliesFound, assert_no_anomalies
from kchaos.checker.verdict import check_history as check
from kchaos.cluster import attach, choose_backend, start_fresh, teardown
from kchaos.cluster.base import Cluster
from kchaos.cluster.inspect import partitions, wait_healthy, wait_until
from kchaos.cluster.readiness import admin
from kchaos.cluster.readiness import create_topic as create_topic_retrying
from kchaos.cluster.spec import ClusterSpec, config_text
from kchaos.cluster.targets import (
    controller,
    follower_of,
    group_coordinator,
    leader_of,
    node,
    random_broker,
    txn_coordinator,
)
from kchaos.errors import BadInput, ClusterError, KchaosError
from kchaos.faults.handle import ActiveFault, Faults
from kchaos.history import HistoryWriter, load
from kchaos.patterns.handler import Record, TransientError
from kchaos.patterns.routing import DeadLetterRouter, RetryPlan
from kchaos.patterns.worker import PatternWorker
from kchaos.workload.consumer import drain as drain_partitions
from kchaos.workload.recorded import History, RecordedConsumer, RecordedProducer, crash_point
from kchaos.workload.worker import Worker

__all__ = [
    "ActiveFault",
    "AnomaliesFound",
    "DeadLetterRouter",
    "PatternWorker",
    "Record",
    "RetryPlan",
    "TransientError",
    "BadInput",
    "Cluster",
    "ClusterError",
    "Faults",
    "History",
    "KchaosError",
    "RecordedConsumer",
    "RecordedProducer",
    "Worker",
    "assert_no_anomalies",
    "attach",
    "check",
    "check_pattern",
    "controller",
    "crash_point",
    "create_topic",
    "down",
    "drain",
    "follower_of",
    "group_coordinator",
    "leader_of",
    "node",
    "random_broker",
    "txn_coordinator",
    "up",
    "wait_healthy",
]


def up(
    brokers: int = 3,
    broker_config: dict[str, Any] | None = None,
    *,
    name: str = "kchaos-api",
    base_port: int = 31000,
    backend: str = "auto",
    kafka_version: str | None = None,
    controllers: str = "combined",
) -> Cluster:
    """Start a cluster (leftovers of the same name are removed first) and return it once
    an RF=3 topic takes acks=all writes. ``down(cluster.name)`` takes it away."""
    version = kafka_version or ClusterSpec.kafka_version
    chosen, _ = choose_backend(backend, version)
    spec = ClusterSpec(
        brokers=brokers,
        controllers=controllers,  # type: ignore[arg-type]
        broker_config={k: config_text(v) for k, v in (broker_config or {}).items()},
        kafka_version=version,
        base_port=base_port,
        name=name,
    )
    return start_fresh(spec, chosen)[0]


def down(name: str) -> list[str]:
    """Everything of cluster ``name`` gone (processes, containers, its folder)."""
    return teardown(name)


def create_topic(
    cluster: Cluster,
    name: str,
    partitions: int = 1,
    replication_factor: int | None = None,
    config: dict[str, Any] | None = None,
    timeout: float = 30.0,
) -> str:
    """Create ``name`` and wait until every partition has a leader and a full ISR. A
    request that times out waiting for the controller (a busy machine) is sent again, up
    to three times; "already exists" on a later try means the earlier one went through."""
    rf = replication_factor or cluster.spec.replication_factor
    topic = NewTopic(name, partitions, rf, config={k: config_text(v) for k, v in (config or {}).items()})
    client = admin(cluster.bootstrap)  # held: a collected client ends its futures with _DESTROY
    create_topic_retrying(client, topic, timeout)
    wait_until(lambda: _replicated(cluster, name, partitions), timeout, f"topic {name} fully replicated")
    return name


def drain(cluster: Cluster, history: HistoryWriter, topic: str, timeout: float = 60.0) -> None:
    """Read every partition of ``topic`` from the start to its end (read_committed),
    recording it: the checker judges acknowledged writes against what this finds."""
    count = len(partitions(cluster, topic).get(topic) or [])
    if not count:
        raise BadInput(f"topic {topic!r} does not exist")
    drain_partitions(cluster.bootstrap, topic, list(range(count)), history, "read_committed", "drain", timeout)


def check_pattern(
    history: HistoryWriter, group: str, input: str, dead_letter: str | None = None, retry: list[str] | None = None
) -> dict[str, list[str]]:
    """The pattern invariant on a history: each record written to ``input`` processed once
    (a ``process`` event with outcome ``ok`` by ``group``) or dead-lettered once (a copy in
    ``dead_letter``). Each violation kind with the ids that show it (all empty: it holds).
    Drain ``dead_letter`` first, so a dead letter whose acknowledgement was lost counts."""
    from kchaos.checker import build
    from kchaos.checker.patterns import processed_once_or_dead_lettered

    where = {"group": group, "input": input, "dead_letter": dead_letter, "retry": retry or []}
    return processed_once_or_dead_lettered(build(load(history.path)), where)


def _replicated(cluster: Cluster, topic: str, count: int) -> bool:
    parts = partitions(cluster, topic).get(topic) or []
    return len(parts) == count and all(p["leader"] >= 0 and len(p["isr"]) == len(p["replicas"]) for p in parts)
