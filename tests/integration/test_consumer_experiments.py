"""The consumer-mechanics experiments (questions 3.1-3.5), quick mode, on the real cluster.
Each test asserts on the run's summary.json (and, where the question is about order, on
its history): the contrast the experiment exists to show."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kchaos.report.sequence import LINE
from kchaos.session import execute


def run(cluster, exp_id: str, tmp_path: Path) -> tuple[dict, Path]:
    result = execute(exp_id, "quick", seed=7, report_dir=tmp_path, cluster=cluster)
    summary = json.loads((result.run_dir / "summary.json").read_text())
    return summary, result.run_dir


def variant(summary: dict, name: str) -> dict:
    return next(v for v in summary["variants"] if v["name"] == name)


def events(run_dir: Path, v: dict) -> list[dict]:
    return [json.loads(line) for line in (run_dir / v["history"]).read_text().splitlines()]


def cited(run_dir: Path, names: list[str]) -> None:
    """The answer paragraph quotes this run's numbers (a claim's values, ``name@variant = N``)."""
    answer = (run_dir / "report.md").read_text().split("## Answer", 1)[1].split("##", 1)[0]
    for name in names:
        assert re.search(re.escape(name) + r" = [0-9.]+", answer), (name, answer)


def test_rebalance_protocols_eager_revokes_everything_incremental_ones_only_what_moves(healthy, tmp_path):
    s, run_dir = run(healthy, "rebalance-protocol", tmp_path)
    assert s["verdict"] == "PASS", [v["expectations"] for v in s["variants"]]
    join = {v["name"]: v["measurements"]["rebalance"]["join"] for v in s["variants"]}
    eager = join["eager (range)"]
    for name in ("cooperative-sticky", "consumer (KIP-848)"):
        assert join[name]["revoked"] < eager["revoked"], join
    for m in join.values():
        assert m["pause_max_s"] is not None and m["duration_s"] is not None and m["detect_s"] is not None
    for v in s["variants"]:
        assert v["measurements"]["rebalance"]["leave"]["others"] >= 1, "the others noticed the graceful leave"
    cited(run_dir, ["rebalance.join.revoked@eager", "rebalance.join.revoked@coop"])


def test_rebalance_triggers_each_noticed_when_its_mechanism_says(healthy, tmp_path):
    s, run_dir = run(healthy, "rebalance-triggers", tmp_path)
    v = s["variants"][0]
    assert s["verdict"] == "PASS", v["expectations"]
    r = v["measurements"]["rebalance"]
    assert r["crash"]["detect_s"] >= 4.5, "a killed member is noticed at its session timeout (6 s)"
    assert r["hang"]["detect_s"] >= 7.5, "a hung member only at max.poll.interval.ms (9 s)"
    assert r["hang"]["detect_s"] > r["crash"]["detect_s"] > r["leave"]["detect_s"]
    assert r["static-kill"]["others"] == 0 and r["static-restart"]["others"] == 0
    # The static member's quick restart, seen by the broker: no generation change.
    evs = events(run_dir, v)
    kill = next(e for e in evs if e["op"] == "fault" and (e.get("args") or {}).get("as") == "static-kill")
    crash = next(e for e in evs if e["op"] == "fault" and (e.get("args") or {}).get("as") == "crash")
    states = [e["state"] for e in evs if e["op"] == "group" and kill["t"] <= e["t"] < crash["t"]]
    assert all(state == "stable" for state in states), states
    others = [
        e
        for e in evs
        if e["op"] in ("assign", "revoke", "lost")
        and kill["t"] <= e["t"] < crash["t"]
        and e["reader"] != kill["target"]
    ]
    assert others == []
    cited(run_dir, ["rebalance.crash.detect_s", "rebalance.hang.detect_s"])


def test_rebalance_steps_are_drawn_from_the_history(healthy, tmp_path):
    s, run_dir = run(healthy, "rebalance-steps", tmp_path)
    assert s["verdict"] == "PASS", s["variants"][0]["expectations"]
    text = (run_dir / "report.md").read_text()
    blocks = re.findall(r"```mermaid\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    lines = blocks[0].rstrip("\n").splitlines()
    assert lines[0] == "sequenceDiagram" and all(LINE.match(line) for line in lines), lines
    body = "\n".join(lines)
    for step in ("join", "revoke ", "assign ", "commit p", "first record p", "as coordinator"):
        assert step in body, step
    assert re.search(r"Note over P\d+: \+[0-9.]+ s group [a-z_]+", body), "the broker's view of the group"
    cited(run_dir, ["rebalance.join.duration_s"])


def test_offset_commit_auto_store_at_poll_loses_store_after_processing_redelivers(healthy, tmp_path):
    s, run_dir = run(healthy, "offset-commit", tmp_path)
    assert s["verdict"] == "PASS", [v["expectations"] for v in s["variants"]]
    at_poll = variant(s, "auto-commit, offsets stored at poll")
    after = variant(s, "auto-commit, offsets stored after processing")
    assert at_poll["anomalies"]["skipped"] >= 1
    assert after["anomalies"]["skipped"] == 0 and after["measurements"]["rebalance"]["crash"]["redelivered"] >= 1
    assert after["measurements"]["committed_not_next"] == 0
    # The group coordinator was killed and commits succeeded after it came back.
    evs = events(run_dir, after)
    kill = next(e for e in evs if e["op"] == "fault" and e["name"] == "kill" and e["phase"] == "start")
    back = next(e for e in evs if e["op"] == "fault" and e["name"] == "kill" and e["phase"] == "end")
    assert any(e["op"] == "commit" and e["status"] == "ok" and e["t"] < kill["t"] for e in evs)
    assert any(e["op"] == "commit" and e["status"] == "ok" and e["t"] > back["t"] for e in evs)
    cited(run_dir, ["rebalance.crash.redelivered@store", "committed_not_next@store"])


def test_reprocessing_per_cause_and_the_commit_that_removes_it(healthy, tmp_path):
    s, run_dir = run(healthy, "reprocessing", tmp_path)
    assert s["verdict"] == "PASS", [v["expectations"] for v in s["variants"]]
    plain = variant(s, "commit every 10 batches")["measurements"]["rebalance"]
    on_revoke = variant(s, "commit every 10 batches and on revoke")["measurements"]["rebalance"]
    assert plain["join"]["redelivered"] >= 1 and on_revoke["join"]["redelivered"] == 0
    assert plain["crash"]["redelivered"] >= 1 and plain["slow"]["redelivered"] >= 1
    assert variant(s, "commit before processing")["anomalies"]["skipped"] >= 1
    cited(run_dir, ["rebalance.join.redelivered@plain"])
