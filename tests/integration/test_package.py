"""kchaos as a real package: the wheel built from the repository carries every package
and every experiment file, and, installed in a fresh virtual environment outside the
checkout, lists every experiment and runs leader-failover on the test cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from kchaos.experiment import catalog
from tests.integration.conftest import TEST_CLUSTER

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, (
        f"{' '.join(argv)} exited {done.returncode}: {done.stdout[-2000:]} {done.stderr[-2000:]}"
    )
    return done.stdout


def test_the_wheel_installed_outside_the_checkout_lists_and_runs(healthy, tmp_path):
    wheels = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(wheels)], tmp_path, 300)
    (wheel,) = wheels.glob("kchaos-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {str(p.relative_to(ROOT)) for p in (ROOT / "kchaos").rglob("__init__.py")}
    assert packages <= names, f"packages missing from the wheel: {sorted(packages - names)}"
    assert {f"kchaos/experiments/{p.name}" for p in catalog().values()} <= names

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, 120)
    _run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], tmp_path, 600)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    listed = json.loads(_run([str(venv / "bin" / "kchaos"), "list", "--json"], outside, 60, env))
    assert sorted(e["id"] for e in listed) == sorted(catalog())
    where = _run([str(venv / "bin" / "python"), "-c", "import kchaos; print(kchaos.__file__)"], outside, 60, env)
    assert str(venv) in where, where

    argv = [str(venv / "bin" / "kchaos"), "run", "leader-failover", "--quick", "--seed", "3"]
    argv += ["--cluster", TEST_CLUSTER, "--report-dir", str(outside / "reports"), "--no-live"]
    _run(argv, outside, 300, env)
    (summary,) = (outside / "reports").glob("*-leader-failover/summary.json")
    assert json.loads(summary.read_text())["verdict"] == "PASS"
