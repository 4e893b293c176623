"""The history format on disk and ``kchaos check``'s outputs and exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kchaos.checker import KINDS
from kchaos.errors import HistoryError
from kchaos.history import HistoryWriter, read_history
from tests.unit.histories import H

KCHAOS = [sys.executable, "-m", "kchaos"]


def write(path: Path, events) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def test_writer_lines_never_interleave_across_threads(tmp_path):
    path = tmp_path / "h.jsonl"
    writer = HistoryWriter(path)

    def burst(n: int) -> None:
        for i in range(2000):
            writer.write({"op": "fault", "name": "x" * 500, "target": f"{n}-{i}", "phase": "start", "t": writer.now()})

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    events = list(read_history(path))
    assert len(events) == 8000 and len({e["target"] for e in events}) == 8000


@pytest.mark.parametrize(
    "content, words",
    [
        (
            '{"op": "fault", "name": "k", "target": "1", "phase": "start", "t": 0}\n{"op": "fau',
            "line 2: not valid JSON (truncated",
        ),
        ("not json\n", "line 1: not valid JSON"),
        (
            '{"op": "read", "reader": "c", "group": "g", "topic": "t", "partition": 0, "id": "p-1", "key": null, "t": 1}\n',
            "line 1: op 'read': missing field 'offset'",
        ),
        (
            '{"op": "send", "id": "p-0", "producer": "p", "seq": 0, "key": null, "topic": "t", "status": "ok", "t0": 0, "t1": 1}\n',
            "line 1: op 'send': a send with status 'ok' needs 'partition' and 'offset'",
        ),
        (
            '{"op": "send", "id": "p-0", "producer": "p", "seq": 0, "key": null, "topic": "t", "status": "maybe", "t0": 0, "t1": 1}\n',
            "field 'status': Invalid enum value 'maybe'",
        ),
        (
            '{"op": "send", "id": "p-0", "producer": "p", "seq": 0, "key": null, "topic": "t", "status": "ok", "partition": null, "offset": 3, "t0": 0, "t1": 1}\n',
            "needs 'partition' and 'offset'",
        ),
        (
            '{"op": "txn", "txn": "x", "producer": "p", "status": "committed", "t": 1}\n',
            "line 1: op 'txn': field 'status': Invalid enum value 'committed'",
        ),
        (
            '{"op": "fault", "name": "k", "target": "1", "phase": "start", "t": 0}\n'
            '{"op": "read", "reader": "c", "group": "g", "topic": "t", "partition": 0, "offset": 1, "id": "p-1", "key": [1, 2], "t": 1}\n',
            "line 2: op 'read': field 'key'",
        ),
        (
            '{"op": "read", "reader": "c", "group": "g", "topic": "t", "partition": 0, "offset": 1, "id": "p-1", "key": {"a": 1}, "t": 1}\n',
            "line 1: op 'read': field 'key'",
        ),
        (
            '{"op": "assign", "reader": "c", "group": "g", "partitions": [["t"]], "t": 1}\n',
            "line 1: op 'assign': field 'partitions[0]'",
        ),
        (
            '{"op": "assign", "reader": "c", "group": "g", "partitions": "t-0", "t": 1}\n',
            "line 1: op 'assign': field 'partitions'",
        ),
    ],
)
def test_malformed_history_names_the_line(tmp_path, content, words):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(HistoryError, match="line"):
        list(read_history(path))
    result = subprocess.run([*KCHAOS, "check", str(path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_fields_outside_the_format_are_ignored(tmp_path):
    """The indexer's own rebalance count must not be read from a file: an ``epoch`` field
    on a read changes nothing (here it would hide a nonmonotonic poll)."""
    h = H().send("p0-0", 0).read("p0-0", 0).read("p0-0", 0).drained(("p0-0", 0))
    h.events[1]["epoch"] = 0
    h.events[2]["epoch"] = 1
    path = write(tmp_path / "h.jsonl", h.events)
    result = subprocess.run([*KCHAOS, "check", str(path), "--json"], capture_output=True, text=True)
    assert result.returncode == 1 and json.loads(result.stdout)["anomalies"]["nonmonotonic-poll"] == 1


def test_check_json_clean_exits_0(tmp_path):
    h = H().send("p0-0", 0).read("p0-0", 0).drained(("p0-0", 0))
    result = subprocess.run(
        [*KCHAOS, "check", str(write(tmp_path / "h.jsonl", h.events)), "--json"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["events"] == len(h.events)
    assert out["anomalies"] == dict.fromkeys(KINDS, 0)
    assert set(out) >= {"format_version", "events", "anomalies", "examples", "findings", "undrained", "info"}
    assert out["format_version"] == 2 and "reprocessed" not in out["anomalies"]
    assert set(out["info"]) >= {"unknown_sends", "failed_sends"}


def test_check_exit_1_on_anomaly_and_kinds_filter(tmp_path):
    path = write(tmp_path / "h.jsonl", H().send("p0-0", 0).send("p0-1", 1).drained(("p0-0", 0)).events)
    found = subprocess.run([*KCHAOS, "check", str(path), "--json"], capture_output=True, text=True)
    assert found.returncode == 1 and json.loads(found.stdout)["anomalies"]["lost"] == 1
    other = subprocess.run([*KCHAOS, "check", str(path), "--kinds", "duplicate"], capture_output=True, text=True)
    assert other.returncode == 0
    bad = subprocess.run([*KCHAOS, "check", str(path), "--kinds", "lots"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown anomaly kind 'lots'" in bad.stderr


def test_check_missing_file(tmp_path):
    result = subprocess.run([*KCHAOS, "check", str(tmp_path / "nope.jsonl")], capture_output=True, text=True)
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_every_client_event_the_code_writes_is_documented():
    """docs/history.md's ``client`` table names every event kchaos writes (it had fallen
    twelve behind)."""
    root = Path(__file__).resolve().parents[2]
    code = "\n".join(p.read_text() for p in (root / "kchaos").rglob("*.py"))
    written = set(re.findall(r'Client\([^,()]*, "([a-z-]+)"', code))
    written |= set(re.findall(r'_client_event\("([a-z-]+)"', code))
    doc = (root / "docs" / "history.md").read_text()
    row = next(line for line in doc.splitlines() if line.startswith("| `event` | string | yes | What happened."))
    assert len(written) >= 15, written  # the patterns above still find the writers
    assert sorted(e for e in written if f"`{e}`" not in row) == []
