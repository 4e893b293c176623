"""The design-pattern experiments (6.1-6.5), quick mode, on the real cluster. Each test
asserts on the run's summary.json, and where the question is "nothing lost", checks the
history itself record by record with the pattern invariant's own function."""

from __future__ import annotations

from kchaos.checker.index import build
from kchaos.checker.patterns import processed_once_or_dead_lettered, roots_and_copies, topology
from kchaos.history import load
from tests.integration.test_experiments import run, variant, zero

RECORD_KINDS = ["lost", "duplicate", "reordered", "phantom", "failed-visible", "nonmonotonic-poll", "skipped"]


def invariant_from_history(run_dir, v: dict) -> dict[str, list[str]]:
    """The invariant recomputed from the variant's history file, over the inputs the
    summary counted (the check judged every one of them)."""
    ix = build(load(run_dir / v["history"]))
    where = topology(ix)
    roots, _ = roots_and_copies(ix, where)
    assert len(roots) == v["measurements"]["pattern_inputs"] > 1000, "the check judged another set of inputs"
    return processed_once_or_dead_lettered(ix, where)


def test_retry_architecture_blocking_keeps_order_topics_keep_latency_nothing_lost(healthy, tmp_path):
    s = run(healthy, "retry-architecture", tmp_path)
    assert s["verdict"] == "PASS", s
    run_dir = next(tmp_path.glob("*-retry-architecture"))
    blocking = variant(s, "blocking retries (in place, 100 ms backoff)")
    topics = variant(s, "retry topics (retry-1s, retry-3s)")
    for v in (blocking, topics):
        zero(v, RECORD_KINDS)
        found = invariant_from_history(run_dir, v)
        assert found == {k: [] for k in found}, {k: r[:5] for k, r in found.items() if r}
        m = v["measurements"]
        assert m["pattern_retried"] >= 1 and m["pattern_dead_lettered"] >= 1
        assert m["pattern_duplicates_skipped"] >= 1, "the killed worker's batch was re-delivered"
    b, t = blocking["measurements"], topics["measurements"]
    assert b["keys_reordered_by_processing"] == 0 and t["keys_reordered_by_processing"] >= 1
    assert b["healthy_latency_ms"]["p99"] > t["healthy_latency_ms"]["p99"], "blocking retries hold the partition"


def test_ordering_vs_scaling_shows_which_change_breaks_order(healthy, tmp_path):
    s = run(healthy, "ordering-vs-scaling", tmp_path)
    assert s["verdict"] == "PASS", s
    one = variant(s, "one consumer, one thread")["measurements"]
    keyed = variant(s, "4 threads per consumer, one key on one thread")["measurements"]
    dealt = variant(s, "4 threads per consumer, records dealt in turn")["measurements"]
    mixed = variant(s, "a Python (CRC32) and a Java (murmur2) producer")["measurements"]
    assert one["keys_reordered_by_processing"] == keyed["keys_reordered_by_processing"] == 0
    assert dealt["keys_reordered_by_processing"] >= 1
    assert keyed["pattern_throughput_per_s"] > 1.3 * one["pattern_throughput_per_s"], "threads must buy throughput"
    assert mixed["keys_split"] >= 1 and one["keys_split"] == 0
    for v in s["variants"]:
        zero(v, ["lost", "duplicate", "reordered", "phantom", "skipped"])
        assert v["measurements"]["pattern_unfinished"] == 0


def test_dead_letter_topic_routes_once_with_provenance_and_replays(healthy, tmp_path):
    s = run(healthy, "dead-letter-topic", tmp_path)
    assert s["verdict"] == "PASS", s
    run_dir = next(tmp_path.glob("*-dead-letter-topic"))
    kept = variant(s, "the router remembers what it finished (dedupe)")
    zero(kept, RECORD_KINDS)
    found = invariant_from_history(run_dir, kept)
    assert found == {k: [] for k in found}, {k: r[:5] for k, r in found.items() if r}
    m = kept["measurements"]
    assert m["pattern_dead_lettered"] >= 1 and m["dead_letters_replayed"] >= 1
    assert m["dead_letters_with_provenance"] == m["dead_letters_replayed"]
    assert m["pattern_replayed"] >= 1
    assert m["dead_letters_with_error_class"] == m["dead_letters_replayed"]
    forgot = variant(s, "no record of what was finished")
    assert invariant_from_history(run_dir, forgot)["processed-twice"], "a crash re-delivers a processed batch"
    # Kafka's share group: the broker's queue says where a record was read, not why it failed.
    # Nothing is lost; a record can be processed twice (acknowledgements the broker did not
    # take while its leader was down come back after their lock): reported, not asserted.
    shared = variant(s, "Kafka's share group and its broker-side dead-letter queue (KIP-932, KIP-1191)")
    found = invariant_from_history(run_dir, shared)
    assert found["unfinished"] == [], found["unfinished"][:5]
    m = shared["measurements"]
    assert m["pattern_dead_lettered"] >= 1 and m["dead_letters_replayed"] >= 1 and m["pattern_replayed"] >= 1
    assert m["dead_letters_with_origin"] == m["dead_letters_replayed"] and m["dead_letters_with_error_class"] == 0
    zero(shared, ["lost", "phantom", "failed-visible"])


def test_schema_evolution_breaking_changes_break_the_old_consumer_compatible_ones_do_not(healthy, tmp_path):
    s = run(healthy, "schema-evolution", tmp_path)
    assert s["verdict"] == "PASS", s
    none = variant(s, "registry compatibility NONE")["measurements"]
    backward = variant(s, "registry compatibility BACKWARD (the default)")["measurements"]
    full = variant(s, "registry compatibility FULL")["measurements"]
    # v1 and v2 (a field added with a default) decode for the old reader; v3 (a field
    # removed that had no default) is the first version that breaks it.
    assert none["first_broken_version"]["old"] == 3 and none["decoded"]["old"] >= 1
    assert none["decode_failed"]["old"] >= 1 and none["schema_versions_registered"] == 4
    # BACKWARD takes v3 (it protects readers of the new schema only) and refuses v4.
    assert backward["schema_versions_refused"] == 1 and backward["first_broken_version"]["old"] == 3
    # FULL refuses both breaking versions: nobody breaks.
    assert full["schema_versions_refused"] == 2 and full["decode_failed"] == {"old": 0, "new": 0}
    for v in s["variants"]:
        zero(v, ["lost", "duplicate", "reordered", "phantom", "skipped"])


def test_when_not_kafka_measures_each_misfit(healthy, tmp_path):
    s = run(healthy, "when-not-kafka", tmp_path)
    assert s["verdict"] == "PASS", s
    v = s["variants"][0]
    m = v["measurements"]
    assert m["request_reply_kafka_p50_ms"] > 10 * m["request_reply_direct_p50_ms"], "a direct call is far quicker"
    assert m["request_reply_timeouts"] == 0
    assert m["oversized_refused_by_client"] == 1 and m["oversized_refused_by_broker"] == 1
    run_dir = next(tmp_path.glob("*-when-not-kafka"))
    refusals = [line for line in (run_dir / v["history"]).read_text().splitlines() if '"oversized_refused_by' in line]
    assert len(refusals) == 2 and all("MSG_SIZE_TOO_LARGE" in line for line in refusals), refusals
    assert "MSG_SIZE_TOO_LARGE" in (run_dir / "report.md").read_text(), "the report shows the error"
    assert m["delete_records_collateral"] == 500, "deleting offset 500 takes the 500 records before it"
    assert m["compaction_delete_s"] is not None and m["compaction_delete_s"] > 0
    assert m["priority_topic_ms"] * 5 < m["priority_behind_backlog_ms"], "a lane of its own skips the backlog"
    assert m["priority_topic_same_consumer_ms"] > m["priority_topic_ms"]
