"""A consumer group's committed offsets, read through a consumer handle of that group.

Not through the Admin API's ``list_consumer_group_offsets``: when that OffsetFetch is
answered NOT_COORDINATOR (the group's coordinator just moved, which is what a run's
faults do), librdkafka (2.16) asks the handle's consumer-group object to look the
coordinator up again, and an admin handle has none: a NULL dereference in
``rd_kafka_cgrp_op`` kills the whole process (librdkafka pull request 5318). A consumer
created with the group's id has that object. It is never subscribed or assigned, so it
never joins the group, and with auto-commit off it commits nothing. It reads as
``read_uncommitted``: a read_committed handle asks for stable offsets only, and the
broker answers UNSTABLE_OFFSET_COMMIT, which librdkafka retries until the read times
out, while a transaction that sent offsets for the group is open; this reader gets the
last committed offsets then, as the Admin API did.

One handle serves a reader's life. A new handle per failed read (to look a killed
coordinator up afresh) was tried and taken out: closing handles whose reads had timed
out tripped librdkafka's assertion ``rd_kafka_enq_once_del_source_return: eonce->refcnt
> 0`` and aborted the group watcher's process in a CI run.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, TopicPartition

from kchaos.clients import QUIET


class CommittedReader:
    """Reads what one group committed; keep it for many reads, ``close`` it after."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self.group = group
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "isolation.level": "read_uncommitted",  # no wait for stable offsets (see above)
                **QUIET,
            }
        )

    def read(self, topic: str, partitions: list[int], timeout: float = 10.0) -> list[Any]:
        """The committed offset of each partition (``TopicPartition``; offset < 0: none,
        ``error`` set when that partition's could not be read). Raises ``KafkaException``
        when the coordinator does not answer within ``timeout``."""
        return self._consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=timeout)

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> CommittedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
