"""A group's committed offsets, read the way the group watcher and a pipeline's catch-up
read them: through a consumer handle of the group, across the fault that moves the
group's coordinator (the Admin API's OffsetFetch segfaulted librdkafka 2.16 there: this
process would die), still right after it, and without the reader joining the group."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

import kchaos
from kchaos.cluster.readiness import admin
from kchaos.workload.committed import CommittedReader
from tests.integration.conftest import new_topic, wait_for


def test_committed_offsets_are_read_across_a_coordinator_kill_without_joining(healthy, tmp_path):
    topic, group = new_topic(healthy, partitions=2), f"g-{uuid.uuid4().hex[:8]}"
    writer = Consumer({"bootstrap.servers": healthy.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        writer.commit(offsets=[TopicPartition(topic, 0, 5), TopicPartition(topic, 1, 7)], asynchronous=False)
    finally:
        writer.close()
    faults = kchaos.Faults(healthy, kchaos.History(tmp_path / "h.jsonl"))
    with CommittedReader(healthy.bootstrap, group) as reader:
        assert [tp.offset for tp in reader.read(topic, [0, 1])] == [5, 7]
        with faults.kill(kchaos.group_coordinator(group)):
            for _ in range(20):  # every answer while the coordinator moves, this process still alive
                try:
                    reader.read(topic, [0, 1], timeout=2)
                except KafkaException:
                    pass
    with CommittedReader(healthy.bootstrap, group) as after:  # the commits, intact on the new coordinator
        wait_for(lambda: [tp.offset for tp in after.read(topic, [0, 1], timeout=5)] == [5, 7], 60, "the commits")
        client = admin(healthy.bootstrap)  # kept alive until its future resolves
        described = client.describe_consumer_groups([group], request_timeout=30)[group].result(timeout=60)
        assert described.members == []  # the reader never joined the group


def test_a_partition_without_a_commit_and_an_open_transactions_offsets_read_at_once(healthy):
    """No commit reads as a negative offset without an error; offsets sent in a
    transaction that is still open do not hold the read up (it returns what was committed
    before, as the Admin API did), and show once the transaction commits."""
    topic, group = new_topic(healthy, partitions=2), f"g-{uuid.uuid4().hex[:8]}"
    writer = Consumer({"bootstrap.servers": healthy.bootstrap, "group.id": group, "enable.auto.commit": False})
    producer = Producer({"bootstrap.servers": healthy.bootstrap, "transactional.id": f"tx-{group}"})
    try:
        writer.commit(offsets=[TopicPartition(topic, 0, 5)], asynchronous=False)
        producer.init_transactions(30)
        producer.begin_transaction()
        producer.produce(topic, b"x", partition=1)
        producer.send_offsets_to_transaction([TopicPartition(topic, 0, 9)], writer.consumer_group_metadata(), 30)
        with CommittedReader(healthy.bootstrap, group) as reader:
            started = time.monotonic()
            parts = reader.read(topic, [0, 1], timeout=10)
            assert time.monotonic() - started < 5, "the read waited for the open transaction"
            assert [(tp.offset, tp.error) for tp in parts][0] == (5, None)
            assert parts[1].offset < 0 and parts[1].error is None
            producer.commit_transaction(30)
            wait_for(lambda: reader.read(topic, [0], timeout=5)[0].offset == 9, 30, "the transaction's offsets")
    finally:
        producer.flush(10)
        writer.close()
