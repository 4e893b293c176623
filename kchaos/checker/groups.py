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
from collections.abc import Iterator
from dataclasses import dataclass, field

from kchaos.checker.index import TP, Index, fault_label
from kchaos.checker.pipelines import committed_inputs
from kchaos.checker.rebalances import episodes
from kchaos.events import Assign, Client, Lost, Read, Revoke

#: The ``client`` event that names a member whose commits the history cannot see.
COMMITS_UNSEEN = "commits-unseen"


@dataclass
class GroupView:
    """One group on one partition."""

    group: str
    tp: TP
    processed: set[tuple[int, str]] = field(default_factory=set)  # (offset, id)
    max_commit: int | None = None
    commits: list[tuple[float, int]] = field(default_factory=list)  # successful, in time order
    rewinds: list[tuple[Read, int]] = field(default_factory=list)
    redelivered: list[tuple[Read, str]] = field(default_factory=list)
    unjudged: list[Read] = field(default_factory=list)  # re-deliveries whose commits the history cannot see


def group_views(ix: Index) -> list[GroupView]:
    """Every (group, partition) a group consumer read, computed once per index."""
    cached = ix.cache.get("group_views")
    if cached is None:
        cached = ix.cache["group_views"] = _build(ix)
    return cached


def commits_unseen(ix: Index) -> set[str]:
    """Members whose commits the history cannot see: a ``client`` event ``commits-unseen``
    names them (Kafka's VerifiableConsumer with auto-commit prints no commits)."""
    return {e.producer for e in ix.other if type(e) is Client and e.event == COMMITS_UNSEEN}


def _build(ix: Index) -> list[GroupView]:
    reads: dict[tuple[str, TP], list[Read]] = defaultdict(list)
    for r in ix.reads:
        if r.group is not None:
            reads[(r.group, (r.topic, r.partition))].append(r)
    processed = _processed(ix)
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
    seeks: dict[tuple[str, TP], list[tuple[float, int]]] = defaultdict(list)
    for sk in ix.seeks:
        seeks[(sk.reader, (sk.topic, sk.partition))].append((sk.t, sk.offset))
    for moves in seeks.values():
        moves.sort()
    blind = _blind_since(ix, reads)
    causes = _Causes(ix)
    views = []
    for key in sorted(set(reads) | set(commits), key=str):
        group, tp = key
        view = GroupView(group, tp)
        view.processed = processed[key]
        # Last commit wins: in time order, the file's order between commits of one instant.
        view.commits = sorted(commits.get(key, []), key=_first)
        view.max_commit = max((o for _, o in view.commits), default=None)
        _judge_redeliveries(view, reads.get(key, []), assigned, seeks, blind.get(key), causes)
        views.append(view)
    return views


def _first(pair: tuple[float, int]) -> float:
    return pair[0]


def processing(ix: Index) -> Iterator[tuple[str, TP, int, str, float]]:
    """Each record a group processed, as (group, partition, offset, id, time): what
    ``process`` events say, for the members that write them; for the others (a Java
    VerifiableConsumer, a client kchaos did not write), what they were given."""
    processing_readers = set()
    for p in ix.processes:
        if p.group is not None:
            processing_readers.add(p.reader)
            yield p.group, (p.topic, p.partition), p.offset, p.id, p.t
    for r in ix.reads:
        if r.group is not None and r.reader not in processing_readers:
            yield r.group, (r.topic, r.partition), r.offset, r.id, r.t


def _processed(ix: Index) -> dict[tuple[str, TP], set[tuple[int, str]]]:
    """What each group processed per partition (``processing``), and the inputs whose
    outputs a committed transaction holds (its worker may have been killed before it
    wrote its ``process`` events)."""
    processed: dict[tuple[str, TP], set[tuple[int, str]]] = defaultdict(set)
    for group, tp, offset, rid, _t in processing(ix):
        processed[(group, tp)].add((offset, rid))
    for (group, tp), inputs in committed_inputs(ix).items():
        if group is not None:
            processed[(group, tp)] |= {(o, i) for o, i in inputs.items()}
    return processed


def _blind_since(ix: Index, reads: dict[tuple[str, TP], list[Read]]) -> dict[tuple[str, TP], float]:
    """Per (group, partition): from when a member whose commits the history cannot see
    held it (its first assignment of it, or its first read of it)."""
    unseen = commits_unseen(ix)
    out: dict[tuple[str, TP], float] = {}
    if not unseen:
        return out
    for ev in ix.rebalances:
        if type(ev) is Assign and ev.reader in unseen and ev.group is not None:
            for topic, partition in ev.partitions:
                key = (ev.group, (topic, partition))
                out[key] = min(out.get(key, ev.t), ev.t)
    for key, rs in reads.items():
        for r in rs:
            if r.reader in unseen:
                out[key] = min(out.get(key, r.t), r.t)
                break
    return out


def _judge_redeliveries(
    view: GroupView,
    reads: list[Read],
    assigned: dict[tuple[str, TP], list[float]],
    seeks: dict[tuple[str, TP], list[tuple[float, int]]],
    blind_since: float | None,
    causes: _Causes,
) -> None:
    """Walk the group's deliveries in order. A record (an offset holding one id) given
    again is judged against the offset Kafka resumed the reader from when it was last
    *assigned* the partition: the group's last successful commit at or before that
    instant (the new owner fetches its offsets after the callback; Java tools stamp in
    milliseconds, so a commit of the same instant counts). Commits made after the
    assignment (a commit-before-processing consumer commits each batch before it is
    delivered) do not move a position already set; a recorded seek back since the
    assignment does, on purpose. Once a member whose commits the history cannot see has
    held the partition, no re-delivery is judged."""
    first: dict[tuple[int, str], float] = {}
    commit_t = [t for t, _ in view.commits]
    tp = view.tp
    for r in reads:
        pos = (r.offset, r.id)
        t_first = first.get(pos)
        if t_first is None:
            first[pos] = r.t
            continue
        if blind_since is not None and blind_since <= r.t:
            view.unjudged.append(r)
            continue
        times = assigned.get((r.reader, tp), ())
        k = bisect_right(times, r.t)
        committed = None
        if k:  # the last commit at or before the reader's latest assignment
            j = bisect_right(commit_t, times[k - 1])
            committed = view.commits[j - 1][1] if j else None
        if committed is not None and r.offset < committed and not _sought(seeks, r, tp, times[k - 1]):
            view.rewinds.append((r, committed))
        else:
            view.redelivered.append((r, causes.between(view.group, t_first, r.t)))


def _sought(seeks: dict[tuple[str, TP], list[tuple[float, int]]], r: Read, tp: TP, since: float) -> bool:
    """The reader moved its own position on the partition to at or below ``r``'s offset
    after ``since`` (its latest assignment) and before ``r``: going back was on purpose."""
    moves = seeks.get((r.reader, tp))
    if not moves:
        return False
    lo = bisect_left(moves, (since, -(1 << 62)))
    hi = bisect_right(moves, (r.t, 1 << 62))
    return any(offset <= r.offset for _, offset in moves[lo:hi])


class _Causes:
    """What happened between two deliveries of one record: the last fault begun in
    between; else, when the group rebalanced in between, the trigger whose episode that
    rebalance fell in (a member that joins is started at the trigger and rebalances the
    group a second later: records first delivered in that second are re-delivered
    because of it); else the last rebalance callback's kind; else nothing known.
    Episodes are looked up by bisect, and built only when a rebalance needs one."""

    def __init__(self, ix: Index) -> None:
        self.ix = ix
        self.fault_t = ix.fault_start_times
        self.fault_name = [fault_label(f) for f in ix.fault_starts]
        self._episodes: tuple[list[float], list[tuple[float, float, str]]] | None = None
        self.rebalances: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for ev in ix.rebalances:
            kind = "lost" if isinstance(ev, Lost) else "revoke" if isinstance(ev, Revoke) else "assign"
            self.rebalances[ev.group or ""].append((ev.t, kind))
        for evs in self.rebalances.values():
            evs.sort()

    def _trigger(self, t: float) -> str | None:
        """The trigger of the latest episode that began at or before ``t`` and covers it."""
        if self._episodes is None:
            eps = sorted((e["t"], e["until"], e["trigger"]) for e in episodes(self.ix))
            self._episodes = ([e[0] for e in eps], eps)
        starts, eps = self._episodes
        k = bisect_right(starts, t)
        # An episode ends at the next fault event, the next trigger's start: only episodes
        # of the latest start can cover ``t``, and earlier ones that end right there.
        for i in range(k - 1, -1, -1):
            start, until, trigger = eps[i]
            if until >= t:
                return trigger
            if start < starts[k - 1]:
                break
        return None

    def between(self, group: str, t0: float, t1: float) -> str:
        k = bisect_right(self.fault_t, t1)
        if k and self.fault_t[k - 1] > t0:
            return self.fault_name[k - 1]
        evs = self.rebalances.get(group, [])
        k = bisect_right(evs, (t1, "~"))
        if k and evs[k - 1][0] > t0:
            t_reb = evs[k - 1][0]
            trigger = self._trigger(t_reb)
            if trigger is not None:
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
