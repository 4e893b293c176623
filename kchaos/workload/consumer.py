"""Recording consumers in groups, and the drain readers that end every experiment.

A group consumer records every record delivered (``read``), every commit and every
rebalance callback. Commit modes: ``auto`` (the client's timer, offsets stored when a
poll hands a record over: librdkafka's default), ``store`` (the client's timer, offsets
stored only after processing), ``sync`` (after processing every ``commit_every``
batches), ``async``, ``before`` (commit, then process: at-most-once). With
``commit_on_revoke`` a member commits what it processed inside its revoke callback.
A consumer writes a ``process`` event per record once its processing is done (delivered
is not processed). A consumer can ``hang``: stop polling without commit or close, as a
stuck processing loop does; librdkafka keeps heartbeating from its own thread, so its
partitions move only when max.poll.interval.ms expires. A killed one moves at its session
timeout: that needs the consumer in a process of its own (``workload.child``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from kchaos.clients import QUIET
from kchaos.events import BROKER_COPY, Assign, Commit, Drain, Lost, Process, Read, Revoke, Stall
from kchaos.history import HistoryWriter
from kchaos.workload.stats import stats_event

COMMIT_MODES = ("auto", "store", "sync", "async", "before")


def record_id(msg: Any, headers: dict[str, bytes] | None = None) -> str:
    """The id a producer put in the record: the ``id`` header, else the value's first word.
    A dead letter the broker wrote for a share group keeps the value, not the headers: its
    id is the root's with ``BROKER_COPY`` after it (a copy is not the record itself)."""
    headers = headers if headers is not None else _headers(msg)
    found = headers.get("id")
    if found is not None:
        return found.decode()
    first = (msg.value() or b"").split(b" ", 1)[0].decode(errors="replace")
    return first + BROKER_COPY if "__dlq.errors.topic" in headers else first


def _headers(msg: Any) -> dict[str, bytes]:
    """A record's headers, asked of the client once (each call copies them)."""
    return {k: v for k, v in msg.headers() or () if v is not None}


def read_event(msg: Any, reader: str, group: str | None, isolation: str, t: float) -> Read:
    """The ``read`` event of one delivered record."""
    key, headers = msg.key(), _headers(msg)
    source = headers.get("input")
    return Read(
        reader=reader,
        group=group,
        topic=msg.topic(),
        partition=msg.partition(),
        offset=msg.offset(),
        id=record_id(msg, headers),
        key=key.decode(errors="replace") if key else None,
        t=t,
        isolation=isolation,  # type: ignore[arg-type]
        leader_epoch=msg.leader_epoch(),
        input=source.decode(errors="replace") if source is not None else None,
    )


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
        counter: Any = None,
        batch: int = 500,
        in_hand: Any = None,
        commit_every: int = 1,
        commit_on_revoke: bool = False,
        assigned: Any = None,
        poll_ms: int = 200,
    ) -> None:
        super().__init__(name=f"consumer-{name}", daemon=True)
        self.batch, self.poll_s = batch, poll_ms / 1000
        self.counter = counter  # a shared value the parent reads when this runs in a child process
        # Records delivered whose processing is not done: a kill then is "mid-batch" (none
        # of the batch is processed or, committing after processing, committed). Shared
        # like ``counter``.
        self.in_hand = in_hand
        self._assigned = assigned  # set at the first assign callback; shared like ``counter``
        self.assigned = False
        self.reader, self.group, self.topics, self.history = name, group, topics, history
        self.commit_mode, self.processing_s, self.duration = commit, processing_ms / 1000, duration
        self.isolation = str(config.get("isolation.level", "read_committed"))
        self.config = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": name,  # the broker's view of the group (describe) names members by it
            "auto.offset.reset": "earliest",
            **QUIET,
            "enable.auto.commit": commit in ("auto", "store"),
            **({"enable.auto.offset.store": False} if commit == "store" else {}),
            **config,
        }
        self.commit_every, self.commit_on_revoke = max(1, commit_every), commit_on_revoke
        if commit in ("async", "auto", "store"):
            self.config["on_commit"] = self._committed
        if "statistics.interval.ms" in config:
            self.config["stats_cb"] = self._stats
        self.delivered = 0
        self._halt = threading.Event()
        self._hang_requested = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def _stats(self, raw: str) -> None:
        """librdkafka's statistics (served by poll): a ``stats`` event."""
        self.history.write(stats_event(self.reader, "consumer", self.history.now(), raw))

    def hang(self) -> None:
        """Stop polling, never commit or close (the client object is kept alive)."""
        self._hang_requested.set()

    def _rebalance(self, op: str) -> Any:
        kind = {"assign": Assign, "revoke": Revoke, "lost": Lost}[op]

        def callback(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            tps = [(p.topic, p.partition) for p in partitions]
            self.history.write(kind(self.reader, self.group, tps, self.history.now()))
            if op == "assign":
                self.assigned = True
                if self._assigned is not None:
                    self._assigned.value = 1
            if op == "revoke" and self.commit_on_revoke and partitions:
                # Everything delivered so far is processed (the callback runs inside a
                # poll, between batches): commit it before the partitions go.
                self._commit(consumer)

        return callback

    def _write_commit(self, topic: str, partition: int, offset: int, status: str) -> None:
        self.history.write(Commit(self.reader, self.group, topic, partition, offset, status, self.history.now()))

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
        batches = 0
        while not self._halt.is_set() and time.monotonic() < end:
            if self._hang_requested.is_set():
                self._hung = consumer  # kept referenced: destroying it would close it and leave the group
                return
            batch = consumer.consume(num_messages=self.batch, timeout=self.poll_s)
            records = [m for m in batch if m.error() is None]
            if not records:
                continue
            if self.commit_mode == "before":
                self._commit_positions(consumer, records)
            reads = [read_event(m, self.reader, self.group, self.isolation, self.history.now()) for m in records]
            for read in reads:
                self.history.write(read)
            self.delivered += len(reads)
            if self.counter is not None:
                self.counter.value = self.delivered
            self._hold(len(reads))
            if self.processing_s:
                time.sleep(self.processing_s * len(records))
            self._processed(reads)
            self._hold(0)
            if self._hang_requested.is_set():  # stuck before its commit, as a slow batch is
                self._hung = consumer
                return
            batches += 1
            if self.commit_mode == "store":
                consumer.store_offsets(offsets=next_offsets(records))
            elif self.commit_mode in ("sync", "async") and batches % self.commit_every == 0:
                self._commit(consumer, asynchronous=self.commit_mode == "async")
        if self.commit_mode in ("sync", "async") and batches % self.commit_every:
            self._commit(consumer)  # a graceful stop commits what it processed, as a service does
        consumer.close()

    def _hold(self, n: int) -> None:
        if self.in_hand is not None:
            self.in_hand.value = n

    def _processed(self, reads: list[Read]) -> None:
        """Processing of the batch is done: one ``process`` event per record, made from its
        ``read`` event. (Delivered is not processed: a crash during the processing delay
        leaves reads without these.)"""
        now = self.history.now()
        for r in reads:
            self.history.write(Process(self.reader, self.group, r.topic, r.partition, r.offset, r.id, "ok", now))

    def _commit_positions(self, consumer: Consumer, records: list[Any]) -> None:
        """Commit-before-processing: the offsets after this batch, before it is processed."""
        self._commit(consumer, next_offsets(records))


def next_offsets(records: list[Any]) -> list[TopicPartition]:
    """Per partition of a batch, the offset after its last record: what a commit names."""
    last: dict[tuple[str, int], int] = {}
    for m in records:
        last[(m.topic(), m.partition())] = m.offset() + 1
    return [TopicPartition(t, p, o) for (t, p), o in last.items()]


def wait_for_members(members: list[Any], timeout: float = 60.0) -> list[Any]:
    """Block until every member has been assigned its partitions once (its assign
    callback ran); returns the members that were not by ``timeout``.

    The workload's steady phase starts only then: a member still starting (a child
    process importing its client, a JVM) or a group still forming its first generation
    would otherwise be what a fault at second 0 hits, and "kill a member mid-batch"
    would kill one that never had a batch. (Asked of the members, not the Admin API: no
    admin request races the group's own start.)
    """
    deadline = time.monotonic() + timeout
    pending = list(members)
    while pending and time.monotonic() < deadline:
        pending = [m for m in pending if not m.assigned]
        if pending:
            time.sleep(0.1)
    return pending


def drain(
    bootstrap: str,
    topic: str,
    partitions: list[int],
    history: HistoryWriter,
    isolation: str,
    reader: str,
    timeout: float = 60.0,
) -> list[int]:
    """Read every partition from the beginning to its high watermark; returns the
    partitions that did NOT finish within ``timeout``.

    The end is the high watermark for both isolation levels (asked with
    read_uncommitted: a read_committed reader's own end would be the last stable offset,
    so a hanging transaction would look like the end of the log). A partition reached
    gets a ``drain`` event whose ``start_offset`` is the log start offset asked *after*
    the reader reached the end, so retention in between cannot fake a loss; one that is
    not reached by the deadline gets a ``stall`` event with where the reader stopped.
    """
    deadline = time.monotonic() + timeout
    ends = _high_watermarks(bootstrap, topic, partitions, deadline)
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
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
    pending, position = set(ends), dict.fromkeys(ends, 0)
    while pending and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=1000, timeout=0.1):
            err, p = msg.error(), msg.partition()
            if err is None:
                history.write(read_event(msg, reader, None, isolation, history.now()))
                position[p] = msg.offset() + 1
            elif err.code() == KafkaError._PARTITION_EOF and p in pending:
                position[p] = max(position[p], msg.offset())
                if msg.offset() >= ends[p]:
                    start = _log_start(consumer, topic, p)
                    history.write(
                        Drain(reader, topic, p, msg.offset(), history.now(), start, isolation)  # type: ignore[arg-type]
                    )
                    pending.discard(p)
    for p in sorted(pending):
        history.write(Stall(reader, topic, p, position[p], ends[p], history.now(), isolation))  # type: ignore[arg-type]
    consumer.close()
    return sorted(pending | (set(partitions) - set(ends)))


def _high_watermarks(bootstrap: str, topic: str, partitions: list[int], deadline: float) -> dict[int, int]:
    """Each partition's high watermark, asked as a read_uncommitted client."""
    probe = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "kchaos-drain-probe",
            "isolation.level": "read_uncommitted",
            **QUIET,
        }
    )
    ends: dict[int, int] = {}
    try:
        for p in partitions:
            while p not in ends and time.monotonic() < deadline:
                try:
                    ends[p] = probe.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1]
                except Exception:  # noqa: BLE001 - no leader yet right after a heal; try again
                    time.sleep(0.5)
    finally:
        probe.close()
    return ends


def _log_start(consumer: Consumer, topic: str, partition: int) -> int:
    """The partition's log start offset now (0 when it cannot be asked)."""
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5)[0]
    except Exception:  # noqa: BLE001 - the drain is done; 0 only makes the loss check stricter
        return 0
