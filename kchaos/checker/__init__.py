"""The checker: pure functions over a History. No Kafka needed to run or test them.

``check(events)`` returns the stable JSON object of ``kchaos check --json``
(``docs/outputs.md``): every anomaly kind with its count and examples, the findings
grouped by cause, the partitions that could not be judged, and information that is not
an anomaly (unknown and failed sends, re-deliveries the commits allow, per cause).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kchaos.checker.anomalies import CHECKS, KINDS
from kchaos.checker.findings import findings
from kchaos.checker.groups import commits_unseen, group_views, redelivered
from kchaos.checker.index import RC, Index, build
from kchaos.errors import BadInput

MAX_EXAMPLES = 10
#: 2: ``reprocessed`` left the anomalies (now ``info.redelivered``); new kinds, ``findings``.
FORMAT_VERSION = 2

__all__ = ["FORMAT_VERSION", "KINDS", "build", "check", "check_index", "parse_kinds"]


def parse_kinds(text: str | None) -> tuple[str, ...]:
    """``"lost,duplicate"`` -> the kinds; a one-line error names an unknown one."""
    if not text:
        return KINDS
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in CHECKS]
    if unknown:
        raise BadInput(f"--kinds: unknown anomaly kind {unknown[0]!r}; known: {', '.join(KINDS)}")
    return kinds


def undrained(ix: Index) -> list[list[Any]]:
    """Partitions whose committed data cannot be judged: writes that must be visible landed
    there (or a drain stalled there) but no read_committed drain finished, or an ack came
    after the drain had finished, past its end."""
    wanted = set()
    for i, why in ix.absent.items():
        if why in ("undrained", "late"):
            tp = ix.partition_of(ix.sends[i])
            if tp is not None:
                wanted.add(tp)
    wanted |= {(st.topic, st.partition) for st in ix.stalls if (st.isolation or RC) == RC}
    return [[t, p] for t, p in sorted(wanted)]


def info(ix: Index) -> dict[str, Any]:
    """Not anomalies: unknown sends that never appeared, failed sends, records retention
    removed, acks after the drain, transactions inferred committed, and re-deliveries
    the commits allow (per cause)."""
    seen = ix.read_ids
    sends = ix.sends.values()
    again = redelivered(ix)
    why = list(ix.absent.values())
    return {
        "unknown_sends": sum(1 for s in sends if s.status == "unknown" and s.id not in seen),
        "unknown_sends_seen": sum(1 for s in sends if s.status == "unknown" and s.id in seen),
        "failed_sends": sum(1 for s in sends if s.status == "fail"),
        "removed_by_retention": why.count("removed"),
        "late_acks": why.count("late"),
        "txn_inferred_commit": len(ix.inferred_commits),
        "redelivered": sum(again.values()),
        "redelivered_by_cause": again,
        "commits_unseen": sorted(commits_unseen(ix)),
        "redelivered_unjudged": sum(len(v.unjudged) for v in group_views(ix)) if ix.reads else 0,
    }


def check_index(ix: Index, kinds: Iterable[str] = KINDS) -> dict[str, Any]:
    """Run the selected checks; every kind is present in ``anomalies`` (0 when not run)."""
    selected = set(kinds)
    found = {kind: fn(ix) for kind, fn in CHECKS.items() if kind in selected}
    return {
        "format_version": FORMAT_VERSION,
        "events": ix.events,
        "anomalies": {kind: len(found.get(kind, ())) for kind in CHECKS},
        "examples": {kind: f[:MAX_EXAMPLES] for kind, f in found.items() if f},
        "findings": findings(ix, found),
        "undrained": undrained(ix),
        "info": info(ix),
    }


def check(events: Iterable[Any], kinds: Iterable[str] = KINDS) -> dict[str, Any]:
    """Index events (Structs from ``history.load``, or dicts) and check them."""
    return check_index(build(events), kinds)
