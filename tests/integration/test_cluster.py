"""The foundation against a real 3-broker KRaft cluster, every byte through Toxiproxy.

Each test asserts the state it observes (leaders, ISRs, node states), not just that a
call returned.
"""

from __future__ import annotations

import socket
import struct
import time

from confluent_kafka import Consumer, Producer

from kchaos.cluster.inspect import finalized_features, partition_info, resolve_target, status
from tests.integration.conftest import new_topic, wait_for


def _produce(bootstrap: str, topic: str, n: int, acks: str = "all") -> list[object]:
    errors: list[object] = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "message.timeout.ms": 10000, "log_level": 0})
    for i in range(n):
        p.produce(topic, key=str(i).encode(), value=f"v{i}".encode(), on_delivery=lambda e, m: errors.append(e))
    p.flush(20)
    return errors


def test_produce_and_consume_through_the_proxies(healthy):
    topic = new_topic(healthy, partitions=3)
    assert all(addr.startswith("127.0.0.1:") for addr in healthy.bootstrap.split(","))
    results = _produce(healthy.bootstrap, topic, 200)
    assert len(results) == 200 and all(e is None for e in results)
    c = Consumer(
        {
            "bootstrap.servers": healthy.bootstrap,
            "group.id": f"g-{topic}",
            "auto.offset.reset": "earliest",
            "log_level": 0,
        }
    )
    c.subscribe([topic])
    seen = set()
    deadline = time.monotonic() + 30
    while len(seen) < 200 and time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is not None and msg.error() is None:
            seen.add(msg.value())
    c.close()
    assert seen == {f"v{i}".encode() for i in range(200)}


def test_status_json_shape(healthy):
    topic = new_topic(healthy)
    st = status(healthy)
    assert st["backend"] == "local"
    assert [b["state"] for b in st["brokers"]] == ["up", "up", "up"]
    assert sum(b["controller"] for b in st["brokers"]) == 1
    assert sorted(st["topics"][topic][0]["isr"]) == [1, 2, 3]


def test_the_cluster_tells_its_finalized_feature_levels(healthy):
    """What the runner asks before a variant that needs a feature (kchaos.features)."""
    levels = finalized_features(healthy)
    assert levels is not None and levels["group.version"] >= 1 and levels["transaction.version"] >= 2


def test_kill_leader_moves_leadership_and_isr_recovers_after_start(healthy):
    topic = new_topic(healthy)
    leader = resolve_target(healthy, f"leader:{topic}:0")
    healthy.kill(leader)
    assert healthy.node_state(leader) == "down"
    info = wait_for(
        lambda: (i := partition_info(healthy, topic, 0))["leader"] not in (leader, -1) and i,
        30,
        "a new leader after the kill",
    )
    wait_for(lambda: leader not in partition_info(healthy, topic, 0)["isr"], 30, "the ISR to shrink")
    assert _produce(healthy.bootstrap, topic, 10) == [None] * 10, "acks=all writes go on with 2 of 3"
    healthy.start(leader)
    wait_for(lambda: leader in partition_info(healthy, topic, 0)["isr"], 60, "the restarted node back in the ISR")
    assert info["leader"] != leader


def test_isolate_leader_keeping_clients(healthy):
    topic = new_topic(healthy)
    leader = resolve_target(healthy, f"leader:{topic}:0")
    healthy.isolate(leader, keep_clients=True)
    assert healthy.node_state(leader) == "isolated"
    wait_for(
        lambda: partition_info(healthy, topic, 0)["leader"] not in (leader, -1),
        40,
        "the majority to elect a new leader",
    )
    assert _api_versions_answers(healthy.client_address(leader)), "the old leader still serves clients"


def _api_versions_answers(address: str) -> bool:
    """Send a raw ApiVersions v0 request and check the broker answers with error code 0.

    A TCP accept alone would only prove Toxiproxy listens; this proves the broker behind it.
    """
    host, port = address.split(":")
    client_id = b"kchaos-test"
    body = struct.pack(">hhih", 18, 0, 42, len(client_id)) + client_id
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        header = s.recv(10)
    size, correlation, error = struct.unpack(">iih", header[:10])
    return correlation == 42 and error == 0 and size > 6


def test_slow_follower_drops_out_of_isr(healthy):
    topic = new_topic(healthy)
    follower = resolve_target(healthy, f"follower:{topic}:0")
    healthy.slow(follower, latency_ms=5000, direction="out", kinds=("repl",))
    stop = time.monotonic() + 20
    while time.monotonic() < stop and follower in partition_info(healthy, topic, 0)["isr"]:
        _produce(healthy.bootstrap, topic, 5, acks="1")
        time.sleep(0.5)
    assert follower not in partition_info(healthy, topic, 0)["isr"]
    healthy.heal_network()
    wait_for(lambda: follower in partition_info(healthy, topic, 0)["isr"], 40, "the follower back in the ISR")


def test_cut_one_directed_link_keeps_the_others(healthy):
    topic = new_topic(healthy)
    leader = resolve_target(healthy, f"leader:{topic}:0")
    follower = resolve_target(healthy, f"follower:{topic}:0")
    other = ({1, 2, 3} - {leader, follower}).pop()
    healthy.cut(follower, leader)
    stop = time.monotonic() + 20
    while time.monotonic() < stop and follower in partition_info(healthy, topic, 0)["isr"]:
        _produce(healthy.bootstrap, topic, 5, acks="1")
        time.sleep(0.5)
    isr = partition_info(healthy, topic, 0)["isr"]
    assert follower not in isr and other in isr and leader in isr


def test_pause_and_resume(healthy):
    topic = new_topic(healthy)
    follower = resolve_target(healthy, f"follower:{topic}:0")
    healthy.pause(follower)
    assert healthy.node_state(follower) == "paused"
    wait_for(lambda: follower not in partition_info(healthy, topic, 0)["isr"], 40, "the paused follower out of ISR")
    healthy.resume(follower)
    assert healthy.node_state(follower) == "up"
    wait_for(lambda: follower in partition_info(healthy, topic, 0)["isr"], 60, "the resumed follower back in ISR")
