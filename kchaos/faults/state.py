"""What a run's faults are at a moment: the open faults, the nodes steps named, the
workload's producers, clients and groups, and how a target resolves to a node now. The
nemesis holds one; each executor (``faults.executors``) reads and changes it."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kchaos.cluster import targets
from kchaos.cluster.base import Cluster
from kchaos.cluster.inspect import coordinator_of, resolve_target
from kchaos.errors import BadInput
from kchaos.events import Fault
from kchaos.history import HistoryWriter


@dataclass(eq=False)  # two equal faults (the same slow link twice) are still two
class OpenFault:
    """A fault that is on: what undoes it, and what its ``end`` event names.

    ``node`` is the resolved node of a cluster fault (``to``: the other end of a link);
    ``client`` the target of a workload-client fault (``consumer:G:M``, ``pattern:M``).
    ``network`` faults are undone by healing the network and applying the others again."""

    name: str
    label: str
    node: int | None = None
    client: str | None = None
    network: bool = False
    to: int | None = None
    args: dict[str, Any] = field(default_factory=dict)


class FaultState:
    """One run's faults on one cluster, recorded in one history."""

    def __init__(
        self, cluster: Cluster, history: HistoryWriter, rng: random.Random, topic_names: dict[str, str] | None = None
    ) -> None:
        self.cluster, self.history, self.rng = cluster, history, rng
        self.topic_names = topic_names or {}
        self.names: dict[str, int] = {}
        #: The workload's producers and consumer group ids, for workload faults
        #: (``crash-producer``) and for ``txn-coordinator[:N]`` / ``group-coordinator[:N]``.
        self.producers: list[Any] = []
        self.groups: list[str] = []
        #: Workload clients in processes of their own, by target (``consumer:G:M``, ``pipeline:M``, ``pattern:M``).
        self.clients: dict[str, Any] = {}
        self.open: list[OpenFault] = []

    def target(self, ref: str | int | None) -> int:
        """The node a target names now."""
        if ref is None:
            raise BadInput("this fault step needs a target")
        try:
            t = targets.parse(ref)
        except ValueError as err:
            raise BadInput(str(err)) from None
        if t.kind == "$":
            if t.name not in self.names:
                raise BadInput(f"target ${t.name}: no earlier step named {t.name!r} (use as: {t.name})")
            return self.names[t.name]  # type: ignore[index]
        if t.kind == "txn-coordinator":
            txid = self.producer(t.index or 0).config["transactional.id"]
            return coordinator_of(self.cluster, "__transaction_state", txid)
        if t.kind == "group-coordinator":
            if (t.index or 0) >= len(self.groups):
                raise BadInput(f"target {ref}: this workload has {len(self.groups)} consumer groups")
            return coordinator_of(self.cluster, "__consumer_offsets", self.groups[t.index or 0])
        if t.topic is not None:  # the file's topic name -> this run's topic
            t = targets.Target(t.kind, t.node, self.topic_names.get(t.topic, t.topic), t.partition, t.index, t.name)
        return resolve_target(self.cluster, t, self.rng)

    def producer(self, ref: str | int) -> Any:
        """The workload's transactional producer number ``ref`` (0-based)."""
        text = str(ref)
        if not text.isdigit() or int(text) >= len(self.producers):
            raise BadInput(f"producer {text!r}: this workload has producers 0..{len(self.producers) - 1}")
        producer = self.producers[int(text)]
        if "transactional.id" not in producer.config:
            raise BadInput(f"producer {text}: not transactional (set transactional.id in the variant's producer)")
        return producer

    def record(self, name: str, target: Any, phase: str, args: dict[str, Any] | None = None) -> None:
        """A ``fault`` event in the history: the one record of what the nemesis did (the
        checker and the report both read it there)."""
        self.history.write(Fault(name, str(target), phase, self.history.now(), args))  # type: ignore[arg-type]

    def end(self, matches: Callable[[OpenFault], bool], by: dict[str, Any] | None = None) -> None:
        """End the open faults that match; ``by``: the step that ended them (its action
        and ``as`` name), recorded with the end so a restart can be measured as a trigger."""
        for f in [f for f in self.open if matches(f)]:
            self.open.remove(f)
            self.record(f.name, f.label, "end", by)
