"""One test per anomaly kind: a small history where it occurs (and is counted right),
and one where it does not (and nothing is reported)."""

from __future__ import annotations

import pytest

from kchaos.checker import KINDS, check
from tests.unit.histories import H


def anomalies(h: H) -> dict[str, int]:
    return {k: v for k, v in check(h.events)["anomalies"].items() if v}


def clean() -> H:
    """Two producers, two partitions, a group, a drain: nothing wrong."""
    return (
        H()
        .send("p0-0", 0)
        .send("p0-1", 1)
        .send("p1-0", 0, partition=1, key="j")
        .read("p0-0", 0)
        .read("p0-1", 1)
        .read("p1-0", 0, partition=1, key="j")
        .drained(("p0-0", 0), ("p0-1", 1))
        .drained(("p1-0", 0), partition=1)
    )


def test_clean_history_has_no_anomaly():
    result = check(clean().events)
    assert set(result["anomalies"]) == set(KINDS)
    assert sum(result["anomalies"].values()) == 0
    assert result["undrained"] == [] and result["examples"] == {}


CASES = {
    # kind: (history with the anomaly, expected count, a close history without it)
    "lost": (
        H().send("p0-0", 0).send("p0-1", 1).drained(("p0-0", 0)),
        1,
        H().send("p0-0", 0).send("p0-1", 1).drained(("p0-0", 0), ("p0-1", 1)),
    ),
    "duplicate": (
        H().send("p0-0", 0).send("p0-1", 2).drained(("p0-0", 0), ("p0-0", 1), ("p0-1", 2)),
        1,
        H().send("p0-0", 0).send("p0-1", 1).drained(("p0-0", 0), ("p0-1", 1)),
    ),
    "reordered": (
        H().send("p0-1", 0).send("p0-0", 1).drained(("p0-1", 0), ("p0-0", 1)),
        1,
        H().send("p0-0", 0).send("p0-1", 1).drained(("p0-0", 0), ("p0-1", 1)),
    ),
    "key-order-broken": (
        H()
        .send("p0-0", 0, key="a")
        .send("p0-1", 0, partition=1, key="a")
        .drained(("p0-0", 0))
        .drained(("p0-1", 0), partition=1),
        1,
        H()
        .send("p0-0", 0, key="a")
        .send("p0-1", 0, partition=1, key="b")
        .drained(("p0-0", 0))
        .drained(("p0-1", 0), partition=1),
    ),
    "inconsistent-offset": (
        H().send("p0-0", 0).send("p0-1", 0).read("p0-0", 0).drained(("p0-1", 0)),
        1,
        H().send("p0-0", 0).read("p0-0", 0).drained(("p0-0", 0)),
    ),
    "ack-mismatch": (
        H().send("p0-0", 0).send("p1-0", 0, key="j").drained(("p1-0", 0)),
        1,
        H().send("p0-0", 0).send("p1-0", 1, key="j").drained(("p0-0", 0), ("p1-0", 1)),
    ),
    "phantom": (
        H().send("p0-0", 0).drained(("p0-0", 0), ("zz-9", 1)),
        1,
        H().send("p0-0", 0).drained(("p0-0", 0)),
    ),
    "failed-visible": (
        H().send("p0-0", 0).send("p0-1", status="fail").drained(("p0-0", 0), ("p0-1", 1)),
        1,
        H().send("p0-0", 0).send("p0-1", status="fail").drained(("p0-0", 0)),
    ),
    "nonmonotonic-poll": (
        H()
        .send("p0-0", 0)
        .send("p0-1", 1)
        .read("p0-0", 0)
        .read("p0-1", 1)
        .read("p0-0", 0)
        .drained(("p0-0", 0), ("p0-1", 1)),
        1,
        H()
        .send("p0-0", 0)
        .send("p0-1", 1)
        .read("p0-0", 0, group=None)
        .read("p0-1", 1, group=None)
        .rebalance("assign")
        .read("p0-0", 0, group=None)
        .drained(("p0-0", 0), ("p0-1", 1)),
    ),
    "aborted-read": (
        H().send("p0-0", 0, txn="x1").txn("x1", "abort").read("p0-0", 0).drained(end=2),
        1,
        H().send("p0-0", 0, txn="x1").txn("x1", "abort").read("p0-0", 0, isolation="read_uncommitted").drained(end=2),
    ),
    "uncommitted-read": (
        H().send("p0-0", 0, txn="x1").txn("x1", "unknown").read("p0-0", 0).drained(end=2),
        1,
        H().send("p0-0", 0, txn="x1").txn("x1", "unknown").read("p0-0", 0).drained(("p0-0", 0)),
    ),
    "ack-conflict": (
        H().send("p0-0", 0).send("p1-0", 0, key="j").read("p1-0", 0, key="j").drained(("p1-0", 0)),
        2,  # the two acks disagree, and so do p0-0's ack and the consumer's read
        H().send("p0-0", 0).send("p1-0", 1, key="j").read("p1-0", 1, key="j").drained(("p0-0", 0), ("p1-0", 1)),
    ),
    "truncated-read": (
        H().send("p0-0", 0).send("p0-1", 1).read("p0-0", 0).read("p0-1", 1).drained(("p0-0", 0)),
        1,
        H().send("p0-0", 0).send("p0-1", 1).read("p0-0", 0).read("p0-1", 1).drained(("p0-0", 0), ("p0-1", 1)),
    ),
    "epoch-regression": (
        H()
        .send("p0-0", 0)
        .send("p0-1", 1)
        .read("p0-0", 0, leader_epoch=2)
        .read("p0-1", 1, leader_epoch=1)
        .drained(("p0-0", 0), ("p0-1", 1)),
        1,
        H()
        .send("p0-0", 0)
        .send("p0-1", 1)
        .read("p0-0", 0, leader_epoch=1)
        .read("p0-1", 1, leader_epoch=2)
        .drained(("p0-0", 0), ("p0-1", 1)),
    ),
    "rewind-past-commit": (
        H()
        .send("p0-0", 0)
        .send("p0-1", 1)
        .read("p0-0", 0)
        .read("p0-1", 1)
        .commit(2)
        .rebalance("assign", reader="c1")
        .read("p0-0", 0, reader="c1")
        .read("p0-1", 1, reader="c1")
        .drained(("p0-0", 0), ("p0-1", 1)),
        2,
        H()
        .send("p0-0", 0)
        .send("p0-1", 1)
        .read("p0-0", 0)
        .read("p0-1", 1)
        .commit(1)
        .rebalance("assign", reader="c1")
        .read("p0-1", 1, reader="c1")
        .drained(("p0-0", 0), ("p0-1", 1)),
    ),
    "zombie-commit": (
        H()
        .send("p0-0", 0)
        .read("p0-0", 0)
        .rebalance("lost")
        .rebalance("assign", reader="c1")
        .commit(1)
        .drained(("p0-0", 0)),
        1,
        H().send("p0-0", 0).read("p0-0", 0).rebalance("lost").rebalance("assign").commit(1).drained(("p0-0", 0)),
    ),
    "torn-transaction": (
        H().send("p0-0", 0, txn="x1").send("p0-1", 1, txn="x1").txn("x1", "commit").drained(("p0-0", 0), end=3),
        1,
        H()
        .send("p0-0", 0, txn="x1")
        .send("p0-1", 1, txn="x1")
        .txn("x1", "commit")
        .drained(("p0-0", 0), ("p0-1", 1), end=3),
    ),
    "precommitted-read": (
        H()
        .send("p0-0", 0, txn="x1")
        .read("p0-0", 0)
        .send("p0-1", 1, txn="x1")
        .txn("x1", "commit")
        .drained(("p0-0", 0), ("p0-1", 1), end=3),
        1,
        H()
        .send("p0-0", 0, txn="x1")
        .send("p0-1", 1, txn="x1")
        .txn("x1", "commit")
        .read("p0-0", 0)
        .drained(("p0-0", 0), ("p0-1", 1), end=3),
    ),
    "stuck-lso": (
        H()
        .meta(10)
        .send("p0-0", 0)
        .send("p0-1", 1, txn="x1")
        .fault("kill", "start")
        .fault("kill", "end")
        .drained(("p0-0", 0), ("p0-1", 1), isolation="read_uncommitted", reader="d1", end=2)
        .stall(1, 2, t=30.0),
        1,
        H()
        .meta(10)
        .send("p0-0", 0)
        .send("p0-1", 1, txn="x1")
        .fault("kill", "start")
        .fault("kill", "end")
        .drained(("p0-0", 0), ("p0-1", 1), isolation="read_uncommitted", reader="d1", end=2)
        .stall(1, 2, t=5.0),
    ),
    "exactly-once-broken": (
        H()
        .send("in-0", 0)
        .send("in-1", 1)
        .drained(("in-0", 0), ("in-1", 1))
        .send("o-0", 0, topic="out")
        .send("o-1", 1, topic="out")
        .process("in-0", 0, group="pipe", output="o-0")
        .commit(1, group="pipe")
        .drained(("o-0", 0), ("o-1", 1), topic="out", inputs={"o-0": "in-0", "o-1": "in-0"}),
        1,
        H()
        .send("in-0", 0)
        .send("in-1", 1)
        .drained(("in-0", 0), ("in-1", 1))
        .send("o-0", 0, topic="out")
        .process("in-0", 0, group="pipe", output="o-0")
        .commit(1, group="pipe")
        .drained(("o-0", 0), topic="out", inputs={"o-0": "in-0"}),
    ),
    "skipped": (
        H()
        .send("p0-0", 0)
        .send("p0-1", 1)
        .send("p0-2", 2)
        .read("p0-0", 0)
        .read("p0-2", 2)
        .drained(("p0-0", 0), ("p0-1", 1), ("p0-2", 2)),
        1,
        H()
        .send("p0-0", 0)
        .send("p0-1", 1)
        .send("p0-2", 2)
        .read("p0-0", 0)
        .read("p0-1", 1)
        .read("p0-2", 2)
        .drained(("p0-0", 0), ("p0-1", 1), ("p0-2", 2)),
    ),
}


def test_every_kind_has_a_case():
    assert set(CASES) == set(KINDS)


@pytest.mark.parametrize("kind", list(CASES))
def test_anomaly_occurs_and_is_caught(kind):
    history, count, _ = CASES[kind]
    result = check(history.events)
    assert result["anomalies"][kind] == count, result
    assert len(result["examples"][kind]) == count


@pytest.mark.parametrize("kind", list(CASES))
def test_anomaly_absent_is_not_reported(kind):
    _, _, history = CASES[kind]
    assert anomalies(history) == {}


def test_undrained_partition_is_not_lost():
    result = check(H().send("p0-0", 0).send("p0-1", 0, partition=1, key="j").drained(("p0-0", 0)).events)
    assert result["anomalies"]["lost"] == 0
    assert result["undrained"] == [["t", 1]]


def test_send_in_aborted_or_unknown_txn_is_not_lost():
    h = H().send("p0-0", 0, txn="x1").txn("x1", "abort").send("p0-1", 2, txn="x2").drained(end=4)
    assert check(h.events)["anomalies"]["lost"] == 0


def test_send_in_committed_txn_missing_is_lost():
    h = H().send("p0-0", 0, txn="x1").txn("x1", "commit").drained(end=2)
    assert check(h.events)["anomalies"]["lost"] == 1


def test_info_counts_unknown_and_failed():
    h = H().send("p0-0", 0).send("p0-1", status="unknown").send("p0-2", status="fail").drained(("p0-0", 0))
    result = check(h.events)
    assert result["info"]["unknown_sends"] == 1 and result["info"]["failed_sends"] == 1
    assert sum(result["anomalies"].values()) == 0


def test_skipped_ignores_aborted_records_the_committed_drain_does_not_hold():
    h = (
        H()
        .send("p0-0", 0)
        .send("p0-1", 1, txn="x")
        .txn("x", "abort")
        .send("p0-2", 3)
        .read("p0-0", 0)
        .read("p0-2", 3)
        .drained(("p0-0", 0), ("p0-2", 3))
        .drained(("p0-0", 0), ("p0-1", 1), ("p0-2", 3), isolation="read_uncommitted", reader="d1")
    )
    assert anomalies(h) == {}


def test_key_order_broken_when_a_group_delivers_a_key_out_of_seq_order():
    h = (
        H()
        .send("p0-0", 0, key="a")
        .send("p0-1", 1, key="a")
        .read("p0-1", 1, reader="c0")
        .read("p0-0", 0, reader="c1")
        .read("p0-0", 0, reader="c0")
        .drained(("p0-0", 0), ("p0-1", 1))
    )
    examples = check(h.events)["examples"]["key-order-broken"]
    assert [e["reader"] for e in examples] == ["c0"] and examples[0]["id"] == "p0-0"


def test_redelivery_of_an_older_record_is_not_key_order_broken():
    h = (
        H()
        .send("p0-0", 0, key="a")
        .send("p0-1", 1, key="a")
        .read("p0-0", 0)
        .read("p0-1", 1)
        .rebalance("assign")
        .read("p0-0", 0)
        .read("p0-1", 1)
        .drained(("p0-0", 0), ("p0-1", 1))
    )
    result = check(h.events)
    assert result["anomalies"]["key-order-broken"] == 0 and result["info"]["redelivered"] == 2


def test_records_removed_by_retention_are_not_lost_but_counted():
    # p0-0 sat at offset 0; retention moved the log start to 1 before the drain.
    h = H().send("p0-0", 0).send("p0-1", 1).drained(("p0-1", 1), start=1)
    result = check(h.events)
    assert result["anomalies"]["lost"] == 0 and result["info"]["removed_by_retention"] == 1
    # Above the log start offset a missing acknowledged write is still lost.
    h = H().send("p0-0", 0).send("p0-1", 1).send("p0-2", 2).drained(("p0-1", 1), start=1, end=3)
    result = check(h.events)
    assert result["anomalies"]["lost"] == 1 and result["info"]["removed_by_retention"] == 1
