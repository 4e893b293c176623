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


# --- pathological shapes (issue 23): each built at a size and at twice it ---------------------


def _send(i: int, producer: str, seq: int, part: int, offset: int, t: float, **extra) -> dict:
    return {
        "op": "send", "id": f"{producer}-{seq}", "producer": producer, "seq": seq, "key": f"k{i % 97}",
        "topic": "bench", "status": "ok", "partition": part, "offset": offset, "t0": t, "t1": t + 0.004, **extra,
    }  # fmt: skip


def _read(id_: str, reader: str, group: str | None, part: int, offset: int, t: float) -> dict:
    ev = {"op": "read", "reader": reader, "group": group, "topic": "bench", "partition": part, "offset": offset}
    return {**ev, "id": id_, "key": None, "t": t, **({"isolation": "read_committed"} if group is None else {})}


def _drain(part: int, end: int, t: float) -> dict:
    ev = {"op": "drain", "reader": "drain-read_committed", "topic": "bench", "partition": part, "end_offset": end}
    return {**ev, "isolation": "read_committed", "t": t}


def _fault(name: str, target: str, phase: str, t: float, **args) -> dict:
    return {"op": "fault", "name": name, "target": target, "phase": phase, "t": t, **({"args": args} if args else {})}


def shape_soak(n: int) -> list[dict]:
    """A soak: n lines of produce, consume (a group that re-reads after each kill) and
    drain, with one kill/restart of a node and of a member per 1,000 lines."""
    out: list[dict] = []
    records = n // 3
    faults = max(1, n // 1000)
    every = max(1, records // faults)
    for i in range(records):
        t = i / 1000
        out.append(_send(i, "p0", i, 0, i, t))
        out.append(_read(f"p0-{i}", f"c{i // every}", "g", 0, i, t + 0.01))
        if i % every == every - 1:
            out.append({"op": "commit", "reader": f"c{i // every}", "group": "g", "topic": "bench", "partition": 0,
                        "offset": i - 5, "status": "ok", "t": t + 0.02})  # fmt: skip
            out.append(_fault("kill", "2", "start", t + 0.03))
            out.append(_fault("kill-client", f"c{i // every}", "start", t + 0.03, **{"as": "crash"}))
            out.append({"op": "assign", "reader": f"c{i // every + 1}", "group": "g", "partitions": [["bench", 0]],
                        "t": t + 0.04})  # fmt: skip
            for j in range(i - 4, i + 1):  # re-delivered from the commit
                out.append(_read(f"p0-{j}", f"c{i // every + 1}", "g", 0, j, t + 0.05))
            out.append(_fault("kill", "2", "end", t + 0.06))
            out.append(_fault("kill-client", f"c{i // every}", "end", t + 0.06, by="restart-client"))
    for i in range(records):
        out.append(_read(f"p0-{i}", "drain-read_committed", None, 0, i, records))
    out.append(_drain(0, records, records + 1))
    return out


def shape_rebalances(n: int) -> list[dict]:
    """n lines that are mostly rebalance callbacks, with one client fault per 32 lines."""
    out: list[dict] = []
    faults = n // 32
    t = 0.0
    for k in range(faults):
        out.append(_fault("kill-client" if k % 2 else "start-client", f"c{k % 50}", "start", t))
        for m in range(30):
            op = ("assign", "revoke", "lost")[m % 3]
            out.append(
                {"op": op, "reader": f"c{m}", "group": "g", "partitions": [["bench", m % 8]], "t": t + 0.001 * m}
            )
        out.append(_fault("kill-client" if k % 2 else "start-client", f"c{k % 50}", "end", t + 0.05))
        t += 1.0
    out.append(_send(0, "p0", 0, 0, 0, 0.0))
    out.append(_read("p0-0", "c0", "g", 0, 0, 0.5))
    out.append(_read("p0-0", "c1", "g", 0, 0, t))  # a re-delivery: its cause is looked up
    out += [_read("p0-0", "drain-read_committed", None, 0, 0, t + 1), _drain(0, 1, t + 2)]
    return out


def shape_faults(n: int) -> list[dict]:
    """n lines, a sixth of them faults on as many targets, and anomalies spread over them
    (findings look up the fault of each)."""
    out: list[dict] = []
    records = n // 3
    for i in range(records):
        t = i / 100
        out.append(_send(i, "p0", i, 0, i, t))
        if i % 2 == 0:
            out.append(_fault("pause", str(i % 7), "start", t + 0.001))
            out.append(_fault("pause", str(i % 7), "end", t + 0.002))
        if i % 3 == 0:  # a duplicate: one finding per record
            out.append(_read(f"p0-{i}", "drain-read_committed", None, 1, i, records))
    for i in range(records):
        out.append(_read(f"p0-{i}", "drain-read_committed", None, 0, i, records))
    out += [_drain(0, records, records + 1), _drain(1, records, records + 1)]
    return out


def shape_groups(n: int) -> list[dict]:
    """One partition of n/4 records read by n/100 groups: each group reads and commits
    its first 25 records (the skip check's range per group is small, the partition large)."""
    out: list[dict] = []
    records = n // 4
    for i in range(records):
        out.append(_send(i, "p0", i, 0, i, i / 1000))
    groups = n // 100
    for g in range(groups):
        base = 0
        for j in range(base, base + 25):
            out.append(_read(f"p0-{j}", f"c{g}", f"g{g}", 0, j, records / 1000 + g))
        out.append({"op": "commit", "reader": f"c{g}", "group": f"g{g}", "topic": "bench", "partition": 0,
                    "offset": base + 25, "status": "ok", "t": records / 1000 + g + 0.5})  # fmt: skip
    for i in range(records):
        out.append(_read(f"p0-{i}", "drain-read_committed", None, 0, i, records + groups))
    out.append(_drain(0, records, records + groups + 1))
    return out


def shape_partitions(n: int) -> list[dict]:
    """n/4 partitions, each with one acknowledged record, and as many unknown sends of
    committed transactions that no reader saw (each judged against every partition)."""
    out: list[dict] = []
    parts = n // 4
    for p in range(parts):
        out.append(_send(p, "p0", p, p, 0, 0.0))
        out.append(_read(f"p0-{p}", "drain-read_committed", None, p, 0, 5.0))
        out.append(_drain(p, 1, 6.0))
        unknown = _send(p, "p1", p, p, 0, 1.0, txn=f"x{p}")
        unknown.update(status="unknown", partition=None, offset=None)
        out.append(unknown)
    out += [{"op": "txn", "txn": f"x{p}", "producer": "p1", "status": "commit", "t": 2.0} for p in range(0, parts, 64)]
    return out


#: name -> (builder, lines at the first size): the sizes the issue measured (a soak like
#: the nightly one at half its million lines; 128k lines of callbacks with 4k client
#: faults; 60k lines with 10k faults; 2,000 groups on one 50k-record partition; 10k
#: partitions with 10k unseen unknown sends), each run again at twice the size.
SHAPES = {
    "soak: 1 kill/restart per 1,000 lines": (shape_soak, 500_000),
    "rebalance callbacks, 1 client fault per 32 lines": (shape_rebalances, 128_000),
    "1 fault per 6 lines, a finding per 3": (shape_faults, 60_000),
    "2,000 groups on one 50k-record partition": (shape_groups, 200_000),
    "10k partitions, 10k unseen unknown sends": (shape_partitions, 40_000),
}


def time_one(path: Path) -> tuple[float, int, dict]:
    """In a child: seconds of load + check (no interpreter start), peak RSS in MiB, result."""
    code = (
        "import json, resource, sys, time\n"
        "from kchaos.checker import check\n"
        "from kchaos.history import load\n"
        "t = time.perf_counter()\n"
        "r = check(load(sys.argv[1]))\n"
        "took = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024\n"
        "print(json.dumps([took, rss, {'anomalies': sum(r['anomalies'].values()), 'events': r['events']}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    took, rss, summary = json.loads(proc.stdout)
    return took, rss, summary


def shapes(tmp: Path, baseline_per_line: float, only: str | None) -> bool:
    """Each shape at its size and twice it: cost per line against the baseline's, and the
    growth when doubled. Budget: <= 3x per line, <= 2.5x time when doubled."""
    ok = True
    print(f"{'shape':<52} {'lines':>8} {'s':>7} {'x baseline/line':>16} {'lines x2':>9} {'s':>7} {'doubled':>8}")
    for name, (make, size) in SHAPES.items():
        if only and only not in name:
            continue
        runs = []
        for lines in (size, 2 * size):
            path = tmp / "shape.jsonl"
            events = make(lines)
            path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
            took, _, _ = time_one(path)
            runs.append((len(events), took))
        (n1, t1), (n2, t2) = runs
        per_line = (t1 / n1) / baseline_per_line
        doubled = t2 / t1
        within = per_line <= 3 and doubled <= 2.5
        ok &= within
        flag = "" if within else "  OVER"
        print(f"{name:<52} {n1:>8} {t1:>7.2f} {per_line:>15.2f}x {n2:>9} {t2:>7.2f} {doubled:>7.2f}x{flag}")
    return ok


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
    ap.add_argument("--only", choices=("clean", "rich", "shapes"))
    ap.add_argument("--shape", help="only the pathological shapes whose name contains this")
    ap.add_argument("--build-only", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_only:
        print(build(Path(args.build_only[0]), args.events, args.build_only[1] == "rich"))
        return
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "baseline.jsonl"
        subprocess.run(
            [sys.executable, __file__, "--events", str(args.events), "--build-only", str(path), "clean"],
            capture_output=True,
            check=True,
        )
        lines = sum(1 for _ in open(path, "rb"))
        took, peak, summary = time_one(path)
        ref = reference(path)
        base_ok = took <= 1.5 * ref and peak < 1024 and summary["anomalies"] == 0
        ok &= base_ok
        print(f"baseline: {lines} lines, load + check {took:.2f} s ({took / lines * 1e6:.1f} us/line), peak {peak} MiB")
        print(f"  json.loads of every line: {ref:.2f} s -> ratio {took / ref:.2f}x (budget 1.5x, < 1 GiB)"
              + ("" if base_ok else "  OVER"))  # fmt: skip
        ok &= shapes(Path(tmp), took / lines, args.shape)
    if args.only == "shapes":
        sys.exit(0 if ok else 1)
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
