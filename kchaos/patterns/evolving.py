"""A producer whose application moves through schema versions (question 6.4).

``EvolvingProducer`` writes Avro records (confluent-kafka's ``AvroSerializer``, through
``kchaos.patterns.schema.AvroWriter``) at a steady rate and deploys the next schema
version every ``every_s`` seconds. Each deploy is written to the history (a ``client``
event ``schema-registered`` or ``schema-refused``, with the version's file name): a
version the registry refuses is not deployed, and the producer goes on with the last
one that was, as a CI gate on the registry would leave it. Every send is recorded (a
``RecordedProducer``), so the checker knows which version wrote each record from the
deploy times.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from kchaos.clients import QUIET
from kchaos.events import Client
from kchaos.history import HistoryWriter
from kchaos.patterns.schema import AvroWriter, SchemaRefused, connect, sample
from kchaos.workload.producer import ProducerStats
from kchaos.workload.recorded import RecordedProducer


class EvolvingProducer(threading.Thread):
    """One producer thread walking through ``versions`` ([(name, schema text), ...])."""

    def __init__(
        self,
        name: str,
        bootstrap: str,
        topic: str,
        config: dict[str, Any],
        history: HistoryWriter,
        registry: str,
        versions: list[tuple[str, str]],
        every_s: float,
        rate: float,
        duration: float,
        key_count: int = 20,
    ) -> None:
        super().__init__(name=f"evolving-{name}", daemon=True)
        self.producer_name, self.topic, self.history = name, topic, history
        self.config = {"bootstrap.servers": bootstrap, **QUIET, **config}
        self.registry, self.versions, self.every_s = registry, versions, every_s
        self.rate, self.duration, self.key_count = rate, duration, key_count
        self.stats = ProducerStats()
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        producer = RecordedProducer(self.config, self.history, self.producer_name)
        client = connect(self.registry)
        writer: AvroWriter | None = None
        start = time.monotonic()
        next_version, seq = 0, 0
        while not self._halt.is_set() and time.monotonic() - start < self.duration:
            due = start + next_version * self.every_s
            if next_version < len(self.versions) and time.monotonic() >= due:
                writer = self._deploy(client, self.versions[next_version], writer)
                next_version += 1
            if writer is None:  # nothing deployed yet (the first version was refused): wait for the next
                time.sleep(0.1)
                continue
            try:
                self._send(producer, writer, seq)
            except Exception as exc:  # noqa: BLE001 - a registry or client error: recorded, the run goes on
                self.history.write(Client(self.producer_name, "send-failed", self.history.now(), detail=str(exc)[:300]))
                time.sleep(0.5)
            seq += 1
            time.sleep(max(0.0, start + seq / self.rate - time.monotonic()))
        producer.flush(30)

    def _deploy(self, client: Any, version: tuple[str, str], current: AvroWriter | None) -> AvroWriter | None:
        """Register the next version (the serializer does on first use); keep the current
        writer when the registry refuses it."""
        name, schema = version
        candidate = AvroWriter(client, self.topic, schema)
        try:
            candidate.encode(sample(schema, 0))
        except (SchemaRefused, Exception) as refused:  # noqa: BLE001 - refused, or the registry failed: not deployed
            self.history.write(
                Client(self.producer_name, "schema-refused", self.history.now(), detail=f"{name}: {refused}")
            )
            return current
        self.history.write(Client(self.producer_name, "schema-registered", self.history.now(), detail=name))
        return candidate

    def _send(self, producer: RecordedProducer, writer: AvroWriter, seq: int) -> None:
        key = f"k{seq % self.key_count}".encode()
        producer.produce(
            self.topic, value=writer.encode(sample(writer.schema_str, seq)), key=key, on_delivery=self._count
        )
        producer.poll(0)

    def _count(self, err: Any, msg: Any) -> None:
        if err is None:
            self.stats.ok += 1
        else:
            self.stats.fail += 1
