"""A variant's own topics: fresh ones for every variant (a unique suffix, so a reused
cluster and a rerun with the same seed never read an earlier variant's records), created
fully replicated before the workload starts, deleted after the drain."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import TopicPartition
from confluent_kafka.admin import NewTopic, OffsetSpec

from kchaos import features
from kchaos.clients import config_text
from kchaos.cluster import metadata
from kchaos.cluster.base import Cluster
from kchaos.cluster.inspect import partitions
from kchaos.cluster.readiness import admin, create_topic
from kchaos.errors import ClusterError
from kchaos.experiment import Experiment, Variant


def topic_names(exp: Experiment, index: int) -> dict[str, str]:
    """The file's topic names -> this variant's. A share group's broker-side dead-letter
    topic must carry the broker's prefix (``dlq.``)."""
    tag = uuid.uuid4().hex[:6]  # not from the seed: a rerun with the same seed needs new topics
    return {
        t.name: (f"dlq.{exp.id}.{t.name[4:]}" if t.name.startswith("dlq.") else f"{exp.id}.{t.name}")
        + f".v{index}.{tag}"
        for t in exp.topics
    }


def create_topics(
    cluster: Cluster, exp: Experiment, index: int, variant: Variant, missing_features: set[str]
) -> dict[str, str]:
    """Create the variant's topics (the variant's partitions and topic settings over the
    file's; a setting of a feature the cluster lacks is left out) and wait until every
    partition has its whole ISR."""
    names = topic_names(exp, index)
    wl = exp.workload.topic
    new = [
        NewTopic(
            names[t.name],
            variant.partitions if t.name == wl and variant.partitions else t.partitions,
            t.replication_factor,
            config={
                k: config_text(v)
                for k, v in {**t.config, **variant.topic_config}.items()
                if features.TOPIC_CONFIG_FEATURES.get(k) not in missing_features
            },
        )
        for t in exp.topics
    ]
    adm = admin(cluster.bootstrap)  # held: a collected client ends its futures with _DESTROY
    for topic in new:
        try:
            create_topic(adm, topic, 40)
        except Exception as err:  # noqa: BLE001
            raise ClusterError(f"could not create topic {topic.topic}: {err}") from None
    wait_replicated(cluster, list(names.values()), 60)
    return names


def delete_topics(cluster: Cluster, topics: list[str]) -> None:
    """A reused cluster should not collect every variant's topics (best effort)."""
    adm = admin(cluster.bootstrap)  # held: futures fail if their client is collected
    try:
        for fut in adm.delete_topics(topics, operation_timeout=30).values():
            fut.result(timeout=30)
    except Exception:  # noqa: BLE001 - the history is safe on disk; a leftover topic is harmless
        pass


def wait_replicated(cluster: Cluster, topics: list[str], seconds: float) -> bool:
    """Whether every partition of ``topics`` has a leader and its whole replica set in
    the ISR within ``seconds`` (metadata may fail right after a heal: asked again)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            ok = True
            for t in topics:
                parts = partitions(cluster, t).get(t, [])
                ok &= bool(parts) and all(p["leader"] >= 0 and len(p["isr"]) == len(p["replicas"]) for p in parts)
            if ok:
                return True
        except Exception:  # noqa: BLE001 - metadata may fail right after a heal
            pass
        time.sleep(0.3)
    return False


def wait_known_everywhere(cluster: Cluster, topics: list[str], seconds: float) -> bool:
    """Whether, within ``seconds``, every broker's own metadata has every partition of
    ``topics`` with a leader, and every leader answers for its partitions. A new topic is
    the controller's first; the brokers learn it from the metadata log a moment later:
    Kafka 3.9.1 answered a consumer's first metadata request without it (its group
    assigned nothing for the whole run) and a producer's first sends to one partition
    waited a second for its leader."""
    deadline = time.monotonic() + seconds
    brokers = [n.id for n in cluster.spec.nodes if n.broker]
    while time.monotonic() < deadline:
        if all(_knows(cluster.client_address(b), topics) for b in brokers) and _leaders_answer(cluster, topics):
            return True
        time.sleep(0.2)
    return False


def _knows(address: str, topics: list[str]) -> bool:
    """Whether the broker at ``address`` (asked alone, ``cluster.metadata``: librdkafka
    would ask whichever broker it likes) knows every partition of ``topics`` and its leader."""
    try:
        md = metadata.fetch(address, topics, timeout=5)
    except ClusterError:
        return False
    for t in topics:
        tm = md["topics"].get(t)
        if tm is None or tm["error"] or not tm["partitions"]:
            return False
        if any(p["error"] or p["leader"] < 0 for p in tm["partitions"]):
            return False
    return True


def _leaders_answer(cluster: Cluster, topics: list[str]) -> bool:
    """Whether each partition's leader answers a ListOffsets for it (a leader that has not
    taken its leadership yet answers NOT_LEADER_OR_FOLLOWER)."""
    adm = admin(cluster.bootstrap)
    try:
        request = {
            TopicPartition(t, p["partition"]): OffsetSpec.latest()
            for t in topics
            for p in partitions(cluster, t).get(t, [])
        }
        for fut in adm.list_offsets(request, request_timeout=5).values():
            fut.result()
    except Exception:  # noqa: BLE001 - not yet: asked again
        return False
    return True
