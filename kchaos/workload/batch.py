"""What every batch worker (a pipeline worker, a pattern worker) does the same way: commit
a batch's offsets or fail it, rewind to a failed batch's first records, and stop itself
at a crash point the nemesis armed."""

from __future__ import annotations

import os
import signal
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from kchaos.events import Client
from kchaos.history import HistoryWriter


class BatchFailed(Exception):
    """A batch that did not go through (an output or copy not acknowledged, a commit refused)."""


def commit_sync(consumer: Any, offsets: list[TopicPartition]) -> None:
    """A synchronous commit; ``BatchFailed`` when a partition's commit did not succeed."""
    result = consumer.commit(offsets=offsets, asynchronous=False)
    bad = [tp for tp in result or () if tp.error is not None]
    if bad:
        raise BatchFailed(f"commit failed: {bad[0].error}")


def first_offsets(records: list[Any]) -> list[TopicPartition]:
    """Per partition of a batch, the offset of its first record: where a retry starts."""
    first: dict[tuple[str, int], int] = {}
    for m in records:
        first.setdefault((m.topic(), m.partition()), m.offset())
    return [TopicPartition(t, p, o) for (t, p), o in first.items()]


def rewind(consumer: Any, records: list[Any]) -> None:
    """Send the consumer back to a failed batch's first records, partition by partition; a
    partition that moved in a rebalance is its new owner's (it starts at the commit)."""
    for tp in first_offsets(records):
        try:
            consumer.seek(tp)
        except KafkaException:
            pass


def stop_here(arm: Any, code: int, history: HistoryWriter, reader: str, point: str) -> None:
    """Stop this process (SIGSTOP) when the nemesis armed ``code``; it then SIGKILLs us."""
    if arm is None or arm.value != code:
        return
    arm.value = 0
    history.write(Client(reader, "crash-point", history.now(), detail=point))
    os.kill(os.getpid(), signal.SIGSTOP)
