"""A group's committed offsets, read the way the group watcher and a pipeline's catch-up
read them: through a consumer handle of the group, across the fault that moves the
group's coordinator (the Admin API's OffsetFetch segfaulted librdkafka 2.16 there), and
without the reader joining the group it reads."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, KafkaException, TopicPartition

import kchaos
from kchaos.cluster.readiness import admin
from kchaos.workload.committed import CommittedReader
from tests.integration.conftest import new_topic, wait_for


def test_committed_offsets_are_read_across_a_coordinator_kill_without_joining(healthy, tmp_path):
    topic, group = new_topic(healthy, partitions=2), f"g-{uuid.uuid4().hex[:8]}"
    writer = Consumer({"bootstrap.servers": healthy.bootstrap, "group.id": group, "enable.auto.commit": False})
    writer.commit(offsets=[TopicPartition(topic, 0, 5), TopicPartition(topic, 1, 7)], asynchronous=False)
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
            wait_for(lambda: [tp.offset for tp in reader.read(topic, [0, 1], timeout=5)] == [5, 7], 60, "the commits")
        described = admin(healthy.bootstrap).describe_consumer_groups([group])[group].result(timeout=30)
        assert described.members == []  # the reader never joined the group
