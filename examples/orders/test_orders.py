"""Does our order consumer handle every order through a crash and a leader kill?

Run: pytest examples/orders (kchaos' pytest plugin starts a cluster; --kchaos-cluster NAME uses a running one).
Each test sends orders, SIGKILLs the consumer right before it processes a batch,
starts it again, kills the leader of partition 0 while more orders go in, and asks the
checker. The fixed consumer passes (it re-reads the batch: information, not a failure);
the buggy one fails: the batch it committed before processing is never processed.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import pytest

import kchaos

HERE = Path(__file__).resolve().parent
ORDERS = 300


def send_orders(producer, topic: str, first: int, last: int) -> None:
    for n in range(first, last):
        producer.produce(topic, value=f"order-{n}".encode(), key=f"customer-{n % 7}".encode())
        producer.poll(0)
    assert producer.flush(60) == 0, "orders still unacknowledged after 60 s"


def wait_until_read_to_end(history, group: str, timeout: float = 60.0) -> None:
    """Until the group has read every partition up to its last acknowledged order."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = history.events()
        acked, read = {}, {}
        for e in events:
            if e.__struct_config__.tag == "send" and e.status == "ok":
                acked[e.partition] = max(acked.get(e.partition, -1), e.offset)
            elif e.__struct_config__.tag == "read" and e.group == group:
                read[e.partition] = max(read.get(e.partition, -1), e.offset)
        if acked and all(read.get(p, -1) >= o for p, o in acked.items()):
            return
        time.sleep(0.5)


@pytest.mark.kchaos(brokers=3)
@pytest.mark.parametrize("consumer", ["fixed_consumer.py", "buggy_consumer.py"])
def test_every_order_is_processed(consumer, kafka_cluster, faults, workers, history, tmp_path):
    topic = kchaos.create_topic(kafka_cluster, f"orders-{uuid.uuid4().hex[:8]}", partitions=3)
    group = f"orders-app-{uuid.uuid4().hex[:8]}"
    producer = history.producer(
        {"bootstrap.servers": kafka_cluster.bootstrap, "acks": "all", "enable.idempotence": True}, name="shop"
    )
    send_orders(producer, topic, 0, ORDERS // 2)

    argv = [sys.executable, str(HERE / consumer), kafka_cluster.bootstrap, topic, group]
    app = workers.start(
        argv, name="orders-consumer", crash_at="before-processing", ORDERS_LEDGER=str(tmp_path / "ledger")
    )
    app.wait_for_crash_point()  # frozen right before it processes its first batch
    app.kill()  # SIGKILL there
    app.start()  # a new process, the same group

    with faults.kill(kchaos.leader_of(topic, 0)):
        send_orders(producer, topic, ORDERS // 2, ORDERS)

    wait_until_read_to_end(history, group)
    app.stop()
    kchaos.drain(kafka_cluster, history, topic)
    result = kchaos.assert_no_anomalies(history)  # fails with the checker's findings
    assert result["info"]["redelivered"] > 0  # the batch the kill interrupted was read again
