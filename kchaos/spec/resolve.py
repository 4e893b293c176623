"""A variant resolved against its experiment: the file's workload, consumer groups,
pipeline, pattern and schema blocks with the variant's overrides merged in, its fault
schedule, the settings a claim may compare with, the Kafka features it needs and what
it can measure. The runner, the validator and the report read a variant through these."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from kchaos.errors import BadInput
from kchaos.faults.step import FaultStep
from kchaos.spec.model import ConsumerGroups, Experiment, PatternSpec, PipelineSpec, SchemaSpec, Variant, Workload


def settings(exp: Experiment, variant: Variant) -> dict[str, dict[str, Any]]:
    """The settings the file states for a variant, by scope: what a claim may compare a
    time with (``broker:broker.session.timeout.ms``)."""
    topic = next(t for t in exp.topics if t.name == exp.workload.topic)
    groups = group_spec_or_none(exp, variant)
    workers = or_none(lambda: pipeline_spec(exp, variant)) or or_none(lambda: pattern_spec(exp, variant))
    return {
        "broker": {**exp.cluster.broker_config, **variant.broker_config},
        "topic": {**topic.config, **variant.topic_config},
        "producer": {**(workers.producer if workers is not None else {}), **variant.producer},
        "consumer": {**(groups.config if groups else {}), **variant.consumer},
        "group": groups.model_dump(exclude={"config"}) if groups else {},
    }


def number(value: Any) -> float | None:
    """A setting as a number (``"3000"`` -> 3000.0; ``true`` -> 1.0), else None."""
    if isinstance(value, bool):
        return float(value)
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return out if math.isfinite(out) else None


def group_spec(exp: Experiment, variant: Variant) -> ConsumerGroups | None:
    """The variant's consumer groups: ``workload.consumers`` with its ``group`` fields over them."""
    spec = exp.workload.consumers
    if spec is None or not variant.group:
        return spec
    return ConsumerGroups.model_validate({**spec.model_dump(), **variant.group})


def needed_features(exp: Experiment, variant: Variant) -> list[str]:
    """The features a variant's own settings use: the consumer protocol of KIP-848 (in
    any consumer's settings: the group's, the Java members', a pipeline's or a pattern
    worker's), a share group, a share group's dead-letter queue."""
    pipeline = {**(exp.workload.pipeline.model_dump() if exp.workload.pipeline else {}), **variant.pipeline}
    pattern = {**(exp.workload.pattern.model_dump() if exp.workload.pattern else {}), **variant.pattern}
    configs = [
        {**(exp.workload.consumers.config if exp.workload.consumers else {}), **variant.consumer},
        variant.java_consumer,
        {**pipeline.get("config", {}), **(variant.pipeline.get("config") or {})},
        {**pattern.get("config", {}), **(variant.pattern.get("config") or {})},
    ]
    protocols = {str(c.get("group.protocol", "")).lower() for c in configs}
    needed = ["kip-848"] if "consumer" in protocols else []
    if pattern.get("share"):
        needed.append("share-groups")
        if pattern.get("dead_letter"):
            needed.append("share-dlq")
    return needed


def schedule(exp: Experiment, variant: Variant) -> list[FaultStep]:
    """The fault steps of a variant: its own when it has them, else the experiment's."""
    return exp.faults if variant.faults is None else variant.faults


def workload_of(exp: Experiment, variant: Variant) -> Workload:
    """The variant's workload: the experiment's with the variant's ``workload`` fields over it."""
    if not variant.workload:
        return exp.workload
    return exp.workload.model_copy(
        update=Workload.model_validate({"topic": "t", **variant.workload}).model_dump(include=set(variant.workload))
    )


def pipeline_spec(exp: Experiment, variant: Variant) -> PipelineSpec | None:
    """The variant's pipeline: ``workload.pipeline`` with its ``pipeline`` fields over it."""
    spec = exp.workload.pipeline
    if spec is not None and variant.pipeline:
        spec = PipelineSpec.model_validate({**spec.model_dump(), **variant.pipeline})
    return spec if spec is not None and spec.workers > 0 else None  # no workers: no pipeline


def pattern_spec(exp: Experiment, variant: Variant) -> PatternSpec | None:
    """The variant's pattern workers: ``workload.pattern`` with its ``pattern`` fields over it."""
    spec = exp.workload.pattern
    if spec is not None and variant.pattern:
        spec = PatternSpec.model_validate({**spec.model_dump(), **variant.pattern})
    return spec if spec is not None and spec.workers > 0 else None


def schema_spec(exp: Experiment, variant: Variant) -> SchemaSpec | None:
    """The variant's schema workload: ``workload.schema`` with its ``schema`` fields over it."""
    spec = exp.workload.schemas
    if spec is not None and variant.schemas:
        spec = SchemaSpec.model_validate({**spec.model_dump(), **variant.schemas})
    return spec


def or_none(merge: Callable[[], Any]) -> Any:
    """A merge's result, or None when it does not validate (its own part's check reports why)."""
    try:
        return merge()
    except ValidationError:
        return None  # reported by the problems of its own part


def pipeline_spec_or_none(exp: Experiment, variant: Variant) -> PipelineSpec | None:
    """The merged pipeline, or None when it does not validate."""
    try:
        return pipeline_spec(exp, variant)
    except ValidationError:
        return None  # reported by _pipeline_problems


def group_spec_or_none(exp: Experiment, variant: Variant) -> ConsumerGroups | None:
    """The merged consumer groups, or None when they do not validate."""
    try:
        return group_spec(exp, variant)
    except ValidationError:
        return None  # reported by _consumer_problems


def capabilities(exp: Experiment, variant: Variant) -> frozenset[str]:
    """What this variant's workload produces, in the words of ``NEEDS``."""
    can = set()
    if "transactional.id" in variant.producer:
        can.add("txn")
    if exp.workload.consumers is not None:
        can.add("group")
    pipe = pipeline_spec_or_none(exp, variant)
    if pipe is not None:
        can |= {"pipeline", "group"} | ({"txn"} if pipe.mode == "exactly-once" else set())
        if pipe.store != "none":
            can.add("store")
    if or_none(lambda: pattern_spec(exp, variant)) is not None:
        can |= {"pattern", "group"}
    if exp.workload.schemas is not None:
        can |= {"schemas", "group"}
    if workload_of(exp, variant).keys != "none":
        can.add("keyed")
    steps = schedule(exp, variant)
    if any(f.do == "crash-producer" for f in steps):
        can.add("client")
    if any(f.do == "step" and f.args.get("name") == "inspect-log" for f in steps):
        can.add("segments")
    if any(f.do == "step" and f.args.get("name") == "perf-test" for f in steps):
        can.add("perf")
    group = exp.workload.consumers.config if exp.workload.consumers else {}
    if any("statistics.interval.ms" in c for c in (variant.producer, variant.consumer, group)):
        can.add("stats")
    return frozenset(can)


def only_variants(exp: Experiment, wanted: list[str]) -> Experiment:
    """The experiment with only the variants whose names contain one of ``wanted``
    (case-insensitive); BadInput lists the names when one matches nothing."""
    if not wanted:
        return exp
    names = [v.name for v in exp.variants]
    for w in wanted:
        if not any(w.lower() in n.lower() for n in names):
            raise BadInput(f"--variant {w!r}: no variant of {exp.id} matches; its variants: {'; '.join(names)}")
    kept = [v for v in exp.variants if any(w.lower() in v.name.lower() for w in wanted)]
    return exp.model_copy(update={"variants": kept})


def features_of(exp: Experiment, variant: Variant) -> list[str]:
    """Every Kafka feature a variant needs: what it declares and what its settings use."""
    return sorted(set(variant.requires) | set(needed_features(exp, variant)))


@dataclass(frozen=True)
class ResolvedVariant:
    """A variant merged with its experiment file once: every block the runner builds
    roles from, the fault schedule it runs and the features it needs. Computed when the
    variant starts, so no part of a run merges the same settings again."""

    variant: Variant
    workload: Workload
    groups: ConsumerGroups | None
    pipeline: PipelineSpec | None
    pattern: PatternSpec | None
    schemas: SchemaSpec | None
    schedule: list[FaultStep]
    features: list[str]
    #: What a claim may compare a time with, by scope (``settings``).
    settings: dict[str, dict[str, Any]]


def resolve(exp: Experiment, variant: Variant) -> ResolvedVariant:
    """``variant`` resolved against ``exp`` (a file that loaded: its merges validate)."""
    return ResolvedVariant(
        variant=variant,
        workload=workload_of(exp, variant),
        groups=group_spec(exp, variant),
        pipeline=pipeline_spec(exp, variant),
        pattern=pattern_spec(exp, variant),
        schemas=schema_spec(exp, variant),
        schedule=schedule(exp, variant),
        features=features_of(exp, variant),
        settings=settings(exp, variant),
    )
