"""The schema-evolution experiment's inputs and measurements, without a cluster: schema
files that are missing or not Avro and an unreachable registry are one line each (exit
2), and the per-reader measurements on a hand-built history."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kchaos import experiment as experiments
from kchaos.checker import build
from kchaos.checker.patterns import schema_measurements
from kchaos.events import Client, Meta, Process, Send

SHIPPED = experiments.EXPERIMENTS_DIR / "schema-evolution.yaml"


def _with(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "schema-evolution.yaml"
    text = SHIPPED.read_text()
    assert old in text, f"{old!r} is not in the shipped experiment: the test would run the real one"
    path.write_text(text.replace(old, new))
    return path


def _kchaos(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kchaos", *args], capture_output=True, text=True, timeout=60)


def test_the_shipped_experiment_loads():
    exp = experiments.load(SHIPPED)
    assert [experiments.schema_spec(exp, v).compatibility for v in exp.variants] == ["NONE", "BACKWARD", "FULL"]


def test_an_unknown_schema_file_is_one_line_exit_2(tmp_path):
    path = _with(tmp_path, "order-v3-remove-no-default.avsc", "order-v9.avsc")
    _, errors = experiments.check(path)
    assert len(errors) == 1 and "order-v9.avsc" in errors[0] and "not found" in errors[0], errors
    out = _kchaos("run", str(path))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "order-v9.avsc" in out.stderr


def test_an_invalid_avro_schema_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.avsc"
    bad.write_text('{"type": "record", "name": "Order", "fields": [{"name": "amount", "type": "nosuch"}]}')
    path = _with(tmp_path, "order-v2-add-default.avsc}", f"{bad}}}")
    out = _kchaos("run", str(path))
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.avsc" in lines[0] and "nosuch" in lines[0], lines


def test_an_unreachable_registry_is_one_line_exit_2():
    out = _kchaos("run", "schema-evolution", "--schema-registry", "http://127.0.0.1:9")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        next(line for line in out.stderr.splitlines() if "unreachable" in line)
    ], out.stderr


def test_reader_measurements_name_the_first_version_that_broke_them():
    group = "kchaos-v0-reader-old-topic"
    events = [
        Meta(t=0.0, groups={group: "reader:old", "kchaos-v0-reader-new-topic": "reader:new", "app": "g0"}),
        Client("p", "schema-registered", 1.0, detail="v1"),
        Send("a", "p", 0, "k", "t", "ok", 1.5, 1.6, 0, 0),
        Client("p", "schema-refused", 2.0, detail="v2: incompatible"),
        Client("p", "schema-registered", 3.0, detail="v3"),
        Send("b", "p", 1, "k", "t", "ok", 3.5, 3.6, 0, 1),
        Send("c", "p", 2, "k", "t", "ok", 3.7, 3.8, 0, 2),
        Process("r", group, "t", 0, 0, "a", "ok", 4.0),
        Process("r", group, "t", 0, 1, "b", "dead-lettered", 4.1),
        Process("r", group, "t", 0, 2, "c", "duplicate", 4.2),  # a re-delivery: not counted
        Process("r", "kchaos-v0-reader-new-topic", "t", 0, 0, "a", "ok", 4.0),
        Process("c", "app", "t", 0, 0, "a", "ok", 4.0),  # not a reader group: not counted
    ]
    m = schema_measurements(build(events))
    assert (m["schema_versions_registered"], m["schema_versions_refused"]) == (2, 1)
    assert m["decoded"] == {"old": 1, "new": 1} and m["decode_failed"] == {"old": 1, "new": 0}
    assert m["first_broken_version"] == {"old": 3, "new": 0}, "b was written by the third version deployed"


def test_no_schema_producer_no_measurements():
    assert schema_measurements(build([Send("a", "p", 0, "k", "t", "ok", 1.0, 1.1, 0, 0)])) == {}
