"""Consumer groups, seen through their commits: what each group delivered, processed
and committed per partition, and every re-delivery judged against its commits.

One pass per (group, partition) serves three checks and one piece of information:
``skipped`` (committed or moved past without processing), ``rewind-past-commit``
(re-delivered below a successful commit) and ``info.redelivered`` (re-delivery the
commits allow: at-least-once at work), counted per cause.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

from kchaos.checker.index import TP, Index
from kchaos.checker.rebalances import episodes
from kchaos.events import Assign, Lost, Read, Revoke


@dataclass
class GroupView:
    """One group on one partition."""

    group: str
    tp: TP
    processed: set[tuple[int, str]] = field(default_factory=set)  # (offset, id)
    max_commit: int | None = None
    rewinds: list[tuple[Read, int]] = field(default_factory=list)
    redelivered: list[tuple[Read, str]] = field(default_factory=list)


def group_views(ix: Index) -> list[GroupView]:
    """Every (group, partition) a group consumer read, computed once per index."""
    cached = ix.cache.get("group_views")
    if cached is None:
        cached = ix.cache["group_views"] = _build(ix)
    return cached


def _build(ix: Index) -> list[GroupView]:
    reads: dict[tuple[str, TP], list[Read]] = defaultdict(list)
    for r in ix.reads:
        if r.group is not None:
            reads[(r.group, (r.topic, r.partition))].append(r)
    # Processed: what ``process`` events say, for the members that write them; for the
    # others (a Java VerifiableConsumer, a client kchaos did not write), what they were given.
    processed: dict[tuple[str, TP], set[tuple[int, str]]] = defaultdict(set)
    readers_processing = set()
    for p in ix.processes:
        if p.group is not None:
            readers_processing.add(p.reader)
            processed[(p.group, (p.topic, p.partition))].add((p.offset, p.id))
    for key, rs in reads.items():
        processed[key] |= {(r.offset, r.id) for r in rs if r.reader not in readers_processing}
    commits: dict[tuple[str, TP], list[tuple[float, int]]] = defaultdict(list)
    for c in ix.commits:
        if c.status == "ok" and c.offset >= 0:
            commits[(c.group, (c.topic, c.partition))].append((c.t, c.offset))
    assigned: dict[tuple[str, TP], list[float]] = defaultdict(list)
    for ev in ix.rebalances:
        if type(ev) is Assign:
            for topic, partition in ev.partitions:
                assigned[(ev.reader, (topic, partition))].append(ev.t)
    for times in assigned.values():  # writers' clocks interleave (a Java client's lines are back-dated)
        times.sort()
    causes = _Causes(ix)
    views = []
    for key in sorted(set(reads) | set(commits), key=str):
        group, tp = key
        view = GroupView(group, tp)
        rs = reads.get(key, [])
        view.processed = processed[key]
        cs = sorted(commits.get(key, []))
        view.max_commit = max((o for _, o in cs), default=None)
        _judge_redeliveries(view, rs, cs, assigned, causes)
        views.append(view)
    return views


def _judge_redeliveries(
    view: GroupView,
    reads: list[Read],
    commits: list[tuple[float, int]],
    assigned: dict[tuple[str, TP], list[float]],
    causes: _Causes,
) -> None:
    """Walk the group's deliveries in order. A record (an offset holding one id) given
    again is judged against what the group had committed when the reader was *assigned*
    the partition: that is where its position came from. Commits made after the
    assignment (a commit-before-processing consumer commits each batch before it is
    delivered) do not move a position already set."""
    first: dict[tuple[int, str], float] = {}
    commit_t = [t for t, _ in commits]
    best, top = [], None
    for _, offset in commits:
        top = offset if top is None else max(top, offset)
        best.append(top)
    for r in reads:
        pos = (r.offset, r.id)
        t_first = first.get(pos)
        if t_first is None:
            first[pos] = r.t
            continue
        times = assigned.get((r.reader, view.tp), [])
        k = bisect_right(times, r.t)
        committed = None
        if k:  # the commits made before the reader's latest assignment
            j = bisect_left(commit_t, times[k - 1])
            committed = best[j - 1] if j else None
        if committed is not None and r.offset < committed:
            view.rewinds.append((r, committed))
        else:
            view.redelivered.append((r, causes.between(view.group, t_first, r.t)))


class _Causes:
    """What happened between two deliveries of one record: the last fault begun in
    between; else, when the group rebalanced in between, the trigger whose episode that
    rebalance fell in (a member that joins is started at the trigger and rebalances the
    group a second later: records first delivered in that second are re-delivered
    because of it); else the last rebalance callback's kind; else nothing known."""

    def __init__(self, ix: Index) -> None:
        starts = sorted((f.t, (f.args or {}).get("as") or f.name) for f in ix.faults if f.phase == "start")
        self.fault_t, self.fault_name = [t for t, _ in starts], [n for _, n in starts]
        self.episodes = sorted((e["t"], e["until"], e["trigger"]) for e in episodes(ix))
        self.rebalances: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for ev in ix.rebalances:
            kind = "lost" if isinstance(ev, Lost) else "revoke" if isinstance(ev, Revoke) else "assign"
            self.rebalances[ev.group or ""].append((ev.t, kind))
        for evs in self.rebalances.values():
            evs.sort()

    def between(self, group: str, t0: float, t1: float) -> str:
        k = bisect_right(self.fault_t, t1)
        if k and self.fault_t[k - 1] > t0:
            return self.fault_name[k - 1]
        evs = self.rebalances.get(group, [])
        k = bisect_right(evs, (t1, "~"))
        if k and evs[k - 1][0] > t0:
            t_reb = evs[k - 1][0]
            for start, until, trigger in reversed(self.episodes):
                if start <= t_reb <= until:
                    return trigger
            return "rebalance" if evs[k - 1][1] != "lost" else "partitions-lost"
        return "no-rebalance"


def redelivered(ix: Index) -> dict[str, int]:
    """Re-deliveries the commits allow, per cause (information, not anomalies)."""
    out: dict[str, int] = defaultdict(int)
    for v in group_views(ix):
        for _, cause in v.redelivered:
            out[cause] += 1
    return dict(sorted(out.items()))
