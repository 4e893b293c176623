"""Experiments on the docker backend, quick mode, with the same expectations as on the
local backend (the YAML files are the same); each asserts on its summary.json."""

from __future__ import annotations

import json
import subprocess
import sys

from kchaos.checker.anomalies import KINDS
from tests.integration.test_experiments import check_log_on_disk, check_transactions, run, variant, zero


def test_leader_failover_on_docker(dhealthy, tmp_path):
    """Exactly ``kchaos run leader-failover --quick`` with the default backend (auto): a
    daemon answers and the images are here, so it says docker and reuses the running
    docker cluster, which fits the experiment."""
    cli = subprocess.run(
        [sys.executable, "-m", "kchaos", "run", "leader-failover", "--quick", "--no-live"]
        + ["--report-dir", str(tmp_path), "--seed", "7"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "backend auto → docker (a daemon answers and the images are present)" in cli.stdout
    run_dir = next(tmp_path.glob("*-leader-failover"))
    s = json.loads((run_dir / "summary.json").read_text())
    assert s["verdict"] == "PASS", s
    assert "--backend docker" in s["command"]
    assert s["backend"] == "docker"
    v = variant(s, "acks=all, idempotent")
    zero(v, KINDS)
    m = v["measurements"]
    assert m["undrained"] == 0 and m["sends_ok"] > 1000
    assert 0 < m["unavailability_s"] <= 30
    assert m["leader_changes"] >= 1 and m["leader_epoch_changes"] >= 1


def test_network_partition_on_docker(dhealthy, tmp_path):
    s = run(dhealthy, "network-partition", tmp_path)
    assert s["verdict"] == "PASS", s
    assert s["backend"] == "docker"
    assert variant(s, "acks=1")["anomalies"]["lost"] >= 1, "zombie writes acknowledged by the isolated leader"
    zero(variant(s, "acks=all, idempotent"))


def test_transactions_on_docker(dhealthy, tmp_path):
    s = run(dhealthy, "transactions", tmp_path)
    assert s["backend"] == "docker"
    check_transactions(s, next(tmp_path.glob("*-transactions")))


def test_log_on_disk_reads_segments_inside_a_container(dhealthy, tmp_path):
    s = run(dhealthy, "log-on-disk", tmp_path)
    assert s["backend"] == "docker"
    looks = check_log_on_disk(s, next(tmp_path.glob("*-log-on-disk")))
    assert all(look["folder"].startswith("/var/lib/kafka/data/") for look in looks), "paths inside the container"
