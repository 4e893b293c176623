"""Workload clients in processes of their own, on the real cluster: a group consumer is
SIGKILLed mid-batch and started again (tests/integration/data/consumer-crash.yaml).

- Its partitions move to the other member only when its session times out (measured
  from the history: kill -> the other member's assign), since a killed process sends no
  LeaveGroup.
- The history holds every record the killed process had recorded before the kill, and
  no client process is left afterwards.
- Committing after processing (at-least-once): ``kchaos check`` passes, the records the
  killed member had in hand are re-delivered, and that is counted as information.
- Committing before processing (at-most-once): the records it had committed but not
  processed are never processed by anyone, and ``kchaos check`` says ``skipped``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kchaos import procs
from kchaos.session import execute

DATA = Path(__file__).parent / "data" / "consumer-crash.yaml"
SESSION_TIMEOUT_S = 6.0


def run(cluster, tmp_path: Path, commit: str) -> tuple[dict, Path]:
    path = tmp_path / "consumer-crash.yaml"
    path.write_text(DATA.read_text().replace("commit: sync", f"commit: {commit}"))
    result = execute(str(path), "quick", seed=7, report_dir=tmp_path / "reports", cluster=cluster)
    summary = json.loads((result.run_dir / "summary.json").read_text())
    return summary, result.run_dir / summary["variants"][0]["history"]


def check(history: Path) -> tuple[int, dict]:
    out = subprocess.run(
        [sys.executable, "-m", "kchaos", "check", str(history), "--json"], capture_output=True, text=True
    )
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, json.loads(out.stdout)


def client_processes(cluster_name: str) -> list[int]:
    """Child clients (multiprocessing spawn) still marked with this cluster."""
    left = []
    for pid in procs.find_marked(cluster_name):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            left.append(pid)
    return left


def test_sigkilled_consumer_at_least_once(healthy, tmp_path):
    summary, history = run(healthy, tmp_path, "sync")
    v = summary["variants"][0]
    assert summary["verdict"] == "PASS", v["expectations"]
    takeover = v["measurements"]["client_takeover_s"]
    assert SESSION_TIMEOUT_S - 1.5 <= takeover <= SESSION_TIMEOUT_S + 10, takeover

    events = [json.loads(line) for line in history.read_text().splitlines()]
    kill = next(e for e in events if e["op"] == "fault" and e["name"] == "kill-client" and e["phase"] == "start")
    reads_before = sum(1 for e in events if e["op"] == "read" and e["reader"] == kill["target"] and e["t"] <= kill["t"])
    assert kill["args"]["delivered"] > 0 and reads_before >= kill["args"]["delivered"]
    assert kill["args"]["mid_batch"] is True and kill["args"]["in_hand"] > 0, kill["args"]
    assert any(e["op"] == "fault" and e["name"] == "kill-client" and e["phase"] == "end" for e in events)
    assert client_processes(healthy.name) == []

    code, result = check(history)
    assert code == 0, {k: n for k, n in result["anomalies"].items() if n}
    assert result["info"]["redelivered"] > 0, "the killed member's batch in hand is delivered again"
    assert "kill-client" in result["info"]["redelivered_by_cause"]


def test_commit_before_processing_loses_what_the_killed_member_had_in_hand(healthy, tmp_path):
    summary, history = run(healthy, tmp_path, "before")
    code, result = check(history)
    assert code == 1 and result["anomalies"]["skipped"] >= 1, result["anomalies"]
    assert all(e["why"] == "committed past" for e in result["examples"]["skipped"])
    assert client_processes(healthy.name) == []
