"""Time ``kchaos check`` on two histories of about 1,000,000 events each.

- ``clean``: 4 producers over 6 partitions, a 2-member group, a read_committed drain.
- ``rich``: the same, plus what the commit- and transaction-aware checks work on: two of
  the producers are transactional (10 records a transaction, every 5th aborted), the
  group commits every 100 records, writes a ``process`` event per record, and
  rebalances every 20,000 records, re-delivering from its last commit; drains at both
  isolation levels.

For each: wall time and peak memory of the check (a subprocess, so the numbers are its
own), and, as a reference measured in the same run, the time Python's own ``json`` takes
just to parse the same file. Budget (issue 9): ratio <= 2x and <= 1 GiB, both histories
clean. Exit 0 when both are within it.

    python bench/checker.py [--events 1000000] [--only clean|rich]
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

PARTITIONS = 6


def build(path: Path, events: int, rich: bool) -> int:
    """Write one history; returns its number of events."""
    per_record = 5 if rich else 3  # send + group read + drain read (+ process + ru drain)
    records = events // per_record
    offsets = [0] * PARTITIONS
    logs: list[list[tuple[str, str, str | None, bool]]] = [[] for _ in range(PARTITIONS)]  # id, key, txn, visible
    out: list[bytes] = []
    seqs = [0, 0, 0, 0]
    members: dict[str, list[tuple[int, int]]] = {}  # open transaction -> its (partition, index)s
    dump = orjson.dumps
    for i in range(records):
        p = i % 4
        producer, seq = f"p{p}", seqs[p]
        seqs[p] += 1
        key = f"k{i % 1000}"
        part = (i % 1000) % PARTITIONS
        t = i / 50_000
        send = {
            "op": "send",
            "id": f"{producer}-{seq}",
            "producer": producer,
            "seq": seq,
            "key": key,
            "topic": "bench",
            "status": "ok",
            "partition": part,
            "offset": offsets[part],
            "t0": t,
            "t1": t + 0.004,
        }
        txn = None
        if rich and p < 2:
            txn = f"{producer}-x{seq // 10}"
            send["txn"] = txn
        out.append(dump(send))
        logs[part].append((send["id"], key, txn, True))
        offsets[part] += 1
        if txn is not None:
            members.setdefault(txn, []).append((part, len(logs[part]) - 1))
        if txn is not None and seq % 10 == 9:
            aborted = (seq // 10) % 5 == 4
            status = "abort" if aborted else "commit"
            out.append(dump({"op": "txn", "txn": txn, "producer": producer, "status": status, "t": t + 0.005}))
            touched = members.pop(txn)
            for q, j in touched if aborted else ():
                id_, k, x, _ = logs[q][j]
                logs[q][j] = (id_, k, x, False)
            for q in {q for q, _ in touched}:
                logs[q].append(("", "", None, False))  # the transaction's marker
                offsets[q] += 1
    t = records / 50_000 + 1
    for part in range(PARTITIONS):
        reader, committed, delivered = f"c{part % 2}", 0, 0
        if rich:
            out.append(dump({"op": "assign", "reader": reader, "group": "g", "partitions": [["bench", part]], "t": t}))
        off = 0
        while off < len(logs[part]):
            id_, key, _, visible = logs[part][off]
            if visible and id_:
                out.append(
                    dump(
                        {
                            "op": "read",
                            "reader": reader,
                            "group": "g",
                            "topic": "bench",
                            "partition": part,
                            "offset": off,
                            "id": id_,
                            "key": key,
                            "t": t,
                        }
                    )
                )
                if rich:
                    out.append(
                        dump(
                            {
                                "op": "process",
                                "reader": reader,
                                "group": "g",
                                "topic": "bench",
                                "partition": part,
                                "offset": off,
                                "id": id_,
                                "outcome": "ok",
                                "t": t,
                            }
                        )
                    )
                delivered += 1
            off += 1
            t += 0.00001
            if rich and off % 100 == 0:
                committed = off
                out.append(
                    dump(
                        {
                            "op": "commit",
                            "reader": reader,
                            "group": "g",
                            "topic": "bench",
                            "partition": part,
                            "offset": off,
                            "status": "ok",
                            "t": t,
                        }
                    )
                )
            if rich and delivered and delivered % 20_000 == 0 and off > committed:
                reader = reader + "'"  # a crash: a new member resumes at the last commit
                out.append(
                    dump({"op": "assign", "reader": reader, "group": "g", "partitions": [["bench", part]], "t": t})
                )
                delivered += 1
                off = committed
    for iso in ("read_committed", "read_uncommitted") if rich else ("read_committed",):
        for part in range(PARTITIONS):
            for off, (id_, key, _, visible) in enumerate(logs[part]):
                if id_ and (visible or iso == "read_uncommitted"):
                    out.append(
                        dump(
                            {
                                "op": "read",
                                "reader": f"drain-{iso}",
                                "group": None,
                                "topic": "bench",
                                "partition": part,
                                "offset": off,
                                "id": id_,
                                "key": key,
                                "t": t + 1,
                                "isolation": iso,
                            }
                        )
                    )
            out.append(
                dump(
                    {
                        "op": "drain",
                        "reader": f"drain-{iso}",
                        "topic": "bench",
                        "partition": part,
                        "end_offset": len(logs[part]),
                        "isolation": iso,
                        "t": t + 2,
                    }
                )
            )
    path.write_bytes(b"\n".join(out) + b"\n")
    return len(out)


def measure(path: Path) -> tuple[float, float, int, dict]:
    """Seconds, peak RSS (MiB), exit code and JSON of ``kchaos check --json``."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kchaos", "check", str(path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    stdout = proc.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - start
    return took, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), json.loads(stdout)


def reference(path: Path) -> float:
    start = time.perf_counter()
    with open(path, "rb") as f:
        for line in f:
            json.loads(line)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--only", choices=("clean", "rich"))
    ap.add_argument("--build-only", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_only:
        print(build(Path(args.build_only[0]), args.events, args.build_only[1] == "rich"))
        return
    ok = True
    for shape in [args.only] if args.only else ["clean", "rich"]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "history.jsonl"
            # Built in a child: this process stays small, so the check's RSS is its own.
            made = subprocess.run(
                [sys.executable, __file__, "--events", str(args.events), "--build-only", str(path), shape],
                capture_output=True,
                text=True,
                check=True,
            )
            took, peak, code, result = measure(path)
            ref = reference(path)
            anomalies = sum(result["anomalies"].values())
            within = took <= 2 * ref and peak <= 1024 and code == 0 and anomalies == 0
            ok &= within
            print(f"{shape}: {int(made.stdout)} events, {path.stat().st_size / 1e6:.0f} MB")
            print(
                f"  kchaos check: {took:.2f} s, peak RSS {peak:.0f} MiB, exit {code}, anomalies {anomalies}, "
                f"redelivered {result['info']['redelivered']}"
            )
            print(f"  reference (json.loads of every line): {ref:.2f} s -> ratio {took / ref:.2f}x")
            print("  within budget (<= 2x, <= 1 GiB, clean)" if within else "  OVER BUDGET or not clean")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
