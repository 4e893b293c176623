"""What only the whole experiment file can tell: targets that name an unknown topic or
workload part, a ``$name`` no earlier step defined, overrides that do not validate,
features the cluster lacks, and claims or expectations that could never fail.
``problems`` yields ``(location, message)`` pairs; ``kchaos.spec.catalog.check`` turns
them into ``file:line: field: what`` lines."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import ValidationError

from kchaos import claims
from kchaos.checker.anomalies import KINDS, NEEDS
from kchaos.checker.measurements import MEASURES, measure
from kchaos.cluster import targets
from kchaos.errors import BadInput
from kchaos.faults import actions
from kchaos.faults.step import FaultStep
from kchaos.paths import schema_file
from kchaos.patterns.worker import POINTS as PATTERN_POINTS
from kchaos.spec.model import Experiment, Variant
from kchaos.spec.resolve import (
    capabilities,
    group_spec,
    group_spec_or_none,
    needed_features,
    number,
    or_none,
    pattern_spec,
    pipeline_spec,
    pipeline_spec_or_none,
    schema_spec,
    settings,
)
from kchaos.workload.pipeline import POINTS as PIPELINE_POINTS

#: Consumer settings the KIP-848 protocol (group.protocol=consumer) moves to the broker:
#: librdkafka refuses to create a consumer that sets them.
CLASSIC_ONLY = ("session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy")


def _classic_only(variant: str, key: str) -> str:
    return (
        f"variant {variant!r}: {key} is rejected with group.protocol=consumer (KIP-848 sets it on the broker:"
        " group.consumer.* settings); move it to the classic variants' consumer config"
    )


_HOW = {
    "txn": "set transactional.id in the variant's producer",
    "group": "add workload.consumers",
    "keyed": "use keys other than none",
    "pipeline": "add workload.pipeline",
    "store": "set the pipeline's store",
    "pattern": "add workload.pattern",
    "schemas": "add workload.schemas",
    "client": "add a crash-producer fault step",
    "segments": "add an inspect-log step",
    "stats": "set statistics.interval.ms in the variant's producer (or consumer) config",
    "perf": "add a perf-test step",
}


def problems(exp: Experiment) -> Iterator[tuple[tuple[Any, ...], str]]:
    """What only the whole file can tell: targets that name an unknown topic, a ``$name``
    no earlier step defined, a workload part that does not exist, and expectations that
    could never fail. ``(location, message)`` of each."""
    from kchaos import filechecks  # names, number ranges, references into the cluster and topics

    yield from filechecks.problems(exp)
    shared = [v for v in exp.variants if v.faults is None]
    yield from _schedule_problems(exp, exp.faults, ("faults",), shared)
    for v, variant in enumerate(exp.variants):
        if variant.faults is not None:
            yield from _schedule_problems(exp, variant.faults, ("variants", v, "faults"), [variant])
    yield from _consumer_problems(exp)
    yield from _feature_problems(exp)
    yield from _pipeline_problems(exp)
    yield from _pattern_problems(exp)
    yield from _schema_problems(exp)
    for v, variant in enumerate(exp.variants):
        for e, text in enumerate(variant.expect):
            for msg in claim_problems(exp, text, "", variant.id):
                yield ("variants", v, "expect", e), msg
            others = sorted({r.variant for r in claims.parse(text).refs() if r.variant not in (None, variant.id)})
            if others:
                yield (
                    ("variants", v, "expect", e),
                    (f"an expectation is judged on its own variant; compare with {', '.join(others)} in claims:"),
                )
    for c, claim in enumerate(exp.claims):
        for msg in claim_problems(exp, claim.holds, claim.say, claim.variant):
            yield ("claims", c), msg
    texts = {("background",): exp.background, **{("narration", k): v for k, v in exp.narration.items()}}
    for where, text in texts.items():
        if found := NUMBER_OR_COMPARISON.search(text):
            yield (
                where,
                f"states no number or contrast (found {found.group(0)!r}): what the run can contradict is a claim",
            )


#: What background and narration text may not hold: a number, or a word of contrast
#: (a claim the run could contradict belongs in ``claims``, where it is checked).
NUMBER_OR_COMPARISON = re.compile(
    r"\d|\b(?:more|less|fewer|faster|slower|higher|lower|longer|shorter|larger|smaller|bigger|better|worse|"
    r"cheaper|than|twice|half|most|least|never|always)\b",
    re.IGNORECASE,
)


#: Units of measurements that depend on the machine's speed: an absolute bound on one
#: fails on a busy runner, so it is compared with a setting or another variant.
_MACHINE_UNITS = ("s", "ms")


def claim_problems(exp: Experiment, holds: str, say: str, own: str | None) -> Iterator[str]:
    """Why a claim (or an expectation: a claim without ``say``) cannot stand: a name that
    is not a measurement, a variant that does not exist or cannot measure it, a setting
    the file does not state, or a condition that could never fail."""
    cond = claims.parse(holds)
    by_id = {v.id: v for v in exp.variants}
    refs = [*cond.refs(), *claims.placeholders(say)]
    if own is not None and own not in by_id:
        yield f"variant {own!r}: no variant has that id (ids: {', '.join(by_id)})"
        return
    for ref in dict.fromkeys(refs):
        yield from (f"{ref.text()}: {msg}" for msg in _ref_problems(exp, ref.bound(own), by_id))
    yield from _cannot_fail(exp, cond, own, by_id)


def _ref_problems(exp: Experiment, ref: claims.Ref, by_id: dict[str, Variant]) -> Iterator[str]:
    if ref.variant is None:
        yield f"say which variant, {ref.text()}@ID (ids: {', '.join(by_id)})"
        return
    if ref.variant not in by_id:
        close = difflib.get_close_matches(ref.variant, list(by_id), n=2)
        yield f"no variant has the id {ref.variant!r}" + (
            f" (did you mean {', '.join(close)}?)" if close else f" (ids: {', '.join(by_id)})"
        )
        return
    variant = by_id[ref.variant]
    if ref.is_setting:
        stated = settings(exp, variant)[ref.scope or ""]
        if ref.name not in stated or number(stated[ref.name]) is None:
            yield f"the file states no number for {ref.scope} setting {ref.name!r} in this variant"
        return
    if ref.name not in KINDS and measure(ref.name) is None:
        close = difflib.get_close_matches(ref.name, [*KINDS, *MEASURES], n=3)
        yield f"unknown name {ref.name!r}" + (f" (did you mean {', '.join(close)}?)" if close else "")
        return
    needs = NEEDS[ref.name] if ref.name in KINDS else measure(ref.name).needs  # type: ignore[union-attr]
    missing = sorted(needs - capabilities(exp, variant))
    if missing:
        yield (f"could never be measured: variant {variant.id!r} has no {', '.join(missing)} ({_HOW[missing[0]]})")


def _cannot_fail(exp: Experiment, cond: claims.Condition, own: str | None, by_id: dict[str, Variant]) -> Iterator[str]:
    """A condition that holds whatever the run measures: it compares no measurement, or
    bounds a count or a time by what it can never go below, or names the same value twice.
    And a bound on a time that only a quiet machine meets."""
    measured = [r for r in cond.refs() if not r.is_setting]
    if not measured:
        yield f"{cond.text!r} could never fail: it compares no measurement, only numbers and settings"
        return
    if cond.left == cond.right:
        if cond.op in ("==", "<=", ">="):
            yield f"{cond.text!r} could never fail: both sides are the same value"
            return
    for side, other, op in ((cond.left, cond.right, cond.op), (cond.right, cond.left, _MIRROR[cond.op])):
        bound = claims.constant(other)
        if not isinstance(side, claims.Ref) or bound is None:
            continue
        # Every measurement and anomaly count is zero or more.
        if (op == ">=" and bound <= 0) or (op in (">", "!=") and bound < 0):
            yield f"{cond.text!r} could never fail: {side.text()} is never below 0"
            return
        found = measure(side.name)
        if bound != 0 and found is not None and found.unit in _MACHINE_UNITS:
            yield (
                f"{cond.text!r}: an absolute time holds only on a quiet machine; compare {side.text()} with a "
                "setting (e.g. 2 * broker:broker.session.timeout.ms / 1000) or with another variant"
            )


_MIRROR = {"==": "==", "!=": "!=", "<=": ">=", ">=": "<=", "<": ">", ">": "<"}


def _feature_problems(exp: Experiment) -> Iterator[tuple[tuple[Any, ...], str]]:
    """A variant that uses a feature declares it (``requires``), so that a cluster without
    it skips the variant with the reason instead of failing it."""
    for v, variant in enumerate(exp.variants):
        for name in needed_features(exp, variant):
            if name not in variant.requires:
                yield ("variants", v, "requires"), f"variant {variant.name!r} uses {name}: add it to requires"


def _schedule_problems(
    exp: Experiment, steps: list[FaultStep], where: tuple[Any, ...], variants: list[Variant]
) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Times and targets of one fault schedule (the experiment's, or a variant's own) for
    the variants that run it: steps inside the fault phase, and targets that exist (node
    ids of the cluster, partitions of the topic, named steps, members, producers)."""
    from kchaos import filechecks

    topics = {t.name for t in exp.topics}
    named: set[str] = set()
    phase, shortest = filechecks.fault_phase(exp, variants)
    nodes = filechecks.node_ids(exp)
    for i in sorted(range(len(steps)), key=lambda i: steps[i].at):
        step = steps[i]
        if step.at > phase:
            yield (*where, i, "at"), f"at {step.at:g} s is after the {shortest} fault phase ends ({phase:g} s)"
        for field in ("target", "to"):
            ref = getattr(step, field)
            if ref is None or step.do == "crash-producer":
                continue
            t = targets.parse(ref)
            wants_client = actions.action(step.do).target == "client"
            if wants_client != (t.kind in targets.CLIENT_KINDS) and t.kind != "$":
                wanted = "a consumer:G:M or pipeline:M target" if wants_client else "a node target"
                yield (*where, i, field), f"{step.do} needs {wanted}, not {ref!r}"
                continue
            msg = (
                filechecks.reference_problem(exp, t, nodes, variants)
                or _target_problem(exp, t, named, topics)
                or _java_member_problem(exp, step.do, t)
                or _pipeline_target_problem(exp, t, step, variants)
            )
            if msg:
                yield (*where, i, field), msg
        if step.do == "crash-producer":
            ref = str(step.target if step.target is not None else 0)
            if not ref.isdigit() or int(ref) >= exp.workload.producers:
                n = exp.workload.producers
                yield (*where, i, "target"), f"crash-producer target {ref!r}: a producer number, 0..{n - 1}"
        if step.name:
            named.add(step.name)


def _pipeline_problems(exp: Experiment) -> Iterator[tuple[tuple[Any, ...], str]]:
    for v, variant in enumerate(exp.variants):
        if not variant.pipeline:
            continue
        if exp.workload.pipeline is None:
            yield ("variants", v, "pipeline"), "a variant's pipeline settings need workload.pipeline"
        elif shape := sorted(set(variant.pipeline) & {"output"}):
            yield ("variants", v, "pipeline", shape[0]), f"{shape[0]}: the pipeline's shape is the workload's"
        else:
            yield from _override_problem(
                lambda variant=variant: pipeline_spec(exp, variant), ("variants", v, "pipeline")
            )


def _pattern_problems(exp: Experiment) -> Iterator[tuple[tuple[Any, ...], str]]:
    names = {t.name for t in exp.topics}
    for v, variant in enumerate(exp.variants):
        if not variant.pattern:
            continue
        if exp.workload.pattern is None:
            yield ("variants", v, "pattern"), "a variant's pattern settings need workload.pattern"
            continue
        yield from _override_problem(lambda variant=variant: pattern_spec(exp, variant), ("variants", v, "pattern"))
        spec = or_none(lambda variant=variant: pattern_spec(exp, variant))
        for topic in spec.topics() if spec is not None else ():
            if topic not in names or topic == exp.workload.topic:
                yield ("variants", v, "pattern"), f"topic {topic!r} is not another of the topics {sorted(names)}"


def _schema_problems(exp: Experiment) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Schema files that do not exist or do not parse as Avro (one line each), and variant
    schema settings that do not validate."""
    from kchaos.patterns.schema import load_schema  # Avro's parser: only for files that use it

    for v, variant in enumerate(exp.variants):
        if variant.schemas and exp.workload.schemas is None:
            yield ("variants", v, "schemas"), "a variant's schema settings need workload.schemas"
        elif variant.schemas:
            yield from _override_problem(lambda variant=variant: schema_spec(exp, variant), ("variants", v, "schemas"))
    own = [(("workload", "schemas"), exp.workload.schemas.model_dump() if exp.workload.schemas else {})]
    own += [(("variants", v, "schemas"), x.schemas) for v, x in enumerate(exp.variants) if x.schemas]
    for where, fields in own:  # each file where it is named (a variant's own, not the ones it inherits)
        files = [("versions", f) for f in fields.get("versions", [])]
        files += [("readers", f) for f in (fields.get("readers") or {}).values()]
        for part, name in files:
            try:
                load_schema(schema_file(name))
            except BadInput as err:
                yield (*where, part), str(err)


def _override_problem(merge: Callable[[], Any], where: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """A variant's fields over the workload's (``group``, ``pipeline``) that do not validate."""
    try:
        merge()
    except ValidationError as err:
        e = err.errors()[0]
        yield (*where, *e["loc"]), f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"


def _consumer_problems(exp: Experiment) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Consumer settings that would fail mid-run: a key the chosen group protocol
    rejects, standby members outside processes, a variant's group fields."""
    spec = exp.workload.consumers
    for v, variant in enumerate(exp.variants):
        if variant.group and spec is None:
            yield ("variants", v, "group"), "a variant's group settings need workload.consumers"
        elif shape := sorted(set(variant.group) & {"groups", "members", "java_members", "standby", "process"}):
            yield (
                ("variants", v, "group", shape[0]),
                f"{shape[0]}: the group's shape is the workload's, not a variant's",
            )
        elif variant.group:
            yield from _override_problem(lambda variant=variant: group_spec(exp, variant), ("variants", v, "group"))
    if spec is None:
        return
    topics = {t.name for t in exp.topics}
    for v, variant in enumerate(exp.variants):
        read = group_spec_or_none(exp, variant)
        if read is not None and read.topic is not None and read.topic not in topics:
            where = (
                ("variants", v, "group", "topic") if "topic" in variant.group else ("workload", "consumers", "topic")
            )
            yield where, f"topic {read.topic!r}: not among the topics {sorted(topics)}"
    if spec.standby and not spec.process:
        yield ("workload", "consumers", "standby"), "standby members are started by start-client: set process: true"
    for v, variant in enumerate(exp.variants):
        conf = {**spec.config, **variant.consumer}
        if str(conf.get("group.protocol", "classic")).lower() != "consumer":
            continue
        for key in CLASSIC_ONLY:
            if key in variant.consumer:
                yield ("variants", v, "consumer", key), _classic_only(variant.name, key)
            elif key in spec.config:
                yield ("workload", "consumers", "config", key), _classic_only(variant.name, key)


def _pipeline_target_problem(
    exp: Experiment, t: targets.Target, step: FaultStep, variants: list[Variant]
) -> str | None:
    """``pipeline:M`` (``pattern:M``) must be a worker of every variant that runs the step;
    ``at`` (a point of a worker's loop) goes only with such a target, and the point must be
    one of that worker's."""
    at = step.args.get("at")
    if at and t.kind not in ("pipeline", "pattern"):
        return f"{step.do} {t.text()}: 'at' is a point of a worker's loop; use a pipeline:M or pattern:M target"
    if t.kind not in ("pipeline", "pattern"):
        return None
    points = PIPELINE_POINTS if t.kind == "pipeline" else PATTERN_POINTS
    if at and at != "between" and at not in points:
        return f"{step.do} {t.text()}: at {at!r} is not a point of a {t.kind} worker ({', '.join(points)}, between)"
    for v in variants:
        spec = pipeline_spec_or_none(exp, v) if t.kind == "pipeline" else or_none(lambda v=v: pattern_spec(exp, v))
        workers = spec.workers if spec is not None else 0
        if (t.index or 0) >= workers:
            return f"{t.text()}: variant {v.name!r} has {workers} {t.kind} workers"
    return None


def _target_problem(exp: Experiment, t: targets.Target, named: set[str], topics: set[str]) -> str | None:
    if t.kind == "$" and t.name not in named:
        return f"${t.name}: no earlier step is named {t.name!r} (add 'as: {t.name}' to the step that picks the node)"
    if t.topic is not None and t.topic not in topics:
        return f"{t.text()}: no topic {t.topic!r} in this experiment (topics: {', '.join(sorted(topics))})"
    if t.kind == "txn-coordinator" and (t.index or 0) >= exp.workload.producers:
        return f"{t.text()}: this workload has {exp.workload.producers} producers"
    if t.kind == "consumer":
        spec = exp.workload.consumers
        if spec is None or not (spec.process or (t.index or 0) >= spec.members):
            return f"{t.text()}: client faults need consumers in processes (workload.consumers.process: true)"
        size = spec.members + spec.java_members + spec.standby
        if (t.partition or 0) >= spec.groups or (t.index or 0) >= size:
            return f"{t.text()}: this workload has {spec.groups} groups of {size} members"
    if t.kind == "group-coordinator":
        groups = exp.workload.consumers.groups if exp.workload.consumers else 0
        if (t.index or 0) >= groups:
            return f"{t.text()}: this workload has {groups} consumer groups"
    return None


def _java_member_problem(exp: Experiment, do: str, t: targets.Target) -> str | None:
    """Kafka's VerifiableConsumer and a pipeline worker can be killed, paused and
    restarted, not told to hang, leave or join later."""
    if t.kind == "pipeline" and do in ("hang-client", "stop-client", "start-client"):
        return f"{do} {t.text()}: a pipeline worker can be killed, paused or restarted, not {do}"
    spec = exp.workload.consumers
    if t.kind != "consumer" or spec is None or do not in ("hang-client", "stop-client", "start-client"):
        return None
    if spec.members <= (t.index or 0) < spec.members + spec.java_members:
        return f"{do} {t.text()}: a Java member can be killed, paused or restarted, not {do}"
    return None
