"""Drive your own handler through real faults with kchaos' pattern worker.

Run: pytest examples/patterns (kchaos' pytest plugin starts a cluster; --kchaos-cluster NAME uses a running one).
``charge`` is the handler under test: it fails transiently now and then (the payment
service times out) and refuses negative amounts for good. The worker retries in place
and dead-letters what cannot be done; the leader of the input is killed while payments
come in. The check: every payment charged exactly once or in the dead-letter topic once.

The worker commits after each batch (at-least-once). A commit refused while the group's
coordinator moves, or a rebalance, hands a batch round again; so the worker keeps a table
of finished payments (``dedupe``) and skips what it already did. Without it the check
finds ``processed-twice`` and ``dead-lettered-twice`` in some runs (a CI run found the
first half's payments of one partition charged twice). Its dead letters are sent by an
idempotent producer: librdkafka's producers are not idempotent by default, and a send
retried after the leader died can then be written twice (a run found two payments
dead-lettered twice that way).
"""

from __future__ import annotations

import time
import uuid

import pytest

import kchaos

PAYMENTS = 300


def charge(record: kchaos.Record) -> None:
    """Your handler: return when done, raise TransientError to be retried, anything else
    to be dead-lettered."""
    amount = int(record.value.decode().split()[1])
    if amount < 0:
        raise ValueError(f"negative amount {amount}")
    if amount % 37 == 0 and record.attempt == 1:
        raise kchaos.TransientError("payment service timed out")


def send_payments(producer, topic: str, first: int, last: int) -> None:
    for n in range(first, last):
        amount = -n if n % 50 == 0 else n
        producer.produce(topic, value=f"payment-{n} {amount}".encode(), key=f"card-{n % 9}".encode())
        producer.poll(0)
    assert producer.flush(60) == 0, "payments still unacknowledged after 60 s"


def wait_until_done(history, group: str, count: int, timeout: float = 90.0) -> None:
    """Until ``count`` payments ended (charged or dead-lettered) in the group's history."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ended = {
            e.id
            for e in history.events()
            if e.__struct_config__.tag == "process" and e.group == group and e.outcome in ("ok", "dead-lettered")
        }
        if len(ended) >= count:
            return
        time.sleep(0.5)
    pytest.fail(f"only {len(ended)} of {count} payments ended after {timeout:g} s")


@pytest.mark.kchaos(brokers=3)
def test_every_payment_is_charged_once_or_dead_lettered(kafka_cluster, faults, history, tmp_path):
    run = uuid.uuid4().hex[:8]
    topic = kchaos.create_topic(kafka_cluster, f"payments-{run}", partitions=3)
    dead = kchaos.create_topic(kafka_cluster, f"payments-dlt-{run}", partitions=1)
    group = f"payments-app-{run}"
    worker = kchaos.PatternWorker(
        "payments-app", group, kafka_cluster.bootstrap, topic, history, handler=charge,
        retry=kchaos.RetryPlan("blocking", attempts=3, backoff_ms=50), dead_letter=dead,
        dedupe=str(tmp_path / "done.db"),  # a re-delivered payment is not charged again
        producer_config={"enable.idempotence": True},  # a dead letter's retried send is written once
    )  # fmt: skip
    worker.start()
    producer = history.producer({"bootstrap.servers": kafka_cluster.bootstrap, "acks": "all"}, name="shop")
    send_payments(producer, topic, 0, PAYMENTS // 2)
    with faults.kill(kchaos.leader_of(topic, 0)):  # healed when the block ends
        send_payments(producer, topic, PAYMENTS // 2, PAYMENTS)
    wait_until_done(history, group, PAYMENTS)
    worker.stop()
    worker.join(30)
    kchaos.drain(kafka_cluster, history, dead)  # dead letters whose ack was lost count too
    found = kchaos.check_pattern(history, group, topic, dead_letter=dead)
    assert found == {kind: [] for kind in found}, {kind: ids[:5] for kind, ids in found.items() if ids}
