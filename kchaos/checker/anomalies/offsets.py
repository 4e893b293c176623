"""Anomalies of one offset, one record: reads and acks that disagree on what an offset
holds, reads of records the log later lost, leader epochs running backwards, records
from nowhere, and failed sends that were read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from kchaos.checker.anomalies.examples import Example, first_reads, read_example
from kchaos.checker.index import Index
from kchaos.events import BROKER_COPY, Read


def inconsistent_offset(ix: Index) -> list[Example]:
    """Two reads of one (topic, partition, offset) returned different ids.

    An offset names one record forever. Seeing two means a log diverged: a leader took
    writes that were later truncated and replaced (unclean election, or acks<all loss).
    """
    at: dict[tuple, Read] = {}
    out, reported = [], set()
    for r in ix.reads:
        pos = (r.topic, r.partition, r.offset)
        first = at.setdefault(pos, r)
        if first.id != r.id and (pos, r.id) not in reported:
            reported.add((pos, r.id))
            out.append(
                {
                    "topic": r.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "ids": [first.id, r.id],
                    "readers": [first.reader, r.reader],
                    "t": r.t,
                }
            )
    return out


def ack_mismatch(ix: Index) -> list[Example]:
    """A send acknowledged at (partition, offset) where the drain found another id.

    The broker told the client "you are at offset 17" and offset 17 holds something else
    at the end: the acknowledged write was truncated and its offset reused.
    """
    out = []
    committed, uncommitted = ix.committed_view, ix.uncommitted_view
    for s in ix.sends.values():
        if s.status != "ok":
            continue
        at = committed.get((s.topic, s.partition))  # type: ignore[arg-type]
        found = at.get(s.offset) if at is not None else None  # type: ignore[arg-type]
        if found is None and uncommitted:
            found = ix.drained_id_at(s.topic, s.partition, s.offset)  # type: ignore[arg-type]
        if found is not None and found != s.id:
            out.append({"id": s.id, "topic": s.topic, "partition": s.partition, "offset": s.offset, "found": found})
    return out


def ack_conflict(ix: Index) -> list[Example]:
    """Two acks at one offset, or an ack and a consumer's read at one offset, name
    different records.

    Every ack and every read contributes to one offset -> id order per partition; any two
    that disagree show the log was rewritten between them (a truncated leader, or two
    leaders acknowledging at once). Disagreements with the drain are ``ack-mismatch``,
    between reads ``inconsistent-offset``.
    """
    acked: dict[tuple, str] = {}
    out: list[Example] = []
    for s in ix.sends.values():
        if s.status != "ok" or s.offset is None or s.offset < 0:
            continue
        pos = (s.topic, s.partition, s.offset)
        other = acked.setdefault(pos, s.id)
        if other != s.id:
            out.append(
                {
                    "kind": "ack-ack",
                    "topic": s.topic,
                    "partition": s.partition,
                    "offset": s.offset,
                    "ids": [other, s.id],
                }
            )
    reported = set()
    for r in ix.reads:
        if r.group is None:
            continue
        pos = (r.topic, r.partition, r.offset)
        other = acked.get(pos)
        if other is not None and other != r.id and (pos, r.id) not in reported:
            reported.add((pos, r.id))
            out.append(
                {
                    "kind": "ack-read",
                    "topic": r.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "ids": [other, r.id],
                    "reader": r.reader,
                    "t": r.t,
                }
            )
    return out


def truncated_read(ix: Index) -> list[Example]:
    """A consumer read a record at an offset the log no longer has at the end.

    The read came before the drain, and the drain found the partition ending at or below
    that offset: the record was handed to an application and then truncated away (an
    unclean election, or a leader that lost acks=1 writes). Applications acted on data
    that no longer exists.
    """
    ends: dict[tuple[str, int], list] = defaultdict(list)
    for (t, p, _iso), d in ix.drains.items():
        ends[(t, p)].append(d)
    lowest = {tp: min(d.end_offset for d in ds) for tp, ds in ends.items()}
    out, seen = [], set()
    for r in ix.reads:
        if r.group is None or r.offset < lowest.get((r.topic, r.partition), 1 << 62):
            continue
        d = next((d for d in ends[(r.topic, r.partition)] if d.t > r.t and r.offset >= d.end_offset), None)
        if d is None:
            continue
        k = (r.group, r.topic, r.partition, r.offset, r.id)
        if k not in seen:
            seen.add(k)
            out.append(read_example(r, end_offset=d.end_offset))
    return out


def epoch_regression(ix: Index) -> list[Example]:
    """A reader was given a higher offset with a lower leader epoch than an earlier one.

    Leader epochs only grow along a partition's log: every record was appended by the
    leader of its epoch, and a later leader appends after it. A record further on with
    an older epoch means a log that mixes lineages (a zombie leader's writes kept).
    """
    last: dict[tuple, tuple[int, int]] = {}
    out = []
    for r in ix.reads:
        e = r.leader_epoch
        if e is None or e < 0:
            continue
        k = (r.reader, r.topic, r.partition)
        prev = last.get(k)
        if prev is None or r.offset <= prev[0]:
            last[k] = (r.offset, e)
        elif e < prev[1]:
            out.append(read_example(r, leader_epoch=e, after_offset=prev[0], after_epoch=prev[1]))
        else:
            last[k] = (r.offset, e)
    return out


def phantom(ix: Index) -> list[Example]:
    """A read id that no send attempted: data from nowhere (or a harness bug). A dead
    letter the broker copied from a record that was sent (``<id>@dlq``) came from somewhere."""
    unsent = {i for i in ix.read_ids - ix.sends.keys() if i.removesuffix(BROKER_COPY) not in ix.sends}
    return [read_example(r) for r in first_reads(ix, unsent)]


def failed_visible(ix: Index) -> list[Example]:
    """A send reported as ``fail`` (surely not written) whose id a reader saw.

    Either the client lied, or the harness took an ambiguous error for a definite one
    (Jepsen's G1a). Only errors that prove nothing left the client may be ``fail``.
    """
    failed = {i for i, s in ix.sends.items() if s.status == "fail"}
    return [read_example(r) for r in first_reads(ix, failed & ix.read_ids)]


CHECKS: dict[str, Callable[[Index], list[Example]]] = {
    "inconsistent-offset": inconsistent_offset,
    "ack-mismatch": ack_mismatch,
    "ack-conflict": ack_conflict,
    "truncated-read": truncated_read,
    "epoch-regression": epoch_regression,
    "phantom": phantom,
    "failed-visible": failed_visible,
}
#: What a workload must produce for a check to be able to fire (kinds not named need nothing).
NEEDS: dict[str, frozenset[str]] = {
    "truncated-read": frozenset({"group"}),
}
