"""The checker: pure functions over a History. No Kafka needed to run or test them.

``check(events)`` returns the stable JSON object of ``kchaos check --json``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kchaos.checker.anomalies import CHECKS, KINDS
from kchaos.checker.index import Index, build
from kchaos.errors import BadInput

MAX_EXAMPLES = 10

__all__ = ["KINDS", "check", "check_index", "build", "parse_kinds"]


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
    """Partitions that acknowledged writes landed in but no drain reader finished."""
    wanted = {(s.topic, s.partition) for s in ix.ok_visible_sends()}
    return [[t, p] for t, p in sorted(wanted - set(ix.drained))]


def info(ix: Index) -> dict[str, int]:
    """Not anomalies: unknown sends that never appeared, and failed sends."""
    seen = ix.read_ids
    unknown = sum(1 for s in ix.sends.values() if s.status == "unknown" and s.id not in seen)
    unknown_seen = sum(1 for s in ix.sends.values() if s.status == "unknown" and s.id in seen)
    failed = sum(1 for s in ix.sends.values() if s.status == "fail")
    removed = sum(1 for s in ix.ok_visible_sends() if ix.removed(s))
    return {
        "unknown_sends": unknown,
        "unknown_sends_seen": unknown_seen,
        "failed_sends": failed,
        "removed_by_retention": removed,
    }


def check_index(ix: Index, kinds: Iterable[str] = KINDS) -> dict[str, Any]:
    """Run the selected checks; every kind is present in ``anomalies`` (0 when not run)."""
    selected = set(kinds)
    anomalies, examples = {}, {}
    for kind, fn in CHECKS.items():
        found = fn(ix) if kind in selected else []
        anomalies[kind] = len(found)
        if found:
            examples[kind] = found[:MAX_EXAMPLES]
    return {
        "events": ix.events,
        "anomalies": anomalies,
        "examples": examples,
        "undrained": undrained(ix),
        "info": info(ix),
    }


def check(events: Iterable[Any], kinds: Iterable[str] = KINDS) -> dict[str, Any]:
    """Index events (Structs from ``history.load``, or validated dicts) and check them."""
    return check_index(build(events), kinds)
