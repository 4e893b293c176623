"""The table of how often each contrast held, quiet against loaded, from the counts
``bench/repeat.py --save`` wrote under ``bench/results/``.

A contrast is a claim of the experiment (a sentence of its answer): one row per claim
with "held N of M" for each load, and a row for every variant expectation that did not
hold in every run. An experiment with no saved runs of a load shows "–" there.

    python bench/results_table.py [--results bench/results] [--backend local]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
LOADS = ("quiet", "loaded")


def read(results: Path, backend: str) -> dict[str, dict[str, dict]]:
    """experiment -> load -> the saved counts."""
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for f in sorted(results.glob(f"*.*.{backend}.json")):
        data = json.loads(f.read_text())
        out[data["experiment"]][data["load"]] = data
    return out


def rows(exp: str, by_load: dict[str, dict]) -> list[str]:
    """Markdown rows of one experiment: its claims, then expectations that failed once."""
    counts: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    order: list[tuple[str, str]] = []
    for load in LOADS:
        for c in by_load.get(load, {}).get("checks", []):
            key = (c["variant"], c["what"])
            if key not in counts:
                order.append(key)
            counts[key][load] = f"{c['held']} of {c['of']}"
    out = []
    for key in order:
        variant, what = key
        cells = counts[key]
        claim = variant == "(claim)"
        whole = all(a == b for a, _, b in (c.partition(" of ") for c in cells.values()))
        if not claim and whole:
            continue
        label = f"`{what}`" if claim else f"{variant}: `{what}` (expectation)"
        out.append(f"| {exp} | {label} | {cells.get('quiet', '–')} | {cells.get('loaded', '–')} |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--backend", default="local")
    args = ap.parse_args()
    found = read(args.results, args.backend)
    print("| experiment | contrast | held, quiet | held, loaded |")
    print("|---|---|---|---|")
    for exp in sorted(found):
        for line in rows(exp, found[exp]):
            print(line)
    print()
    for exp in sorted(found):
        runs = ", ".join(
            f"{load}: {d['passed']} of {d['runs']} runs PASS"
            + (f", {d['not_started']} not started" if d.get("not_started") else "")
            for load, d in sorted(found[exp].items())
        )
        print(f"- {exp}: {runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
