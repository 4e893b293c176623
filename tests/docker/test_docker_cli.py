"""The CLI on the docker backend: up/status/down leave nothing labelled behind, a
harness killed mid-up is reaped by labels, and missing pieces get one line (exit 2)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time

import pytest

from kchaos.cluster import docker as docker_cluster
from kchaos.cluster import state as statefile
from kchaos.cluster.docker import LABEL, images
from tests.docker.conftest import require_docker
from tests.integration.test_cli_cluster import KCHAOS, _one_line_exit_2, run


@pytest.fixture(autouse=True)
def needs_docker():
    require_docker()


def labelled(name: str) -> dict[str, list[str]]:
    found = docker_cluster.labelled(images.docker_client(), f"{LABEL}={name}")
    return {kind: [obj["name"] for obj in objs] for kind, objs in found.items()}


NOTHING = {"containers": [], "networks": [], "volumes": []}


def test_up_status_down_leaves_nothing():
    name = "dupdown"
    run("down", "--cluster", name)
    up = run("up", "--backend", "docker", "--cluster", name, "--base-port", "24000", timeout=180)
    assert up.returncode == 0, up.stderr
    seconds = float(re.search(r"writable with acks=all after\s+([\d.]+) s", up.stdout).group(1))
    assert seconds <= 45
    st = json.loads(run("status", "--json", "--cluster", name).stdout)
    assert st["backend"] == "docker" and [b["state"] for b in st["brokers"]] == ["up", "up", "up"]
    assert len(labelled(name)["containers"]) == 4
    down = run("down", "--cluster", name)
    assert down.returncode == 0, down.stderr
    assert labelled(name) == NOTHING
    assert not statefile.cluster_dir(name).exists()


def test_sigkill_mid_up_is_reaped_by_labels():
    name = "dcrash"
    run("down", "--cluster", name)
    harness = subprocess.Popen(
        [*KCHAOS, "up", "--backend", "docker", "--cluster", name, "--base-port", "23000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not labelled(name)["containers"]:
        time.sleep(0.05)
    harness.send_signal(signal.SIGKILL)
    harness.wait()
    assert labelled(name)["containers"], "the crashed harness left containers behind (down must reap them)"
    statefile.state_path(name).unlink(missing_ok=True)  # even without its state file
    assert run("down", "--all").returncode == 0
    assert labelled(name) == NOTHING


def test_missing_image_says_what_to_run():
    result = run("up", "--backend", "docker", "--cluster", "noimg", "--kafka-version", "3.9.1")
    _one_line_exit_2(result, "kchaos images build --offline --kafka-version 3.9.1")
    result = run("up", "--backend", "docker", "--cluster", "noimg", "--kafka-image", "kchaos/no-such-image:1")
    _one_line_exit_2(result, "kchaos/no-such-image:1 is not here")
    assert labelled("noimg") == NOTHING


def test_no_daemon_says_what_to_run():
    result = run("up", "--backend", "docker", "--cluster", "nodaemon", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    _one_line_exit_2(result, "no Docker daemon answers")
    result = run("run", "leader-failover", "--backend", "docker", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    _one_line_exit_2(result, "no Docker daemon answers")
