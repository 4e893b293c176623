"""How much of a quick run is the harness, not the experiment: a ratio per experiment.

For each run of a suite folder: wall time (the suite's own clock) against the time its
workload took (steady -> fault -> recovery, from each history's ``phase`` events, and
on until its consumer groups processed their last record). What is outside them is the harness: topic setup, waiting for groups, drain,
check, report, the heal and the wait for a full ISR before the next experiment. The bar
is 20% of each quick run; cluster start-up is reported on its own line (the suite
starts one cluster per shape, not per experiment). With --up it also times
``kchaos up`` per backend (docker only where a daemon answers).

    python bench/harness_overhead.py                     # runs kchaos suite --quick first
    python bench/harness_overhead.py --from reports/X-suite [--up]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

BAR = 0.20
#: A group member's delivery or processing of a record (drain readers have group null).
GROUP_WORK = re.compile(r'"op":"(?:read|process)","reader":"[^"]+","group":"[^"]+".*?"t":([0-9.]+)')


def workload_seconds(run_dir: Path) -> float:
    """Seconds of each variant's workload, summed: from its steady phase until its
    producers stopped (the drain phase) or its consumer groups processed their last
    record, whichever is later (slow consumers catching up are the experiment working)."""
    total = 0.0
    for history in run_dir.glob("history.*.jsonl"):
        text = history.read_text()
        t = {m[0]: float(m[1]) for m in re.findall(r'"op":"phase","name":"(\w+)","t":([0-9.]+)', text)}
        consumed = [float(x) for x in GROUP_WORK.findall(text)]
        if "steady" in t and "drain" in t:
            total += max([t["drain"], *consumed]) - t["steady"]
    return total


def overhead(suite: Path) -> list[tuple[str, float, float, float]]:
    """(experiment, wall s, workload s, share outside) per run of the suite."""
    data = json.loads((suite / "summary.json").read_text())
    rows = []
    for e in data["experiments"]:
        if not e.get("report"):
            continue
        work = workload_seconds((suite / e["report"]).parent)
        rows.append((e["experiment"], e["seconds"], work, 1 - work / e["seconds"] if e["seconds"] else 0.0))
    return rows


def time_up(backend: str) -> float | None:
    name = f"bench-up-{backend}"
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "kchaos", "up", "--backend", backend, "--cluster", name, "--base-port", "33000"],
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - t0
    subprocess.run([sys.executable, "-m", "kchaos", "down", "--cluster", name], capture_output=True)
    return seconds if done.returncode == 0 else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from", dest="source", type=Path, help="an existing suite folder (else run kchaos suite --quick)")
    ap.add_argument("--up", action="store_true", help="also time kchaos up per backend")
    args = ap.parse_args()
    suite = args.source
    if suite is None:
        out = Path("reports")
        subprocess.run([sys.executable, "-m", "kchaos", "suite", "--quick", "--report-dir", str(out), "--no-live"])
        suite = sorted(out.glob("*-suite"))[-1]
    rows = overhead(suite)
    print(f"{'experiment':22} {'wall s':>8} {'workload s':>10} {'outside':>8}")
    for exp, wall, work, share in rows:
        print(f"{exp:22} {wall:8.1f} {work:10.1f} {share:8.1%}{'  over the bar' if share > BAR else ''}")
    starts = [c for c in json.loads((suite / "summary.json").read_text())["cluster_starts"] if not c["reused"]]
    print(f"cluster start-up: {len(starts)} start(s), {sum(c['seconds'] for c in starts):.1f} s in all")
    if args.up:
        for backend in ("local", "docker"):
            s = time_up(backend)
            print(f"kchaos up --backend {backend}: " + (f"{s:.1f} s" if s is not None else "did not start here"))
    worst = max((r[3] for r in rows), default=0.0)
    print(f"largest share outside the workload phases: {worst:.1%} (bar {BAR:.0%})")
    return 0 if worst <= BAR else 1


if __name__ == "__main__":
    sys.exit(main())
