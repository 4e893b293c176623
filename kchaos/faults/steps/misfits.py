"""Measured misfits (question 6.5): what Kafka is not built for, each shown with a number.

Each step runs against the experiment's own topics and writes what it measured as
``measured`` events (name, value, unit, and the error or setting that explains it):

- ``request-reply``: a request/reply round trip over two topics (a responder thread,
  correlation ids) against the same exchange over a loopback TCP connection.
- ``oversized-record``: one record over the broker's limit, refused by the client's own
  check and, with the client's limit raised, by the broker; the errors as they come.
- ``delete-one-record``: deleting a record in the middle of a partition. DeleteRecords only
  moves the log start offset (everything before goes too); a tombstone on a compacted
  topic hides the key's value only once the cleaner has run.
- ``priority``: an urgent record behind a backlog on one topic, against a topic of its own
  that the consumer fetches beside the backlog.

Every loop is bounded, and every client is closed (after any thread using it ended)
before the step returns.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from kchaos.clients import QUIET
from kchaos.cluster.readiness import admin
from kchaos.events import Measured
from kchaos.faults.context import StepContext
from kchaos.percentiles import percentile

#: Low-latency settings for both ends of the Kafka round trip: no linger, short fetch
#: waits. The comparison is against Kafka at its quickest, not at its defaults.
FAST_PRODUCER = {"linger.ms": 0, "acks": "all", **QUIET}
FAST_CONSUMER = {
    "fetch.wait.max.ms": 5,
    "fetch.min.bytes": 1,
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",  # a request sent before the responder's group settled is still answered
    **QUIET,
}


def _record(ctx: StepContext, name: str, value: float | None, unit: str, detail: str | None = None) -> None:
    if value is not None:
        ctx.history.write(Measured(ctx.history.now(), name, round(value, 3), unit, detail))


# --- request/reply -----------------------------------------------------------------------
def request_reply_step(ctx: StepContext, requests: str, replies: str, count: int = 200) -> None:
    """``count`` round trips over Kafka (request topic -> responder -> reply topic), then
    ``count`` over a loopback socket; the p50 and p99 of each, in ms."""
    req, rep = ctx.topic(requests), ctx.topic(replies)
    kafka = _kafka_round_trips(ctx.cluster.bootstrap, req, rep, count)
    direct = _socket_round_trips(count)
    for name, values in (("kafka", kafka), ("direct", direct)):
        for q in (50, 99):
            _record(ctx, f"request_reply_{name}_p{q}_ms", _ms(percentile(values, q)), "ms", f"{len(values)} trips")
    _record(ctx, "request_reply_timeouts", count - len(kafka), "requests", "no reply within 5 s")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _kafka_round_trips(bootstrap: str, req: str, rep: str, count: int) -> list[float]:
    halt = threading.Event()
    responder = threading.Thread(target=_respond, args=(bootstrap, req, rep, halt), daemon=True)
    responder.start()
    producer = Producer({"bootstrap.servers": bootstrap, **FAST_PRODUCER})
    replies = _consumer(bootstrap, [rep])
    try:
        _ready(replies)
        time.sleep(1.0)  # the responder joins its group
        trips = []
        for _ in range(count):
            cid = uuid.uuid4().hex.encode()
            t0 = time.monotonic()
            producer.produce(req, value=b"ping", headers=[("correlation", cid)])
            producer.flush(5)
            if _await_reply(replies, cid, t0 + 5):
                trips.append(time.monotonic() - t0)
        return trips
    finally:
        halt.set()
        responder.join(10)
        replies.close()


def _respond(bootstrap: str, req: str, rep: str, halt: threading.Event) -> None:
    """The service: each request answered on the reply topic with its correlation id."""
    consumer = _consumer(bootstrap, [req])
    producer = Producer({"bootstrap.servers": bootstrap, **FAST_PRODUCER})
    try:
        while not halt.is_set():
            msg = consumer.poll(0.05)
            if msg is None or msg.error() is not None:
                continue
            producer.produce(rep, value=b"pong", headers=msg.headers())
            producer.poll(0)
    finally:
        producer.flush(5)
        consumer.close()


def _consumer(bootstrap: str, topics: list[str]) -> Consumer:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"kchaos-misfit-{uuid.uuid4().hex[:8]}", **FAST_CONSUMER}
    )
    consumer.subscribe(topics)
    return consumer


def _ready(consumer: Consumer, timeout: float = 15.0) -> None:
    """Poll until the consumer has its assignment (the first request is not slowed by it)."""
    deadline = time.monotonic() + timeout
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.1)


def _await_reply(consumer: Consumer, cid: bytes, deadline: float) -> bool:
    while time.monotonic() < deadline:
        msg = consumer.poll(0.05)
        if msg is not None and msg.error() is None and dict(msg.headers() or ()).get("correlation") == cid:
            return True
    return False


def _socket_round_trips(count: int) -> list[float]:
    """The same exchange as a direct call: a loopback TCP echo, one connection."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(64):
                conn.sendall(b"pong" if data == b"ping" else data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    trips = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            t0 = time.monotonic()
            client.sendall(b"ping")
            client.recv(64)
            trips.append(time.monotonic() - t0)
    thread.join(5)
    server.close()
    return trips


# --- a record too large ------------------------------------------------------------------
def oversized_record_step(ctx: StepContext, topic: str, size: int = 2_000_000) -> None:
    """One record of ``size`` bytes: refused by the client's own message.max.bytes (1 MB by
    default), and with the client's limit raised, by the broker's (``message.max.bytes``,
    about 1 MB by default); each refusal's error recorded."""
    real = ctx.topic(topic)
    for who, limit in (("client", None), ("broker", size * 2)):
        error = _send_one(ctx.cluster.bootstrap, real, b"x" * size, limit)
        _record(ctx, f"oversized_refused_by_{who}", 1.0 if error else 0.0, "records", error or "accepted")


def _send_one(bootstrap: str, topic: str, value: bytes, client_limit: int | None) -> str | None:
    """The error of one send (name: message), or None when it was acknowledged."""
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap, "acks": "all", "message.timeout.ms": 15000, **QUIET}
    if client_limit:
        conf["message.max.bytes"] = client_limit
    producer, outcome = Producer(conf), []
    try:
        producer.produce(topic, value=value, on_delivery=lambda err, msg: outcome.append(err))
        producer.flush(20)
    except KafkaException as exc:
        return f"{exc.args[0].name()}: {exc.args[0].str()} (refused before sending)"
    if not outcome:
        return "no delivery report within 20 s"
    err = outcome[0]
    return None if err is None else f"{err.name()}: {err.str()}"


# --- deleting one record -----------------------------------------------------------------
def delete_one_record_step(
    ctx: StepContext, topic: str, compacted: str, records: int = 1000, limit_s: float = 30.0
) -> None:
    """Delete the record in the middle of a partition: with DeleteRecords (all before it go
    too: the collateral) and with a tombstone on a compacted topic (how long until a
    reader no longer gets the old value)."""
    real, comp = ctx.topic(topic), ctx.topic(compacted)
    producer = Producer({"bootstrap.servers": ctx.cluster.bootstrap, "acks": "all", **QUIET})
    acked: list[int] = []
    for i in range(records):
        producer.produce(real, value=f"r{i}".encode(), key=f"k{i}".encode(), partition=0,
                         on_delivery=lambda err, msg: acked.append(msg.offset()) if err is None else None)  # fmt: skip
    producer.flush(30)
    victim = sorted(acked)[len(acked) // 2]  # the record in the middle of what was written
    client = admin(ctx.cluster.bootstrap)  # kept alive until the futures resolve
    futures = client.delete_records([TopicPartition(real, 0, victim + 1)], request_timeout=30)
    for fut in futures.values():
        low = fut.result(timeout=30).low_watermark
    _record(
        ctx, "delete_records_collateral", low - 1, "records", f"to delete offset {victim}, log start moved to {low}"
    )
    _record(ctx, "compaction_delete_s", _tombstone_seconds(ctx.cluster.bootstrap, comp, producer, limit_s), "s",
            "tombstone on a compacted topic until a read from the start no longer returns the value")  # fmt: skip


def _tombstone_seconds(bootstrap: str, topic: str, producer: Producer, limit_s: float) -> float | None:
    """Write a key, a tombstone for it and later records (so the segment rolls), then read
    from the start until the key's value is gone; None if it outlived ``limit_s``."""
    producer.produce(topic, key=b"victim", value=b"secret", partition=0)
    producer.produce(topic, key=b"victim", value=None, partition=0)
    producer.flush(30)
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        producer.produce(topic, key=f"filler-{time.monotonic()}".encode(), value=b"x", partition=0)  # rolls segments
        producer.flush(10)
        if not _still_there(bootstrap, topic, b"secret"):
            return time.monotonic() - t0
        time.sleep(1.0)
    return None


def _still_there(bootstrap: str, topic: str, value: bytes) -> bool:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "kchaos-misfit-scan", **FAST_CONSUMER})
    try:
        end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None or msg.error() is not None:
                continue
            if msg.value() == value:
                return True
            if msg.offset() >= end - 1:
                return False
        return True  # could not read to the end: not shown to be gone
    finally:
        consumer.close()


# --- priority ----------------------------------------------------------------------------
def priority_step(ctx: StepContext, topic: str, urgent: str, backlog: int = 3000, processing_ms: float = 1.0) -> None:
    """An urgent record written after ``backlog`` ordinary ones, handled at
    ``processing_ms`` a record: how long until it is handled when it waits in the same
    topic; in a topic of its own read by the same consumer (librdkafka hands over what it
    fetched in the order it fetched it, so the backlog it already holds comes first); and
    in a topic of its own with a consumer of its own (the backlog handled beside it)."""
    real, fast = ctx.topic(topic), ctx.topic(urgent)
    cases = (
        ("priority_behind_backlog_ms", real, "shared", f"behind {backlog} records, one topic"),
        ("priority_topic_same_consumer_ms", fast, "shared", "a topic of its own, read by the same consumer"),
        ("priority_topic_ms", fast, "own", "a topic of its own with a consumer of its own"),
    )
    for name, urgent_topic, lane, detail in cases:
        latency = _urgent_latency(ctx.cluster.bootstrap, real, urgent_topic, backlog, processing_ms, lane)
        _record(ctx, name, _ms(latency), "ms", detail)


def _urgent_latency(
    bootstrap: str, topic: str, urgent_topic: str, backlog: int, processing_ms: float, lane: str
) -> float | None:
    """Write the backlog, then the urgent record; the seconds until it is handled."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", **QUIET})
    for i in range(backlog):
        producer.produce(topic, value=f"ordinary-{i}".encode(), partition=0)
    producer.flush(30)
    ordinary = _assigned(bootstrap, topic, backlog)
    consumers, halt, beside = [ordinary], threading.Event(), None
    if urgent_topic == topic or lane == "shared":
        mine = ordinary
        if urgent_topic != topic:
            mine.incremental_assign([TopicPartition(urgent_topic, 0, _end(mine, urgent_topic))])
    else:  # a consumer of its own; the backlog is handled beside it by the other
        mine = _assigned(bootstrap, urgent_topic, 0)
        consumers.append(mine)
        beside = threading.Thread(target=_handle_until, args=(ordinary, b"", processing_ms, halt), daemon=True)
        beside.start()
    marker = f"urgent-{uuid.uuid4().hex}".encode()
    t0 = time.monotonic()
    producer.produce(urgent_topic, value=marker, partition=0)
    producer.flush(10)
    try:
        done = _handle_until(mine, marker, processing_ms, halt)
        return None if done is None else done - t0
    finally:
        halt.set()
        if beside is not None:
            beside.join(10)  # out of its consume() before its consumer is closed
        for c in consumers:
            c.close()


def _end(consumer: Consumer, topic: str) -> int:
    return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]


def _assigned(bootstrap: str, topic: str, last: int) -> Consumer:
    """A consumer assigned to partition 0 of ``topic``, from its last ``last`` records."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"kchaos-misfit-{uuid.uuid4().hex[:8]}", **FAST_CONSUMER}
    )
    consumer.assign([TopicPartition(topic, 0, max(0, _end(consumer, topic) - last))])
    return consumer


def _handle_until(consumer: Consumer, marker: bytes, ms: float, halt: threading.Event) -> float | None:
    """Handle records (``ms`` each) until the marker (when it was handled), or until
    ``halt`` or 60 s (None)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not halt.is_set():
        for msg in consumer.consume(100, 0.05):
            if msg.error() is not None:
                continue
            if marker and msg.value() == marker:
                return time.monotonic()
            time.sleep(ms / 1000)
    return None
