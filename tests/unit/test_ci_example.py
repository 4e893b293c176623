"""The GitHub Actions workflow users copy (examples/ci/kchaos-nightly.yml): it parses, it
runs nightly, every kchaos command in it is accepted by the CLI as written, and the
profile it points to loads."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer.main
import yaml

from kchaos import profile as profiles
from kchaos.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ci"


def _kchaos_commands(workflow: dict) -> list[list[str]]:
    out = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            for line in str(step.get("run", "")).splitlines():
                words = shlex.split(line, comments=True)
                if words and words[0] == "kchaos":
                    out.append(words[1:])
    return out


def test_the_nightly_workflow_parses_and_its_commands_exist():
    workflow = yaml.safe_load((EXAMPLES / "kchaos-nightly.yml").read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"][0]["cron"]
    commands = _kchaos_commands(workflow)
    assert [c[0] for c in commands] == ["suite", "book"]
    cli = typer.main.get_command(app)
    for args in commands:
        ctx = cli.make_context("kchaos", list(args), resilient_parsing=False)
        name, command, rest = cli.resolve_command(ctx, list(args))
        command.make_context(name, rest)  # raises on an unknown option or a bad value
    suite = commands[0]
    assert "--nightly" in suite and "--junit" in suite and suite[suite.index("--backend") + 1] == "docker"


def test_the_example_profile_loads():
    prof = profiles.load(EXAMPLES / "kchaos-profile.yaml")
    assert prof.name == "our-production" and prof.producer["linger.ms"] == 10
