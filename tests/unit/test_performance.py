"""Performance measurements (kchaos.checker.performance), librdkafka statistics, the
perf-test step's parser, the recording producer's hot path and the report's "best on"
line. Each number has a history where it is found and one where it is not."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from kchaos import experiment as experiments
from kchaos.checker.index import build
from kchaos.checker.performance import (
    added_partitions,
    client_statistics,
    group_consumption,
    key_placement,
    lag_by_group,
    perf_test,
)
from kchaos.events import DECODER, ENCODER, Send
from kchaos.faults.steps.perf import parse_final_line
from kchaos.history import HistoryWriter, load
from kchaos.report.writer import _best
from kchaos.workload.producer import Keys, RecordingProducer
from kchaos.workload.stats import stats_event
from tests.unit.histories import read_event, send_event


def index(tmp_path: Path, events: list[dict]):
    path = tmp_path / "h.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return build(load(path))


def librdkafka_stats(txmsgs: int, produces: int, batchcnt: float, rtt_us: float, fetches: int = 0) -> str:
    """A statistics document shaped as librdkafka's (STATISTICS.md), cut to what is read."""
    broker = {
        "nodeid": 1,
        "tx": produces + 3,
        "req": {"Produce": produces, "Fetch": fetches, "Metadata": 3},
        "rtt": {"cnt": 4, "p50": rtt_us, "p99": 2 * rtt_us},
        "int_latency": {"cnt": 4, "p50": 500, "p99": 900},
    }
    bootstrap = {"nodeid": -1, "tx": 1, "req": {"Metadata": 1}, "rtt": {"cnt": 0, "p50": 0, "p99": 0}}
    topic = {"batchcnt": {"cnt": 2, "avg": batchcnt}, "batchsize": {"cnt": 2, "avg": batchcnt * 100}}
    doc = {
        "txmsgs": txmsgs,
        "txmsg_bytes": txmsgs * 100,
        "rxmsgs": txmsgs,
        "rxmsg_bytes": txmsgs * 100,
        "brokers": {"127.0.0.1:1/1": broker, "127.0.0.1:1/bootstrap": bootstrap},
        "topics": {"t": topic},
    }
    return orjson.dumps(doc).decode()


def stats(client: str, t: float, role: str = "producer", **kw) -> dict:
    return json.loads(ENCODER.encode(stats_event(client, role, t, librdkafka_stats(**kw))))


def test_stats_event_reads_requests_batches_and_round_trips_leaving_out_bootstrap_brokers():
    ev = stats_event("p0", "producer", 1.0, librdkafka_stats(1000, 10, 100.0, 2500.0, fetches=7))
    assert (ev.msgs, ev.msg_bytes, ev.requests) == (1000, 100_000, 10)
    assert (ev.batch_records, ev.batch_bytes) == (100.0, 10_000.0)
    assert (ev.rtt_ms_p50, ev.rtt_ms_p99, ev.queue_ms_p50) == (2.5, 5.0, 0.5)
    assert stats_event("c0", "consumer", 1.0, librdkafka_stats(1000, 10, 100.0, 2500.0, fetches=7)).requests == 7


def test_client_statistics_per_request_and_per_second(tmp_path):
    events = [
        stats("p0", 1.0, txmsgs=1000, produces=10, batchcnt=100.0, rtt_us=2000.0),
        stats("p0", 3.0, txmsgs=9000, produces=30, batchcnt=400.0, rtt_us=4000.0),
        stats("c0", 1.0, role="consumer", txmsgs=500, produces=0, batchcnt=0, rtt_us=1000.0, fetches=50),
        stats("c0", 2.0, role="consumer", txmsgs=900, produces=0, batchcnt=0, rtt_us=1000.0, fetches=60),
    ]
    m = client_statistics(index(tmp_path, events), throughput_per_s=5000.0)
    assert m["records_per_request"] == 300.0  # 9000 records over 30 Produce requests
    assert m["records_per_batch"] == 250.0
    assert m["produce_requests_per_s"] == 10.0  # (30 - 10) / 2 s
    assert m["throughput_mb_per_s"] == 0.5  # 5000/s x 100 bytes
    assert m["rtt_ms"] == {"p50": 3.0}
    assert m["fetch_requests_per_s"] == 10.0 and m["records_per_fetch"] == 15.0


def test_client_statistics_absent_without_stats(tmp_path):
    m = client_statistics(index(tmp_path, [send_event("p0-0", 0, 1.0)]), throughput_per_s=1.0)
    assert m["records_per_request"] is None and m["fetch_requests_per_s"] is None


def test_keys_split_when_two_producers_hash_a_key_differently(tmp_path):
    same = [send_event("p0-0", 0, 1.0, key="7", partition=2), send_event("j0-0", 1, 1.1, key="7", partition=2)]
    split = [send_event("p0-0", 0, 1.0, key="7", partition=2), send_event("j0-0", 0, 1.1, key="7", partition=5)]
    assert key_placement(index(tmp_path, same))["keys_split"] == 0
    assert key_placement(index(tmp_path, split))["keys_split"] == 1


def test_first_ack_on_an_added_partition(tmp_path):
    grow = {"op": "fault", "name": "add-partitions", "target": "t", "phase": "start", "t": 5.0}
    grow["args"] = {"total": 6, "from": 3}
    before = [send_event("p0-0", 0, 1.0, partition=0), send_event("p0-1", 0, 2.0, partition=2)]
    events = [*before, grow, send_event("p0-2", 1, 5.5, partition=1), send_event("p0-3", 0, 6.2, partition=4)]
    assert added_partitions(index(tmp_path, events))["new_partition_first_ack_s"] == 1.205
    read_old = read_event("p0-2", 1, 6.0, partition=1)
    assert added_partitions(index(tmp_path, [*events, read_old]))["new_partition_unread"] == 1
    read_new = read_event("p0-3", 0, 7.0, partition=4)
    assert added_partitions(index(tmp_path, [*events, read_old, read_new]))["new_partition_unread"] == 0
    stays = [*before, grow, send_event("p0-2", 1, 5.5, partition=1)]
    assert added_partitions(index(tmp_path, stays))["new_partition_first_ack_s"] is None
    assert added_partitions(index(tmp_path, before))["new_partition_first_ack_s"] is None


def test_lag_peak_per_group_and_its_partition(tmp_path):
    def lag(group: str, p: int, n: int, t: float) -> dict:
        return {"op": "lag", "group": group, "topic": "t", "partition": p, "lag": n, "t": t}

    named = {"kchaos-v0-g0-t": "g0", "kchaos-v0-g1-t": "g1"}  # the runner's group table, in meta
    events = [
        {"op": "meta", "t": 0.0, "groups": named},
        lag("kchaos-v0-g0-t", 0, 10, 1.0),
        lag("kchaos-v0-g0-t", 1, 300, 1.1),
        lag("kchaos-v0-g0-t", 1, 20, 2.0),
        lag("kchaos-v0-g1-t", 0, 5, 1.0),
        lag("their-app", 0, 7, 1.0),  # a group the table does not name keeps its id
    ]
    m = lag_by_group(index(tmp_path, events))
    peaks = {"g0": 310, "g1": 5, "their-app": 7}
    assert m == {"lag_peak": peaks, "lag_peak_partition": {"g0": 1, "g1": 0, "their-app": 0}}
    assert lag_by_group(index(tmp_path, [send_event("p0-0", 0, 1.0)])) == {"lag_peak": {}, "lag_peak_partition": {}}


def test_group_consumption_counts_members_given_records(tmp_path):
    events = [
        send_event("p0-0", 0, 1.0),
        send_event("p0-1", 1, 1.0),
        read_event("p0-0", 0, 2.0, reader="c0"),
        read_event("p0-1", 1, 3.0, reader="c0"),
        read_event("p0-1", 1, 3.5, reader="c1"),
    ]
    m = group_consumption(index(tmp_path, events))
    assert m == {"consumers_active": 2, "group_throughput_per_s": 2.0}
    none = group_consumption(index(tmp_path, events[:2]))
    assert none == {"consumers_active": None, "group_throughput_per_s": None}


def test_perf_test_final_line_parsed_and_missing():
    out = (
        "500000 records sent, 100000.0 records/sec (9.54 MB/sec), 5.1 ms avg latency, 80.0 ms max latency.\n"
        "1000000 records sent, 179104.477612 records/sec (17.08 MB/sec), 24.98 ms avg latency, "
        "361.00 ms max latency, 22 ms 50th, 55 ms 95th, 95 ms 99th, 99 ms 99.9th.\n"
    )
    found = parse_final_line(out)
    assert found == {
        "records": 1000000,
        "records_per_s": 179104.477612,
        "mb_per_s": 17.08,
        "latency_ms_avg": 24.98,
        "latency_ms_p50": 22.0,
        "latency_ms_p99": 95.0,
    }
    assert parse_final_line(out.splitlines()[0]) is None


def test_perf_event_becomes_measurements(tmp_path):
    perf = {
        "op": "perf",
        "t": 9.0,
        "topic": "perf",
        "records": 10,
        "records_per_s": 5.0,
        "mb_per_s": 0.5,
        "latency_ms_avg": 3.0,
        "latency_ms_p50": 2.0,
        "latency_ms_p99": 7.0,
        "seconds": 2.0,
    }
    m = perf_test(index(tmp_path, [perf]))
    assert m["perf_test_throughput_per_s"] == 5.0 and m["perf_test_latency_ms"] == {"p50": 2.0, "p99": 7.0}
    assert perf_test(index(tmp_path, [send_event("p0-0", 0, 1.0)]))["perf_test_throughput_per_s"] is None


def test_best_line_picks_lowest_time_and_highest_rate():
    assert _best("x", "ms", "lower", [("a", 10.0), ("b", 40.0), ("c", None)]) == [
        "Best on x (lowest): **a** (10 ms, the worst 4.0× as much)."
    ]
    assert _best("y", "MB/s", "higher", [("a", 10.0), ("b", 40.0)]) == [
        "Best on y (highest): **b** (40 MB/s, 4.0× the worst)."
    ]
    assert _best("y", "MB/s", "higher", [("a", 10.0), ("b", None)]) == []
    assert _best("z", "requests/s", None, [("a", 10.0), ("b", 40.0)]) == [], "fewer requests is not worse"


def test_directions_of_compared_measures():
    from kchaos.checker.measurements import measure

    assert measure("lag_peak.g0").direction == "lower" and measure("produce_latency_ms.p99").direction == "lower"
    assert measure("throughput_mb_per_s").direction == "higher" and measure("fetch_requests_per_s").direction is None


def test_write_events_lines_equal_single_writes(tmp_path):
    one = Send("p-1", "p", 1, None, "t", "ok", 0.5, 0.75, 2, 9)
    two = Send("p-2", "p", 2, "k", "t", "fail", 0.5, 0.8, txn="x", error="E")
    with HistoryWriter(tmp_path / "a.jsonl") as a, HistoryWriter(tmp_path / "b.jsonl") as b:
        a.write(one)
        a.write(two)
        b.write_events([one, two])
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert DECODER.decode_lines((tmp_path / "b.jsonl").read_bytes()) == [one, two]


def test_now_is_truncated_to_the_microsecond(tmp_path):
    with HistoryWriter(tmp_path / "h.jsonl", start=0.0) as h:
        t = h.now()
    assert t == float(f"{t:.6f}") and len(repr(t).split(".")[1]) <= 6


def producer(tmp_path: Path, rate: float, txn_size: int = 10, transactional: bool = False) -> RecordingProducer:
    conf = {"transactional.id": "x"} if transactional else {}
    history = HistoryWriter(tmp_path / "h.jsonl")
    return RecordingProducer("p", "127.0.0.1:1", "t", conf, history, rate, 10, Keys(), 1, 100, txn_size)


def test_sends_due_follow_the_rate_and_the_open_transaction(tmp_path, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("kchaos.workload.producer.time.monotonic", lambda: clock[0])
    paced = producer(tmp_path, rate=100)
    assert paced._due(start=99.0, seq=0) == 64  # 101 due, at most POLL_EVERY at once
    assert paced._due(start=99.0, seq=95) == 6
    assert paced._due(start=99.0, seq=101) <= 0  # ahead of the schedule: wait
    txn = producer(tmp_path, rate=0, txn_size=10, transactional=True)
    txn._txn, txn._txn_count = "p-t1", 7
    assert txn._due(start=99.0, seq=7) == 3
    assert producer(tmp_path, rate=0)._due(start=99.0, seq=0) == 64
    assert paced._wait(start=99.0, seq=101) == pytest.approx(0.01)
    assert paced._wait(start=99.0, seq=100) == 0.0 and paced._wait(start=99.0, seq=300) == 0.05
    clock[0] = 100.004
    assert paced._wait(start=99.0, seq=100) == 0.0, "never negative: poll(-x) waits forever"


def test_a_value_is_padded_to_value_bytes(tmp_path):
    p = producer(tmp_path, rate=0)
    sent = []
    p._txn = None

    class Fake:
        def produce(self, topic, value, key, headers):
            sent.append(value)

    p._send(Fake(), 12345)
    assert len(sent[0]) == 100 and sent[0].startswith(b"p-12345 ")
    assert p._inflight[sent[0]][:2] == ("p-12345", 12345), "stored before produce(), found by its report"


def test_variant_workload_fields_merge_and_unknown_ones_are_refused(tmp_path):
    exp = experiments.load(Path("experiments/why-fast.yaml"))
    big = next(v for v in exp.variants if v.name == "1 KB records")
    wl = experiments.workload_of(exp, big)
    assert wl.value_bytes == 1000 and wl.volume_mb == exp.workload.volume_mb and wl.topic == "events"
    with pytest.raises(ValueError, match="cannot set workload topic"):
        experiments.Variant(name="x", workload={"topic": "other"})


def test_reports_are_written_in_order_when_the_call_that_served_them_returns(tmp_path):
    from confluent_kafka import KafkaError

    p = producer(tmp_path, rate=0)
    sent = []

    class Fake:
        def produce(self, topic, value, key, headers):
            sent.append(value)

    class Msg:
        def __init__(self, value: bytes, partition: int = 0, offset: int = 0) -> None:
            self._v, self._p, self._o = value, partition, offset

        def value(self) -> bytes:
            return self._v

        def partition(self) -> int:
            return self._p

        def offset(self) -> int:
            return self._o

    p._burst(Fake(), 0, 2)
    p._record(None, Msg(sent[0], 2, 40))
    p._record(KafkaError(KafkaError._MSG_TIMED_OUT), Msg(sent[1]))
    assert (tmp_path / "h.jsonl").read_bytes() == b"", "nothing written before the serving call returns"
    p._drain()
    events = load(tmp_path / "h.jsonl")
    assert [(e.id, e.status, e.partition, e.offset) for e in events] == [
        ("p-0", "ok", 2, 40),
        ("p-1", "unknown", None, None),
    ]
    assert events[1].error == "_MSG_TIMED_OUT" and events[0].t0 <= events[0].t1
    assert p.stats.ok == 1 and p.stats.unknown == 1 and p._inflight == {}


def test_a_groups_lag_on_two_topics_adds_up_and_one_partition_number_does_not_overwrite_the_other(tmp_path):
    """A pattern group is watched on its input and its retry topics: partition 0 of the
    input and partition 0 of a retry topic are two places the group is behind."""
    events = [
        {"op": "meta", "t": 0.0, "groups": {"kchaos-v0-pattern-t": "pattern"}},
        {"op": "lag", "group": "kchaos-v0-pattern-t", "topic": "in", "partition": 0, "lag": 100, "t": 1.0},
        {"op": "lag", "group": "kchaos-v0-pattern-t", "topic": "retry-1s", "partition": 0, "lag": 30, "t": 1.1},
    ]
    m = lag_by_group(index(tmp_path, events))
    assert m == {"lag_peak": {"pattern": 130}, "lag_peak_partition": {"pattern": 0}}


def test_the_lag_plot_names_the_topic_only_for_a_group_that_reads_several():
    from kchaos.report.variant_section import _lag_series

    samples = [
        {
            "name": "pattern",
            "group": "x",
            "topic": "retry-architecture.orders.v1.abc123",
            "partition": 0,
            "lag": 5,
            "t": 1.0,
        },
        {
            "name": "pattern",
            "group": "x",
            "topic": "retry-architecture.retry-1s.v1.abc123",
            "partition": 0,
            "lag": 3,
            "t": 1.0,
        },
        {
            "name": "g0",
            "group": "y",
            "topic": "retry-architecture.orders.v1.abc123",
            "partition": 2,
            "lag": 1,
            "t": 1.0,
        },
    ]
    assert sorted(_lag_series(samples)) == ["g0 p2", "pattern orders p0", "pattern retry-1s p0"]
