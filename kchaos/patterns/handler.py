"""What a pattern worker hands a record to, and a handler that fails on purpose.

A handler is any callable ``handler(record: Record) -> None``. It returns when the record
is processed; it raises ``TransientError`` when trying again later may succeed (a
timeout, a service down for a while); anything else it raises is permanent (a poison
record: trying again fails the same way) and sends the record to the dead-letter topic at
once. That split is the one Spring Kafka and Kafka Connect make, and the one a retry
design turns on: retrying a permanent failure only delays the dead letter.

``FlakyHandler`` is the handler the experiments drive: which records fail is decided by a
hash of the record's root id, so every copy of a record (a retry, a replay) meets the
same fate and a run can be reasoned about afterwards.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Protocol


class TransientError(Exception):
    """A failure that may go away: the record is retried (in place or through a retry topic)."""


class PoisonRecord(Exception):
    """A record that fails every time it is processed: retrying does not help."""


@dataclass
class Record:
    """One record as a handler sees it. ``root``: the id of the record this one copies (a
    retry copy, a replay; itself for an original). ``attempt``: 1 on the first try."""

    id: str
    root: str
    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int
    attempt: int = 1
    replay: int = 0
    headers: dict[str, bytes] = field(default_factory=dict)


class Handler(Protocol):
    def __call__(self, record: Record) -> Any: ...


@dataclass
class FlakyHandler:
    """A handler with failures chosen by the record's root id.

    ``transient``: the share of records that fail with ``TransientError`` on their first
    ``transient_failures`` attempts and then succeed. ``poison``: the share that fail on
    every attempt (``PoisonRecord``). ``strict_utf8``: the value must decode as UTF-8 (a
    corrupted value is undecodable: ``UnicodeDecodeError``). ``fixed``: the version with
    the fix deployed (the ``deploy-fix`` step): poison records are accepted and values
    decoded leniently. ``processing_ms``: the work each record takes.
    """

    transient: float = 0.0
    transient_failures: int = 2
    poison: float = 0.0
    strict_utf8: bool = False
    fixed: bool = False
    processing_ms: float = 0.0

    def __call__(self, record: Record) -> None:
        fixed = self.fixed
        if self.strict_utf8 and not fixed:
            (record.value or b"").decode("utf-8")  # raises UnicodeDecodeError on a corrupted value
        band = _band(record.root)
        if band < self.transient and record.attempt <= self.transient_failures:
            raise TransientError(f"attempt {record.attempt}: the downstream service timed out")
        if self.transient <= band < self.transient + self.poison and not fixed:
            raise PoisonRecord("the record's content is refused by the business rule")
        if self.processing_ms:
            time.sleep(self.processing_ms / 1000)


def _band(root: str) -> float:
    """Where a root id falls in [0, 1): the same for every copy of the record."""
    return (zlib.crc32(root.encode()) % 10_000) / 10_000


def failure_kind(exc: BaseException) -> str:
    """A short name for why a record failed (the dead letter's ``dlt.error`` header)."""
    return type(exc).__name__
