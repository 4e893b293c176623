"""What an anomaly instance looks like (an example: the read or send that shows it, with
what makes it one), and the reads most checks start from."""

from __future__ import annotations

from typing import Any

from kchaos.checker.index import Index
from kchaos.events import Read

Example = dict[str, Any]


def read_example(r: Read, **extra: Any) -> Example:
    """An instance shown by one read: who read what, where, when, and ``extra``."""
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


def first_reads(ix: Index, ids: set[str], committed_only: bool = False) -> list[Read]:
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
