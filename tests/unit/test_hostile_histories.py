"""Hostile history files: whatever a file holds, ``kchaos check`` answers with exit 0
(nothing found), 1 (anomalies) or 2 (the file is wrong: one line naming the line), never
a traceback. The four shapes the second audit found, then 1,000 generated files through
the same entry the command line uses (``kchaos.cli.app``, in process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kchaos.cli import app

RUNNER = CliRunner()


def run_check(path: Path) -> Any:
    return RUNNER.invoke(app, ["check", str(path), "--json"], catch_exceptions=True)


def assert_answered(result: Any) -> None:
    """Exit 0/1 with the JSON result, or 2 with one line on stderr; never an exception."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback: {result.exception!r}") from result.exception
    assert result.exit_code in (0, 1, 2), result.exit_code
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "error:" in lines[0], result.stderr
    else:
        out = json.loads(result.stdout)
        assert (result.exit_code == 1) == any(out["anomalies"].values())


FAULT = '{"op": "fault", "name": "kill-client", "phase": "start", "t": 1.0, '
DEEP = "[" * 3000 + "]" * 3000


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"op": ["send"], "t": 1}', "line 1: field 'op': expected a string"),
        ('{"op": 7}', "line 1: field 'op': expected a string"),
        (FAULT + '"target": ' + DEEP + "}", "line 1: not valid JSON (nested deeper than"),
        (FAULT + '"target": ' + "[" * 40 + "]" * 40 + "}", "line 1: op 'fault': nested deeper than"),
        (FAULT + '"target": {"a": 1}}\n' + FAULT + '"target": {"b": 2}}', None),
        (FAULT + '"target": "c0", "args": {"as": ["crash"]}}', "line 1: op 'fault': field 'args.as'"),
    ],
)
def test_the_audits_hostile_inputs(tmp_path, text, words):
    path = tmp_path / "h.jsonl"
    path.write_text(text + "\n")
    result = run_check(path)
    assert_answered(result)
    if words is None:
        assert result.exit_code == 0  # two faults at one instant with object targets: judged, not sorted
    else:
        assert result.exit_code == 2 and words in result.stderr


# --- generated -----------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 6),
    st.sampled_from([2**64, -(2**63), 10**30]),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["", "t", "c0", "g", "p0-0", "p0-1", "x1", "ok", "commit", "abort", "unknown", "start", "end"]),
    st.sampled_from(["read_committed", "read_uncommitted", "assign", "lost", "heal", "commits-unseen"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=8,
)

GOOD: dict[str, Any] = {
    "id": st.sampled_from(["p0-0", "p0-1", "p0-2", "p1-0", "o-0", "ghost"]),
    "producer": st.sampled_from(["p0", "p1"]),
    "seq": st.integers(0, 3),
    "key": st.sampled_from([None, "k", 1]),
    "topic": st.sampled_from(["t", "out", "dlt"]),
    "status": st.sampled_from(["ok", "fail", "unknown", "commit", "abort", "ILLEGAL_GENERATION"]),
    "t0": st.floats(0, 20),
    "t1": st.floats(0, 20),
    "t": st.floats(0, 20),
    "partition": st.integers(0, 2),
    "offset": st.integers(-1, 4),
    "txn": st.sampled_from([None, "x1", "x2"]),
    "reader": st.sampled_from(["c0", "c1", "d0", "j0"]),
    "group": st.sampled_from([None, "g", "h"]),
    "isolation": st.sampled_from([None, "read_committed", "read_uncommitted"]),
    "input": st.sampled_from([None, "p0-0", "p0-1"]),
    "output": st.sampled_from([None, "o-0"]),
    "origin": st.sampled_from([None, "p0-0"]),
    "outcome": st.sampled_from(["ok", "dead-lettered"]),
    "partitions": st.lists(st.tuples(st.just("t"), st.integers(0, 2)), max_size=2),
    "name": st.sampled_from(["kill", "kill-client", "start-client", "heal", "steady"]),
    "target": JSON,
    "phase": st.sampled_from(["start", "end"]),
    "args": st.one_of(
        st.none(),
        st.dictionaries(st.sampled_from(["as", "by"]), st.sampled_from(["crash", "restart-client", ""]), max_size=2),
        st.dictionaries(st.sampled_from(["as", "by", "client"]), JSON, max_size=2),
    ),
    "end_offset": st.integers(0, 5),
    "start_offset": st.integers(0, 2),
    "position": st.integers(0, 5),
    "event": st.sampled_from(["commits-unseen", "crash"]),
    "txn_timeout_s": st.one_of(st.none(), st.floats(0, 100)),
    "txn_abort_cleanup_s": st.one_of(st.none(), st.floats(0, 20)),
    "pattern": st.one_of(st.none(), st.just({"group": "g", "input": "t", "retry": [], "dead_letter": "dlt"})),
}
FIELDS = {
    "send": (
        "id",
        "producer",
        "seq",
        "key",
        "topic",
        "status",
        "t0",
        "t1",
        "partition",
        "offset",
        "txn",
        "input",
        "origin",
    ),
    "read": ("reader", "group", "topic", "partition", "offset", "id", "key", "t", "isolation", "input"),
    "txn": ("txn", "producer", "status", "t"),
    "commit": ("reader", "group", "topic", "partition", "offset", "status", "t"),
    "process": ("reader", "group", "topic", "partition", "offset", "id", "outcome", "t", "output"),
    "assign": ("reader", "group", "partitions", "t"),
    "revoke": ("reader", "group", "partitions", "t"),
    "lost": ("reader", "group", "partitions", "t"),
    "seek": ("reader", "group", "topic", "partition", "offset", "t"),
    "fault": ("name", "target", "phase", "t", "args"),
    "drain": ("reader", "topic", "partition", "end_offset", "t", "start_offset", "isolation"),
    "stall": ("reader", "topic", "partition", "position", "end_offset", "t", "isolation"),
    "meta": ("t", "txn_timeout_s", "txn_abort_cleanup_s", "pattern"),
    "phase": ("name", "t"),
    "client": ("producer", "event", "t"),
}


STATUS = {
    "send": st.sampled_from(["ok", "ok", "fail", "unknown"]),
    "txn": st.sampled_from(["commit", "abort", "unknown"]),
    "commit": st.sampled_from(["ok", "ok", "ILLEGAL_GENERATION"]),
}


@st.composite
def events(draw: Any) -> dict[str, Any]:
    """An event of the format with plausible, colliding values (small id, offset and time
    domains), so the checks meet each other's edge cases."""
    op = draw(st.sampled_from(sorted(FIELDS)))
    ev: dict[str, Any] = {"op": op}
    for f in FIELDS[op]:
        ev[f] = draw(STATUS[op]) if f == "status" else draw(GOOD[f])
    if op == "txn" and ev["txn"] is None:
        ev["txn"] = "x1"
    if op == "send" and ev["status"] == "ok" and ev["offset"] is None:
        ev["offset"] = 0
    if op in ("commit",) and ev["group"] is None:
        ev["group"] = "g"
    return ev


@st.composite
def files(draw: Any) -> bytes:
    """A small history; half of them made hostile in one place: a field of another type,
    nested, huge or missing, a value that is not an event, or a line that is not JSON."""
    evs: list[Any] = draw(st.lists(events(), max_size=14))
    hostile = draw(st.integers(0, 5))
    if evs and hostile in (1, 2):
        ev = evs[draw(st.integers(0, len(evs) - 1))]
        victim = draw(st.sampled_from(sorted(ev)))
        if hostile == 1:
            ev.pop(victim)
        else:
            ev[victim] = draw(JSON)
    elif hostile == 3:
        evs.insert(draw(st.integers(0, len(evs))), draw(JSON))
    lines = [json.dumps(e).encode() for e in evs]
    if hostile == 4:
        lines.append(draw(st.sampled_from([b"{", b"[1,", b"\xff\xfe", b"nul", b"   ", b"[" * 2000])))
    return b"\n".join(lines) + (b"\n" if draw(st.booleans()) else b"")


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(files())
def test_generated_hostile_histories_are_answered_never_a_traceback(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("h") / "h.jsonl"
    path.write_bytes(data)
    assert_answered(run_check(path))
