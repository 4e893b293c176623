"""Recording for code kchaos did not write: a team's own confluent-kafka clients.

``History`` is a history file (``kchaos.history.HistoryWriter``) that also makes
recorded clients. ``RecordedProducer`` and ``RecordedConsumer`` are confluent-kafka's
``Producer`` and ``Consumer`` (subclasses: code that takes one takes these) that write
every send outcome, delivery, commit and rebalance callback to the history, in the
format of ``docs/history.md``. Processing is the team's to record: ``processed(msg)``
after the side effect is done, so the checker can say "order 17 was never processed" or
"processed twice", not only "delivered".

Each record needs an id that is unique per record: an ``id`` header by default (the
producer adds one when a record has none) or the key (``id_from="key"``).

A child process records into the same file: ``History.env()`` gives the variables to
start it with, ``History.from_env()`` opens the history there. Lines are whole
``O_APPEND`` writes, and the clock (CLOCK_MONOTONIC since the history's start) is one
clock for every process on the machine.
"""

from __future__ import annotations

import itertools
import os
import signal
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from kchaos.clients import close_log, logged_to
from kchaos.errors import BadInput
from kchaos.events import Assign, Client, Commit, Lost, Process, Read, Revoke, Seek, Send, Txn
from kchaos.history import HistoryWriter, load
from kchaos.workload.outcome import classify, retries_enabled

ENV_PATH, ENV_START, ENV_CRASH = "KCHAOS_HISTORY", "KCHAOS_HISTORY_START", "KCHAOS_CRASH_AT"
ENV_NAME = "KCHAOS_WORKER"  # the worker's name, for the events it writes itself


class History(HistoryWriter):
    """A history file that recorded clients (and any process started with ``env()``) write."""

    def env(self) -> dict[str, str]:
        """The environment a child process needs to record into this history."""
        return {ENV_PATH: str(self.path), ENV_START: repr(self.start)}

    @classmethod
    def from_env(cls) -> History:
        """The history a parent started this process with (``env()``)."""
        path, start = os.environ.get(ENV_PATH), os.environ.get(ENV_START)
        if not path or not start:
            raise BadInput(f"{ENV_PATH} and {ENV_START} are not set: start this process with History.env()")
        return cls(Path(path), float(start))

    def producer(self, config: dict[str, Any], name: str = "producer", id_from: str = "header:id") -> RecordedProducer:
        """A recorded confluent-kafka Producer."""
        return RecordedProducer(config, self, name, id_from)

    def consumer(self, config: dict[str, Any], name: str = "consumer", id_from: str = "header:id") -> RecordedConsumer:
        """A recorded confluent-kafka Consumer (its ``group.id`` is the group in the history)."""
        return RecordedConsumer(config, self, name, id_from)

    def close(self) -> None:
        """Close the history and the librdkafka log its clients wrote."""
        super().close()
        close_log(_librdkafka_log(self))

    def events(self) -> list[Any]:
        """Every event written so far (by any process), as typed values."""
        return load(self.path) if self.path.exists() else []


class IdSource:
    """Where a record's id lives: ``header:NAME`` or ``key``."""

    def __init__(self, spec: str) -> None:
        kind, _, name = spec.partition(":")
        if kind == "key" and not name:
            self.header = None
        elif kind == "header" and name:
            self.header = name
        else:
            raise BadInput(f"id_from={spec!r}: write 'header:NAME' or 'key'")

    def of(self, msg: Any) -> str:
        """The id of a consumed record: its header, else the value's first word (how
        Kafka's VerifiableProducer and kchaos' own producer write it)."""
        if self.header is None:
            return _text(msg.key())
        for k, v in msg.headers() or ():
            if k == self.header and v is not None:
                return _text(v)
        return (msg.value() or b"").split(b" ", 1)[0].decode(errors="replace")


def _offset(msg: Any) -> int:
    """An acknowledged record's offset; -1 when the broker gave none (acks=0)."""
    offset = msg.offset()
    return -1 if offset is None else offset


def _header(headers: Any, name: str) -> str | None:
    """The text of header ``name`` among ``headers`` (a dict or a list of pairs), if any."""
    items = headers.items() if isinstance(headers, dict) else headers or ()
    return next((_text(v) for k, v in items if k == name and v is not None), None)


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _librdkafka_log(history: HistoryWriter) -> Path:
    """Where recorded clients of ``history`` write librdkafka's log lines."""
    return history.path.with_name(f"{history.path.stem}.librdkafka.log")


def _logged_beside(config: dict[str, Any], history: HistoryWriter) -> dict[str, Any]:
    return logged_to(config, _librdkafka_log(history))


class RecordedProducer(Producer):
    """confluent-kafka's Producer that records each send's final outcome (``send``) and
    each transaction's (``txn``). Outcomes are classified as kchaos' own producer does:
    ``unknown`` unless the error proves the record was not written."""

    def __init__(
        self, config: dict[str, Any], history: HistoryWriter, name: str = "producer", id_from: str = "header:id"
    ) -> None:
        super().__init__(_logged_beside(config, history))
        self.history, self.name, self.ids = history, name, IdSource(id_from)
        # Unique per instance: a restarted process, or two producers of one name, must not
        # reuse ids or sequence numbers (the checker orders each producer's sends by them).
        self.producer_id = f"{name}-{uuid.uuid4().hex[:6]}"
        self._config_cb = config.get("on_delivery")
        self._retries = retries_enabled(config)
        self._seq = itertools.count()
        self._txns = itertools.count()
        self._txn: str | None = None

    def produce(  # type: ignore[override]
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        partition: int = -1,
        callback: Any = None,
        on_delivery: Any = None,
        timestamp: int = 0,
        headers: Any = None,
    ) -> None:
        """``Producer.produce`` (same parameters) with the outcome recorded; an id header
        is added when the record has none. The caller's delivery callback (per message, or
        ``on_delivery`` in the config) still runs."""
        seq = next(self._seq)
        id_, headers = self._id(key, headers, seq)
        source = _header(headers, "input")  # a pipeline's output names its input
        origin = _header(headers, "origin")  # a retry, dead letter or replay names its root
        user_cb = callback or on_delivery or self._config_cb
        t0, txn, key_text = self.history.now(), self._txn, _text(key) if key is not None else None

        def report(err: KafkaError | None, msg: Any) -> None:
            self._write(err, msg, id_, seq, key_text, topic, t0, txn, source, origin)
            if user_cb is not None:
                user_cb(err, msg)

        try:
            super().produce(
                topic, value, key, partition=partition, on_delivery=report, timestamp=timestamp, headers=headers
            )
        except KafkaException as exc:
            self._write(exc.args[0], None, id_, seq, key_text, topic, t0, txn, source, origin)
            raise

    def _id(self, key: Any, headers: Any, seq: int) -> tuple[str, Any]:
        if self.ids.header is None:
            if key is None:
                raise BadInput(f"producer {self.name}: id_from='key' needs a key on every record")
            return _text(key), headers
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        for k, v in items:
            if k == self.ids.header and v is not None:
                return _text(v), headers
        id_ = f"{self.producer_id}-{seq}"
        return id_, [*items, (self.ids.header, id_.encode())]

    def _write(
        self,
        err: Any,
        msg: Any,
        id_: str,
        seq: int,
        key: str | None,
        topic: str,
        t0: float,
        txn: str | None,
        source: str | None = None,
        origin: str | None = None,
    ) -> None:
        status = classify(err, self._retries)
        where: dict[str, Any] = (
            {"partition": msg.partition(), "offset": _offset(msg)} if status == "ok" else {"error": err.name()}
        )
        now = self.history.now()
        self.history.write(
            Send(id_, self.producer_id, seq, key, topic, status, t0, now, txn=txn, input=source, origin=origin, **where)  # type: ignore[arg-type]
        )

    def begin_transaction(self) -> None:
        super().begin_transaction()
        self._txn = f"{self.producer_id}-txn-{next(self._txns)}"

    def commit_transaction(self, *args: Any, **kwargs: Any) -> None:
        self._finish(super().commit_transaction, "commit", args, kwargs)

    def abort_transaction(self, *args: Any, **kwargs: Any) -> None:
        self._finish(super().abort_transaction, "abort", args, kwargs)

    def _finish(self, call: Any, status: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Record how the transaction ended: a failed commit or abort is ``unknown`` (a
        commit that timed out may still complete; the checker infers it from reads)."""
        txn, t0 = self._txn, self.history.now()
        try:
            call(*args, **kwargs)
        except KafkaException:
            if txn is not None:
                self.history.write(Txn(txn, self.producer_id, "unknown", self.history.now(), t0))
            raise
        if txn is not None:
            self.history.write(Txn(txn, self.producer_id, status, self.history.now(), t0))  # type: ignore[arg-type]
        self._txn = None


class RecordedConsumer(Consumer):
    """confluent-kafka's Consumer that records each record it hands over (``read``),
    each commit's outcome (``commit``: synchronous ones from ``commit()``'s result,
    asynchronous and automatic ones from ``on_commit``) and each rebalance callback.
    ``processed(msg)`` records that the team's processing of a record is done."""

    def __init__(
        self, config: dict[str, Any], history: HistoryWriter, name: str = "consumer", id_from: str = "header:id"
    ) -> None:
        config = dict(config)
        self.history, self.name, self.ids = history, name, IdSource(id_from)
        self.group = str(config.get("group.id")) if config.get("group.id") else None
        self.isolation = str(config.get("isolation.level", "read_committed"))
        self._user_on_commit = config.get("on_commit")
        config["on_commit"] = self._on_commit
        config.setdefault("client.id", name)
        super().__init__(_logged_beside(config, history))

    def poll(self, timeout: float = -1) -> Any:  # type: ignore[override]
        msg = super().poll(timeout)
        if msg is not None and msg.error() is None:
            self._read(msg)
        return msg

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Any]:  # type: ignore[override]
        msgs = super().consume(num_messages, timeout)
        for msg in msgs:
            if msg.error() is None:
                self._read(msg)
        return msgs

    def _place(self, msg: Any) -> tuple[Any, ...]:
        """Who read which record where: the fields ``read`` and ``process`` events share."""
        return (self.name, self.group, msg.topic(), msg.partition(), msg.offset(), self.ids.of(msg))

    def _read(self, msg: Any) -> None:
        key = _text(msg.key()) if msg.key() is not None else None
        now = self.history.now()
        self.history.write(Read(*self._place(msg), key, now, self.isolation, msg.leader_epoch()))  # type: ignore[arg-type]

    def processed(self, msg: Any, outcome: str = "ok", output: str | None = None) -> None:
        """Processing of ``msg`` is done (its side effect happened): a ``process`` event."""
        self.history.write(Process(*self._place(msg), outcome, self.history.now(), output))

    def seek(self, partition: TopicPartition) -> None:
        """``Consumer.seek``, recorded (``seek``): the reads after it may go back."""
        super().seek(partition)
        now = self.history.now()
        self.history.write(Seek(self.name, self.group, partition.topic, partition.partition, partition.offset, now))

    def subscribe(self, topics: list[str], on_assign: Any = None, on_revoke: Any = None, on_lost: Any = None) -> None:  # type: ignore[override]
        """``Consumer.subscribe`` with each rebalance callback recorded (then the team's own runs)."""
        super().subscribe(
            topics,
            on_assign=self._rebalance(Assign, on_assign),
            on_revoke=self._rebalance(Revoke, on_revoke),
            on_lost=self._rebalance(Lost, on_lost or on_revoke),  # as confluent-kafka does without on_lost
        )

    def _rebalance(self, kind: type, user: Any) -> Any:
        def callback(consumer: Any, partitions: list[TopicPartition]) -> None:
            tps = [(p.topic, p.partition) for p in partitions]
            self.history.write(kind(self.name, self.group, tps, self.history.now()))
            if user is not None:
                user(consumer, partitions)

        return callback

    def commit(  # type: ignore[override]
        self, message: Any = None, offsets: Any = None, asynchronous: bool = True
    ) -> Any:
        """``Consumer.commit``; a synchronous commit's outcome is recorded from its result
        (an asynchronous one's by ``on_commit`` when a later poll runs it; one that fails
        commits nothing, so it is not recorded)."""
        kwargs = {k: v for k, v in (("message", message), ("offsets", offsets)) if v is not None}
        result = super().commit(asynchronous=bool(asynchronous), **kwargs)
        if not asynchronous:
            for tp in result or ():
                self.record_commit(tp.topic, tp.partition, tp.offset, "ok" if tp.error is None else tp.error.name())
        return result

    def _on_commit(self, err: KafkaError | None, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            failed = err or tp.error
            self.record_commit(tp.topic, tp.partition, tp.offset, "ok" if failed is None else failed.name())
        if self._user_on_commit is not None:
            self._user_on_commit(err, partitions)

    def record_commit(self, topic: str, partition: int, offset: int, status: str) -> None:
        """A commit made elsewhere (a transaction's send_offsets_to_transaction) as a ``commit`` event."""
        if self.group is not None and offset >= 0:
            self.history.write(Commit(self.name, self.group, topic, partition, offset, status, self.history.now()))


def crash_point(name: str) -> None:
    """Mark a point in your code where a crash matters (after a commit, before the side
    effect). Under ``Worker.start(crash_at=name)`` (``KCHAOS_CRASH_AT=name`` or
    ``name:N`` for the N-th time), the process stops itself there (SIGSTOP) for the test
    to SIGKILL; otherwise this does nothing."""
    armed = os.environ.get(ENV_CRASH)
    if not armed:
        return
    want, _, nth = armed.partition(":")
    if want != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] != int(nth or 1):
        return
    if os.environ.get(ENV_PATH) and os.environ.get(ENV_START):
        history = History.from_env()
        who = os.environ.get(ENV_NAME) or f"pid-{os.getpid()}"
        history.write(Client(who, "crash-point", history.now(), detail=name))
        history.close()
    os.kill(os.getpid(), signal.SIGSTOP)


_hits: dict[str, int] = {}
