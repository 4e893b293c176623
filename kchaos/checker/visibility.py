"""When a pipeline's output became visible to a reader that waits for commits.

``commit_transaction()`` returns once the coordinator has logged PREPARE_COMMIT; it
writes the transaction markers after answering, and a read_committed reader gets the
output only once a marker has moved the last stable offset past it. So the time a
reader sees is measured where the reader is: the first delivery of each output to a
read_committed consumer group, minus its input's send.
"""

from __future__ import annotations

from typing import Any

from kchaos.checker.index import Index
from kchaos.percentiles import percentile


def first_committed_delivery(ix: Index) -> dict[str, float]:
    """Input id -> when a read_committed group first got an output carrying it."""
    first: dict[str, float] = {}
    for r in ix.reads:
        if r.group is None or r.input is None or not r.committed_only:
            continue
        if r.t < first.get(r.input, float("inf")):
            first[r.input] = r.t
    return first


def visibility_measurements(ix: Index) -> dict[str, Any]:
    """``visible_latency_ms``: input send to its output's first delivery to a
    read_committed group (p50, p99); empty when no such group read outputs."""
    first = first_committed_delivery(ix)
    latencies = [t - ix.sends[i].t0 for i, t in first.items() if i in ix.sends and ix.sends[i].t0_known]
    if not latencies:
        return {}
    return {
        "visible_latency_ms": {
            "p50": round(percentile(latencies, 50) * 1000, 2),
            "p99": round(percentile(latencies, 99) * 1000, 2),
        }
    }
