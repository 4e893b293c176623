"""Report rendering and measurements on a synthetic run: no Kafka involved."""

from __future__ import annotations

import json
import xml.dom.minidom
from pathlib import Path
from types import SimpleNamespace

from kchaos.checker import build, check_index
from kchaos.checker import measurements as measure
from kchaos.checker.replication import replication_measurements
from kchaos.expectations import evaluate
from kchaos.experiment import Experiment
from kchaos.report import summary, write_report
from kchaos.results import RunResult, VariantResult
from tests.unit.histories import H

EXP = Experiment.model_validate(
    {
        "id": "demo",
        "question": "Does the demo hold?",
        "topics": [{"name": "t"}],
        "workload": {"topic": "t"},
        "variants": [{"name": "safe", "expect": ["lost == 0"]}, {"name": "unsafe", "expect": ["lost >= 1"]}],
    }
)


def history() -> H:
    h = H().send("p0-0", 0).send("p0-1", 1).fault("kill", "start")
    h.events.append({"op": "leader", "topic": "t", "partition": 0, "leader": 1, "isr": [1, 2, 3], "t": 0.0})
    h.send("p0-2", 2).send("p0-3", 3)
    h.events.append({"op": "leader", "topic": "t", "partition": 0, "leader": 2, "isr": [2, 3], "t": 0.08})
    h.fault("kill", "end")
    return h.drained(("p0-0", 0), ("p0-1", 1), ("p0-2", 2))


def variant(name: str, tmp: Path) -> VariantResult:
    ix = build(history().events)
    checked = check_index(ix)
    m = measure.all_measurements(ix, "t", checked)
    v = VariantResult(
        name,
        {"producer": {"acks": "all"}, "topic": {}},
        "t",
        tmp / f"history.{name}.jsonl",
        anomalies=checked["anomalies"],
        examples=checked["examples"],
        undrained=checked["undrained"],
        info=checked["info"],
        findings=checked["findings"],
        measurements=m,
        timelines=measure.timelines(ix),
    )
    v.faults = [{"name": f.name, "target": f.target, "phase": f.phase, "t": f.t} for f in ix.faults]
    v.expectations = [evaluate(e, v) for e in ("lost == 0",)]
    return v


def test_measurements_from_a_history():
    ix = build(history().events)
    m = measure.summary(ix)
    assert m["sends_ok"] == 4 and m["reads"] == 3
    w = measure.unavailability(ix)["after_faults"][0]
    assert w["fault"] == "kill" and w["per_partition_s"] == {"t-0": 0.025}
    r = replication_measurements(ix, "t")
    assert r["leader_changes"] == 1 and r["isr_min"] == 2 and r["isr_shrinks"] == 1 and r["isr_final"] == 2


def _measured(anomalies: dict, measurements: dict, settings: dict | None = None) -> SimpleNamespace:
    return SimpleNamespace(id="v", anomalies=anomalies, measurements=measurements, settings=settings or {})


def test_expectations_hold_or_not():
    assert evaluate("lost == 0", _measured({"lost": 0}, {}))["held"] is True
    assert evaluate("lost == 0", _measured({"lost": 3}, {}))["held"] is False
    p99 = {"produce_latency_ms": {"p99": 49.0}}
    assert evaluate("produce_latency_ms.p99 <= 50", _measured({}, p99))["held"] is True
    assert evaluate("unavailability_s > 0", _measured({}, {"unavailability_s": None}))["held"] is False
    within = _measured({}, {"unavailability_s": 7.5}, {"broker": {"broker.session.timeout.ms": 6000}})
    assert evaluate("unavailability_s <= 2 * broker:broker.session.timeout.ms / 1000", within)["held"] is True
    assert evaluate("unavailability_s <= broker:broker.session.timeout.ms / 1000", within)["held"] is False


def test_report_files(tmp_path):
    run = RunResult(EXP, "quick", 42, "local", "4.4.0", tmp_path / "20260101T000000Z-demo", "kchaos run demo --seed 42")
    run.variants = [variant("safe", tmp_path), variant("unsafe", tmp_path)]
    report = write_report(run)
    text = report.read_text()
    assert text.startswith("# Does the demo hold?")
    assert "lost | **1** | **1** |" in text, "the variants table shows the loss per variant"
    assert "verdict **FAIL**" in text and "kchaos run demo --seed 42" in text
    s = json.loads((run.run_dir / "summary.json").read_text())
    assert s == json.loads(json.dumps(summary(run), default=str))
    assert s["verdict"] == "FAIL" and s["variants"][0]["anomalies"]["lost"] == 1
    assert set(s["variants"][0]["measurements"]) >= {
        "sends_ok",
        "sends_unknown",
        "sends_failed",
        "throughput_per_s",
        "produce_latency_ms",
        "unavailability_s",
    }
    svgs = sorted(run.run_dir.glob("*.svg"))
    linked = {line.split("(")[1].rstrip(")") for line in text.splitlines() if line.startswith("![") and ".svg" in line}
    assert svgs and {p.name for p in svgs} == linked, "every plot the report shows exists, and only those"
    for svg in svgs:
        xml.dom.minidom.parse(str(svg))  # well-formed
    assert "demo" in (tmp_path / "index.md").read_text()
