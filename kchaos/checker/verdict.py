"""The checker's verdict for a test: ``assert_no_anomalies(history)``.

A test of a team's own code passes when the checker finds no anomaly. Information
(re-deliveries the commits allow, unknown sends that never appeared) never fails it: an
at-least-once consumer that re-reads after a crash is doing its job. The failure
message is the checker's findings, one sentence each, with examples, so the test
output says what went wrong ("20 committed records ... were never processed").
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kchaos.checker import check
from kchaos.checker.anomalies import KINDS
from kchaos.history import load

MAX_EXAMPLES = 3


class AnomaliesFound(AssertionError):
    """The checker found anomalies; ``result`` is the whole ``check`` result."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


def check_history(history: Any, kinds: Iterable[str] = KINDS) -> dict[str, Any]:
    """``check`` of a history given as a path, anything with a ``path`` (a ``History``),
    or the events themselves."""
    if isinstance(history, str | Path):
        return check(load(Path(history)), kinds)
    if hasattr(history, "path"):
        return check(load(Path(history.path)), kinds)
    return check(history, kinds)


def assert_no_anomalies(history: Any, kinds: Iterable[str] = KINDS) -> dict[str, Any]:
    """Check ``history``; raise ``AnomaliesFound`` (an AssertionError) naming every
    finding when any anomaly is found, or when acknowledged writes could not be judged
    because no drain read their partitions to the end (``kchaos.drain``): a check that
    could not look is not a pass. Returns the result for further assertions."""
    result = check_history(history, kinds)
    if any(result["anomalies"].values()) or result["undrained"]:
        raise AnomaliesFound(explain(result), result)
    return result


def explain(result: dict[str, Any]) -> str:
    """The failure message: counts, then each finding, then a few examples per kind."""
    counts = ", ".join(f"{k} {n}" for k, n in result["anomalies"].items() if n)
    lines = [f"kchaos found anomalies: {counts}" if counts else "kchaos could not judge every write"]
    lines += [f"  finding: {f['text']}" for f in result.get("findings", [])]
    for kind, examples in result.get("examples", {}).items():
        for ex in examples[:MAX_EXAMPLES]:
            lines.append(f"  example {kind}: {ex}")
    undrained = result.get("undrained") or []
    if undrained:
        lines.append(f"  not judged: partitions {undrained} were not drained to the end (kchaos.drain)")
    return "\n".join(lines)
