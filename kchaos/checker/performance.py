"""Measurements of how fast and how placed: librdkafka's statistics (batching, requests,
round trips), Kafka's own perf tool, where keys landed, how soon producers found added
partitions, and lag per group. Pure functions over an ``Index``, like the others."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from kchaos.checker.index import Index
from kchaos.events import Lag, Perf, Stats


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def _per_client(stats: list[Stats]) -> dict[tuple[str, str | None], list[Stats]]:
    """Reports by client instance: a client replaced after a fatal error keeps its name,
    but its counters start again (librdkafka names each handle)."""
    out: dict[tuple[str, str | None], list[Stats]] = defaultdict(list)
    for s in stats:
        out[(s.client, s.instance)].append(s)
    return out


def _rates(clients: dict[Any, list[Stats]], field: str) -> float | None:
    """Per second of ``field``'s counter from each instance's first report to its last,
    summed; None when no instance reported twice."""
    rates = [
        (getattr(r[-1], field) - getattr(r[0], field)) / (r[-1].t - r[0].t)
        for r in clients.values()
        if r[-1].t > r[0].t
    ]
    return round(sum(rates), 1) if rates else None


def client_statistics(ix: Index, throughput_per_s: float) -> dict[str, Any]:
    """From ``stats`` events: records per Produce request and per batch, batch bytes,
    requests per second, round trips and in-client waits (producers); Fetch requests per
    second and records per Fetch (consumers). None where no client reported."""
    stats = [e for e in ix.other if isinstance(e, Stats)]
    prod = [s for s in stats if s.role == "producer"]
    cons = [s for s in stats if s.role == "consumer"]
    out: dict[str, Any] = {}
    p_clients, c_clients = _per_client(prod), _per_client(cons)
    last_p = [r[-1] for r in p_clients.values()]
    requests = sum(r.requests for r in last_p)
    records = sum(r.msgs for r in last_p)
    per_record = sum(r.msg_bytes for r in last_p) / records if records else None
    out["records_per_request"] = round(records / requests, 2) if requests else None
    out["records_per_batch"] = _mean([s.batch_records for s in prod if s.batch_records is not None])
    out["batch_bytes"] = _mean([s.batch_bytes for s in prod if s.batch_bytes is not None])
    out["produce_requests_per_s"] = _rates(p_clients, "requests")
    out["throughput_mb_per_s"] = round(throughput_per_s * per_record / 1e6, 3) if per_record else None
    out["rtt_ms"] = {"p50": _mean([s.rtt_ms_p50 for s in prod if s.rtt_ms_p50 is not None])}
    out["queue_ms"] = {"p50": _mean([s.queue_ms_p50 for s in prod if s.queue_ms_p50 is not None])}
    last_c = [r[-1] for r in c_clients.values()]
    fetches = sum(r.requests for r in last_c)
    out["fetch_requests_per_s"] = _rates(c_clients, "requests")
    out["records_per_fetch"] = round(sum(r.msgs for r in last_c) / fetches, 2) if fetches else None
    return out


def perf_test(ix: Index) -> dict[str, Any]:
    """What Kafka's ProducerPerformance reported (``perf`` events; the best run when several)."""
    runs = [e for e in ix.other if isinstance(e, Perf)]
    best = max(runs, key=lambda p: p.records_per_s, default=None)
    return {
        "perf_test_throughput_per_s": best.records_per_s if best else None,
        "perf_test_mb_per_s": best.mb_per_s if best else None,
        "perf_test_latency_ms": {
            "p50": best.latency_ms_p50 if best else None,
            "p99": best.latency_ms_p99 if best else None,
        },
    }


def key_placement(ix: Index) -> dict[str, Any]:
    """Keys whose acknowledged records landed on more than one partition of a topic, over
    every producer: two clients that hash one key differently split it (Python's
    librdkafka default ``consistent_random`` is CRC32, Java's is murmur2)."""
    homes: dict[tuple[str, str], set[int]] = defaultdict(set)
    for s in ix.sends.values():
        if s.status == "ok" and s.key is not None:
            homes[(s.topic, s.key)].add(s.partition)  # type: ignore[arg-type]
    return {"keys_split": sum(1 for parts in homes.values() if len(parts) > 1) if homes else None}


def added_partitions(ix: Index) -> dict[str, Any]:
    """After an ``add-partitions`` step: seconds until a producer's first ack on one of the
    new partitions (classic clients find them at their next metadata refresh), and how
    many records acknowledged there no group member was ever given (a member that starts
    a new partition at ``latest`` misses what was written before it came)."""
    grown = [f for f in ix.faults if f.name == "add-partitions" and f.phase == "start"]
    if not grown:
        return {"new_partition_first_ack_s": None, "new_partition_unread": None}
    step = grown[0]
    old = (step.args or {}).get("from")
    if old is None:  # the step did not say: one past the highest partition written to before it
        old = 1 + max((s.partition or 0 for s in ix.sends.values() if s.status == "ok" and s.t1 < step.t), default=-1)
    new = [s for s in ix.sends.values() if s.status == "ok" and s.topic == step.target and (s.partition or 0) >= old]
    read = {r.id for r in ix.reads if r.group is not None}
    return {
        "new_partition_first_ack_s": round(min(s.t1 for s in new) - step.t, 3) if new else None,
        "new_partition_unread": sum(1 for s in new if s.id not in read) if read else None,
    }


def group_name(ix: Index, group: str) -> str:
    """A workload group's name as its experiment file writes it (``g0``, ``g1``, ...), from
    the table the runner recorded in the history's ``meta``; another group's id unchanged."""
    names = ix.meta.groups if ix.meta is not None and ix.meta.groups else {}
    return names.get(group, group)


def lag_by_group(ix: Index) -> dict[str, Any]:
    """The largest total lag (over the partitions of every topic it reads) each group
    reached, by the group's short name (g0, g1, ...), and the partition with the most lag
    at that peak, so a report can say where it piled up."""
    current: dict[str, dict[tuple[str, int], int]] = defaultdict(dict)
    peak: dict[str, tuple[int, int]] = {}
    for ev in sorted((e for e in ix.other if isinstance(e, Lag)), key=lambda e: e.t):
        group = group_name(ix, ev.group)
        parts = current[group]  # by (topic, partition): a pattern group reads its retry topics too
        parts[(ev.topic, ev.partition)] = max(ev.lag, 0)
        total = sum(parts.values())
        if total >= peak.get(group, (-1, 0))[0]:
            peak[group] = (total, max(parts, key=lambda tp: parts[tp])[1])
    return {
        "lag_peak": {g: total for g, (total, _) in peak.items()},
        "lag_peak_partition": {g: p for g, (_, p) in peak.items()},
    }


def group_consumption(ix: Index) -> dict[str, Any]:
    """How many group members were given records, and the records per second the groups
    took in (first deliveries over the span from the first to the last one)."""
    first: dict[str, float] = {}
    readers: set[str] = set()
    for r in ix.reads:
        if r.group is None:
            continue
        readers.add(r.reader)
        if r.id not in first or r.t < first[r.id]:
            first[r.id] = r.t
    span = max(first.values()) - min(first.values()) if first else 0.0
    return {
        "consumers_active": len(readers) if readers else None,
        "group_throughput_per_s": round(len(first) / span, 1) if span > 0 else None,
    }
