"""Expectations: ``"lost == 0"`` judged against a variant's anomalies and measurements.

Parsed and checked when the experiment file loads (``experiment.EXPECTATION``: known
names, and never one that could not fail); evaluated here after the run.
"""

from __future__ import annotations

from typing import Any

from kchaos.checker.anomalies import KINDS
from kchaos.experiment import EXPECTATION


def lookup(name: str, anomalies: dict[str, int], measurements: dict[str, Any]) -> Any:
    if name in KINDS:
        return anomalies.get(name)
    value: Any = measurements
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def evaluate(text: str, anomalies: dict[str, int], measurements: dict[str, Any]) -> dict[str, Any]:
    """``"lost == 0"`` against the measured numbers -> ``{"what", "held", "value"}``."""
    m = EXPECTATION.match(text)
    assert m is not None  # validated when the file was loaded
    name, op, number = m.group(1), m.group(2), float(m.group(3))
    value = lookup(name, anomalies, measurements)
    ops = {
        "==": float.__eq__,
        "!=": float.__ne__,
        "<=": float.__le__,
        ">=": float.__ge__,
        "<": float.__lt__,
        ">": float.__gt__,
    }
    held = value is not None and ops[op](float(value), number)
    return {"what": text, "held": bool(held), "value": value}
