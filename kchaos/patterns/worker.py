"""A consumer that runs a handler with retries and a dead-letter topic: the pattern worker.

``PatternWorker`` reads its input topic (and its retry topics, when the plan has them)
in a consumer group and gives each record to a handler (``kchaos.patterns.handler``).
Each record ends in one of these outcomes, written as a ``process`` event:

- ``ok``: the handler returned.
- ``failed``: a blocking retry's failed attempt (the record is tried again in place).
- ``retry``: copied to the next retry topic (due after the topic's delay).
- ``dead-lettered``: copied to the dead-letter topic with its provenance.
- ``dropped``: failed for good, and there is no dead-letter topic.
- ``duplicate``: a re-delivered record this group already finished (``dedupe``).

Offsets are committed after the batch's copies are acknowledged (at-least-once): a crash
before the commit re-delivers the batch. ``dedupe`` keeps a table of finished records
(SQLite, shared by the group's workers) so a re-delivered record is not processed or
dead-lettered again; without it, a crash shows up as ``processed-twice`` or
``dead-lettered-twice``.

A retry topic's records wait for their due time without blocking the others: the
partition is paused and rewound to the record, and resumed when it is due (the
non-blocking retry of Spring Kafka and Uber's retry topics).

``parallel`` > 1 processes a batch on that many threads: ``ordering: key`` keeps each
key on one thread (per-key order holds), ``ordering: none`` deals records out in turn
(more even, per-key order lost). The batch is finished before its offsets are committed.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from kchaos.clients import QUIET
from kchaos.events import Client
from kchaos.history import HistoryWriter
from kchaos.patterns.handler import FlakyHandler, Handler, Record, TransientError
from kchaos.patterns.routing import (
    DeadLetterRouter,
    RetryPlan,
    due_at,
    provenance_events,
    record_of,
    replay,
    retry_headers,
)
from kchaos.patterns.share import ShareWorker
from kchaos.workload.batch import BatchFailed, commit_sync, rewind, stop_here
from kchaos.workload.child import ArmedProcess, Handles, serve
from kchaos.workload.consumer import next_offsets
from kchaos.workload.recorded import RecordedConsumer, RecordedProducer

#: Where a worker can be made to crash: ``after-handle``: the batch is handled and its
#: copies acknowledged, its offsets not committed; ``after-commit``: just after the commit.
POINTS = ("after-handle", "after-commit")
_CODES = {"after-handle": 1, "after-commit": 2}


class DoneTable:
    """Records this group finished (processed or dead-lettered), by root and replay: a
    re-delivered one is recognised. SQLite in WAL mode, shared by the group's processes."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # survives a SIGKILL (not a power cut) without an fsync a row
        self.db.execute("CREATE TABLE IF NOT EXISTS done (record TEXT PRIMARY KEY, outcome TEXT)")
        self.lock = threading.Lock()

    @staticmethod
    def key(record: Record) -> str:
        return f"{record.root}#{record.replay}"

    def finished(self, record: Record) -> bool:
        with self.lock:
            return self.db.execute("SELECT 1 FROM done WHERE record = ?", (self.key(record),)).fetchone() is not None

    def mark(self, record: Record, outcome: str) -> None:
        with self.lock:
            self.db.execute("INSERT OR IGNORE INTO done VALUES (?, ?)", (self.key(record), outcome))


class PatternWorker(threading.Thread):
    """One worker of a pattern's group: consume, handle, retry or dead-letter, commit."""

    def __init__(
        self,
        name: str,
        group: str,
        bootstrap: str,
        input_topic: str,
        history: HistoryWriter,
        handler: Handler | None = None,
        retry: RetryPlan | None = None,
        dead_letter: str | None = None,
        dedupe: str | None = None,
        parallel: int = 1,
        ordering: str = "key",
        consumer_config: dict[str, Any] | None = None,
        producer_config: dict[str, Any] | None = None,
        batch: int = 100,
        poll_ms: int = 200,
        duration: float = 60.0,
        counter: Any = None,
        in_hand: Any = None,
        assigned: Any = None,
        arm: Any = None,
        replay: bool = False,
    ) -> None:
        super().__init__(name=f"pattern-{name}", daemon=True)
        self.reader, self.group, self.history = name, group, history
        self.handler = handler or FlakyHandler()
        self.retry = retry or RetryPlan()
        self.topics = [input_topic, *self.retry.topics]
        self.dead_letter, self.parallel, self.ordering = dead_letter, max(1, parallel), ordering
        self.done = DoneTable(dedupe) if dedupe else None
        self.batch, self.poll_s, self.duration = batch, poll_ms / 1000, duration
        self.counter, self.in_hand, self._assigned, self.arm = counter, in_hand, assigned, arm
        self.delivered, self.replay, self.bootstrap = 0, replay, bootstrap
        self.consumer_config = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **QUIET,
            **(consumer_config or {}),
        }
        self.producer_config = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, **QUIET}
        self.producer_config.update(producer_config or {})
        self._halt = threading.Event()
        self._paused: dict[tuple[str, int], float] = {}  # partition -> when its waiting record is due
        self._undelivered = 0

    def stop(self) -> None:
        self._halt.set()

    # --- the loop --------------------------------------------------------------------------
    def run(self) -> None:
        consumer = RecordedConsumer(self.consumer_config, self.history, self.reader)
        producer = RecordedProducer(self.producer_config, self.history, self.reader)
        router = DeadLetterRouter(producer, self.dead_letter, self.reader) if self.dead_letter else None
        if self.replay and self.dead_letter:
            self._replay(producer)
        consumer.subscribe(self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        pool = ThreadPoolExecutor(self.parallel) if self.parallel > 1 else None
        end = time.monotonic() + self.duration
        try:
            while not self._halt.is_set() and time.monotonic() < end:
                self._resume_due(consumer)
                records = [m for m in consumer.consume(self.batch, self.poll_s) if m.error() is None]
                ready = self._ready(consumer, records)
                if not ready:
                    continue
                self.delivered += len(records)
                if self.counter is not None:
                    self.counter.value = self.delivered
                self._hold(len(ready))
                try:
                    self._batch(consumer, producer, router, pool, ready)
                except (KafkaException, BatchFailed) as exc:
                    self._failed(consumer, ready, exc)
                self._hold(0)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
            producer.flush(30)
            consumer.close()

    def _replay(self, producer: RecordedProducer) -> None:
        """Send the dead letters written so far back to their source topic (after a fix),
        and record what their headers carried. A replay the cluster refuses for 30 s is
        recorded (``replay-failed``) and the worker goes on consuming."""
        try:
            letters = replay(self.bootstrap, self.dead_letter, producer)  # type: ignore[arg-type]
        except KafkaException as exc:
            self.history.write(Client(self.reader, "replay-failed", self.history.now(), detail=str(exc)[:300]))
            return
        for event in provenance_events(letters, self.history.now()):
            self.history.write(event)

    def _ready(self, consumer: RecordedConsumer, records: list[Any]) -> list[Any]:
        """The records that may be handled now. A retry copy not yet due pauses its
        partition, rewound to it, until it is due; the records after it wait too."""
        ready, waiting = [], set()
        now = time.time()
        for m in records:
            tp = (m.topic(), m.partition())
            if tp in waiting:
                continue
            due = due_at(m)
            if due > now:
                waiting.add(tp)
                self._paused[tp] = due
                part = TopicPartition(m.topic(), m.partition(), m.offset())
                consumer.pause([part])
                consumer.seek(part)
                continue
            ready.append(m)
        return ready

    def _resume_due(self, consumer: RecordedConsumer) -> None:
        now = time.time()
        due = [tp for tp, t in self._paused.items() if t <= now]
        if due:
            consumer.resume([TopicPartition(t, p) for t, p in due])
            for tp in due:
                del self._paused[tp]

    def _batch(self, consumer: RecordedConsumer, producer: Any, router: Any, pool: Any, records: list[Any]) -> None:
        """Handle a batch, wait for its copies, record the copied ones, commit."""
        if pool is None:
            results = [self._handle(consumer, producer, router, m) for m in records]
        else:
            lanes = self._lanes(records)
            futures = [pool.submit(self._lane, consumer, producer, router, lane) for lane in lanes]
            wait(futures)  # every lane finished before a failure rewinds the batch
            results = [r for f in futures for r in f.result()]
        left = producer.flush(30)
        failed, self._undelivered = self._undelivered, 0
        if left or failed:
            raise BatchFailed(f"{failed or left} copies not acknowledged")
        for m, record, outcome in results:
            if outcome in ("retry", "dead-lettered", "dropped"):  # a copy counts once it is acknowledged
                if self.done is not None and outcome == "dead-lettered":
                    self.done.mark(record, outcome)
                consumer.processed(m, outcome)
        self._crash_point("after-handle")
        commit_sync(consumer, next_offsets(records))
        self._crash_point("after-commit")

    def _lanes(self, records: list[Any]) -> list[list[Any]]:
        """The batch dealt to the threads: by key (one key, one thread) or in turn."""
        lanes: list[list[Any]] = [[] for _ in range(self.parallel)]
        for i, m in enumerate(records):
            n = zlib.crc32(m.key() or b"") if self.ordering == "key" else i
            lanes[n % self.parallel].append(m)
        return [lane for lane in lanes if lane]

    def _lane(self, consumer: Any, producer: Any, router: Any, lane: list[Any]) -> list[tuple[Any, Record, str]]:
        return [self._handle(consumer, producer, router, m) for m in lane]

    def _handle(self, consumer: Any, producer: Any, router: Any, msg: Any) -> tuple[Any, Record, str]:
        """One record to its outcome for this worker. ``ok`` is recorded at once (the
        handler's work is done); a copy's outcome once the copy is acknowledged."""
        record = record_of(msg)
        if self.done is not None and self.done.finished(record):
            consumer.processed(msg, "duplicate")
            return msg, record, "duplicate"
        while True:
            try:
                self.handler(record)
            except TransientError as exc:
                if not self.retry.may_retry(record.attempt):
                    return msg, record, self._dead(router, record, exc)
                if self.retry.mode == "blocking":
                    consumer.processed(msg, "failed")
                    time.sleep(self.retry.backoff_ms / 1000)
                    record.attempt += 1
                    continue
                topic, delay = self.retry.next_topic(record.attempt)
                producer.produce(
                    topic, value=record.value, key=record.key, headers=retry_headers(record, delay),
                    on_delivery=self._delivered,
                )  # fmt: skip
                producer.poll(0)
                return msg, record, "retry"
            except Exception as exc:  # noqa: BLE001 - anything else is permanent: dead-lettered
                return msg, record, self._dead(router, record, exc)
            if self.done is not None:
                self.done.mark(record, "ok")
            consumer.processed(msg, "ok")
            return msg, record, "ok"

    def _dead(self, router: DeadLetterRouter | None, record: Record, exc: BaseException) -> str:
        if router is None:  # no dead-letter topic: the record is dropped, and the history says so
            return "dropped"
        router.route(record, exc, on_delivery=self._delivered)
        return "dead-lettered"

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._undelivered += 1

    def _failed(self, consumer: RecordedConsumer, records: list[Any], exc: Exception) -> None:
        """A batch whose copies or commit failed: recorded, and the consumer sent back to
        the batch's first offsets (handled again: ``dedupe`` keeps that from counting twice)."""
        err = exc.args[0] if isinstance(exc, KafkaException) else None
        name, detail = (err.name(), err.str()) if err is not None else ("batch", str(exc))
        self.history.write(Client(self.reader, "batch-failed", self.history.now(), error=name, detail=detail))
        rewind(consumer, records)

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        if self._assigned is not None:
            self._assigned.value = 1
        consumer.resume(partitions)  # librdkafka may keep a partition's pause across a rebalance

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        consumer.resume(partitions)  # a paused partition's next owner reads it from the commit
        for tp in partitions:
            self._paused.pop((tp.topic, tp.partition), None)

    def _hold(self, n: int) -> None:
        if self.in_hand is not None:
            self.in_hand.value = n

    def _crash_point(self, point: str) -> None:
        stop_here(self.arm, _CODES[point], self.history, self.reader, point)


def worker_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    """A worker's keyword arguments from plain values (what crosses into a child process):
    ``handler`` and ``retry`` as dicts become a ``FlakyHandler`` and a ``RetryPlan``."""
    out = {k: v for k, v in spec.items() if k != "share"}
    handler = spec.get("handler", {})
    if "avro" in handler:  # a schema reader: decode with the reader schema it was deployed with
        from kchaos.patterns.schema import AvroHandler

        out["handler"] = AvroHandler(**handler["avro"])
    else:
        out["handler"] = FlakyHandler(**handler)
    out["retry"] = RetryPlan(**spec.get("retry", {}))
    return out


def _pattern_main(kwargs: dict[str, Any], h: Handles) -> None:
    """The child process: one ``PatternWorker`` (a ``ShareWorker`` for a share group) on the
    shared history, until ``halt`` is set."""
    kind = ShareWorker if kwargs.get("share") else PatternWorker
    serve(functools.partial(kind, **worker_kwargs(kwargs)), kwargs["name"], h)


class PatternProcess(ArmedProcess):
    """A pattern worker in a child process: the client faults of ``ClientProcess``, and
    ``kill_at``: SIGKILL when the worker reaches a point of its loop (``POINTS``)."""

    main = staticmethod(_pattern_main)

    @property
    def share(self) -> bool:
        """Whether the worker is a member of a share group (no committed offsets)."""
        return bool(self.kwargs.get("share"))

    @property
    def committed_topics(self) -> list[str]:
        """The topics whose commits at their end say this worker is done, in the order its
        records move: the input, then each retry topic (records move forward only, so each
        committed to its end, in that order, leaves nothing in flight)."""
        return [self.kwargs["input_topic"], *(self.kwargs.get("retry") or {}).get("topics", [])]

    def deploy_fix(self, replay: bool = False) -> None:
        """A rolling deploy of this worker: a graceful leave, then a new process running
        the fixed handler; with ``replay`` that process first sends the dead letters back
        to their source topic (this start only: a later restart does not replay)."""
        self.kwargs = {**self.kwargs, "handler": {**self.kwargs.get("handler", {}), "fixed": True}, "replay": replay}
        try:
            self.leave()
            self.earlier += int(self._counter.value)  # the new process counts from 0 (as restart does)
            self.start()
        finally:
            self.kwargs["replay"] = False

    def point_code(self, point: str) -> int:
        return _CODES["after-handle" if point == "between" else point]
