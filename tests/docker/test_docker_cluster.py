"""The docker backend against real containers: the same fault tests as the local backend
(run on this cluster), plus what only containers have: labels, published ports on
127.0.0.1 only, Docker's own kill and pause, and reading files inside a node."""

from __future__ import annotations

import json

from kchaos.cluster import choose_backend
from kchaos.cluster.docker import DATA_DIR, LABEL
from kchaos.cluster.inspect import status
from tests.integration import test_cluster as same_as_local


def test_up_within_45_s_and_status(dcluster):
    assert dcluster.up_seconds <= 45, f"writable after {dcluster.up_seconds:.1f} s"
    st = status(dcluster)
    assert st["backend"] == "docker"
    assert [b["state"] for b in st["brokers"]] == ["up", "up", "up"]
    assert sum(b["controller"] for b in st["brokers"]) == 1


def test_everything_is_labelled_and_published_on_loopback_only(dcluster):
    client = dcluster.client
    mine = {"label": f"{LABEL}={dcluster.name}"}
    containers = client.containers.list(all=True, filters=mine)
    assert len(containers) == 4  # 3 nodes + Toxiproxy
    assert len(client.networks.list(filters=mine)) == 4  # front + one per node
    assert len(client.volumes.list(filters=mine)) == 3
    for c in containers:
        for bindings in (c.attrs["HostConfig"]["PortBindings"] or {}).values():
            assert all(b["HostIp"] == "127.0.0.1" for b in bindings), c.name
    node_nets = client.networks.list(filters={**mine, "label": [f"{LABEL}={dcluster.name}", "kchaos.role=net"]})
    assert node_nets and all(n.attrs["Internal"] for n in node_nets)


def test_quorum_state_is_read_inside_the_containers(dcluster):
    raw = dcluster.read_node_file(1, f"{DATA_DIR}/__cluster_metadata-0/quorum-state")
    assert json.loads(raw)["leaderId"] == dcluster.quorum_leader()


def test_produce_and_consume_through_the_proxies(dhealthy):
    same_as_local.test_produce_and_consume_through_the_proxies(dhealthy)


def test_docker_kill_leader_moves_leadership_and_isr_recovers(dhealthy):
    same_as_local.test_kill_leader_moves_leadership_and_isr_recovers_after_start(dhealthy)


def test_isolate_leader_keeping_clients(dhealthy):
    same_as_local.test_isolate_leader_keeping_clients(dhealthy)


def test_cut_one_directed_link_keeps_the_others(dhealthy):
    same_as_local.test_cut_one_directed_link_keeps_the_others(dhealthy)


def test_slow_follower_drops_out_of_isr(dhealthy):
    same_as_local.test_slow_follower_drops_out_of_isr(dhealthy)


def test_docker_pause_freezes_the_container(dhealthy):
    """``node_state`` here is Docker's own ``State.Paused`` (the cgroup freezer)."""
    same_as_local.test_pause_and_resume(dhealthy)


def test_auto_picks_docker_when_images_exist(dcluster, monkeypatch):
    assert choose_backend("auto", dcluster.spec.kafka_version)[0] == "docker"
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    chosen, why = choose_backend("auto", dcluster.spec.kafka_version)
    assert chosen == "local" and "no Docker daemon" in why
