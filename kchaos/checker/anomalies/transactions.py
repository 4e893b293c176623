"""Anomalies of transactions: aborted or open transactions' records read where they
must not be, transactions seen in part, a record read before its transaction committed,
a last stable offset that stays stuck, and a pipeline's exactly-once broken."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable

from kchaos.checker.anomalies.examples import Example, read_example
from kchaos.checker.index import RC, RU, Index
from kchaos.checker.pipelines import committed_inputs, pipeline_groups, producer_group


def _txn_ids(ix: Index, outcomes: set[str]) -> set[str]:
    txns = ix.txns
    return {s.id for s in ix.sends.values() if s.txn is not None and txns.get(s.txn, "unknown") in outcomes}


def aborted_read(ix: Index) -> list[Example]:
    """A read_committed reader saw a record of a transaction that aborted."""
    ids = _txn_ids(ix, {"abort"}) & ix.read_ids
    return [read_example(r, txn=ix.sends[r.id].txn) for r in ix.reads if r.id in ids and r.committed_only]


def uncommitted_read(ix: Index) -> list[Example]:
    """A read_committed consumer saw a record of a transaction that never committed.

    Proof needs the committed log: the transaction's outcome is unknown, nothing a
    read_committed reader saw proves it committed, and the finished committed drain of
    the record's partition does not hold the record although retention did not remove it.
    """
    ids = _txn_ids(ix, {"unknown"}) & ix.read_ids
    if not ids:
        return []
    return [
        read_example(r, txn=ix.sends[r.id].txn)
        for r in ix.reads
        if r.id in ids and r.committed_only and r.group is not None and ix.contradicted(r)
    ]


def torn_transaction(ix: Index) -> list[Example]:
    """A committed transaction only partly in the committed log.

    A transaction is atomic: once it commits, every record in it is visible to
    read_committed readers. Some of its records visible and others missing (on drained
    partitions, not removed by retention) breaks that.
    """
    drain_ids, out = ix.drain_ids, []
    for name, sends in ix.txn_sends.items():
        if ix.txns.get(name) != "commit":
            continue
        visible = [s.id for s in sends if s.id in drain_ids]
        if not visible:
            continue
        gone = [s.id for s in sends if ix.absent.get(s.id) == "lost"]
        if gone:
            out.append({"txn": name, "visible": visible[:5], "missing": gone[:5], "missing_count": len(gone)})
    return out


def precommitted_read(ix: Index) -> list[Example]:
    """A read_committed reader saw a transactional record before its transaction could
    have committed: before the transaction's last send (or its commit) began.

    Commit markers are written only after the producer asks to commit, which is after
    every send of the transaction was made; read_committed readers must not see any of it
    earlier.
    """
    begun: dict[str, float] = {}
    for name, sends in ix.txn_sends.items():
        t = max(s.t0 for s in sends)
        ev = ix.txn_events.get(name)
        if ev is not None and ev.t0 is not None:
            t = max(t, ev.t0)
        for s in sends:
            begun[s.id] = t
    if not begun:
        return []
    out, sends_by_id = [], ix.sends
    for r in ix.reads:
        b = begun.get(r.id)
        if b is not None and r.t < b and r.isolation != "read_uncommitted":
            out.append(read_example(r, txn=sends_by_id[r.id].txn, commit_begun=b))
    return out


def stuck_lso(ix: Index) -> list[Example]:
    """A read_committed drain could not reach the end of a transactional partition that a
    read_uncommitted drain got further on, after the transaction holding it had to be
    aborted.

    A transaction left open holds the last stable offset, and read_committed readers wait
    behind it. Its coordinator can abort it once ``transaction.timeout.ms`` has run from
    the transaction's start (its first send) and the coordinator is reachable (the heal),
    and does so at its next cleanup round: the deadline is max(first send + timeout,
    heal) + the abort cleanup interval. A stall after that, where a read_uncommitted drain
    got further, is a hanging transaction. Before it, or while a fault never ended, the
    partition is only ``undrained``.
    """
    stalls = [st for st in ix.stalls if (st.isolation or RC) == RC and ix.drain((st.topic, st.partition)) is None]
    if not stalls:
        return []
    starts = _txn_starts_by_partition(ix)
    ru_stalls = {(st.topic, st.partition): st.position for st in ix.stalls if st.isolation == RU}
    heal, timeout, cleanup = ix.heal_t, ix.txn_timeout_s, ix.txn_abort_cleanup_s
    out = []
    for st in stalls:
        tp = (st.topic, st.partition)
        if tp not in starts:
            continue
        # Held by the last stable offset only if a read_uncommitted reader got further.
        if ix.drain(tp, RU) is None and ru_stalls.get(tp, -1) <= st.position:
            continue
        deadline = max(_holder_start(starts[tp], st.position) + timeout, heal) + cleanup
        if st.t >= deadline:
            out.append(
                {
                    "topic": st.topic,
                    "partition": st.partition,
                    "position": st.position,
                    "end_offset": st.end_offset,
                    "t": st.t,
                    "since_heal_s": round(st.t - heal, 3),
                    "deadline": round(deadline, 3),
                }
            )
    return out


def _txn_starts_by_partition(ix: Index) -> dict[tuple[str, int], list[tuple[int, float]]]:
    """Per partition: (lowest offset of a transaction there, or -1 when unknown; the
    transaction's first send), sorted."""
    out: dict[tuple[str, int], dict[str, list]] = defaultdict(dict)
    for name, sends in ix.txn_sends.items():
        first = min(s.t0 for s in sends)
        for s in sends:
            where = ix.position(s)
            tp = (where[0], where[1]) if where is not None else ix.partition_of(s)
            if tp is None:
                continue
            offset = where[2] if where is not None else -1
            entry = out[tp].get(name)
            if entry is None:
                out[tp][name] = [offset, first]
            elif offset >= 0 and (entry[0] < 0 or offset < entry[0]):
                entry[0] = offset
    return {tp: sorted((o, t) for o, t in txns.values()) for tp, txns in out.items()}


def _holder_start(txns: list[tuple[int, float]], position: int) -> float:
    """When the transaction that holds the last stable offset at ``position`` began: the
    one whose records start lowest at or past it; when none is placed there, the latest
    start of the partition's transactions (the deadline is then the latest possible)."""
    k = bisect_left(txns, (position, float("-inf")))
    if k < len(txns):
        return txns[k][1]
    return max(t for _, t in txns)


def exactly_once_broken(ix: Index) -> list[Example]:
    """A pipeline's committed input does not have exactly one committed output.

    A consume-transform-produce pipeline commits its input offsets in the same
    transaction as its outputs; each output carries the id of its input. Every input
    record below the offsets the pipeline's group committed must have exactly one output
    of that group in the read_committed output, and no input above them may have one.
    Several pipeline groups may read one input (fan-out): each is judged on its own
    outputs (an output's group is its producer's, linked by ``process`` events). A
    transaction that committed, recorded or inferred, committed the input offsets sent
    in it: its inputs are covered even when no ``commit`` event says so.
    """
    drained_outputs = [r for r in ix.drain_reads(RC) if r.input is not None]
    groups = pipeline_groups(ix)
    if not drained_outputs and not groups:
        return []
    sends = ix.sends
    # (group, input id) -> output position -> output id
    outputs: dict[tuple[str | None, str], dict[tuple, str]] = defaultdict(dict)
    for r in drained_outputs:
        s = sends.get(r.id)
        group = producer_group(ix, s.producer, r.input) if s is not None else None
        for g in [group] if group is not None or not groups else groups:
            outputs[(g, r.input)][(r.topic, r.partition, r.offset)] = r.id  # type: ignore[index]
    # A missing output proves something only where every output partition was drained
    # from offset 0 (not undrained, nothing removed by retention).
    output_tps = {ix.partition_of(sends[p.output]) for p in ix.processes if p.output in sends}
    output_tps |= {(r.topic, r.partition) for r in drained_outputs}
    output_tps.discard(None)
    judged = all((d := ix.drain(tp)) is not None and d.start_offset == 0 for tp in output_tps)  # type: ignore[arg-type]
    out = []
    for group in sorted(groups, key=str) if groups else [None]:
        input_topics = {p.topic for p in ix.processes if p.output is not None and p.group == group}
        if not groups:
            input_topics |= {
                pos[0] for r in drained_outputs if r.input in sends and (pos := ix.position(sends[r.input]))
            }
        covered_to = _covered_to(ix, group if groups else None, input_topics)
        for (topic, partition), offsets in ix.committed_view.items():
            if topic not in input_topics:
                continue
            end = covered_to.get((topic, partition), 0)
            for offset, id_ in offsets.items():
                found = outputs.get((group, id_), {})
                n, covered = len(found), offset < end
                if (covered and n > 1) or (covered and n == 0 and judged) or (not covered and n):
                    out.append(
                        {
                            "input": id_,
                            "group": group,
                            "topic": topic,
                            "partition": partition,
                            "offset": offset,
                            "outputs": n,
                            "output_ids": sorted(set(found.values())),
                            "covered": covered,
                        }
                    )
    return out


def _covered_to(ix: Index, group: str | None, input_topics: set[str]) -> dict[tuple[str, int], int]:
    """Per input partition, the offset a pipeline group committed up to: its highest
    successful commit (any group's, when no group is known), or one past the highest
    input a committed transaction of the group took, whichever is higher."""
    covered: dict[tuple[str, int], int] = {}
    for c in ix.commits:
        if c.status == "ok" and c.topic in input_topics and (group is None or c.group == group):
            tp = (c.topic, c.partition)
            covered[tp] = max(covered.get(tp, 0), c.offset)
    for (g, tp), inputs in committed_inputs(ix).items():
        if (group is None or g == group) and tp[0] in input_topics and inputs:
            covered[tp] = max(covered.get(tp, 0), max(inputs) + 1)
    return covered


CHECKS: dict[str, Callable[[Index], list[Example]]] = {
    "aborted-read": aborted_read,
    "uncommitted-read": uncommitted_read,
    "torn-transaction": torn_transaction,
    "precommitted-read": precommitted_read,
    "stuck-lso": stuck_lso,
    "exactly-once-broken": exactly_once_broken,
}
#: What a workload must produce for a check to be able to fire (kinds not named need nothing).
NEEDS: dict[str, frozenset[str]] = {
    "aborted-read": frozenset({"txn"}),
    "uncommitted-read": frozenset({"txn", "group"}),
    "torn-transaction": frozenset({"txn"}),
    "precommitted-read": frozenset({"txn"}),
    "stuck-lso": frozenset({"txn"}),
    "exactly-once-broken": frozenset({"pipeline"}),
}
