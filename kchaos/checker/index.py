"""One pass over a history's events into the tables every anomaly check reads.

Events are the typed Structs of ``kchaos.events``; the index only sorts them into
sends by id, reads in order (each stamped with its reader's rebalance count), and the
smaller tables. A million-event history indexes in well under a second.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from kchaos.events import Assign, Commit, Drain, Fault, Read, Send, Txn


@dataclass
class Index:
    """The tables the checks and measurements read."""

    events: int = 0
    sends: dict[str, Send] = field(default_factory=dict)
    reads: list[Read] = field(default_factory=list)
    txns: dict[str, str] = field(default_factory=dict)
    drained: dict[tuple[str, int], int] = field(default_factory=dict)
    log_start: dict[tuple[str, int], int] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)
    rebalances: list[Assign] = field(default_factory=list)
    other: list[Any] = field(default_factory=list)

    def drain_reads(self) -> Iterable[Read]:
        return (r for r in self.reads if r.group is None)

    @cached_property
    def drain_ids(self) -> set[str]:
        return {r.id for r in self.reads if r.group is None}

    @cached_property
    def read_ids(self) -> set[str]:
        return {r.id for r in self.reads}

    def removed(self, s: Send) -> bool:
        """True when ``s`` sits below the log start offset the drain found: retention (or
        DeleteRecords) removed it, so no reader can prove it either way."""
        return s.offset is not None and s.offset < self.log_start.get((s.topic, s.partition), 0)

    def ok_visible_sends(self) -> Iterable[Send]:
        """Sends that must be in the log: acknowledged, and not in an uncommitted transaction."""
        txns = self.txns
        for s in self.sends.values():
            if s.status == "ok" and (s.txn is None or txns.get(s.txn) == "commit"):
                yield s


def build(events: Iterable[Any]) -> Index:
    """Index typed events (or validated dicts, converted on the way) in one pass."""
    ix = Index()
    epochs: dict[str, int] = {}
    reads_append, sends = ix.reads.append, ix.sends
    n = 0
    for n, ev in enumerate(events, 1):  # noqa: B007 - n is the count after the loop
        kind = type(ev)
        if kind is dict:
            from kchaos.events import to_struct

            ev = to_struct(ev)
            kind = type(ev)
        if kind is Read:
            if epochs:
                ev.epoch = epochs.get(ev.reader, 0)
            reads_append(ev)
        elif kind is Send:
            sends[ev.id] = ev
        elif kind is Txn:
            ix.txns[ev.txn] = ev.status
        elif kind is Drain:
            ix.drained[(ev.topic, ev.partition)] = ev.end_offset
            if ev.start_offset:
                key = (ev.topic, ev.partition)
                ix.log_start[key] = max(ix.log_start.get(key, 0), ev.start_offset)
        elif isinstance(ev, Assign):
            epochs[ev.reader] = epochs.get(ev.reader, 0) + 1
            ix.rebalances.append(ev)
        elif kind is Fault:
            ix.faults.append(ev)
        elif kind is Commit:
            ix.commits.append(ev)
        elif ev is not None:
            ix.other.append(ev)
    ix.events = n
    return ix
