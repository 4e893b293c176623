"""The history: one JSON object per line, appended and flushed as it happens.

The format is public and stable (DESIGN.md). Writers in several threads or processes
share one file: each event is one ``os.write`` of one whole line to a descriptor opened
with ``O_APPEND``, so lines never interleave and a crash of the harness loses nothing
that was written. Times are seconds since the run's start on CLOCK_MONOTONIC, which is
one clock for every process on the machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import orjson

from kchaos.errors import HistoryError
from kchaos.events import DECODER, SEND_STATUSES, Event, Send

REQUIRED: dict[str, frozenset[str]] = {
    "send": frozenset({"id", "producer", "seq", "key", "topic", "status", "t0", "t1"}),
    "read": frozenset({"reader", "group", "topic", "partition", "offset", "id", "key", "t"}),
    "txn": frozenset({"txn", "producer", "status", "t"}),
    "commit": frozenset({"reader", "group", "topic", "partition", "offset", "status", "t"}),
    "assign": frozenset({"reader", "group", "partitions", "t"}),
    "revoke": frozenset({"reader", "group", "partitions", "t"}),
    "lost": frozenset({"reader", "group", "partitions", "t"}),
    "fault": frozenset({"name", "target", "phase", "t"}),
    "drain": frozenset({"reader", "topic", "partition", "end_offset", "t"}),
}
SEND_OK_REQUIRED = frozenset({"partition", "offset"})


class HistoryWriter:
    """Appends events to a history file; safe to share between threads and processes."""

    def __init__(self, path: Path, start: float | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.start = time.monotonic() if start is None else start
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def now(self) -> float:
        """Seconds since the run's start (the history's clock)."""
        return round(time.monotonic() - self.start, 6)

    def write(self, event: dict[str, Any]) -> None:
        """Append one event as one line in one system call."""
        os.write(self._fd, orjson.dumps(event) + b"\n")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def validate(event: Any, where: str) -> dict[str, Any]:
    """Check one parsed line against the format; unknown ops and fields pass untouched."""
    if not isinstance(event, dict):
        raise HistoryError(f"{where}: expected a JSON object, got {type(event).__name__}")
    op = event.get("op")
    if op is None:
        raise HistoryError(f"{where}: missing field 'op'")
    required = REQUIRED.get(op)
    if required is None:
        return event
    missing = required - event.keys()
    if op == "send":
        status = event.get("status")
        if status not in SEND_STATUSES:
            raise HistoryError(f"{where}: send status={status!r}, expected ok, fail or unknown")
        if status == "ok":
            missing |= SEND_OK_REQUIRED - event.keys()
    if missing:
        raise HistoryError(f"{where}: missing field {', '.join(repr(m) for m in sorted(missing))} for op {op!r}")
    return event


def read_history(path: Path) -> Iterator[dict[str, Any]]:
    """Stream a history's events as dicts, validated; errors name the file and line."""
    for lineno, event in _numbered(Path(path)):
        yield validate(event, f"{path}: line {lineno}")


def _numbered(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        handle = open(path, "rb")
    except OSError as err:
        raise HistoryError(f"{path}: cannot read ({err.strerror})") from None
    with handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield lineno, orjson.loads(line)
            except orjson.JSONDecodeError:
                hint = " (truncated last line?)" if not line.endswith(b"\n") else ""
                raise HistoryError(f"{path}: line {lineno}: not valid JSON{hint}") from None


def load(path: Path) -> list[Any]:
    """Every event of a history as typed Structs (``kchaos.events``), validated.

    The fast path decodes the whole file in one msgspec call. When that fails (a bad
    line, or an op kchaos does not know, which readers must ignore), the slow path goes
    line by line to skip unknown ops and to name the exact line that is wrong.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise HistoryError(f"{path}: cannot read ({err.strerror})") from None
    try:
        events = DECODER.decode_lines(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _load_slowly(path)
    if not _sends_valid(events) or (data and not data.endswith(b"\n")):
        return _load_slowly(path)
    return events


def _sends_valid(events: list[Any]) -> bool:
    for e in events:
        if type(e) is Send and (
            e.status not in SEND_STATUSES or (e.status == "ok" and (e.partition is None or e.offset is None))
        ):
            return False
    return True


def _load_slowly(path: Path) -> list[Any]:
    out = []
    for lineno, raw in _numbered(path):
        where = f"{path}: line {lineno}"
        event = validate(raw, where)
        if event["op"] not in REQUIRED and event["op"] not in ("phase", "leader", "lag", "client", "segments"):
            continue
        try:
            out.append(msgspec.convert(event, Event))
        except msgspec.ValidationError as err:
            raise HistoryError(f"{where}: {err}") from None
    return out
