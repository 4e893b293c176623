"""Run experiments N times in quick mode and count how often each contrast showed.

One quick run is one sample: an experiment's expectations are its contrasts (eager
revokes more than cooperative, a crash is noticed at the session timeout, ...), and a
contrast that shows in 10 of 10 runs is a finding, one that shows in 6 of 10 is a race
to describe as such. Not a CI test: 10 runs of one experiment take 10 to 30 minutes.

For each experiment: per variant and expectation, the runs in which it held, and the
median and range of the measured value; then the verdicts. The runs of an experiment
share one cluster, as the tests' runs do: a running cluster that fits (``kchaos up``),
else one this script starts (``kchaos-bench``) and keeps for the next experiment that
fits it; an experiment with other broker settings gets a new one. It is healed and
waited for between runs, and taken down at the end.

    python bench/repeat.py rebalance-protocol offset-commit -n 10 [--load] [--backend local] [--save]

``--load`` is the one definition of "a busy machine" for every contrast: one CPU-bound
process at normal priority beside the cluster for the whole run (it spins until the runs
end, and stops by itself after ``--load-limit`` seconds at most). ``--save`` writes each
experiment's counts to ``bench/results/<id>.<quiet|loaded>.<backend>.json``, which
``kchaos book`` reads for its reproducibility lines.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from kchaos.cluster import start_fresh, teardown
from kchaos.cluster.inspect import wait_healthy
from kchaos.cluster.spec import ClusterSpec, config_text
from kchaos.cluster.spec import fits as spec_fits
from kchaos.errors import KchaosError
from kchaos.experiment import find, load
from kchaos.session import execute, running_cluster

BENCH_CLUSTER, BENCH_BASE_PORT = "kchaos-bench", 30500

RESULTS = Path(__file__).resolve().parent / "results"


def _spin(seconds: float) -> None:
    """The load: one core busy with arithmetic, bounded in time."""
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        for i in range(100_000):
            x = (x * 31 + i) % 1_000_003


def start_load(limit_s: float) -> multiprocessing.Process:
    proc = multiprocessing.Process(target=_spin, args=(limit_s,), daemon=True)
    proc.start()
    return proc


def save(
    exp: str, args: argparse.Namespace, verdicts: list[str], rows: list[dict], meta: dict, not_started: int = 0
) -> Path:
    RESULTS.mkdir(exist_ok=True)
    kind = "loaded" if args.load else "quiet"
    path = RESULTS / f"{exp}.{kind}.{meta.get('backend', args.backend)}.json"
    data = {
        "experiment": exp,
        "mode": "quick",
        "load": kind,
        "backend": meta.get("backend", args.backend),
        "kafka_version": meta.get("kafka_version"),
        "runs": len(verdicts),
        "passed": verdicts.count("PASS"),
        "not_started": not_started,
        "checks": rows,
        "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python bench/repeat.py " + " ".join(sys.argv[1:]),
    }
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiments", nargs="+")
    ap.add_argument("-n", type=int, default=10, help="runs per experiment")
    ap.add_argument("--report-dir", type=Path, default=None)
    ap.add_argument("--load", action="store_true", help="one CPU-bound process beside the cluster (a busy machine)")
    ap.add_argument("--load-limit", type=float, default=6 * 3600, help="seconds the load runs at most")
    ap.add_argument("--backend", default="local")
    ap.add_argument("--save", action="store_true", help="write bench/results/<id>.<quiet|loaded>.<backend>.json")
    args = ap.parse_args()
    out = args.report_dir or Path(tempfile.mkdtemp(prefix="kchaos-repeat-"))
    load = start_load(args.load_limit) if args.load else None
    owned: list = []
    try:
        for exp in args.experiments:
            repeat(exp, args, out, owned)
    finally:
        if load is not None:
            load.terminate()
            load.join(5)
        for cluster in owned:
            teardown(cluster.name)
    print(f"\nruns under {out}")
    return 0


def cluster_for(exp_id: str, backend: str, owned: list):
    """A cluster that fits the experiment: a running one, else this script's own
    (started, or started again with the experiment's broker settings)."""
    exp = load(find(exp_id))
    need = exp.cluster
    for cluster in owned:
        if spec_fits(cluster.spec, need.brokers, need.controllers, need.broker_config, need.features):
            return cluster
    if (cluster := running_cluster(exp, backend)) is not None:
        return cluster
    for cluster in owned:
        teardown(cluster.name)
    owned.clear()
    spec = ClusterSpec(
        brokers=need.brokers,
        controllers=need.controllers,
        features=dict(need.features),
        broker_config={k: config_text(v) for k, v in need.broker_config.items()},
        name=BENCH_CLUSTER,
        base_port=BENCH_BASE_PORT,
    )
    cluster, _ = start_fresh(spec, backend)
    owned.append(cluster)
    return cluster


def repeat(exp: str, args: argparse.Namespace, out: Path, owned: list) -> None:
    """N quick runs of one experiment: how often each expectation and claim held."""
    held: dict[tuple[str, str], list[bool]] = defaultdict(list)
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    verdicts: list[str] = []
    meta: dict = {}
    not_started = 0
    started = time.monotonic()
    for i in range(args.n):
        try:
            cluster = cluster_for(exp, args.backend, owned)
            result = execute(exp, "quick", seed=1000 + i, report_dir=out, backend=args.backend, cluster=cluster)
        except KchaosError as err:  # the cluster did not start (a port still held, ...): no sample
            not_started += 1
            print(f"{exp} run {i + 1}/{args.n}: not started ({err})", file=sys.stderr, flush=True)
            time.sleep(10)
            continue
        try:
            wait_healthy(cluster)
        except KchaosError:  # not healthy again: the next run gets a new cluster
            for c in owned:
                teardown(c.name)
            owned.clear()
        summary = json.loads((result.run_dir / "summary.json").read_text())
        verdicts.append(summary["verdict"])
        meta = {"backend": summary.get("backend"), "kafka_version": summary.get("kafka_version")}
        for v in summary["variants"]:
            for e in v["expectations"]:
                held[(v["name"], e["what"])].append(bool(e["held"]))
                if isinstance(e["value"], int | float):
                    values[(v["name"], e["what"])].append(float(e["value"]))
        for c in summary.get("claims", []):
            if c["held"] is not None:
                held[("(claim)", c["holds"])].append(bool(c["held"]))
        print(f"{exp} run {i + 1}/{args.n}: {summary['verdict']}", file=sys.stderr, flush=True)
        if args.save:  # after every run: a repeat stopped early keeps the runs it made
            save(exp, args, verdicts, _rows(held), meta, not_started)
    minutes = (time.monotonic() - started) / 60
    print(
        f"\n## {exp}: {verdicts.count('PASS')} of {len(verdicts)} runs PASS, {not_started} not started ({minutes:.1f} min)\n"
    )
    print("| variant | expectation | held | median | min | max |")
    print("|---|---|---|---|---|---|")
    for (variant, what), flags in held.items():
        vs = values.get((variant, what), [])
        stats = [f"{statistics.median(vs):g}", f"{min(vs):g}", f"{max(vs):g}"] if vs else ["-", "-", "-"]
        print(f"| {variant} | `{what}` | {sum(flags)} of {len(flags)} | " + " | ".join(stats) + " |")
    if args.save and verdicts:
        print(f"saved {save(exp, args, verdicts, _rows(held), meta, not_started)}")


def _rows(held: dict[tuple[str, str], list[bool]]) -> list[dict]:
    return [{"variant": k[0], "what": k[1], "held": sum(f), "of": len(f)} for k, f in held.items()]


if __name__ == "__main__":
    sys.exit(main())
