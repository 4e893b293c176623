"""Transaction measurements: outcomes, fenced zombies, aborted records in the log and
handed to consumers. Each number has a history where it is zero and one where it is not."""

from __future__ import annotations

import json

from kchaos.checker.index import build
from kchaos.checker.measurements import transactions
from kchaos.history import load
from tests.unit.histories import H


def measured(h: H, tmp_path, extra: list[dict] | None = None) -> dict[str, int]:
    path = tmp_path / "h.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in [*h.events, *(extra or [])]))
    return transactions(build(load(path)))


def test_clean_committed_transaction_counts_nothing_aborted(tmp_path):
    h = H().send("p0-0", 0, txn="x1").txn("x1", "commit").read("p0-0", 0).drained(("p0-0", 0))
    m = measured(h, tmp_path)
    assert m == {
        "txn_committed": 1,
        "txn_aborted": 0,
        "txn_unknown": 0,
        "producer_crashes": 0,
        "zombies_fenced": 0,
        "aborted_in_log": 0,
        "aborted_consumed": 0,
    }


def test_aborted_records_in_the_log_and_given_to_a_read_uncommitted_consumer(tmp_path):
    h = (
        H()
        .send("p0-0", 0, txn="x1")
        .txn("x1", "abort")
        .read("p0-0", 0, isolation="read_uncommitted")
        .drained(end=2)
        .drained(("p0-0", 0), isolation="read_uncommitted", reader="d1", end=2)
    )
    crash = [
        {"op": "client", "producer": "p0", "event": "crash", "t": 1.0, "txn": "x1"},
        {"op": "client", "producer": "p0", "event": "zombie-fenced", "t": 1.1, "txn": "x1", "error": "_FENCED"},
    ]
    m = measured(h, tmp_path, crash)
    assert m["txn_aborted"] == 1 and m["aborted_in_log"] == 1 and m["aborted_consumed"] == 1
    assert m["producer_crashes"] == 1 and m["zombies_fenced"] == 1
