"""One function per anomaly kind (``docs/anomalies.md``): Index in, list of instances out.

Each returns *every* instance found (the count is its length); reports show the first
ten. Each docstring says why the pattern is an anomaly and when it is allowed. The
reference is Jepsen's Kafka checker (lost-write, poll-skip, nonmonotonic-poll,
inconsistent-offsets, G1a, precommitted-read, duplicates); where Kafka's semantics allow
a sharper judgement (committed offsets, per-isolation drains, leader epochs, inferred
transaction outcomes) the checks here take it. Whole-history scans use one plain loop or
set operations: they run on histories of millions of events.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from kchaos.checker.groups import group_views
from kchaos.checker.index import RC, RU, Index
from kchaos.checker.pipelines import committed_inputs, pipeline_groups, producer_group
from kchaos.events import BROKER_COPY, Lost, Read

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
    out: list[Read] = []
    seen: set[str] = set()
    if not ids:
        return out
    for r in ix.reads:
        if r.id in ids and r.id not in seen and (r.committed_only or not committed_only):
            seen.add(r.id)
            out.append(r)
    return out


# --- writes ------------------------------------------------------------------------------


def lost(ix: Index) -> list[Example]:
    """A write that must be in the log, missing from the committed drain.

    Must be: acknowledged (not in a transaction), or part of a transaction that committed
    (recorded, or inferred from what read_committed readers saw). After every fault
    healed, a read_committed reader read the partition from its log start to its end and
    did not find it. Not counted: partitions that drain did not finish (``undrained``),
    records below the log start offset that drain began at (retention removed them), and
    acks that arrived after the drain finished at offsets at or past its end.
    """
    sends = ix.sends
    return [
        {"id": i, "topic": s.topic, "partition": s.partition, "offset": s.offset, "t": s.t1}
        for i, why in ix.absent.items()
        if why == "lost" and (s := sends[i])
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
            known = (s.topic, s.partition, s.offset) if acked else pos  # type: ignore[union-attr]
            first[r.id] = known
        if known != pos:
            extra.setdefault(r.id, {known}).add(pos)
    return [{"id": i, "positions": sorted(p)} for i, p in extra.items()]


def reordered(ix: Index) -> list[Example]:
    """Two writes of one producer to one partition stored against seq order.

    A producer that sends a then b to one partition expects offset(a) < offset(b); a retry
    of a after b was written (max.in.flight > 1 without idempotence) breaks that. Unknown
    sends that became visible count at the position a reader found them. Two writes at
    one offset are ``ack-conflict``, not this.
    """
    cached = ix.cache.get("reordered")
    if cached is not None:
        return cached
    by_stream: dict[tuple, list] = defaultdict(list)
    found_at = ix.found_at
    for s in ix.sends.values():
        if s.status == "ok" and s.offset >= 0:  # type: ignore[operator]
            by_stream[(s.producer, s.topic, s.partition)].append((s.seq, s.offset, s.id))
        elif s.status != "fail" and s.id in found_at:
            topic, partition, offset = found_at[s.id]
            if topic == s.topic:
                by_stream[(s.producer, topic, partition)].append((s.seq, offset, s.id))
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
    ix.cache["reordered"] = out
    return out


def key_order_broken(ix: Index) -> list[Example]:
    """Two writes of one producer with one key, delivered out of seq order, or stored on
    different partitions (the key moved, e.g. partitions were added).

    Per-key order is the guarantee most applications rely on; it holds only while a key
    stays on one partition and each reader is given that partition in offset order.
    Acknowledged sends and unknown ones that became visible take part. Only a reader's
    first delivery of an id counts (re-deliveries are ``info.redelivered``). Drain
    readers are left out: they read each partition once in offset order, so for them
    this is exactly what ``reordered`` and ``nonmonotonic-poll`` check.
    """
    out, moved = _moved_keys(ix)
    # Delivery order. While keys stay put and each partition's log is in seq order, a
    # reader can only be given a key out of order where it went back on a partition;
    # so only those (reader, partition) streams are followed key by key.
    everywhere = bool(moved) or bool(reordered(ix))
    suspects = None if everywhere else _went_back(ix)
    if suspects == set():
        return out
    sends = ix.sends
    readers: dict[str, tuple[set[str], dict[tuple, tuple[int, str]]]] = {}
    for r in ix.reads:
        if r.group is None or (suspects is not None and (r.reader, r.topic, r.partition) not in suspects):
            continue
        s = sends.get(r.id)
        if s is None or s.key is None or s.status == "fail":
            continue
        state = readers.get(r.reader)
        if state is None:
            state = readers[r.reader] = (set(), {})
        seen, top = state
        if r.id in seen:
            continue
        seen.add(r.id)
        k = (s.producer, s.topic, s.key)
        prev = top.get(k)
        if prev is None or s.seq > prev[0]:
            top[k] = (s.seq, r.id)
        elif s.seq < prev[0]:
            out.append(
                {
                    "kind": "delivered-out-of-order",
                    "reader": r.reader,
                    "key": r.key,
                    "id": r.id,
                    "topic": r.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "seq": s.seq,
                    "delivered_after": prev[1],
                    "t": r.t,
                }
            )
    return out


def _moved_keys(ix: Index) -> tuple[list[Example], set[tuple]]:
    """Writes of a key stored on another partition than the key's first write."""
    homes: dict[tuple, tuple[int, int, str]] = {}
    moved: set[tuple] = set()
    found_at = ix.found_at
    where: dict[str, int] = {}
    for s in ix.sends.values():
        if s.key is None or s.status == "fail":
            continue
        if s.status == "ok" and s.offset >= 0:  # type: ignore[operator]
            partition = s.partition
        elif s.id in found_at and found_at[s.id][0] == s.topic:
            partition = found_at[s.id][1]
        else:
            continue
        k = (s.producer, s.topic, s.key)
        home = homes.get(k)
        if home is None:
            homes[k] = (partition, s.seq, s.id)  # type: ignore[assignment]
            continue
        if home[0] != partition:
            moved.add(k)
        if s.seq < home[1]:
            homes[k] = (partition, s.seq, s.id)  # type: ignore[assignment]
    out: list[Example] = []
    if not moved:
        return out, moved
    for s in ix.sends.values():
        k = (s.producer, s.topic, s.key)
        if k in moved:
            where[s.id] = s.partition if s.status == "ok" else found_at.get(s.id, (None, None))[1]  # type: ignore[assignment]
            home = homes[k]
            if where[s.id] is not None and where[s.id] != home[0]:
                out.append(
                    {
                        "kind": "moved",
                        "key": s.key,
                        "id": s.id,
                        "partition": where[s.id],
                        "first_id": home[2],
                        "first_partition": home[0],
                    }
                )
    return out, moved


def _went_back(ix: Index) -> set[tuple[str, str, int]]:
    """(reader, topic, partition) streams where a group reader was given an offset at or
    below one it had been given before (a rebalance, a restart, or a rewind)."""
    last: dict[tuple, int] = {}
    back = set()
    for r in ix.reads:
        if r.group is None:
            continue
        k = (r.reader, r.topic, r.partition)
        prev = last.get(k)
        if prev is not None and r.offset <= prev:
            back.add(k)
        else:
            last[k] = r.offset
    return back


# --- one offset, one record --------------------------------------------------------------


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
    at the end: the acknowledged write was truncated and its offset reused.
    """
    out = []
    committed, uncommitted = ix.committed_view, ix.uncommitted_view
    for s in ix.sends.values():
        if s.status != "ok":
            continue
        at = committed.get((s.topic, s.partition))  # type: ignore[arg-type]
        found = at.get(s.offset) if at is not None else None  # type: ignore[arg-type]
        if found is None and uncommitted:
            found = ix.drained_id_at(s.topic, s.partition, s.offset)  # type: ignore[arg-type]
        if found is not None and found != s.id:
            out.append({"id": s.id, "topic": s.topic, "partition": s.partition, "offset": s.offset, "found": found})
    return out


def ack_conflict(ix: Index) -> list[Example]:
    """Two acks at one offset, or an ack and a consumer's read at one offset, name
    different records.

    Every ack and every read contributes to one offset -> id order per partition; any two
    that disagree show the log was rewritten between them (a truncated leader, or two
    leaders acknowledging at once). Disagreements with the drain are ``ack-mismatch``,
    between reads ``inconsistent-offset``.
    """
    acked: dict[tuple, str] = {}
    out: list[Example] = []
    for s in ix.sends.values():
        if s.status != "ok" or s.offset is None or s.offset < 0:
            continue
        pos = (s.topic, s.partition, s.offset)
        other = acked.setdefault(pos, s.id)
        if other != s.id:
            out.append(
                {
                    "kind": "ack-ack",
                    "topic": s.topic,
                    "partition": s.partition,
                    "offset": s.offset,
                    "ids": [other, s.id],
                }
            )
    reported = set()
    for r in ix.reads:
        if r.group is None:
            continue
        pos = (r.topic, r.partition, r.offset)
        other = acked.get(pos)
        if other is not None and other != r.id and (pos, r.id) not in reported:
            reported.add((pos, r.id))
            out.append(
                {
                    "kind": "ack-read",
                    "topic": r.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "ids": [other, r.id],
                    "reader": r.reader,
                    "t": r.t,
                }
            )
    return out


def truncated_read(ix: Index) -> list[Example]:
    """A consumer read a record at an offset the log no longer has at the end.

    The read came before the drain, and the drain found the partition ending at or below
    that offset: the record was handed to an application and then truncated away (an
    unclean election, or a leader that lost acks=1 writes). Applications acted on data
    that no longer exists.
    """
    ends: dict[tuple[str, int], list] = defaultdict(list)
    for (t, p, _iso), d in ix.drains.items():
        ends[(t, p)].append(d)
    lowest = {tp: min(d.end_offset for d in ds) for tp, ds in ends.items()}
    out, seen = [], set()
    for r in ix.reads:
        if r.group is None or r.offset < lowest.get((r.topic, r.partition), 1 << 62):
            continue
        d = next((d for d in ends[(r.topic, r.partition)] if d.t > r.t and r.offset >= d.end_offset), None)
        if d is None:
            continue
        k = (r.group, r.topic, r.partition, r.offset, r.id)
        if k not in seen:
            seen.add(k)
            out.append(_read_example(r, end_offset=d.end_offset))
    return out


def epoch_regression(ix: Index) -> list[Example]:
    """A reader was given a higher offset with a lower leader epoch than an earlier one.

    Leader epochs only grow along a partition's log: every record was appended by the
    leader of its epoch, and a later leader appends after it. A record further on with
    an older epoch means a log that mixes lineages (a zombie leader's writes kept).
    """
    last: dict[tuple, tuple[int, int]] = {}
    out = []
    for r in ix.reads:
        e = r.leader_epoch
        if e is None or e < 0:
            continue
        k = (r.reader, r.topic, r.partition)
        prev = last.get(k)
        if prev is None or r.offset <= prev[0]:
            last[k] = (r.offset, e)
        elif e < prev[1]:
            out.append(_read_example(r, leader_epoch=e, after_offset=prev[0], after_epoch=prev[1]))
        else:
            last[k] = (r.offset, e)
    return out


def phantom(ix: Index) -> list[Example]:
    """A read id that no send attempted: data from nowhere (or a harness bug). A dead
    letter the broker copied from a record that was sent (``<id>@dlq``) came from somewhere."""
    unsent = {i for i in ix.read_ids - ix.sends.keys() if i.removesuffix(BROKER_COPY) not in ix.sends}
    return [_read_example(r) for r in _first_reads(ix, unsent)]


def failed_visible(ix: Index) -> list[Example]:
    """A send reported as ``fail`` (surely not written) whose id a reader saw.

    Either the client lied, or the harness took an ambiguous error for a definite one
    (Jepsen's G1a). Only errors that prove nothing left the client may be ``fail``.
    """
    failed = {i for i, s in ix.sends.items() if s.status == "fail"}
    return [_read_example(r) for r in _first_reads(ix, failed & ix.read_ids)]


# --- consumers ---------------------------------------------------------------------------


def nonmonotonic_poll(ix: Index) -> list[Example]:
    """One consumer, with no rebalance callback in between, was given an offset of a
    partition at or below one it was given before.

    Without a rebalance or a seek, a consumer's position only moves forward: being given
    the same offset again, or a lower one, means it was rewound behind the application's
    back (Jepsen's nonmonotonic-poll).
    """
    last: dict[tuple, int] = {}
    out = []
    for r, epoch in zip(ix.reads, ix.read_epochs, strict=True):
        k = (r.reader, epoch, r.topic, r.partition)
        prev = last.get(k)
        if prev is None or r.offset > prev:
            last[k] = r.offset
        else:
            out.append(_read_example(r, after_offset=prev))
    return out


def skipped(ix: Index) -> list[Example]:
    """A group never processed a committed record that it moved past.

    Two ways to move past: it processed offsets on both sides (Jepsen's poll-skip), or it
    committed an offset above the record (the commit says "done up to here": a consumer
    that commits before processing and crashes loses the rest, at-most-once). Judged by
    ``process`` events where the group writes them, else by delivery, and by the outputs
    of committed transactions (proof their inputs were processed). Only offsets in the
    committed drain count, so markers and aborted records are never skips. Only the
    offsets that need it are walked: those below the commit or the highest processed
    offset, and only when fewer of them were processed than the committed log holds.
    """
    view = ix.committed_view
    out = []
    for g in group_views(ix):
        offsets = view.get(g.tp)
        if not offsets:
            continue
        done = g.processed  # (offset, id): a reused offset holding another record is not done
        lo = min((o for o, _ in done), default=None)
        hi = max((o for o, _ in done), default=None)
        commit = g.max_commit
        ordered = _sorted_offsets(ix, g.tp)
        # The offsets a group moved past: below its commit, and between its lowest and
        # highest processed offsets. Walked only where fewer were processed than are there.
        ranges = []
        if commit is not None:
            ranges.append((0, commit))
        if lo is not None and hi - lo > 1:  # type: ignore[operator]
            ranges.append((lo + 1, hi))  # type: ignore[operator]
        if len(ranges) == 2 and ranges[1][0] <= ranges[0][1]:
            ranges = [(0, max(commit, hi))]  # type: ignore[type-var]
        todo = []
        for a, b in ranges:
            i, j = bisect_left(ordered, a), bisect_left(ordered, b)
            if j > i and sum(1 for o, x in done if a <= o < b and offsets.get(o) == x) < j - i:
                todo.append((i, j))
        if not todo:
            continue
        first_t = _moved_past_times(ix, g)
        for o in (o for i, j in todo for o in ordered[i:j]):
            if (o, offsets[o]) in done:
                continue
            between = lo is not None and lo < o < hi  # type: ignore[operator]
            below_commit = commit is not None and o < commit
            if between or below_commit:
                why = "committed past" if below_commit else "between processed"
                out.append(
                    {
                        "group": g.group,
                        "topic": g.tp[0],
                        "partition": g.tp[1],
                        "offset": o,
                        "id": offsets[o],
                        "why": why,
                        "t": first_t(o, why),
                    }
                )
    return out


def _sorted_offsets(ix: Index, tp: tuple[str, int]) -> list[int]:
    """The committed log's offsets of a partition, sorted once per index."""
    cache = ix.cache.setdefault("sorted_offsets", {})
    ordered = cache.get(tp)
    if ordered is None:
        ordered = cache[tp] = sorted(ix.committed_view.get(tp, ()))
    return ordered


def _moved_past_times(ix: Index, g: Any) -> Callable[[int, str], float | None]:
    """When the group moved past an offset: its first successful commit above it, or its
    first ``process`` of a record above it (dates a skip, so findings can name its fault)."""
    commits = g.commits  # (t, offset) in time order
    best: list[tuple[int, float]] = []  # commit offsets rising, with when first reached
    for t, offset in commits:
        if not best or offset > best[-1][0]:
            best.append((offset, t))
    above = [o for o, _ in best]
    procs = _process_times(ix).get((g.group, g.tp), ([], []))

    def when(offset: int, why: str) -> float | None:
        if why == "committed past":
            k = bisect_right(above, offset)
            return best[k][1] if k < len(best) else None
        offs, ts = procs
        k = bisect_right(offs, offset)
        return ts[k] if k < len(offs) else None

    return when


def _process_times(ix: Index) -> dict[tuple[str, tuple[str, int]], tuple[list[int], list[float]]]:
    """Per (group, partition): processed offsets rising, each with the earliest time a
    record at or above it was processed (suffix minimum), computed once."""
    cached = ix.cache.get("process_times")
    if cached is not None:
        return cached
    raw: dict[tuple[str, tuple[str, int]], dict[int, float]] = defaultdict(dict)
    processing = set()
    for p in ix.processes:
        if p.group is not None:
            processing.add(p.reader)
            at = raw[(p.group, (p.topic, p.partition))]
            at[p.offset] = min(at.get(p.offset, p.t), p.t)
    for r in ix.reads:  # members that write no process events: delivered is processed
        if r.group is not None and r.reader not in processing:
            at = raw[(r.group, (r.topic, r.partition))]
            at[r.offset] = min(at.get(r.offset, r.t), r.t)
    out = {}
    for key, at in raw.items():
        offs = sorted(at)
        ts = [at[o] for o in offs]
        for i in range(len(ts) - 2, -1, -1):
            ts[i] = min(ts[i], ts[i + 1])
        out[key] = (offs, ts)
    ix.cache["process_times"] = out
    return out


def rewind_past_commit(ix: Index) -> list[Example]:
    """A group re-delivered a record below the offset Kafka resumed the reader from.

    A commit says "the group is done below here": after any rebalance or restart the
    group resumes at its committed offset, the *last* successful commit made at or before
    the reader's latest assignment of the partition (not the highest ever made: a member
    that seeks back and commits a lower offset moves it back). Being given a record
    below it again, with no recorded seek back since the assignment, means the committed
    offset was lost or ignored. Re-delivery at or above it is what at-least-once allows
    (``info.redelivered``), not this.
    """
    out = []
    for g in group_views(ix):
        out += [_read_example(r, committed=c) for r, c in g.rewinds]
    return out


def zombie_commit(ix: Index) -> list[Example]:
    """A member's commit succeeded after its partition was ``lost``, with no assignment of
    it since.

    A member whose partitions were lost (its session expired, it was fenced) is no longer
    in the generation that owns them; the coordinator must refuse its commits, or a
    zombie can move the offset the partition's new owner resumes from. Kafka's committed
    offset is the last successful commit, so a zombie's commit is judged here, not as a
    rewind.
    """
    calls: dict[tuple[str, str, int], list[tuple[float, bool]]] = defaultdict(list)  # (t, lost?)
    for ev in ix.rebalances:
        is_lost = type(ev) is Lost
        for topic, partition in ev.partitions:
            calls[(ev.reader, topic, partition)].append((ev.t, is_lost))
    if not any(lost for evs in calls.values() for _, lost in evs):
        return []
    for evs in calls.values():
        evs.sort(key=_at)
    out = []
    for c in ix.commits:
        if c.status != "ok" or c.offset < 0:
            continue
        evs = calls.get((c.reader, c.topic, c.partition))
        if not evs:
            continue
        k = bisect_right(evs, (c.t, True))
        if k and evs[k - 1][1]:
            out.append(
                {
                    "reader": c.reader,
                    "group": c.group,
                    "topic": c.topic,
                    "partition": c.partition,
                    "committed": c.offset,
                    "t": c.t,
                    "lost_t": evs[k - 1][0],
                }
            )
    return out


def _at(x: tuple[float, Any]) -> float:
    return x[0]


# --- transactions ------------------------------------------------------------------------


def _txn_ids(ix: Index, outcomes: set[str]) -> set[str]:
    txns = ix.txns
    return {s.id for s in ix.sends.values() if s.txn is not None and txns.get(s.txn, "unknown") in outcomes}


def aborted_read(ix: Index) -> list[Example]:
    """A read_committed reader saw a record of a transaction that aborted."""
    ids = _txn_ids(ix, {"abort"}) & ix.read_ids
    return [_read_example(r, txn=ix.sends[r.id].txn) for r in ix.reads if r.id in ids and r.committed_only]


def uncommitted_read(ix: Index) -> list[Example]:
    """A read_committed consumer saw a record of a transaction that never committed.

    Proof needs the committed log: the transaction's outcome is unknown, nothing a
    read_committed reader saw proves it committed, and the finished committed drain of
    the record's partition does not hold the record although retention did not remove it.
    """
    ids = _txn_ids(ix, {"unknown"}) & ix.read_ids
    if not ids:
        return []
    return [
        _read_example(r, txn=ix.sends[r.id].txn)
        for r in ix.reads
        if r.id in ids and r.committed_only and r.group is not None and ix.contradicted(r)
    ]


def torn_transaction(ix: Index) -> list[Example]:
    """A committed transaction only partly in the committed log.

    A transaction is atomic: once it commits, every record in it is visible to
    read_committed readers. Some of its records visible and others missing (on drained
    partitions, not removed by retention) breaks that.
    """
    drain_ids, out = ix.drain_ids, []
    for name, sends in ix.txn_sends.items():
        if ix.txns.get(name) != "commit":
            continue
        visible = [s.id for s in sends if s.id in drain_ids]
        if not visible:
            continue
        gone = [s.id for s in sends if ix.absent.get(s.id) == "lost"]
        if gone:
            out.append({"txn": name, "visible": visible[:5], "missing": gone[:5], "missing_count": len(gone)})
    return out


def precommitted_read(ix: Index) -> list[Example]:
    """A read_committed reader saw a transactional record before its transaction could
    have committed: before the transaction's last send (or its commit) began.

    Commit markers are written only after the producer asks to commit, which is after
    every send of the transaction was made; read_committed readers must not see any of it
    earlier.
    """
    begun: dict[str, float] = {}
    for name, sends in ix.txn_sends.items():
        t = max(s.t0 for s in sends)
        ev = ix.txn_events.get(name)
        if ev is not None and ev.t0 is not None:
            t = max(t, ev.t0)
        for s in sends:
            begun[s.id] = t
    if not begun:
        return []
    out, sends_by_id = [], ix.sends
    for r in ix.reads:
        b = begun.get(r.id)
        if b is not None and r.t < b and r.isolation != "read_uncommitted":
            out.append(_read_example(r, txn=sends_by_id[r.id].txn, commit_begun=b))
    return out


def stuck_lso(ix: Index) -> list[Example]:
    """A read_committed drain could not reach the end of a transactional partition long
    after the transaction holding it had to be aborted.

    A transaction left open holds the last stable offset, and read_committed readers wait
    behind it. Its coordinator can abort it once ``transaction.timeout.ms`` has run from
    the transaction's start (its first send) and the coordinator is reachable (the heal),
    and does so at its next cleanup round: the deadline is max(first send + timeout,
    heal) + the abort cleanup interval. A stall after that, where a read_uncommitted drain
    got further, is a hanging transaction. Before it, or while a fault never ended, the
    partition is only ``undrained``.
    """
    stalls = [st for st in ix.stalls if (st.isolation or RC) == RC and ix.drain((st.topic, st.partition)) is None]
    if not stalls:
        return []
    starts = _txn_starts_by_partition(ix)
    ru_stalls = {(st.topic, st.partition): st.position for st in ix.stalls if st.isolation == RU}
    heal, timeout, cleanup = ix.heal_t, ix.txn_timeout_s, ix.txn_abort_cleanup_s
    out = []
    for st in stalls:
        tp = (st.topic, st.partition)
        if tp not in starts:
            continue
        # Held by the last stable offset only if a read_uncommitted reader got further.
        if ix.drain(tp, RU) is None and ru_stalls.get(tp, -1) <= st.position:
            continue
        deadline = max(_holder_start(starts[tp], st.position) + timeout, heal) + cleanup
        if st.t >= deadline:
            out.append(
                {
                    "topic": st.topic,
                    "partition": st.partition,
                    "position": st.position,
                    "end_offset": st.end_offset,
                    "t": st.t,
                    "since_heal_s": round(st.t - heal, 3),
                    "deadline": round(deadline, 3),
                }
            )
    return out


def _txn_starts_by_partition(ix: Index) -> dict[tuple[str, int], list[tuple[int, float]]]:
    """Per partition: (lowest offset of a transaction there, or -1 when unknown; the
    transaction's first send), sorted."""
    out: dict[tuple[str, int], dict[str, list]] = defaultdict(dict)
    for name, sends in ix.txn_sends.items():
        first = min(s.t0 for s in sends)
        for s in sends:
            where = ix.position(s)
            tp = (where[0], where[1]) if where is not None else ix.partition_of(s)
            if tp is None:
                continue
            offset = where[2] if where is not None else -1
            entry = out[tp].get(name)
            if entry is None:
                out[tp][name] = [offset, first]
            elif offset >= 0 and (entry[0] < 0 or offset < entry[0]):
                entry[0] = offset
    return {tp: sorted((o, t) for o, t in txns.values()) for tp, txns in out.items()}


def _holder_start(txns: list[tuple[int, float]], position: int) -> float:
    """When the transaction that holds the last stable offset at ``position`` began: the
    one whose records start lowest at or past it; when none is placed there, the latest
    start of the partition's transactions (the deadline is then the latest possible)."""
    k = bisect_left(txns, (position, float("-inf")))
    if k < len(txns):
        return txns[k][1]
    return max(t for _, t in txns)


def exactly_once_broken(ix: Index) -> list[Example]:
    """A pipeline's committed input does not have exactly one committed output.

    A consume-transform-produce pipeline commits its input offsets in the same
    transaction as its outputs; each output carries the id of its input. Every input
    record below the offsets the pipeline's group committed must have exactly one output
    of that group in the read_committed output, and no input above them may have one.
    Several pipeline groups may read one input (fan-out): each is judged on its own
    outputs (an output's group is its producer's, linked by ``process`` events). A
    transaction that committed, recorded or inferred, committed the input offsets sent
    in it: its inputs are covered even when no ``commit`` event says so.
    """
    drained_outputs = [r for r in ix.drain_reads(RC) if r.input is not None]
    groups = pipeline_groups(ix)
    if not drained_outputs and not groups:
        return []
    sends = ix.sends
    # (group, input id) -> output position -> output id
    outputs: dict[tuple[str | None, str], dict[tuple, str]] = defaultdict(dict)
    for r in drained_outputs:
        s = sends.get(r.id)
        group = producer_group(ix, s.producer, r.input) if s is not None else None
        for g in [group] if group is not None or not groups else groups:
            outputs[(g, r.input)][(r.topic, r.partition, r.offset)] = r.id  # type: ignore[index]
    # A missing output proves something only where every output partition was drained
    # from offset 0 (not undrained, nothing removed by retention).
    output_tps = {ix.partition_of(sends[p.output]) for p in ix.processes if p.output in sends}
    output_tps |= {(r.topic, r.partition) for r in drained_outputs}
    output_tps.discard(None)
    judged = all((d := ix.drain(tp)) is not None and d.start_offset == 0 for tp in output_tps)  # type: ignore[arg-type]
    out = []
    for group in sorted(groups, key=str) if groups else [None]:
        input_topics = {p.topic for p in ix.processes if p.output is not None and p.group == group}
        if not groups:
            input_topics |= {
                pos[0] for r in drained_outputs if r.input in sends and (pos := ix.position(sends[r.input]))
            }
        covered_to = _covered_to(ix, group if groups else None, input_topics)
        for (topic, partition), offsets in ix.committed_view.items():
            if topic not in input_topics:
                continue
            end = covered_to.get((topic, partition), 0)
            for offset, id_ in offsets.items():
                found = outputs.get((group, id_), {})
                n, covered = len(found), offset < end
                if (covered and n > 1) or (covered and n == 0 and judged) or (not covered and n):
                    out.append(
                        {
                            "input": id_,
                            "group": group,
                            "topic": topic,
                            "partition": partition,
                            "offset": offset,
                            "outputs": n,
                            "output_ids": sorted(set(found.values())),
                            "covered": covered,
                        }
                    )
    return out


def _covered_to(ix: Index, group: str | None, input_topics: set[str]) -> dict[tuple[str, int], int]:
    """Per input partition, the offset a pipeline group committed up to: its highest
    successful commit (any group's, when no group is known), or one past the highest
    input a committed transaction of the group took, whichever is higher."""
    covered: dict[tuple[str, int], int] = {}
    for c in ix.commits:
        if c.status == "ok" and c.topic in input_topics and (group is None or c.group == group):
            tp = (c.topic, c.partition)
            covered[tp] = max(covered.get(tp, 0), c.offset)
    for (g, tp), inputs in committed_inputs(ix).items():
        if (group is None or g == group) and tp[0] in input_topics and inputs:
            covered[tp] = max(covered.get(tp, 0), max(inputs) + 1)
    return covered


CHECKS: dict[str, Callable[[Index], list[Example]]] = {
    "lost": lost,
    "duplicate": duplicate,
    "reordered": reordered,
    "key-order-broken": key_order_broken,
    "inconsistent-offset": inconsistent_offset,
    "ack-mismatch": ack_mismatch,
    "ack-conflict": ack_conflict,
    "truncated-read": truncated_read,
    "epoch-regression": epoch_regression,
    "phantom": phantom,
    "failed-visible": failed_visible,
    "nonmonotonic-poll": nonmonotonic_poll,
    "skipped": skipped,
    "rewind-past-commit": rewind_past_commit,
    "zombie-commit": zombie_commit,
    "aborted-read": aborted_read,
    "uncommitted-read": uncommitted_read,
    "torn-transaction": torn_transaction,
    "precommitted-read": precommitted_read,
    "stuck-lso": stuck_lso,
    "exactly-once-broken": exactly_once_broken,
}
KINDS = tuple(CHECKS)

#: What a workload must produce for each check to be able to fire (``docs/anomalies.md``).
#: ``group``: consumer groups (reads, commits, rebalances); ``txn``: transactional
#: producers; ``keyed``: records with keys; ``pipeline``: outputs that name their input.
#: An expectation on a kind whose needs a variant cannot meet is refused at load: it
#: could never fail.
NEEDS: dict[str, frozenset[str]] = {
    **{kind: frozenset() for kind in CHECKS},
    "key-order-broken": frozenset({"keyed"}),
    "truncated-read": frozenset({"group"}),
    "skipped": frozenset({"group"}),
    "rewind-past-commit": frozenset({"group"}),
    "zombie-commit": frozenset({"group"}),
    "aborted-read": frozenset({"txn"}),
    "uncommitted-read": frozenset({"txn", "group"}),
    "torn-transaction": frozenset({"txn"}),
    "precommitted-read": frozenset({"txn"}),
    "stuck-lso": frozenset({"txn"}),
    "exactly-once-broken": frozenset({"pipeline"}),
}
