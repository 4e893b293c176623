"""Checks of an experiment file that its models alone do not make: names that become
paths or Kafka names, numbers in range, references that must exist in the cluster and
topics the file declares, and broker settings that would break the loopback promise.

Each function yields ``(location, message)`` like ``experiment.problems``, which calls
them; a wrong file is refused when it loads, never found out mid-run (or never: a step
at 9999 s in a 15 s phase silently does not run).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from kchaos import safety
from kchaos.cluster import targets
from kchaos.safety import broker_config_problem, feature_problem

__all__ = ["broker_config_problem", "feature_problem", "problems", "topic_name_problem"]

Problem = tuple[tuple[Any, ...], str]

#: Kafka's own rule for topic names (``Topic.validate``): legal characters, at most 249.
TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")
#: (model class name, field) -> (lowest, highest) for the numbers of the workload parts.
#: A float bound is inclusive; ``gt0`` fields must be above their lowest.
BOUNDS: dict[tuple[str, str], tuple[float, float]] = {
    ("Workload", "producers"): (0, 64),
    ("Workload", "rate"): (0, 1_000_000),
    ("Workload", "key_count"): (1, 10_000_000),
    ("Workload", "value_bytes"): (0, 16 * 1024 * 1024),
    ("Workload", "corrupt"): (0, 1),
    ("Workload", "txn_size"): (1, 100_000),
    ("Workload", "abort_every"): (0, 1_000_000),
    ("Workload", "java_producers"): (0, 16),
    ("Workload", "volume_mb"): (0, 100_000),
    ("ConsumerGroups", "groups"): (1, 16),
    ("ConsumerGroups", "members"): (0, 64),
    ("ConsumerGroups", "commit_every"): (1, 1_000_000),
    ("ConsumerGroups", "standby"): (0, 64),
    ("ConsumerGroups", "batch"): (1, 1_000_000),
    ("ConsumerGroups", "poll_ms"): (0, 600_000),
    ("ConsumerGroups", "java_members"): (0, 16),
    ("ConsumerGroups", "processing_ms"): (0, 600_000),
    ("ConsumerGroups", "static_members"): (0, 64),
    ("PipelineSpec", "workers"): (0, 32),
    ("PipelineSpec", "batch"): (1, 1_000_000),
    ("PipelineSpec", "poll_ms"): (0, 600_000),
    ("HandlerSpec", "transient"): (0, 1),
    ("HandlerSpec", "transient_failures"): (0, 1_000),
    ("HandlerSpec", "poison"): (0, 1),
    ("HandlerSpec", "processing_ms"): (0, 600_000),
    ("PatternSpec", "workers"): (0, 32),
    ("PatternSpec", "attempts"): (1, 100),
    ("PatternSpec", "backoff_ms"): (0, 600_000),
    ("PatternSpec", "delays_ms"): (0, 3_600_000),
    ("PatternSpec", "parallel"): (1, 64),
    ("PatternSpec", "batch"): (1, 1_000_000),
    ("PatternSpec", "poll_ms"): (0, 600_000),
    ("SchemaSpec", "every_s"): (0.001, 86_400),
    ("Variant", "txn_size"): (1, 100_000),
    ("Variant", "partitions"): (1, 10_000),
}


def topic_name_problem(name: str) -> str | None:
    if not TOPIC_NAME.fullmatch(name) or name in (".", ".."):
        return f"topic name {safety.printable(repr(name))}: Kafka takes 1 to 249 of a-z, A-Z, 0-9, '.', '_' and '-' (not . or ..)"
    return None


def problems(exp: Any) -> Iterator[Problem]:
    """Every check of this module, in file order."""
    yield from name_problems(exp)
    yield from cluster_problems(exp)
    yield from number_problems(exp)


def name_problems(exp: Any) -> Iterator[Problem]:
    """The id (it names a run folder), topic names Kafka accepts, no name twice."""
    if not safety.EXPERIMENT_ID.fullmatch(exp.id):
        yield ("id",), f"{safety.printable(repr(exp.id))}: an id is 1 to 64 of a-z, 0-9, '-' and '_'"
    seen: dict[str, int] = {}
    for i, topic in enumerate(exp.topics):
        if problem := topic_name_problem(topic.name):
            yield ("topics", i, "name"), problem
        elif topic.name in seen:
            yield ("topics", i, "name"), f"topic {topic.name!r} is declared twice (also topics[{seen[topic.name]}])"
        seen.setdefault(topic.name, i)
    names: dict[str, int] = {}
    for v, variant in enumerate(exp.variants):
        if variant.name in names:
            yield ("variants", v, "name"), f"variant {variant.name!r} twice (also variants[{names[variant.name]}])"
        names.setdefault(variant.name, v)


def cluster_problems(exp: Any) -> Iterator[Problem]:
    """Replication factors the cluster can hold, and variants' broker settings."""
    for i, topic in enumerate(exp.topics):
        if topic.replication_factor > exp.cluster.brokers:
            yield (
                ("topics", i, "replication_factor"),
                f"{topic.replication_factor} replicas on a cluster of {exp.cluster.brokers} brokers",
            )
    for v, variant in enumerate(exp.variants):
        for key, value in variant.broker_config.items():
            if problem := broker_config_problem(key, value):
                yield ("variants", v, "broker_config", key), problem


def number_problems(exp: Any) -> Iterator[Problem]:
    """Every number of the workload parts finite and in range (``BOUNDS``)."""
    yield from _model_numbers(exp.workload, ("workload",))
    for v, variant in enumerate(exp.variants):
        yield from _check_field(variant, "txn_size", variant.txn_size, ("variants", v, "txn_size"))
        yield from _check_field(variant, "partitions", variant.partitions, ("variants", v, "partitions"))
        for key, value in variant.workload.items():
            yield from _check_named("Workload", key, value, ("variants", v, "workload", key))


def _model_numbers(model: Any, where: tuple[Any, ...]) -> Iterator[Problem]:
    if model is None:
        return
    for name in type(model).model_fields:
        value = getattr(model, name)
        if hasattr(type(value), "model_fields"):
            yield from _model_numbers(value, (*where, name))
        else:
            yield from _check_field(model, name, value, (*where, name))


def _check_field(model: Any, name: str, value: Any, where: tuple[Any, ...]) -> Iterator[Problem]:
    yield from _check_named(type(model).__name__, name, value, where)


def _check_named(owner: str, name: str, value: Any, where: tuple[Any, ...]) -> Iterator[Problem]:
    values = value if isinstance(value, list) else [value]
    for item in values:
        if isinstance(item, bool) or not isinstance(item, int | float):
            continue
        if isinstance(item, float) and not math.isfinite(item):
            yield where, f"{name}: {item} is not a finite number"
            return
        bounds = BOUNDS.get((owner, name))
        if bounds is None:
            continue
        low, high = bounds
        if item < low or item > high:
            yield where, f"{name}: {item:g} is out of range (from {low:g} to {high:g})"
            return


def fault_phase(exp: Any, variants: list[Any]) -> tuple[float, str]:
    """The shortest fault phase a schedule runs in, and its mode: ``quick`` too unless
    every variant that runs it is nightly-only (a step after it silently never runs)."""
    modes = ["nightly"] + (["quick"] if any(not v.nightly_only for v in variants) else [])
    shortest = min(modes, key=lambda m: getattr(exp, m).fault)
    return getattr(exp, shortest).fault, shortest


def node_ids(exp: Any) -> list[int]:
    from kchaos.cluster.spec import ClusterSpec

    spec = ClusterSpec(brokers=exp.cluster.brokers, controllers=exp.cluster.controllers)
    return [n.id for n in spec.nodes]


def reference_problem(exp: Any, t: targets.Target, nodes: list[int], variants: list[Any]) -> str | None:
    """A target's node id that the cluster lacks, or a partition or follower its topic
    lacks in one of the ``variants`` that run the step."""
    if t.kind == "node" and t.node not in nodes:
        return f"node {t.node}: this cluster has nodes {', '.join(map(str, nodes))}"
    if t.kind in ("leader-of", "follower-of") and t.topic is not None:
        count = _partitions(exp, t.topic, variants)
        if count is not None and (t.partition or 0) >= count:
            return f"{t.text()}: topic {t.topic!r} has {count} partitions (0..{count - 1})"
        if t.kind == "follower-of" and t.index is not None:
            rf = next((x.replication_factor for x in exp.topics if x.name == t.topic), None)
            if rf is not None and t.index >= rf - 1:
                return f"{t.text()}: topic {t.topic!r} has {rf - 1} followers per partition (0..{rf - 2})"
    return None


def _partitions(exp: Any, topic: str, variants: list[Any]) -> int | None:
    """The fewest partitions ``topic`` has in the variants that run the step."""
    declared = next((x.partitions for x in exp.topics if x.name == topic), None)
    if declared is None:
        return None
    if topic != exp.workload.topic:
        return declared
    counts = [v.partitions if v.partitions is not None else declared for v in variants] or [declared]
    return min(counts)


#: Schema files are Avro schemas (``.avsc``), a few KB each.
SCHEMA_SUFFIXES = (".avsc",)


def schema_path_problems(path: Any, exp: Any) -> Iterator[Problem]:
    """Schema files named by the experiment: ``.avsc`` files under the shipped schemas or
    under the experiment's own folder (or the working folder, where relative names are
    found), never another file of the machine (``validate`` would print what it holds)."""
    from pathlib import Path

    from kchaos.paths import EXPERIMENTS_DIR, schema_file

    roots = [EXPERIMENTS_DIR / "schemas", Path(path).resolve().parent, Path.cwd()]
    own = [(("workload", "schemas"), exp.workload.schemas.model_dump() if exp.workload.schemas else {})]
    own += [(("variants", v, "schemas"), x.schemas) for v, x in enumerate(exp.variants) if x.schemas]
    for where, fields in own:
        versions, readers = fields.get("versions"), fields.get("readers")
        names = [("versions", n) for n in (versions if isinstance(versions, list) else [])]
        names += [("readers", n) for n in (readers.values() if isinstance(readers, dict) else [])]
        for part, name in names:
            if not isinstance(name, str):
                continue
            found = schema_file(name)
            if not name.endswith(SCHEMA_SUFFIXES) or ".." in Path(name).parts:
                yield (*where, part), f"schema file {safety.printable(repr(name))}: an .avsc file, without '..'"
            elif not any(_under(root, found) for root in roots):
                yield (*where, part), f"schema file {name}: not under the experiment's folder or experiments/schemas"


def _under(root: Any, path: Any) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        return False
