"""A recording producer: every send ends as exactly one ``send`` event.

Open-loop at a target rate (the schedule does not wait for acks, as real traffic does
not) or as fast as the client takes records. Each record carries its id in a header and
in its value, so any reader can tell what it got. Stops by itself after ``duration``.
"""

from __future__ import annotations

import random
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from kchaos.clients import QUIET, init_transactions
from kchaos.errors import BadInput
from kchaos.events import Client, Send, Txn
from kchaos.history import HistoryWriter
from kchaos.workload.outcome import classify, retries_enabled
from kchaos.workload.stats import stats_event

#: At most this many sends go out between two polls; each poll serves the delivery
#: reports and writes their lines in one write.
POLL_EVERY = 64


@dataclass
class Keys:
    """Key choice: ``uniform`` over ``count`` keys, ``hot`` (a share goes to key 0), or ``none``."""

    distribution: str = "uniform"
    count: int = 100
    hot_share: float = 0.5
    prefix: str = "k"

    def pick(self, rng: random.Random) -> str | None:
        if self.distribution == "none":
            return None
        if self.distribution == "hot" and rng.random() < self.hot_share:
            return f"{self.prefix}0"
        return f"{self.prefix}{rng.randrange(self.count)}"


@dataclass
class ProducerStats:
    """Live counters for the live view (per second deltas are taken by the viewer)."""

    ok: int = 0
    fail: int = 0
    unknown: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class RecordingProducer(threading.Thread):
    """One producer thread. ``stop()`` ends it early; it always flushes and records outcomes."""

    def __init__(
        self,
        name: str,
        bootstrap: str,
        topic: str,
        config: dict[str, Any],
        history: HistoryWriter,
        rate: float,
        duration: float,
        keys: Keys,
        seed: int,
        value_bytes: int = 100,
        txn_size: int = 10,
        abort_every: int = 0,
        max_records: int = 0,
        corrupt: float = 0.0,
    ) -> None:
        super().__init__(name=f"producer-{name}", daemon=True)
        self.producer_name, self.topic, self.history = name, topic, history
        self.rate, self.duration, self.keys = rate, duration, keys
        self.rng = random.Random(seed)
        self.config = {"bootstrap.servers": bootstrap, **QUIET, **config, "on_delivery": self._record}
        self.retries = retries_enabled(config)
        self.pad = b"x" * value_bytes  # a value is its id, a space, and padding to value_bytes
        self.stats = ProducerStats()
        self.transactional = "transactional.id" in config
        if self.transactional:
            self.config["transactional.id"] = f"{config['transactional.id']}-{name}"
        self.txn_size, self.abort_every = txn_size, abort_every
        self.max_records = max_records  # stop after this many sends (0: no limit)
        # The share of values made undecodable (a byte that is not UTF-8 after the padding),
        # chosen by a hash of the id: the poison records of the dead-letter questions.
        self.corrupt = int(corrupt * 10_000)
        if "statistics.interval.ms" in config:
            self.config["stats_cb"] = self._stats
        self._txn: str | None = None
        self._txn_number = 0
        self._txn_count = 0
        self._reports: list[tuple[KafkaError | None, Any, float]] = []  # served, not yet written
        self._inflight: dict[bytes, tuple[str, int, str | None, float, str | None]] = {}  # by value
        self._next_seq = 0  # where a burst cut short by a fatal error stopped
        self._halt = threading.Event()
        self._crash_request: dict[str, Any] | None = None

    def stop(self) -> None:
        self._halt.set()

    def crash(self, zombie_sends: int = 5) -> None:
        """Crash mid-transaction at the next send, then let the zombie try to go on
        (see ``_crash_mid_transaction``); only a transactional producer can."""
        if not self.transactional:
            raise BadInput(f"producer {self.producer_name} is not transactional: crash-producer needs transactional.id")
        self._crash_request = {"zombie_sends": zombie_sends}

    def _record(self, err: KafkaError | None, msg: Any) -> None:
        """Every delivery report, with the moment it arrived, kept until the client call that
        served it (a poll, flush or transactional call) returns and ``_drain`` writes it.
        One callback for the whole producer (set in its config), not one object per record:
        hundreds of thousands of those waiting in flight keep the garbage collector busy."""
        self._reports.append((err, msg, time.monotonic()))

    def _stats(self, raw: str) -> None:
        """librdkafka's statistics (served by poll, like delivery reports): a ``stats`` event."""
        self._drain()
        self.history.write(stats_event(self.producer_name, "producer", self.history.now(), raw))

    def _drain(self) -> None:
        """Write the reports the last client call served as ``send`` events, in order, in one
        write. Runs per record: it does as little as it can."""
        if not self._reports:
            return
        start, pop, name, topic = self.history.start, self._inflight.pop, self.producer_name, self.topic
        events, ok = [], 0
        for err, msg, arrived in self._reports:
            sent = pop(msg.value(), None)
            if sent is None:  # not one of ours (cannot happen: every value is stored before produce)
                continue
            id_, seq, key, t0, txn = sent
            t1 = (arrived - start) * 1e6 // 1 / 1e6
            if err is None:
                ok += 1
                offset = msg.offset()  # None under acks=0 (the broker says nothing): written as -1
                events.append(
                    Send(
                        id_, name, seq, key, topic, "ok", t0, t1, msg.partition(), -1 if offset is None else offset, txn
                    )
                )
            else:
                events.append(self._failed(id_, seq, key, t0, t1, txn, err))
        self._reports.clear()
        self.stats.ok += ok
        self.history.write_events(events)

    def _failed(
        self, id_: str, seq: int, key: str | None, t0: float, t1: float, txn: str | None, err: KafkaError
    ) -> Send:
        """A send that did not succeed: ``fail`` or ``unknown`` by its error, counted."""
        status = classify(err, self.retries)
        name = err.name()
        self.stats.errors[name] = self.stats.errors.get(name, 0) + 1
        setattr(self.stats, status, getattr(self.stats, status) + 1)
        return Send(id_, self.producer_name, seq, key, self.topic, status, t0, t1, txn=txn, error=name)  # type: ignore[arg-type]

    def _due(self, start: float, seq: int) -> int:
        """How many sends to make before the next poll: those the schedule says are due
        (all of ``POLL_EVERY`` when unpaced), and no more than the open transaction takes.
        A poll per send would cost more than the send."""
        due = POLL_EVERY
        if self.rate > 0:
            due = min(due, int((time.monotonic() - start) * self.rate) + 1 - seq)
        if self.transactional:  # the transaction _begin is about to open counts from 0
            due = min(due, self.txn_size - (self._txn_count if self._txn is not None else 0))
        return due

    def _wait(self, start: float, seq: int) -> float:
        """Seconds until send ``seq`` is due, at most 50 ms, never below 0: a negative
        timeout makes librdkafka's poll wait forever (and the clock moved on since ``_due``)."""
        if self.rate <= 0:
            return 0.0
        return max(0.0, min(start + seq / self.rate - time.monotonic(), 0.05))

    def _poll(self, producer: Producer, timeout: float) -> None:
        producer.poll(timeout)
        self._drain()

    def run(self) -> None:
        """The thread: produce until stopped or the duration ends. Nothing escapes it: an
        error that ends it early is recorded as a ``client`` event (confluent-kafka can
        raise a fenced zombie's fatal ``KafkaError`` itself, which is not an Exception)."""
        try:
            self._run()
        except:  # noqa: E722 - see the docstring: ``except BaseException`` does not match it
            error = sys.exc_info()[1]
            self._client_event("thread-error", error=type(error).__name__, detail=str(error)[:300])

    def _run(self) -> None:
        producer = self._new_producer()
        start = time.monotonic()
        seq = 0
        while not self._halt.is_set() and time.monotonic() - start < self.duration:
            try:
                due = self._due(start, seq)
                if self.max_records:
                    if seq >= self.max_records:
                        break
                    due = min(due, self.max_records - seq)
                if due <= 0:  # ahead of the schedule: wait for the next send's time, serving reports
                    self._poll(producer, self._wait(start, seq))
                    continue
                if self.transactional and self._txn is None:
                    self._begin(producer)
                seq = self._burst(producer, seq, due)
                self._poll(producer, 0)
                if self._crash_request is not None:
                    producer, seq = self._crash_mid_transaction(producer, seq, **self._crash_request)
                    self._crash_request = None
                    continue
                if self.transactional and self._txn_count >= self.txn_size:
                    self._end(producer)
            except KafkaException as exc:
                if not exc.args[0].fatal():
                    raise
                seq = max(seq, self._next_seq)  # a burst cut short: its sent records keep their ids
                producer = self._replace(producer, exc.args[0])
        if self._txn is not None:
            try:
                self._end(producer)
            except KafkaException:
                self._write_txn("unknown")
        self._close(producer)

    # --- transactions -------------------------------------------------------------------
    def _new_producer(self) -> Producer:
        """A producer; a transactional one retries InitProducerId while its coordinator
        moves (a killed coordinator makes it time out for a while)."""
        producer = Producer(self.config)
        return init_transactions(producer) if self.transactional else producer

    def _crash_mid_transaction(self, zombie: Producer, seq: int, zombie_sends: int) -> tuple[Producer, int]:
        """A process crash mid-transaction, and then its zombie.

        The old instance is abandoned with its transaction open; a new instance with the
        same transactional.id starts, and its InitProducerId bumps the epoch and makes the
        coordinator abort the open transaction before it returns. Then the old instance
        wakes up, writes ``zombie_sends`` more records in its transaction and tries to
        commit. Kafka must fence it: none of its records may ever be read as committed.
        """
        txn = self._txn
        self._client_event("crash", txn=txn)
        replacement = self._new_producer()
        for _ in range(zombie_sends):
            try:
                self._send(zombie, seq)
            except KafkaException:
                break  # already knows it is fenced: nothing more leaves it
            seq += 1
        try:
            zombie.commit_transaction(10)
            self._client_event("zombie-committed", txn=txn)
            status = "commit"
        except KafkaException as exc:
            self._client_event("zombie-fenced", txn=txn, error=exc.args[0].name(), detail=exc.args[0].str())
            status = "abort"  # the new instance's InitProducerId completed the abort first
        self._close(zombie, wait=5)
        self._txn = txn
        self._write_txn(status)
        return replacement, seq

    def _client_event(self, event: str, **fields: Any) -> None:
        self._drain()
        self.history.write(Client(self.producer_name, event, self.history.now(), **fields))

    def _begin(self, producer: Producer) -> None:
        producer.begin_transaction()
        self._txn_number += 1
        self._txn = f"{self.producer_name}-t{self._txn_number}"
        self._txn_count = 0

    def _write_txn(self, status: str, t0: float | None = None) -> None:
        self._drain()  # the delivery reports the commit (or abort) served come first
        self.history.write(Txn(self._txn, self.producer_name, status, self.history.now(), t0))  # type: ignore[arg-type]
        self._txn = None

    def _end(self, producer: Producer) -> None:
        """Commit (or, every ``abort_every``-th, abort) the open transaction and record how
        it ended: ``commit``/``abort`` only when the client confirmed it, else ``unknown``."""
        aborting = self.abort_every > 0 and self._txn_number % self.abort_every == 0
        t0 = self.history.now()  # the commit (or abort) begins: no read_committed reader may see it earlier
        try:
            if aborting:
                producer.flush(30)  # the records reach the log first: an abort must hide them
                self._drain()
                producer.abort_transaction(30)
            else:
                producer.commit_transaction(30)
            self._write_txn("abort" if aborting else "commit", t0)
        except KafkaException as exc:
            err = exc.args[0]
            if err.fatal():
                raise
            if err.txn_requires_abort():
                try:
                    producer.abort_transaction(30)
                    self._write_txn("abort", t0)
                    return
                except KafkaException:
                    pass
            self._write_txn("unknown", t0)

    def _replace(self, producer: Producer, err: KafkaError) -> Producer:
        """A fatal error (e.g. an idempotent producer's sequence desynchronised by an unclean
        election) makes a producer unusable: as a real application must, start a new one."""
        self._client_event("fatal-error", error=err.name(), detail=err.str())
        self._close(producer, wait=2)  # its reports first, then the transaction's outcome
        if self._txn is not None:
            self._write_txn("unknown")
        self.stats.errors["fatal"] = self.stats.errors.get("fatal", 0) + 1
        return self._new_producer()

    def _close(self, producer: Producer, wait: float = 30) -> None:
        """Flush; records still queued afterwards are purged (their callbacks say unknown).
        A record whose report never came (a client that cannot go on) is written as
        ``unknown``: every send ends as exactly one event."""
        try:
            if producer.flush(wait):
                producer.purge(in_queue=True, in_flight=True)
                producer.flush(5)
        except KafkaException:
            producer.purge(in_queue=True, in_flight=True)
            producer.poll(1)
        self._drain()
        if self._inflight:
            now, name, topic = self.history.now(), self.producer_name, self.topic
            self.history.write_events(
                [
                    Send(i, name, s, k, topic, "unknown", t0, now, txn=x, error="not-reported")
                    for i, s, k, t0, x in self._inflight.values()
                ]
            )
            self.stats.unknown += len(self._inflight)
            self._inflight.clear()

    def _send(self, producer: Producer, seq: int) -> int:
        return self._burst(producer, seq, 1)

    def _burst(self, producer: Producer, seq: int, count: int) -> int:
        """Send records ``seq`` .. ``seq + count - 1`` and return the next seq. Each is stored
        in ``_inflight`` by its value before ``produce()`` (its delivery report finds it
        there); the loop keeps what it needs in locals, as it runs per record. A fatal error
        from ``produce()`` leaves ``_next_seq`` at the record it refused (which never left
        the client): the ones before it were sent, and their ids are not used again."""
        name, topic, pad, txn, store = self.producer_name, self.topic, self.pad, self._txn, self._inflight
        pick, rng, start, produce = self.keys.pick, self.rng, self.history.start, producer.produce
        corrupt = self.corrupt
        self._txn_count += count
        end = seq + count
        for seq in range(seq, end):  # noqa: B020 - the argument is the first seq
            id_ = f"{name}-{seq}"
            key = pick(rng)
            value = id_.encode() + b" " + pad[len(id_) + 1 :]
            if corrupt and zlib.crc32(id_.encode()) % 10_000 < corrupt:
                value += b"\xff"
            t0 = (time.monotonic() - start) * 1e6 // 1 / 1e6  # history.now(), inlined
            store[value] = (id_, seq, key, t0, txn)
            while True:
                try:
                    produce(topic, value, key.encode() if key else None, headers={"id": id_})
                    break
                except BufferError:
                    self._poll(producer, 0.1)
                except KafkaException as exc:
                    del store[value]
                    if exc.args[0].fatal():
                        self._next_seq = seq
                        raise
                    # Raised by produce() itself: nothing left the client.
                    self._drain()
                    self.history.write(self._failed(id_, seq, key, t0, self.history.now(), txn, exc.args[0]))
                    break
        return end
