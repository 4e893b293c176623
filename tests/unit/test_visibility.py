"""Visibility of a pipeline's output where a read_committed reader is, not where
``commit_transaction()`` returned."""

from __future__ import annotations

from kchaos.checker import build
from kchaos.checker.pipelines import visibility_measurements
from tests.unit.histories import read_event, send_event


def _output_read(output: str, offset: int, t: float, input_id: str, isolation: str | None = None) -> dict:
    ev = read_event(output, offset, t, topic="out", group="reader", isolation=isolation)
    ev["input"] = input_id
    return ev


def test_latency_runs_to_the_first_read_committed_delivery():
    events = [
        send_event("p0-0", 0, 1.0),
        send_event("p0-1", 1, 1.1),
        _output_read("w0-0", 0, 1.6, "p0-0"),
        _output_read("w0-0", 0, 1.9, "p0-0"),  # a re-delivery is not when it became visible
        _output_read("w0-1", 1, 2.1, "p0-1"),
    ]
    m = visibility_measurements(build(events))
    assert m["visible_latency_ms"]["p50"] == 600.0 and m["visible_latency_ms"]["p99"] == 1000.0


def test_read_uncommitted_readers_and_drains_do_not_count():
    events = [
        send_event("p0-0", 0, 1.0),
        _output_read("w0-0", 0, 1.2, "p0-0", isolation="read_uncommitted"),
    ]
    assert visibility_measurements(build(events)) == {}
