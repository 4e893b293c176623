"""Named custom steps: an experiment refers to them by name; unknown names are refused."""

from __future__ import annotations

import random

import pytest

from kchaos.errors import BadInput
from kchaos.experiment import FaultStep
from kchaos.faults import STEPS, Nemesis, step
from kchaos.history import HistoryWriter


def test_named_step_runs_with_its_arguments_and_unknown_is_refused(tmp_path):
    seen = []

    @step("test-record")
    def record(cluster, nemesis, value):
        seen.append((cluster, value))

    try:
        nemesis = Nemesis("cluster-stand-in", HistoryWriter(tmp_path / "h.jsonl"), random.Random(1))
        nemesis.run(FaultStep(do="step", args={"name": "test-record", "value": 3}))
        assert seen == [("cluster-stand-in", 3)]
        with pytest.raises(BadInput, match="unknown step 'nope'"):
            nemesis.run(FaultStep(do="step", args={"name": "nope"}))
    finally:
        STEPS.pop("test-record", None)


def test_target_reference_to_an_unnamed_step_is_refused(tmp_path):
    nemesis = Nemesis("cluster-stand-in", HistoryWriter(tmp_path / "h.jsonl"), random.Random(1))
    with pytest.raises(BadInput, match=r"no earlier step named 'victim'"):
        nemesis.run(FaultStep(do="kill", target="$victim"))
