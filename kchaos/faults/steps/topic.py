"""Named steps that change a topic's shape mid-run (question 3.2: partitions added to a
subscribed topic are a rebalance trigger of their own)."""

from __future__ import annotations

from confluent_kafka.admin import NewPartitions

from kchaos.cluster.readiness import admin
from kchaos.errors import ClusterError
from kchaos.faults.context import StepContext


def add_partitions_step(ctx: StepContext, topic: str, total: int) -> None:
    """Grow ``topic`` to ``total`` partitions now. Subscribed consumers notice at their
    next metadata refresh (``topic.metadata.refresh.interval.ms``), then rebalance."""
    real = ctx.topic(topic)
    client = admin(ctx.cluster.bootstrap)  # kept alive until the futures resolve
    before = len(client.list_topics(real, timeout=15).topics[real].partitions)
    futures = client.create_partitions([NewPartitions(real, total)], operation_timeout=30)
    try:
        for fut in futures.values():
            fut.result(timeout=30)
    except Exception as err:  # noqa: BLE001 - any admin failure is the same to the run
        raise ClusterError(f"cannot grow {real} to {total} partitions: {err}") from None
    ctx.record("add-partitions", real, "start", args={"total": total, "from": before})
    ctx.record("add-partitions", real, "end")
