"""The six replication experiments, quick mode, on the real cluster. Each test asserts on
the run's summary.json: the verdict, and the contrast the experiment exists to show."""

from __future__ import annotations

import json
from pathlib import Path

from kchaos.checker.anomalies import KINDS
from kchaos.profile import Profile
from kchaos.session import execute

SAFE_KINDS = [k for k in KINDS if k not in ("reprocessed",)]


def run(cluster, exp_id: str, tmp_path: Path, profile: Profile | None = None) -> dict:
    result = execute(exp_id, "quick", seed=7, report_dir=tmp_path, cluster=cluster, profile=profile)
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert (result.run_dir / "report.md").exists()
    for v in summary["variants"]:
        assert (result.run_dir / v["history"]).exists()
    svgs = list(result.run_dir.glob("*.svg"))
    assert svgs and all(p.read_text().startswith("<svg") and p.read_text().rstrip().endswith("</svg>") for p in svgs)
    return summary


def variant(summary: dict, name: str) -> dict:
    return next(v for v in summary["variants"] if v["name"] == name)


def zero(v: dict, kinds=SAFE_KINDS) -> None:
    assert {k: v["anomalies"][k] for k in kinds if v["anomalies"][k]} == {}, v["anomalies"]


def test_leader_failover(healthy, tmp_path):
    s = run(healthy, "leader-failover", tmp_path)
    assert s["verdict"] == "PASS", s
    v = variant(s, "acks=all, idempotent")
    zero(v, KINDS)
    m = v["measurements"]
    assert m["undrained"] == 0 and m["sends_ok"] > 1000
    assert 0 < m["unavailability_s"] <= 30, "the kill must stop the partition for a measurable window"
    assert m["leader_changes"] >= 1 and m["leader_epoch_changes"] >= 1
    assert s["kafka_version"] and s["backend"] == "local"
    run_dir = next(tmp_path.glob("*-leader-failover"))
    text = (run_dir / "report.md").read_text()
    assert "--seed 7" in text and "## Answer" in text and "Leader epochs seen" in text
    assert (tmp_path / "index.md").read_text().count(f"]({run_dir.name}/report.md)") == 1


def test_broker_failure(healthy, tmp_path):
    s = run(healthy, "broker-failure", tmp_path)
    assert s["verdict"] == "PASS", s
    v = s["variants"][0]
    zero(v)
    assert v["measurements"]["isr_min"] == 2 and v["measurements"]["isr_final"] == 3
    assert v["measurements"]["under_replicated_s"] > 0


def test_durability_acks1_loses_acks_all_does_not(healthy, tmp_path):
    """Run with a company profile that sets acks=1: every variant keeps its own acks (the
    contrast is acks), and the report says so; the profile's other key is applied."""
    ours = Profile(name="ours", producer={"acks": "1", "client.id": "ours-app"})
    s = run(healthy, "durability", tmp_path, ours)
    assert s["verdict"] == "PASS", s
    kept = {(o["key"], o["where"]) for o in s["profile"]["overridden"]}
    assert ("producer.acks", "acks=all, min.insync=2") in kept
    assert all(o["where"] in {v["name"] for v in s["variants"]} for o in s["profile"]["overridden"])
    assert variant(s, "acks=all, min.insync=2")["config"]["producer"]["acks"] == "all"
    assert variant(s, "acks=1")["config"]["producer"]["client.id"] == "ours-app"
    report = next(tmp_path.glob("*-durability/report.md")).read_text()
    assert (
        "Profile keys overridden" in report and "| `producer.acks` | `1` | `all` | acks=all, min.insync=2 |" in report
    )
    assert variant(s, "acks=1")["anomalies"]["lost"] >= 1
    safe = variant(s, "acks=all, min.insync=2")
    zero(safe)
    assert safe["measurements"]["sends_ok"] > 1000


def test_unclean_election(healthy, tmp_path):
    s = run(healthy, "unclean-election", tmp_path)
    assert s["verdict"] == "PASS", s
    off, on = variant(s, "unclean election off"), variant(s, "unclean election on")
    assert off["anomalies"]["lost"] == 0 and off["anomalies"]["inconsistent-offset"] == 0
    assert off["measurements"]["unavailability_s"] >= 5, "clean: the partition waits for its only in-sync replica"
    assert on["anomalies"]["lost"] >= 1 and on["anomalies"]["inconsistent-offset"] >= 1


def test_network_partition(healthy, tmp_path):
    s = run(healthy, "network-partition", tmp_path)
    assert s["verdict"] == "PASS", s
    assert variant(s, "acks=1")["anomalies"]["lost"] >= 1, "zombie writes acknowledged by the isolated leader"
    zero(variant(s, "acks=all, idempotent"))


def test_isr(healthy, tmp_path):
    s = run(healthy, "isr", tmp_path)
    assert s["verdict"] == "PASS", s
    fast = variant(s, "request.timeout.ms=2000, no retries")
    m = fast["measurements"]
    assert m["isr_min"] == 1 and m["isr_shrinks"] >= 2 and m["isr_final"] == 3
    assert m["failed_not_enough_replicas"] >= 1 and fast["anomalies"]["failed-visible"] == 0
    slow = variant(s, "request.timeout.ms=30000 (default)")
    assert slow["measurements"]["failed_not_enough_replicas"] == 0


def check_transactions(s: dict, run_dir: Path) -> None:
    """The contrast of ``transactions``: aborted data is in the log, read_committed never
    hands it out (also after a crash, a fenced zombie and a killed coordinator),
    read_uncommitted does."""
    assert s["verdict"] == "PASS", s
    committed = variant(s, "read_committed consumers")
    zero(committed)
    m = committed["measurements"]
    assert m["producer_crashes"] == 1 and m["zombies_fenced"] == 1
    assert m["aborted_in_log"] >= 1 and m["aborted_consumed"] == 0 and m["txn_committed"] >= 10
    assert variant(s, "read_uncommitted consumers")["measurements"]["aborted_consumed"] >= 1
    for v in s["variants"][:2]:
        events = [json.loads(line) for line in (run_dir / v["history"]).read_text().splitlines()]
        kills = [e for e in events if e["op"] == "fault" and e["name"] == "kill" and e["phase"] == "start"]
        assert len(kills) == 1, "the coordinator was killed in each variant"
    killed = variant(s, "SIGKILLed transactional process, no new instance")
    zero(killed)
    m = killed["measurements"]
    # transaction.timeout.ms is 8 s, counted from the transaction's start (its first write,
    # before the kill: a run on docker had it open 2.4 s at the kill): nothing past the open
    # transaction before the timeout from its first record, and the coordinator's abort
    # (checked every second) before the restart at 12 s after the kill. The experiment's
    # claims say the same as multiples of the timeout (0.95x, 1.5x).
    assert m["txn_abort_after_open_s"] >= 0.95 * 8, m["txn_abort_after_open_s"]
    assert m["txn_abort_after_kill_s"] < 1.5 * 8, m["txn_abort_after_kill_s"]
    assert m["pipeline_kills_at_point"] == 1 and m["pipeline_lost"] == 0 and m["pipeline_duplicated"] == 0


def test_transactions(healthy, tmp_path):
    s = run(healthy, "transactions", tmp_path)
    check_transactions(s, next(tmp_path.glob("*-transactions")))


def check_log_on_disk(s: dict, run_dir: Path) -> list[dict]:
    """Segments rolled, every kind of file decoded, retention deleted the oldest; returns
    the two looks (``segments`` events) for backend-specific checks."""
    assert s["verdict"] == "PASS", s
    v = s["variants"][0]
    zero(v)
    m = v["measurements"]
    assert m["segments_first"] >= 3 and m["segment_file_kinds"] == 4
    assert m["records_decoded"] >= 100 and m["index_entries"] >= 1 and m["timeindex_entries"] >= 1
    assert m["segments_deleted"] >= 1 and m["log_start_offset"] > 0
    assert v["info"]["removed_by_retention"] >= 1, "retention removed acknowledged records; they are not 'lost'"
    events = [json.loads(line) for line in (run_dir / v["history"]).read_text().splitlines()]
    looks = [e for e in events if e["op"] == "segments"]
    assert [e["label"] for e in looks] == ["before retention", "after retention"]
    assert "On disk, **before retention**" in (run_dir / "report.md").read_text()
    return looks


def test_log_on_disk(healthy, tmp_path):
    s = run(healthy, "log-on-disk", tmp_path)
    looks = check_log_on_disk(s, next(tmp_path.glob("*-log-on-disk")))
    assert looks[0]["folder"].startswith(str(healthy.data_dir(looks[0]["node"])))
