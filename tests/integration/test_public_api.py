"""The public API's faults on the real test cluster: a fault used as a context manager
heals on exit, one network fault healed alone leaves the other on, and both are
recorded in the history as an experiment's faults are."""

from __future__ import annotations

import kchaos
from tests.integration.conftest import new_topic


def _toxic_nodes(cluster) -> set[int]:
    proxies = cluster.toxiproxy.proxies()
    return {link.dst for link in cluster.links() if proxies[link.proxy.name].get("toxics") and link.kind == "client"}


def test_a_fault_in_a_with_block_heals_on_exit_and_is_recorded(healthy, tmp_path):
    topic = new_topic(healthy)
    history = kchaos.History(tmp_path / "h.jsonl")
    faults = kchaos.Faults(healthy, history)
    with faults.kill(kchaos.leader_of(topic, 0)) as fault:
        victim = fault.node
        assert healthy.process_state(victim) == "down" and fault.active
    assert healthy.process_state(victim) == "up" and not fault.active
    phases = [(e.name, e.target, e.phase) for e in history.events()]
    assert phases == [("kill", str(victim), "start"), ("kill", str(victim), "end")]


def test_healing_one_network_fault_leaves_the_other_on(healthy, tmp_path):
    faults = kchaos.Faults(healthy, kchaos.History(tmp_path / "h.jsonl"))
    one = faults.slow(kchaos.node(1), latency_ms=50, links=["client"])
    two = faults.slow(kchaos.node(2), latency_ms=50, links=["client"])
    assert _toxic_nodes(healthy) == {1, 2}
    one.heal()
    assert _toxic_nodes(healthy) == {2} and faults.active == ["slow 2"]
    two.heal()
    assert _toxic_nodes(healthy) == set() and faults.active == []
