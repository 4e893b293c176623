"""compose/ is generated from the spec the docker backend uses: it must not drift."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kchaos.cluster.docker import node_command
from kchaos.cluster.docker.compose import TOPOLOGIES, render, topology

ROOT = Path(__file__).resolve().parents[2] / "compose"


def test_committed_compose_files_match_the_spec():
    for folder, spec in TOPOLOGIES.items():
        expected = render(spec)
        on_disk = {str(p.relative_to(ROOT / folder)): p.read_text() for p in (ROOT / folder).rglob("*") if p.is_file()}
        assert sorted(on_disk) == sorted(expected), f"compose/{folder}: files differ; run: kchaos compose"
        for rel, text in expected.items():
            assert on_disk[rel] == text, f"compose/{folder}/{rel} drifted from the spec; run: kchaos compose"


def test_compose_says_what_the_backend_does():
    spec = TOPOLOGIES["dedicated"]
    doc = yaml.safe_load(render(spec)["compose.yaml"])
    nodes = {k: v for k, v in doc["services"].items() if k.startswith("node-")}
    assert sorted(nodes) == sorted(f"node-{n.id}" for n in spec.nodes) and len(nodes) == 6
    for n in spec.nodes:
        svc = nodes[f"node-{n.id}"]
        assert svc["command"] == node_command(spec, n, svc["command"][2].split(" -t ")[1].split()[0])
        assert svc["networks"] == [f"net-{n.id}"] and doc["networks"][f"net-{n.id}"]["internal"] is True
    proxies = json.loads(render(spec)["toxiproxy.json"])
    assert [p["name"] for p in proxies] == [lk.proxy.name for lk in topology(spec).links()]
    assert all(p.startswith("127.0.0.1:") for p in doc["services"]["toxiproxy"]["ports"])
