"""The checker's third round (issue 23), one class per test: a minimal history where the
misjudged case occurs, and its correct twin. Consumer groups judged by Kafka's committed
offset (the last successful commit, seeks, per-partition rebalance epochs, zombie
commits, commits at the instant of an assignment, members whose commits are unseen);
exactly-once and the pattern invariant judged on what the history proves; stuck-lso's
deadline; findings per cause."""

from __future__ import annotations

from typing import Any

from kchaos.checker import check
from kchaos.checker.index import build
from kchaos.checker.patterns import processed_once_or_dead_lettered
from tests.unit.histories import H


def found(h: H) -> dict[str, int]:
    return {k: v for k, v in check(h.events)["anomalies"].items() if v}


def delivered(h: H, n: int, reader: str = "c0", start: int = 0) -> H:
    for i in range(start, n):
        h.read(f"p0-{i}", i, reader=reader)
    return h


def sent(n: int) -> H:
    h = H()
    for i in range(n):
        h.send(f"p0-{i}", i)
    return h


def drained(h: H, n: int) -> H:
    return h.drained(*((f"p0-{i}", i) for i in range(n)))


# --- consumer groups: Kafka's committed offset --------------------------------------------------


def test_the_last_commit_wins_not_the_highest():
    # c0 committed 4, sought back to 2 on purpose, re-read 2-3 and committed 2: Kafka
    # resumes c1 from 2. Twin where the anomaly is real: no commit back, c1 resumes at 2.
    h = delivered(sent(4), 4).commit(4).seek(2)
    delivered(h, 4, start=2).commit(2).rebalance("revoke").rebalance("assign", reader="c1")
    result = check(drained(delivered(h, 4, reader="c1", start=2), 4).events)
    assert result["anomalies"]["rewind-past-commit"] == 0
    assert result["info"]["redelivered"] == 4
    rewound = delivered(sent(4), 4).commit(4).rebalance("revoke").rebalance("assign", reader="c1")
    assert found(drained(delivered(rewound, 4, reader="c1", start=2), 4)) == {"rewind-past-commit": 2}


def test_a_recorded_seek_excuses_going_back_below_the_commit():
    def run(seek: bool) -> H:
        h = delivered(sent(4), 4).commit(4).rebalance("revoke").rebalance("assign")
        if seek:
            h.seek(1)
        return drained(delivered(h, 4, start=1), 4)

    assert found(run(True)) == {} and check(run(True).events)["info"]["redelivered"] == 3
    assert found(run(False)) == {"rewind-past-commit": 3}


def test_rebalance_epochs_are_per_partition():
    # Cooperative: the callback assigns t/1 only; t/0 was kept, so going back on it is
    # a nonmonotonic poll. Twin: the callback names t/0 (eager: revoked and re-assigned).
    def run(named: tuple[tuple[str, int], ...]) -> H:
        h = H().send("p0-0", 0).send("p0-1", 1).send("p1-0", 0, partition=1, key="j")
        h.rebalance("assign", partitions=(("t", 0),)).read("p0-0", 0).read("p0-1", 1)
        h.rebalance("assign", partitions=named).read("p1-0", 0, partition=1, key="j").read("p0-0", 0)
        return h.drained(("p0-0", 0), ("p0-1", 1)).drained(("p1-0", 0), partition=1)

    assert found(run((("t", 1),))) == {"nonmonotonic-poll": 1}
    assert found(run((("t", 0), ("t", 1)))) == {}


def test_a_zombie_commit_is_caught_by_its_own_check():
    # c0 lost t/0 and never got it back; its commit of 1 still succeeded after c1 had
    # committed 4 (Kafka resumes from the zombie's 1: re-delivery from 1 is no rewind).
    def run(zombie_status: str) -> H:
        h = delivered(sent(4), 4).rebalance("lost").rebalance("assign", reader="c1")
        h.commit(4, reader="c1").commit(1, status=zombie_status)
        h.rebalance("revoke", reader="c1").rebalance("assign", reader="c2")
        return drained(delivered(h, 4, reader="c2", start=1), 4)

    result = check(run("ok").events)
    assert {k: v for k, v in result["anomalies"].items() if v} == {"zombie-commit": 1}
    example = result["examples"]["zombie-commit"][0]
    assert example["reader"] == "c0" and example["committed"] == 1
    assert found(run("ILLEGAL_GENERATION")) == {"rewind-past-commit": 3}  # refused: Kafka resumes at 4


def commit_at(t: float, offset: int = 4) -> dict[str, Any]:
    return {
        "op": "commit",
        "reader": "c0",
        "group": "g",
        "topic": "t",
        "partition": 0,
        "offset": offset,
        "status": "ok",
    }


def test_a_commit_at_the_instant_of_the_assignment_counts():
    def run(commit_t: float) -> H:
        h = delivered(sent(4), 4).at(commit_t, **commit_at(commit_t))
        h.at(1.0, op="assign", reader="c1", group="g", partitions=[["t", 0]])
        h.at(1.1, **{k: v for k, v in H().read("p0-3", 3, reader="c1").events[0].items() if k != "t"})
        return drained(h, 4)

    assert found(run(1.0)) == {"rewind-past-commit": 1}  # Java stamps ms: same instant is before
    assert found(run(1.001)) == {}  # committed after the new owner fetched its offset


def test_members_whose_commits_are_unseen_are_not_judged_by_commits():
    def run(marked: bool) -> H:
        h = H()
        if marked:
            h.at(0.0, op="client", producer="j0", event="commits-unseen")
        h = delivered(sent(4), 4).commit(4) if not marked else delivered(_sent_into(h, 4), 4).commit(4)
        h.rebalance("revoke").rebalance("assign", reader="j0")
        return drained(delivered(h, 4, reader="j0", start=2), 4)

    assert found(run(False)) == {"rewind-past-commit": 2}
    result = check(run(True).events)
    assert {k: v for k, v in result["anomalies"].items() if v} == {}
    assert result["info"]["commits_unseen"] == ["j0"]
    assert result["info"]["redelivered_unjudged"] == 2 and result["info"]["redelivered"] == 0


def _sent_into(h: H, n: int) -> H:
    for i in range(n):
        h.send(f"p0-{i}", i)
    return h


# --- exactly-once and patterns: what the history proves ------------------------------------------


def output(h: H, id_: str, offset: int, txn: str | None, source: str, topic: str = "out") -> H:
    h.send(id_, offset, txn=txn, topic=topic)
    h.events[-1]["input"] = source
    return h


def pipeline(txn_status: str, commit_event: bool, processed: bool, more: Any = None) -> H:
    """One transactional batch of two inputs; its outputs in the committed drain
    (``more``: what else happened before the drains)."""
    h = H().send("in-0", 0).send("in-1", 1).read("in-0", 0, reader="w").read("in-1", 1, reader="w")
    output(h, "w-x-0", 0, "x1", "in-0")
    output(h, "w-x-1", 1, "x1", "in-1")
    h.txn("x1", txn_status, producer="w-x")
    if processed:
        h.process("in-0", 0, reader="w", output="w-x-0").process("in-1", 1, reader="w", output="w-x-1")
    if commit_event:
        h.commit(2, reader="w")
    if more is not None:
        more(h)
    ins = [(f"in-{i}", i) for i in range(3) if any(e.get("id") == f"in-{i}" for e in h.events)]
    aborted = {e["txn"] for e in h.events if e["op"] == "txn" and e["status"] == "abort"}
    outs = [(e["id"], e["offset"]) for e in h.events if e["op"] == "send" and e["topic"] == "out"]
    outs = [(i, o) for i, o in outs if next(e for e in h.events if e.get("id") == i).get("txn") not in aborted]
    h.drained(*ins)
    return h.drained(*outs, topic="out", inputs={e["id"]: e["input"] for e in h.events if e.get("input")})


def test_a_transaction_proven_committed_covered_its_input_offsets():
    # The client never learned the outcome; the committed drain proves it committed.
    result = check(pipeline("unknown", commit_event=False, processed=True).events)
    assert result["info"]["txn_inferred_commit"] == 1
    assert {k: v for k, v in result["anomalies"].items() if v} == {}
    # Twin: the outputs are there but no transaction holds them and nothing committed the inputs.
    h = pipeline("commit", commit_event=False, processed=True)
    for ev in h.events:
        ev.pop("txn", None) if ev["op"] == "send" else None
    assert found(h) == {"exactly-once-broken": 2}


def test_an_output_in_a_committed_transaction_proves_its_input_processed():
    # SIGKILLed after commit_transaction(), before its process and commit events; the next
    # worker resumed past the batch and committed 3.
    def next_worker(h: H) -> None:  # the worker restarted (same member name, a new producer)
        h.send("in-2", 2).read("in-2", 2, reader="w")
        output(h, "w-y-0", 2, "x2", "in-2").txn("x2", "commit", producer="w-y")
        h.process("in-2", 2, reader="w", output="w-y-0").commit(3, reader="w")

    assert found(pipeline("commit", commit_event=False, processed=False, more=next_worker)) == {}
    # Twin: its transaction aborted, and the next worker committed past the batch all the same.
    aborted = found(pipeline("abort", commit_event=False, processed=False, more=next_worker))
    assert aborted == {"skipped": 2, "exactly-once-broken": 2}


def test_fan_out_outputs_are_counted_per_pipeline_group():
    def run(twice: bool) -> H:
        h = H().send("in-0", 0)
        for group in ("ga", "gb"):
            h.read("in-0", 0, reader=f"{group}w", group=group)
            output(h, f"{group}w-x-0", 0 if group == "ga" else 1, None, "in-0")
            h.process("in-0", 0, group=group, reader=f"{group}w", output=f"{group}w-x-0")
            h.commit(1, group=group, reader=f"{group}w")
        outs = [("gaw-x-0", 0), ("gbw-x-0", 1)]
        inputs = {"gaw-x-0": "in-0", "gbw-x-0": "in-0", "gaw-x-9": "in-0"}
        if twice:  # group ga's worker wrote a second output for the same input
            output(h, "gaw-x-9", 2, None, "in-0")
            outs.append(("gaw-x-9", 2))
        h.drained(("in-0", 0))
        return h.drained(*outs, topic="out", inputs=inputs)

    assert found(run(False)) == {}
    result = check(run(True).events)
    assert result["anomalies"]["exactly-once-broken"] == 1
    assert result["examples"]["exactly-once-broken"][0]["group"] == "ga"


PATTERN = {"group": "g", "input": "t", "retry": [], "dead_letter": "dlt"}


def dead_letter_history(dead_t0: float, dead_t1: float, replay_t0: float, txn: str | None = None) -> list:
    """A root dead-lettered (sent at ``dead_t0``, acked at ``dead_t1``), then replayed
    (sent at ``replay_t0``) and processed."""
    events: list[dict[str, Any]] = [{"op": "meta", "t": 0.0, "pattern": PATTERN}]
    base = {"producer": "p", "key": "k", "status": "ok", "partition": 0}
    events.append({"op": "send", "id": "r", "seq": 0, "topic": "t", "offset": 0, "t0": 0.1, "t1": 0.2, **base})
    dead = {"op": "send", "id": "r-d", "seq": 1, "topic": "dlt", "offset": 0, "t0": dead_t0, "t1": dead_t1}
    events.append({**dead, **base, "origin": "r", **({"txn": txn} if txn else {})})
    events.append({"op": "send", "id": "r-p", "seq": 2, "topic": "t", "offset": 1, "t0": replay_t0, "t1": 9.0, **base})
    events[-1]["origin"] = "r"
    events.append(
        {"op": "process", "reader": "c", "group": "g", "topic": "t", "partition": 0, "offset": 1, "id": "r-p"}
        | {"outcome": "ok", "t": 9.5}
    )
    return events


def test_a_dead_letter_is_dated_by_when_it_was_sent():
    # The replay began at 2.0, before the dead letter's ack (3.0) but after it was sent (1.0).
    v = processed_once_or_dead_lettered(build(dead_letter_history(1.0, 3.0, 2.0)))
    assert not any(v.values()), v
    # Twin: a dead letter sent after the replay began is in the replay's round, with its processing.
    v = processed_once_or_dead_lettered(build(dead_letter_history(2.5, 3.0, 2.0)))
    assert v["processed-and-dead-lettered"] == ["r"]


def test_a_dead_letter_in_an_aborted_transaction_does_not_count():
    def run(status: str) -> dict:
        events = dead_letter_history(2.5, 3.0, 2.0, txn="dx")
        events.append({"op": "txn", "txn": "dx", "producer": "p", "status": status, "t": 3.1})
        return processed_once_or_dead_lettered(build(events))

    assert not any(run("abort").values())
    assert run("commit")["processed-and-dead-lettered"] == ["r"]


# --- stuck-lso: the deadline ------------------------------------------------------------------


def stuck(first_send: float, stall_t: float, end_fault: bool = True, cleanup: float | None = 2.0) -> dict:
    h = H()
    h.at(0.0, op="meta", txn_timeout_s=10.0, **({"txn_abort_cleanup_s": cleanup} if cleanup is not None else {}))
    h.at(1.0, op="fault", name="kill", target="1", phase="start")
    if end_fault:
        h.at(5.0, op="fault", name="kill", target="1", phase="end")
    h.send("p0-0", 0)
    h.events[-1].update(t0=first_send, t1=first_send + 0.01, txn="x1")
    h.drained(("p0-0", 0), isolation="read_uncommitted", reader="d1", end=2)
    h.stall(0, 2, t=stall_t)
    return check(h.events)["anomalies"]


def test_stuck_lso_deadline_runs_from_the_transactions_start_and_the_heal():
    # Began at 15, 10 s after the heal at 5: abortable at 25, aborted by 27.
    assert stuck(15.0, 26.0)["stuck-lso"] == 0
    assert stuck(15.0, 27.5)["stuck-lso"] == 1
    # Began before the heal: the heal (5) + cleanup, once the timeout ran (0.5 + 10).
    assert stuck(0.5, 12.0)["stuck-lso"] == 0 and stuck(0.5, 12.6)["stuck-lso"] == 1
    # Without meta's cleanup interval, Kafka's default 10 s.
    assert stuck(15.0, 30.0, cleanup=None)["stuck-lso"] == 0 and stuck(15.0, 35.1, cleanup=None)["stuck-lso"] == 1


def test_a_fault_that_never_ended_dates_no_heal():
    assert stuck(0.5, 500.0, end_fault=False)["stuck-lso"] == 0
    assert stuck(0.5, 500.0, end_fault=True)["stuck-lso"] == 1


# --- findings ---------------------------------------------------------------------------------


def test_two_groups_that_skipped_for_two_causes_are_two_findings():
    def run(second_group: str) -> list:
        h = sent(4).at(1.0, op="fault", name="kill-client", target="c0", phase="start")
        h.at(1.5, op="fault", name="kill-client", target="c0", phase="end")
        h.at(2.0, **{**commit_at(2.0, 2), "group": "ga"})
        h.at(3.0, op="fault", name="pause-client", target="c1", phase="start")
        h.at(3.5, op="fault", name="pause-client", target="c1", phase="end")
        h.at(4.0, **{**commit_at(4.0, 2), "group": second_group, "reader": "c1"})
        return check(drained(h, 4).events)["findings"]

    two = run("gb")
    assert len(two) == 2 and {f["fault"].split()[0] for f in two} == {"kill-client", "pause-client"}
    assert all(f["kinds"] == {"skipped": 2} for f in two)
    one = run("ga")  # one group: its skips are one finding
    assert len(one) == 1


def test_one_output_stored_twice_by_one_retry_is_one_finding():
    h = H().send("in-0", 0).read("in-0", 0, reader="w")
    output(h, "w-o-0", 0, None, "in-0")
    h.process("in-0", 0, reader="w", output="w-o-0").commit(1, reader="w").drained(("in-0", 0))
    h.drained(("w-o-0", 0), ("w-o-0", 1), topic="out", inputs={"w-o-0": "in-0"})
    result = check(h.events)
    assert {k: v for k, v in result["anomalies"].items() if v} == {"duplicate": 1, "exactly-once-broken": 1}
    assert len(result["findings"]) == 1
    assert result["findings"][0]["kinds"] == {"exactly-once-broken": 1, "duplicate": 1}
