"""Where a failed record goes next: a retry plan, the dead-letter router, and the replay.

Every copy a pattern writes (a retry, a dead letter, a replay) carries the id of the
record it copies in an ``origin`` header: the history then knows each copy's root, and the
"processed once or dead-lettered" check (``kchaos.checker.patterns``) follows every
record to its end however many topics it went through.

A dead letter carries its provenance in headers, so a person (or the replay) can tell
where it came from and why it failed without the worker's logs:

| header | value |
|---|---|
| ``dlt.original.topic``, ``.partition``, ``.offset`` | where the failing copy was read |
| ``dlt.source.topic`` | the topic the record first came in on (where a replay goes) |
| ``dlt.error``, ``dlt.error.message`` | the exception's class and message |
| ``dlt.attempts`` | how many times it was tried |
| ``dlt.worker`` | the worker that gave up |
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from kchaos.clients import QUIET
from kchaos.events import BROKER_COPY, Measured
from kchaos.patterns.handler import Record, failure_kind
from kchaos.workload.consumer import record_id

ORIGIN, ATTEMPT, DUE, REPLAY = "origin", "kchaos.attempt", "kchaos.due", "kchaos.replay"


@dataclass
class RetryPlan:
    """How a transiently failing record is tried again.

    ``blocking``: in place, ``attempts`` tries with ``backoff_ms`` between them; the
    partition waits (head-of-line blocking) and per-key order holds. ``topics``: the
    record is copied to the next retry topic with a due time (``delays_ms`` per topic) and
    the partition goes on; per-key order is given up. ``none``: the first failure is
    final. After the last attempt the record is dead-lettered."""

    mode: str = "none"
    attempts: int = 3
    backoff_ms: float = 200.0
    topics: list[str] = field(default_factory=list)
    delays_ms: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.mode not in ("none", "blocking", "topics"):
            raise ValueError(f"retry mode {self.mode!r}: one of none, blocking, topics")
        if self.mode == "topics" and len(self.topics) < self.attempts - 1:
            raise ValueError(f"{self.attempts} attempts through retry topics need {self.attempts - 1} retry topics")
        if len(self.delays_ms) != len(self.topics):
            raise ValueError("one delay per retry topic")

    def may_retry(self, attempt: int) -> bool:
        """Whether a record that failed transiently on ``attempt`` gets another try."""
        return self.mode != "none" and attempt < self.attempts

    def next_topic(self, attempt: int) -> tuple[str, float]:
        """The retry topic after a failed ``attempt`` (1-based), and its delay in ms."""
        return self.topics[attempt - 1], self.delays_ms[attempt - 1]


def record_of(msg: Any) -> Record:
    """A consumed message as the handler's ``Record`` (its copy headers decoded)."""
    headers = {k: v for k, v in msg.headers() or () if v is not None}
    id_ = record_id(msg, headers)  # the id header, else the value's first word (Kafka's own producers)
    return Record(
        id=id_,
        root=headers[ORIGIN].decode() if ORIGIN in headers else id_.removesuffix(BROKER_COPY),
        key=msg.key(),
        value=msg.value(),
        topic=msg.topic(),
        partition=msg.partition(),
        offset=msg.offset(),
        attempt=int(headers.get(ATTEMPT, b"1")),
        replay=int(headers.get(REPLAY, b"0")),
        headers=headers,
    )


def due_at(msg: Any) -> float:
    """When a retry copy may be processed (wall-clock seconds; 0: at once)."""
    for k, v in msg.headers() or ():
        if k == DUE and v is not None:
            return int(v) / 1000
    return 0.0


def retry_headers(record: Record, delay_ms: float) -> list[tuple[str, bytes]]:
    """The headers of the copy that makes the next attempt."""
    due = int(time.time() * 1000 + delay_ms)
    return [
        (ORIGIN, record.root.encode()),
        (ATTEMPT, str(record.attempt + 1).encode()),
        (DUE, str(due).encode()),
        (REPLAY, str(record.replay).encode()),
        *_kept(record, "dlt.source.topic", record.topic),
    ]


def dead_letter_headers(record: Record, error: BaseException, worker: str) -> list[tuple[str, bytes]]:
    """A dead letter's provenance (the table in this module's docstring)."""
    message = " ".join(str(error).split())[:500]
    return [
        (ORIGIN, record.root.encode()),
        ("dlt.original.topic", record.topic.encode()),
        ("dlt.original.partition", str(record.partition).encode()),
        ("dlt.original.offset", str(record.offset).encode()),
        *_kept(record, "dlt.source.topic", record.topic),
        ("dlt.error", failure_kind(error).encode()),
        ("dlt.error.message", message.encode()),
        ("dlt.attempts", str(record.attempt).encode()),
        ("dlt.worker", worker.encode()),
        (REPLAY, str(record.replay).encode()),
    ]


def _kept(record: Record, name: str, default: str) -> list[tuple[str, bytes]]:
    """A header a copy keeps from the record it copies (or sets on the first copy)."""
    return [(name, record.headers.get(name, default.encode()))]


class DeadLetterRouter:
    """Sends records that cannot be processed to a dead-letter topic, with provenance.
    ``producer`` is any confluent-kafka Producer (a recorded one in kchaos' workers); the
    caller flushes it before committing the failed record's offset, so a dead letter is
    written before the record is given up (at-least-once: a crash in between writes it
    twice, unless the worker remembers what it finished)."""

    def __init__(self, producer: Any, topic: str, worker: str) -> None:
        self.producer, self.topic, self.worker = producer, topic, worker

    def route(self, record: Record, error: BaseException, on_delivery: Any = None) -> None:
        self.producer.produce(
            self.topic,
            value=record.value,
            key=record.key,
            headers=dead_letter_headers(record, error, self.worker),
            on_delivery=on_delivery,
        )
        self.producer.poll(0)


PROVENANCE = (
    "dlt.original.topic",
    "dlt.original.partition",
    "dlt.original.offset",
    "dlt.source.topic",
    "dlt.error",
    "dlt.error.message",
    "dlt.attempts",
    "dlt.worker",
)


def replay(bootstrap: str, dead_letter: str, producer: Any, timeout: float = 30.0) -> list[Record]:
    """Copy every dead letter written so far back to the topic it first came in on, as a
    new attempt of the same root (``kchaos.replay`` counts the replays). Run it after the
    fix is deployed. Reads the dead-letter topic from its start to its current end with
    a consumer that commits nothing (a replay can be run again). Returns the dead letters
    replayed."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "kchaos-replay",
            "enable.auto.commit": False,
            "enable.partition.eof": True,  # the end is reached even when its last offset is no record
            **QUIET,
        }
    )
    try:
        ends = _ends(consumer, dead_letter, time.monotonic() + timeout)
        left = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(dead_letter, p, OFFSET_BEGINNING) for p in left])
        done: list[Record] = []
        deadline = time.monotonic() + timeout
        while left and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    left.discard(msg.partition())
                continue
            if msg.offset() >= ends[msg.partition()] - 1:
                left.discard(msg.partition())
            if msg.offset() < ends[msg.partition()]:
                done.append(record_of(msg))
                _replay_one(producer, done[-1])
        producer.flush(30)
        return done
    finally:
        consumer.close()


def _ends(consumer: Consumer, topic: str, deadline: float) -> dict[int, int]:
    """Each partition's end offset, asked again while the cluster answers with an error (a
    broker that just restarted, a leader being elected) until ``deadline``."""
    while True:
        try:
            parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
        except KafkaException:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1.0)


def _replay_one(producer: Any, record: Record) -> None:
    """One dead letter back to its source: kchaos' ``dlt.source.topic``, or the topic a
    share group's broker-side dead letter names (``__dlq.errors.topic``)."""
    source = record.headers.get("dlt.source.topic") or record.headers.get("__dlq.errors.topic") or record.topic.encode()
    source = source.decode()
    producer.produce(
        source,
        value=record.value,
        key=record.key,
        headers=[(ORIGIN, record.root.encode()), (REPLAY, str(record.replay + 1).encode()), (ATTEMPT, b"1")],
    )
    producer.poll(0)


def provenance_events(letters: list[Record], now: float) -> list[Measured]:
    """What the replayed dead letters said about themselves: how many, how many carried
    kchaos' whole provenance, where they came from (topic, partition, offset: kchaos'
    headers or the broker's ``__dlq.errors.*``), and why (the error's class)."""
    example = letters[0].headers if letters else {}
    detail = ", ".join(
        f"{k}={v.decode(errors='replace')}" for k, v in example.items() if k.startswith(("dlt.", "__dlq"))
    )
    origin = ("dlt.original.topic", "dlt.original.offset")
    broker = ("__dlq.errors.topic", "__dlq.errors.offset")
    counts = {
        "dead_letters_replayed": (len(letters), detail or None),
        "dead_letters_with_provenance": (_having(letters, PROVENANCE), ", ".join(PROVENANCE)),
        "dead_letters_with_origin": (
            sum(1 for r in letters if all(h in r.headers for h in origin) or all(h in r.headers for h in broker)),
            "the topic and offset the record was read at",
        ),
        "dead_letters_with_error_class": (_having(letters, ("dlt.error",)), "the exception's class (dlt.error)"),
    }
    return [Measured(now, name, value, "records", why) for name, (value, why) in counts.items()]


def _having(letters: list[Record], headers: tuple[str, ...]) -> int:
    return sum(1 for r in letters if all(h in r.headers for h in headers))
