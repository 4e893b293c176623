"""A partition on disk: list its files and decode them with Kafka's own DumpLogSegments.

A partition is a folder ``<topic>-<partition>`` in every replica's log dir, holding
segments: ``<base offset>.log`` (record batches), ``.index`` (offset -> byte position,
one entry per ``index.interval.bytes``), ``.timeindex`` (timestamp -> offset) and
``.snapshot`` (producer state, for idempotence and transactions), plus
``leader-epoch-checkpoint`` and ``partition.metadata``. The named step ``inspect-log``
records what it found as a ``segments`` event in the history, so the report and the
measurements read it like any other event; ``set-topic-config`` changes a topic's
config mid-run (to make retention delete segments, for example).

The backend does the looking: local nodes are read on this machine, docker nodes inside
their containers (``docker exec``), with the node's own Kafka jars.
"""

from __future__ import annotations

import re
from typing import Any

from kchaos.cluster.base import Cluster
from kchaos.events import segment_bases

SEGMENT_KINDS = (".log", ".index", ".timeindex", ".snapshot")
EXCERPT_LINES = 6


def dump_class(kafka_version: str) -> str:
    """DumpLogSegments moved from Scala (``kafka.tools``) to Java (``org.apache.kafka.tools``) in 4.0."""
    return (
        "org.apache.kafka.tools.DumpLogSegments"
        if int(kafka_version.split(".")[0]) >= 4
        else "kafka.tools.DumpLogSegments"
    )


BATCH_FIELD = re.compile(r"(producerId|producerEpoch|baseSequence): (-?\d+)")


def parse_dump(output: str) -> dict[str, dict[str, Any]]:
    """DumpLogSegments' output, per file: what kind of entries, how many, and the first lines.

    Counts: record batches and records for ``.log``, entries for ``.index`` and
    ``.timeindex``, producer entries for ``.snapshot``.
    """
    out: dict[str, dict[str, Any]] = {}
    for chunk in output.split("Dumping ")[1:]:
        head, _, body = chunk.partition("\n")
        name = head.strip().rsplit("/", 1)[-1]
        lines = [ln for ln in body.splitlines() if ln.strip()]
        info: dict[str, Any] = {"excerpt": [ln[:200] for ln in lines[:EXCERPT_LINES]]}
        if name.endswith(".log"):
            batches = [ln for ln in lines if ln.startswith("baseOffset:")]
            info["batches"] = len(batches)
            info["records"] = sum(1 for ln in lines if ln.startswith("| offset:"))
            # Who wrote each batch: an idempotent producer's id, epoch and first sequence
            # number (-1 for a producer without idempotence).
            fields = [dict(BATCH_FIELD.findall(ln)) for ln in batches]
            info["producer_ids"] = sorted({int(f["producerId"]) for f in fields if int(f.get("producerId", -1)) >= 0})
            info["sequenced_batches"] = sum(1 for f in fields if int(f.get("baseSequence", -1)) >= 0)
        elif name.endswith(".index"):
            info["entries"] = sum(1 for ln in lines if ln.startswith("offset:"))
        elif name.endswith(".timeindex"):
            info["entries"] = sum(1 for ln in lines if ln.startswith("timestamp:"))
        elif name.endswith(".snapshot"):
            info["entries"] = sum(1 for ln in lines if ln.startswith("producerId:"))
        out[name] = info
    return out


def to_decode(files: list[dict[str, Any]]) -> list[str]:
    """The files of the oldest closed segment (not the active one), and its snapshot."""
    bases = segment_bases(files)
    oldest = bases[0] if bases else None
    names = {f["name"] for f in files}
    # Only the active segment: its .log alone. Its indexes are preallocated, memory-mapped
    # and written while DumpLogSegments reads them (it fails there now and then).
    kinds = SEGMENT_KINDS if len(bases) >= 2 else (".log",)
    picked = [f"{oldest:020d}{kind}" for kind in kinds if oldest is not None]
    snapshots = sorted(n for n in names if n.endswith(".snapshot"))
    if snapshots:
        picked.append(snapshots[0])
    return [n for n in dict.fromkeys(picked) if n in names]


def partition_folder(cluster: Cluster, node: int, topic: str, partition: int) -> str:
    """The partition's folder in the node's log dir, as the node sees it."""
    return f"{cluster.data_dir(node)}/{topic}-{partition}"


def inspect_partition(cluster: Cluster, node: int, topic: str, partition: int, decode: bool = True) -> dict[str, Any]:
    """Files of one partition on one node, and the oldest closed segment decoded."""
    folder = partition_folder(cluster, node, topic, partition)
    files = [{"name": n, "size": s} for n, s in sorted(cluster.list_files(node, folder))]
    decoded: dict[str, Any] = {}
    chosen = to_decode(files) if decode else []
    if chosen:
        output = cluster.run_tool(
            node,
            dump_class(cluster.spec.kafka_version),
            ["--files", ",".join(f"{folder}/{n}" for n in chosen), "--deep-iteration", "--print-data-log"],
        )
        decoded = parse_dump(output)
    return {"folder": folder, "files": files, "decoded": decoded}
