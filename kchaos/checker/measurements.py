"""Measurements from a history: throughput, latency, unavailability, rebalance pauses, lag.

Pure functions over an ``Index``, like the anomaly checks; the report draws them.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import msgspec

from kchaos.checker import patterns, performance, pipelines, replication
from kchaos.checker.groups import processing
from kchaos.checker.index import Index
from kchaos.checker.rebalances import METRICS, by_trigger, episodes
from kchaos.checker.rebalances import steps as rebalance_steps
from kchaos.events import Assign, Client, Lag, Lost, Measured, Revoke, Segments
from kchaos.percentiles import ms, percentile


@dataclass(frozen=True)
class Measure:
    """One measurement of ``summary.json``: its unit, what a workload must produce for it
    to mean anything (as in ``anomalies.NEEDS``; ``client``: a crash-producer step,
    ``segments``: an inspect-log step), and one line for the docs and the report."""

    name: str
    unit: str
    help: str
    needs: frozenset[str] = frozenset()
    better: str | None = None  # "higher" or "lower": a report names the best variant on it

    @property
    def direction(self) -> str | None:
        """Which way is better: as declared, else lower for times, else no best at all."""
        return self.better or ("lower" if self.unit in ("ms", "s") else None)


def _m(name: str, unit: str, help: str, *needs: str, better: str | None = None) -> Measure:
    return Measure(name, unit, help, frozenset(needs), better)


_REBALANCE_UNITS = {
    "detect_s": "s",
    "others": "callbacks",
    "revoked": "partitions",
    "pause_max_s": "s",
    "stop_the_world_s": "s",
    "duration_s": "s",
    "redelivered": "records",
}
_REBALANCE_HELP = {
    "detect_s": "the trigger (a client fault or added partitions) to another member's first rebalance callback",
    "others": "rebalance callbacks of the other members",
    "revoked": "partitions revoked or lost",
    "pause_max_s": "longest pause of a partition that moved",
    "stop_the_world_s": "longest time the group delivered nothing",
    "duration_s": "first to last rebalance callback",
    "redelivered": "re-deliveries put down to it",
}

#: Every measurement an expectation may name; ``summary()`` computes them.
MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        _m("sends_attempted", "sends", "produce calls made"),
        _m("sends_ok", "sends", "acknowledged sends"),
        _m("sends_unknown", "sends", "sends whose outcome the client could not know"),
        _m("sends_failed", "sends", "sends that surely were not written"),
        _m("reads", "records", "records delivered to consumers and drain readers"),
        _m("throughput_per_s", "acks/s", "acknowledged sends per second over the run", better="higher"),
        _m("produce_latency_ms.p50", "ms", "median send-to-ack latency"),
        _m("produce_latency_ms.p99", "ms", "99th percentile send-to-ack latency"),
        _m("produce_latency_ms.max", "ms", "largest send-to-ack latency"),
        _m("end_to_end_latency_ms.p50", "ms", "median send to first delivery to a group", "group"),
        _m("end_to_end_latency_ms.p99", "ms", "99th percentile send to first delivery", "group"),
        _m("unavailability_s", "s", "after each fault: seconds to the first ack of a write sent after it"),
        _m("longest_ack_gap_s", "s", "the longest stretch with no ack"),
        _m("leader_changes", "changes", "leader changes of the watched partition"),
        _m("isr_min", "replicas", "smallest ISR of the watched partition"),
        _m("isr_shrinks", "shrinks", "ISR shrinks of the watched partition"),
        _m("isr_final", "replicas", "ISR size at the end"),
        _m("under_replicated_s", "s", "seconds the watched partition was under-replicated"),
        _m("failed_not_enough_replicas", "sends", "sends refused with NOT_ENOUGH_REPLICAS"),
        _m("isr_shrink_after_fault_s", "s", "the first fault to the first ISR shrink of the watched partition"),
        _m("leader_elected_after_fault_s", "s", "the first fault to the first new leader of the watched partition"),
        _m("leaders_outside_isr", "elections", "new leaders not in the last ISR seen before them (ELR, unclean)"),
        _m("lost_acked_after_election", "sends", "lost writes acknowledged after a new leader was elected"),
        _m("lost_acks_after_election_s", "s", "the new leader's election to the last ack of a lost write"),
        _m("election_to_heal_s", "s", "the new leader's election to the heal of the faults"),
        _m(
            "kept_acks_election_to_heal",
            "sends",
            "acks of writes the final log kept, between the new leader's election and the heal",
        ),
        _m("leader_epoch_changes", "changes", "distinct leader epochs in the drained records, minus one"),
        _m("undrained", "partitions", "partitions the committed drain could not finish"),
        _m("unknown_seen", "sends", "unknown sends that readers found"),
        _m("redelivered", "records", "re-deliveries the group's commits allow (at-least-once)", "group"),
        _m("client_takeover_s", "s", "kill-client to another member's first assign of its partitions", "group"),
        _m("rebalances", "triggers", "client faults and topic changes after which some member rebalanced", "group"),
        _m("revoked_partitions", "partitions", "partitions revoked or lost over the run, summed over members", "group"),
        _m("lag_max", "records", "largest lag the group watcher saw (log end minus committed offset)", "group"),
        _m(
            "committed_not_next",
            "partitions",
            "partitions whose final committed offset (Admin API) is not the one after the last record processed",
            "group",
        ),
        *(
            _m(f"rebalance.<trigger>.{metric}", _REBALANCE_UNITS[metric], _REBALANCE_HELP[metric], "group")
            for metric in METRICS
        ),
        _m("txn_committed", "transactions", "transactions the clients saw commit", "txn"),
        _m("txn_aborted", "transactions", "transactions the clients saw abort", "txn"),
        _m("txn_unknown", "transactions", "transactions whose outcome the client never learned", "txn"),
        _m("producer_crashes", "crashes", "producers crashed mid-transaction", "client"),
        _m("zombies_fenced", "producers", "crashed producers fenced when they woke up", "client"),
        _m("aborted_in_log", "records", "aborted records a read_uncommitted drain found", "txn"),
        _m("aborted_consumed", "records", "aborted records handed to group consumers", "txn", "group"),
        _m("pipeline_inputs", "records", "input records the pipeline processed at least once", "pipeline"),
        _m("pipeline_outputs", "records", "committed outputs (read_committed drain of the output topic)", "pipeline"),
        _m(
            "pipeline_lost",
            "records",
            "inputs below the pipeline's committed offsets without any committed output",
            "pipeline",
        ),
        _m("pipeline_unprocessed", "records", "inputs past the pipeline's last commit, without output", "pipeline"),
        _m("pipeline_duplicated", "records", "committed inputs with more than one committed output", "pipeline"),
        _m("pipeline_redelivered", "records", "deliveries of an input beyond its first, to the pipeline", "pipeline"),
        _m(
            "pipeline_throughput_per_s",
            "records/s",
            "committed outputs per second of the pipeline's work",
            "pipeline",
            better="higher",
        ),
        _m(
            "pipeline_latency_ms.p50",
            "ms",
            "median input send to its output committed: commit_transaction() returned, or the output's ack",
            "pipeline",
        ),
        _m("pipeline_latency_ms.p99", "ms", "99th percentile input send to its output committed", "pipeline"),
        _m(
            "visible_latency_ms.p50",
            "ms",
            "median input send to its output's first delivery to a read_committed group (what a reader waits)",
            "pipeline",
            "group",
        ),
        _m(
            "visible_latency_ms.p99",
            "ms",
            "99th percentile input send to its output's first delivery to a read_committed group",
            "pipeline",
            "group",
        ),
        _m(
            "txn_abort_after_kill_s",
            "s",
            "a transactional worker SIGKILLed mid-transaction to read_committed consumers getting past its records",
            "pipeline",
            "group",
        ),
        _m(
            "txn_abort_after_open_s",
            "s",
            "the open transaction of a worker SIGKILLed mid-transaction, from its first record to read_committed"
            " consumers getting past its records (the coordinator's timeout runs from the transaction's start)",
            "pipeline",
            "group",
        ),
        _m("pipeline_kills", "kills", "pipeline workers SIGKILLed at a point of their loop", "pipeline"),
        _m("pipeline_kills_at_point", "kills", "of those, kills that came at the point asked", "pipeline"),
        _m("effects", "rows", "rows the pipeline wrote to its store outside Kafka", "pipeline", "store"),
        _m("effects_duplicated", "records", "inputs with more than one row in the store", "pipeline", "store"),
        _m("segments_first", "segments", "segments at the first look", "segments"),
        _m("segments_last", "segments", "segments at the last look", "segments"),
        _m("segments_deleted", "segments", "segments deleted between the looks", "segments"),
        _m("log_start_offset", "offset", "the log start offset at the last look", "segments"),
        _m("segment_file_kinds", "kinds", "kinds of segment files seen (log, index, ...)", "segments"),
        _m("records_decoded", "records", "records decoded from the oldest segment", "segments"),
        _m("batch_producer_ids", "ids", "idempotent producer ids in the decoded batch headers", "segments"),
        _m("sequenced_batches", "batches", "decoded batches that carry a sequence number (idempotence)", "segments"),
        _m("index_entries", "entries", "offset index entries decoded", "segments"),
        _m("timeindex_entries", "entries", "time index entries decoded", "segments"),
        _m(
            "records_per_request",
            "records",
            "records per Produce request (librdkafka statistics)",
            "stats",
            better="higher",
        ),
        _m("records_per_batch", "records", "records per produce batch, mean of the statistics windows", "stats"),
        _m("batch_bytes", "bytes", "bytes per produce batch, mean of the statistics windows", "stats"),
        _m("produce_requests_per_s", "requests/s", "Produce requests per second, all producers", "stats"),
        _m(
            "throughput_mb_per_s",
            "MB/s",
            "acknowledged sends per second times the bytes per record librdkafka counted (txmsg_bytes), 10^6 bytes",
            "stats",
            better="higher",
        ),
        _m("rtt_ms.p50", "ms", "broker round trip (median, mean over brokers and windows)", "stats"),
        _m("queue_ms.p50", "ms", "time a record waited in the producer before a request took it", "stats"),
        _m("fetch_requests_per_s", "requests/s", "Fetch requests per second, all group consumers", "stats"),
        _m("records_per_fetch", "records", "records per Fetch request, group consumers", "stats"),
        _m(
            "perf_test_throughput_per_s",
            "records/s",
            "Kafka's ProducerPerformance on the same cluster",
            "perf",
            better="higher",
        ),
        _m("perf_test_mb_per_s", "MiB/s", "Kafka's ProducerPerformance, MB/sec as it prints it (2^20 bytes)", "perf"),
        _m("perf_test_latency_ms.p50", "ms", "Kafka's ProducerPerformance, median latency", "perf"),
        _m("perf_test_latency_ms.p99", "ms", "Kafka's ProducerPerformance, 99th percentile latency", "perf"),
        _m("pattern_inputs", "records", "records written to the pattern's input topic", "pattern"),
        _m("pattern_processed", "records", "inputs the handler processed (at least once)", "pattern"),
        _m("pattern_dead_lettered", "records", "inputs with a copy in the dead-letter topic", "pattern"),
        _m("pattern_retried", "attempts", "retries: copies to retry topics and failed in-place attempts", "pattern"),
        _m("pattern_replayed", "records", "inputs replayed from the dead-letter topic to the input", "pattern"),
        _m("pattern_duplicates_skipped", "records", "re-deliveries the worker recognised as done (dedupe)", "pattern"),
        _m("pattern_unfinished", "records", "inputs neither processed nor dead-lettered (lost)", "pattern"),
        _m("pattern_processed_twice", "records", "inputs the handler processed more than once", "pattern"),
        _m("pattern_dead_lettered_twice", "records", "inputs dead-lettered more than once", "pattern"),
        _m("pattern_processed_and_dead_lettered", "records", "inputs both processed and dead-lettered", "pattern"),
        _m(
            "healthy_latency_ms.p50",
            "ms",
            "send to processed, records that never failed, sent in the calm (steady + 1 s to the faults), median",
            "pattern",
        ),
        _m(
            "healthy_latency_ms.p99",
            "ms",
            "the same, 99th percentile: head-of-line blocking",
            "pattern",
        ),
        _m("pattern_latency_ms.p50", "ms", "send to first processed, every processed input (median)", "pattern"),
        _m("pattern_latency_ms.p99", "ms", "send to first processed, every processed input", "pattern"),
        _m("pattern_throughput_per_s", "records/s", "inputs processed per second", "pattern", better="higher"),
        _m(
            "keys_reordered_by_processing",
            "keys",
            "keys whose records were processed in another order than one producer sent them",
            "pattern",
            better="lower",
        ),
        _m(
            "schema_versions_registered",
            "versions",
            "schema versions the registry took (and the producer deployed)",
            "schemas",
        ),
        _m("schema_versions_refused", "versions", "schema versions the registry refused (not deployed)", "schemas"),
        _m("decoded.<reader>", "records", "records a reader group decoded with its schema", "schemas"),
        _m("decode_failed.<reader>", "records", "records a reader group could not decode (dead-lettered)", "schemas"),
        _m(
            "first_broken_version.<reader>",
            "version",
            "the first schema version (1-based, in deploy order) whose records a reader could not decode; 0: none",
            "schemas",
        ),
        _m("request_reply_kafka_p50_ms", "ms", "request/reply over two topics, median round trip (request-reply)"),
        _m("request_reply_kafka_p99_ms", "ms", "request/reply over two topics, 99th percentile round trip"),
        _m("request_reply_direct_p50_ms", "ms", "the same exchange over a loopback TCP connection, median"),
        _m("request_reply_direct_p99_ms", "ms", "the same exchange over a loopback TCP connection, 99th percentile"),
        _m("request_reply_timeouts", "requests", "requests over Kafka without a reply within 5 s"),
        _m("oversized_refused_by_client", "records", "1: the client refused the record over its message.max.bytes"),
        _m("oversized_refused_by_broker", "records", "1: the broker refused the record (client limit raised)"),
        _m("delete_records_collateral", "records", "records DeleteRecords removed to delete one in the middle"),
        _m("compaction_delete_s", "s", "a tombstone on a compacted topic until the old value is no longer read"),
        _m("priority_behind_backlog_ms", "ms", "an urgent record behind a backlog in the same topic"),
        _m(
            "priority_topic_same_consumer_ms", "ms", "an urgent record in a topic of its own, read by the same consumer"
        ),
        _m("priority_topic_ms", "ms", "an urgent record in a topic of its own with a consumer of its own"),
        _m("dead_letters_replayed", "records", "dead letters the deploy-fix step replayed"),
        _m("dead_letters_with_provenance", "records", "of those, dead letters carrying every provenance header"),
        _m(
            "dead_letters_with_origin",
            "records",
            "of those, dead letters that name the topic and offset they came from",
        ),
        _m("dead_letters_with_error_class", "records", "of those, dead letters that name the exception's class"),
        _m("keys_split", "keys", "keys whose acknowledged records landed on more than one partition", "keyed"),
        _m("new_partition_first_ack_s", "s", "add-partitions to the first ack on an added partition"),
        _m("new_partition_unread", "records", "records acknowledged on added partitions no group member got", "group"),
        _m("consumers_active", "members", "group members that were given records", "group"),
        _m(
            "group_throughput_per_s",
            "records/s",
            "records per second the groups took in (first deliveries)",
            "group",
            better="higher",
        ),
        _m("lag_peak.<group>", "records", "a group's largest total lag (g0, g1, ...)", "group", better="lower"),
        _m("lag_peak_partition.<group>", "partition", "the partition with the most lag at that peak", "group"),
    )
}


_PER_TRIGGER = re.compile(r"^rebalance\.([a-z0-9][a-z0-9_-]*)\.(" + "|".join(METRICS) + r")$")


_PER_GROUP = re.compile(r"^(lag_peak|lag_peak_partition)\.(g\d+|pipe|pattern)$")
_PER_READER = re.compile(r"^(decoded|decode_failed|first_broken_version)\.[a-z][a-z0-9]*$")


def measure(name: str) -> Measure | None:
    """The measurement an expectation names: one of ``MEASURES``, a rebalance trigger's
    (``rebalance.<trigger>.<metric>``: an action of ``rebalances.TRIGGERS`` or a step's
    ``as:`` name), a group's (``lag_peak.g0``) or a schema reader's (``decode_failed.old``)."""
    found = MEASURES.get(name)
    if found is None and (m := _PER_TRIGGER.match(name)):
        found = MEASURES[f"rebalance.<trigger>.{m.group(2)}"]
    if found is None and (m := _PER_GROUP.match(name)):
        found = MEASURES[f"{m.group(1)}.<group>"]
    if found is None and (m := _PER_READER.match(name)):
        found = MEASURES[f"{m.group(1)}.<reader>"]
    return found


def throughput_timeline(ix: Index) -> list[dict[str, Any]]:
    """Per second of the run: acks ok, failed, unknown (by completion time)."""
    buckets: dict[int, dict[str, int]] = defaultdict(lambda: {"ok": 0, "fail": 0, "unknown": 0})
    for s in ix.sends.values():
        buckets[int(s.t1)][s.status] += 1
    if not buckets:
        return []
    return [
        {"t": sec, **buckets.get(sec, {"ok": 0, "fail": 0, "unknown": 0})}
        for sec in range(min(buckets), max(buckets) + 1)
    ]


def latency_timeline(ix: Index) -> list[dict[str, Any]]:
    """Per second: p50 and max produce latency (ms) of the sends acknowledged in it."""
    per: dict[int, list[float]] = defaultdict(list)
    for s in ix.sends.values():
        if s.status == "ok" and s.t0_known:
            per[int(s.t1)].append(s.t1 - s.t0)
    return [{"t": sec, "p50_ms": ms(percentile(v, 50)), "max_ms": ms(max(v))} for sec, v in sorted(per.items())]


def unavailability(ix: Index) -> dict[str, Any]:
    """Windows with no successful ack.

    ``longest_gap_s``: the longest stretch between two successive acks of the whole run.
    ``after_faults``: for each fault start, seconds from the fault to the first ack of a
    write *sent after it*, overall and per partition. (An ack that arrives just after the
    fault for a write sent before it proves nothing about the cluster after the fault.)
    """
    times = sorted(s.t1 for s in ix.sends.values() if s.status == "ok")
    # Windows need to know when a write was sent: only sends whose start is known count.
    acks = sorted((s.t1, s.t0, s.topic, s.partition) for s in ix.sends.values() if s.status == "ok" and s.t0_known)
    gap, gap_at = 0.0, None
    for a, b in zip(times, times[1:], strict=False):
        if b - a > gap:
            gap, gap_at = b - a, a
    windows = []
    for f in ix.faults:
        if f.phase != "start":
            continue
        t = f.t
        per_partition: dict[str, float] = {}
        for t1, t0, topic, partition in acks:
            key = f"{topic}-{partition}"
            if t0 >= t and key not in per_partition:
                per_partition[key] = round(t1 - t, 3)
        windows.append(
            {
                "fault": f.name,
                "target": f.target,
                "t": t,
                "first_ack_after_s": min(per_partition.values(), default=None),
                "per_partition_s": per_partition,
            }
        )
    return {"longest_gap_s": round(gap, 3), "longest_gap_at": gap_at, "after_faults": windows}


def end_to_end(ix: Index) -> dict[str, float | None]:
    """Send start to first delivery to any group consumer (ms percentiles)."""
    first: dict[str, float] = {}
    for r in ix.reads:
        if r.group is not None and r.id not in first:
            first[r.id] = r.t
    lat = [first[i] - s.t0 for i, s in ix.sends.items() if i in first and s.t0_known]
    return {"p50": ms(percentile(lat, 50)), "p99": ms(percentile(lat, 99)), "max": ms(max(lat) if lat else None)}


def rebalance_pauses(ix: Index) -> list[dict[str, Any]]:
    """Per revoked partition: seconds from the revoke to the group's next read of it."""
    next_read: dict[tuple, list[float]] = defaultdict(list)
    for r in ix.reads:
        if r.group is not None:
            next_read[(r.group, r.topic, r.partition)].append(r.t)
    for times in next_read.values():  # writers' clocks interleave: sort before bisecting
        times.sort()
    out = []
    for ev in ix.rebalances:
        if not isinstance(ev, Revoke | Lost):
            continue
        for tp in ev.partitions:
            topic, partition = tp[0], tp[1]
            times = next_read.get((ev.group, topic, partition), [])
            k = bisect_left(times, ev.t)
            pause = round(times[k] - ev.t, 3) if k < len(times) else None
            out.append({"group": ev.group, "topic": topic, "partition": partition, "t": ev.t, "pause_s": pause})
    return out


def lag_timeline(ix: Index) -> list[dict[str, Any]]:
    """Consumer lag samples (``lag`` events), when the workload recorded them, each with
    its group's name as the experiment file writes it (``name``)."""
    return [
        {**msgspec.structs.asdict(ev), "name": performance.group_name(ix, ev.group)}
        for ev in ix.other
        if isinstance(ev, Lag)
    ]


def summary(ix: Index) -> dict[str, Any]:
    """The numbers of ``summary.json``'s ``measurements``."""
    sends = list(ix.sends.values())
    ok = [s for s in sends if s.status == "ok"]
    lat = [s.t1 - s.t0 for s in ok if s.t0_known]
    span = (max(s.t1 for s in sends) - min(s.t0 for s in sends)) if sends else 0.0
    unavail = unavailability(ix)
    # The window of the partition hit hardest: unaffected partitions ack at once.
    after = [max(w["per_partition_s"].values()) for w in unavail["after_faults"] if w["per_partition_s"]]
    return {
        "sends_attempted": len(sends),
        "sends_ok": len(ok),
        "sends_unknown": sum(1 for s in sends if s.status == "unknown"),
        "sends_failed": sum(1 for s in sends if s.status == "fail"),
        "reads": len(ix.reads),
        "throughput_per_s": round(len(ok) / span, 1) if span > 0 else 0.0,
        "produce_latency_ms": {
            "p50": ms(percentile(lat, 50)),
            "p99": ms(percentile(lat, 99)),
            "max": ms(max(lat) if lat else None),
        },
        "end_to_end_latency_ms": end_to_end(ix),
        "unavailability_s": max(after) if after else 0.0,
        "longest_ack_gap_s": unavail["longest_gap_s"],
        **transactions(ix),
        **on_disk(ix),
    }


def on_disk(ix: Index) -> dict[str, Any]:
    """What ``inspect-log`` found: segment counts at the first and last look, segments
    deleted in between (retention), the log start offset, and decoded entry counts."""
    looks = [e for e in ix.other if isinstance(e, Segments)]
    if not looks:
        return {}
    first, last = looks[0], looks[-1]
    decoded = first.decoded.values()
    kinds = {f["name"].rsplit(".", 1)[-1] for f in first.files if "." in f["name"]}
    return {
        "segments_first": len(first.bases()),
        "segments_last": len(last.bases()),
        "segments_deleted": len(set(first.bases()) - set(last.bases())),
        "log_start_offset": last.bases()[0] if last.bases() else None,
        "segment_file_kinds": len(kinds & {"log", "index", "timeindex", "snapshot"}),
        "records_decoded": sum(d.get("records", 0) for d in decoded),
        "batch_producer_ids": len({i for d in decoded for i in d.get("producer_ids", ())}),
        "sequenced_batches": sum(d.get("sequenced_batches", 0) for d in decoded),
        "index_entries": sum(d.get("entries", 0) for name, d in first.decoded.items() if name.endswith(".index")),
        "timeindex_entries": sum(
            d.get("entries", 0) for name, d in first.decoded.items() if name.endswith(".timeindex")
        ),
    }


def transactions(ix: Index) -> dict[str, int]:
    """Transaction outcomes, fenced zombies, and aborted records that are really in the log.

    ``aborted_consumed`` counts records of aborted transactions that a group consumer was
    given (whatever its isolation level). ``aborted_in_log`` counts records of aborted transactions that a read_uncommitted drain
    found: proof that the data was written and only the markers hide it, so that zero
    aborted reads under read_committed means something.
    """
    outcomes = [ev.status for ev in ix.txn_events.values()]  # as the clients learned them
    aborted = {s.id for s in ix.sends.values() if s.txn is not None and ix.txns.get(s.txn) == "abort"}
    uncommitted_drain = {i for offsets in ix.uncommitted_view.values() for i in offsets.values()}
    clients = [e for e in ix.other if isinstance(e, Client)]
    return {
        "txn_committed": outcomes.count("commit"),
        "txn_aborted": outcomes.count("abort"),
        "txn_unknown": outcomes.count("unknown"),
        "producer_crashes": sum(1 for e in clients if e.event == "crash"),
        "zombies_fenced": sum(1 for e in clients if e.event == "zombie-fenced"),
        "aborted_in_log": len(aborted & uncommitted_drain),
        "aborted_consumed": len({r.id for r in ix.reads if r.group is not None and r.id in aborted}),
    }


def all_measurements(ix: Index, topic: str, checked: dict[str, Any]) -> dict[str, Any]:
    """Every measurement of ``summary.json`` (the names of ``MEASURES``) for one variant."""
    m = summary(ix)
    m.update(replication.replication_measurements(ix, topic))
    m.update(replication.replication_timings(ix, topic))
    m["undrained"] = len(checked["undrained"])
    m["unknown_seen"] = checked["info"]["unknown_sends_seen"]
    m["redelivered"] = checked["info"]["redelivered"]
    takeovers = client_takeovers(ix)
    m["client_takeover_s"] = max(takeovers) if takeovers else None
    m.update(group_measurements(ix, checked["info"]["redelivered_by_cause"]))
    m.update(pipelines.pipeline_measurements(ix))
    m.update(pipelines.visibility_measurements(ix))
    m.update(patterns.pattern_measurements(ix))
    m.update(patterns.schema_measurements(ix))
    m.update(step_measurements(ix))
    m.update(performance.client_statistics(ix, m["throughput_per_s"]))
    m.update(performance.perf_test(ix))
    m.update(performance.key_placement(ix))
    m.update(performance.added_partitions(ix))
    m.update(performance.lag_by_group(ix))
    m.update(performance.group_consumption(ix))
    return m


def step_measurements(ix: Index) -> dict[str, Any]:
    """Numbers a step measured itself (``measured`` events), by name; the last one counts."""
    return {e.name: e.value for e in ix.other if isinstance(e, Measured)}


def group_measurements(ix: Index, redelivered_by_cause: dict[str, int]) -> dict[str, Any]:
    """Rebalances per trigger (``rebalances.py``), lag, and the final committed offsets
    against what the group processed."""
    eps = episodes(ix, redelivered_by_cause)
    lags = [e for e in ix.other if isinstance(e, Lag)]
    return {
        "rebalances": sum(1 for e in eps if e["duration_s"] is not None),
        "revoked_partitions": sum(len(ev.partitions) for ev in ix.rebalances if isinstance(ev, Revoke | Lost)),
        "rebalance": by_trigger(eps),
        "lag_max": max((e.lag for e in lags), default=None),
        "committed_not_next": committed_not_next(ix, lags) if lags else None,
    }


def committed_not_next(ix: Index, lags: list[Lag]) -> int:
    """Partitions where the group's last committed offset, as the broker reports it after
    the members stopped, is not the offset after the last record the group processed
    there: the committed offset names the next record to read, not the last one read
    (transaction markers after the last record may lie in between; records may not)."""
    final: dict[tuple[str, str, int], int] = {}
    for e in sorted(lags, key=lambda e: e.t):
        if e.committed is not None:
            final[(e.group, e.topic, e.partition)] = e.committed
    done: dict[tuple[str, str, int], int] = {}
    for group, (topic, partition), offset, _id, _t in processing(ix):
        key = (group, topic, partition)
        done[key] = max(done.get(key, -1), offset)
    # Offsets that hold records (the drain's reads): a committed offset past the last
    # processed one is still "next" when only transaction markers lie in between.
    records: dict[tuple[str, int], list[int]] = defaultdict(list)
    for r in ix.reads:
        if r.group is None:
            records[(r.topic, r.partition)].append(r.offset)
    for offsets in records.values():
        offsets.sort()

    def wrong(key: tuple[str, str, int], last: int) -> bool:
        committed = final.get(key, -1)
        if committed <= last:
            return True
        offsets = records.get((key[1], key[2]), [])
        return bisect_left(offsets, committed) > bisect_left(offsets, last + 1)  # records skipped over

    return sum(1 for key, last in done.items() if wrong(key, last))


def client_takeovers(ix: Index) -> list[float]:
    """For each ``kill-client``: seconds until another member of its group was assigned a
    partition the killed member held. A killed consumer sends no LeaveGroup, so this is
    the group's session timeout at work (a hung one would wait for max.poll.interval.ms)."""
    out = []
    for f in ix.faults:
        if f.name != "kill-client" or f.phase != "start":
            continue
        held: set[tuple[str, int]] = set()
        group = None
        for ev in ix.rebalances:
            if ev.reader == f.target and ev.t <= f.t:
                group = ev.group
                parts = {tuple(p) for p in ev.partitions}
                held = held | parts if type(ev) is Assign else held - parts
        later = [
            ev.t
            for ev in ix.rebalances
            if type(ev) is Assign
            and ev.t > f.t
            and ev.group == group
            and ev.reader != f.target
            and held & {tuple(p) for p in ev.partitions}
        ]
        if held and later:
            out.append(round(min(later) - f.t, 3))
    return out


def timelines(ix: Index) -> dict[str, Any]:
    """What the report plots: per-second throughput and latency, unavailability windows,
    leader/ISR changes, rebalance pauses, the segment files seen, what steps measured
    (with the errors and settings behind each number) and the first roots that break
    the pattern invariant."""
    return {
        "throughput": throughput_timeline(ix),
        "latency": latency_timeline(ix),
        "unavailability": unavailability(ix),
        "leaders": replication.leader_timeline(ix),
        "rebalance_pauses": rebalance_pauses(ix),
        "rebalance_steps": rebalance_steps(ix),
        "disk": [msgspec.to_builtins(e) for e in ix.other if isinstance(e, Segments)],
        "lag": lag_timeline(ix),
        "measured": [msgspec.to_builtins(e) for e in ix.other if isinstance(e, Measured)],
        "pattern_violations": {k: v[:5] for k, v in patterns.violations(ix).items() if v},
    }
