"""Rebalances, measured per trigger: what each client fault or topic change cost a group.

A trigger is a fault that starts at one instant: a member joins (``start-client``),
leaves (``stop-client``), crashes (``kill-client``), hangs (``hang-client``), comes back
(``restart-client``), or the topic grows (``add-partitions``). Its *episode* runs from
its start to the next fault event, the heal or the drain (whichever comes first). In it:

- ``detect_s``: the trigger to the first rebalance callback of a member other than the
  one it hit (None: the others never noticed, as with a static member's quick restart);
- ``others``: rebalance callbacks (assign, revoke, lost) of the other members;
- ``revoked``: partitions revoked or lost, summed over members (eager revokes them all,
  cooperative and KIP-848 only the ones that move);
- ``pause_max_s``: over the partitions that moved, the longest time between two
  deliveries of the partition to the group across the episode (last record before the
  revoke to the first after the new assign);
- ``stop_the_world_s``: the longest time the whole group delivered nothing;
- ``duration_s``: first to last rebalance callback;
- ``redelivered``: re-deliveries the checker put down to this trigger.

A trigger is measured under its step's name (``as:``) when it has one, else under its
action's; several triggers under one key are summed (counts) or maxed (times).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from typing import Any

from kchaos.checker.index import Index
from kchaos.events import Assign, Group, Lost, Revoke

TRIGGERS = ("start-client", "stop-client", "kill-client", "hang-client", "restart-client", "add-partitions")
METRICS = ("detect_s", "others", "revoked", "pause_max_s", "stop_the_world_s", "duration_s", "redelivered")
_SUMMED = ("others", "revoked")  # redelivered is counted per trigger name already


def episodes(ix: Index, redelivered_by_cause: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """One dict per trigger in the history, in time order. Built once per index (fault
    times, rebalances and deliveries sorted once, each episode found by bisect); the
    ``redelivered`` counts are filled in per call."""
    base = ix.cache.get("episodes")
    if base is None:
        base = ix.cache["episodes"] = _episodes(ix)
    counts = redelivered_by_cause or {}
    return [{**ep, "redelivered": counts.get(ep["trigger"], 0)} for ep in base]


def _episodes(ix: Index) -> list[dict[str, Any]]:
    starts = sorted((tr for tr in _triggers(ix) if tr[1] in TRIGGERS), key=_time)
    if not starts:
        return []
    end_of_history = max(max((r.t for r in ix.reads), default=0.0), max((ev.t for ev in ix.rebalances), default=0.0))
    bounds = _Bounds(ix)
    rebalances = sorted(ix.rebalances, key=_time)
    reb_t = [ev.t for ev in rebalances]
    late = _own_joins(starts, rebalances)
    reads = _read_times(ix)
    per_group = _group_times(reads)
    out = []
    for t, name, target, label in starts:
        until = bounds.after(t, name, target, end_of_history)
        evs = rebalances[bisect_left(reb_t, t) : bisect_right(reb_t, until)]
        # A join begun before this trigger is no sign the others noticed it.
        others = [ev for ev in evs if ev.reader != target and late.get(id(ev), t) >= t]
        moved = {(ev.group, (p[0], p[1])) for ev in evs for p in ev.partitions}
        out.append(
            {
                "trigger": label or name,
                "action": name,
                "target": target,
                "t": t,
                "until": until,
                "detect_s": round(others[0].t - t, 3) if others else None,
                "others": len(others),
                "revoked": sum(len(ev.partitions) for ev in evs if isinstance(ev, Revoke | Lost)),
                "pause_max_s": _pause(reads, moved, t, until),
                "stop_the_world_s": _group_idle(per_group, t, until),
                "duration_s": round(evs[-1].t - evs[0].t, 3) if evs else None,
                "redelivered": 0,
            }
        )
    return out


def _own_joins(starts: list[tuple[float, str, Any, str | None]], rebalances: list[Any]) -> dict[int, float]:
    """The first assignment of each member after its own (re)start, with the start's
    time: it completes that member's join. On a busy machine it can land after the next
    trigger began (a static member back 3 s late, after the crash of another), where it
    would pass for the others noticing that trigger: it is left out of that trigger's
    ``others`` and ``detect_s`` (still counted in what moved and for how long). Its own
    episode has ended by then, so that episode does not see it either."""
    restarts: dict[Any, list[float]] = defaultdict(list)
    for t, name, target, _ in starts:
        if name in ("start-client", "restart-client"):
            restarts[target].append(t)
    out: dict[int, float] = {}
    for reader, times in restarts.items():
        mine = [ev for ev in rebalances if ev.reader == reader]
        for started in times:
            first = next((ev for ev in mine if ev.t >= started and type(ev) is Assign), None)
            if first is not None:  # Revoke and Lost are Assign's subclasses: not joins
                out[id(first)] = started
    return out


def _time(x: Any) -> float:
    return x[0] if isinstance(x, tuple) else x.t


def _triggers(ix: Index) -> list[tuple[float, str, Any, str | None]]:
    """(t, action, target, as-name) of each trigger: fault starts, and the ends that a
    restart or start step made (recorded with ``by``, the step's action). Names that are
    not strings are not names."""
    out = []
    for f in ix.faults:
        args = f.args or {}
        label = args.get("as") if isinstance(args.get("as"), str) else None
        if f.phase == "start":
            out.append((f.t, f.name, f.target, label))
        elif isinstance(args.get("by"), str) and args["by"]:
            out.append((f.t, args["by"], f.target, label))
    return out


class _Bounds:
    """Where an episode ends: the next fault event after its trigger (not the trigger's
    own plain end: starting a member ends at once; an end made by a later step, ``by``,
    counts), the heal, or the drain; else the end of the history. Fault events and
    phases sorted once; each lookup bisects and skips only the trigger's own ends."""

    def __init__(self, ix: Index) -> None:
        self.faults = sorted(ix.faults, key=_time)
        self.fault_t = [f.t for f in self.faults]
        self.phase_t = sorted(p.t for p in ix.phases if p.name in ("heal", "drain"))

    def after(self, t: float, name: str, target: Any, end_of_history: float) -> float:
        bound = float("inf")
        k = bisect_right(self.phase_t, t)
        if k < len(self.phase_t):
            bound = self.phase_t[k]
        for i in range(bisect_right(self.fault_t, t), len(self.faults)):
            f = self.faults[i]
            if f.t >= bound:
                break
            if not _own_plain_end(f, name, target):
                bound = f.t
                break
        return bound if bound != float("inf") else max(end_of_history, t)


def _episode_end(ix: Index, t: float, name: str, target: Any, end_of_history: float) -> float:
    """The end of the episode of a trigger at ``t`` (see ``_Bounds``)."""
    return _Bounds(ix).after(t, name, target, end_of_history)


def _own_plain_end(f: Any, name: str, target: Any) -> bool:
    """The trigger's own end, not made by a later step (starting a member ends at once)."""
    return f.phase == "end" and f.name == name and f.target == target and not (f.args or {}).get("by")


def by_trigger(eps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The episodes folded per trigger kind: counts summed, times maxed."""
    out: dict[str, dict[str, Any]] = {}
    for ep in eps:
        acc = out.setdefault(ep["trigger"], {m: None for m in METRICS})
        for m in METRICS:
            v = ep[m]
            if v is None:
                continue
            old = acc[m]
            acc[m] = v if old is None else (old + v if m in _SUMMED else max(old, v))
    return out


def _read_times(ix: Index) -> dict[tuple[str, tuple[str, int]], list[float]]:
    """Per (group, partition): the times the group was handed a record of it, sorted."""
    out: dict[tuple[str, tuple[str, int]], list[float]] = defaultdict(list)
    for r in ix.reads:
        if r.group is not None:
            out[(r.group, (r.topic, r.partition))].append(r.t)
    for ts in out.values():
        ts.sort()
    return out


def _group_times(reads: dict[tuple[str, tuple[str, int]], list[float]]) -> dict[str, list[float]]:
    """Per group: the times it was handed any record, sorted (once, not once per trigger)."""
    per_group: dict[str, list[float]] = defaultdict(list)
    for (group, _), ts in reads.items():
        per_group[group] += ts
    for ts in per_group.values():
        ts.sort()
    return per_group


def _group_idle(per_group: dict[str, list[float]], t: float, until: float) -> float | None:
    """The longest stretch in which one group was handed nothing at all (the worst group)."""
    gaps = [_longest_gap(ts, t, until) for ts in per_group.values()]
    gaps = [g for g in gaps if g is not None]
    return max(gaps) if gaps else None


def _pause(reads: dict[tuple[str, tuple[str, int]], list[float]], moved: set, t: float, until: float) -> float | None:
    gaps = [_longest_gap(reads.get(key, []), t, until) for key in moved]
    gaps = [g for g in gaps if g is not None]
    return max(gaps) if gaps else None


def _longest_gap(times: list[float], t: float, until: float) -> float | None:
    """The longest stretch without a delivery that ends inside (t, until], counted from
    the last delivery before ``t``; a stretch still open at ``until`` counts to it."""
    if not times:
        return None
    k = bisect_right(times, t)
    window = times[k - 1 if k else 0 : bisect_right(times, until)]
    if not window:
        return None
    gaps = [b - a for a, b in zip(window, window[1:], strict=False)]
    if window[-1] < until:
        gaps.append(until - window[-1])
    return round(max(gaps), 3) if gaps else None


def rebalance_kinds(ix: Index) -> dict[str, int]:
    """Rebalance callbacks in the run, by kind."""
    out = {"assign": 0, "revoke": 0, "lost": 0}
    for ev in ix.rebalances:
        out["assign" if type(ev) is Assign else "lost" if isinstance(ev, Lost) else "revoke"] += 1
    return out


def steps(ix: Index, limit: int = 40) -> list[dict[str, Any]]:
    """The first trigger that made the group rebalance, step by step, for the report's
    sequence diagram: the trigger, the broker's view of the group (state changes), each
    member's revoke, lost and assign callbacks, its last commit before giving partitions
    back and its first after being assigned, and its first delivery of each partition it
    was newly given. Times are seconds after the trigger."""
    eps = [e for e in episodes(ix) if e["duration_s"] is not None]
    if not eps:
        return []
    ep = eps[0]
    t0 = ep["t"]
    until = _episode_end(ix, t0, ep["action"], ep["target"], float("inf"))
    out: list[dict[str, Any]] = [{"t": 0.0, "who": "kchaos", "to": ep["target"], "what": ep["trigger"]}]
    groups = [e for e in ix.other if isinstance(e, Group) and t0 <= e.t <= until]
    out += [{"t": e.t - t0, "who": "coordinator", "to": "coordinator", "what": f"group {e.state}"} for e in groups]
    given: dict[tuple[str, str, int], float] = {}  # (member, topic, partition) -> assigned at
    gave_back: dict[str, float] = {}  # member -> its first revoke or lost
    assigned: dict[str, float] = {}  # member -> its first non-empty assign
    for ev in sorted((ev for ev in ix.rebalances if t0 <= ev.t <= until), key=lambda ev: ev.t):
        kind = "assign" if type(ev) is Assign else "lost" if isinstance(ev, Lost) else "revoke"
        parts = ",".join(f"p{p[1]}" for p in ev.partitions) or "nothing"
        who, to = ("coordinator", ev.reader) if kind == "assign" else (ev.reader, "coordinator")
        out.append({"t": ev.t - t0, "who": who, "to": to, "what": f"{kind} {parts}"})
        if kind == "assign" and ev.partitions:
            assigned.setdefault(ev.reader, ev.t)
            given.update({(ev.reader, p[0], p[1]): ev.t for p in ev.partitions})
        elif kind != "assign":
            gave_back.setdefault(ev.reader, ev.t)
    out += _bracketing_commits(ix, t0, until, gave_back, assigned)
    seen: set[tuple[str, str, int]] = set()
    for r in ix.reads:
        key = (r.reader, r.topic, r.partition)
        if key in given and key not in seen and given[key] <= r.t <= until:
            seen.add(key)
            out.append(
                {"t": r.t - t0, "who": r.reader, "to": r.reader, "what": f"first record p{r.partition}@{r.offset}"}
            )
    out.sort(key=lambda s: s["t"])
    return [{**s, "t": round(s["t"], 3)} for s in out[:limit]]


def _bracketing_commits(
    ix: Index, t0: float, until: float, gave_back: dict[str, float], assigned: dict[str, float]
) -> list[dict[str, Any]]:
    """Per member: its last successful commit as it gave partitions back (in its revoke
    callback, or before), and its first after it was assigned (one step per commit call,
    partitions joined)."""
    calls: dict[tuple[str, float], list[str]] = defaultdict(list)
    for c in ix.commits:
        if t0 <= c.t <= until and c.status == "ok" and c.offset >= 0:
            calls[(c.reader, round(c.t, 2))].append(f"p{c.partition}@{c.offset}")  # one call, per partition
    out = []
    for member in sorted(set(gave_back) | set(assigned)):
        mine = sorted((t, parts) for (m, t), parts in calls.items() if m == member)
        # a commit in the revoke callback is written just after the revoke itself
        cutoff = min(gave_back.get(member, -1.0) + 0.5, assigned.get(member, float("inf")))
        before = [x for x in mine if member in gave_back and x[0] <= cutoff]
        after = [x for x in mine if member in assigned and x[0] > assigned[member]]
        for t, parts in ([before[-1]] if before else []) + ([after[0]] if after else []):
            out.append({"t": t - t0, "who": member, "to": "coordinator", "what": "commit " + ",".join(parts)})
    return out
