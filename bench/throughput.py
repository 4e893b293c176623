"""The harness's own cost: what recording every send costs a producer, and how the
recording producer compares with Kafka's own perf tool on the same cluster.

Alternating rounds, on one running cluster, one topic (3 partitions, RF 3), 100-byte
records, acks=all, idempotence on, linger 5 ms, no compression, as fast as each client
goes:

  (a) the harness's recording producer (``RecordingProducer``: one ``send`` event
      written per ack, as it happens, into a history file);
  (b) the same records through the same confluent-kafka client at the same poll
      cadence, with no recording (a delivery callback that only counts);
  (c) Kafka's ``ProducerPerformance`` (``kafka-producer-perf-test``) from the installed
      Kafka, with settings matched to librdkafka's defaults (batch.size 1 MB).

Each round runs each client (in a rotating order, ``--pause`` seconds apart) for
``--warmup`` seconds, then counts acknowledged records for ``--seconds``.
The last two lines are the medians' ratios:

  recording/bare-client throughput ratio: R1
  harness/perf-test throughput ratio: R2

    python bench/throughput.py [--rounds 3] [--seconds 20] [--warmup 5] [--cluster NAME]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic

from kchaos import install
from kchaos.clients import QUIET
from kchaos.cluster import attach, teardown
from kchaos.cluster.local import LocalCluster
from kchaos.cluster.readiness import admin
from kchaos.cluster.spec import ClusterSpec
from kchaos.history import HistoryWriter
from kchaos.workload.producer import POLL_EVERY, Keys, RecordingProducer

CONFIG = {"acks": "all", "enable.idempotence": True, "linger.ms": 5, "compression.type": "none"}
JAVA_CONFIG = {**CONFIG, "batch.size": 1000000, "max.in.flight.requests.per.connection": 5}
RECORD_BYTES = 100
PERF_LINE = re.compile(r"^(\d+) records sent, ([\d.]+) records/sec")


def recording(bootstrap: str, topic: str, warmup: float, seconds: float) -> float:
    """(a): acks per second of the recording producer in the window."""
    with tempfile.TemporaryDirectory() as d:
        history = HistoryWriter(Path(d) / "history.jsonl")
        p = RecordingProducer(
            "bench", bootstrap, topic, CONFIG, history, 0, warmup + seconds, Keys("none"), 1, RECORD_BYTES
        )
        p.start()
        time.sleep(warmup)
        before = p.stats.ok
        time.sleep(seconds)
        done = p.stats.ok - before
        p.stop()
        p.join(60)
        history.close()
    return done / seconds


def bare(bootstrap: str, topic: str, warmup: float, seconds: float) -> float:
    """(b): the same records (id header, id in the value, same size) through the same
    client at the same poll cadence, with a delivery callback that only counts."""
    acked = [0]

    def counted(err: object, msg: object) -> None:
        if err is None:
            acked[0] += 1

    producer = Producer({"bootstrap.servers": bootstrap, **QUIET, **CONFIG, "on_delivery": counted})
    pad = b"x" * RECORD_BYTES
    start = time.monotonic()
    window: list[int] = []
    seq = 0
    while time.monotonic() - start < warmup + seconds:
        if not window and time.monotonic() - start >= warmup:
            window.append(acked[0])
        id_ = f"bench-{seq}"
        try:
            producer.produce(topic, value=id_.encode() + b" " + pad[len(id_) + 1 :], headers={"id": id_})
        except BufferError:
            producer.poll(0.1)
            continue
        seq += 1
        if seq % POLL_EVERY == 0:
            producer.poll(0)
    done = acked[0] - window[0]
    producer.flush(30)
    return done / seconds


def perf_test(bootstrap: str, topic: str, warmup: float, seconds: float, version: str) -> float:
    """(c): Kafka's ProducerPerformance; records/s from its 5-second reports after the warm-up."""
    props = [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in JAVA_CONFIG.items()]
    args = [
        "--topic",
        topic,
        "--num-records",
        "1000000000",
        "--record-size",
        str(RECORD_BYTES),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={bootstrap}",
        *props,
    ]
    cmd = install.tool_command(install.find_kafka(version), "org.apache.kafka.tools.ProducerPerformance", args, 512)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: list[tuple[float, float]] = []
    reader = threading.Thread(target=_read_reports, args=(proc, lines), daemon=True)
    reader.start()
    start = time.monotonic()
    time.sleep(warmup + seconds)
    proc.kill()
    proc.wait(10)
    # Each report covers the 5 s before it: keep those that began after the warm-up.
    rates = [rate for t, rate in lines if t - start >= warmup + 5]
    return statistics.mean(rates) if rates else 0.0


def _read_reports(proc: subprocess.Popen[str], lines: list[tuple[float, float]]) -> None:
    for line in proc.stdout or ():
        m = PERF_LINE.match(line.strip())
        if m:
            lines.append((time.monotonic(), float(m.group(2))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--pause", type=float, default=5, help="seconds between two clients' runs")
    ap.add_argument("--cluster", help="a running cluster to use (else one of its own on ports 29800+)")
    args = ap.parse_args()
    own = None
    if args.cluster:
        cluster = attach(args.cluster)
    else:
        own = cluster = LocalCluster(ClusterSpec(name="bench-throughput", base_port=29800))
        teardown(own.name)
        own.up()
    topic = f"bench-throughput-{uuid.uuid4().hex[:6]}"
    adm = admin(cluster.bootstrap)  # held: its futures fail once it is collected
    try:
        for fut in adm.create_topics([NewTopic(topic, 3, 3, config={"min.insync.replicas": "2"})]).values():
            fut.result(30)
        results: dict[str, list[float]] = {"recording": [], "bare": [], "perf-test": []}
        names = list(results)
        for r in range(args.rounds):
            for name in names[r % 3 :] + names[: r % 3]:  # each client goes first once in three rounds
                time.sleep(args.pause)  # the brokers settle after the last client's burst
                if name == "recording":
                    rate = recording(cluster.bootstrap, topic, args.warmup, args.seconds)
                elif name == "bare":
                    rate = bare(cluster.bootstrap, topic, args.warmup, args.seconds)
                else:
                    rate = perf_test(cluster.bootstrap, topic, args.warmup, args.seconds, cluster.spec.kafka_version)
                results[name].append(rate)
                print(f"round {r + 1}: {name}: {rate:,.0f} records/s", flush=True)
        medians = {name: statistics.median(rates) for name, rates in results.items()}
        for name, m in medians.items():
            print(f"median {name}: {m:,.0f} records/s over {args.rounds} rounds of {args.seconds:g} s")
        print(f"recording/bare-client throughput ratio: {medians['recording'] / medians['bare']:.2f}")
        print(f"harness/perf-test throughput ratio: {medians['recording'] / medians['perf-test']:.2f}")
    finally:
        if own is not None:
            teardown(own.name)
        else:  # a cluster someone else runs gets its disk back
            for fut in adm.delete_topics([topic]).values():
                fut.result(30)


if __name__ == "__main__":
    main()
