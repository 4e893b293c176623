"""Named steps about the log on disk (question 1.3): list and decode a partition's
segment files on its leader, and change a topic's configs mid-run."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

from kchaos.cluster.readiness import admin
from kchaos.disk import inspect_partition, partition_folder
from kchaos.errors import ClusterError
from kchaos.events import Segments, segment_bases
from kchaos.faults.context import StepContext


def inspect_log_step(
    ctx: StepContext,
    label: str,
    topic: str,
    partition: int = 0,
    decode: bool = True,
    wait_for_deletion_s: float = 0,
) -> None:
    """List and decode the partition's files on its leader; record a ``segments`` event.

    With ``wait_for_deletion_s``, first wait (up to that long) until the oldest segment
    is gone: a broker runs its first retention check only 30 s after it starts, so a
    fixed delay would race a freshly started cluster.
    """
    node = ctx.target(f"leader-of:{topic}:{partition}")
    real = ctx.topic(topic)
    folder = partition_folder(ctx.cluster, node, real, partition)
    deadline = time.monotonic() + wait_for_deletion_s
    while time.monotonic() < deadline:
        bases = segment_bases([{"name": n} for n, _ in ctx.cluster.list_files(node, folder)])
        if bases and bases[0] > 0:
            break
        time.sleep(0.5)
    found = inspect_partition(ctx.cluster, node, real, partition, decode)
    ctx.history.write(Segments(label, node, real, partition, ctx.history.now(), **found))


def set_topic_config_step(ctx: StepContext, topic: str, config: dict[str, Any]) -> None:
    """Change a topic's configs now (incremental), e.g. ``retention.ms`` to let retention delete."""
    real = ctx.topic(topic)
    entries = [ConfigEntry(k, str(v), incremental_operation=AlterConfigOpType.SET) for k, v in config.items()]
    resource = ConfigResource(ConfigResource.Type.TOPIC, real, incremental_configs=entries)
    client = admin(ctx.cluster.bootstrap)  # kept alive until the futures resolve
    futures = client.incremental_alter_configs([resource])
    try:
        for fut in futures.values():
            fut.result(timeout=30)
    except Exception as err:  # noqa: BLE001 - any admin failure is the same to the run
        raise ClusterError(f"cannot set {config} on {real}: {err}") from None
    ctx.record("set-topic-config", real, "start", args=config)
    ctx.record("set-topic-config", real, "end")
