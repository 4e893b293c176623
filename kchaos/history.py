"""The history: one JSON object per line, appended and flushed as it happens.

The format is public and stable (``docs/history.md``; ``kchaos.events`` in code). Writers in several threads or processes
share one file: each ``os.write`` carries whole lines (one event, or the events one
client call delivered) to a descriptor opened with ``O_APPEND``, so lines never
interleave, and nothing waits in a buffer past the client call that made it. Times are seconds since the run's start on CLOCK_MONOTONIC, which is
one clock for every process on the machine.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import orjson

from kchaos.errors import HistoryError
from kchaos.events import DECODER, ENCODER, OPS, Send


class HistoryWriter:
    """Appends events to a history file; safe to share between threads and processes."""

    def __init__(self, path: Path, start: float | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.start = time.monotonic() if start is None else start
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def now(self) -> float:
        """Seconds since the run's start (the history's clock), to the microsecond
        (truncated: floor division is cheaper than ``round`` on a path taken per record)."""
        return (time.monotonic() - self.start) * 1e6 // 1 / 1e6

    def write(self, event: Any) -> None:
        """Append one event (a ``kchaos.events`` value) as one line in one system call."""
        line = ENCODER.encode(event) if isinstance(event, msgspec.Struct) else orjson.dumps(event)
        os.write(self._fd, line + b"\n")

    def write_events(self, events: list[Any]) -> None:
        """Append several events (``kchaos.events`` values) in one system call: a client
        that got many acks in one poll writes them together; lines still never interleave."""
        data = ENCODER.encode_lines(events)
        written = os.write(self._fd, data)
        while written < len(data):  # a regular file takes it whole unless the disk is full
            written += os.write(self._fd, data[written:])

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_history(path: Path) -> Iterator[dict[str, Any]]:
    """Stream a history's events as plain dicts, each checked against the format."""
    for event in load(path):
        yield msgspec.to_builtins(event)


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
    if data and not data.endswith(b"\n"):
        return _load_slowly(path)
    if any(type(e) is Send and e.problem() for e in events):
        return _load_slowly(path)  # to name the line
    return events


def _load_slowly(path: Path) -> list[Any]:
    """Line by line: skips ops kchaos does not know, names the first line that is wrong."""
    out = []
    for lineno, raw in _numbered(path):
        where = f"{path}: line {lineno}"
        if not isinstance(raw, dict):
            raise HistoryError(f"{where}: expected a JSON object, got {type(raw).__name__}")
        op = raw.get("op")
        if op is None:
            raise HistoryError(f"{where}: missing field 'op'")
        cls = OPS.get(op)
        if cls is None:
            continue
        try:
            event = msgspec.convert(raw, cls)
        except msgspec.ValidationError as err:
            raise HistoryError(f"{where}: op {op!r}: {_explain(err)}") from None
        problem = event.problem() if isinstance(event, Send) else None
        if problem:
            raise HistoryError(f"{where}: op {op!r}: {problem}")
        out.append(event)
    return out


def _explain(err: msgspec.ValidationError) -> str:
    """msgspec's message in the history's words: ``Object missing required field `t```
    -> ``missing field 't'``; a path ``$.key`` -> field 'key'."""
    text = str(err)
    missing = re.match(r"Object missing required field `(\w+)`", text)
    if missing:
        return f"missing field {missing.group(1)!r}"
    at = re.search(r" - at `\$\.?([^`]*)`$", text)
    if at:
        return f"field {at.group(1)!r}: {text[: at.start()]}"
    return text
