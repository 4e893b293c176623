"""Named steps and workload faults: an experiment refers to them by name; unknown names
and bad arguments are refused when the step is made (the file loads), not mid-run."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from kchaos.errors import BadInput
from kchaos.events import Fault
from kchaos.faults.nemesis import Nemesis
from kchaos.faults.step import FaultStep
from kchaos.faults.steps import STEPS
from kchaos.history import HistoryWriter, load


def test_named_step_runs_with_its_arguments_and_unknown_is_refused(tmp_path):
    seen = []

    def record(ctx, value):
        seen.append((ctx.cluster, value))

    STEPS["test-record"] = record
    try:
        nemesis = Nemesis("cluster-stand-in", HistoryWriter(tmp_path / "h.jsonl"), random.Random(1))
        nemesis.run(FaultStep(do="step", args={"name": "test-record", "value": 3}))
        assert seen == [("cluster-stand-in", 3)]
        with pytest.raises(ValidationError, match="unknown step 'nope'"):
            FaultStep(do="step", args={"name": "nope"})
        with pytest.raises(ValidationError, match="missing a required argument: 'value'"):
            FaultStep(do="step", args={"name": "test-record", "valu": 3})
    finally:
        STEPS.pop("test-record", None)


def test_target_reference_to_an_unnamed_step_is_refused(tmp_path):
    nemesis = Nemesis("cluster-stand-in", HistoryWriter(tmp_path / "h.jsonl"), random.Random(1))
    with pytest.raises(BadInput, match=r"no earlier step named 'victim'"):
        nemesis.run(FaultStep(do="kill", target="$victim"))


class _Producer:
    def __init__(self, config):
        self.config, self.producer_name, self.crashes = config, "p", []

    def crash(self, zombie_sends=5):
        self.crashes.append(zombie_sends)


def test_crash_producer_needs_a_transactional_producer_that_exists(tmp_path):
    nemesis = Nemesis("cluster-stand-in", HistoryWriter(tmp_path / "h.jsonl"), random.Random(1))
    nemesis.producers = [_Producer({"acks": "all"}), _Producer({"transactional.id": "t-v0p1"})]
    with pytest.raises(BadInput, match="not transactional"):
        nemesis.run(FaultStep(do="crash-producer", target=0))
    with pytest.raises(BadInput, match=r"producers 0\.\.1"):
        nemesis.run(FaultStep(do="crash-producer", target=5))
    nemesis.run(FaultStep(do="crash-producer", target=1, args={"zombie_sends": 3}))
    assert nemesis.producers[1].crashes == [3]
    nemesis.history.close()
    faults = [e for e in load(tmp_path / "h.jsonl") if isinstance(e, Fault)]
    assert [(e.name, e.phase, e.args) for e in faults] == [
        ("crash-producer", "start", {"zombie_sends": 3}),
        ("crash-producer", "end", None),
    ]


def test_transaction_coordinator_partition_is_kafkas():
    from kchaos.cluster.inspect import java_string_hash, transaction_partition

    # Values of Java's String.hashCode, including the one whose abs() overflows.
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == -(2**31)
    assert transaction_partition("polygenelubricants", 50) == 0
    assert transaction_partition("hello", 50) == 99162322 % 50
    assert transaction_partition("kchaos-txn-v0p0", 10) == abs(java_string_hash("kchaos-txn-v0p0")) % 10
