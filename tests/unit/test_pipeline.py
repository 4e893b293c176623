"""The pipeline's pure parts: its measurements over hand-made histories (each contrast
occurs in one history and not in another), its crash points, its target, its experiment
fields, and the bar chart that compares variants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kchaos import experiment as experiments
from kchaos.checker import build, check
from kchaos.checker.pipelines import pipeline_measurements
from kchaos.cluster import targets
from kchaos.disk import parse_dump
from kchaos.errors import BadInput
from kchaos.faults import actions
from kchaos.patterns import worker as pattern_worker
from kchaos.report.svg import bar_chart
from kchaos.workload import pipeline

IN, OUT, GROUP = "in", "out", "pg"


def pipeline_history(
    outputs: list[int],
    deliveries: list[int] | None = None,
    committed_to: int | None = None,
    effects: list[int] | None = None,
    txn: bool = False,
) -> list[dict[str, Any]]:
    """Inputs i0.. at in:0 offsets 0..; input i gets ``outputs[i]`` committed outputs,
    is delivered ``deliveries[i]`` times and has ``effects[i]`` rows in the store."""
    n = len(outputs)
    deliveries = deliveries or [1] * n
    ev: list[dict[str, Any]] = []
    out_offset = 0
    for i in range(n):
        ev.append(_send(f"p0-{i}", IN, i, 0.1 * i))
        for _ in range(deliveries[i]):
            ev.append(_read(f"p0-{i}", IN, i, 0.1 * i + 0.01, GROUP, "w0"))
        for k in range(max(outputs[i], 1) if deliveries[i] else 0):
            out = f"w0-x-o{i}-{k}"
            send = _send(out, OUT, out_offset, 0.1 * i + 0.02, source=f"p0-{i}")
            if txn:
                send["txn"] = f"w0-x-t{i}-{k}"
                ev.append(
                    {"op": "txn", "txn": send["txn"], "producer": "w0-x", "status": "commit", "t": 0.1 * i + 0.04}
                )
            ev.append(send)
            process = {"op": "process", "reader": "w0", "group": GROUP, "topic": IN, "partition": 0}
            ev.append({**process, "offset": i, "id": f"p0-{i}", "outcome": "ok", "t": 0.1 * i + 0.03, "output": out})
            if k < outputs[i]:
                ev.append(_read(out, OUT, out_offset, 5.0, None, "drain-read_committed", source=f"p0-{i}"))
            out_offset += 1
    end = n if committed_to is None else committed_to
    ev.append(
        {
            "op": "commit",
            "reader": "w0",
            "group": GROUP,
            "topic": IN,
            "partition": 0,
            "offset": end,
            "status": "ok",
            "t": 4.0,
        }
    )
    for i in range(n):
        ev.append(_read(f"p0-{i}", IN, i, 5.0, None, "drain-read_committed"))
    for e, rows in enumerate(effects or []):
        ev += [{"op": "effect", "store": "s", "input": f"p0-{e}", "worker": "w0", "t": 1.0}] * rows
    for topic, end_offset in ((IN, n), (OUT, out_offset)):
        ev.append(
            {
                "op": "drain",
                "reader": "drain-read_committed",
                "topic": topic,
                "partition": 0,
                "end_offset": end_offset,
                "t": 6.0,
            }
        )
    return ev


def _send(id: str, topic: str, offset: int, t: float, source: str | None = None) -> dict[str, Any]:
    producer, seq = id.rsplit("-", 1)
    ev = {"op": "send", "id": id, "producer": producer, "seq": len(seq), "key": "k", "topic": topic}
    ev.update(status="ok", t0=t, t1=t + 0.005, partition=0, offset=offset)
    return {**ev, **({"input": source} if source else {})}


def _read(
    id: str, topic: str, offset: int, t: float, group: str | None, reader: str, source: str | None = None
) -> dict[str, Any]:
    ev = {"op": "read", "reader": reader, "group": group, "topic": topic, "partition": 0, "offset": offset}
    ev.update(id=id, key="k", t=t, isolation="read_committed")
    return {**ev, **({"input": source} if source else {})}


def measured(events: list[dict[str, Any]]) -> dict[str, Any]:
    return pipeline_measurements(build(events))


def test_exactly_once_output_has_no_loss_no_duplicate():
    m = measured(pipeline_history([1, 1, 1]))
    assert (m["pipeline_lost"], m["pipeline_duplicated"], m["pipeline_outputs"]) == (0, 0, 3)
    assert check(pipeline_history([1, 1, 1]))["anomalies"]["exactly-once-broken"] == 0


def test_an_input_committed_without_output_is_lost():
    events = pipeline_history([1, 0, 1])
    assert measured(events)["pipeline_lost"] == 1
    assert check(events)["anomalies"]["exactly-once-broken"] == 1


def test_an_input_past_the_last_commit_is_unprocessed_not_lost():
    m = measured(pipeline_history([1, 1, 0], committed_to=2))
    assert (m["pipeline_lost"], m["pipeline_unprocessed"]) == (0, 1)


def test_at_goes_with_pipeline_targets_only(tmp_path):
    text = PIPELINE_EXPERIMENT.replace('target: "pipeline:%s"', 'target: "consumer:0:%s"')
    text = text.replace("members: 1}", "members: 1, process: true}")
    _, errors = experiments.check(_write(tmp_path, text % (0, "{store: sqlite}", "{}")))
    assert any("'at' is a point of a worker's loop" in e for e in errors), errors


def test_an_input_output_twice_is_duplicated_and_redelivered():
    events = pipeline_history([1, 2, 1], deliveries=[1, 2, 1])
    m = measured(events)
    assert (m["pipeline_duplicated"], m["pipeline_redelivered"], m["pipeline_lost"]) == (1, 1, 0)
    assert check(events)["anomalies"]["exactly-once-broken"] == 1


def test_a_redelivery_whose_repeat_was_aborted_is_no_duplicate():
    m = measured(pipeline_history([1, 1, 1], deliveries=[1, 2, 1]))
    assert (m["pipeline_redelivered"], m["pipeline_duplicated"]) == (1, 0)


def test_side_effect_rows_counted_per_input():
    assert measured(pipeline_history([1, 1], effects=[2, 1]))["effects_duplicated"] == 1
    m = measured(pipeline_history([1, 1], effects=[1, 1]))
    assert (m["effects"], m["effects_duplicated"]) == (2, 0)
    assert "effects" not in measured(pipeline_history([1, 1]))


def test_latency_runs_to_the_commit_of_the_output_transaction():
    m = measured(pipeline_history([1, 1], txn=True))
    assert m["pipeline_latency_ms"]["p50"] == pytest.approx(40.0, abs=0.5)  # send at t, commit at t + 0.04
    assert measured(pipeline_history([1, 1]))["pipeline_latency_ms"]["p50"] == pytest.approx(25.0, abs=0.5)


def test_no_pipeline_no_pipeline_measurements():
    events = [_send("p0-0", IN, 0, 0.0), _read("p0-0", IN, 0, 1.0, None, "drain-read_committed")]
    assert measured(events) == {}


def _kill_history(abort_at: float | None) -> list[dict[str, Any]]:
    """Worker v0w0 killed at t=2 with transaction v0w0-x-txn-5 open (outputs at out:0
    offsets 10, 11); another writer's record at offset 12, read by a read_committed group
    at ``abort_at`` (never, with None)."""
    kill = {"op": "fault", "name": "kill-client", "target": "v0w0", "phase": "start", "t": 2.0}
    kill["args"] = {"at": "after-output", "reached": True}
    ev = [kill]
    for offset in (10, 11):
        s = _send(f"v0w0-x-{offset}", OUT, offset, 1.9)
        ev.append({**s, "txn": "v0w0-x-txn-5"})
    ev.append(_read("v0w1-y-1", OUT, 9, 2.5, "g", "c0"))  # below the open transaction: no proof
    if abort_at is not None:
        ev.append(_read("v0w1-y-2", OUT, 12, abort_at, "g", "c0"))
    ev.append(
        {
            "op": "process",
            "reader": "v0w0",
            "group": GROUP,
            "topic": IN,
            "partition": 0,
            "offset": 0,
            "id": "p0-0",
            "outcome": "ok",
            "t": 1.9,
            "output": "v0w0-x-10",
        }
    )
    return ev


def test_the_coordinators_timeout_abort_is_when_readers_get_past_the_open_transaction():
    assert measured(_kill_history(10.5))["txn_abort_after_kill_s"] == pytest.approx(8.5)
    # The coordinator's timeout runs from the transaction's start: its first record at 1.9.
    assert measured(_kill_history(10.5))["txn_abort_after_open_s"] == pytest.approx(8.6)
    assert measured(_kill_history(None))["txn_abort_after_kill_s"] is None
    assert measured(_kill_history(None))["txn_abort_after_open_s"] is None
    m = measured(_kill_history(10.5))
    assert (m["pipeline_kills"], m["pipeline_kills_at_point"]) == (1, 1)


def test_crash_points():
    assert pipeline.resolve_point("between", "at-most-once") == "after-commit"
    assert pipeline.resolve_point("between", "exactly-once") == "after-output"
    assert pipeline.resolve_point("after-commit", "at-least-once") == "after-commit"
    workers = set(pipeline.POINTS) | set(pattern_worker.POINTS)
    assert set(actions.AT.choices) - {""} == workers, "the fault's choices are the workers' points"


def test_pipeline_target():
    assert targets.parse("pipeline:1").text() == "pipeline:1"
    with pytest.raises(ValueError, match="pipeline:WORKER"):
        targets.parse("pipeline:x")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "e.yaml"
    path.write_text(text)
    return path


PIPELINE_EXPERIMENT = """\
id: e
question: q
topics: [{name: a, partitions: 1}, {name: b, partitions: 1}]
workload:
  topic: a
  pipeline: {output: b, workers: 2}
  consumers: {groups: 1, members: 1}
faults:
  - {at: 0, do: kill-client, target: "pipeline:%s", args: {at: between}}
variants:
  - name: one
    expect: [pipeline_lost == 0]
  - name: two
    pipeline: %s
    group: %s
    expect: [effects_duplicated == 0]
"""


def test_experiment_pipeline_fields_checked(tmp_path):
    ok = _write(tmp_path, PIPELINE_EXPERIMENT % (1, "{store: sqlite}", "{topic: b}"))
    exp = experiments.load(ok)
    two = exp.variants[1]
    assert experiments.pipeline_spec(exp, two).store == "sqlite"
    assert {"pipeline", "store", "txn"} <= experiments.capabilities(exp, two)
    assert experiments.group_spec(exp, two).topic == "b"
    _, errors = experiments.check(_write(tmp_path, PIPELINE_EXPERIMENT % (2, "{store: sqlite}", "{}")))
    assert any("pipeline:2: variant 'one' has 2 pipeline workers" in e for e in errors), errors
    _, errors = experiments.check(_write(tmp_path, PIPELINE_EXPERIMENT % (0, "{output: a}", "{}")))
    assert any("output: the pipeline's shape" in e for e in errors), errors
    _, errors = experiments.check(_write(tmp_path, PIPELINE_EXPERIMENT % (0, "{mode: twice}", "{topic: c}")))
    assert any("mode" in e for e in errors) and any("topic 'c'" in e for e in errors), errors
    _, errors = experiments.check(_write(tmp_path, PIPELINE_EXPERIMENT % (0, "{}", "{}")))
    assert any("effects_duplicated: could never be measured" in e for e in errors), errors


def test_only_variants(tmp_path):
    exp = experiments.load(_write(tmp_path, PIPELINE_EXPERIMENT % (0, "{store: sqlite}", "{}")))
    assert [v.name for v in experiments.only_variants(exp, ["TWO"]).variants] == ["two"]
    assert experiments.only_variants(exp, []) is exp
    with pytest.raises(BadInput, match="its variants: one; two"):
        experiments.only_variants(exp, ["three"])


def test_bar_chart_draws_each_variant_and_missing_values():
    svg = bar_chart("throughput per variant", [("a", 10.0), ("b", None), ("c", 2.5)], "records/s")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert svg.count("<rect") == 1 + 2 and "n/a" in svg and ">2.5<" in svg


def test_dump_batch_headers_name_the_idempotent_producer():
    dump = (
        "Dumping /d/00000000000000000000.log\n"
        "Log starting offset: 0\n"
        "baseOffset: 0 lastOffset: 4 count: 5 baseSequence: 0 lastSequence: 4 producerId: 7 producerEpoch: 0\n"
        "baseOffset: 5 lastOffset: 9 count: 5 baseSequence: -1 lastSequence: -1 producerId: -1 producerEpoch: -1\n"
    )
    info = parse_dump(dump)["00000000000000000000.log"]
    assert info["producer_ids"] == [7] and info["sequenced_batches"] == 1 and info["batches"] == 2
