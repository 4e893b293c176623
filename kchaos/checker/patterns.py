"""The application patterns' invariant: every input is processed once or dead-lettered.

A consumer with retries and a dead-letter topic (``kchaos.patterns``) promises that each
record that came in ends exactly one way: its handler succeeded once, or it sits in the
dead-letter topic once. A record can travel through several topics on the way (retry
topics, the dead-letter topic, back to its input when replayed); every copy carries the
id of the first record of its line (the root, ``send.origin``), so the check follows each
root to its end:

- ``processed``: ``process`` events with outcome ``ok`` for any copy of the root, by the
  pattern's group.
- ``dead_lettered``: copies of the root in the dead-letter topic that were written (an
  acknowledged send, or one a drain found).
- ``replayed``: copies written back to the input topic (a replay after a fix).

Violations, per root that was written to the input topic:

- ``unfinished``: neither processed nor dead-lettered (after a replay: the replayed copy
  was neither processed nor dead-lettered again). This is loss.
- ``processed-twice``: the handler succeeded more than once (at-least-once without a
  record of what was done).
- ``dead-lettered-twice``: more than one dead letter for one root between two replays.
- ``processed-and-dead-lettered``: both, without a replay in between.

The pattern's topology (its group and topics) comes from the history's ``meta`` event
(``pattern``), or is passed in when a team checks its own history.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from typing import Any

from kchaos.checker.index import Index
from kchaos.events import BROKER_COPY, Client
from kchaos.percentiles import percentile

VIOLATIONS = ("unfinished", "processed-twice", "dead-lettered-twice", "processed-and-dead-lettered")


def topology(ix: Index) -> dict[str, Any] | None:
    """The pattern's group and topics as the run recorded them (None: no pattern ran)."""
    return ix.meta.pattern if ix.meta is not None and ix.meta.pattern else None


def roots_and_copies(ix: Index, where: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The records written to the input topic (roots, by id) and each root's copies that
    were written (any topic)."""
    roots = {
        i: s
        for i, s in ix.sends.items()
        if s.origin is None and s.topic == where["input"] and ix.position(s) is not None
    }
    copies: dict[str, list[Any]] = defaultdict(list)
    for s in ix.sends.values():
        if s.origin is not None and ix.position(s) is not None:
            copies[s.origin].append(s)
    return roots, copies


def violations(ix: Index) -> dict[str, list[str]]:
    """``processed_once_or_dead_lettered`` on the history's own topology, computed once per
    index (the measurements and the report's examples both read it)."""
    if "pattern_violations" not in ix.cache:
        ix.cache["pattern_violations"] = processed_once_or_dead_lettered(ix)
    return ix.cache["pattern_violations"]


def processed_once_or_dead_lettered(ix: Index, where: dict[str, Any] | None = None) -> dict[str, list[str]]:
    """Each violation kind (``VIOLATIONS``) with the roots that show it; empty lists when
    the invariant holds. ``where``: {"group", "input", "dead_letter"} (default: the
    history's own).

    A replay starts a new round for its root: the rules hold per round (between one
    replay and the next), and the last round must end processed or dead-lettered. A
    round is known by time: the replays' sends, the ``ok`` process events, the dead
    letters' acknowledgements (one only a drain found, written by a broker, belongs to
    the first round)."""
    where = where or topology(ix)
    out: dict[str, list[str]] = {v: [] for v in VIOLATIONS}
    if where is None:
        return out
    roots, copies = roots_and_copies(ix, where)
    root_of = _root_of(copies)
    done: dict[str, list[float]] = defaultdict(list)
    for p in ix.processes:
        if p.outcome == "ok" and p.group == where["group"]:
            done[root_of.get(p.id, p.id)].append(p.t)
    letters = dead_letters(ix, where, copies, root_of)
    for root in roots:
        replays = sorted(s.t0 for s in copies.get(root, ()) if s.topic == where["input"])
        rounds = [Counter() for _ in range(len(replays) + 1)]
        for t in done.get(root, ()):
            rounds[bisect_right(replays, t)]["ok"] += 1
        for t in letters.get(root, {}).values():
            rounds[bisect_right(replays, t)]["dead"] += 1
        for kind in _violations(rounds, len(done.get(root, ()))):
            out[kind].append(root)
    return out


def _violations(rounds: list[Counter], processed: int) -> set[str]:
    """The kinds one root shows, from its rounds (``ok`` and ``dead`` counts of each)."""
    found = set()
    if rounds[-1]["ok"] == 0 and rounds[-1]["dead"] == 0:
        found.add("unfinished")
    if processed > 1:
        found.add("processed-twice")
    if any(r["dead"] > 1 for r in rounds):
        found.add("dead-lettered-twice")
    if any(r["ok"] and r["dead"] for r in rounds):
        found.add("processed-and-dead-lettered")
    return found


def _root_of(copies: dict[str, list[Any]]) -> dict[str, str]:
    """Each copy's id -> its root's id."""
    return {s.id: s.origin for c in copies.values() for s in c}


def dead_letters(
    ix: Index, where: dict[str, Any], copies: dict[str, list[Any]], root_of: dict[str, str]
) -> dict[str, dict[tuple[str, int, int], float]]:
    """Per root, its dead letters by position, with when each was written: copies a
    worker wrote (sends: dated by when the send began, ``t0``, not by its ack: a replay
    that starts before the ack arrives still comes after the dead letter), and records the
    drain found in the dead-letter topic (a broker writes a share group's dead letters
    itself: no send of ours, the record's value carries the root's id; time unknown, 0).
    A dead letter written in a transaction that did not commit is no dead letter."""
    out: dict[str, dict[tuple[str, int, int], float]] = defaultdict(dict)
    txns = ix.txns
    for root, sent in copies.items():
        for s in sent:
            if s.topic != where.get("dead_letter") or (s.txn is not None and txns.get(s.txn) != "commit"):
                continue
            if (pos := ix.position(s)) is not None:
                out[root][pos] = s.t0
    for r in ix.drain_reads():
        if r.topic == where.get("dead_letter"):
            s = ix.sends.get(r.id)
            if s is not None and s.txn is not None and txns.get(s.txn) != "commit":
                continue
            out[root_of.get(r.id, r.id.removesuffix(BROKER_COPY))].setdefault((r.topic, r.partition, r.offset), 0.0)
    return out


def pattern_measurements(ix: Index) -> dict[str, Any]:
    """The invariant's counts and what a retry design costs: latency of the records that
    never failed, sent before the faults (head-of-line blocking), per-key order of
    processing, throughput.
    Empty when no pattern ran."""
    where = topology(ix)
    if where is None:
        return {}
    found = violations(ix)
    roots, copies = roots_and_copies(ix, where)
    root_of = _root_of(copies)
    group = [p for p in ix.processes if p.group == where["group"]]
    dead = dead_letters(ix, where, copies, root_of)
    first_ok = _first_ok(group, root_of)
    # Head-of-line blocking is a cost of the design, not of the faults: measured on the
    # records sent in the calm (a killed member stalls every design alike): from 1 s into
    # the steady phase (the group's last join settles) to the fault phase.
    calm = _calm(ix)
    failed = _failed_once(group, copies)
    healthy = [
        t - roots[r].t0
        for r, t in first_ok.items()
        if r in roots and r not in failed and calm[0] <= roots[r].t0 < calm[1]
    ]
    every = [t - roots[r].t0 for r, t in first_ok.items() if r in roots]
    span = (max(first_ok.values()) - min(first_ok.values())) if len(first_ok) > 1 else 0.0
    outcomes = Counter(p.outcome for p in group)
    return {
        "pattern_inputs": len(roots),
        "pattern_processed": sum(1 for r in roots if r in first_ok),
        "pattern_dead_lettered": sum(1 for r in roots if dead.get(r)),
        "pattern_retried": len(_retried(group, root_of) & roots.keys()),
        "pattern_replayed": sum(1 for r in roots if any(s.topic == where["input"] for s in copies[r])),
        "pattern_duplicates_skipped": outcomes["duplicate"],
        **{f"pattern_{v.replace('-', '_')}": len(found[v]) for v in VIOLATIONS},
        "healthy_latency_ms": {"p50": _ms(percentile(healthy, 50)), "p99": _ms(percentile(healthy, 99))},
        "pattern_latency_ms": {"p50": _ms(percentile(every, 50)), "p99": _ms(percentile(every, 99))},
        "pattern_throughput_per_s": round(len(first_ok) / span, 1) if span > 0 else None,
        "keys_reordered_by_processing": keys_reordered(roots, first_ok),
    }


def _calm(ix: Index) -> tuple[float, float]:
    """The window of calm sends: 1 s into the steady phase to the fault phase (all of the
    history when it has no phases)."""
    start = next((p.t + 1.0 for p in ix.phases if p.name == "steady"), 0.0)
    return start, next((p.t for p in ix.phases if p.name == "fault"), float("inf"))


def _first_ok(processes: list[Any], root_of: dict[str, str]) -> dict[str, float]:
    """Per root, when its handler first succeeded."""
    out: dict[str, float] = {}
    for p in processes:
        if p.outcome == "ok":
            root = root_of.get(p.id, p.id)
            out[root] = min(out.get(root, p.t), p.t)
    return out


def _retried(processes: list[Any], root_of: dict[str, str]) -> set[str]:
    """Roots tried more than once: an attempt failed in place, was released (a share
    group), or a copy went to a retry topic."""
    again = ("failed", "released", "retry")
    return {root_of.get(p.id, p.id) for p in processes if p.outcome in again}


def _failed_once(processes: list[Any], copies: dict[str, list[Any]]) -> set[str]:
    """Roots that failed at least once (an attempt failed in place, or a copy was made)."""
    return {p.id for p in processes if p.outcome in ("failed", "released")} | {r for r, c in copies.items() if c}


def keys_reordered(roots: dict[str, Any], first_ok: dict[str, float]) -> int:
    """Keys whose records one producer sent in one order and the handler first finished
    in another: per-key order as the application sees it (not as the log stores it)."""
    by_key: dict[tuple[str, Any], list[tuple[int, float]]] = defaultdict(list)
    for r, s in roots.items():
        if r in first_ok and s.key is not None:
            by_key[(s.producer, s.key)].append((s.seq, first_ok[r]))
    broken = set()
    for (_, key), done in by_key.items():
        done.sort()
        if any(b[1] < a[1] for a, b in zip(done, done[1:], strict=False)):
            broken.add(key)
    return len(broken)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def schema_measurements(ix: Index) -> dict[str, Any]:
    """Schema evolution (question 6.4): which versions the registry took, and per reader
    group (``reader:NAME`` in the history's group table) how many records it decoded, how many it could
    not, and the first version whose records broke it. A record's version is the one
    deployed when it was sent (the producer's ``schema-registered`` events). Empty when
    no schema producer ran."""
    deploys = [e for e in ix.other if isinstance(e, Client) and e.event in ("schema-registered", "schema-refused")]
    if not deploys:
        return {}
    live = [(e.t, n) for n, e in enumerate(deploys, 1) if e.event == "schema-registered"]
    times = [t for t, _ in live]
    m: dict[str, Any] = {
        "schema_versions_registered": len(live),
        "schema_versions_refused": len(deploys) - len(live),
        "decoded": {},
        "decode_failed": {},
        "first_broken_version": {},
    }
    for reader, processes in _by_reader(ix).items():
        broken = []
        for p in processes:
            send = ix.sends.get(p.id)
            if p.outcome != "ok" and send is not None and (at := bisect_right(times, send.t0)):
                broken.append(live[at - 1][1])
        m["decoded"][reader] = sum(1 for p in processes if p.outcome == "ok")
        m["decode_failed"][reader] = sum(1 for p in processes if p.outcome != "ok")
        m["first_broken_version"][reader] = min(broken, default=0)
    return m


def _by_reader(ix: Index) -> dict[str, list[Any]]:
    """The reader groups' process events by reader name (``reader:NAME`` -> ``NAME``)."""
    names = ix.meta.groups if ix.meta is not None and ix.meta.groups else {}
    out: dict[str, list[Any]] = defaultdict(list)
    for p in ix.processes:
        name = names.get(p.group or "", "")
        if name.startswith("reader:") and p.outcome != "duplicate":
            out[name.removeprefix("reader:")].append(p)
    return out
