"""Where Jepsen went (KAFKA-17754), on several Kafka versions: can a late request be
applied to a transactional producer's next transaction?

For each Kafka version (each installed with ``kchaos install --kafka-version V``) this
brings up a cluster of its own, prints its finalized ``transaction.version`` (Kafka's
FeatureCommand), the request versions the Python client really sends (librdkafka's
``debug=protocol`` log of one committed and one aborted transaction), then runs the
nightly-only variant ``late requests (KAFKA-17754 probe)`` of ``transactions`` on it and
prints what the checker found. Not a CI test: a version comparison, run by hand.

    python bench/late_txn_requests.py 4.4.0 3.9.1
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic

from kchaos.cluster import teardown
from kchaos.cluster.local import LocalCluster
from kchaos.cluster.readiness import admin
from kchaos.cluster.spec import ClusterSpec
from kchaos.session import execute

BROKER_CONFIG = {
    "replica.lag.time.max.ms": "3000",
    "broker.session.timeout.ms": "6000",
    "broker.heartbeat.interval.ms": "1000",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000",
}
PROBE_TOPIC = "kchaos-wire-probe"
SENT = re.compile(r"Sent (\w+)Request \(v(\d+)")
FEATURE = re.compile(
    r"Feature: (\S+)\s+SupportedMinVersion: \S+\s+SupportedMaxVersion: (\S+)\s+FinalizedVersionLevel: (\S+)"
)
WATCHED = ("Produce", "InitProducerId", "AddPartitionsToTxn", "AddOffsetsToTxn", "EndTxn", "TxnOffsetCommit")


def features(cluster: LocalCluster) -> dict[str, tuple[str, str]]:
    """Feature -> (supported max, finalized level), as ``kafka-features.sh describe`` prints them."""
    out = cluster.run_tool(
        1, "org.apache.kafka.tools.FeatureCommand", ["--bootstrap-server", cluster.bootstrap, "describe"]
    )
    return {m.group(1): (m.group(2), m.group(3)) for m in FEATURE.finditer(out)}


def wire_versions(bootstrap: str) -> dict[str, str]:
    """The request versions one transactional producer sends (commit, then abort)."""
    seen: dict[str, set[str]] = {}
    adm = admin(bootstrap)  # held: its futures fail once it is collected
    for fut in adm.create_topics([NewTopic(PROBE_TOPIC, 1, 3)]).values():
        fut.result(30)

    class Log:
        def log(self, level: int, fmt: str, *args: Any) -> None:
            for name, version in SENT.findall(fmt % args if args else fmt):
                seen.setdefault(name, set()).add(version)

    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": "kchaos-wire-probe",
            "debug": "protocol",
            "logger": Log(),
        }
    )
    p.init_transactions(30)
    for commit in (True, False):
        p.begin_transaction()
        p.produce(PROBE_TOPIC, b"x")
        p.flush(30)
        (p.commit_transaction if commit else p.abort_transaction)(30)
    p.flush(5)
    return {name: ",".join(sorted(seen.get(name, {"-"}))) for name in WATCHED}


def one_version(version: str, port: int) -> dict[str, Any]:
    name = f"late-{version.replace('.', '')}"
    cluster = LocalCluster(ClusterSpec(name=name, base_port=port, kafka_version=version, broker_config=BROKER_CONFIG))
    teardown(name)
    cluster.up()
    try:
        feats = features(cluster)
        wire = wire_versions(cluster.bootstrap)
        result = execute(
            "transactions",
            "nightly",
            backend="local",
            report_dir=Path("reports"),
            cluster=cluster,
            variants=["late requests"],
        )
        v = result.variants[0]
        return {
            "version": version,
            "transaction.version": feats.get("transaction.version", ("-", "absent"))[1],
            "wire": wire,
            "anomalies": {k: n for k, n in v.anomalies.items() if n},
            "txn": {k: v.measurements.get(k) for k in ("txn_committed", "txn_aborted", "txn_unknown")},
            "verdict": result.verdict,
            "report": str(result.run_dir / "report.md"),
        }
    finally:
        teardown(name)


def main(versions: list[str]) -> None:
    rows = [one_version(v, 29300 + 50 * i) for i, v in enumerate(versions)]
    for r in rows:
        print(f"Kafka {r['version']}: transaction.version finalized {r['transaction.version']}")
        print("  client request versions: " + ", ".join(f"{k} v{v}" for k, v in r["wire"].items()))
        print(f"  transactions: {r['txn']}")
        print(f"  anomalies: {r['anomalies'] or 'none'}; verdict {r['verdict']}; {r['report']}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["4.4.0", "3.9.1"])
