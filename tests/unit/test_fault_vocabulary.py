"""The fault vocabulary is one table: experiment files, the nemesis and ``kchaos fault``
read it; mistakes in a file are one line naming file, line and field, exit 2, before
any cluster is touched (``kchaos validate`` and ``kchaos run`` alike)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from kchaos.cli import fault_app
from kchaos.cluster import targets
from kchaos.faults import actions

KCHAOS = [sys.executable, "-m", "kchaos"]

GOOD = """\
id: mine
question: "Does it hold?"
topics:
  - name: t
workload:
  topic: t
  consumers: {groups: 1, members: 1}
faults:
  - {at: 0, do: slow, target: "leader-of:t:0", as: victim, args: {latency_ms: 100, direction: in}}
  - {at: 1, do: kill, target: $victim}
  - {at: 2, do: start, target: $victim}
variants:
  - name: a
    producer: {acks: all}
    expect: [lost == 0, skipped == 0]
"""

BAD = {
    "mistyped fault argument": (
        ("args: {latency_ms: 100", "args: {latncy_ms: 100"),
        "mine.yaml:9: faults.0: slow has no argument 'latncy_ms' (its arguments: latency_ms, jitter_ms, direction, links)",
    ),
    "wrong argument type": (
        ("latency_ms: 100", "latency_ms: fast"),
        "mine.yaml:9: faults.0: latency_ms: expected int",
    ),
    "unknown target kind": (
        ('target: "leader-of:t:0"', 'target: "leadr-of:t:0"'),
        "mine.yaml:9: faults.0.target: target 'leadr-of:t:0': unknown kind 'leadr-of'",
    ),
    "undefined $name": (
        ("target: $victim}\n  - {at: 2", "target: $victm}\n  - {at: 2"),
        "mine.yaml:10: faults.1.target: $victm: no earlier step is named 'victm'",
    ),
    "unknown topic in a target": (
        ('"leader-of:t:0"', '"leader-of:orders:0"'),
        "mine.yaml:9: faults.0.target: leader-of:orders:0: no topic 'orders' in this experiment",
    ),
    "unknown step": (
        ("{at: 2, do: start, target: $victim}", "{at: 2, do: step, args: {name: inspect-logs}}"),
        "mine.yaml:11: faults.2: unknown step 'inspect-logs'; known: inspect-log, set-topic-config",
    ),
    "expectation that cannot fail": (
        ("expect: [lost == 0, skipped == 0]", "expect: [lost == 0, aborted-read == 0]"),
        "mine.yaml:15: variants.0.expect.1: aborted-read: could never be measured: variant 'a' has no txn",
    ),
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    return path


def test_good_file_validates_and_prints_the_plan(tmp_path):
    out = subprocess.run([*KCHAOS, "validate", str(write(tmp_path, GOOD))], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (
        "fault +0 s: slow leader-of:t:0 as victim (latency_ms=100, jitter_ms=0, direction=in, links=('repl', 'ctrl'))"
        in out.stdout
    )


@pytest.mark.parametrize("case", list(BAD))
@pytest.mark.parametrize("command", ["validate", "run"])
def test_mistake_is_one_line_exit_2_before_any_cluster(tmp_path, case, command):
    edit, words = BAD[case]
    assert edit[0] in GOOD
    path = write(tmp_path, GOOD.replace(*edit))
    home = tmp_path / "home"  # an empty kchaos home: no cluster can be attached or started from it
    args = [*KCHAOS, command, str(path)] + (["--cluster", "nowhere", "--no-live"] if command == "run" else [])
    out = subprocess.run(args, capture_output=True, text=True, env={**_env(), "KCHAOS_HOME": str(home)}, timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    assert words in out.stderr.replace("\n", " ") and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (home / "clusters").exists()


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_kchaos_fault_offers_exactly_the_cluster_wide_actions_with_their_arguments():
    group = typer.main.get_command(fault_app)
    commands = group.commands  # type: ignore[attr-defined]
    wide = {a.name: a for a in actions.cluster_wide()}
    assert set(commands) == set(wide)
    run_only = {a.name for a in actions.ACTIONS.values() if a.scope == "run"}
    clients = {"kill-client", "pause-client", "resume-client", "restart-client", "hang-client", "stop-client"}
    assert run_only == {"crash-producer", "step", "start-client", *clients}
    for name, cmd in commands.items():
        options = {p.name for p in cmd.params if p.param_type_name == "option"} - {"cluster"}
        assert options == {a.name for a in wide[name].args}, name
        positional = [p.name for p in cmd.params if p.param_type_name == "argument"]
        assert positional == {"node": ["target"], "pair": ["target", "to"], "none": []}[wide[name].target], name


def test_client_faults_need_consumers_in_processes(tmp_path):
    from kchaos import experiment as experiments
    from kchaos.errors import BadInput

    text = GOOD.replace("consumers: {groups: 1, members: 1}", "consumers: {groups: 1, members: 2}").replace(
        "{at: 2, do: start, target: $victim}", '{at: 2, do: kill-client, target: "consumer:0:1"}'
    )
    with pytest.raises(
        BadInput, match=r"mine.yaml:11: faults.2.target: consumer:0:1: client faults need consumers in processes"
    ):
        experiments.load(write(tmp_path, text))
    ok = experiments.load(write(tmp_path, text.replace("members: 2}", "members: 2, process: true}")))
    assert ok.workload.consumers.process
    with pytest.raises(BadInput, match="this workload has 1 groups of 2 members"):
        experiments.load(
            write(
                tmp_path,
                text.replace("members: 2}", "members: 2, process: true}").replace("consumer:0:1", "consumer:0:2"),
            )
        )
    with pytest.raises(BadInput, match="kill needs a node target, not 'consumer:0:1'"):
        experiments.load(
            write(
                tmp_path,
                text.replace("members: 2}", "members: 2, process: true}").replace("do: kill-client", "do: kill"),
            )
        )


def test_older_spellings_are_aliases():
    assert actions.action("reset_peer").name == "reset-peer"
    assert actions.action("crash_producer").name == "crash-producer"
    assert targets.parse("leader:t:0") == targets.parse("leader-of:t:0")
    assert targets.parse("follower:t:0:1").text() == "follower-of:t:0:1"
    assert actions.ACTIONS["slow"].bind({"kinds": ["repl"]})["links"] == ("repl",)


def test_every_action_is_in_the_docs():
    text = (Path(__file__).resolve().parents[2] / "docs" / "faults.md").read_text()
    from kchaos.faults.docs import render

    assert text == render(), "docs/faults.md is generated: run python -m kchaos.faults.docs > docs/faults.md"


def test_validate_lists_every_mistake_one_line_each(tmp_path):
    text = GOOD.replace("args: {latency_ms: 100", "args: {latncy_ms: 100").replace(
        "  - name: a\n", "  - name: a\n    colour: red\n"
    )
    text = text.replace("expect: [lost == 0, skipped == 0]", "expect: [lost == 0, aborted-read == 0]")
    out = subprocess.run([*KCHAOS, "validate", str(write(tmp_path, text))], capture_output=True, text=True)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 2, (
        out.stderr
    )  # the two schema errors; the whole-file checks need a valid file
    assert "faults.0: slow has no argument 'latncy_ms'" in lines[0] and "variants.0.colour: unknown field" in lines[1]
    fixed = text.replace("    colour: red\n", "").replace("latncy_ms", "latency_ms")
    out = subprocess.run([*KCHAOS, "validate", str(write(tmp_path, fixed))], capture_output=True, text=True)
    assert out.returncode == 2 and "aborted-read: could never be measured" in out.stderr
