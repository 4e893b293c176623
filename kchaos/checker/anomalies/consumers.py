"""Anomalies of consumer groups: a consumer rewound behind the application's back, a
group that moved past records it never processed, rewinds past a commit, and commits
from a member the group had fenced."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from kchaos.checker.anomalies.examples import Example, read_example
from kchaos.checker.groups import group_views, processing
from kchaos.checker.index import Index
from kchaos.events import Lost


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
            out.append(read_example(r, after_offset=prev))
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
    for group, tp, offset, _id, t in processing(ix):
        at = raw[(group, tp)]
        at[offset] = min(at.get(offset, t), t)
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
    """A group re-delivered a record below the offset Kafka resumed the reader from: the
    group's last successful commit at or before the reader's latest assignment of the
    partition.

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
        out += [read_example(r, committed=c) for r, c in g.rewinds]
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


CHECKS: dict[str, Callable[[Index], list[Example]]] = {
    "nonmonotonic-poll": nonmonotonic_poll,
    "skipped": skipped,
    "rewind-past-commit": rewind_past_commit,
    "zombie-commit": zombie_commit,
}
#: What a workload must produce for a check to be able to fire (kinds not named need nothing).
NEEDS: dict[str, frozenset[str]] = {
    "skipped": frozenset({"group"}),
    "rewind-past-commit": frozenset({"group"}),
    "zombie-commit": frozenset({"group"}),
}
