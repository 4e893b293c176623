"""Typed history events: the history format in code, written down once.

Writers build these values (``HistoryWriter.write``) and readers decode straight into
them (``history.load``), so the format has one definition: required fields have no
default, optional ones do, unknown fields are ignored, and every type (a send's status,
a key, a partition list) is checked by msgspec while it decodes. ``docs/history.md`` is
the same table in prose. Ops marked "kchaos' own" are not part of the public format's
required core: other tools need not write them, and readers ignore what they do not know.
"""

from __future__ import annotations

from typing import Any, Literal, Union

import msgspec

Key = Union[str, int, float, bool, None]  # noqa: UP007 - a record key as JSON can carry it
Isolation = Literal["read_committed", "read_uncommitted"]


#: The id suffix of a record a broker copied into a share group's dead-letter queue
#: (KIP-1191): the copy has the root's value but is not the root (``record_id``).
BROKER_COPY = "@dlq"


class _Event(msgspec.Struct, tag_field="op", omit_defaults=True):
    """Base of every event: tagged by ``op``; defaults are left out when written."""


class Send(_Event, tag="send", gc=False):  # plain values only: never in a cycle
    """The final outcome of one produce. ``unknown``: it may or may not be in the log."""

    id: str
    producer: str
    seq: int
    key: Key
    topic: str
    status: Literal["ok", "fail", "unknown"]
    t0: float
    t1: float
    partition: int | None = None
    offset: int | None = None
    txn: str | None = None
    error: str | None = None  # kchaos' own: the client's error name when not ok
    input: str | None = None  # a pipeline's output: the id of the input record it came from
    # kchaos' own: a copy of an earlier record (a retry, a dead letter, a replay): the id of
    # the first record of its line (the root). Not an output: the pipeline checks ignore it.
    origin: str | None = None
    t0_known: bool = True  # false: the client reported only the ack (t0 = t1; no latency)

    def problem(self) -> str | None:
        """What is wrong with it that its types cannot say (checked by the history's readers,
        not at construction: the recording producer builds one per acknowledged record)."""
        if self.status == "ok" and (self.partition is None or self.offset is None):
            return "a send with status 'ok' needs 'partition' and 'offset'"
        return None


class Read(_Event, tag="read"):
    """One record delivered to a consumer (``group`` null: a drain reader)."""

    reader: str
    group: str | None
    topic: str
    partition: int
    offset: int
    id: str
    key: Key
    t: float
    isolation: Isolation | None = None
    leader_epoch: int | None = None
    input: str | None = None  # the input id a pipeline's output record carries

    @property
    def committed_only(self) -> bool:
        """Consumers default to read_committed; only an explicit read_uncommitted sees aborted data."""
        return self.isolation != "read_uncommitted"


class Txn(_Event, tag="txn"):
    """The outcome of one producer transaction as the client learned it; ``t0`` (optional)
    is when the commit or abort was begun."""

    txn: str
    producer: str
    status: Literal["commit", "abort", "unknown"]
    t: float
    t0: float | None = None


class Commit(_Event, tag="commit"):
    """An offset commit (``offset`` = the next record to read); ``status`` is ``ok`` or
    the error's name."""

    reader: str
    group: str
    topic: str
    partition: int
    offset: int
    status: str
    t: float


class Process(_Event, tag="process"):
    """Processing of one delivered record finished (delivered is not processed: a crash
    between the two is where at-most-once loses). ``output``: the id it produced."""

    reader: str
    group: str | None
    topic: str
    partition: int
    offset: int
    id: str
    outcome: str
    t: float
    output: str | None = None


class Assign(_Event, tag="assign"):
    """A rebalance callback: partitions as ``[[topic, partition], ...]``."""

    reader: str
    group: str | None
    partitions: list[tuple[str, int]]
    t: float
    generation: int | None = None


class Revoke(Assign, tag="revoke"):
    pass


class Lost(Assign, tag="lost"):
    pass


class Seek(_Event, tag="seek"):
    """kchaos' own: a consumer moved its position itself (a batch rewound after a failure,
    a retry copy not yet due): a read at or below an earlier one after it is no anomaly."""

    reader: str
    group: str | None
    topic: str
    partition: int
    offset: int
    t: float


class Fault(_Event, tag="fault"):
    """A nemesis action began (``start``) or was undone (``end``)."""

    name: str
    target: Any
    phase: Literal["start", "end"]
    t: float
    args: dict[str, Any] | None = None


class Drain(_Event, tag="drain"):
    """A drain reader reached ``end_offset`` (the high watermark). ``start_offset``: the
    log start offset asked when the reader reached the end, so after it was positioned
    (above 0 once retention or DeleteRecords removed the oldest records; asked late, it
    can only be higher, which never fakes a loss); ``isolation`` absent: read_committed."""

    reader: str
    topic: str
    partition: int
    end_offset: int
    t: float
    start_offset: int = 0
    isolation: Isolation | None = None


class Stall(_Event, tag="stall"):
    """kchaos' own: a drain reader gave up below the end (``position`` < ``end_offset``),
    e.g. a read_committed reader held at a last stable offset by a hanging transaction."""

    reader: str
    topic: str
    partition: int
    position: int
    end_offset: int
    t: float
    isolation: Isolation | None = None


class Meta(_Event, tag="meta"):
    """kchaos' own: facts about the run the checker needs (the largest
    ``transaction.timeout.ms`` of its producers, and the brokers'
    ``transaction.abort.timed.out.transaction.cleanup.interval.ms``, in seconds)."""

    t: float
    txn_timeout_s: float | None = None
    txn_abort_cleanup_s: float | None = None
    experiment: str | None = None
    variant: str | None = None
    # A pattern's topics (``kchaos.patterns``): {"group", "input", "retry": [...], "dead_letter"},
    # what the "processed once or dead-lettered" check needs to know of the topology.
    pattern: dict[str, Any] | None = None
    # The workload's consumer groups: group id -> the name the experiment file gives it
    # (``g0``, ``pipe``, ``pattern``, ``reader:NAME``), so measurements are named as the file names them.
    groups: dict[str, str] | None = None


class Phase(_Event, tag="phase"):
    """kchaos' own: the run entered a phase (steady, fault, heal, recovery, drain)."""

    name: str
    t: float


class Leader(_Event, tag="leader"):
    """kchaos' own: a poll of one partition's leader and ISR from the Admin API."""

    topic: str
    partition: int
    leader: int
    isr: list[int]
    t: float


class Lag(_Event, tag="lag"):
    """kchaos' own: a consumer group's lag on one partition (the log end minus the
    group's committed offset, both from the Admin API; -1 committed: nothing yet)."""

    group: str
    topic: str
    partition: int
    lag: int
    t: float
    committed: int | None = None
    end: int | None = None


class Group(_Event, tag="group"):
    """kchaos' own: a consumer group as the Admin API describes it, at each change:
    its state, and each member (client id) with the partitions it holds."""

    group: str
    state: str
    members: list[tuple[str, int]]
    t: float
    protocol: str | None = None


class Client(_Event, tag="client"):
    """kchaos' own: something that happened to a client (a fatal error, a crash, a zombie fenced)."""

    producer: str
    event: str
    t: float
    error: str | None = None
    detail: str | None = None
    txn: str | None = None


class Segments(_Event, tag="segments"):
    """kchaos' own: the files of one partition on one node, some decoded (``inspect-log``)."""

    label: str
    node: int
    topic: str
    partition: int
    t: float
    folder: str = ""
    files: list[dict[str, Any]] = msgspec.field(default_factory=list)
    decoded: dict[str, Any] = msgspec.field(default_factory=dict)

    def bases(self) -> list[int]:
        """Base offsets of the ``.log`` segments, oldest first."""
        return segment_bases(self.files)


def base_offset(name: str) -> int | None:
    """The base offset in a segment file's name (``00000000000000000050.log`` -> 50)."""
    stem, dot, _ = name.partition(".")
    return int(stem) if dot and len(stem) == 20 and stem.isdigit() else None


def segment_bases(files: list[dict[str, Any]]) -> list[int]:
    """Base offsets of the ``.log`` segments among ``files`` (dicts with ``name``), oldest first."""
    return sorted(b for f in files if f["name"].endswith(".log") and (b := base_offset(f["name"])) is not None)


class Effect(_Event, tag="effect"):
    """kchaos' own: one row a pipeline wrote to a store outside Kafka (its side effect),
    read from the store after the workers stopped: the store is the record of truth."""

    store: str
    input: str
    worker: str
    t: float


class Stats(_Event, tag="stats"):
    """kchaos' own: one librdkafka statistics report of a client (``statistics.interval.ms``),
    cut down to what the measurements use. Counters run from the client's start; the
    batch and latency figures cover the report's interval. Times in ms."""

    client: str
    role: Literal["producer", "consumer"]
    t: float
    msgs: int  # records sent (txmsgs) or received (rxmsgs)
    msg_bytes: int  # their bytes (txmsg_bytes / rxmsg_bytes)
    requests: int  # Produce requests (a producer's) or Fetch requests (a consumer's), summed over brokers
    batch_records: float | None = None  # records per produce batch (batchcnt avg over topics)
    batch_bytes: float | None = None  # bytes per produce batch (batchsize avg)
    rtt_ms_p50: float | None = None  # broker round trip, mean over brokers of their p50
    rtt_ms_p99: float | None = None
    queue_ms_p50: float | None = None  # time a record waited in the client (int_latency)
    queue_ms_p99: float | None = None
    instance: str | None = None  # librdkafka's handle name: a replaced client's counters start again


class Perf(_Event, tag="perf"):
    """kchaos' own: what Kafka's ``ProducerPerformance`` (kafka-producer-perf-test) reported
    for the window it ran in (its final line), run by the ``perf-test`` step."""

    t: float
    topic: str
    records: int
    records_per_s: float
    mb_per_s: float
    latency_ms_avg: float
    latency_ms_p50: float
    latency_ms_p99: float
    seconds: float
    config: dict[str, Any] = {}


class Measured(_Event, tag="measured"):
    """kchaos' own: a number a step measured directly (a round trip, a refused record's
    size), named, with its unit and the error or setting that explains it."""

    t: float
    name: str
    value: float
    unit: str
    detail: str | None = None


EVENT_TYPES = (
    Send,
    Read,
    Txn,
    Commit,
    Process,
    Assign,
    Revoke,
    Lost,
    Seek,
    Fault,
    Drain,
    Stall,
    Meta,
    Phase,
    Leader,
    Lag,
    Group,
    Client,
    Segments,
    Effect,
    Stats,
    Perf,
    Measured,
)
Event = Union[EVENT_TYPES]  # type: ignore[valid-type]  # noqa: UP007
#: op -> its Struct: the ops kchaos knows (any other op is skipped by readers).
OPS: dict[str, type] = {cls.__struct_config__.tag: cls for cls in EVENT_TYPES}
#: The ops of the public format's core (``docs/history.md``); the rest are kchaos' own.
CORE_OPS = ("send", "read", "txn", "commit", "process", "assign", "revoke", "lost", "fault", "drain")
DECODER = msgspec.json.Decoder(Event)
ENCODER = msgspec.json.Encoder()


def to_struct(event: dict[str, Any]) -> Any:
    """A dict as its Struct (None for an op kchaos does not know or a dict that does not fit)."""
    try:
        struct = msgspec.convert(event, Event)
    except msgspec.ValidationError:
        return None
    return None if isinstance(struct, Send) and struct.problem() else struct
