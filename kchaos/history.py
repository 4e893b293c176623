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
from kchaos.events import DECODER, ENCODER, OPS, Fault, Meta, Perf, Segments, Send


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


#: Ops with fields of any JSON value, and those fields.
_FREE_FORM: dict[type, tuple[str, ...]] = {
    Fault: ("target", "args"),
    Meta: ("pattern",),
    Segments: ("files", "decoded"),
    Perf: ("config",),
}


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
            except orjson.JSONDecodeError as err:
                hint = " (truncated last line?)" if not line.endswith(b"\n") else ""
                if "depth" in str(err):
                    hint = f" (nested deeper than {MAX_DEPTH} levels)"
                raise HistoryError(f"{path}: line {lineno}: not valid JSON{hint}") from None


#: A history of a long nightly run is a few hundred MB; beyond this it is not one.
MAX_HISTORY_BYTES = 4 * 1024**3


def _read_regular(path: Path) -> bytes:
    """The bytes of a regular file: a FIFO would hang and /dev/zero never end (one line)."""
    import stat

    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise HistoryError(f"{path}: not a regular file (a history is a .jsonl file, not a FIFO, device or folder)")
        if info.st_size > MAX_HISTORY_BYTES:
            raise HistoryError(f"{path}: {info.st_size} bytes is more than a history holds")
        return path.read_bytes()
    except OSError as err:
        raise HistoryError(f"{path}: cannot read ({err.strerror})") from None


def load(path: Path) -> list[Any]:
    """Every event of a history as typed Structs (``kchaos.events``), validated.

    The fast path decodes the whole file in one msgspec call. When that fails (a bad
    line, or an op kchaos does not know, which readers must ignore), the slow path goes
    line by line to skip unknown ops and to name the exact line that is wrong.
    """
    path = Path(path)
    data = _read_regular(path)
    try:
        events = DECODER.decode_lines(data)
    except Exception:  # noqa: BLE001 - any failure (a bad line, nesting too deep): find the line
        return _load_slowly(path)
    if data and not data.endswith(b"\n"):
        return _load_slowly(path)
    if any(type(e) is Send and e.problem() for e in events) or any(_free_form_problem(e) for e in _free_form(events)):
        return _load_slowly(path)  # to name the line
    return events


#: How deep a value of a free-form field (a fault's ``target`` and ``args``, ``meta``'s
#: ``pattern``, ...) may nest: deeper is refused at load, not met as a recursion later.
MAX_DEPTH = 32


def _free_form(events: list[Any]) -> Iterator[Any]:
    """The events with free-form fields (few: faults, meta, segments, perf)."""
    return (e for e in events if type(e) in _FREE_FORM)


def _free_form_problem(event: Any) -> str | None:
    """What is wrong with an event's free-form fields that their types cannot say: nesting
    deeper than ``MAX_DEPTH``, or a step's ``as`` or ``by`` name that is not a string."""
    for name in _FREE_FORM[type(event)]:
        if _too_deep(getattr(event, name), MAX_DEPTH):
            return f"field {name!r}: nested deeper than {MAX_DEPTH} levels"
    if type(event) is Fault and event.args:
        for name in ("as", "by"):
            if event.args.get(name) is not None and not isinstance(event.args[name], str):
                return f"field 'args.{name}': expected a string, got {type(event.args[name]).__name__}"
    return None


def _too_deep(value: Any, depth: int) -> bool:
    if depth < 0:
        return True
    if isinstance(value, dict):
        return any(_too_deep(v, depth - 1) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_too_deep(v, depth - 1) for v in value)
    return False


def _load_slowly(path: Path) -> list[Any]:
    """Line by line: skips ops kchaos does not know, names the first line that is wrong.
    Whatever goes wrong on a line is one error naming it, never a traceback."""
    out = []
    for lineno, raw in _numbered(path):
        where = f"{path}: line {lineno}"
        try:
            event = _event(raw)
        except HistoryError as err:
            raise HistoryError(f"{where}: {err}") from None
        except Exception as err:  # noqa: BLE001 - e.g. a value too deep to convert
            raise HistoryError(f"{where}: cannot be read ({type(err).__name__})") from None
        if event is not None:
            out.append(event)
    return out


def _event(raw: Any) -> Any:
    """One line's JSON value as its event (None: an op kchaos does not know)."""
    if not isinstance(raw, dict):
        raise HistoryError(f"expected a JSON object, got {type(raw).__name__}")
    op = raw.get("op")
    if op is None:
        raise HistoryError("missing field 'op'")
    if not isinstance(op, str):
        raise HistoryError(f"field 'op': expected a string, got {type(op).__name__}")
    cls = OPS.get(op)
    if cls is None:
        return None
    if cls in _FREE_FORM and _too_deep(raw, MAX_DEPTH + 1):
        raise HistoryError(f"op {op!r}: nested deeper than {MAX_DEPTH} levels")
    try:
        event = msgspec.convert(raw, cls)
    except msgspec.ValidationError as err:
        raise HistoryError(f"op {op!r}: {_explain(err)}") from None
    problem = event.problem() if isinstance(event, Send) else None
    if problem is None and type(event) in _FREE_FORM:
        problem = _free_form_problem(event)
    if problem:
        raise HistoryError(f"op {op!r}: {problem}")
    return event


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
