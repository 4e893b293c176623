"""Reading a partition's files: DumpLogSegments' output parsed, the files chosen to decode,
and the on-disk measurements, on real tool output captured from Kafka 4.4."""

from __future__ import annotations

from kchaos.checker.index import build
from kchaos.checker.measurements import on_disk
from kchaos.disk import dump_class, parse_dump, to_decode
from kchaos.events import Segments, base_offset

DUMP = """Dumping /data/t-0/00000000000000000050.log
Log starting offset: 50
baseOffset: 50 lastOffset: 51 count: 2 baseSequence: 50 lastSequence: 51 producerId: 0 producerEpoch: 0
| offset: 50 CreateTime: 1795754566039 keySize: 2 valueSize: 100 sequence: 50 headerKeys: [] key: k0 payload: v
| offset: 51 CreateTime: 1795754566039 keySize: 2 valueSize: 100 sequence: 51 headerKeys: [] key: k1 payload: v
Dumping /data/t-0/00000000000000000050.index
offset: 149 position: 5651
offset: 199 position: 11302
Dumping /data/t-0/00000000000000000050.timeindex
timestamp: 1795754566204 offset: 149
Dumping /data/t-0/00000000000000000500.snapshot
producerId: 0 producerEpoch: 0 coordinatorEpoch: -1 lastSequence: 499 lastOffset: 499
"""


def files(*names: str) -> list[dict]:
    return [{"name": n, "size": 1} for n in names]


def test_parse_dump_counts_each_kind():
    d = parse_dump(DUMP)
    assert d["00000000000000000050.log"]["batches"] == 1 and d["00000000000000000050.log"]["records"] == 2
    assert d["00000000000000000050.index"]["entries"] == 2
    assert d["00000000000000000050.timeindex"]["entries"] == 1
    assert d["00000000000000000500.snapshot"]["entries"] == 1
    assert d["00000000000000000050.index"]["excerpt"][0] == "offset: 149 position: 5651"


def test_the_oldest_closed_segment_is_decoded_not_the_active_one():
    names = files(
        *(f"{b:020d}.{k}" for b in (0, 40, 90) for k in ("log", "index", "timeindex")),
        f"{40:020d}.snapshot",
        f"{90:020d}.snapshot",
        "leader-epoch-checkpoint",
    )
    assert to_decode(names) == [f"{0:020d}.{k}" for k in ("log", "index", "timeindex")] + [f"{40:020d}.snapshot"]
    assert to_decode(files("partition.metadata")) == []
    assert base_offset("00000000000000000050.log") == 50 and base_offset("leader-epoch-checkpoint") is None
    assert base_offset("00000000000000000050.log.deleted") == 50


def test_on_disk_measures_retention_from_the_first_and_last_look():
    kinds = ("log", "index", "timeindex", "snapshot")
    before = Segments("before", 1, "t", 0, 1.0, files=files(*(f"{b:020d}.{k}" for b in (0, 40, 90) for k in kinds)))
    before.decoded = parse_dump(DUMP)
    after = Segments("after", 1, "t", 0, 9.0, files=files(f"{0:020d}.log.deleted", f"{90:020d}.log"))
    m = on_disk(build([before, after]))
    assert m["segments_first"] == 3 and m["segments_last"] == 1 and m["segments_deleted"] == 2
    assert m["log_start_offset"] == 90 and m["segment_file_kinds"] == 4
    assert m["records_decoded"] == 2 and m["index_entries"] == 2 and m["timeindex_entries"] == 1
    # Nothing deleted: the retention numbers say so.
    m = on_disk(build([before, before]))
    assert m["segments_deleted"] == 0 and m["log_start_offset"] == 0
    assert on_disk(build([])) == {}


def test_dump_class_moved_in_kafka_4():
    assert dump_class("4.4.0") == "org.apache.kafka.tools.DumpLogSegments"
    assert dump_class("3.9.1") == "kafka.tools.DumpLogSegments"


def test_an_active_segment_alone_is_decoded_without_its_indexes():
    """The active segment's indexes are written while DumpLogSegments reads them."""
    names = files(*(f"{0:020d}.{k}" for k in ("log", "index", "timeindex")), "leader-epoch-checkpoint")
    assert to_decode(names) == [f"{0:020d}.log"]
