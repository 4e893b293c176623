"""What the cluster looks like now: node states, the controller, leaders and ISRs.

Also resolves cluster-wide fault targets (``leader-of:TOPIC:P``, ``follower-of:TOPIC:P``,
``controller``, ``random``, a node id) against that view.
"""

from __future__ import annotations

import random as _random
import time
from typing import Any

from kchaos import features
from kchaos.cluster import metadata, targets
from kchaos.cluster.base import Cluster
from kchaos.errors import BadInput, ClusterError


def healthy_brokers(cluster: Cluster) -> list[str]:
    """Client addresses of the brokers whose metadata is fresh: up, not isolated, and
    not the source of a cut link (fall back to every broker that is up).

    Metadata must come from the majority side: an isolated leader still believes it
    leads (that is the zombie a partition experiment is about), and a node whose link
    to the controller is cut keeps serving the metadata it had before the cut.
    """
    up = [n.id for n in cluster.spec.nodes if n.broker and cluster.node_state(n.id) == "up"]
    fresh = [n for n in up if n not in cluster.cut_sources()] or up
    return [cluster.client_address(n) for n in fresh] or cluster.bootstrap.split(",")


def raw_metadata(
    cluster: Cluster, topics: list[str] | None = None, timeout: float = 5.0, via: str | None = None
) -> dict[str, Any]:
    """Metadata from the first healthy broker that answers (or from ``via`` only)."""
    errors = []
    for address in [via] if via else healthy_brokers(cluster):
        try:
            return metadata.fetch(address, topics, timeout)
        except ClusterError as err:
            errors.append(str(err))
    raise ClusterError(f"cannot read metadata: {'; '.join(errors)}")


def partitions(
    cluster: Cluster, topic: str | None = None, timeout: float = 5.0, via: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Per topic, each partition's leader, replicas and ISR (internal topics left out).

    ``via`` chooses the broker asked (default: the first healthy one that answers).
    """
    md = raw_metadata(cluster, [topic] if topic else None, timeout, via)
    out = {}
    for name, t in sorted(md["topics"].items()):
        if name.startswith("__") or t["error"]:
            continue
        out[name] = [{k: p[k] for k in ("partition", "leader", "replicas", "isr")} for p in t["partitions"]]
    return out


def status(cluster: Cluster, with_topics: bool = True) -> dict[str, Any]:
    """The ``kchaos status --json`` object (shape in ``docs/outputs.md``)."""
    controller = cluster.quorum_leader()
    brokers = []
    for info in cluster.node_info():
        brokers.append({**info, "state": cluster.node_state(info["id"]), "controller": info["id"] == controller})
    topics: dict[str, Any] = {}
    if with_topics and any(b["state"] != "down" for b in brokers):
        try:
            topics = partitions(cluster)
        except ClusterError:
            topics = {}
    return {"backend": cluster.backend, "bootstrap": cluster.bootstrap, "brokers": brokers, "topics": topics}


def partition_info(cluster: Cluster, topic: str, partition: int) -> dict[str, Any]:
    parts = partitions(cluster, topic).get(topic)
    if not parts:
        raise BadInput(f"topic {topic!r} does not exist")
    for p in parts:
        if p["partition"] == partition:
            return p
    raise BadInput(f"topic {topic!r} has no partition {partition}")


def finalized_features(cluster: Cluster) -> dict[str, int] | None:
    """The feature levels the cluster finalized (``kafka-features describe``, KIP-584),
    asked from this machine through the cluster's own bootstrap (a docker node's client
    listener advertises an address only the host can reach); None when no Kafka is
    installed here to ask with, or the tool failed or printed none: then the Kafka
    version decides."""
    import subprocess

    from kchaos import install
    from kchaos.errors import KchaosError

    try:
        kafka = install.find_kafka(cluster.spec.kafka_version)
    except KchaosError:
        try:
            kafka = install.find_kafka()
        except KchaosError:
            return None
    args = ["--bootstrap-server", cluster.bootstrap, "describe"]
    try:
        cmd = install.tool_command(kafka, "org.apache.kafka.tools.FeatureCommand", args)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (KchaosError, OSError, subprocess.TimeoutExpired):
        return None
    return features.parse_finalized(done.stdout) or None


def resolve_target(cluster: Cluster, target: str | int | targets.Target, rng: _random.Random | None = None) -> int:
    """The node a cluster-wide target names now (grammar: ``kchaos.cluster.targets``):
    a node id, ``leader-of:T:P``, ``follower-of:T:P[:N]``, ``controller``, ``random`` or
    ``coordinator:TRANSACTIONAL_ID`` or ``group-coordinator-of:GROUP``. Run-only targets are resolved by the nemesis."""
    try:
        t = target if isinstance(target, targets.Target) else targets.parse(target)
    except ValueError as err:
        raise BadInput(str(err)) from None
    rng = rng or _random.Random()
    if t.kind == "node":
        return cluster.node(t.node).id  # type: ignore[arg-type]
    if t.kind == "controller":
        leader = cluster.quorum_leader()
        if leader is None:
            raise ClusterError("no active controller is known yet")
        return leader
    if t.kind == "coordinator":
        return transaction_coordinator(cluster, t.name or "")
    if t.kind == "group-coordinator-of":
        return coordinator_of(cluster, "__consumer_offsets", t.name or "")
    if t.kind == "random":
        return rng.choice([n.id for n in cluster.spec.nodes if n.broker])
    if t.kind in ("leader-of", "follower-of"):
        return _replica(cluster, t, rng)
    raise BadInput(f"target {t.text()!r} names a part of a running experiment's workload, not of the cluster")


def _replica(cluster: Cluster, t: targets.Target, rng: _random.Random) -> int:
    """The leader of a partition now, or one of its followers (the N-th by id, or random)."""
    topic, part = t.topic or "", t.partition or 0
    info = partition_info(cluster, topic, part)
    if t.kind == "leader-of":
        if info["leader"] < 0:
            raise ClusterError(f"{topic}-{part} has no leader now")
        return info["leader"]
    followers = sorted(r for r in info["replicas"] if r != info["leader"])
    if not followers:
        raise ClusterError(f"{topic}-{part} has no follower")
    if t.index is not None:
        if t.index >= len(followers):
            raise BadInput(f"target {t.text()!r}: {topic}-{part} has only {len(followers)} followers")
        return followers[t.index]
    return rng.choice(followers)


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode`` (over UTF-16 code units, 32-bit signed)."""
    data = text.encode("utf-16-be")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + int.from_bytes(data[i : i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def transaction_partition(transactional_id: str, partitions: int) -> int:
    """The ``__transaction_state`` partition of an id, as Kafka's coordinator computes it
    (``Utils.abs(id.hashCode) % partitions``)."""
    h = java_string_hash(transactional_id)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


def coordinator_of(cluster: Cluster, internal_topic: str, key: str) -> int:
    """The broker coordinating ``key`` (a transactional id in ``__transaction_state``, a
    group id in ``__consumer_offsets``): the leader of its partition, which Kafka picks
    as ``Utils.abs(key.hashCode) % partitions``."""
    if not key:
        raise BadInput(f"a coordinator target needs an id ({internal_topic})")
    topic = raw_metadata(cluster, [internal_topic])["topics"].get(internal_topic)
    if topic is None or topic["error"] or not topic["partitions"]:
        raise ClusterError(f"{internal_topic} does not exist yet: no client has used it")
    part = topic["partitions"][transaction_partition(key, len(topic["partitions"]))]
    if part["leader"] < 0:
        raise ClusterError(f"{internal_topic}-{part['partition']} has no leader now")
    return part["leader"]


def transaction_coordinator(cluster: Cluster, transactional_id: str) -> int:
    """The broker coordinating ``transactional_id``: the leader of its state partition."""
    return coordinator_of(cluster, "__transaction_state", transactional_id)


def wait_until(predicate: Any, seconds: float, what: str) -> None:
    """Poll ``predicate`` until true; ClusterError naming ``what`` (and the last error
    asking raised: metadata fails while a broker is down) when time runs out."""
    deadline, last = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as err:  # noqa: BLE001 - a broker down, a leader moving: ask again
            last = err
        time.sleep(0.25)
    raise ClusterError(f"timed out after {seconds:.0f} s waiting for {what}" + (f" (last: {last})" if last else ""))


def healthy(cluster: Cluster) -> bool:
    """Every node runs, and every partition has a leader and its full ISR."""
    if any(cluster.process_state(n.id) != "up" for n in cluster.spec.nodes):
        return False
    parts = [p for ps in partitions(cluster).values() for p in ps]
    return all(p["leader"] >= 0 and len(p["isr"]) == len(p["replicas"]) for p in parts)


def wait_healthy(cluster: Cluster, timeout: float = 90.0) -> None:
    """Wait until ``healthy`` (after a heal, before the next test or experiment)."""
    wait_until(lambda: healthy(cluster), timeout, "every node up and every partition fully replicated")
