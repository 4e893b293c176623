"""Kafka's own producer benchmark, run as a step on the experiment's cluster and topic:
``org.apache.kafka.tools.ProducerPerformance`` (``kafka-producer-perf-test``) from the
installed Kafka. Its final line (records/s, MB/s, latency average and percentiles)
becomes a ``perf`` event, so a report can set the harness's own producer beside it."""

from __future__ import annotations

import re
import subprocess
import time
from typing import Any

from kchaos import install
from kchaos.clients import config_text
from kchaos.errors import ClusterError
from kchaos.events import Perf
from kchaos.faults.context import StepContext

FINAL_LINE = re.compile(
    r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
    r"[\d.]+ ms max latency, (\d+) ms 50th, \d+ ms 95th, (\d+) ms 99th"
)


def parse_final_line(text: str) -> dict[str, float] | None:
    """The numbers of ProducerPerformance's last line, or None when it never got there."""
    for line in reversed(text.splitlines()):
        m = FINAL_LINE.match(line.strip())
        if m:
            records, rate, mb, avg, p50, p99 = m.groups()
            return {
                "records": int(records),
                "records_per_s": float(rate),
                "mb_per_s": float(mb),
                "latency_ms_avg": float(avg),
                "latency_ms_p50": float(p50),
                "latency_ms_p99": float(p99),
            }
    return None


def perf_test_step(
    ctx: StepContext,
    topic: str,
    records: int = 1_000_000,
    record_size: int = 100,
    config: dict[str, Any] | None = None,
    timeout_s: float = 60,
    after_producers_s: float = 0,
) -> None:
    """Send ``records`` records of ``record_size`` bytes as fast as the tool goes, with
    ``config`` (Java producer names) as its producer properties; a ``perf`` event. With
    ``after_producers_s``, first wait (that long at most) for the workload's Python
    producers to finish (a ``volume_mb`` workload), so the two never share the cluster."""
    deadline = time.monotonic() + after_producers_s
    for p in ctx.producers:
        p.join(max(0.0, deadline - time.monotonic()))
    real = ctx.topic(topic)
    props = {k: config_text(v) for k, v in (config or {}).items()}
    args = [
        "--topic",
        real,
        "--num-records",
        str(records),
        "--record-size",
        str(record_size),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={ctx.cluster.bootstrap}",
        *(f"{k}={v}" for k, v in props.items()),
    ]
    kafka = install.find_kafka(ctx.cluster.spec.kafka_version)
    cmd = install.tool_command(kafka, "org.apache.kafka.tools.ProducerPerformance", args, heap_mb=512)
    t0 = ctx.history.now()
    ctx.record("perf-test", real, "start", args={"records": records, "record_size": record_size, **props})
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"perf-test: {records} records did not finish within {timeout_s:g} s") from None
    finally:
        ctx.record("perf-test", real, "end")
    found = parse_final_line(done.stdout)
    if found is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ClusterError(f"perf-test failed (exit {done.returncode}): {tail[0][:200]}")
    t1 = ctx.history.now()
    ctx.history.write(Perf(t1, real, seconds=round(t1 - t0, 3), config=props, **found))  # type: ignore[arg-type]
