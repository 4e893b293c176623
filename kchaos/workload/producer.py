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
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from kchaos.clients import QUIET, init_transactions
from kchaos.errors import BadInput
from kchaos.events import Client, Send, Txn
from kchaos.history import HistoryWriter
from kchaos.workload.outcome import classify, retries_enabled


@dataclass
class Keys:
    """Key choice: ``uniform`` over ``count`` keys, ``hot`` (a share goes to key 0), or ``none``."""

    distribution: str = "uniform"
    count: int = 100
    hot_share: float = 0.5

    def pick(self, rng: random.Random) -> str | None:
        if self.distribution == "none":
            return None
        if self.distribution == "hot" and rng.random() < self.hot_share:
            return "k0"
        return f"k{rng.randrange(self.count)}"


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
    ) -> None:
        super().__init__(name=f"producer-{name}", daemon=True)
        self.producer_name, self.topic, self.history = name, topic, history
        self.rate, self.duration, self.keys = rate, duration, keys
        self.rng = random.Random(seed)
        self.config = {"bootstrap.servers": bootstrap, **QUIET, **config}
        self.retries = retries_enabled(config)
        self.pad = b"x" * max(0, value_bytes - 40)
        self.stats = ProducerStats()
        self.transactional = "transactional.id" in config
        if self.transactional:
            self.config["transactional.id"] = f"{config['transactional.id']}-{name}"
        self.txn_size, self.abort_every = txn_size, abort_every
        self._txn: str | None = None
        self._txn_number = 0
        self._txn_count = 0
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

    def _record(
        self, err: KafkaError | None, msg: Any, id_: str, seq: int, key: str | None, t0: float, txn: str | None = None
    ) -> None:
        status = classify(err, self.retries)
        where: dict[str, Any] = {}
        if status == "ok":
            where = {"partition": msg.partition(), "offset": msg.offset()}
            self.stats.ok += 1
        else:
            where = {"error": err.name() if err is not None else "?"}
            self.stats.errors[where["error"]] = self.stats.errors.get(where["error"], 0) + 1
            setattr(self.stats, status, getattr(self.stats, status) + 1)
        t1 = self.history.now()
        self.history.write(Send(id_, self.producer_name, seq, key, self.topic, status, t0, t1, txn=txn, **where))  # type: ignore[arg-type]

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
                if self.rate > 0:
                    wait = start + seq / self.rate - time.monotonic()
                    if wait > 0:
                        producer.poll(min(wait, 0.05))
                        continue
                if self.transactional and self._txn is None:
                    self._begin(producer)
                self._send(producer, seq)
                seq += 1
                producer.poll(0)
                if self._crash_request is not None:
                    producer, seq = self._crash_mid_transaction(producer, seq, **self._crash_request)
                    self._crash_request = None
                    continue
                if self.transactional and self._txn_count >= self.txn_size:
                    self._end(producer)
            except KafkaException as exc:
                if not exc.args[0].fatal():
                    raise
                if self._txn is not None:
                    self._write_txn("unknown")
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
        self.history.write(Client(self.producer_name, event, self.history.now(), **fields))

    def _begin(self, producer: Producer) -> None:
        producer.begin_transaction()
        self._txn_number += 1
        self._txn = f"{self.producer_name}-t{self._txn_number}"
        self._txn_count = 0

    def _write_txn(self, status: str, t0: float | None = None) -> None:
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
        self._close(producer, wait=2)
        self.stats.errors["fatal"] = self.stats.errors.get("fatal", 0) + 1
        return self._new_producer()

    @staticmethod
    def _close(producer: Producer, wait: float = 30) -> None:
        """Flush; records still queued afterwards are purged (their callbacks say unknown)."""
        try:
            if producer.flush(wait):
                producer.purge(in_queue=True, in_flight=True)
                producer.flush(5)
        except KafkaException:
            producer.purge(in_queue=True, in_flight=True)
            producer.poll(1)

    def _send(self, producer: Producer, seq: int) -> None:
        id_ = f"{self.producer_name}-{seq}"
        key = self.keys.pick(self.rng)
        t0 = self.history.now()
        value = id_.encode() + b" " + self.pad

        txn = self._txn
        self._txn_count += 1

        def report(
            err: KafkaError | None, msg: Any, id_: str = id_, seq: int = seq, key: str | None = key, t0: float = t0
        ) -> None:
            self._record(err, msg, id_, seq, key, t0, txn)

        while True:
            try:
                producer.produce(
                    self.topic, value=value, key=key.encode() if key else None, headers={"id": id_}, on_delivery=report
                )
                return
            except BufferError:
                producer.poll(0.1)
            except KafkaException as exc:
                if exc.args[0].fatal():
                    raise
                # Raised by produce() itself: nothing left the client.
                self._record(exc.args[0], None, id_, seq, key, t0, txn)
                return
