"""Experiment files: the shipped ones load; bad ones get one error naming file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from kchaos import experiment as experiments
from kchaos.errors import BadInput

GOOD = """\
id: mine
question: "Does it hold?"
topics:
  - name: t
workload:
  topic: t
variants:
  - name: a
    producer: {acks: all}
    expect: [lost == 0]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    return path


def test_every_shipped_experiment_loads():
    catalog = experiments.catalog()
    assert {"leader-failover", "broker-failure", "durability", "isr", "unclean-election", "network-partition"} <= set(
        catalog
    )
    for exp_id, path in catalog.items():
        exp = experiments.load(path)
        assert exp.id == exp_id, f"{path}: id must equal the file name"
        assert all(v.expect for v in exp.variants), f"{exp_id}: every variant states what it expects"


def test_good_file_loads_with_defaults(tmp_path):
    exp = experiments.load(write(tmp_path, GOOD))
    assert exp.cluster.brokers == 3 and exp.quick.steady == 5 and exp.variants[0].expect == ["lost == 0"]


@pytest.mark.parametrize(
    "edit, words",
    [
        (("  - name: a\n", "  - name: a\n    colour: red\n"), "mine.yaml:9: variants.0.colour: unknown field 'colour'"),
        (
            ("expect: [lost == 0]", "expect: [lots == 0]"),
            "mine.yaml:10: variants.0.expect.0: lots: unknown name 'lots' (did you mean lost",
        ),
        (("expect: [lost == 0]", "expect: [lost is zero]"), "write one comparison"),
        (("  topic: t\n", "  topic: nope\n"), "workload.topic 'nope' is not among topics ['t']"),
        (('question: "Does it hold?"\n', ""), "mine.yaml:1: question: required field is missing"),
        (("topics:\n", "topics: [\n"), "not valid YAML"),
        (("variants:\n", "faults: [{do: explode}]\nvariants:\n"), "mine.yaml:7: faults.0.do: unknown action 'explode'"),
    ],
)
def test_bad_file_names_file_line_and_field(tmp_path, edit, words):
    one_line_error(tmp_path, GOOD.replace(*edit), words)


def one_line_error(tmp_path: Path, text: str, words: str) -> None:
    """Loading ``text`` fails with one line that contains ``words``."""
    with pytest.raises(BadInput) as err:
        experiments.load(write(tmp_path, text))
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_experiment_suggests_closest_names():
    with pytest.raises(BadInput, match="did you mean leader-failover"):
        experiments.find("leader-failovr")


def test_missing_file():
    with pytest.raises(BadInput, match="no such experiment file"):
        experiments.find("./nowhere.yaml")


def test_list_json():
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "kchaos", "list", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {"leader-failover", "isr"} <= {r["id"] for r in rows}
    assert all(set(r) >= {"id", "question", "cluster", "file"} for r in rows)


def test_run_unknown_experiment_is_one_line_exit_2():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "kchaos", "run", "durabilty"], capture_output=True, text=True)
    assert out.returncode == 2 and "did you mean durability" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


GROUP = """\
id: mine
question: "Does it hold?"
topics:
  - name: t
workload:
  topic: t
  consumers: {members: 2, standby: 1, process: true, java_members: 1}
faults:
  - {at: 0, do: start-client, target: "consumer:0:3"}
variants:
  - name: a
    expect: [lost == 0]
"""


@pytest.mark.parametrize(
    "edit, words",
    [
        (
            ("  - name: a\n", "  - name: a\n    consumer: {group.protocol: consumer, session.timeout.ms: 6000}\n"),
            "mine.yaml:12: variants.0.consumer.session.timeout.ms: variant 'a': session.timeout.ms is rejected"
            " with group.protocol=consumer",
        ),
        (
            ("  - name: a\n", "  - name: a\n    group: {commit: sometimes}\n"),
            "variants.0.group.commit: commit: Input should be",
        ),
        (("  - name: a\n", "  - name: a\n    group: {members: 5}\n"), "members: the group's shape is the workload's"),
        (("consumer:0:3", "consumer:0:2"), "start-client consumer:0:2: a Java member can be killed, paused or"),
        (("consumer:0:3", "consumer:0:4"), "consumer:0:4: this workload has 1 groups of 4 members"),
        ((", process: true", ""), "workload.consumers.standby: standby members are started by start-client"),
        (("expect: [lost == 0]", "expect: [rebalance.join.revokd >= 1]"), "unknown name 'rebalance.join.revokd'"),
    ],
)
def test_bad_consumer_settings_are_one_line_at_load(tmp_path, edit, words):
    one_line_error(tmp_path, GROUP.replace(*edit), words)


def test_a_variants_group_settings_override_the_workloads(tmp_path):
    exp = experiments.load(write(tmp_path, GROUP.replace("  - name: a\n", "  - name: a\n    group: {commit: store}\n")))
    assert experiments.group_spec(exp, exp.variants[0]).commit == "store"
    assert exp.workload.consumers.commit == "sync"


def test_every_shipped_experiment_has_a_test_that_runs_it():
    """CI runs each experiment once (quick, on the shared cluster): an experiment file
    that no integration or docker test names would ship untested."""
    root = Path(__file__).resolve().parents[2] / "tests"
    text = "\n".join(p.read_text() for d in ("integration", "docker") for p in (root / d).glob("test_*.py"))
    untested = [e for e in experiments.catalog() if f'"{e}"' not in text and f"'{e}'" not in text]
    assert untested == [], f"no test runs {untested}: add one to tests/integration/"
