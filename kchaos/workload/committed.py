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

A read that fails (no answer within its timeout, an error on a partition, or no offset
on any partition) gives the reader a new handle: an idle handle of a group it never joined may keep asking the
coordinator it knew after that broker was killed (a CI run read no offsets for a minute
while the group had a new coordinator), and a new handle looks the coordinator up afresh.
The old one is closed on a thread of its own, so a close that waits on the dead broker
holds nothing up.
"""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from kchaos.clients import QUIET


class CommittedReader:
    """Reads what one group committed; keep it for many reads, ``close`` it after."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self.group = group
        self._config = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "isolation.level": "read_uncommitted",  # no wait for stable offsets (see above)
            **QUIET,
        }
        self._consumer = Consumer(self._config)

    def read(self, topic: str, partitions: list[int], timeout: float = 10.0) -> list[Any]:
        """The committed offset of each partition (``TopicPartition``; offset < 0: none,
        ``error`` set when that partition's could not be read). Raises ``KafkaException``
        when the coordinator does not answer within ``timeout`` (the next read then goes
        through a new handle)."""
        try:
            found = self._consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=timeout)
        except KafkaException:
            self._renew()
            raise
        if any(tp.error is not None for tp in found) or all(tp.offset < 0 for tp in found):
            self._renew()  # an error, or nothing at all: ask through a new handle next time
        return found

    def _renew(self) -> None:
        old, self._consumer = self._consumer, Consumer(self._config)
        threading.Thread(target=old.close, name="committed-reader-close", daemon=True).start()

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> CommittedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
