"""Time ``kchaos check`` on a clean history of about 1,000,000 events.

Prints wall time and peak memory of the check (a subprocess, so the numbers are its
own), and, as a reference measured in the same run, the time Python's own ``json``
takes just to parse the same file: the checker's ratio to that floor.
Budget (issue 3): <= 5 s and <= 1 GiB on a 2-core machine.

    python bench/checker.py [--events 1000000] [--keep PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson


def build(path: Path, events: int) -> int:
    """A clean history: 4 producers over 6 partitions, a 2-member group, a drain."""
    sends = events // 3
    partitions, offsets = 6, [0] * 6
    lines, reads, drains = [], [], []
    for i in range(sends):
        producer, seq = f"p{i % 4}", i // 4
        key = f"k{i % 1000}"
        part = (i % 1000) % partitions
        off = offsets[part]
        offsets[part] += 1
        t = i / 50_000
        lines.append(
            orjson.dumps(
                {
                    "op": "send",
                    "id": f"{producer}-{seq}",
                    "producer": producer,
                    "seq": seq,
                    "key": key,
                    "topic": "bench",
                    "status": "ok",
                    "partition": part,
                    "offset": off,
                    "t0": t,
                    "t1": t + 0.004,
                }
            )
        )
        reads.append(
            orjson.dumps(
                {
                    "op": "read",
                    "reader": f"c{part % 2}",
                    "group": "g",
                    "topic": "bench",
                    "partition": part,
                    "offset": off,
                    "id": f"{producer}-{seq}",
                    "key": key,
                    "t": t + 0.01,
                }
            )
        )
        drains.append(
            orjson.dumps(
                {
                    "op": "read",
                    "reader": "drain",
                    "group": None,
                    "topic": "bench",
                    "partition": part,
                    "offset": off,
                    "id": f"{producer}-{seq}",
                    "key": key,
                    "t": 30.0,
                    "isolation": "read_committed",
                }
            )
        )
    for part in range(partitions):
        drains.append(
            orjson.dumps(
                {
                    "op": "drain",
                    "reader": "drain",
                    "topic": "bench",
                    "partition": part,
                    "end_offset": offsets[part],
                    "t": 31.0,
                }
            )
        )
    everything = lines + reads + drains
    path.write_bytes(b"\n".join(everything) + b"\n")
    return len(everything)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--build-only", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_only:
        print(build(args.build_only, args.events))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "history.jsonl"
        # Built in a child: this process stays small, so the check's RSS is its own
        # (a forked child starts with its parent's resident pages counted).
        made = subprocess.run(
            [sys.executable, __file__, "--events", str(args.events), "--build-only", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        n = int(made.stdout)
        size_mb = path.stat().st_size / 1e6
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "kchaos", "check", str(path), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        stdout = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        took = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak_mib = usage.ru_maxrss / 1024
        start = time.perf_counter()
        with open(path, "rb") as f:
            for line in f:
                json.loads(line)
        ref = time.perf_counter() - start
        result = json.loads(stdout)
        anomalies = sum(result["anomalies"].values())
        print(f"history: {n} events, {size_mb:.0f} MB")
        print(f"kchaos check: {took:.2f} s, peak RSS {peak_mib:.0f} MiB, exit {proc.returncode}, anomalies {anomalies}")
        print(f"reference (json.loads of every line, no checking): {ref:.2f} s -> ratio {took / ref:.2f}x")
        ok = took <= 5.0 and peak_mib <= 1024 and proc.returncode == 0 and anomalies == 0
        print("within budget (<= 5 s, <= 1 GiB, clean)" if ok else "OVER BUDGET or not clean")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
