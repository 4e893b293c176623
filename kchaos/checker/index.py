"""One pass over a history's events into the tables every check and measurement reads.

Events are the typed Structs of ``kchaos.events``. The pass sorts them into sends by id,
reads in history order (with each read's *rebalance epoch*, the count of its reader's
rebalance callbacks before it, kept beside the read and never read from the file), the
drains per isolation level, and the smaller tables. Everything derived (the committed
view of each partition, transaction outcomes inferred from what readers saw, where each
send was stored) is computed once, on first use, so checks share it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from kchaos.events import (
    Assign,
    Commit,
    Drain,
    Fault,
    Lost,
    Meta,
    Phase,
    Process,
    Read,
    Revoke,
    Seek,
    Send,
    Stall,
    Txn,
    to_struct,
)

RC, RU = "read_committed", "read_uncommitted"
#: A read's epoch counts its reader's rebalance callbacks that name its partition and,
#: below that, the seeks on its partition: epoch = rebalances * SEEKS_PER_EPOCH + seeks.
SEEKS_PER_EPOCH = 1_000_000
#: Kafka's default transaction.timeout.ms, when a history does not say (``meta``).
DEFAULT_TXN_TIMEOUT_S = 60.0
#: Kafka's default transaction.abort.timed.out.transaction.cleanup.interval.ms: how often a
#: coordinator looks for timed-out transactions to abort, when a history does not say.
DEFAULT_TXN_ABORT_CLEANUP_S = 10.0

TP = tuple[str, int]
REBALANCES = (Assign, Revoke, Lost)


@dataclass
class Index:
    """The tables the checks and measurements read."""

    events: int = 0
    sends: dict[str, Send] = field(default_factory=dict)
    reads: list[Read] = field(default_factory=list)
    read_epochs: list[int] = field(default_factory=list)
    txn_events: dict[str, Txn] = field(default_factory=dict)
    drains: dict[tuple[str, int, str], Drain] = field(default_factory=dict)
    stalls: list[Stall] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)
    rebalances: list[Assign] = field(default_factory=list)
    seeks: list[Seek] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    meta: Meta | None = None
    other: list[Any] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)  # derived tables of other modules

    # --- the drains ----------------------------------------------------------------------
    def drain(self, tp: TP, isolation: str = RC) -> Drain | None:
        """The drain event of ``tp`` for an isolation level (None: that view never finished)."""
        return self.drains.get((tp[0], tp[1], isolation))

    @cached_property
    def drained(self) -> dict[TP, int]:
        """Partitions the read_committed drain finished, with their end offsets."""
        return {(t, p): d.end_offset for (t, p, iso), d in self.drains.items() if iso == RC}

    def drain_reads(self, isolation: str | None = None) -> Iterator[Read]:
        """Reads of drain readers (``group`` null), optionally of one isolation level."""
        by_isolation = self._drain_reads
        for iso in (RC, RU) if isolation is None else (isolation,):
            yield from by_isolation.get(iso, ())

    @cached_property
    def _drain_reads(self) -> dict[str, list[Read]]:
        """Drain reads bucketed by isolation once, so the views built on them do not rescan."""
        out: dict[str, list[Read]] = {RC: [], RU: []}
        for r in self.reads:
            if r.group is None:
                out[r.isolation or RC].append(r)
        return out

    @cached_property
    def committed_view(self) -> dict[TP, dict[int, str]]:
        """What the read_committed drain found: partition -> offset -> id."""
        view: dict[TP, dict[int, str]] = {}
        for r in self.drain_reads(RC):
            view.setdefault((r.topic, r.partition), {})[r.offset] = r.id
        return view

    @cached_property
    def drain_ids(self) -> set[str]:
        """Ids the read_committed drain found: the committed log."""
        return {i for offsets in self.committed_view.values() for i in offsets.values()}

    @cached_property
    def uncommitted_view(self) -> dict[TP, dict[int, str]]:
        """What the read_uncommitted drain found: partition -> offset -> id."""
        view: dict[TP, dict[int, str]] = {}
        for r in self.drain_reads(RU):
            view.setdefault((r.topic, r.partition), {})[r.offset] = r.id
        return view

    def drained_id_at(self, topic: str, partition: int, offset: int) -> str | None:
        """The id a drain reader (either isolation) found at an offset, if any."""
        for view in (self.committed_view, self.uncommitted_view):
            at = view.get((topic, partition))
            if at is not None and offset in at:
                return at[offset]
        return None

    @cached_property
    def read_ids(self) -> set[str]:
        return {r.id for r in self.reads}

    @cached_property
    def topic_partitions(self) -> dict[str, set[int]]:
        """Partitions known per topic (from acks, reads, drains and stalls)."""
        out: dict[str, set[int]] = {}
        for s in self.sends.values():
            if s.partition is not None:
                out.setdefault(s.topic, set()).add(s.partition)
        for t, p, _ in self.drains:
            out.setdefault(t, set()).add(p)
        for st in self.stalls:
            out.setdefault(st.topic, set()).add(st.partition)
        return out

    # --- where a send landed ---------------------------------------------------------------
    @cached_property
    def found_at(self) -> dict[str, tuple[str, int, int]]:
        """Where readers found the sends that have no acknowledged offset (unknown ones,
        acks=0): a drain's position, else the first consumer's. So unknown sends that
        became visible can be judged by the ordering checks like acknowledged ones."""
        wanted = {i for i, s in self.sends.items() if not (s.status == "ok" and s.offset is not None and s.offset >= 0)}
        pos: dict[str, tuple[str, int, int]] = {}
        if not wanted:
            return pos
        for r in self.reads:
            if r.id in wanted:
                if r.group is None:
                    pos[r.id] = (r.topic, r.partition, r.offset)
                else:
                    pos.setdefault(r.id, (r.topic, r.partition, r.offset))
        return pos

    def position(self, s: Send) -> tuple[str, int, int] | None:
        """Where ``s`` was stored: its ack, else where a reader found it, else None."""
        if s.status == "ok" and s.offset is not None and s.offset >= 0:
            return s.topic, s.partition, s.offset  # type: ignore[return-value]
        return self.found_at.get(s.id)

    def partition_of(self, s: Send) -> TP | None:
        where = self.position(s)
        if where is not None:
            return where[0], where[1]
        return (s.topic, s.partition) if s.partition is not None else None

    # --- transactions --------------------------------------------------------------------
    @cached_property
    def txn_sends(self) -> dict[str, list[Send]]:
        out: dict[str, list[Send]] = {}
        for s in self.sends.values():
            if s.txn is not None:
                out.setdefault(s.txn, []).append(s)
        return out

    @cached_property
    def txns(self) -> dict[str, str]:
        """Each transaction's outcome: the recorded one, or, for one the client never
        learned (``unknown`` or not recorded), ``commit`` when a read_committed reader saw
        one of its records and nothing contradicts it (Jepsen's must-have-committed)."""
        out = {name: ev.status for name, ev in self.txn_events.items()}
        for name in self.txn_sends:
            out.setdefault(name, "unknown")
        for name in self.inferred_commits:
            out[name] = "commit"
        return out

    @cached_property
    def inferred_commits(self) -> set[str]:
        """Transactions recorded as unknown (or not at all) that read_committed readers
        prove committed: the committed drain holds one of their records, or a
        read_committed consumer read one where the drain does not contradict it."""
        unknown = {n for n in self.txn_sends if getattr(self.txn_events.get(n), "status", "unknown") == "unknown"}
        if not unknown:
            return set()
        drain_ids, sends, out = self.drain_ids, self.sends, set()
        for r in self.reads:
            s = sends.get(r.id)
            if s is None or s.txn not in unknown or not r.committed_only or s.txn in out:
                continue
            if r.id in drain_ids or not self.contradicted(r):
                out.add(s.txn)
        return out

    def contradicted(self, r: Read) -> bool:
        """True when the finished read_committed drain of ``r``'s partition, taken after
        ``r``, does not hold ``r``'s record although it could have (not removed by
        retention): what a consumer read is not in the committed log."""
        d = self.drain((r.topic, r.partition))
        if d is None or d.t < r.t or r.offset < d.start_offset or r.id in self.drain_ids:
            return False
        return True

    # --- what must be in the committed log -------------------------------------------------
    def must_be_visible(self, s: Send) -> bool:
        """Acknowledged and not transactional, or in a committed transaction (where an
        ``unknown`` send is written too: a commit flushes every send of its transaction)."""
        if s.txn is None:
            return s.status == "ok"
        return s.status != "fail" and self.txns.get(s.txn) == "commit"

    def missing(self, s: Send) -> str | None:
        """Why a send that must be visible is not in the committed drain: ``None`` when it
        is there or nothing can be said; else ``"lost"``, ``"undrained"``, ``"late"`` (acked
        after the drain finished, at or past its end) or ``"removed"`` (below the drain's
        log start offset: retention removed it)."""
        if s.id in self.drain_ids:
            return None
        tp = self.partition_of(s)
        if tp is None:  # an unknown send in a committed transaction, seen nowhere
            return self.topic_drained(s.topic)
        d = self.drain(tp)
        if d is None:
            return "undrained"
        where = self.position(s)
        if where is not None:
            offset = where[2]
            if offset < d.start_offset:
                return "removed"
            if s.t1 > d.t and offset >= d.end_offset:
                return "late"
        return "lost"

    def topic_drained(self, topic: str) -> str | None:
        """What a write seen nowhere on ``topic`` is, judged by the drains of every partition
        of the topic (computed once per topic, not once per such write): ``undrained`` when
        one partition was not drained, ``lost`` when every one was drained from offset 0,
        else None (retention may have removed it)."""
        known = self._topic_drained
        if topic not in known:
            drains = [self.drain((topic, p)) for p in self.topic_partitions.get(topic, ())]
            if not drains or None in drains:
                known[topic] = "undrained"
            else:
                known[topic] = "lost" if all(d.start_offset == 0 for d in drains) else None  # type: ignore[union-attr]
        return known[topic]

    @cached_property
    def _topic_drained(self) -> dict[str, str | None]:
        return {}

    @cached_property
    def absent(self) -> dict[str, str]:
        """Every send that must be visible and is not in the committed drain, with the
        reason ``missing`` gives (lost, undrained, late, removed)."""
        drain_ids, out = self.drain_ids, {}
        for s in self.sends.values():
            if s.id not in drain_ids and self.must_be_visible(s):
                reason = self.missing(s)
                if reason is not None:
                    out[s.id] = reason
        return out

    # --- groups ----------------------------------------------------------------------------
    @cached_property
    def heal_t(self) -> float:
        """When the last fault was healed: its end, or a ``heal`` phase (0 when the run had
        no fault). A fault that never ended dates no heal: when one is still open at the
        end of the history (no end of the same name and target after it, no ``heal``
        phase after it), the cluster was never whole again, and this is infinite."""
        heals = sorted(p.t for p in self.phases if p.name == "heal")
        open_: dict[tuple[str, str], list[float]] = {}
        ends = []
        for f in sorted(self.faults, key=_at):
            key = (f.name, target_key(f.target))
            if f.phase == "start":
                open_.setdefault(key, []).append(f.t)
            else:
                ends.append(f.t)
                if open_.get(key):
                    open_[key].pop()
        last_heal = heals[-1] if heals else float("-inf")
        if any(t > last_heal for ts in open_.values() for t in ts):
            return float("inf")
        return max(ends + heals, default=0.0)

    @property
    def txn_timeout_s(self) -> float:
        m = self.meta
        return m.txn_timeout_s if m is not None and m.txn_timeout_s is not None else DEFAULT_TXN_TIMEOUT_S

    @property
    def txn_abort_cleanup_s(self) -> float:
        """How often the coordinator aborts timed-out transactions (``meta``, else Kafka's default)."""
        m = self.meta
        value = m.txn_abort_cleanup_s if m is not None else None
        return value if value is not None else DEFAULT_TXN_ABORT_CLEANUP_S

    # --- faults ------------------------------------------------------------------------------
    @cached_property
    def fault_starts(self) -> list[Fault]:
        """Fault starts in time order (ordered by time alone: targets may be any JSON value)."""
        return sorted((f for f in self.faults if f.phase == "start"), key=_at)

    @cached_property
    def fault_start_times(self) -> list[float]:
        return [f.t for f in self.fault_starts]

    @cached_property
    def fault_end_times(self) -> dict[str, list[float]]:
        """Per fault name, the times its ends came, sorted."""
        out: dict[str, list[float]] = {}
        for f in self.faults:
            if f.phase == "end":
                out.setdefault(f.name, []).append(f.t)
        for ts in out.values():
            ts.sort()
        return out


def _at(ev: Any) -> float:
    return ev.t


def target_key(target: Any) -> str:
    """A fault target as a string a dict can be keyed by and compared with (kchaos writes
    strings; the format allows any JSON value)."""
    return target if isinstance(target, str) else repr(target)


def fault_label(f: Fault) -> str:
    """A fault's name for causes and triggers: its step's ``as`` name when it is a string,
    else its action's name."""
    label = (f.args or {}).get("as")
    return label if isinstance(label, str) and label else f.name


def build(events: Iterable[Any]) -> Index:
    """Index typed events (or dicts, converted on the way) in one pass."""
    ix = Index()
    # Rebalance epochs per (reader, topic, partition): under cooperative-sticky or KIP-848 a
    # callback that names t/1 says nothing of t/0, which the member kept.
    epochs: dict[tuple[str, str, int], int] = {}
    seeks: dict[tuple[str, str, int], int] = {}  # a seek starts afresh only its own partition
    reads_append, epochs_append, sends = ix.reads.append, ix.read_epochs.append, ix.sends
    processes_append, commits_append = ix.processes.append, ix.commits.append
    drain_isolation: dict[str, str] = {}
    pending_drains: list[Drain] = []
    n = 0
    for n, ev in enumerate(events, 1):  # noqa: B007 - n is the count after the loop
        kind = type(ev)
        if kind is dict:
            ev = to_struct(ev)
            kind = type(ev)
        if kind is Read:
            reads_append(ev)
            if epochs or seeks:
                at = (ev.reader, ev.topic, ev.partition)
                epochs_append(epochs.get(at, 0) * SEEKS_PER_EPOCH + seeks.get(at, 0))
            else:
                epochs_append(0)
            if ev.group is None and ev.isolation is not None:
                drain_isolation.setdefault(ev.reader, ev.isolation)
        elif kind is Send:
            if ev.status == "ok" and (ev.partition is None or ev.offset is None):
                raise ValueError(f"send {ev.id}: {ev.problem()}")  # a Struct handed to check() directly
            sends[ev.id] = ev
        elif kind is Process:
            processes_append(ev)
        elif kind is Commit:
            commits_append(ev)
        elif kind is Txn:
            ix.txn_events[ev.txn] = ev
        elif kind is Drain:
            pending_drains.append(ev)
        elif kind in REBALANCES:
            for topic, partition in ev.partitions:
                at = (ev.reader, topic, partition)
                epochs[at] = epochs.get(at, 0) + 1
            ix.rebalances.append(ev)
        elif kind is Seek:  # the position moved on purpose: the partition's reads after it start afresh
            at = (ev.reader, ev.topic, ev.partition)
            seeks[at] = seeks.get(at, 0) + 1
            ix.seeks.append(ev)
        elif kind is Fault:
            ix.faults.append(ev)
        elif kind is Stall:
            ix.stalls.append(ev)
        elif kind is Phase:
            ix.phases.append(ev)
            ix.other.append(ev)
        elif kind is Meta:
            ix.meta = ev
        elif ev is not None:
            ix.other.append(ev)
    for d in pending_drains:
        # Older histories name the isolation only on the drain reader's reads.
        iso = d.isolation or drain_isolation.get(d.reader, RC)
        ix.drains[(d.topic, d.partition, iso)] = d
    ix.events = n
    return ix
