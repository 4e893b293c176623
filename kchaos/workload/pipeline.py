"""A consume-transform-produce pipeline: the building block of the delivery-semantics
questions (4.1, 4.2, 4.4).

A ``Pipeline`` reads an input topic in a consumer group and writes one output record per
input record to an output topic. Each output carries the id of its input (an ``input``
header), so the checker can prove "each committed input has exactly one committed output"
(``exactly-once-broken``, the ``pipeline_*`` measurements). Three modes, one loop:

- ``exactly-once``: read_committed input; per batch a transaction holds the outputs and,
  through ``send_offsets_to_transaction``, the input offsets; one commit makes both
  visible or neither. A failed transaction is aborted and the consumer rewound to its
  committed offsets.
- ``at-least-once``: outputs first (flushed: acknowledged), then the offsets committed.
  A crash in between re-delivers the batch: duplicates.
- ``at-most-once``: the offsets committed first, then the outputs. A crash in between
  loses the batch.

With a ``store`` (a SQLite file) each processed record also writes a row outside Kafka,
with its output (before the offsets, except in at-most-once): the side effect a Kafka
transaction does not cover
(question 4.2). ``idempotent_store`` keys the row by the input id, so a repeat changes
nothing. The rows are read back after the run (``effects``): the store is the truth, not
what a killed worker managed to report.

A worker runs in a process of its own (``PipelineProcess``) so a fault can SIGKILL it at
a point the experiment chooses: ``arm(point)`` makes the worker stop itself (SIGSTOP)
when it gets there, and the nemesis then kills it.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec

from kchaos.clients import QUIET, init_transactions
from kchaos.cluster.readiness import admin
from kchaos.events import Client, Effect
from kchaos.history import HistoryWriter
from kchaos.workload.batch import BatchFailed, commit_sync, rewind, stop_here
from kchaos.workload.child import ArmedProcess, Handles, serve
from kchaos.workload.committed import CommittedReader
from kchaos.workload.consumer import next_offsets, record_id
from kchaos.workload.recorded import RecordedConsumer, RecordedProducer

MODES = ("exactly-once", "at-least-once", "at-most-once")
#: Where a worker can be made to crash. ``after-output``: the batch's outputs are
#: acknowledged (in exactly-once: inside the open transaction) and its side effects done,
#: its offsets not committed. ``after-commit``: its offsets committed (in at-most-once
#: before any output). ``between``: whichever of the two comes first in the mode.
POINTS = ("after-output", "after-commit", "between")
_CODES = {"after-output": 1, "after-commit": 2}


def resolve_point(point: str, mode: str) -> str:
    """``between`` in the words of a mode: after whichever of output and commit comes first."""
    if point != "between":
        return point
    return "after-commit" if mode == "at-most-once" else "after-output"


class Pipeline(threading.Thread):
    """One pipeline worker: a recorded consumer and a recorded producer, until stopped."""

    def __init__(
        self,
        name: str,
        group: str,
        bootstrap: str,
        input_topic: str,
        output_topic: str,
        history: HistoryWriter,
        mode: str = "exactly-once",
        consumer_config: dict[str, Any] | None = None,
        producer_config: dict[str, Any] | None = None,
        batch: int = 50,
        poll_ms: int = 200,
        duration: float = 60.0,
        store: str | None = None,
        idempotent_store: bool = False,
        counter: Any = None,
        in_hand: Any = None,
        assigned: Any = None,
        arm: Any = None,
        transactional_id: str | None = None,
    ) -> None:
        super().__init__(name=f"pipeline-{name}", daemon=True)
        if mode not in MODES:
            raise ValueError(f"pipeline mode {mode!r}: one of {', '.join(MODES)}")
        self.reader, self.group, self.mode = name, group, mode
        self.input_topic, self.output_topic, self.history = input_topic, output_topic, history
        self.batch, self.poll_s, self.duration = batch, poll_ms / 1000, duration
        self.store, self.idempotent_store = store, idempotent_store
        self.counter, self.in_hand, self._assigned, self.arm = counter, in_hand, assigned, arm
        self.delivered, self.assigned, self._outputs, self._undelivered = 0, False, 0, 0
        self.transactional = mode == "exactly-once"
        self.consumer_config = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            **QUIET,
            **(consumer_config or {}),
        }
        self.producer_config = {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            **QUIET,
            **(producer_config or {}),
        }
        for conf in (self.consumer_config, self.producer_config):
            if "debug" in conf:  # asked for librdkafka's debug log: it goes to the worker's stderr
                conf.pop("logger", None)
                conf["log_level"] = 7
        if self.transactional:
            # One transactional.id per worker slot: a restarted worker fences its zombie.
            self.producer_config["transactional.id"] = transactional_id or f"{group}-{name}"
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    # --- the loop --------------------------------------------------------------------------
    def run(self) -> None:
        consumer = RecordedConsumer(self.consumer_config, self.history, self.reader)
        producer = self._new_producer()
        db = self._open_store()
        consumer.subscribe([self.input_topic], on_assign=self._on_assign)
        end = time.monotonic() + self.duration
        while not self._halt.is_set() and time.monotonic() < end:
            records = [m for m in consumer.consume(self.batch, self.poll_s) if m.error() is None]
            if not records:
                continue
            self.delivered += len(records)
            if self.counter is not None:
                self.counter.value = self.delivered
            self._hold(len(records))
            try:
                self._batch(consumer, producer, db, records)
            except (KafkaException, BatchFailed) as exc:
                producer = self._failed(consumer, producer, records, exc)
            self._hold(0)
        producer.flush(30)
        consumer.close()

    def _batch(self, consumer: RecordedConsumer, producer: RecordedProducer, db: Any, records: list[Any]) -> None:
        """One batch in the mode's order. The history never says more than happened: a
        record is ``process``-ed once its output is acknowledged (in exactly-once: once its
        transaction committed), a commit is recorded once it succeeded."""
        offsets = next_offsets(records)
        if self.mode == "at-most-once":
            commit_sync(consumer, offsets)
            self._crash_point("after-commit")
        if self.transactional:
            producer.begin_transaction()
        outputs = [self._output(producer, m) for m in records]
        self._acknowledged(producer, len(outputs))
        self._effects(db, records)
        if not self.transactional:
            self._processed(consumer, records, outputs)
        self._crash_point("after-output")
        if self.transactional:
            _again(lambda: producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 30))
            _again(lambda: producer.commit_transaction(30))
            self._processed(consumer, records, outputs)
            for tp in offsets:  # committed with the transaction, not by the consumer
                consumer.record_commit(tp.topic, tp.partition, tp.offset, "ok")
            self._crash_point("after-commit")
        elif self.mode == "at-least-once":
            commit_sync(consumer, offsets)
            self._crash_point("after-commit")

    def _acknowledged(self, producer: RecordedProducer, n: int) -> None:
        """Wait until the batch's outputs are acknowledged; BatchFailed when one is not."""
        left = producer.flush(30)
        failed, self._undelivered = self._undelivered, 0
        if left or failed:
            raise BatchFailed(f"{failed or left} of {n} outputs not acknowledged")

    def _processed(self, consumer: RecordedConsumer, records: list[Any], outputs: list[str]) -> None:
        for m, out in zip(records, outputs, strict=True):
            consumer.processed(m, output=out)

    def _output(self, producer: RecordedProducer, msg: Any) -> str:
        """Produce the output of one input record; returns the output's id."""
        source = record_id(msg)
        self._outputs += 1
        out = f"{producer.producer_id}-o{self._outputs}"  # unique per attempt: a retry is another output
        producer.produce(
            self.output_topic,
            value=(msg.value() or b"").upper(),  # the transform
            key=msg.key(),
            headers=[("id", out.encode()), ("input", source.encode())],
            on_delivery=self._delivered,
        )
        producer.poll(0)
        return out

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._undelivered += 1

    def _failed(
        self, consumer: RecordedConsumer, producer: RecordedProducer, records: list[Any], exc: Exception
    ) -> RecordedProducer:
        """A batch that failed: its transaction (if any) aborted, and the consumer sent back
        to the batch's first offsets, so the batch is read and processed again (nothing
        is skipped). A producer that cannot go on (a fatal error, an abort refused because
        the coordinator already timed the transaction out) is replaced, as a service
        would: the new instance's InitProducerId fences the old one. Returns the producer
        to go on with."""
        err = exc.args[0] if isinstance(exc, KafkaException) else None
        name, detail = (err.name(), err.str()) if err is not None else ("batch", str(exc))
        self.history.write(Client(self.reader, "batch-failed", self.history.now(), error=name, detail=detail))
        if err is not None and err.fatal():
            producer = self._replace(producer, err)
        elif self.transactional:
            try:
                _again(lambda: producer.abort_transaction(30))
            except KafkaException as refused:
                producer = self._replace(producer, refused.args[0])
        rewind(consumer, records)
        return producer

    def _new_producer(self) -> RecordedProducer:
        """A producer; a transactional one retries InitProducerId while its coordinator
        moves or the previous instance's transaction is being aborted."""
        producer = RecordedProducer(self.producer_config, self.history, self.reader)
        return init_transactions(producer) if self.transactional else producer

    def _replace(self, producer: RecordedProducer, err: Any) -> RecordedProducer:
        self.history.write(Client(self.reader, "fatal-error", self.history.now(), error=err.name(), detail=err.str()))
        try:  # a fenced or fatal producer may refuse even this: it is dropped either way
            producer.purge(in_queue=True, in_flight=True)
            producer.flush(5)
        except KafkaException:
            pass
        return self._new_producer()

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self.assigned = True
        if self._assigned is not None:
            self._assigned.value = 1

    def _hold(self, n: int) -> None:
        if self.in_hand is not None:
            self.in_hand.value = n

    # --- the side effect ------------------------------------------------------------------
    def _open_store(self) -> sqlite3.Connection | None:
        if not self.store:
            return None
        db = sqlite3.connect(self.store, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def _effects(self, db: sqlite3.Connection | None, records: list[Any]) -> None:
        """One row per processed record, written with its output."""
        if db is None:
            return
        verb = "INSERT OR IGNORE" if self.idempotent_store else "INSERT"
        now = self.history.now()
        db.execute("BEGIN")
        db.executemany(
            f"{verb} INTO effects (input, worker, t) VALUES (?, ?, ?)",  # noqa: S608 - verb is one of two constants
            [(record_id(m), self.reader, now) for m in records],
        )
        db.execute("COMMIT")

    # --- crashing where the experiment says ------------------------------------------------
    def _crash_point(self, point: str) -> None:
        stop_here(self.arm, _CODES[point], self.history, self.reader, point)


def create_store(path: Path, idempotent: bool) -> None:
    """The side-effect table; keyed by input id when the effect is idempotent."""
    with sqlite3.connect(path) as db:
        key = "PRIMARY KEY" if idempotent else ""
        db.execute(f"CREATE TABLE IF NOT EXISTS effects (input TEXT {key}, worker TEXT, t REAL)")


def effects(path: Path, history: HistoryWriter) -> int:
    """Read the store back into the history (one ``effect`` event per row); the row count."""
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT input, worker, t FROM effects ORDER BY rowid").fetchall()
    for source, worker, t in rows:
        history.write(Effect(path.name, source, worker, t))
    return len(rows)


def wait_caught_up(bootstrap: str, group: str, topic: str, timeout: float, transactional_input: bool = False) -> bool:
    """Wait until ``group`` has committed every partition of ``topic`` up to its end (a
    pipeline's work is done when its input is committed, not when deliveries pause: a
    transaction stalled by a fault delivers nothing for a while and then goes on)."""
    adm = admin(bootstrap)
    with CommittedReader(bootstrap, group) as committed:
        return _caught_up_by(adm, committed, topic, time.monotonic() + timeout, 1 if transactional_input else 0)


def _caught_up_by(adm: Any, committed: CommittedReader, topic: str, deadline: float, slack: int) -> bool:
    """Ask until the group's commits reach the log end (less ``slack``) or ``deadline``."""
    while time.monotonic() < deadline:
        try:
            parts = adm.list_topics(topic, timeout=5).topics[topic].partitions
            ends = {
                tp.partition: f.result().offset
                for tp, f in adm.list_offsets(
                    {TopicPartition(topic, p): OffsetSpec.latest() for p in parts}, request_timeout=5
                ).items()
            }
            done = committed.read(topic, list(ends), timeout=5)
            # A transaction's commit marker ends the log one past the last record: allow it.
            if all(tp.error is None and max(tp.offset, 0) >= ends[tp.partition] - slack for tp in done):
                return True
        except Exception:  # noqa: BLE001 - a coordinator or leader moving: ask again
            pass
        time.sleep(0.3)
    return False


def _again(call: Any, attempts: int = 5) -> None:
    """A transactional call that librdkafka keeps open after a retriable error (a timeout)
    must be called again, not aborted: it refuses anything else until then."""
    for attempt in range(attempts):
        try:
            call()
            return
        except KafkaException as exc:
            if not exc.args[0].retriable() or attempt == attempts - 1:
                raise


def _pipeline_main(kwargs: dict[str, Any], h: Handles) -> None:
    """The child process: one ``Pipeline`` on the shared history, until ``halt`` is set."""
    serve(functools.partial(Pipeline, **kwargs), kwargs["name"], h)


class PipelineProcess(ArmedProcess):
    """A pipeline worker in a child process: the client faults of ``ClientProcess``, and
    ``kill_at``: SIGKILL when the worker reaches a point of its loop (``POINTS``)."""

    main = staticmethod(_pipeline_main)
    share = False  # a pipeline's group is a consumer group

    @property
    def committed_topics(self) -> list[str]:
        """The topics whose commits at their end say this worker is done: its input."""
        return [self.kwargs["input_topic"]]

    def point_code(self, point: str) -> int:
        return _CODES[resolve_point(point, self.kwargs.get("mode", "exactly-once"))]
