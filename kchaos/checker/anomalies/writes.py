"""Anomalies of writes: what the producers were told against what the log holds at the
end (lost, duplicated, reordered records; keys whose order broke)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from kchaos.checker.anomalies.examples import Example
from kchaos.checker.index import Index


def lost(ix: Index) -> list[Example]:
    """A write that must be in the log, missing from the committed drain.

    Must be: acknowledged (not in a transaction), or part of a transaction that committed
    (recorded, or inferred from what read_committed readers saw). After every fault
    healed, a read_committed reader read the partition from its log start to its end and
    did not find it. Not counted: partitions that drain did not finish (``undrained``),
    records below the log start offset that drain began at (retention removed them), and
    acks that arrived after the drain finished at offsets at or past its end.
    """
    sends = ix.sends
    return [
        {"id": i, "topic": s.topic, "partition": s.partition, "offset": s.offset, "t": s.t1}
        for i, why in ix.absent.items()
        if why == "lost" and (s := sends[i])
    ]


def duplicate(ix: Index) -> list[Example]:
    """One id stored at two or more distinct (partition, offset) positions.

    Each id is attempted once by the harness, so a second copy was written by a retry
    inside the client: what idempotence exists to prevent.
    """
    sends = ix.sends
    first: dict[str, tuple] = {}
    extra: dict[str, set[tuple]] = {}
    for r in ix.reads:
        s = sends.get(r.id)
        # Fast path: a read at the position its send was acknowledged at.
        if s is not None and s.offset == r.offset and s.partition == r.partition and s.topic == r.topic:
            continue
        pos = (r.topic, r.partition, r.offset)
        known = first.get(r.id)
        if known is None:
            acked = s is not None and s.status == "ok" and s.offset is not None and s.offset >= 0
            known = (s.topic, s.partition, s.offset) if acked else pos  # type: ignore[union-attr]
            first[r.id] = known
        if known != pos:
            extra.setdefault(r.id, {known}).add(pos)
    return [{"id": i, "positions": sorted(p)} for i, p in extra.items()]


def reordered(ix: Index) -> list[Example]:
    """Two writes of one producer to one partition stored against seq order.

    A producer that sends a then b to one partition expects offset(a) < offset(b); a retry
    of a after b was written (max.in.flight > 1 without idempotence) breaks that. Unknown
    sends that became visible count at the position a reader found them. Two writes at
    one offset are ``ack-conflict``, not this.
    """
    cached = ix.cache.get("reordered")
    if cached is not None:
        return cached
    by_stream: dict[tuple, list] = defaultdict(list)
    found_at = ix.found_at
    for s in ix.sends.values():
        if s.status == "ok" and s.offset >= 0:  # type: ignore[operator]
            by_stream[(s.producer, s.topic, s.partition)].append((s.seq, s.offset, s.id))
        elif s.status != "fail" and s.id in found_at:
            topic, partition, offset = found_at[s.id]
            if topic == s.topic:
                by_stream[(s.producer, topic, partition)].append((s.seq, offset, s.id))
    out = []
    for (producer, topic, partition), items in by_stream.items():
        items.sort()
        top = None
        for seq, offset, id_ in items:
            if top is not None and offset < top[1]:
                out.append(
                    {
                        "producer": producer,
                        "topic": topic,
                        "partition": partition,
                        "id": id_,
                        "seq": seq,
                        "offset": offset,
                        "after_id": top[2],
                        "after_offset": top[1],
                    }
                )
            elif top is None or offset > top[1]:
                top = (seq, offset, id_)
    ix.cache["reordered"] = out
    return out


def key_order_broken(ix: Index) -> list[Example]:
    """Two writes of one producer with one key, delivered out of seq order, or stored on
    different partitions (the key moved, e.g. partitions were added).

    Per-key order is the guarantee most applications rely on; it holds only while a key
    stays on one partition and each reader is given that partition in offset order.
    Acknowledged sends and unknown ones that became visible take part. Only a reader's
    first delivery of an id counts (re-deliveries are ``info.redelivered``). Drain
    readers are left out: they read each partition once in offset order, so for them
    this is exactly what ``reordered`` and ``nonmonotonic-poll`` check.
    """
    out, moved = _moved_keys(ix)
    # Delivery order. While keys stay put and each partition's log is in seq order, a
    # reader can only be given a key out of order where it went back on a partition;
    # so only those (reader, partition) streams are followed key by key.
    everywhere = bool(moved) or bool(reordered(ix))
    suspects = None if everywhere else _went_back(ix)
    if suspects == set():
        return out
    sends = ix.sends
    readers: dict[str, tuple[set[str], dict[tuple, tuple[int, str]]]] = {}
    for r in ix.reads:
        if r.group is None or (suspects is not None and (r.reader, r.topic, r.partition) not in suspects):
            continue
        s = sends.get(r.id)
        if s is None or s.key is None or s.status == "fail":
            continue
        state = readers.get(r.reader)
        if state is None:
            state = readers[r.reader] = (set(), {})
        seen, top = state
        if r.id in seen:
            continue
        seen.add(r.id)
        k = (s.producer, s.topic, s.key)
        prev = top.get(k)
        if prev is None or s.seq > prev[0]:
            top[k] = (s.seq, r.id)
        elif s.seq < prev[0]:
            out.append(
                {
                    "kind": "delivered-out-of-order",
                    "reader": r.reader,
                    "key": r.key,
                    "id": r.id,
                    "topic": r.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "seq": s.seq,
                    "delivered_after": prev[1],
                    "t": r.t,
                }
            )
    return out


def _moved_keys(ix: Index) -> tuple[list[Example], set[tuple]]:
    """Writes of a key stored on another partition than the key's first write."""
    homes: dict[tuple, tuple[int, int, str]] = {}
    moved: set[tuple] = set()
    found_at = ix.found_at
    where: dict[str, int] = {}
    for s in ix.sends.values():
        if s.key is None or s.status == "fail":
            continue
        if s.status == "ok" and s.offset >= 0:  # type: ignore[operator]
            partition = s.partition
        elif s.id in found_at and found_at[s.id][0] == s.topic:
            partition = found_at[s.id][1]
        else:
            continue
        k = (s.producer, s.topic, s.key)
        home = homes.get(k)
        if home is None:
            homes[k] = (partition, s.seq, s.id)  # type: ignore[assignment]
            continue
        if home[0] != partition:
            moved.add(k)
        if s.seq < home[1]:
            homes[k] = (partition, s.seq, s.id)  # type: ignore[assignment]
    out: list[Example] = []
    if not moved:
        return out, moved
    for s in ix.sends.values():
        k = (s.producer, s.topic, s.key)
        if k in moved:
            where[s.id] = s.partition if s.status == "ok" else found_at.get(s.id, (None, None))[1]  # type: ignore[assignment]
            home = homes[k]
            if where[s.id] is not None and where[s.id] != home[0]:
                out.append(
                    {
                        "kind": "moved",
                        "key": s.key,
                        "id": s.id,
                        "partition": where[s.id],
                        "first_id": home[2],
                        "first_partition": home[0],
                    }
                )
    return out, moved


def _went_back(ix: Index) -> set[tuple[str, str, int]]:
    """(reader, topic, partition) streams where a group reader was given an offset at or
    below one it had been given before (a rebalance, a restart, or a rewind)."""
    last: dict[tuple, int] = {}
    back = set()
    for r in ix.reads:
        if r.group is None:
            continue
        k = (r.reader, r.topic, r.partition)
        prev = last.get(k)
        if prev is not None and r.offset <= prev:
            back.add(k)
        else:
            last[k] = r.offset
    return back


CHECKS: dict[str, Callable[[Index], list[Example]]] = {
    "lost": lost,
    "duplicate": duplicate,
    "reordered": reordered,
    "key-order-broken": key_order_broken,
}
#: What a workload must produce for a check to be able to fire (kinds not named need nothing).
NEEDS: dict[str, frozenset[str]] = {
    "key-order-broken": frozenset({"keyed"}),
}
