"""The pattern building blocks (kchaos.patterns) and the invariant "every input processed
once or dead-lettered" (kchaos.checker.patterns), on histories and records built by hand."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kchaos.checker import build, check
from kchaos.checker.patterns import VIOLATIONS, keys_reordered, pattern_measurements, processed_once_or_dead_lettered
from kchaos.events import Meta, Process, Read, Seek, Send
from kchaos.patterns.handler import FlakyHandler, PoisonRecord, Record, TransientError
from kchaos.patterns.routing import (
    ATTEMPT,
    DUE,
    ORIGIN,
    PROVENANCE,
    RetryPlan,
    dead_letter_headers,
    due_at,
    record_of,
    retry_headers,
)
from kchaos.patterns.worker import DoneTable, PatternWorker

WHERE = {"group": "g", "input": "in", "retry": ["r1"], "dead_letter": "dlt"}


class History:
    """A hand-built pattern history: roots, copies and process outcomes."""

    def __init__(self) -> None:
        self.events: list = [Meta(t=0.0, pattern=WHERE)]
        self.offsets = itertools.count()
        self.t = itertools.count(1)

    def send(self, id_: str, topic: str = "in", origin: str | None = None, status: str = "ok", key="k", seq=0) -> str:
        where = {"partition": 0, "offset": next(self.offsets)} if status == "ok" else {"error": "timeout"}
        t = float(next(self.t))
        self.events.append(Send(id_, "p", seq, key, topic, status, t, t, origin=origin, **where))
        return id_

    def process(self, id_: str, outcome: str = "ok", topic: str = "in", group: str = "g") -> None:
        self.events.append(Process("w", group, topic, 0, 0, id_, outcome, float(next(self.t))))

    def check(self) -> dict[str, list[str]]:
        return processed_once_or_dead_lettered(build(self.events))


def test_processed_once_and_dead_lettered_once_hold():
    h = History()
    h.process(h.send("a"))
    b = h.send("b")
    h.process(b, "retry")
    h.process(h.send("b-r1", "r1", origin=b), "ok", topic="r1")  # processed on its second attempt
    c = h.send("c")
    h.process(c, "dead-lettered")
    h.send("c-d", "dlt", origin=c)
    assert h.check() == {v: [] for v in VIOLATIONS}


def test_unfinished_is_caught():
    h = History()
    h.process(h.send("a"), "retry")  # its retry copy was never written: the record is gone
    h.send("b")  # never processed at all
    assert h.check()["unfinished"] == ["a", "b"]


def test_processed_twice_is_caught_and_other_groups_do_not_count():
    h = History()
    a = h.send("a")
    h.process(a)
    h.process(a)
    b = h.send("b")
    h.process(b)
    h.process(b, group="another-group")
    found = h.check()
    assert found["processed-twice"] == ["a"] and found["unfinished"] == []


def test_dead_lettered_twice_and_processed_and_dead_lettered_are_caught():
    h = History()
    a = h.send("a")
    h.send("a-d1", "dlt", origin=a)
    h.send("a-d2", "dlt", origin=a)
    b = h.send("b")
    h.process(b)
    h.send("b-d", "dlt", origin=b)
    found = h.check()
    assert found["dead-lettered-twice"] == ["a"] and found["processed-and-dead-lettered"] == ["b"]


def test_a_replayed_dead_letter_is_processed_once_after_the_replay():
    h = History()
    a = h.send("a")
    h.send("a-d", "dlt", origin=a)
    h.process(h.send("a-replay", "in", origin=a))
    assert h.check() == {v: [] for v in VIOLATIONS}
    h2 = History()
    a = h2.send("a")
    h2.send("a-d", "dlt", origin=a)
    h2.send("a-replay", "in", origin=a)  # replayed, then neither processed nor dead-lettered again
    assert h2.check()["unfinished"] == ["a"]


def test_replays_do_not_hide_a_double_dead_letter_or_a_lost_replay():
    h = History()
    a = h.send("a")
    h.send("a-d1", "dlt", origin=a)
    h.send("a-d2", "dlt", origin=a)  # dead-lettered twice before the replay
    h.send("a-r1", "in", origin=a)
    h.send("a-r2", "in", origin=a)  # both letters replayed
    h.process("a-r1")
    h.process("a-r2", "duplicate")
    b = h.send("b")
    h.process(b)
    h.send("b-d", "dlt", origin=b)  # processed and dead-lettered in one round
    h.send("b-r", "in", origin=b)  # replayed, then never processed: the last round is empty
    found = h.check()
    assert found["dead-lettered-twice"] == ["a"] and found["unfinished"] == ["b"]
    assert found["processed-and-dead-lettered"] == ["b"] and found["processed-twice"] == []


def test_a_broker_dead_letter_found_by_the_drain_counts_for_its_root():
    h = History()
    a = h.send("a")
    h.process(a, "rejected")
    h.events.append(Read("drain", None, "dlt", 0, 0, "a@dlq", "k", 9.0, "read_committed"))
    h.events.append(Read("drain", None, "dlt", 0, 1, "a@dlq", "k", 9.0, "read_committed"))  # written twice
    found = h.check()
    assert found["unfinished"] == [] and found["dead-lettered-twice"] == ["a"]


def test_an_unwritten_input_is_not_owed_and_an_unwritten_copy_does_not_count():
    h = History()
    h.send("gone", status="fail")
    a = h.send("a")
    h.send("a-d", "dlt", origin=a, status="fail")  # the dead letter was refused: not dead-lettered
    found = h.check()
    assert found["unfinished"] == ["a"]


def test_no_pattern_no_violations():
    assert processed_once_or_dead_lettered(build([Send("a", "p", 0, None, "in", "ok", 0.0, 1.0, 0, 0)])) == {
        v: [] for v in VIOLATIONS
    }


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=30))
def test_the_check_agrees_with_the_definition(fates):
    """Per root (times processed, times dead-lettered), the violations are exactly the
    definition's: a model-based check over arbitrary fates."""
    h = History()
    want: dict[str, list[str]] = {v: [] for v in VIOLATIONS}
    for i, (ok, dead) in enumerate(fates):
        root = h.send(f"r{i}")
        for _ in range(ok):
            h.process(root)
        for n in range(dead):
            h.send(f"r{i}-d{n}", "dlt", origin=root)
        if ok == 0 and dead == 0:
            want["unfinished"].append(root)
        if ok > 1:
            want["processed-twice"].append(root)
        if dead > 1:
            want["dead-lettered-twice"].append(root)
        if ok and dead:
            want["processed-and-dead-lettered"].append(root)
    assert h.check() == want


def test_measurements_count_retries_and_per_key_order():
    h = History()
    a = h.send("a", key="k1", seq=0)
    h.process(a, "retry")
    b = h.send("b", key="k1", seq=1)
    h.process(b)  # b finished before a: k1 is out of order
    h.process(h.send("a-r", "r1", origin=a), topic="r1")
    m = pattern_measurements(build(h.events))
    assert m["pattern_inputs"] == 2 and m["pattern_processed"] == 2 and m["pattern_retried"] == 1
    assert m["keys_reordered_by_processing"] == 1 and m["pattern_unfinished"] == 0


def test_keys_reordered_counts_each_key_once():
    roots = {f"s{i}": Send(f"s{i}", "p", i, "k", "in", "ok", float(i), float(i), 0, i) for i in range(3)}
    assert keys_reordered(roots, {"s0": 3.0, "s1": 1.0, "s2": 2.0}) == 1
    assert keys_reordered(roots, {"s0": 1.0, "s1": 2.0, "s2": 3.0}) == 0


# --- the building blocks -------------------------------------------------------------------
def record(root: str = "r", attempt: int = 1, value: bytes = b"v", **kw) -> Record:
    return Record(root, root, b"k", value, "in", 0, 0, attempt=attempt, **kw)


def roots_in(handler: FlakyHandler, kind: type, n: int = 2000) -> list[str]:
    out = []
    for i in range(n):
        try:
            handler(record(f"r{i}"))
        except kind:
            out.append(f"r{i}")
        except (TransientError, PoisonRecord):
            pass
    return out


def test_flaky_handler_fails_the_same_records_the_same_way():
    h = FlakyHandler(transient=0.05, transient_failures=2, poison=0.02)
    transient, poison = roots_in(h, TransientError), roots_in(h, PoisonRecord)
    assert 60 <= len(transient) <= 140 and 20 <= len(poison) <= 60  # about 5 % and 2 % of 2000
    assert not set(transient) & set(poison)
    r = transient[0]
    for attempt in (1, 2):
        with pytest.raises(TransientError):
            h(record(r, attempt))
    h(record(r, 3))  # the third attempt succeeds
    with pytest.raises(PoisonRecord):
        h(record(poison[0], 5))
    FlakyHandler(transient=0.05, poison=0.02, fixed=True)(record(poison[0]))  # the fix accepts it


def test_strict_utf8_refuses_a_corrupted_value_unless_fixed():
    with pytest.raises(UnicodeDecodeError):
        FlakyHandler(strict_utf8=True)(record(value=b"ok \xff"))
    FlakyHandler(strict_utf8=True)(record(value=b"ok"))
    FlakyHandler(strict_utf8=True, fixed=True)(record(value=b"ok \xff"))


def test_retry_plan():
    plan = RetryPlan("topics", attempts=3, topics=["r1", "r2"], delays_ms=[1000, 3000])
    assert plan.may_retry(1) and plan.may_retry(2) and not plan.may_retry(3)
    assert plan.next_topic(2) == ("r2", 3000)
    assert not RetryPlan("none").may_retry(1)
    with pytest.raises(ValueError, match="2 retry topics"):
        RetryPlan("topics", attempts=3, topics=["r1"], delays_ms=[1])
    with pytest.raises(ValueError, match="retry mode"):
        RetryPlan("sometimes")


class Msg:
    """A consumed message as confluent-kafka hands it over (the parts record_of reads)."""

    def __init__(self, headers, value=b"v", topic="r1", partition=2, offset=7) -> None:
        self._h, self._v, self._t, self._p, self._o = headers, value, topic, partition, offset

    def headers(self):
        return self._h

    def value(self):
        return self._v

    def key(self):
        return b"k"

    def topic(self):
        return self._t

    def partition(self):
        return self._p

    def offset(self):
        return self._o


def test_a_retry_copy_names_its_root_attempt_and_due_time():
    first = record_of(Msg([("id", b"p-1")], topic="in"))
    assert (first.id, first.root, first.attempt) == ("p-1", "p-1", 1)
    headers = retry_headers(first, delay_ms=1000)
    copy = record_of(Msg([("id", b"w-9"), *headers]))
    assert (copy.id, copy.root, copy.attempt) == ("w-9", "p-1", 2)
    assert dict(headers)[ORIGIN] == b"p-1" and dict(headers)[ATTEMPT] == b"2"
    assert due_at(Msg(headers)) > 0 and DUE in dict(headers)
    assert dict(headers)["dlt.source.topic"] == b"in", "the copy remembers where the record came in"


def test_a_dead_letter_carries_its_provenance():
    copy = record_of(Msg([("id", b"w-9"), (ORIGIN, b"p-1"), (ATTEMPT, b"3"), ("dlt.source.topic", b"in")]))
    headers = dict(dead_letter_headers(copy, ValueError("bad\nthing"), "worker-0"))
    assert set(PROVENANCE) <= set(headers)
    assert headers["dlt.original.topic"] == b"r1" and headers["dlt.original.offset"] == b"7"
    assert headers["dlt.source.topic"] == b"in" and headers["dlt.attempts"] == b"3"
    assert headers["dlt.error"] == b"ValueError" and headers["dlt.error.message"] == b"bad thing"


def test_a_record_without_an_id_header_is_known_by_its_value():
    assert record_of(Msg([], value=b"j0.17")).id == "j0.17"


def test_done_table_remembers_per_root_and_replay(tmp_path):
    table = DoneTable(str(tmp_path / "done.sqlite"))
    r = record("a")
    assert not table.finished(r)
    table.mark(r, "ok")
    assert table.finished(record("a")) and DoneTable(str(tmp_path / "done.sqlite")).finished(r)
    assert not table.finished(record("a", replay=1)), "a replay is a new attempt"


class KeyMsg(Msg):
    def __init__(self, key: bytes, i: int) -> None:
        super().__init__([], value=f"v{i}".encode(), offset=i)
        self._k = key

    def key(self):
        return self._k


def test_lanes_keep_a_key_on_one_thread_or_deal_in_turn(tmp_path):
    batch = [KeyMsg(f"k{i % 5}".encode(), i) for i in range(40)]
    keyed = PatternWorker("w", "g", "127.0.0.1:1", "in", history=None, parallel=4, ordering="key")
    lanes = keyed._lanes(batch)
    assert sum(len(lane) for lane in lanes) == 40
    for lane in lanes:
        assert [m.offset() for m in lane] == sorted(m.offset() for m in lane)
    owner = {m.key(): n for n, lane in enumerate(lanes) for m in lane}
    assert all(owner[m.key()] == n for n, lane in enumerate(lanes) for m in lane), "a key on one lane"
    dealt = PatternWorker("w", "g", "127.0.0.1:1", "in", history=None, parallel=4, ordering="none")._lanes(batch)
    assert [len(lane) for lane in dealt] == [10, 10, 10, 10]
    assert any(len({n for n, lane in enumerate(dealt) for m in lane if m.key() == k}) > 1 for k in owner)


def test_a_seek_excuses_going_back_on_its_own_partition_only():
    def read(p, o, t):
        return Read("w", "g", "in", p, o, f"id{p}-{o}", "k", t, "read_committed")

    sends = [Send(f"id{p}-{o}", "p", o, "k", "in", "ok", 0.0, 0.0, p, o) for p in (0, 1) for o in range(6)]
    events = [
        *sends,
        read(0, 5, 1.0),
        read(1, 5, 1.1),
        Seek("w", "g", "in", 0, 3, 1.2),
        read(0, 3, 1.3),
        read(1, 3, 1.4),
    ]
    found = check(events)["examples"].get("nonmonotonic-poll", [])
    assert [(e["partition"], e["offset"]) for e in found] == [(1, 3)], found


class FakeConsumer:
    """What _ready asks of a consumer: pause, seek (recorded), resume."""

    def __init__(self) -> None:
        self.paused, self.seeks, self.resumed = [], [], []

    def pause(self, tps):
        self.paused += [(t.topic, t.partition) for t in tps]

    def seek(self, tp):
        self.seeks.append((tp.topic, tp.partition, tp.offset))

    def resume(self, tps):
        self.resumed += [(t.topic, t.partition) for t in tps]


def test_a_retry_copy_not_yet_due_pauses_its_partition_and_holds_the_records_after_it():
    import time as clock

    later = str(int(clock.time() * 1000) + 60_000).encode()
    due = [(DUE, later)]
    batch = [
        Msg([("id", b"a")], topic="r1", partition=0, offset=10),
        Msg([("id", b"b"), *due], topic="r1", partition=1, offset=20),  # not due yet
        Msg([("id", b"c")], topic="r1", partition=1, offset=21),  # behind it: waits too
        Msg([("id", b"d")], topic="r1", partition=0, offset=11),
    ]
    worker = PatternWorker("w", "g", "127.0.0.1:1", "in", history=None)
    consumer = FakeConsumer()
    ready = worker._ready(consumer, batch)
    assert [m.offset() for m in ready] == [10, 11], "partition 0 goes on; partition 1 waits from offset 20"
    assert consumer.paused == [("r1", 1)] and consumer.seeks == [("r1", 1, 20)]
    worker._resume_due(consumer)
    assert consumer.resumed == [], "not due: still paused"
    worker._paused[("r1", 1)] = 0.0
    worker._resume_due(consumer)
    assert consumer.resumed == [("r1", 1)] and worker._paused == {}
