"""Renders ``docs/faults.md`` from the fault table, the target grammar and the named
steps, so the reference cannot drift from the code (a unit test compares them).

    python -m kchaos.faults.docs > docs/faults.md
"""

from __future__ import annotations

import inspect

from kchaos.cluster import targets
from kchaos.faults import actions
from kchaos.faults.steps import STEPS


def render() -> str:
    out = [
        "# Faults: actions, targets, steps",
        "",
        "Generated from `kchaos/faults/actions.py`, `kchaos/cluster/targets.py` and `kchaos/faults/steps/`",
        "(`python -m kchaos.faults.docs > docs/faults.md`). An experiment's `faults:` list holds",
        "steps `{at: SECONDS, do: ACTION, target: TARGET, to: TARGET, as: NAME, args: {...}}`;",
        "`at` counts from the start of the fault phase. Cluster-wide actions are also",
        "`kchaos fault ACTION` commands with the same arguments (`--latency-ms 200`); run-only",
        "ones need a running experiment. Every run ends healed (`heal`), also on Ctrl-C.",
        "",
        "## Actions",
        "",
        "| action | scope | target | arguments (default) | what it does |",
        "|---|---|---|---|---|",
    ]
    for a in actions.ACTIONS.values():
        args = "; ".join(
            f"`{x.name}` ({_default(x)})" + (f" [{'/'.join(x.choices)}]" if x.choices else "") for x in a.args
        )
        undo = f" Ends an open {' or '.join(a.undoes)}." if a.undoes else ""
        out.append(f"| `{a.name}` | {a.scope} | {a.target} | {args or '-'} | {a.help}{undo} |")
    aliases = ", ".join(f"`{old}` = `{new}`" for old, new in actions.ACTION_ALIASES.items())
    out += ["", f"Older spellings accepted: {aliases}; argument `kinds` = `links`.", "", "## Targets", ""]
    doc = inspect.getdoc(targets) or ""
    out += [line for line in doc.splitlines() if line.startswith("|")]
    out += ["", "## Named steps (`do: step, args: {name: NAME, ...}`)", ""]
    for name, fn in STEPS.items():
        params = list(inspect.signature(fn).parameters.values())[1:]
        shown = ", ".join(p.name + ("" if p.default is inspect.Parameter.empty else f"={p.default!r}") for p in params)
        first = (inspect.getdoc(fn) or "").split("\n\n")[0].replace("\n", " ")
        out.append(f"- `{name}` ({shown}): {first}")
    return "\n".join(out) + "\n"


def _default(arg: actions.Arg) -> str:
    return ",".join(arg.default) if isinstance(arg.default, tuple) else repr(arg.default)


if __name__ == "__main__":
    print(render(), end="")
