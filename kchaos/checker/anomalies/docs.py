"""Renders the generated tables of ``docs/anomalies.md`` from the families: each kind
with its family and the first paragraph of its check's docstring, and what each kind
needs from the workload. A unit test compares them with the file, so the reference
cannot drift from the checks.

    python -m kchaos.checker.anomalies.docs   # prints both tables
"""

from __future__ import annotations

import inspect

from kchaos.checker.anomalies import CHECKS, NEEDS, family_of

#: What each need means, in the needs table's order.
NEED_MEANINGS = {
    "group": "consumer groups: group reads, commits, rebalances",
    "txn": "transactional producers",
    "keyed": "records with keys",
    "pipeline": "outputs that name their input",
}


def definition(kind: str) -> str:
    """The first paragraph of the kind's check docstring, on one line."""
    doc = inspect.getdoc(CHECKS[kind]) or ""
    return " ".join(doc.split("\n\n")[0].split()).replace("``", "`")


def kinds_table() -> str:
    rows = ["| kind | family | definition |", "|---|---|---|"]
    rows += [f"| [`{k}`](#{k}) | {family_of(k)} | {definition(k)} |" for k in CHECKS]
    return "\n".join(rows)


def needs_table() -> str:
    rows = ["| needs | meaning | kinds |", "|---|---|---|"]
    for need, meaning in NEED_MEANINGS.items():
        kinds = ", ".join(f"`{k}`" for k in CHECKS if need in NEEDS[k])
        rows.append(f"| `{need}` | {meaning} | {kinds} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(kinds_table(), "", needs_table(), sep="\n")
