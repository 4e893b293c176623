"""The recording workload against the real cluster (issue: history and checker).

A producer with acks=all and idempotence and a group of two consumers run for 20 s while
the partition leader is killed and restarted; the drain completes; the checker finds no
anomaly and the measurements show the unavailability window around the kill.
"""

from __future__ import annotations

from pathlib import Path

from kchaos.checker import build, check_index
from kchaos.checker import measurements as measure
from kchaos.experiment import Experiment
from kchaos.history import load
from kchaos.results import RunResult
from kchaos.runner import Runner

SPEC = {
    "id": "workload-check",
    "question": "Does the workload record a clean history across a leader kill?",
    "topics": [{"name": "w", "partitions": 2, "replication_factor": 3, "config": {"min.insync.replicas": 2}}],
    "workload": {"topic": "w", "producers": 1, "rate": 300, "consumers": {"groups": 1, "members": 2}},
    "faults": [
        {"at": 0, "do": "kill", "target": "leader-of:w:0", "as": "v"},
        {"at": 10, "do": "start", "target": "$v"},
    ],
    "variants": [{"name": "acks=all idempotent", "producer": {"acks": "all", "enable.idempotence": True}}],
    "quick": {"steady": 4, "fault": 12, "recovery": 4},
}


def test_leader_kill_under_load_leaves_a_clean_history(healthy, tmp_path: Path):
    exp = Experiment.model_validate(SPEC)
    result = RunResult(exp, "quick", 3, "local", "?", tmp_path, "test")
    Runner(exp, healthy, result).run()
    v = result.variants[0]
    ix = build(load(v.history))
    checked = check_index(ix)
    assert checked["anomalies"]["lost"] == 0 and sum(checked["anomalies"].values()) == 0, checked["examples"]
    assert checked["undrained"] == [], "the drain reached the end of every partition"
    assert {d for d in ix.drained} == {(v.topic, 0), (v.topic, 1)}
    sends = list(ix.sends.values())
    assert len(sends) >= 20 * 300 * 0.8 and all(s.status in ("ok", "unknown", "fail") for s in sends)
    assert {r.reader for r in ix.reads if r.group} == {"v0g0c0", "v0g0c1"}, "both group members consumed"
    assert any(type(e).__name__ == "Assign" for e in ix.rebalances)
    kill = next(f for f in ix.faults if f.name == "kill" and f.phase == "start")
    window = measure.unavailability(ix)["after_faults"][0]
    assert window["t"] == kill.t
    worst = max(window["per_partition_s"].values())
    assert 1.0 < worst < 30, f"the killed leader's partition waited {worst} s for a new leader"
    assert v.measurements["unavailability_s"] == worst


TXN_SPEC = {
    "id": "txn-check",
    "question": "Do transactional writes reach read_committed readers only when committed?",
    "topics": [{"name": "x", "partitions": 2, "replication_factor": 3, "config": {"min.insync.replicas": 2}}],
    "workload": {
        "topic": "x",
        "producers": 2,
        "rate": 200,
        "txn_size": 5,
        "abort_every": 3,
        "consumers": {"groups": 1, "members": 1},
    },
    "variants": [{"name": "transactional", "producer": {"transactional.id": "kchaos-txn", "acks": "all"}}],
    "quick": {"steady": 6, "fault": 0, "recovery": 0},
}


def test_transactions_are_recorded_and_aborted_ones_stay_invisible(healthy, tmp_path: Path):
    exp = Experiment.model_validate(TXN_SPEC)
    result = RunResult(exp, "quick", 5, "local", "?", tmp_path, "test")
    Runner(exp, healthy, result).run()
    ix = build(load(result.variants[0].history))
    checked = check_index(ix)
    assert sum(checked["anomalies"].values()) == 0, checked["examples"]
    outcomes = list(ix.txns.values())
    assert outcomes.count("commit") >= 10 and outcomes.count("abort") >= 4, outcomes
    aborted = {s.id for s in ix.sends.values() if s.txn and ix.txns.get(s.txn) == "abort"}
    committed_readers = {r.id for r in ix.reads if r.committed_only}
    uncommitted_drain = {r.id for r in ix.reads if not r.committed_only}
    assert aborted and not aborted & committed_readers, "read_committed never sees an aborted record"
    assert aborted & uncommitted_drain, "read_uncommitted does: the records are in the log"
    assert {(r.topic, r.partition) for r in ix.reads if r.group is None} == set(ix.drained)
