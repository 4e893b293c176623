"""The CLI around the cluster: clean teardown after a crash, and one-line errors (exit 2)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from kchaos import procs
from kchaos.cluster import state as statefile
from tests.conftest import require
from tests.integration.conftest import _installed

KCHAOS = [sys.executable, "-m", "kchaos"]


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``kchaos ARGS``; ``up`` and ``run`` on the local backend unless ARGS name one
    (auto would pick docker where a daemon runs, as in CI)."""
    local = ["--backend", "local"] if args and args[0] in ("up", "run") and "--backend" not in args else []
    return subprocess.run(
        [*KCHAOS, *args, *local], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


@pytest.fixture(autouse=True)
def needs_install():
    require(_installed(), "Kafka, Toxiproxy or Java is not installed")


def test_sigkill_mid_up_is_cleaned_by_down():
    name = "crashtest"
    run("down", "--cluster", name)
    harness = subprocess.Popen(
        [*KCHAOS, "up", "--cluster", name, "--base-port", "31000", "--backend", "local"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = statefile.load(name) or {}
        if any(k.startswith("node-") for k in st.get("pids", {})):
            break
        time.sleep(0.05)
    harness.send_signal(signal.SIGKILL)
    harness.wait()
    assert procs.find_marked(name), "the crashed harness left processes behind (this is what down must reap)"
    result = run("down", "--cluster", name)
    assert result.returncode == 0, result.stderr
    assert procs.find_marked(name) == []
    assert not statefile.cluster_dir(name).exists()


def test_up_status_down_leaves_nothing():
    name = "updown"
    run("down", "--cluster", name)
    up = run("up", "--cluster", name, "--base-port", "32000")
    assert up.returncode == 0, up.stderr
    assert "writable with acks=all after" in up.stdout
    st = json.loads(run("status", "--json", "--cluster", name).stdout)
    assert [b["state"] for b in st["brokers"]] == ["up", "up", "up"]
    assert sorted(st["topics"]["kchaos-ready"][0]["isr"]) == [1, 2, 3]
    down = run("down", "--cluster", name)
    assert down.returncode == 0
    assert procs.find_marked(name) == []
    assert not statefile.cluster_dir(name).exists()


# Test clusters use port blocks below 32768, Linux's ephemeral range, so that no
# client connection's local port can take a port a cluster is about to bind.


def test_dedicated_controllers():
    name = "dedicated"
    run("down", "--cluster", name)
    up = run("up", "--cluster", name, "--controllers", "dedicated", "--base-port", "28000", timeout=180)
    try:
        assert up.returncode == 0, up.stderr
        st = json.loads(run("status", "--json", "--cluster", name).stdout)
        roles = {b["id"]: b["roles"] for b in st["brokers"]}
        assert roles == {1: "broker", 2: "broker", 3: "broker", 101: "controller", 102: "controller", 103: "controller"}
        active = [b["id"] for b in st["brokers"] if b["controller"]]
        assert len(active) == 1 and active[0] in (101, 102, 103)
        assert sorted(st["topics"]["kchaos-ready"][0]["isr"]) == [1, 2, 3]
    finally:
        run("down", "--cluster", name)
    assert procs.find_marked(name) == []


def _one_line_exit_2(result: subprocess.CompletedProcess, words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert words in lines[0], lines[0]


def test_ports_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 27000))
        s.listen()
        _one_line_exit_2(run("up", "--cluster", "ports", "--base-port", "27000"), "in use")


def test_no_java():
    _one_line_exit_2(run("up", "--cluster", "nojava", env={"JAVA_HOME": "/nonexistent"}), "no Java")


def test_kafka_not_installed(tmp_path):
    _one_line_exit_2(run("up", "--cluster", "nokafka", env={"KCHAOS_HOME": str(tmp_path)}), "kchaos install")


def test_brokers_zero():
    _one_line_exit_2(run("up", "--brokers", "0", "--cluster", "zero"), "--brokers=0")


def test_unknown_node_id(cluster):
    _one_line_exit_2(run("fault", "kill", "7", "--cluster", cluster.name), "unknown node id 7")


def test_no_cluster_running():
    _one_line_exit_2(run("status", "--cluster", "nosuchcluster"), "kchaos up")
