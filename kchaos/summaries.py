"""Run and suite folders given on the command line (``report --compare``, ``book``),
checked before the report code reads them: each ``summary.json`` a regular file of
bounded size holding a JSON object, a suite's ``report`` links inside the suite folder.
Whatever else is wrong in them becomes one line naming the folder (``guard``), never a
traceback: these folders may be copied, half-written or hand-edited.
"""

from __future__ import annotations

import contextlib
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kchaos.errors import BadInput
from kchaos.safety import printable

#: A suite of thirty experiments writes a summary of a few hundred KB.
MAX_SUMMARY = 64 * 1024 * 1024
#: What malformed content raises inside the report code (missing keys, wrong types).
SHAPE_ERRORS = (KeyError, IndexError, TypeError, AttributeError, ValueError, RecursionError, OSError)


def read_summary(path: Path) -> dict[str, Any]:
    """A summary.json as a dict; BadInput (one line naming it) for anything else."""
    try:
        info = path.stat()
    except OSError as err:
        raise BadInput(f"{path}: cannot read ({err.strerror})") from None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SUMMARY:
        raise BadInput(f"{path}: not a summary file (a regular file of at most {MAX_SUMMARY} bytes)")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8") from None
    except (ValueError, RecursionError) as err:
        raise BadInput(f"{path}: not valid JSON ({printable(str(err))[:120]})") from None
    except OSError as err:
        raise BadInput(f"{path}: cannot read ({err.strerror})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: a summary is a JSON object, not {type(data).__name__}")
    return data


def check_run_folder(folder: Path, what: str = "--compare") -> None:
    """A run or suite folder ``report --compare`` can read, checked to its last link."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"{what} {folder}: not a folder (give a run folder or a suite folder)")
    data = read_summary(folder / "summary.json")
    if not data.get("suite"):
        check_run(folder / "summary.json", data)
        return
    entries = data.get("experiments")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise BadInput(f"{folder / 'summary.json'}: a suite summary lists its 'experiments'")
    for e in entries:
        report = e.get("report")
        if not report:
            continue
        if Path(str(report)).is_absolute() or not Path(str(report)).name:
            raise BadInput(
                f"{folder / 'summary.json'}: report {printable(repr(report))} is not a path in the suite folder"
            )
        target = (folder / str(report)).with_name("summary.json")
        if not target.resolve().is_relative_to(folder.resolve()):
            raise BadInput(f"{folder / 'summary.json'}: report {printable(repr(report))} lies outside the suite folder")
        check_run(target, read_summary(target))


def check_run(path: Path, data: dict[str, Any]) -> None:
    """The parts of a run summary a comparison reads, with their types."""
    if not isinstance(data.get("experiment"), str) or not isinstance(data.get("verdict"), str):
        raise BadInput(f"{path}: no 'experiment' and 'verdict' (not a kchaos run summary)")
    variants = data.get("variants")
    if not isinstance(variants, list):
        raise BadInput(f"{path}: 'variants' is not a list")
    for i, v in enumerate(variants):
        ok = isinstance(v, dict) and isinstance(v.get("name"), str)
        ok = ok and isinstance(v.get("anomalies"), dict) and isinstance(v.get("measurements"), dict)
        expectations = v.get("expectations") if isinstance(v, dict) else None
        ok = ok and isinstance(expectations, list)
        ok = ok and all(isinstance(e, dict) and isinstance(e.get("held"), bool) for e in expectations or [])
        if not ok:
            raise BadInput(f"{path}: variants[{i}] lacks a name, expectations, anomalies or measurements")


def check_reports_folder(folder: Path, what: str = "--report-dir") -> None:
    """A reports folder ``book`` can gather from: it exists, and every summary in it that
    is JSON is an object in UTF-8 (one that is not JSON at all is skipped by the book)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"{what} {folder}: not a folder of reports")
    for path in sorted(folder.rglob("summary.json")):
        try:
            read_summary(path)
        except BadInput as err:
            if "not valid JSON" not in str(err):
                raise


@contextlib.contextmanager
def guard(where: str) -> Iterator[None]:
    """Turn what malformed folder content raises in the report code into one line."""
    try:
        yield
    except BadInput:
        raise
    except SHAPE_ERRORS as err:
        detail = printable(" ".join(f"{type(err).__name__}: {err}".split()))[:160]
        raise BadInput(f"{where}: not the shape of a kchaos report ({detail})") from None
