"""What a named step may use of the run it is part of: a typed context, not the nemesis.

A step (``kchaos.faults.steps``) inspects or changes something mid-run and records what it did.
It needs the cluster, the history, the run's topic names, the workload's clients and
producers, target resolution and the fault recorder, and nothing else of the nemesis
that runs it; handing it this context keeps steps below the nemesis (no import circle)
and says in one place what a new step can reach.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kchaos.cluster.base import Cluster
from kchaos.history import HistoryWriter


@dataclass(frozen=True)
class StepContext:
    """The run as a step sees it; the nemesis builds one for each step it runs."""

    cluster: Cluster
    history: HistoryWriter
    #: The experiment file's topic names -> this run's (names carry a run suffix).
    topic_names: Mapping[str, str]
    #: Workload clients in processes of their own, by target (``pattern:M``, ``consumer:G:M``).
    clients: Mapping[str, Any]
    #: The workload's producers, in the order the file lists them.
    producers: Sequence[Any]
    #: The node a target names now (``leader-of:T:P``, ``$name``, ...).
    target: Callable[[str | int | None], int]
    #: Record a fault event: ``record(name, target, phase, args=...)``.
    record: Callable[..., None]

    def topic(self, name: str) -> str:
        """This run's name of the file's topic ``name`` (a name the file did not declare
        is taken as it is: a step may name a topic it made itself)."""
        return self.topic_names.get(name, name)
