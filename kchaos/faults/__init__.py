"""Faults: the vocabulary (``actions``: one table; ``targets``: one grammar) and the
nemesis that applies an experiment's schedule and heals everything on the way out."""

from __future__ import annotations

from kchaos.faults.actions import ACTIONS, Action, action

__all__ = ["ACTIONS", "Action", "action"]
