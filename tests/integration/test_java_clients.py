"""Kafka's own Java clients as workload roles (tests/integration/data/java-clients.yaml):
a VerifiableProducer beside a Python producer and a VerifiableConsumer beside a Python
consumer in one group, through a leader kill and a SIGKILL of the Java member. Their
JSON lines become history events; one checker judges both clients."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kchaos.session import execute

DATA = Path(__file__).parent / "data" / "java-clients.yaml"


def test_java_and_python_clients_side_by_side(healthy, tmp_path):
    result = execute(str(DATA), "quick", seed=7, report_dir=tmp_path, cluster=healthy)
    summary = json.loads((result.run_dir / "summary.json").read_text())
    v = summary["variants"][0]
    assert summary["verdict"] == "PASS", (v["anomalies"], v["expectations"])
    events = [json.loads(line) for line in (result.run_dir / v["history"]).read_text().splitlines()]

    java_sends = [e for e in events if e["op"] == "send" and e["producer"] == "v0j0"]
    python_sends = [e for e in events if e["op"] == "send" and e["producer"] == "v0p0"]
    assert len(java_sends) > 500 and len(python_sends) > 500
    assert all(e["t0_known"] is False for e in java_sends) and all("t0_known" not in e for e in python_sends)
    assert sum(e["status"] == "ok" for e in java_sends) > 500
    assert all(e["id"].startswith("1000.") for e in java_sends), "VerifiableProducer's values are the ids"

    kill = next(e for e in events if e["op"] == "fault" and e["name"] == "kill-client" and e["phase"] == "start")
    restarted = next(e for e in events if e["op"] == "fault" and e["name"] == "kill-client" and e["phase"] == "end")
    java_reads = [e for e in events if e["op"] == "read" and e["reader"] == "v0g0j0"]
    assert kill["target"] == "v0g0j0" and any(e["t"] < kill["t"] for e in java_reads), (
        "the Java member read before its kill"
    )
    assert any(e["op"] == "assign" and e["reader"] == "v0g0j0" and e["t"] > restarted["t"] for e in events), (
        "the restarted JVM joined the group again"
    )
    assert {e["isolation"] for e in java_reads} == {"read_committed"}

    out = subprocess.run(
        [sys.executable, "-m", "kchaos", "check", str(result.run_dir / v["history"]), "--json"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-2000:]
