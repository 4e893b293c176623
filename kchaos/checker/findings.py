"""Anomalies grouped by cause: one finding per set of instances that share records.

One log truncation shows up as many kinds at once (the lost acks, the offsets that now
hold other records, the reads that were truncated away, the producer's order broken
where new records took old offsets). Counting each kind is right for the JSON; a person
needs the diagnosis: which records, where, during which fault, seen as which kinds.
Instances that share an id or a (topic, partition, offset) are joined (union-find), and
each group becomes one sentence.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator
from typing import Any

from kchaos.checker.index import Index

MAX_FINDINGS = 20
_ID_FIELDS = ("id", "after_id", "first_id", "input", "found", "delivered_after")
_LIST_FIELDS = ("ids", "visible", "missing", "output_ids")
#: Kinds that judge one consumer group: their instances join only within their group (two
#: groups that skipped the same records for two causes are two findings).
_PER_GROUP = frozenset({"skipped", "rewind-past-commit", "zombie-commit"})
_GROUP_CAUSE = "consumer group moved past or behind its commits"


def _keys(ex: dict[str, Any]) -> Iterator[tuple]:
    for f in _ID_FIELDS:
        if isinstance(ex.get(f), str):
            yield ("id", ex[f])
    for f in _LIST_FIELDS:
        for v in ex.get(f) or ():
            if isinstance(v, str):
                yield ("id", v)
    if ex.get("offset") is not None and ex.get("partition") is not None and ex.get("topic") is not None:
        yield ("pos", ex["topic"], ex["partition"], ex["offset"])


class _Sets:
    """Union-find whose sets never join instances of two consumer groups (``_PER_GROUP``
    kinds): those are two groups' own failures, even on the same records."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.group: dict[int, str] = {}  # root -> the group its per-group instances name

    def find(self, a: int) -> int:
        root = a
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while a != root:
            self.parent[a], a = root, self.parent.get(a, a)
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        ga, gb = self.group.get(ra), self.group.get(rb)
        if ga is not None and gb is not None and ga != gb:
            return
        lo, hi = min(ra, rb), max(ra, rb)
        self.parent[hi] = lo
        if ga is not None or gb is not None:
            self.group[lo] = ga if ga is not None else gb  # type: ignore[assignment]


def findings(ix: Index, found: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Group every instance of every kind into findings, largest first."""
    items = [(kind, ex) for kind, exs in found.items() for ex in exs]
    if not items:
        return []
    sets, owner = _Sets(), {}
    for i, (kind, ex) in enumerate(items):
        if kind in _PER_GROUP:
            sets.group[i] = str(ex.get("group"))
        for k in _keys(ex):
            j = owner.setdefault(k, i)
            if j != i:
                sets.union(i, j)
    groups: dict[int, list[int]] = {}
    for i in range(len(items)):
        groups.setdefault(sets.find(i), []).append(i)
    # Then one cause: clusters of one kind of cause, on the same partitions, during the
    # same fault, are one finding (a truncation of 1,200 offsets is 1,200 clusters above).
    merged: dict[tuple, list[tuple[str, dict[str, Any]]]] = {}
    for members in groups.values():
        cluster = [items[i] for i in members]
        merged.setdefault(_cause_key(ix, cluster), []).extend(cluster)
    out = [_describe(ix, cluster) for cluster in merged.values()]
    out.sort(key=lambda f: -f["instances"])
    return out[:MAX_FINDINGS]


def _cause_key(ix: Index, members: list[tuple[str, dict[str, Any]]]) -> tuple:
    kinds = Counter(kind for kind, _ in members)
    times = sorted(ex["t"] for _, ex in members if isinstance(ex.get("t"), int | float))
    cause = _cause(kinds)
    # Findings of the group cause stay apart per group (two groups, two failures).
    groups = tuple(sorted({str(ex.get("group")) for kind, ex in members if kind in _PER_GROUP}))
    return (cause, tuple(_where(members)), _fault_during(ix, times), groups if cause == _GROUP_CAUSE else ())


def _where(members: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, int]]:
    return sorted(
        {(ex["topic"], ex["partition"]) for _, ex in members if ex.get("topic") and ex.get("partition") is not None}
    )


def _describe(ix: Index, members: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    kinds = Counter(kind for kind, _ in members)
    where = _where(members)
    offsets = sorted(ex["offset"] for _, ex in members if isinstance(ex.get("offset"), int) and ex["offset"] >= 0)
    times = sorted(ex["t"] for _, ex in members if isinstance(ex.get("t"), int | float))
    fault = _fault_during(ix, times)
    epochs = _epochs(ix, where, offsets)
    finding = {
        "cause": _cause(kinds),
        "kinds": dict(kinds.most_common()),
        "instances": len(members),
        "partitions": [list(tp) for tp in where],
        "offsets": [offsets[0], offsets[-1]] if offsets else None,
        "fault": fault,
        "leader_epochs": epochs,
    }
    finding["text"] = _sentence(finding, members)
    return finding


_CAUSES = (
    ({"ack-mismatch", "truncated-read", "inconsistent-offset", "ack-conflict"}, "log truncated"),
    ({"lost"}, "acknowledged writes missing"),
    (
        {"torn-transaction", "aborted-read", "uncommitted-read", "precommitted-read", "stuck-lso"},
        "transaction isolation broken",
    ),
    ({"exactly-once-broken"}, "pipeline not exactly-once"),
    ({"skipped", "rewind-past-commit", "zombie-commit"}, "consumer group moved past or behind its commits"),
    ({"duplicate", "reordered"}, "client retries wrote records twice or out of order"),
    ({"key-order-broken"}, "per-key order broken"),
    ({"nonmonotonic-poll", "epoch-regression"}, "a reader was rewound"),
    ({"phantom", "failed-visible"}, "records no successful send accounts for"),
)


def _cause(kinds: Counter) -> str:
    for wanted, cause in _CAUSES:
        if wanted & kinds.keys():
            return cause
    return "anomalies"


def _fault_during(ix: Index, times: list[float]) -> str | None:
    """The last fault begun at or before the finding's latest time, with its window (its
    first end at or after its start). Fault starts and ends are sorted once per index and
    looked up by bisect."""
    if not times or not ix.faults:
        return None
    k = bisect_right(ix.fault_start_times, times[-1])
    if not k:
        return None
    f = ix.fault_starts[k - 1]
    ends = ix.fault_end_times.get(f.name, [])
    j = bisect_left(ends, f.t)
    window = f"{f.t:.1f}-{ends[j]:.1f} s" if j < len(ends) else f"from {f.t:.1f} s"
    return f"{f.name} {_short(f.target)} ({window})"


def _short(target: Any) -> str:
    """A fault target for a sentence: kchaos writes strings; anything else, cut short."""
    text = target if isinstance(target, str) else repr(target)
    return text if len(text) <= 80 else text[:77] + "..."


def _epochs(ix: Index, where: list[tuple], offsets: list[int]) -> list[int] | None:
    """Leader epochs readers saw at the finding's offsets: before and after a truncation."""
    if len(where) != 1 or not offsets:
        return None
    lo, hi = offsets[0], offsets[-1]
    epochs = ix.cache.get("epochs_by_partition")
    if epochs is None:  # once per check: partition -> [(offset, epoch)]
        epochs = ix.cache["epochs_by_partition"] = {}
        for r in ix.reads:
            if r.leader_epoch is not None:
                epochs.setdefault((r.topic, r.partition), []).append((r.offset, r.leader_epoch))
    seen = sorted({e for o, e in epochs.get(where[0], ()) if lo <= o <= hi})
    return seen or None


def _sentence(f: dict[str, Any], members: list[tuple[str, dict[str, Any]]]) -> str:
    kinds = f["kinds"]
    where = ", ".join(f"{t}-{p}" for t, p in f["partitions"]) or "records"
    at = f" at offsets {f['offsets'][0]}-{f['offsets'][1]} of {where}" if f["offsets"] else f" in {where}"
    lead = _lead(f["cause"], kinds, at) or f"{f['instances']:,} anomalies{at}: {f['cause']}"
    if f["leader_epochs"] and len(f["leader_epochs"]) > 1:
        lead += f" (leader epoch {f['leader_epochs'][0]}->{f['leader_epochs'][-1]})"
    if f["fault"]:
        lead += f" during {f['fault']}"
    seen = ", ".join(f"{k} {n:,}" for k, n in kinds.items())
    return f"{lead}; seen as {seen}."


def _lead(cause: str, kinds: dict[str, int], at: str) -> str | None:
    """The finding's first words, in the terms of its cause."""
    if cause == "log truncated":
        return f"{kinds.get('lost', kinds.get('ack-mismatch', 0)):,} acknowledged writes{at} were truncated"
    if cause == "acknowledged writes missing":
        return f"{kinds['lost']:,} acknowledged writes{at} are missing from the committed log"
    if cause == "consumer group moved past or behind its commits" and "skipped" in kinds:
        return f"{kinds['skipped']:,} committed records{at} were never processed by a group that moved past them"
    if cause == "consumer group moved past or behind its commits" and "rewind-past-commit" in kinds:
        return f"{kinds['rewind-past-commit']:,} records{at} were given again below a committed offset"
    if cause == "consumer group moved past or behind its commits":
        return f"{kinds.get('zombie-commit', 0):,} commits{at} succeeded after the member had lost the partition"
    return None
