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


class _Client:
    """A workload client in a process of its own, as the client executor sees it."""

    reader, pid, delivered, in_hand = "v0g0c1", 4242, 10, 0

    def __init__(self):
        self.calls = []

    def kill(self):
        self.calls.append("kill")

    def pause(self):
        self.calls.append("pause")

    def resume(self):
        self.calls.append("resume")

    def restart(self):
        self.calls.append("restart")


def test_every_action_has_an_executor_that_can_undo_what_it_opens():
    from kchaos.faults.actions import ACTIONS
    from kchaos.faults.executors import EXECUTORS

    assert {a.executor for a in ACTIONS.values()} == {*EXECUTORS, "heal"}
    assert ACTIONS["kill-client"].executor == "client" and ACTIONS["crash-producer"].executor == "producer"
    assert ACTIONS["slow"].executor == ACTIONS["kill"].executor == "cluster"


def test_a_client_fault_is_undone_by_its_executor_alone_and_heal_all_ends_the_rest(tmp_path):
    """Undoing one open client fault starts that client again (a paused one resumes) and
    leaves the other open; heal_all ends everything still open."""
    nemesis = Nemesis("cluster-stand-in", HistoryWriter(tmp_path / "h.jsonl"), random.Random(1))
    killed, paused = _Client(), _Client()
    nemesis.clients = {"consumer:0:1": killed, "consumer:0:2": paused}
    nemesis.run(FaultStep(do="kill-client", target="consumer:0:1"))
    nemesis.run(FaultStep(do="pause-client", target="consumer:0:2"))
    nemesis.undo(nemesis.open[0])
    assert killed.calls == ["kill", "restart"] and paused.calls == ["pause"]
    assert [f.name for f in nemesis.open] == ["pause-client"]
    nemesis.cluster = type("Healed", (), {"heal": lambda self: ["network healed"]})()
    assert nemesis.heal_all() == ["resumed consumer:0:2", "network healed"]
    assert paused.calls == ["pause", "resume"] and nemesis.open == []
    nemesis.history.close()
    ends = [(e.name, e.phase) for e in load(tmp_path / "h.jsonl") if isinstance(e, Fault)]
    assert ends == [
        ("kill-client", "start"),
        ("pause-client", "start"),
        ("kill-client", "end"),
        ("pause-client", "end"),
    ]
