"""A variant's workload roles, built from its resolved spec: the recording producers
(Python, Java, or the schema workload's evolving one), the consumer groups' members, the
pipeline workers, the pattern workers and the schema readers, each under the target name
a fault step uses (``consumer:G:M``, ``pipeline:M``, ``pattern:M``, ``reader:NAME``).

The runner starts, faults and stops what this builds; the ids of the consumer groups
come from one function (``group_ids``), which the history's ``meta`` records.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kchaos.cluster.base import Cluster
from kchaos.experiment import Experiment, PatternSpec, schema_file
from kchaos.history import HistoryWriter
from kchaos.patterns import share
from kchaos.patterns.evolving import EvolvingProducer
from kchaos.patterns.registry import EmbeddedRegistry
from kchaos.patterns.schema import connect, load_schema
from kchaos.patterns.worker import PatternProcess
from kchaos.spec.resolve import ResolvedVariant
from kchaos.workload import pipeline
from kchaos.workload.child import ClientProcess
from kchaos.workload.consumer import GroupConsumer
from kchaos.workload.java import JavaConsumer, JavaProducer
from kchaos.workload.pipeline import PipelineProcess
from kchaos.workload.producer import Keys, RecordingProducer

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


@dataclass
class VariantRoles:
    """A variant's roles, built: the producers (Python first, then Java), the reading
    members by target name, and which members only a ``start-client`` fault starts."""

    python_producers: list[Any] = field(default_factory=list)
    java_producers: list[JavaProducer] = field(default_factory=list)
    members: dict[str, Any] = field(default_factory=dict)
    standby: list[Any] = field(default_factory=list)

    @property
    def producers(self) -> list[Any]:
        return [*self.python_producers, *self.java_producers]

    @property
    def consumers(self) -> list[Any]:
        return list(self.members.values())


class Roles:
    """Builds the roles of each variant of one experiment run on one cluster. Holds the
    run's embedded schema registry, when a schema workload needs one (``close`` stops it)."""

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

    def close(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()

    def build(self, ctx: VariantContext) -> VariantRoles:
        """Every role of one variant, in the order the runner starts them."""
        built = VariantRoles(self.python_producers(ctx), self.java_producers(ctx))
        for kind in (self.consumers, self.pipelines, self.patterns, self.readers):
            built.members |= kind(ctx)
        built.standby = self.standby(built.members)
        return built

    def python_producers(self, ctx: VariantContext) -> list[Any]:
        """The workload's recording producers; with a schema workload, the one evolving
        producer that writes Avro records instead."""
        wl, variant = ctx.rv.workload, ctx.rv.variant
        if ctx.rv.schemas is not None:
            return [self.evolving(ctx)]
        return [
            RecordingProducer(
                f"v{ctx.index}p{i}",
                self.cluster.bootstrap,
                ctx.topic,
                ctx.pconf,
                ctx.history,
                wl.rate,
                ctx.lifetime,
                Keys(wl.keys, wl.key_count, prefix=wl.key_prefix),
                self.rng.getrandbits(32),
                wl.value_bytes,
                variant.txn_size or wl.txn_size,
                wl.abort_every,
                int(wl.volume_mb * 1e6 / wl.value_bytes),
                wl.corrupt,
            )
            for i in range(wl.producers)
        ]

    def java_producers(self, ctx: VariantContext) -> list[JavaProducer]:
        """Kafka's own VerifiableProducer beside the Python producers (``java_producers``)."""
        wl, variant = ctx.rv.workload, ctx.rv.variant
        conf = {**ctx.pconf, **variant.java_producer}  # java.java_producer_config translates it
        return [
            JavaProducer(
                f"v{ctx.index}j{i}",
                1000 * (ctx.index + 1) + i,
                self.cluster.bootstrap,
                ctx.topic,
                conf,
                ctx.history,
                wl.rate,
                ctx.lifetime,
                wl.key_count if wl.keys != "none" else 0,
                self.cluster.name,
                self.cluster.spec.kafka_version,
            )
            for i in range(wl.java_producers)
        ]

    def consumers(self, ctx: VariantContext) -> dict[str, Any]:
        """The group members by target name (``consumer:G:M``): threads, or child
        processes when the workload asks (``process: true``, for client faults). They
        read the workload's topic, or the one the groups name (``topic``)."""
        spec, variant, index, history = ctx.rv.groups, ctx.rv.variant, ctx.index, ctx.history
        if spec is None:
            return {}
        topic = ctx.names[spec.topic or self.exp.workload.topic]
        conf = {**spec.config, **variant.consumer}
        members: dict[str, Any] = {}
        for g in range(spec.groups):
            group = ctx.groups[f"g{g}"]
            python = [*range(spec.members), *range(spec.members + spec.java_members, self.members_per_group())]
            for m in python:
                kwargs: dict[str, Any] = {
                    "name": f"v{index}g{g}c{m}",
                    "group": group,
                    "bootstrap": self.cluster.bootstrap,
                    "topics": [topic],
                    "config": {**conf, **({"group.instance.id": f"{group}-m{m}"} if m in spec.static_members else {})},
                    "commit": spec.commit,
                    "processing_ms": spec.processing_of(g),
                    "duration": ctx.reader_lifetime,
                    "batch": spec.batch,
                    "commit_every": spec.commit_every,
                    "commit_on_revoke": spec.commit_on_revoke,
                    "poll_ms": spec.poll_ms,
                }
                if spec.process:
                    members[f"consumer:{g}:{m}"] = ClientProcess(kwargs, history.path, history.start, self.cluster.name)
                else:
                    members[f"consumer:{g}:{m}"] = GroupConsumer(history=history, **kwargs)
            for j in range(spec.java_members):
                members[f"consumer:{g}:{spec.members + j}"] = JavaConsumer(
                    f"v{index}g{g}j{j}",
                    group,
                    self.cluster.bootstrap,
                    [topic],
                    {**conf, **variant.java_consumer},
                    history,
                    self.cluster.name,
                    self.cluster.spec.kafka_version,
                )
        return members

    def pipelines(self, ctx: VariantContext) -> dict[str, PipelineProcess]:
        """The pipeline workers by target name (``pipeline:M``), each in a process of its own."""
        spec, variant, store = ctx.rv.pipeline, ctx.rv.variant, ctx.store
        if spec is None:
            return {}
        if store is not None:
            pipeline.create_store(store, spec.store == "sqlite-idempotent")
        group = ctx.groups["pipe"]
        workers = {}
        for m in range(spec.workers):
            kwargs = {
                "name": f"v{ctx.index}w{m}",
                "group": group,
                "bootstrap": self.cluster.bootstrap,
                "input_topic": ctx.topic,
                "output_topic": ctx.names[spec.output],
                "mode": spec.mode,
                "consumer_config": {**spec.config, **variant.consumer},
                "producer_config": dict(spec.producer),
                "batch": spec.batch,
                "poll_ms": spec.poll_ms,
                "duration": ctx.reader_lifetime,
                "store": str(store) if store is not None else None,
                "idempotent_store": spec.store == "sqlite-idempotent",
            }
            workers[f"pipeline:{m}"] = PipelineProcess(kwargs, ctx.history.path, ctx.history.start, self.cluster.name)
        return workers

    def pattern_topology(
        self, groups: dict[str, str], spec: PatternSpec | None, names: dict[str, str]
    ) -> dict[str, Any] | None:
        """What the history must say of a pattern for its check: its group and topics."""
        if spec is None:
            return None
        return {
            "group": groups["pattern"],
            "input": names[self.exp.workload.topic],
            "retry": [names[t] for t in spec.retry_topics],
            "dead_letter": names[spec.dead_letter] if spec.dead_letter else None,
        }

    def patterns(self, ctx: VariantContext) -> dict[str, PatternProcess]:
        """The pattern workers by target name (``pattern:M``), each in a process of its own."""
        spec, variant = ctx.rv.pattern, ctx.rv.variant
        if spec is None:
            return {}
        where = self.pattern_topology(ctx.groups, spec, ctx.names)
        done = self.run_dir / f"done.{ctx.index}.sqlite" if spec.dedupe else None
        if spec.share:
            share.configure_group(self.cluster.bootstrap, where["group"], where["dead_letter"], spec.attempts)  # type: ignore[index]
        workers = {}
        for m in range(spec.workers):
            kwargs = {
                "name": f"v{ctx.index}r{m}",
                "group": where["group"],  # type: ignore[index]
                "bootstrap": self.cluster.bootstrap,
                "input_topic": where["input"],  # type: ignore[index]
                "handler": spec.handler.model_dump(),
                "retry": {
                    "mode": spec.retry,
                    "attempts": spec.attempts,
                    "backoff_ms": spec.backoff_ms,
                    "topics": where["retry"],  # type: ignore[index]
                    "delays_ms": spec.delays_ms,
                },
                "dead_letter": where["dead_letter"],  # type: ignore[index]
                "dedupe": str(done) if done is not None else None,
                **({"share": True, "attempts": spec.attempts} if spec.share else {}),
                "parallel": spec.parallel,
                "ordering": spec.ordering,
                "consumer_config": {**spec.config, **variant.consumer},
                "producer_config": dict(spec.producer),
                "batch": spec.batch,
                "poll_ms": spec.poll_ms,
                "duration": ctx.reader_lifetime,
            }
            workers[f"pattern:{m}"] = PatternProcess(kwargs, ctx.history.path, ctx.history.start, self.cluster.name)
        return workers

    def registry(self) -> str:
        """The schema registry's URL: the user's (``--schema-registry``), else one started
        on loopback for this run (``kchaos.patterns.registry.EmbeddedRegistry``)."""
        if self.schema_registry is None:
            self._embedded = EmbeddedRegistry()
            self._embedded.start()
            self.schema_registry = self._embedded.url
        return self.schema_registry

    def evolving(self, ctx: VariantContext) -> EvolvingProducer:
        """The producer that deploys the schema versions in turn, on a subject set to the
        variant's compatibility level."""
        spec, url = ctx.rv.schemas, self.registry()
        assert spec is not None  # only a schema workload has one
        connect(url).set_compatibility(subject_name=f"{ctx.topic}-value", level=spec.compatibility)
        versions = [(name, load_schema(schema_file(name))) for name in spec.versions]
        return EvolvingProducer(
            f"v{ctx.index}a0",
            self.cluster.bootstrap,
            ctx.topic,
            ctx.pconf,
            ctx.history,
            url,
            versions,
            spec.every_s,
            ctx.rv.workload.rate,
            ctx.lifetime,
        )

    def readers(self, ctx: VariantContext) -> dict[str, PatternProcess]:
        """One consumer group per reader schema (``reader:NAME``), each worker decoding with
        it and dead-lettering what it cannot read."""
        spec, names = ctx.rv.schemas, ctx.names
        if spec is None:
            return {}
        topic, url = ctx.topic, self.registry()
        readers = {}
        for name, schema in spec.readers.items():
            kwargs = {
                "name": f"v{ctx.index}{name}0",
                "group": ctx.groups[f"reader:{name}"],
                "bootstrap": self.cluster.bootstrap,
                "input_topic": topic,
                "handler": {"avro": {"registry": url, "reader_schema": load_schema(schema_file(schema))}},
                "dead_letter": names[spec.dead_letter] if spec.dead_letter else None,
                "duration": ctx.reader_lifetime,
            }
            readers[f"reader:{name}"] = PatternProcess(kwargs, ctx.history.path, ctx.history.start, self.cluster.name)
        return readers

    def members_per_group(self) -> int:
        spec = self.exp.workload.consumers
        return 0 if spec is None else spec.members + spec.java_members + spec.standby

    def standby(self, members: dict[str, Any]) -> list[Any]:
        """The members started only by a ``start-client`` fault (the last ``standby`` of each group)."""
        spec = self.exp.workload.consumers
        if spec is None or not spec.standby:
            return []
        first = spec.members + spec.java_members
        return [c for ref, c in members.items() if int(ref.rsplit(":", 1)[1]) >= first]
