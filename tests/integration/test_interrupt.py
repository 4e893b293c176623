"""Ctrl-C during a run: faults healed, workload stopped, its own cluster torn down,
a partial report marked interrupted, a non-zero exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from kchaos import procs
from kchaos.cluster import state as statefile
from kchaos.session import RUN_CLUSTER
from tests.integration.conftest import as_a_terminal_would


def test_sigint_mid_fault_heals_and_cleans_up(cluster, tmp_path):
    # A broker config the shared test cluster lacks, so the run brings up (and must tear
    # down) a cluster of its own.
    exp = tmp_path / "mine.yaml"
    exp.write_text("""
id: interrupt-me
question: "Does Ctrl-C heal everything?"
cluster: {brokers: 3, broker_config: {replica.lag.time.max.ms: 4000}}
topics: [{name: t, partitions: 1, replication_factor: 3}]
workload: {topic: t, rate: 100}
faults:
  - {at: 0, do: isolate, target: "leader-of:t:0", args: {keep_clients: true}}
  - {at: 0, do: pause, target: "follower-of:t:0:0"}
variants: [{name: only, producer: {acks: all}}]
quick: {steady: 2, fault: 60, recovery: 2}
""")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kchaos",
            "run",
            str(exp),
            "--quick",
            "--no-live",
            "--report-dir",
            str(tmp_path / "reports"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=as_a_terminal_would,
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"},  # the default backend: no daemon
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        st = statefile.load(RUN_CLUSTER) or {}
        if st.get("faults", {}).get("isolated"):
            break
        time.sleep(0.2)
    assert (statefile.load(RUN_CLUSTER) or {}).get("faults", {}).get("isolated"), "the fault never started"
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode not in (0, None), out
    assert "interrupted" in out
    assert "backend auto → local (no Docker daemon answers)" in out
    assert procs.find_marked(RUN_CLUSTER) == [], "no Kafka or Toxiproxy process of the run is left"
    assert not statefile.cluster_dir(RUN_CLUSTER).exists()
    summary = json.loads(next((tmp_path / "reports").glob("*-interrupt-me/summary.json")).read_text())
    assert summary["interrupted"] is True and summary["verdict"] == "FAIL"


def test_sigint_on_a_reused_cluster_leaves_no_fault_active(healthy, tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kchaos",
            "run",
            "network-partition",
            "--quick",
            "--cluster",
            healthy.name,
            "--report-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=as_a_terminal_would,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (statefile.load(healthy.name) or {}).get("faults", {}).get("isolated"):
        time.sleep(0.2)
    assert (statefile.load(healthy.name) or {}).get("faults", {}).get("isolated"), "the run did not use this cluster"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode not in (0, None), out
    proxies = healthy.toxiproxy.proxies()
    assert all(p["enabled"] and not p["toxics"] for p in proxies.values()), "every proxy enabled, no toxic left"
    assert [healthy.node_state(n.id) for n in healthy.spec.nodes] == ["up", "up", "up"]
    assert procs.find_marked(healthy.name), "the shared cluster itself keeps running"
