"""The README's table of experiments, made from the experiment files.

A table written by hand drifted from the files it described (it stated results the runs
did not check); this one says only what each experiment runs (its variants and its fault
schedule), and a unit test holds the README to it. The answers are the book's, from
claims the runs check.

    python -m kchaos.report.catalog --write README.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from kchaos import experiment

START, END = "<!-- catalog:start (python -m kchaos.report.catalog --write README.md) -->", "<!-- catalog:end -->"


def _faults(exp: experiment.Experiment) -> str:
    steps = sorted(exp.faults, key=lambda f: f.at)
    shown = [
        f"{s.args.get('name') if s.do == 'step' else s.do}"
        + (f" `{s.target}`" if s.target is not None else "")
        + f" at +{s.at:g} s"
        for s in steps
    ]
    own = [v.id for v in exp.variants if v.faults is not None]
    text = "; ".join(shown) or "none"
    return text + (f" (own schedules: {', '.join(own)})" if own else "")


def _variants(exp: experiment.Experiment) -> str:
    return "; ".join(f"{v.name}" + (" (nightly)" if v.nightly_only else "") for v in exp.variants)


def table() -> str:
    """One row per experiment, in the article's order."""
    exps = sorted(
        (experiment.load(p) for p in experiment.catalog().values()),
        key=lambda e: (experiment.number_key(e.number), e.id),
    )
    rows = ["| # | id | the article's question | variants | faults |", "|---|---|---|---|---|"]
    for e in exps:
        cells = [e.number or "", f"`{e.id}`", e.question, _variants(e), _faults(e)]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def block() -> str:
    return f"{START}\n{table()}\n{END}"


def write(readme: Path) -> None:
    """Replace the README's table between its markers."""
    text = readme.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + block() + tail)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write(Path(sys.argv[2]))
    else:
        print(table())
