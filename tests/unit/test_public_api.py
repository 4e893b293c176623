"""The public API's boundary and its pure parts: the names match docs/api.md, targets
written by the functions parse, recorded producers classify what they can see without a
broker, crash points, and the verdict a test gets."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import KafkaException

import kchaos
from kchaos import api, procs
from kchaos.cluster import targets
from kchaos.errors import BadInput
from kchaos.history import load
from kchaos.workload.recorded import IdSource
from tests.unit.histories import read_event, send_event

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def documented_names() -> list[str]:
    section = DOCS.read_text().split("## The names", 1)[1].split("\n## ", 1)[0]
    return sorted(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))


def test_all_is_exactly_the_documented_names():
    assert sorted(kchaos.__all__) == documented_names()
    assert sorted(api.__all__) == sorted(kchaos.__all__)
    for name in kchaos.__all__:
        assert getattr(kchaos, name) is getattr(api, name)


def test_an_internal_name_is_not_an_attribute_of_kchaos():
    with pytest.raises(AttributeError):
        kchaos.Nemesis  # noqa: B018


@pytest.mark.parametrize(
    ("written", "text"),
    [
        (kchaos.node(3), "3"),
        (kchaos.leader_of("orders", 2), "leader-of:orders:2"),
        (kchaos.follower_of("orders", 0, 1), "follower-of:orders:0:1"),
        (kchaos.controller(), "controller"),
        (kchaos.random_broker(), "random"),
        (kchaos.txn_coordinator("tx-1"), "coordinator:tx-1"),
        (kchaos.group_coordinator("orders-app"), "group-coordinator-of:orders-app"),
    ],
)
def test_target_functions_write_the_grammar(written, text):
    assert targets.parse(written).text() == text


def test_faults_refuse_what_is_not_a_fault_to_start():
    faults = kchaos.Faults(cluster=None)  # type: ignore[arg-type]
    for action in ("heal", "start", "resume", "kill-client"):
        with pytest.raises(ValueError):
            faults.apply(action, "1")


def test_id_source_spelling():
    assert IdSource("key").header is None
    assert IdSource("header:order").header == "order"
    with pytest.raises(BadInput, match="header:NAME"):
        IdSource("order")


def test_recorded_producer_adds_an_id_and_records_a_definite_failure(tmp_path):
    history = kchaos.History(tmp_path / "h.jsonl")
    producer = history.producer({"bootstrap.servers": "127.0.0.1:9", "message.max.bytes": 1000}, name="p")
    with pytest.raises(KafkaException, match="MSG_SIZE_TOO_LARGE"):  # raised before anything left the client
        producer.produce("t", value=b"x" * 5000)
    (send,) = history.events()
    me = producer.producer_id
    assert (send.id, send.producer, send.status, send.error) == (f"{me}-0", me, "fail", "MSG_SIZE_TOO_LARGE")
    id_, headers = producer._id(None, {"trace": b"1"}, 7)
    assert id_ == f"{me}-7" and ("id", f"{me}-7".encode()) in headers and ("trace", b"1") in headers
    again = history.producer({"bootstrap.servers": "127.0.0.1:9"}, name="p")  # a restarted process, say
    assert me.startswith("p-") and again.producer_id != me
    assert producer._id(None, [("id", b"order-17")], 8)[0] == "order-17"


def test_crash_point_stops_the_process_only_where_armed(tmp_path):
    history = kchaos.History(tmp_path / "h.jsonl")
    code = "import kchaos, time; kchaos.crash_point('other'); kchaos.crash_point('here'); time.sleep(30)"
    worker = kchaos.Worker([sys.executable, "-c", code], history, name="w")
    worker.start(crash_at="here")
    try:
        worker.wait_for_crash_point(20)
        assert procs.paused(worker.pid)
        worker.kill()
    finally:
        worker.stop(1)
    ops = [(e.__struct_config__.tag, getattr(e, "event", None) or getattr(e, "name", None)) for e in load(history.path)]
    assert ops == [("client", "crash-point"), ("fault", "kill-client")]
    unarmed = subprocess.run(
        [sys.executable, "-c", "import kchaos; kchaos.crash_point('here'); print('went on')"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert unarmed.stdout.strip() == "went on"


def test_a_worker_that_exits_before_its_crash_point_is_a_one_line_error(tmp_path):
    history = kchaos.History(tmp_path / "h.jsonl")
    worker = kchaos.Worker([sys.executable, "-c", "print('bye')"], history, name="quick")
    worker.start(crash_at="never")
    with pytest.raises(kchaos.ClusterError, match="exited .* before its crash point: bye"):
        worker.wait_for_crash_point(10)


def _clean() -> list[dict]:
    return [
        send_event("p-0", 0, 1.0),
        send_event("p-1", 1, 1.1),
        read_event("p-0", 0, 2.0, reader="drain", group=None),
        read_event("p-1", 1, 2.0, reader="drain", group=None),
        {"op": "drain", "reader": "drain", "topic": "t", "partition": 0, "end_offset": 2, "t": 2.1},
    ]


def test_assert_no_anomalies_passes_a_clean_history_and_returns_the_result():
    result = kchaos.assert_no_anomalies(_clean())
    assert result["anomalies"]["lost"] == 0


def test_assert_no_anomalies_names_the_finding():
    events = [e for e in _clean() if e.get("id") != "p-1" or e["op"] == "send"]
    with pytest.raises(kchaos.AnomaliesFound, match="kchaos found anomalies: lost 1") as err:
        kchaos.assert_no_anomalies(events)
    assert err.value.result["anomalies"]["lost"] == 1
    assert str(err.value).splitlines()[1].startswith("  finding: 1 acknowledged writes at offsets 1-1 of t-0")


def test_a_history_without_a_drain_is_not_a_pass():
    events = [e for e in _clean() if e["op"] == "send"]
    with pytest.raises(kchaos.AnomaliesFound, match="not drained to the end"):
        kchaos.assert_no_anomalies(events)


def test_check_takes_a_history_a_path_or_events(tmp_path):
    history = kchaos.History(tmp_path / "h.jsonl")
    for e in _clean():
        history.write(e)
    assert kchaos.check(history)["events"] == kchaos.check(history.path)["events"] == kchaos.check(_clean())["events"]
