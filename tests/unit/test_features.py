"""Kafka features a variant needs: declared in the file, checked against the cluster's
finalized levels (or its version), and a variant the cluster cannot run skipped with the
reason in the report, ``summary.json``, the claims and the JUnit XML, never failed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from kchaos import experiment as experiments
from kchaos import features
from kchaos.expectations import judge
from kchaos.report.suite import junit
from kchaos.report.writer import answer, summary
from kchaos.results import RunResult, SuiteEntry, SuiteResult, VariantResult
from tests.unit.test_experiment_files import one_line_error

# What Kafka 4.4.0's FeatureCommand printed on this machine's cluster (describe).
DESCRIBE_4_4 = """\
Feature: eligible.leader.replicas.version	SupportedMinVersion: 0	SupportedMaxVersion: 1	FinalizedVersionLevel: 1	Epoch: 188
Feature: group.version	SupportedMinVersion: 0	SupportedMaxVersion: 1	FinalizedVersionLevel: 1	Epoch: 188
Feature: metadata.version	SupportedMinVersion: 3.3-IV3	SupportedMaxVersion: 4.4-IV2	FinalizedVersionLevel: 4.4-IV2	Epoch: 188
Feature: share.version	SupportedMinVersion: 0	SupportedMaxVersion: 2	FinalizedVersionLevel: 2	Epoch: 188
Feature: transaction.version	SupportedMinVersion: 0	SupportedMaxVersion: 2	FinalizedVersionLevel: 2	Epoch: 188
"""


def test_finalized_levels_are_read_from_the_feature_tool():
    levels = features.parse_finalized(DESCRIBE_4_4)
    assert levels["group.version"] == 1 and levels["share.version"] == 2 and levels["transaction.version"] == 2


def test_a_feature_is_missing_by_version_or_by_its_finalized_level():
    assert features.missing(["kip-848"], "4.4.0", features.parse_finalized(DESCRIBE_4_4)) is None
    why = features.missing(["kip-848"], "3.9.1", None)
    assert why == "needs the consumer group protocol (KIP-848): Kafka 3.9.1 does not have it (from 4.0.0)"
    # A 4.4 broker whose cluster has not finalized share.version 2 has no share dead-letter queue.
    why = features.missing(["share-groups", "share-dlq"], "4.4.0", {"share.version": 1})
    assert why == "needs share groups' dead-letter queue (KIP-1191): this cluster finalized share.version at 1, not 2"
    assert features.missing(["elr"], "4.0.0", {}) is not None  # not finalized: level 0
    assert features.version_key("4.10.0") > features.version_key("4.4.0")


MINE = """\
id: mine
question: "Does it hold?"
topics:
  - name: t
workload:
  topic: t
  consumers: {members: 2}
variants:
  - name: a
    consumer: {group.protocol: consumer}
    requires: [kip-848]
    expect: [lost == 0]
"""


@pytest.mark.parametrize(
    "edit, words",
    [
        (("requires: [kip-848]", "requires: [kip848]"), "unknown feature 'kip848' (did you mean 'kip-848'?)"),
        (("    requires: [kip-848]\n", ""), "variant 'a' uses kip-848: add it to requires"),
    ],
)
def test_a_feature_is_declared_by_its_known_name(tmp_path, edit, words):
    one_line_error(tmp_path, MINE.replace(*edit), words)


def test_the_shipped_variants_that_need_a_feature_declare_it():
    protocol = experiments.load(experiments.find("rebalance-protocol"))
    assert next(v for v in protocol.variants if v.id == "kip848").requires == ["kip-848"]
    dlq = experiments.load(experiments.find("dead-letter-topic"))
    assert next(v for v in dlq.variants if v.id == "share").requires == ["share-groups", "share-dlq"]


def _skipped_run(tmp_path, ran: bool) -> RunResult:
    exp = experiments.load(experiments.find("rebalance-protocol"))
    run = RunResult(exp, "quick", 1, "local", "3.9.1", tmp_path / "run", "kchaos run rebalance-protocol")
    why = features.missing(["kip-848"], "3.9.1", None)
    run.skipped = [{"name": "consumer (KIP-848)", "id": "kip848", "why": why}]
    if ran:
        v = VariantResult("eager", {}, "t", tmp_path / "h.jsonl", id="eager")
        v.expectations = [{"what": "lost == 0", "held": True, "value": 0}]
        run.variants = [v]
    run.claims = [judge(c, {v.id: v for v in run.variants}, set(), {"kip848": why}) for c in exp.claims]
    return run


def test_a_variant_the_cluster_cannot_run_is_skipped_with_the_reason_everywhere(tmp_path):
    run = _skipped_run(tmp_path, ran=True)
    kip848 = [c for c in run.claims if "kip848" in c["variants"]]
    assert kip848 and all(c["held"] is None and "KIP-848" in c["skipped"] for c in kip848)
    assert summary(run)["skipped_variants"][0]["why"].startswith("needs the consumer group protocol")
    assert "Not run on this cluster: consumer (KIP-848) (needs the consumer group protocol" in answer(run)
    result = SuiteResult("quick", tmp_path, "2026-12-07 10:00:00Z", seconds=70)
    result.entries = [SuiteEntry("rebalance-protocol", "q", run.verdict, 40, run)]
    root = ET.fromstring(junit(result))
    skipped = root.find("testcase[@name='consumer (KIP-848)']/skipped")
    assert skipped is not None and "Kafka 3.9.1 does not have it" in skipped.get("message")


def test_an_experiment_with_no_variant_left_is_skip_not_fail(tmp_path):
    run = _skipped_run(tmp_path, ran=False)
    assert run.verdict == "SKIP"
    assert "No contrast is left" in answer(run)
    run.error = "the cluster failed"
    assert run.verdict == "FAIL"
    run.error = None
    result = SuiteResult("quick", tmp_path, "2026-12-07 10:00:00Z", seconds=70)
    result.entries = [SuiteEntry("rebalance-protocol", "q", run.verdict, 1, run)]
    assert result.passed


def test_a_topic_setting_of_a_missing_feature_is_left_out_even_with_no_variant_needing_it(tmp_path, monkeypatch):
    """``kchaos run dead-letter-topic --variant dedupe`` on a cluster without share.version
    2: no variant left needs the feature, but the dead-letter topic's own setting would be
    refused when the topic is created."""
    import kchaos.runner as runner_module

    exp = experiments.only_variants(experiments.load(experiments.find("dead-letter-topic")), ["dedupe"])
    assert all(not v.requires for v in exp.variants)
    monkeypatch.setattr(runner_module, "finalized_features", lambda cluster: {"share.version": 1})
    run = RunResult(exp, "quick", 1, "local", "4.4.0", tmp_path / "run", "kchaos run dead-letter-topic")
    runner = runner_module.Runner(exp, object(), run)
    assert runner._unavailable() == {}
    assert "share-dlq" in runner._missing_features and "share-groups" not in runner._missing_features


@pytest.mark.parametrize(
    "where",
    [
        "  - name: a\n    java_consumer: {group.protocol: consumer}\n",
        "  - name: a\n    pipeline: {config: {group.protocol: consumer}}\n",
    ],
)
def test_every_consumer_setting_counts_when_a_feature_is_used(tmp_path, where):
    text = MINE.replace("  - name: a\n    consumer: {group.protocol: consumer}\n    requires: [kip-848]\n", where)
    variant = experiments.Variant.model_validate({"name": "a", **_yaml_fields(where)})
    exp = experiments.Experiment.model_validate(
        {"id": "mine", "question": "q", "topics": [{"name": "t"}], "workload": {"topic": "t"}, "variants": [variant]}
    )
    assert "kip-848" in experiments.needed_features(exp, exp.variants[0]), text


def _yaml_fields(where: str) -> dict:
    import yaml

    return {k: v for k, v in yaml.safe_load(where)[0].items() if k != "name"}


@pytest.mark.parametrize(
    ("version", "role", "flag"),
    [
        ("4.4.0", "producer", "--command-config"),
        ("4.4.0", "consumer", "--command-config"),
        ("3.9.1", "producer", "--producer.config"),
        ("3.9.1", "consumer", "--consumer.config"),
        ("4.1.0", "producer", "--producer.config"),
    ],
)
def test_the_java_tools_get_their_config_through_the_flag_their_version_reads(version, role, flag):
    """Kafka 3.9.1's VerifiableProducer refused --command-config (a quick suite on 3.9.1:
    the Java producer of ordering-vs-scaling wrote nothing); 4.4 reads both spellings."""
    from kchaos.workload.java import config_flag

    assert config_flag(version, role) == flag
