"""The one percentile every number in kchaos uses (nearest rank), for the checker and for
steps that measure on their own."""

from __future__ import annotations

import math


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float | None) -> float | None:
    """Seconds as milliseconds, to two decimals (None stays None): how times are reported."""
    return None if seconds is None else round(seconds * 1000, 2)
