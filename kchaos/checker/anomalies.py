"""One function per anomaly kind (DESIGN.md's table): Index in, list of examples out.

Each returns *every* instance found (the count is its length); the report shows the
first ten. Each docstring says why the pattern is an anomaly and when it is allowed.
Whole-history scans use set operations where they can and one plain loop otherwise: these
run on histories of millions of events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from kchaos.checker.index import Index
from kchaos.events import Read

Example = dict[str, Any]


def _read_example(r: Read, **extra: Any) -> Example:
    return {
        "id": r.id,
        "reader": r.reader,
        "group": r.group,
        "topic": r.topic,
        "partition": r.partition,
        "offset": r.offset,
        "t": r.t,
        **extra,
    }


def _first_reads(ix: Index, ids: set[str], committed_only: bool = False) -> list[Read]:
    """The first read of each id in ``ids`` (optionally by read_committed readers only)."""
    out, seen = [], set()
    if not ids:
        return out
    for r in ix.reads:
        if r.id in ids and r.id not in seen and (r.committed_only or not committed_only):
            seen.add(r.id)
            out.append(r)
    return out


def lost(ix: Index) -> list[Example]:
    """An acknowledged write that no drain reader saw.

    The client was told "written"; after every fault healed, a reader that reads every
    partition from the beginning did not find it. Only counted for drained partitions
    (others are ``undrained``, not proof of loss), not below the log start offset the
    drain began at (retention removed those: ``removed_by_retention``), and, in a
    transaction, only when the transaction committed.
    """
    seen, drained = ix.drain_ids, ix.drained
    return [
        {"id": s.id, "topic": s.topic, "partition": s.partition, "offset": s.offset, "t": s.t1}
        for s in ix.ok_visible_sends()
        if s.id not in seen and (s.topic, s.partition) in drained and not ix.removed(s)
    ]


def duplicate(ix: Index) -> list[Example]:
    """One id stored at two or more distinct (partition, offset) positions.

    Each id is attempted once by the harness, so a second copy was written by a retry
    inside the client: what idempotence exists to prevent.
    """
    sends = ix.sends
    first: dict[str, tuple] = {}
    extra: dict[str, set[tuple]] = {}
    for r in ix.reads:
        s = sends.get(r.id)
        # Fast path: a read at the position its send was acknowledged at.
        if s is not None and s.offset == r.offset and s.partition == r.partition and s.topic == r.topic:
            continue
        pos = (r.topic, r.partition, r.offset)
        known = first.get(r.id)
        if known is None:
            acked = s is not None and s.status == "ok" and s.offset is not None and s.offset >= 0
            known = (s.topic, s.partition, s.offset) if acked else pos
            first[r.id] = known
        if known != pos:
            extra.setdefault(r.id, {known}).add(pos)
    return [{"id": i, "positions": sorted(p)} for i, p in extra.items()]


def reordered(ix: Index) -> list[Example]:
    """Two acknowledged sends of one producer to one partition stored against seq order.

    A producer that sends a then b to one partition expects offset(a) < offset(b); a retry
    of a after b was written (max.in.flight > 1 without idempotence) breaks that.
    """
    by_stream: dict[tuple, list] = defaultdict(list)
    for s in ix.sends.values():
        if s.status == "ok" and s.offset >= 0:  # acks=0 acknowledges without an offset (-1)
            by_stream[(s.producer, s.topic, s.partition)].append((s.seq, s.offset, s.id))
    out = []
    for (producer, topic, partition), items in by_stream.items():
        items.sort()
        top = None
        for seq, offset, id_ in items:
            if top is not None and offset < top[1]:
                out.append(
                    {
                        "producer": producer,
                        "topic": topic,
                        "partition": partition,
                        "id": id_,
                        "seq": seq,
                        "offset": offset,
                        "after_id": top[2],
                        "after_offset": top[1],
                    }
                )
            elif top is None or offset > top[1]:
                top = (seq, offset, id_)
    return out


def key_order_broken(ix: Index) -> list[Example]:
    """Two acknowledged sends of one producer with one key, delivered out of seq order,
    or landed on different partitions (the key moved, e.g. partitions were added).

    Per-key order is the guarantee most applications rely on; it holds only while a key
    stays on one partition and each reader is given that partition in offset order.
    Only a group consumer's first delivery of an id counts (re-deliveries are
    ``reprocessed``). Drain readers are left out: they read each partition once in offset
    order, so for them this is exactly what ``reordered`` and ``nonmonotonic-poll`` check.
    """
    out: list[Example] = []
    meta: dict[str, tuple] = {}
    homes: dict[tuple, tuple[int, int, str]] = {}
    for s in ix.sends.values():
        if s.status != "ok" or s.key is None:
            continue
        k = (s.producer, s.topic, s.key)
        meta[s.id] = (k, s.seq)
        home = homes.get(k)
        if home is None or s.seq < home[1]:
            homes[k] = (s.partition, s.seq, s.id)
    for s in ix.sends.values():
        if s.id in meta:
            home = homes[meta[s.id][0]]
            if home[0] != s.partition:
                out.append(
                    {
                        "kind": "moved",
                        "key": s.key,
                        "id": s.id,
                        "partition": s.partition,
                        "first_id": home[2],
                        "first_partition": home[0],
                    }
                )
    # Delivery order per reader. A read below the reader's highest seq for that key is a
    # candidate; it is a violation only if this is the reader's first delivery of the id.
    max_seq: dict[tuple, tuple[int, str]] = {}
    candidates = []
    for i, r in enumerate(ix.reads):
        if r.group is None:
            continue
        m = meta.get(r.id)
        if m is None:
            continue
        k = (r.reader, m[0])
        prev = max_seq.get(k)
        if prev is None or m[1] > prev[0]:
            max_seq[k] = (m[1], r.id)
        elif m[1] < prev[0]:
            candidates.append((i, prev[1]))
    if candidates:
        ids = {ix.reads[i].id for i, _ in candidates}
        first = {}
        for i, r in enumerate(ix.reads):
            if r.id in ids:
                first.setdefault((r.reader, r.id), i)
        for i, after in candidates:
            r = ix.reads[i]
            if first[(r.reader, r.id)] == i:
                out.append(
                    {
                        "kind": "delivered-out-of-order",
                        "reader": r.reader,
                        "key": r.key,
                        "id": r.id,
                        "seq": meta[r.id][1],
                        "delivered_after": after,
                        "t": r.t,
                    }
                )
    return out


def inconsistent_offset(ix: Index) -> list[Example]:
    """Two reads of one (topic, partition, offset) returned different ids.

    An offset names one record forever. Seeing two means a log diverged: a leader took
    writes that were later truncated and replaced (unclean election, or acks<all loss).
    """
    at: dict[tuple, Read] = {}
    out, reported = [], set()
    for r in ix.reads:
        pos = (r.topic, r.partition, r.offset)
        first = at.setdefault(pos, r)
        if first.id != r.id and (pos, r.id) not in reported:
            reported.add((pos, r.id))
            out.append(
                {
                    "topic": r.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "ids": [first.id, r.id],
                    "readers": [first.reader, r.reader],
                    "t": r.t,
                }
            )
    return out


def ack_mismatch(ix: Index) -> list[Example]:
    """A send acknowledged at (partition, offset) where the drain found another id.

    The broker told the client "you are at offset 17" and offset 17 holds something else
    now: the acknowledged write was truncated and its offset reused.
    """
    drained_at = {(r.topic, r.partition, r.offset): r.id for r in ix.reads if r.group is None}
    out = []
    for s in ix.sends.values():
        if s.status != "ok":
            continue
        found = drained_at.get((s.topic, s.partition, s.offset))
        if found is not None and found != s.id:
            out.append({"id": s.id, "topic": s.topic, "partition": s.partition, "offset": s.offset, "found": found})
    return out


def phantom(ix: Index) -> list[Example]:
    """A read id that no send attempted: data from nowhere (or a harness bug)."""
    return [_read_example(r) for r in _first_reads(ix, ix.read_ids - ix.sends.keys())]


def failed_visible(ix: Index) -> list[Example]:
    """A send reported as ``fail`` (surely not written) whose id a reader saw.

    Either the client lied, or the harness took an ambiguous error for a definite one
    (Jepsen's G1a). Only errors that prove nothing left the client may be ``fail``.
    """
    failed = {i for i, s in ix.sends.items() if s.status == "fail"}
    return [_read_example(r) for r in _first_reads(ix, failed & ix.read_ids)]


def _txn_ids(ix: Index, outcomes: set[str]) -> set[str]:
    """Ids of sends in transactions whose recorded outcome is in ``outcomes``
    ("unknown" also covers a transaction with no recorded outcome)."""
    return {s.id for s in ix.sends.values() if s.txn is not None and ix.txns.get(s.txn, "unknown") in outcomes}


def _committed_reads(ix: Index, ids: set[str]) -> list[Read]:
    return [r for r in ix.reads if r.committed_only and r.id in ids] if ids else []


def aborted_read(ix: Index) -> list[Example]:
    """A read_committed reader saw a record of a transaction that aborted."""
    ids = _txn_ids(ix, {"abort"}) & ix.read_ids
    return [_read_example(r, txn=ix.sends[r.id].txn) for r in _committed_reads(ix, ids)]


def uncommitted_read(ix: Index) -> list[Example]:
    """A read_committed reader saw a record of a transaction that never committed.

    The outcome is ``unknown`` (or never recorded) and the committed drain does not hold
    the record: so the reader saw data no committed transaction vouches for.
    """
    committed_drain = {r.id for r in ix.drain_reads() if r.committed_only}
    ids = (_txn_ids(ix, {"unknown"}) & ix.read_ids) - committed_drain
    return [_read_example(r, txn=ix.sends[r.id].txn) for r in _committed_reads(ix, ids)]


def reprocessed(ix: Index) -> list[Example]:
    """One consumer group delivered the same (partition, offset) to processing twice.

    Happens whenever work was done but its offset not committed before a crash or a
    rebalance: at-least-once made visible. Expected in some variants, a bug in others.
    """
    seen: dict[tuple, Read] = {}
    out = []
    for r in ix.reads:
        if r.group is None:
            continue
        first = seen.setdefault((r.group, r.topic, r.partition, r.offset), r)
        if first is not r:
            out.append(_read_example(r, first_reader=first.reader))
    return out


def skipped(ix: Index) -> list[Example]:
    """A group never delivered a (partition, offset) that the drain holds, between
    offsets it did deliver: a record committed past but never processed (at-most-once).

    Only offsets in the committed drain count, so transaction markers and aborted
    records, which no read_committed consumer is given, are not skips.
    """
    drain_offsets: dict[tuple[str, int], set[int]] = defaultdict(set)
    delivered: dict[tuple, set[int]] = defaultdict(set)
    for r in ix.reads:
        if r.group is None:
            if r.isolation != "read_uncommitted":
                drain_offsets[(r.topic, r.partition)].add(r.offset)
        else:
            delivered[(r.group, r.topic, r.partition)].add(r.offset)
    out = []
    for (group, topic, partition), offsets in delivered.items():
        lo, hi = min(offsets), max(offsets)
        missing = {o for o in drain_offsets.get((topic, partition), ()) if lo < o < hi} - offsets
        out += [{"group": group, "topic": topic, "partition": partition, "offset": o} for o in sorted(missing)]
    return out


def nonmonotonic_poll(ix: Index) -> list[Example]:
    """One consumer, with no assign/revoke in between, went back to a lower offset.

    Without a rebalance or a seek, a consumer's position in a partition only moves
    forward; going back means it was rewound behind the application's back.
    """
    last: dict[tuple, int] = {}
    out = []
    for r in ix.reads:
        k = (r.reader, r.epoch, r.topic, r.partition)
        prev = last.get(k)
        if prev is None or r.offset > prev:
            last[k] = r.offset
        elif r.offset < prev:
            out.append(_read_example(r, after_offset=prev))
    return out


CHECKS: dict[str, Callable[[Index], list[Example]]] = {
    "lost": lost,
    "duplicate": duplicate,
    "reordered": reordered,
    "key-order-broken": key_order_broken,
    "inconsistent-offset": inconsistent_offset,
    "ack-mismatch": ack_mismatch,
    "phantom": phantom,
    "failed-visible": failed_visible,
    "nonmonotonic-poll": nonmonotonic_poll,
    "aborted-read": aborted_read,
    "uncommitted-read": uncommitted_read,
    "reprocessed": reprocessed,
    "skipped": skipped,
}
KINDS = tuple(CHECKS)
