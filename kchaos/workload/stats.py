"""librdkafka's statistics, cut down to a ``stats`` event.

A client with ``statistics.interval.ms`` set hands its ``stats_cb`` one JSON document per
interval (librdkafka's STATISTICS.md): counters since the client started, and
per-interval windows of batch sizes and latencies (microseconds). kchaos keeps what its
measurements use: records and bytes moved, the Produce (or Fetch) requests sent,
records and bytes per produce batch, broker round trips and the time records waited in
the client before a request took them (``int_latency``).
"""

from __future__ import annotations

import statistics
from typing import Any

import orjson

from kchaos.events import Stats


def _window_mean(windows: list[dict[str, Any]], field: str) -> float | None:
    """The mean of ``field`` over the windows that saw anything (``cnt`` > 0)."""
    values = [w[field] for w in windows if w.get("cnt", 0) > 0]
    return statistics.fmean(values) if values else None


def _ms(us: float | None) -> float | None:
    return None if us is None else round(us / 1000, 3)


def stats_event(client: str, role: str, t: float, raw: str) -> Stats:
    """One ``stats_cb`` document as a ``stats`` event (role: producer or consumer)."""
    doc = orjson.loads(raw)
    brokers = [b for b in doc.get("brokers", {}).values() if b.get("nodeid", -1) >= 0]
    topics = list(doc.get("topics", {}).values())
    rtt = [b.get("rtt", {}) for b in brokers]
    queued = [b.get("int_latency", {}) for b in brokers]
    prefix = "tx" if role == "producer" else "rx"
    batch_records = _window_mean([t.get("batchcnt", {}) for t in topics], "avg")
    batch_bytes = _window_mean([t.get("batchsize", {}) for t in topics], "avg")
    return Stats(
        client,
        role,  # type: ignore[arg-type]
        t,
        int(doc.get(f"{prefix}msgs", 0)),
        int(doc.get(f"{prefix}msg_bytes", 0)),
        sum(int(b.get("req", {}).get("Produce" if role == "producer" else "Fetch", 0)) for b in brokers),
        round(batch_records, 2) if batch_records is not None else None,
        round(batch_bytes, 1) if batch_bytes is not None else None,
        _ms(_window_mean(rtt, "p50")),
        _ms(_window_mean(rtt, "p99")),
        _ms(_window_mean(queued, "p50")),
        _ms(_window_mean(queued, "p99")),
        doc.get("name"),
    )
