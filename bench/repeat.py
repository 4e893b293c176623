"""Run experiments N times in quick mode and count how often each contrast showed.

One quick run is one sample: an experiment's expectations are its contrasts (eager
revokes more than cooperative, a crash is noticed at the session timeout, ...), and a
contrast that shows in 10 of 10 runs is a finding, one that shows in 6 of 10 is a race
to describe as such. Not a CI test: 10 runs of one experiment take 10 to 30 minutes.

For each experiment: per variant and expectation, the runs in which it held, and the
median and range of the measured value; then the verdicts. The runs share one cluster
(started once, from the first experiment's needs; experiments with other broker
settings get their own).

    python bench/repeat.py rebalance-protocol offset-commit -n 10 [--report-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from kchaos.session import execute


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiments", nargs="+")
    ap.add_argument("-n", type=int, default=10, help="runs per experiment")
    ap.add_argument("--report-dir", type=Path, default=None)
    args = ap.parse_args()
    out = args.report_dir or Path(tempfile.mkdtemp(prefix="kchaos-repeat-"))
    for exp in args.experiments:
        held: dict[tuple[str, str], list[bool]] = defaultdict(list)
        values: dict[tuple[str, str], list[float]] = defaultdict(list)
        verdicts: list[str] = []
        started = time.monotonic()
        for i in range(args.n):
            result = execute(exp, "quick", seed=1000 + i, report_dir=out)
            summary = json.loads((result.run_dir / "summary.json").read_text())
            verdicts.append(summary["verdict"])
            for v in summary["variants"]:
                for e in v["expectations"]:
                    held[(v["name"], e["what"])].append(bool(e["held"]))
                    if isinstance(e["value"], int | float):
                        values[(v["name"], e["what"])].append(float(e["value"]))
            print(f"{exp} run {i + 1}/{args.n}: {summary['verdict']}", file=sys.stderr, flush=True)
        minutes = (time.monotonic() - started) / 60
        print(f"\n## {exp}: {verdicts.count('PASS')} of {args.n} runs PASS ({minutes:.1f} min)\n")
        print("| variant | expectation | held | median | min | max |")
        print("|---|---|---|---|---|---|")
        for (variant, what), flags in held.items():
            vs = values.get((variant, what), [])
            stats = [f"{statistics.median(vs):g}", f"{min(vs):g}", f"{max(vs):g}"] if vs else ["-", "-", "-"]
            print(f"| {variant} | `{what}` | {sum(flags)} of {len(flags)} | " + " | ".join(stats) + " |")
    print(f"\nruns under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
