"""Waiting until a cluster is really usable, not just started.

"Up" means: every broker registered with the controller, and a topic replicated on
every broker (up to 3) accepts a write with acks=all. That is what an experiment needs;
a port that accepts a connection is not enough.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kchaos.clients import QUIET
from kchaos.cluster.spec import ClusterSpec
from kchaos.errors import ClusterError

READY_TOPIC = "kchaos-ready"


def admin(bootstrap: str) -> AdminClient:
    """An AdminClient that does not print librdkafka's connection noise."""
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 5000, **QUIET})


#: Errors of a create request that failed in flight, not on its merits: the request is
#: sent again. librdkafka replaces its bootstrap connections once it has learned the
#: brokers' ids, and a request in flight on one ends with _DESTROY_BROKER (seen on the
#: first cluster of a suite, Kafka 3.9.1); a busy controller ends it with a timeout.
IN_FLIGHT_ERRORS = (KafkaError._DESTROY_BROKER, KafkaError._TIMED_OUT, KafkaError._TRANSPORT)


def create_topic(adm: AdminClient, topic: NewTopic, timeout: float, exists_ok: bool = False, attempts: int = 3) -> None:
    """Create ``topic``, sending the request again (up to ``attempts`` times in all) when it
    failed in flight (``IN_FLIGHT_ERRORS``, or an error Kafka calls retriable); "already
    exists" on a later try is an earlier try's success. KafkaException otherwise."""
    deadline = time.monotonic() + timeout
    for attempt in range(attempts):
        try:
            try:
                adm.create_topics([topic], operation_timeout=30)[topic.topic].result(
                    timeout=max(1.0, deadline - time.monotonic())
                )
            except concurrent.futures.TimeoutError:  # no answer in time: a KafkaError like the others
                raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "no answer to CreateTopics in time")) from None
            return
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() == KafkaError.TOPIC_ALREADY_EXISTS and (exists_ok or attempt):
                return
            if attempt == attempts - 1 or not (err.retriable() or err.code() in IN_FLIGHT_ERRORS):
                raise
            time.sleep(0.5)


def wait_writable(
    bootstrap: str, spec: ClusterSpec, timeout: float = 90.0, alive: Callable[[], None] | None = None
) -> None:
    """Block until all brokers are registered and an acks=all write succeeds."""
    deadline = time.monotonic() + timeout
    adm = admin(bootstrap)
    while True:
        if alive:
            alive()
        if time.monotonic() > deadline:
            raise ClusterError(f"cluster not writable after {timeout:.0f} s (see node logs)")
        try:
            md = adm.list_topics(timeout=2)
        except KafkaException:
            time.sleep(0.2)
            continue
        if len(md.brokers) >= spec.brokers:
            break
        time.sleep(0.2)
    if READY_TOPIC not in md.topics:
        try:
            create_topic(adm, NewTopic(READY_TOPIC, 1, spec.replication_factor), deadline - time.monotonic(), True)
        except KafkaException as err:
            raise ClusterError(f"could not create {READY_TOPIC}: {err}") from None
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "message.timeout.ms": 5000, **QUIET})
    while True:
        if alive:
            alive()
        if time.monotonic() > deadline:
            raise ClusterError(f"cluster not writable with acks=all after {timeout:.0f} s")
        result: list[object] = []
        producer.produce(READY_TOPIC, b"ready", on_delivery=lambda err, msg, out=result: out.append(err))
        producer.flush(6)
        if result and result[0] is None:
            return
        time.sleep(0.2)
