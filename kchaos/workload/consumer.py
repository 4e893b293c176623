"""Recording consumers in groups, and the drain readers that end every experiment.

A group consumer records every record delivered (``read``), every commit and every
rebalance callback. Commit modes: ``auto`` (the client's timer), ``sync`` (after
processing each batch), ``async``, ``before`` (commit, then process: at-most-once).
A consumer can ``hang``: stop polling without commit or close, as a stuck processing
loop does. librdkafka keeps heartbeating from its own thread, so its partitions move only
when max.poll.interval.ms expires. (A killed process, whose partitions move when its
session times out, needs consumers in processes of their own: not built yet.)
"""

from __future__ import annotations

import threading
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from kchaos.clients import QUIET
from kchaos.history import HistoryWriter

COMMIT_MODES = ("auto", "sync", "async", "before")


def record_id(msg: Any) -> str:
    """The id a producer put in the record: the ``id`` header, else the value's first word."""
    for k, v in msg.headers() or ():
        if k == "id":
            return v.decode()
    return (msg.value() or b"").split(b" ", 1)[0].decode(errors="replace")


def read_event(msg: Any, reader: str, group: str | None, isolation: str, t: float) -> dict[str, Any]:
    key = msg.key()
    return {
        "op": "read",
        "reader": reader,
        "group": group,
        "topic": msg.topic(),
        "partition": msg.partition(),
        "offset": msg.offset(),
        "id": record_id(msg),
        "key": key.decode() if key else None,
        "t": t,
        "isolation": isolation,
        "leader_epoch": msg.leader_epoch(),
    }


class GroupConsumer(threading.Thread):
    """One member of a consumer group, polling until stopped or ``duration`` ends."""

    def __init__(
        self,
        name: str,
        group: str,
        bootstrap: str,
        topics: list[str],
        history: HistoryWriter,
        config: dict[str, Any],
        commit: str = "sync",
        processing_ms: float = 0.0,
        duration: float = 60.0,
    ) -> None:
        super().__init__(name=f"consumer-{name}", daemon=True)
        self.reader, self.group, self.topics, self.history = name, group, topics, history
        self.commit_mode, self.processing_s, self.duration = commit, processing_ms / 1000, duration
        self.isolation = str(config.get("isolation.level", "read_committed"))
        self.config = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            **QUIET,
            "enable.auto.commit": commit == "auto",
            **config,
        }
        if commit in ("async", "auto"):
            self.config["on_commit"] = self._committed
        self.delivered = 0
        self._halt = threading.Event()
        self._hang_requested = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def hang(self) -> None:
        """Stop polling, never commit or close (the client object is kept alive)."""
        self._hang_requested.set()

    def _rebalance(self, op: str) -> Any:
        def callback(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            self.history.write(
                {
                    "op": op,
                    "reader": self.reader,
                    "group": self.group,
                    "partitions": [[p.topic, p.partition] for p in partitions],
                    "t": self.history.now(),
                }
            )

        return callback

    def _write_commit(self, topic: str, partition: int, offset: int, status: str) -> None:
        self.history.write(
            {
                "op": "commit",
                "reader": self.reader,
                "group": self.group,
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "status": status,
                "t": self.history.now(),
            }
        )

    def _commit(
        self, consumer: Consumer, offsets: list[TopicPartition] | None = None, asynchronous: bool = False
    ) -> None:
        """Commit the given offsets (or the current positions) and record the outcome.
        Asynchronous (and auto) commits are recorded by ``_committed`` when they complete."""
        try:
            kwargs: dict[str, Any] = {"asynchronous": asynchronous}
            if offsets is not None:
                kwargs["offsets"] = offsets
            result = consumer.commit(**kwargs)
        except Exception as err:  # noqa: BLE001 - a failed commit is recorded, not fatal
            for tp in offsets or [TopicPartition("*", -1, -1)]:
                self._write_commit(tp.topic, tp.partition, tp.offset, f"fail:{err}")
            return
        if asynchronous:
            return
        for tp in result or offsets or ():
            self._write_commit(tp.topic, tp.partition, tp.offset, "ok" if tp.error is None else tp.error.name())

    def _committed(self, err: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """librdkafka's on_commit callback: the outcome of an async or automatic commit."""
        for tp in partitions:
            failed = err or tp.error
            self._write_commit(tp.topic, tp.partition, tp.offset, "ok" if failed is None else failed.name())

    def run(self) -> None:
        consumer = Consumer(self.config)
        consumer.subscribe(
            self.topics,
            on_assign=self._rebalance("assign"),
            on_revoke=self._rebalance("revoke"),
            on_lost=self._rebalance("lost"),
        )
        end = time.monotonic() + self.duration
        while not self._halt.is_set() and time.monotonic() < end:
            if self._hang_requested.is_set():
                self._hung = consumer  # kept referenced: destroying it would close it and leave the group
                return
            batch = consumer.consume(num_messages=500, timeout=0.2)
            records = [m for m in batch if m.error() is None]
            if not records:
                continue
            if self.commit_mode == "before":
                self._commit_positions(consumer, records)
            for msg in records:
                self.history.write(read_event(msg, self.reader, self.group, self.isolation, self.history.now()))
                self.delivered += 1
            if self.processing_s:
                time.sleep(self.processing_s * len(records))
            if self.commit_mode in ("sync", "async"):
                self._commit(consumer, asynchronous=self.commit_mode == "async")
        consumer.close()

    def _commit_positions(self, consumer: Consumer, records: list[Any]) -> None:
        """Commit-before-processing: the offsets after this batch, before it is processed."""
        last: dict[tuple[str, int], int] = {}
        for m in records:
            last[(m.topic(), m.partition())] = m.offset() + 1
        self._commit(consumer, [TopicPartition(t, p, o) for (t, p), o in last.items()])


def drain(
    bootstrap: str,
    topic: str,
    partitions: list[int],
    history: HistoryWriter,
    isolation: str,
    reader: str,
    timeout: float = 60.0,
) -> list[int]:
    """Read every partition from the beginning to its end offset; returns the partitions
    that did NOT finish within ``timeout`` (they stay ``undrained`` in the history)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"kchaos-drain-{reader}",
            "enable.auto.commit": False,
            "isolation.level": isolation,
            **QUIET,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 100,
        }
    )
    deadline = time.monotonic() + timeout
    ends: dict[int, int] = {}
    starts: dict[int, int] = {}
    for p in partitions:
        while p not in ends and time.monotonic() < deadline:
            try:
                starts[p], ends[p] = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
            except Exception:  # noqa: BLE001 - no leader yet right after a heal; try again
                time.sleep(0.5)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
    pending = set(ends)
    while pending and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=1000, timeout=0.5):
            err = msg.error()
            if err is None:
                history.write(read_event(msg, reader, None, isolation, history.now()))
            elif err.code() == KafkaError._PARTITION_EOF and msg.partition() in pending:
                position = msg.offset()
                if position >= ends[msg.partition()]:
                    history.write(
                        {
                            "op": "drain",
                            "reader": reader,
                            "topic": topic,
                            "partition": msg.partition(),
                            "end_offset": position,
                            "start_offset": starts[msg.partition()],
                            "t": history.now(),
                        }
                    )
                    pending.discard(msg.partition())
    consumer.close()
    return sorted(pending | (set(partitions) - set(ends)))
