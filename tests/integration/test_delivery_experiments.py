"""The delivery-semantics experiments (4.1-4.5), quick mode, on the real cluster. Each
test asserts on the run's summary.json: the verdict, and the contrast the experiment
exists to show."""

from __future__ import annotations

import json

from tests.integration.test_client_processes import client_processes
from tests.integration.test_experiments import run, variant, zero

#: Record-level kinds that must stay at zero in every variant (the pipeline-level
#: contrasts are measurements; at-most-once's skipped records and broken exactly-once
#: are the point of its variant).
RECORD_KINDS = ["lost", "duplicate", "reordered", "phantom", "failed-visible", "aborted-read", "uncommitted-read"]


def test_delivery_semantics_at_most_once_loses_at_least_once_duplicates_exactly_once_neither(healthy, tmp_path):
    s = run(healthy, "delivery-semantics", tmp_path)
    assert s["verdict"] == "PASS", s
    most = variant(s, "at-most-once (commit, then output)")["measurements"]
    least = variant(s, "at-least-once (output, then commit)")["measurements"]
    once = variant(s, "exactly-once (one transaction)")
    assert most["pipeline_lost"] >= 1 and most["pipeline_duplicated"] == 0
    assert least["pipeline_duplicated"] >= 1 and least["pipeline_lost"] == 0
    m = once["measurements"]
    assert m["pipeline_lost"] == 0 and m["pipeline_duplicated"] == 0 and m["pipeline_redelivered"] >= 1
    zero(once)
    for v in s["variants"]:
        zero(v, RECORD_KINDS)
        assert v["measurements"]["pipeline_kills_at_point"] == 1
    check_killed_worker(s, next(tmp_path.glob("*-delivery-semantics")), healthy.name)


def check_killed_worker(s: dict, run_dir, cluster_name: str) -> None:
    """After the run no pipeline process of the cluster is left; the killed worker's lines
    up to the kill (its crash point, the outputs it had processed) are in the history and
    the checker counted them."""
    assert client_processes(cluster_name) == [], "a pipeline worker outlived the run"
    v = variant(s, "exactly-once (one transaction)")
    events = [json.loads(line) for line in (run_dir / v["history"]).read_text().splitlines()]
    kill = next(e for e in events if e["op"] == "fault" and e["name"] == "kill-client" and e["phase"] == "start")
    crash = next(e for e in events if e["op"] == "client" and e["event"] == "crash-point")
    assert crash["producer"] == kill["target"] and crash["t"] <= kill["t"] and kill["args"]["reached"]
    before = [e for e in events if e["op"] == "process" and e["reader"] == kill["target"] and e["t"] <= kill["t"]]
    assert before and all(e["output"] for e in before)
    assert v["measurements"]["pipeline_inputs"] >= len({e["id"] for e in before})


def test_exactly_once_scope_covers_kafka_not_the_side_effect(healthy, tmp_path):
    s = run(healthy, "exactly-once-scope", tmp_path)
    assert s["verdict"] == "PASS", s
    blind = variant(s, "side effect written blindly")["measurements"]
    keyed = variant(s, "side effect keyed by input id (idempotent)")["measurements"]
    assert blind["effects_duplicated"] >= 1 and blind["pipeline_duplicated"] == 0
    assert keyed["effects_duplicated"] == 0 and keyed["pipeline_redelivered"] >= 1
    for v in s["variants"]:
        zero(v)
        assert v["measurements"]["pipeline_lost"] == 0


def test_idempotent_producer_retries_duplicate_only_without_idempotence(healthy, tmp_path):
    s = run(healthy, "idempotent-producer", tmp_path)
    assert s["verdict"] == "PASS", s
    off = variant(s, "idempotence off, retries on, 5 in flight")
    on = variant(s, "idempotence on")
    assert off["anomalies"]["duplicate"] >= 1 and off["anomalies"]["lost"] == 0
    assert off["measurements"]["batch_producer_ids"] == 0
    zero(on)
    assert on["measurements"]["batch_producer_ids"] == 1 and on["measurements"]["sequenced_batches"] >= 1
    report = next(tmp_path.glob("*-idempotent-producer/report.md")).read_text()
    assert "producerId:" in report, "the decoded batch headers are in the report"


def test_eos_tradeoffs_small_transactions_cost_throughput_and_latency(healthy, tmp_path):
    s = run(healthy, "eos-tradeoffs", tmp_path)
    assert s["verdict"] == "PASS", s
    plain = variant(s, "at-least-once, idempotent producer")["measurements"]
    small = variant(s, "exactly-once, 20 records per transaction")["measurements"]
    large = variant(s, "exactly-once, 500 records per transaction")["measurements"]
    assert small["pipeline_throughput_per_s"] < plain["pipeline_throughput_per_s"]
    assert small["pipeline_throughput_per_s"] < large["pipeline_throughput_per_s"]
    assert small["pipeline_latency_ms"]["p50"] > large["pipeline_latency_ms"]["p50"]
    run_dir = next(tmp_path.glob("*-eos-tradeoffs"))
    assert (run_dir / "compare-pipeline_throughput_per_s.svg").exists()
    assert "## Compared" in (run_dir / "report.md").read_text()
