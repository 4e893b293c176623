"""The suite's pure parts (selection, grouping, the budget's estimate, JUnit XML), profiles
(loading, laying under an experiment) and the comparison, on hand-made inputs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kchaos import experiment as experiments
from kchaos import profile as profiles
from kchaos.errors import BadInput
from kchaos.report.compare import compare
from kchaos.report.suite import junit, markdown
from kchaos.results import RunResult, SuiteEntry, SuiteResult, VariantResult
from kchaos.suite import estimate, need, plan, select


def test_select_names_the_closest_experiment_for_a_typo():
    with pytest.raises(BadInput, match="did you mean durability"):
        select(["durabilty"], None)
    assert "durability" not in select(None, ["durability"])
    assert select(["isr", "durability"], None) == ["durability", "isr"]  # catalog order


def test_plan_groups_experiments_by_the_cluster_they_need():
    groups = plan(list(experiments.catalog()), None)
    assert sum(len(g) for g in groups) == len(experiments.catalog())
    for g in groups:
        assert len({need(e) for e in g}) == 1
    assert len({need(g[0]) for g in groups}) == len(groups)


def test_estimate_counts_only_the_variants_the_mode_runs():
    exp = experiments.load(experiments.find("leader-failover"))
    quick = [v for v in exp.variants if not v.nightly_only]
    d = exp.quick
    assert estimate(exp, "quick") == pytest.approx(len(quick) * (d.steady + d.fault + d.recovery + 15))


def _run(tmp_path: Path, held: bool) -> RunResult:
    exp = experiments.load(experiments.find("leader-failover"))
    v = VariantResult("acks=all", {}, "t", tmp_path / "h.jsonl")
    v.expectations = [{"what": "lost == 0", "held": held, "value": 0 if held else 3}]
    v.findings = [] if held else [{"text": "3 acknowledged writes at offsets 4-6 of t-0 are missing"}]
    run = RunResult(exp, "quick", 1, "local", "4.4.0", tmp_path / "run", "kchaos run leader-failover")
    run.variants = [v]
    return run


def test_junit_has_a_testcase_per_variant_with_failed_expectations_as_the_message(tmp_path):
    result = SuiteResult("quick", tmp_path, "2026-11-27 10:00:00Z", seconds=70)
    result.entries = [
        SuiteEntry("leader-failover", "q", "FAIL", 40, _run(tmp_path, held=False)),
        SuiteEntry("durability", "q", "NOT RUN", why_not_run="budget: about 90 s needed, 10 s left"),
    ]
    root = ET.fromstring(junit(result))
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("2", "1", "1")
    failure = root.find("testcase[@classname='kchaos.leader-failover']/failure")
    assert failure.get("message") == "lost == 0 (measured 3)"
    assert "finding: 3 acknowledged writes" in failure.text
    assert root.find("testcase[@classname='kchaos.durability']/skipped").get("message").startswith("budget")
    assert "| durability | NOT RUN |" in markdown(result)


def test_a_profile_fills_in_and_variants_keep_their_own_values(tmp_path):
    path = tmp_path / "ours.yaml"
    path.write_text("kafka_version: 3.9.1\nbroker_config: {num.io.threads: 4}\nproducer: {acks: '1', linger.ms: 20}\n")
    prof = profiles.load(path)
    assert prof.name == "ours"
    exp, prov = profiles.apply(experiments.load(experiments.find("durability")), prof)
    acks_all = next(v for v in exp.variants if v.name == "acks=all, min.insync=2")
    assert acks_all.producer["acks"] == "all" and acks_all.producer["linger.ms"] == 20
    assert exp.cluster.broker_config["num.io.threads"] == 4
    assert {"key": "producer.acks", "profile": "1", "kept": "all", "where": "acks=all, min.insync=2"} in prov[
        "overridden"
    ]
    assert {"key": "kafka_version", "value": "3.9.1", "where": "cluster"} in prov["from_profile"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("producer: {acks: all}\nbrokers: 3\n", r"ours.yaml:2: brokers: unknown field 'brokers'"),
        ("producer: [1, 2\n", r"ours.yaml:\d+: not valid YAML"),
        ("- a list\n", "a profile is a mapping"),
    ],
)
def test_a_bad_profile_is_one_line_with_file_line_and_field(tmp_path, text, error):
    (tmp_path / "ours.yaml").write_text(text)
    with pytest.raises(BadInput, match=error):
        profiles.load(tmp_path / "ours.yaml")


def _summary(folder: Path, lost: int, p50: float, profile: str) -> Path:
    folder.mkdir(parents=True)
    variant = {
        "name": "v",
        "anomalies": {"lost": lost, "duplicate": 0},
        "expectations": [{"what": "lost == 0", "held": lost == 0, "value": lost}],
        "measurements": {"produce_latency_ms": {"p50": p50}, "leader_changes": 1},
    }
    data = {"experiment": "leader-failover", "verdict": "PASS" if lost == 0 else "FAIL", "kafka_version": "4.4.0"}
    data |= {"backend": "local", "profile": {"name": profile}, "variants": [variant]}
    (folder / "summary.json").write_text(json.dumps(data))
    return folder


def test_compare_marks_what_differs_and_leaves_noise_alone(tmp_path):
    a = _summary(tmp_path / "a", 0, 100.0, "eager")
    b = _summary(tmp_path / "b", 2, 105.0, "batching")
    text = compare(a, b)
    assert "| leader-failover | PASS | FAIL | **≠** |" in text
    assert "| anomaly lost | 0 | 2 | **≠** |" in text
    assert "| produce_latency_ms.p50 | 100 | 105 |  |" in text  # 5%: within the tolerance
    assert "| leader_changes | 1 | 1 |  |" in text
    with pytest.raises(BadInput, match="no summary.json"):
        compare(a, tmp_path / "missing")
