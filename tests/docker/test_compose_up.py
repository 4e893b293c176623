"""The generated compose files work by hand: ``docker compose up`` gives a writable
cluster behind Toxiproxy with every proxy of the topology, and ``down -v`` removes it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

from kchaos.cluster.docker import images
from kchaos.cluster.docker.compose import TOPOLOGIES, topology
from kchaos.cluster.readiness import wait_writable
from tests.conftest import require
from tests.docker.conftest import require_docker
from tests.docker.test_docker_cli import NOTHING, labelled

ROOT = Path(__file__).resolve().parents[2] / "compose"


def compose_command() -> list[str] | None:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_compose_up_by_hand_gives_a_writable_cluster():
    require_docker()
    cmd = compose_command()
    require(
        cmd is not None, "neither `docker compose` nor docker-compose is installed (apt-get install docker-compose)"
    )
    spec = TOPOLOGIES["combined"]
    chosen = images.resolve(spec.kafka_version)
    env = {**os.environ, "KCHAOS_KAFKA_IMAGE": chosen.kafka, "KCHAOS_TOXIPROXY_IMAGE": chosen.toxiproxy}
    base = [*cmd, "-p", spec.name, "-f", str(ROOT / "combined" / "compose.yaml")]
    subprocess.run([*base, "down", "-v"], capture_output=True, env=env)
    try:
        up = subprocess.run([*base, "up", "-d"], capture_output=True, text=True, env=env, timeout=180)
        assert up.returncode == 0, up.stderr
        topo = topology(spec)
        wait_writable(topo.bootstrap(), spec, timeout=90)
        with urllib.request.urlopen(f"http://127.0.0.1:{topo.toxiproxy_port}/proxies", timeout=10) as resp:
            proxies = json.load(resp)
        assert sorted(proxies) == sorted(lk.proxy.name for lk in topo.links())
    finally:
        subprocess.run([*base, "down", "-v"], capture_output=True, env=env, timeout=120)
    assert labelled(spec.name) == NOTHING
