"""The same handler behind a Kafka share group (KIP-932) and its broker-side dead-letter
queue (KIP-1191): Kafka's own answer to retries and dead letters, beside kchaos' own.

A share group hands records to its members one by one, with no partition ownership:
each delivered record is acquired by one member for a while (``share.record.lock.duration.ms``)
and acknowledged with ACCEPT (done), RELEASE (give it to someone again: its delivery count
goes up) or REJECT (never again). A record rejected, or released more often than
``share.delivery.count.limit``, is archived; with a dead-letter queue configured on the
group, the broker writes it there first. What it takes, found on Kafka 4.4.0:

- the group config ``errors.deadletterqueue.topic.name``, a topic whose name starts with the
  broker's prefix (``errors.deadletterqueue.topic.name.prefix``, ``dlq.``);
- the topic config ``errors.deadletterqueue.group.enable=true`` on that topic (without it
  the broker writes nothing there, and says nothing: the group config is accepted);
- ``errors.deadletterqueue.copy.record.enable=true`` on the group for the key and value to
  be copied; by default a dead letter is headers only (``__dlq.errors.topic``,
  ``.partition``, ``.offset``, ``.group``, ``.delivery.count``, ``.message``).

``ShareWorker`` is the pattern worker's share-group twin: the same handler and outcomes
(``process`` events: ``ok``, ``released``, ``rejected``), acknowledging each record
explicitly. Deliveries are not recorded as ``read`` events: a share group is not a log read
in order, and the ordering checks of ``read`` events are about that.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from confluent_kafka import AcknowledgeType, KafkaException, ShareConsumer
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from kchaos.clients import QUIET
from kchaos.cluster.readiness import admin
from kchaos.events import Client, Process
from kchaos.history import HistoryWriter
from kchaos.patterns.handler import FlakyHandler, Handler, TransientError
from kchaos.patterns.routing import provenance_events, record_of, replay
from kchaos.workload.recorded import RecordedProducer

#: The smallest lock the broker allows by default (group.share.min.record.lock.duration.ms).
LOCK_MS = 15_000


def configure_group(bootstrap: str, group: str, dead_letter: str | None, attempts: int, lock_ms: int = LOCK_MS) -> None:
    """The share group's settings (group configs, set before its first member joins): read
    from the earliest record, ``attempts`` deliveries at most, a record lock of ``lock_ms``,
    and the broker's dead-letter queue with the records copied into it."""
    entries = {
        "share.auto.offset.reset": "earliest",
        "share.delivery.count.limit": str(attempts),
        "share.record.lock.duration.ms": str(lock_ms),
    }
    if dead_letter:
        entries |= {
            "errors.deadletterqueue.topic.name": dead_letter,
            "errors.deadletterqueue.copy.record.enable": "true",
        }
    resource = ConfigResource(
        ResourceType.GROUP,
        group,
        incremental_configs=[
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in entries.items()
        ],
    )
    client = admin(bootstrap)  # kept alive until the futures resolve
    for future in client.incremental_alter_configs([resource]).values():
        future.result(timeout=30)


class ShareWorker(threading.Thread):
    """One member of a share group running a handler: ACCEPT when it returns, RELEASE on a
    transient failure (the broker delivers it again, to any member, until the delivery
    limit), REJECT on a permanent one (the broker dead-letters it)."""

    def __init__(
        self,
        name: str,
        group: str,
        bootstrap: str,
        input_topic: str,
        history: HistoryWriter,
        handler: Handler | None = None,
        attempts: int = 3,
        dead_letter: str | None = None,
        replay: bool = False,
        duration: float = 60.0,
        counter: Any = None,
        in_hand: Any = None,
        assigned: Any = None,
        **_: Any,
    ) -> None:
        super().__init__(name=f"share-{name}", daemon=True)
        self.reader, self.group, self.history, self.topic = name, group, history, input_topic
        self.handler, self.attempts, self.duration = handler or FlakyHandler(), attempts, duration
        self.bootstrap, self.dead_letter, self.replay = bootstrap, dead_letter, replay
        self.counter, self.in_hand, self._assigned = counter, in_hand, assigned
        self.config = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "share.acknowledgement.mode": "explicit",
            **QUIET,
        }
        self.delivered = 0
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        if self.replay and self.dead_letter:
            self._replay()
        consumer = ShareConsumer(self.config)
        consumer.subscribe([self.topic])
        if self._assigned is not None:
            self._assigned.value = 1  # a share group has no assignment callback: subscribed is in
        end = time.monotonic() + self.duration
        try:
            while not self._halt.is_set() and time.monotonic() < end:
                records = [m for m in consumer.poll(0.2) if m.error() is None]
                for msg in records:
                    consumer.acknowledge(msg, self._handle(msg))
                if records:
                    self.delivered += len(records)
                    if self.counter is not None:
                        self.counter.value = self.delivered
                    self._commit(consumer)
        finally:
            consumer.close()

    def _replay(self) -> None:
        """The broker's dead letters back to their source topic (after a fix), through a
        recorded producer; what their headers said is recorded as for kchaos' own. A replay
        the cluster refuses for 30 s is recorded (``replay-failed``)."""
        producer = RecordedProducer(
            {"bootstrap.servers": self.bootstrap, "acks": "all", **QUIET}, self.history, self.reader
        )
        try:
            letters = replay(self.bootstrap, self.dead_letter, producer)  # type: ignore[arg-type]
        except KafkaException as exc:
            self.history.write(Client(self.reader, "replay-failed", self.history.now(), detail=str(exc)[:300]))
            return
        for event in provenance_events(letters, self.history.now()):
            self.history.write(event)

    def _commit(self, consumer: ShareConsumer) -> None:
        """Send the acknowledgements and wait for them. One the broker did not take is
        recorded (a ``client`` event): its records come back when their lock runs out,
        and are processed again (a share group is at-least-once)."""
        try:
            failed = {tp: err for tp, err in consumer.commit_sync(10).items() if err is not None}
        except KafkaException as exc:
            failed = {"all": exc}
        for tp, err in failed.items():
            where = f"{tp.topic}:{tp.partition}" if hasattr(tp, "topic") else tp
            self.history.write(Client(self.reader, "ack-failed", self.history.now(), detail=f"{where}: {err}"))

    def _handle(self, msg: Any) -> Any:
        """The handler's outcome as an acknowledgement, recorded as a ``process`` event."""
        record = record_of(msg)
        record.attempt = msg.delivery_count() or 1
        try:
            self.handler(record)
            outcome, ack = "ok", AcknowledgeType.ACCEPT
        except TransientError:
            outcome, ack = "released", AcknowledgeType.RELEASE
        except Exception:  # noqa: BLE001 - anything else is permanent: the broker dead-letters it
            outcome, ack = "rejected", AcknowledgeType.REJECT
        where = (msg.topic(), msg.partition(), msg.offset(), record.id)
        self.history.write(Process(self.reader, self.group, *where, outcome, self.history.now()))
        return ack


def lag(cluster: Any, group: str) -> int | None:
    """The share group's lag summed over its partitions (kafka-share-groups --describe
    --offsets: records not yet delivered and acknowledged), None while it is unknown."""
    out = cluster.run_tool(
        1,
        "org.apache.kafka.tools.consumer.group.ShareGroupCommand",
        ["--bootstrap-server", cluster.bootstrap, "--describe", "--group", group, "--offsets"],
    )
    rows = [line.split() for line in out.splitlines() if line.startswith(group)]
    if not rows or any(not row[-1].isdigit() for row in rows):
        return None
    return sum(int(row[-1]) for row in rows)
