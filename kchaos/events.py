"""Typed history events, decoded straight from JSON by msgspec.

These Structs are the history format of DESIGN.md in code: required fields have no
default, optional ones do, and unknown fields are ignored. Decoding a whole file into
them is one C call that also checks every type, which is what lets ``kchaos check``
take a million-event history in a few seconds.
"""

from __future__ import annotations

from typing import Any, Union

import msgspec


class Send(msgspec.Struct, tag_field="op", tag="send"):
    id: str
    producer: str
    seq: int
    key: Any
    topic: str
    status: str
    t0: float
    t1: float
    partition: int | None = None
    offset: int | None = None
    txn: str | None = None
    error: str | None = None  # kchaos' own: the client's error name when not ok


class Read(msgspec.Struct, tag_field="op", tag="read"):
    reader: str
    group: str | None
    topic: str
    partition: int
    offset: int
    id: str
    key: Any
    t: float
    isolation: str | None = None
    leader_epoch: int | None = None
    epoch: int = 0  # set by the indexer: the reader's rebalance count before this read

    @property
    def committed_only(self) -> bool:
        """Consumers default to read_committed; only an explicit read_uncommitted sees aborted data."""
        return self.isolation != "read_uncommitted"


class Txn(msgspec.Struct, tag_field="op", tag="txn"):
    txn: str
    producer: str
    status: str
    t: float


class Commit(msgspec.Struct, tag_field="op", tag="commit"):
    reader: str
    group: str
    topic: str
    partition: int
    offset: int
    status: str
    t: float


class Assign(msgspec.Struct, tag_field="op", tag="assign"):
    reader: str
    group: str | None
    partitions: list[Any]
    t: float
    generation: int | None = None


class Revoke(Assign, tag="revoke"):
    pass


class Lost(Assign, tag="lost"):
    pass


class Fault(msgspec.Struct, tag_field="op", tag="fault"):
    name: str
    target: Any
    phase: str
    t: float


class Drain(msgspec.Struct, tag_field="op", tag="drain"):
    """A drain reader reached ``end_offset``; it started at ``start_offset``, the log start
    offset then (above 0 once retention or DeleteRecords removed the oldest records)."""

    reader: str
    topic: str
    partition: int
    end_offset: int
    t: float
    start_offset: int = 0


class Phase(msgspec.Struct, tag_field="op", tag="phase"):
    """kchaos' own: the run entered a phase (steady, fault, heal, recovery, drain)."""

    name: str
    t: float


class Leader(msgspec.Struct, tag_field="op", tag="leader"):
    """kchaos' own: a poll of one partition's leader and ISR from the Admin API."""

    topic: str
    partition: int
    leader: int
    isr: list[int]
    t: float


class Lag(msgspec.Struct, tag_field="op", tag="lag"):
    """kchaos' own: a consumer group's lag on one partition."""

    group: str
    topic: str
    partition: int
    lag: int
    t: float


class Client(msgspec.Struct, tag_field="op", tag="client"):
    """kchaos' own: something that happened to a client (a fatal error, a crash, a zombie fenced)."""

    producer: str
    event: str
    t: float
    error: str | None = None
    detail: str | None = None
    txn: str | None = None


class Segments(msgspec.Struct, tag_field="op", tag="segments"):
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


Event = Union[Send, Read, Txn, Commit, Assign, Revoke, Lost, Fault, Drain, Phase, Leader, Lag, Client, Segments]  # noqa: UP007
DECODER = msgspec.json.Decoder(Event)
SEND_STATUSES = frozenset({"ok", "fail", "unknown"})


def to_struct(event: dict[str, Any]) -> Any:
    """A validated dict as its Struct (None for an op kchaos does not know)."""
    try:
        return msgspec.convert(event, Event)
    except msgspec.ValidationError:
        return None
