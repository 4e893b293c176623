"""Shared test settings: in CI a missing dependency fails a test, elsewhere it skips."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, why: str) -> None:
    """Fail in CI (a skipped test is a test that did not run), skip elsewhere."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {why}; .ci/run must install it")
    pytest.skip(f"{why} (run: kchaos install)")  # only outside CI: with CI=true it failed above
