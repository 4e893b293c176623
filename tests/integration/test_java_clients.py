"""Kafka's own Java clients as workload roles (tests/integration/data/java-clients.yaml):
a VerifiableProducer beside a Python producer and a VerifiableConsumer beside a Python
consumer in one group, through a leader kill and a SIGKILL of the Java member. Their
JSON lines become history events; one checker judges both clients. The run starts on a
busy machine (one CPU-bound process beside it, as ``bench/repeat.py --load``), so the
JVMs start slowly: the run's clock waits for the Java producer's first line, and the
producer writes before the first fault."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

from kchaos.session import execute

DATA = Path(__file__).parent / "data" / "java-clients.yaml"


def _spin(seconds: float) -> None:
    """One core busy with arithmetic, bounded in time."""
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        x = (x * 31 + 7) % 1_000_003


def test_java_and_python_clients_side_by_side(healthy, tmp_path):
    load = multiprocessing.get_context("spawn").Process(target=_spin, args=(120.0,), daemon=True)
    load.start()
    try:
        result = execute(str(DATA), "quick", seed=7, report_dir=tmp_path, cluster=healthy)
    finally:
        load.terminate()
        load.join(5)
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

    # Readiness: the JVM's first line came before the run's clock started, so the Java
    # producer wrote through the steady phase, before the leader kill (its first fault).
    assert not any(e["op"] == "client" and e["event"] == "not-ready" for e in events)
    first_fault = min(e["t"] for e in events if e["op"] == "fault" and e["phase"] == "start")
    early = [e for e in java_sends if e["status"] == "ok" and e["t1"] < first_fault]
    assert len(early) >= 100, f"the Java producer wrote {len(early)} records before the first fault"

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
