"""What the roles of one run share, and what each variant's roles are built from: the
run (its experiment, cluster, folder, random source and schema registry), the variant's
context (``VariantContext``) and its consumer-group ids (``group_ids``)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kchaos.cluster.base import Cluster
from kchaos.experiment import Experiment
from kchaos.history import HistoryWriter
from kchaos.patterns.registry import EmbeddedRegistry
from kchaos.spec.resolve import ResolvedVariant
from kchaos.workload.java import JavaProducer

#: Longest wait for a workload's consumer groups to form before the steady phase.
GROUP_WAIT_S = 60


def group_ids(index: int, rv: ResolvedVariant, names: dict[str, str]) -> dict[str, str]:
    """Every consumer group a variant's workload uses, by the name its experiment file
    gives it (``g0``, ``g1``, ``pipe``, ``pattern``, ``reader:NAME``) -> the group id this
    run uses (a run and a variant of their own). The one place group ids are made: the
    roles use them and the history's ``meta`` records them, so the checker and the report
    read the file's names from there, not from the ids' spelling."""
    topic = names[rv.workload.topic]
    out: dict[str, str] = {}
    if rv.groups is not None:
        read = names[rv.groups.topic or rv.workload.topic]
        out |= {f"g{g}": f"kchaos-v{index}-g{g}-{read}" for g in range(rv.groups.groups)}
    if rv.pipeline is not None:
        out["pipe"] = f"kchaos-v{index}-pipe-{topic}"
    if rv.pattern is not None:
        out["pattern"] = f"kchaos-v{index}-pattern-{topic}"
    for name in rv.schemas.readers if rv.schemas is not None else ():
        out[f"reader:{name}"] = f"kchaos-v{index}-reader-{name}-{topic}"
    return out


def group_topics(rv: ResolvedVariant, names: dict[str, str], groups: dict[str, str]) -> dict[str, list[str]]:
    """Each consumer group's id (``groups``: as ``group_ids`` made them) -> the topics whose
    committed offsets say how far it got: the ones it consumes (a pattern group: its input
    and its retry topics). A share group commits no offsets: it gets none (it is still
    described)."""
    out: dict[str, list[str]] = {}
    for name, gid in groups.items():
        if name == "pattern" and rv.pattern is not None:
            out[gid] = [] if rv.pattern.share else [names[t] for t in (rv.workload.topic, *rv.pattern.retry_topics)]
            continue
        own = rv.groups.topic if rv.groups is not None and re.fullmatch(r"g\d+", name) else None
        out[gid] = [names[own or rv.workload.topic]]
    return out


@dataclass(frozen=True)
class VariantContext:
    """What every role of one variant is built from: the variant's index (its clients'
    and groups' names carry it), its resolved spec, its topics' names, its history, how
    long its clients live, its group ids (``group_ids``), the producers' settings and a
    pipeline's effects store."""

    index: int
    rv: ResolvedVariant
    names: dict[str, str]
    history: HistoryWriter
    lifetime: float
    groups: dict[str, str]
    pconf: dict[str, Any]
    store: Path | None = None

    @property
    def topic(self) -> str:
        """The workload's topic (this variant's name of it)."""
        return self.names[self.rv.workload.topic]

    @property
    def reader_lifetime(self) -> float:
        """How long a reading client lives: past the producers, by the drain's and the
        group's waits."""
        return self.lifetime + 60 + GROUP_WAIT_S


class Producer(Protocol):
    """What the runner uses of a writing role: it starts, stops and is joined, and counts
    its sends' outcomes (``stats``: ok, fail, unknown) for the live view."""

    stats: Any

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def join(self, timeout: float | None = None) -> None: ...


class Member(Protocol):
    """What the runner uses of a reading role (a group member, a pipeline, pattern or
    reader worker): its name in the history and its group, how many records it was
    handed, whether it has had its first assignment; start, stop, join."""

    reader: str
    group: str

    @property
    def delivered(self) -> int: ...
    @property
    def assigned(self) -> bool: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def join(self, timeout: float | None = None) -> None: ...


@dataclass
class VariantRoles:
    """A variant's roles, built: the producers (Python first, then Java), the reading
    members by target name, and which members only a ``start-client`` fault starts."""

    python_producers: list[Producer]
    java_producers: list[JavaProducer]
    members: dict[str, Member] = field(default_factory=dict)
    standby: list[Member] = field(default_factory=list)

    @property
    def producers(self) -> list[Producer]:
        return [*self.python_producers, *self.java_producers]

    @property
    def consumers(self) -> list[Member]:
        return list(self.members.values())


class RunScope:
    """One experiment run on one cluster, as its roles see it. Holds the run's embedded
    schema registry, when a schema workload needs one (``close`` stops it)."""

    def __init__(
        self,
        experiment: Experiment,
        cluster: Cluster,
        run_dir: Path,
        rng: random.Random,
        schema_registry: str | None = None,
    ) -> None:
        self.exp, self.cluster, self.run_dir, self.rng = experiment, cluster, run_dir, rng
        self.schema_registry = schema_registry  # a user's registry URL; None: an embedded one, if needed
        self._embedded: EmbeddedRegistry | None = None

    def registry(self) -> str:
        """The schema registry's URL: the user's (``--schema-registry``), else one started
        on loopback for this run (``kchaos.patterns.registry.EmbeddedRegistry``)."""
        if self.schema_registry is None:
            self._embedded = EmbeddedRegistry()
            self._embedded.start()
            self.schema_registry = self._embedded.url
        return self.schema_registry

    def close(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()
