"""The hard cases of the checker, each on a minimal hand-written history: where a naive
checker misjudges (mixed isolation levels, unknown transactions, commits, time), a case
where the anomaly occurs and is counted right, and a correct history of the same shape
where nothing is reported."""

from __future__ import annotations

from kchaos.checker import check
from tests.unit.histories import H


def found(h: H) -> dict[str, int]:
    return {k: v for k, v in check(h.events)["anomalies"].items() if v}


# --- drains per isolation level ------------------------------------------------------------


def test_committed_txn_seen_only_by_read_uncommitted_is_lost():
    h = (
        H()
        .send("p0-0", 0, txn="x1")
        .txn("x1", "commit")
        .drained(end=2)
        .drained(("p0-0", 0), isolation="read_uncommitted", reader="d1", end=2)
    )
    assert found(h) == {"lost": 1}
    twin = H().send("p0-0", 0, txn="x1").txn("x1", "commit").drained(("p0-0", 0), end=2)
    assert found(twin) == {}


def test_log_start_offset_is_per_drain_reader():
    # The read_uncommitted drain started after retention moved the log start to 5; the
    # read_committed one started at 0 and did not find offset 2: that is a loss.
    h = (
        H()
        .send("p0-0", 0)
        .send("p0-2", 2)
        .drained(("p0-0", 0), end=6)
        .drained(isolation="read_uncommitted", reader="d1", start=5, end=6)
    )
    assert found(h) == {"lost": 1}
    twin = H().send("p0-0", 0).send("p0-2", 2).drained(("p0-2", 2), start=1, end=6)
    result = check(twin.events)
    assert found(twin) == {} and result["info"]["removed_by_retention"] == 1


def test_hanging_transaction_is_undrained_then_stuck_lso():
    def run(stalled_at: float, uncommitted_got_through: bool = True, txn: str | None = "x1") -> dict:
        h = H().meta(10).send("p0-0", 0).send("p0-1", 1, txn=txn).send("p0-2", 2)
        h.fault("kill", "start").fault("kill", "end")
        if uncommitted_got_through:
            h.drained(("p0-0", 0), ("p0-1", 1), ("p0-2", 2), isolation="read_uncommitted", reader="d1")
        return check(h.stall(1, 3, t=stalled_at).events)

    early = run(5.0)
    assert sum(early["anomalies"].values()) == 0 and early["undrained"] == [["t", 0]]
    late = run(25.0)
    assert late["anomalies"]["stuck-lso"] == 1 and late["anomalies"]["lost"] == 0
    assert late["undrained"] == [["t", 0]]
    # Not held by a transaction: the partition was unavailable (no reader got through),
    # or it has no transactional record at all. Undrained, not stuck-lso.
    assert sum(run(25.0, uncommitted_got_through=False)["anomalies"].values()) == 0
    assert sum(run(25.0, txn=None)["anomalies"].values()) == 0


def test_commit_before_processing_redelivery_after_a_failed_commit_is_not_a_rewind():
    # The new member commits each batch before it is delivered: that commit does not
    # move the position it got at assignment (offset 0, the old commit having failed).
    h = (
        H()
        .send("p0-0", 0)
        .send("p0-1", 1)
        .commit(2, status="REBALANCE_IN_PROGRESS")
        .read("p0-0", 0)
        .read("p0-1", 1)
        .rebalance("revoke")
        .rebalance("assign", reader="c1")
        .commit(2, reader="c1")
        .read("p0-0", 0, reader="c1")
        .read("p0-1", 1, reader="c1")
        .drained(("p0-0", 0), ("p0-1", 1))
    )
    result = check(h.events)
    assert found(h) == {} and result["info"]["redelivered"] == 2


def test_records_at_reused_offsets_below_a_commit_are_skipped():
    # The group processed a-0..a-3 and committed 4; an unclean election replaced offsets
    # 2-5 with b-2..b-5; the group then read only b-4 and b-5: b-2 and b-3 were never seen.
    h = H()
    for i in range(4):
        h.send(f"a-{i}", i)
    for i in range(4):
        h.read(f"a-{i}", i)
    h.commit(4)
    for i in range(2, 6):
        h.send(f"b-{i}", i, key="j")
    h.read("b-4", 4, key="j").read("b-5", 5, key="j")
    h.drained(("a-0", 0), ("a-1", 1), ("b-2", 2), ("b-3", 3), ("b-4", 4), ("b-5", 5))
    examples = check(h.events)["examples"]["skipped"]
    assert [e["id"] for e in examples] == ["b-2", "b-3"]


def test_pipeline_output_not_drained_or_removed_proves_nothing():
    def pipeline(drain_output: bool, start: int = 0) -> H:
        h = H().send("in-0", 0).send("in-1", 1).drained(("in-0", 0), ("in-1", 1))
        h.send("o-0", 0, topic="out").send("o-1", 1, topic="out")
        h.process("in-0", 0, group="pipe", output="o-0").process("in-1", 1, group="pipe", output="o-1")
        h.commit(2, group="pipe")
        if drain_output:
            kept = [("o-1", 1)] if start else [("o-0", 0), ("o-1", 1)]
            h.drained(*kept, topic="out", inputs={"o-0": "in-0", "o-1": "in-1"}, start=start)
        return h

    assert found(pipeline(True)) == {}
    undrained = check(pipeline(False).events)
    assert undrained["anomalies"]["exactly-once-broken"] == 0 and ["out", 0] in undrained["undrained"]
    assert found(pipeline(True, start=1)) == {}


# --- transaction outcomes inferred -----------------------------------------------------------


def test_unknown_txn_seen_by_read_committed_is_inferred_committed_and_must_be_whole():
    torn = (
        H()
        .send("p0-0", 0, txn="x1")
        .send("p0-1", 0, txn="x1", partition=1, key="j")
        .txn("x1", "unknown")
        .drained(("p0-0", 0), end=2)
        .drained(partition=1, end=2)
    )
    result = check(torn.events)
    assert found(torn) == {"torn-transaction": 1, "lost": 1}
    assert result["info"]["txn_inferred_commit"] == 1
    whole = (
        H()
        .send("p0-0", 0, txn="x1")
        .send("p0-1", 0, txn="x1", partition=1, key="j")
        .txn("x1", "unknown")
        .drained(("p0-0", 0), end=2)
        .drained(("p0-1", 0), partition=1, end=2)
    )
    assert found(whole) == {} and check(whole.events)["info"]["txn_inferred_commit"] == 1


def test_unknown_send_in_a_committed_transaction_must_be_visible():
    h = (
        H()
        .send("p0-0", 0, txn="x1")
        .send("p0-1", status="unknown", txn="x1")
        .txn("x1", "commit")
        .drained(("p0-0", 0), end=3)
    )
    assert found(h) == {"lost": 1, "torn-transaction": 1}


def test_uncommitted_read_needs_proof():
    base = H().send("p0-0", 0, txn="x1").txn("x1", "unknown").read("p0-0", 0)
    # Proof: a finished committed drain without it.
    assert found(H().send("p0-0", 0, txn="x1").txn("x1", "unknown").read("p0-0", 0).drained(end=2)) == {
        "uncommitted-read": 1
    }
    # No proof: retention removed it, the partition was never drained.
    retention = H().send("p0-0", 0, txn="x1").txn("x1", "unknown").read("p0-0", 0).drained(start=1, end=2)
    assert found(retention) == {}
    assert found(base) == {}
    # No proof: a sibling record in the committed drain proves the transaction committed.
    sibling = (
        H()
        .send("p0-0", 0, txn="x1")
        .send("p0-1", 1, txn="x1")
        .txn("x1", "unknown")
        .read("p0-0", 0)
        .drained(("p0-0", 0), ("p0-1", 1), end=3)
    )
    assert found(sibling) == {}


# --- one version order ------------------------------------------------------------------------


def test_two_acks_at_one_offset():
    h = H().send("p0-0", 5).send("p1-0", 5, key="j").drained(("p1-0", 5), start=5)
    assert found(h)["ack-conflict"] == 1


def test_read_then_truncated_away():
    h = H().send("p0-0", 0, status="unknown").read("p0-0", 3).drained(end=3)
    assert found(h) == {"truncated-read": 1}
    # A read made after the drain, past its end, proves nothing.
    later = H().send("p0-0", 0, status="unknown").drained(end=3).read("p0-0", 3)
    assert found(later) == {}


# --- polls and sends --------------------------------------------------------------------------


def test_same_offset_twice_without_rebalance_is_nonmonotonic():
    h = H().send("p0-0", 0).read("p0-0", 0).read("p0-0", 0).drained(("p0-0", 0))
    assert found(h) == {"nonmonotonic-poll": 1}
    twin = H().send("p0-0", 0).read("p0-0", 0).rebalance("assign").read("p0-0", 0).drained(("p0-0", 0))
    assert found(twin) == {} and check(twin.events)["info"]["redelivered"] == 1


def test_visible_unknown_sends_take_part_in_order_checks():
    h = H().send("p0-0", status="unknown").send("p0-1", 0).drained(("p0-1", 0), ("p0-0", 1))
    assert found(h) == {"reordered": 1}
    twin = H().send("p0-0", status="unknown").send("p0-1", 1).drained(("p0-0", 0), ("p0-1", 1))
    assert found(twin) == {}
    moved = (
        H()
        .send("p0-0", status="unknown", key="a")
        .send("p0-1", 0, key="a")
        .drained(("p0-1", 0))
        .drained(("p0-0", 0), partition=1)
    )
    assert found(moved) == {"key-order-broken": 1}


# --- delivered is not processed; commits are checked ------------------------------------------


def test_skipped_is_judged_by_processing_where_recorded():
    h = (
        H()
        .send("p0-0", 0)
        .send("p0-1", 1)
        .send("p0-2", 2)
        .read("p0-0", 0)
        .read("p0-1", 1)
        .read("p0-2", 2)
        .process("p0-0", 0)
        .process("p0-2", 2)
        .drained(("p0-0", 0), ("p0-1", 1), ("p0-2", 2))
    )
    assert found(h) == {"skipped": 1}
    twin = H().send("p0-0", 0).send("p0-1", 1).read("p0-0", 0).read("p0-1", 1).process("p0-0", 0).process("p0-1", 1)
    assert found(twin.drained(("p0-0", 0), ("p0-1", 1))) == {}


def test_commit_past_unprocessed_records_is_skipped_even_before_first_delivery():
    committed_first = H().send("p0-0", 0).send("p0-1", 1).commit(2).drained(("p0-0", 0), ("p0-1", 1))
    assert found(committed_first) == {"skipped": 2}
    before_processing = H().send("p0-0", 0).send("p0-1", 1).read("p0-0", 0).read("p0-1", 1).commit(2).process("p0-0", 0)
    assert found(before_processing.drained(("p0-0", 0), ("p0-1", 1))) == {"skipped": 1}
    twin = H().send("p0-0", 0).send("p0-1", 1).read("p0-0", 0).process("p0-0", 0).commit(1)
    assert found(twin.drained(("p0-0", 0), ("p0-1", 1))) == {}


def test_redelivery_after_a_crash_is_information_with_its_cause():
    h = (
        H()
        .send("p0-0", 0)
        .send("p0-1", 1)
        .read("p0-0", 0)
        .commit(1)
        .read("p0-1", 1)
        .fault("kill-client", "start", target="consumer:0:0")
        .rebalance("assign", reader="c1")
        .read("p0-1", 1, reader="c1")
        .drained(("p0-0", 0), ("p0-1", 1))
    )
    result = check(h.events)
    assert found(h) == {}
    assert result["info"]["redelivered"] == 1
    assert result["info"]["redelivered_by_cause"] == {"kill-client": 1}


# --- time -------------------------------------------------------------------------------------


def test_ack_after_the_drain_past_its_end_is_undrained_not_lost():
    late = H().send("p0-0", 0).drained(("p0-0", 0)).send("p0-1", 1)
    result = check(late.events)
    assert found(late) == {} and result["undrained"] == [["t", 0]] and result["info"]["late_acks"] == 1
    early = H().send("p0-0", 0).send("p0-1", 1).drained(("p0-0", 0))
    assert found(early) == {"lost": 1}


# --- pipelines --------------------------------------------------------------------------------


def test_pipeline_output_for_an_uncovered_input_is_not_exactly_once():
    h = (
        H()
        .send("in-0", 0)
        .send("in-1", 1)
        .drained(("in-0", 0), ("in-1", 1))
        .send("o-0", 0, topic="out")
        .send("o-1", 1, topic="out")
        .process("in-0", 0, group="pipe", output="o-0")
        .commit(1, group="pipe")
        .drained(("o-0", 0), ("o-1", 1), topic="out", inputs={"o-0": "in-0", "o-1": "in-1"})
    )
    examples = check(h.events)["examples"]["exactly-once-broken"]
    assert [(e["input"], e["covered"], e["outputs"]) for e in examples] == [("in-1", False, 1)]


# --- one cause, one finding -------------------------------------------------------------------


def test_one_truncation_is_one_finding():
    # Three acks at offsets 1-3 that a consumer read, then an unclean leader change
    # replaced them with other records: six symptoms, one cause.
    h = H().send("p0-0", 0).fault("kill", "start", target="2")
    for i in range(1, 4):
        h.send(f"p0-{i}", i).read(f"p0-{i}", i, leader_epoch=1)
    h.fault("kill", "end", target="2")
    for i in range(1, 4):
        h.send(f"p1-{i}", i, key="j")
    h.drained(("p0-0", 0), ("p1-1", 1), ("p1-2", 2), ("p1-3", 3))
    result = check(h.events)
    assert result["anomalies"]["lost"] == 3 and result["anomalies"]["ack-mismatch"] == 3
    assert len(result["findings"]) == 1
    f = result["findings"][0]
    assert f["cause"] == "log truncated" and f["offsets"] == [1, 3] and f["fault"].startswith("kill 2")
    assert {"lost", "ack-mismatch", "ack-conflict", "inconsistent-offset"} <= set(f["kinds"])
    assert f["text"].startswith("3 acknowledged writes at offsets 1-3 of t-0 were truncated")
