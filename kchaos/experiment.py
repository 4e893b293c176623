"""Experiment files: YAML, validated into typed records, with errors that name file,
line and field.

An experiment names the question it answers, the cluster it needs, its topics, the
variants compared side by side, the workload, the fault schedule (with targets resolved
at run time) and the expectations per variant. See ``experiments/*.yaml``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kchaos import claims
from kchaos.checker.anomalies import KINDS, NEEDS
from kchaos.checker.measurements import MEASURES, measure
from kchaos.cluster import targets
from kchaos.errors import BadInput
from kchaos.faults import actions, steps
from kchaos.faults.step import FaultStep
from kchaos.paths import EXPERIMENTS_DIR, schema_file
from kchaos.patterns.worker import POINTS as PATTERN_POINTS
from kchaos.workload.pipeline import POINTS as PIPELINE_POINTS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClusterNeeds(Strict):
    brokers: int = Field(3, ge=1, le=9)  # what ClusterSpec can start
    controllers: Literal["combined", "dedicated"] = "combined"
    broker_config: dict[str, str | int | bool] = Field(default_factory=dict)
    features: dict[str, int] = Field(default_factory=dict)

    @field_validator("broker_config")
    @classmethod
    def no_listener_keys(cls, config: dict[str, str | int | bool]) -> dict[str, str | int | bool]:
        from kchaos.filechecks import broker_config_problem  # listeners stay loopback-only

        for key, value in config.items():
            if problem := broker_config_problem(key, value):
                raise ValueError(problem)
        return config

    @field_validator("features")
    @classmethod
    def feature_names(cls, features: dict[str, int]) -> dict[str, int]:
        from kchaos.filechecks import feature_problem  # a name reaches the storage tool's argv

        for name, level in features.items():
            if problem := feature_problem(name, level):
                raise ValueError(problem)
        return features


class Topic(Strict):
    name: str
    partitions: int = Field(1, ge=1, le=10_000)
    replication_factor: int = Field(3, ge=1, le=9)
    config: dict[str, str | int | bool] = Field(default_factory=dict)


class Durations(Strict):
    """Seconds per phase: steady (baseline) -> fault -> recovery (after heal). Finite:
    a NaN phase never ends; at most a day (a typo of 1e30 is not a run)."""

    steady: float = Field(5, ge=0, le=86_400, allow_inf_nan=False)
    fault: float = Field(10, ge=0, le=86_400, allow_inf_nan=False)
    recovery: float = Field(5, ge=0, le=86_400, allow_inf_nan=False)


class ConsumerGroups(Strict):
    groups: int = 1
    members: int = 2
    commit: Literal["auto", "store", "sync", "async", "before"] = "sync"
    commit_every: int = 1  # sync/async: commit after every N-th batch (uncommitted work in between)
    commit_on_revoke: bool = False  # commit what was processed inside the revoke callback
    process: bool = False  # each member in a child process (needed by kill-client, pause-client)
    standby: int = 0  # more members per group, started only by start-client (process: true)
    static_members: list[int] = Field(default_factory=list)  # members with a group.instance.id (static membership)
    batch: int = 500  # records a poll hands over at most (small with slow processing: a rebalance waits for it)
    poll_ms: int = 200  # how long a poll waits to fill its batch
    java_members: int = 0  # more members per group: Kafka's own VerifiableConsumer (consumer:G:M, M >= members)
    processing_ms: float | list[float] = 0.0  # per record; a list: per group (g0, g1, ...; the last one repeats)

    def processing_of(self, group: int) -> float:
        if isinstance(self.processing_ms, list):
            return self.processing_ms[min(group, len(self.processing_ms) - 1)] if self.processing_ms else 0
        return self.processing_ms

    topic: str | None = None  # the topic the groups read (default: the workload's)
    config: dict[str, str | int | bool] = Field(default_factory=dict)


class PipelineSpec(Strict):
    """Consume-transform-produce workers (``workload.pipeline``) reading the workload's
    topic and writing ``output``, one output per input (``kchaos.workload.pipeline``)."""

    output: str  # a topic of this experiment
    workers: int = 2
    mode: Literal["exactly-once", "at-least-once", "at-most-once"] = "exactly-once"
    batch: int = 50  # records per batch (per transaction in exactly-once)
    poll_ms: int = 200
    store: Literal["none", "sqlite", "sqlite-idempotent"] = "none"  # a side effect outside Kafka per record
    config: dict[str, str | int | bool] = Field(default_factory=dict)  # the workers' consumer
    producer: dict[str, str | int | bool] = Field(default_factory=dict)  # the workers' producer


class HandlerSpec(Strict):
    """The pattern workers' handler (``kchaos.patterns.handler.FlakyHandler``): which
    records fail and how (shares of the records, chosen by a hash of the record's id)."""

    transient: float = 0.0  # fail with TransientError on the first transient_failures attempts
    transient_failures: int = 2
    poison: float = 0.0  # fail on every attempt
    strict_utf8: bool = False  # a value that is not UTF-8 is undecodable (see workload.corrupt)
    fixed: bool = False  # the fixed version (the deploy-fix step sets it mid-run)
    processing_ms: float = 0.0


class PatternSpec(Strict):
    """Pattern workers (``workload.pattern``, ``kchaos.patterns.worker``): a group that
    reads the workload's topic and hands each record to a handler, with retries (in place
    or through retry topics), a dead-letter topic and in-partition parallelism."""

    workers: int = 2
    handler: HandlerSpec = Field(default_factory=HandlerSpec)
    retry: Literal["none", "blocking", "topics"] = "none"
    attempts: int = 3  # tries in all, the first included
    backoff_ms: float = 200.0  # blocking: the wait between tries
    retry_topics: list[str] = Field(default_factory=list)  # topics: one per try after the first
    delays_ms: list[float] = Field(default_factory=list)  # topics: each retry topic's delay
    dead_letter: str | None = None  # a topic of this experiment; none: a record that fails for good is dropped
    dedupe: bool = False  # remember finished records: a re-delivered one is not done again
    # Kafka's share group (KIP-932) in place of a consumer group: transient failures are
    # RELEASEd (delivered again up to ``attempts``), permanent ones REJECTed, and the broker
    # writes them to ``dead_letter`` (KIP-1191; its name must start with "dlq.").
    share: bool = False
    parallel: int = 1  # threads per worker
    ordering: Literal["key", "none"] = "key"  # parallel: one key on one thread, or records dealt in turn
    batch: int = 100
    poll_ms: int = 200
    config: dict[str, str | int | bool] = Field(default_factory=dict)  # the workers' consumer
    producer: dict[str, str | int | bool] = Field(default_factory=dict)  # the workers' producer (copies)

    @model_validator(mode="after")
    def plan_fits(self) -> PatternSpec:
        if self.retry == "topics" and len(self.retry_topics) < self.attempts - 1:
            raise ValueError(f"{self.attempts} attempts through retry topics need {self.attempts - 1} retry_topics")
        if len(self.delays_ms) != len(self.retry_topics):
            raise ValueError("delays_ms: one delay per retry topic")
        if self.share and (self.retry != "none" or self.dedupe or self.parallel > 1):
            raise ValueError("share: the broker retries (RELEASE) and dead-letters; no retry, dedupe or parallel")
        if self.share and self.dead_letter and not self.dead_letter.startswith("dlq."):
            raise ValueError(f"share: the broker's dead-letter topic must be named dlq.*, not {self.dead_letter!r}")
        return self

    def topics(self) -> list[str]:
        """The topics the pattern writes copies to (retry topics, then the dead-letter topic)."""
        return [*self.retry_topics, *([self.dead_letter] if self.dead_letter else [])]


COMPATIBILITY = Literal[
    "NONE", "BACKWARD", "FORWARD", "FULL", "BACKWARD_TRANSITIVE", "FORWARD_TRANSITIVE", "FULL_TRANSITIVE"
]


class SchemaSpec(Strict):
    """Avro records whose schema evolves (``workload.schemas``, question 6.4): one producer
    deploys ``versions`` in turn, every ``every_s`` seconds, through a schema registry
    whose subject is at ``compatibility``; each of ``readers`` (name -> reader schema) is
    a consumer group deployed with that schema. Schema files are found under
    experiments/schemas (or by their path). A record a reader cannot decode goes to
    ``dead_letter``."""

    versions: list[str] = Field(min_length=1)
    every_s: float = 3.0
    compatibility: COMPATIBILITY = "BACKWARD"
    readers: dict[str, str] = Field(min_length=1)
    dead_letter: str | None = None

    @field_validator("readers")
    @classmethod
    def reader_names(cls, readers: dict[str, str]) -> dict[str, str]:
        for name in readers:
            if not re.fullmatch(r"[a-z][a-z0-9]*", name):
                raise ValueError(f"reader {name!r}: a name of lower-case letters and digits (it names a group)")
        return readers


class Workload(Strict):
    topic: str
    producers: int = 1
    rate: float = 500
    keys: Literal["uniform", "hot", "none"] = "uniform"
    key_count: int = 100
    value_bytes: int = 100
    consumers: ConsumerGroups | None = None
    pipeline: PipelineSpec | None = None
    pattern: PatternSpec | None = None
    schemas: SchemaSpec | None = None
    corrupt: float = 0.0  # the share of records whose value is not valid UTF-8 (undecodable)
    txn_size: int = 10  # records per transaction, for producers with a transactional.id
    abort_every: int = 0  # abort every N-th transaction (0: never)
    java_producers: int = 0  # more producers: Kafka's own VerifiableProducer, beside the Python ones
    watch: str | None = None  # topic:partition shown live and plotted (default: topic:0)
    key_prefix: str = "k"  # keys are PREFIX0..PREFIX{key_count-1}; "" gives VerifiableProducer's keys "0", "1", ...
    volume_mb: float = 0  # each Python producer stops after this many MB of values (0: runs for the phases)


#: The workload fields a variant may set (``Variant.workload``): its shape (topic,
#: consumers, pipeline) stays the experiment's.
VARIANT_WORKLOAD = frozenset(
    {"producers", "rate", "keys", "key_count", "value_bytes", "java_producers", "key_prefix", "volume_mb", "corrupt"}
)


def variant_id(name: str) -> str:
    """The short id a variant gets when its file gives none: its name, lowercased, with
    every run of other characters made one '-' (``acks=all, idempotent`` -> ``acks-all-idempotent``)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24].rstrip("-") or "v"


class Claim(Strict):
    """A sentence of the answer and the condition the run checks (``kchaos.claims``).
    ``variant`` is the variant that names without ``@`` belong to."""

    say: str = ""
    holds: str
    variant: str | None = None

    @field_validator("holds")
    @classmethod
    def parse_condition(cls, text: str) -> str:
        claims.parse(text)
        return text

    @field_validator("say")
    @classmethod
    def parse_placeholders(cls, text: str) -> str:
        claims.placeholders(text)
        return text


class Variant(Strict):
    name: str
    # The short id claims use (``lost@acks1``): lowercase letters, digits and '-'.
    id: str = ""
    nightly_only: bool = False  # left out of --quick runs to keep them short
    producer: dict[str, str | int | bool] = Field(default_factory=dict)
    consumer: dict[str, str | int | bool] = Field(default_factory=dict)
    java_producer: dict[str, str | int | bool] = Field(default_factory=dict)  # Java-only names, for the Java roles
    java_consumer: dict[str, str | int | bool] = Field(default_factory=dict)
    topic_config: dict[str, str | int | bool] = Field(default_factory=dict)
    # How this variant's group consumes, over workload.consumers (commit, commit_every, ...).
    group: dict[str, str | int | bool] = Field(default_factory=dict)
    # How this variant's pipeline runs, over workload.pipeline (mode, store, batch, ...).
    pipeline: dict[str, Any] = Field(default_factory=dict)
    # How this variant's pattern workers run, over workload.pattern (retry, dedupe, parallel, ...).
    pattern: dict[str, Any] = Field(default_factory=dict)
    # This variant's schema settings, over workload.schemas (compatibility, versions, readers).
    schemas: dict[str, Any] = Field(default_factory=dict)
    txn_size: int | None = None  # records per transaction, over workload.txn_size
    workload: dict[str, Any] = Field(default_factory=dict)  # rate, value_bytes, ... over the workload's
    partitions: int | None = None  # the workload topic's partition count in this variant
    # Broker settings for this variant, set on every broker as dynamic configs before it
    # and removed after it, which gives each broker its server.properties value back
    # (only settings Kafka can change on a running broker).
    broker_config: dict[str, str | int | bool] = Field(default_factory=dict)
    faults: list[FaultStep] | None = None  # this variant's own fault schedule, in place of the experiment's
    expect: list[str] = Field(default_factory=list)
    # Kafka features this variant needs (kchaos.features): skipped, with the reason, on a
    # cluster that lacks one.
    requires: list[str] = Field(default_factory=list)

    @field_validator("requires")
    @classmethod
    def known_features(cls, names: list[str]) -> list[str]:
        from kchaos import features

        if problem := features.unknown_problem(names):
            raise ValueError(problem)
        return names

    @field_validator("workload")
    @classmethod
    def workload_fields(cls, fields: dict[str, Any]) -> dict[str, Any]:
        other = sorted(set(fields) - VARIANT_WORKLOAD)
        if other:
            raise ValueError(
                f"a variant cannot set workload {', '.join(other)}; it may set {', '.join(sorted(VARIANT_WORKLOAD))}"
            )
        Workload.model_validate({"topic": "t", **fields})
        return fields

    @field_validator("expect")
    @classmethod
    def parse_expectations(cls, items: list[str]) -> list[str]:
        for item in items:
            claims.parse(item)
        return items

    @model_validator(mode="after")
    def short_id(self) -> Variant:
        if not self.id:
            self.id = variant_id(self.name)
        if not claims.VARIANT_ID.match(self.id):
            raise ValueError(f"id {self.id!r}: 1 to 24 lowercase letters, digits or '-', starting with a letter")
        return self


class Experiment(Strict):
    id: str
    question: str  # the article's question, word for word (book headings, kchaos list)
    number: str | None = None  # its number in the article (1.1 .. 6.5): kchaos list and the book sort by it
    # The answer: sentences the run checks, in the order the report prints them.
    claims: list[Claim] = Field(default_factory=list)
    # How the mechanism works, where no run can measure it: no number, no contrast.
    background: str = ""
    cite: list[str] = Field(default_factory=list)  # measurements the report quotes per variant

    @field_validator("number")
    @classmethod
    def article_number(cls, number: str | None) -> str | None:
        if number is not None and not re.fullmatch(r"[1-9][0-9]?\.[1-9][0-9]?", number):
            raise ValueError(f"number {number!r}: the article's numbering, CLUSTER.QUESTION (e.g. '2.5')")
        return number

    compare: list[str] = Field(default_factory=list)  # measurements drawn as one bar chart across variants
    # One sentence per phase for workshop mode (--present); a phase left out is narrated
    # from the workload and the fault schedule.
    narration: dict[Literal["steady", "fault", "heal", "recovery", "drain"], str] = Field(default_factory=dict)
    cluster: ClusterNeeds = Field(default_factory=ClusterNeeds)
    topics: list[Topic]
    workload: Workload
    faults: list[FaultStep] = Field(default_factory=list)
    variants: list[Variant]
    quick: Durations = Field(default_factory=Durations)
    nightly: Durations = Field(default_factory=lambda: Durations(steady=20, fault=40, recovery=20))

    @field_validator("cite", "compare")
    @classmethod
    def known_measurements(cls, items: list[str]) -> list[str]:
        for name in items:
            if name not in KINDS and measure(name) is None:
                close = difflib.get_close_matches(name, [*KINDS, *MEASURES], n=3)
                raise ValueError(
                    f"unknown measurement {name!r}" + (f" (did you mean {', '.join(close)}?)" if close else "")
                )
        return items

    @model_validator(mode="after")
    def topic_exists(self) -> Experiment:
        names = [t.name for t in self.topics]
        if self.workload.topic not in names:
            raise ValueError(f"workload.topic {self.workload.topic!r} is not among topics {names}")
        pipe = self.workload.pipeline
        if pipe is not None and (pipe.output not in names or pipe.output == self.workload.topic):
            raise ValueError(f"workload.pipeline.output {pipe.output!r}: another of the topics {names}")
        schema = self.workload.schemas
        if schema is not None and schema.dead_letter and schema.dead_letter not in names:
            raise ValueError(f"workload.schemas.dead_letter {schema.dead_letter!r}: not among the topics {names}")
        if schema is not None and (self.workload.pattern or self.workload.pipeline or self.workload.consumers):
            raise ValueError("workload.schemas brings its own producer and readers: no consumers, pipeline or pattern")
        pattern = self.workload.pattern
        for topic in pattern.topics() if pattern is not None else ():
            if topic not in names or topic == self.workload.topic:
                raise ValueError(f"workload.pattern: topic {topic!r} is not another of the topics {names}")
        if not self.variants:
            raise ValueError("at least one variant is needed")
        ids = [v.id for v in self.variants]
        if len(set(ids)) != len(ids):
            raise ValueError(f"variant ids must differ: {ids} (give each variant an 'id:')")
        return self


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Walk a composed YAML node along a pydantic error location to its line (1-based)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                key = next((k for k, _ in node.value if k.value == part), None)
                return key.start_mark.line + 1 if key is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def load(path: Path) -> Experiment:
    """Read and validate one experiment file; a ``BadInput`` names file, line and field
    of the first mistake (``check`` lists them all)."""
    exp, errors = check(path)
    if errors:
        raise BadInput(errors[0])
    return exp  # type: ignore[return-value]


def check(path: Path) -> tuple[Experiment | None, list[str]]:
    """The experiment, or every mistake in the file, one line each (``file:line: field: what``)."""
    from kchaos import yamlsafe  # size cap, UTF-8, duplicate keys, depth and alias bounds

    try:
        node, data = yamlsafe.load(path, "experiment file")
    except BadInput as err:
        return None, [str(err)]
    if not isinstance(data, dict):
        return None, [f"{path}: an experiment is a mapping (id, question, topics, workload, variants)"]
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as err:
        return None, [explain_error(path, node, e) for e in err.errors()]
    from kchaos.filechecks import schema_path_problems  # before any schema file is opened

    found = list(schema_path_problems(path, exp)) or list(problems(exp))
    return exp, [f"{path}:{_line_of(node, loc)}: {'.'.join(map(str, loc))}: {msg}" for loc, msg in found]


def explain_error(path: Path, node: yaml.Node | None, error: Any) -> str:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
    field = ".".join(str(p) for p in loc) or "(top level)"
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        msg = f"unknown field {loc[-1]!r}"
    elif error["type"] == "missing":
        msg = "required field is missing"
    return f"{path}:{_line_of(node, loc)}: {field}: {msg}"


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


def settings(exp: Experiment, variant: Variant) -> dict[str, dict[str, Any]]:
    """The settings the file states for a variant, by scope: what a claim may compare a
    time with (``broker:broker.session.timeout.ms``)."""
    topic = next(t for t in exp.topics if t.name == exp.workload.topic)
    groups = _safe_group_spec(exp, variant)
    workers = _safe(lambda: pipeline_spec(exp, variant)) or _safe(lambda: pattern_spec(exp, variant))
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


#: Consumer settings the KIP-848 protocol (group.protocol=consumer) moves to the broker:
#: librdkafka refuses to create a consumer that sets them.
CLASSIC_ONLY = ("session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy")


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


def pattern_spec(exp: Experiment, variant: Variant) -> PatternSpec | None:
    """The variant's pattern workers: ``workload.pattern`` with its ``pattern`` fields over it."""
    spec = exp.workload.pattern
    if spec is not None and variant.pattern:
        spec = PatternSpec.model_validate({**spec.model_dump(), **variant.pattern})
    return spec if spec is not None and spec.workers > 0 else None


def _pattern_problems(exp: Experiment) -> Iterator[tuple[tuple[Any, ...], str]]:
    names = {t.name for t in exp.topics}
    for v, variant in enumerate(exp.variants):
        if not variant.pattern:
            continue
        if exp.workload.pattern is None:
            yield ("variants", v, "pattern"), "a variant's pattern settings need workload.pattern"
            continue
        yield from _override_problem(lambda variant=variant: pattern_spec(exp, variant), ("variants", v, "pattern"))
        spec = _safe(lambda variant=variant: pattern_spec(exp, variant))
        for topic in spec.topics() if spec is not None else ():
            if topic not in names or topic == exp.workload.topic:
                yield ("variants", v, "pattern"), f"topic {topic!r} is not another of the topics {sorted(names)}"


def schema_spec(exp: Experiment, variant: Variant) -> SchemaSpec | None:
    """The variant's schema workload: ``workload.schema`` with its ``schema`` fields over it."""
    spec = exp.workload.schemas
    if spec is not None and variant.schemas:
        spec = SchemaSpec.model_validate({**spec.model_dump(), **variant.schemas})
    return spec


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


def _safe(merge: Callable[[], Any]) -> Any:
    try:
        return merge()
    except ValidationError:
        return None  # reported by the problems of its own part


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
        read = _safe_group_spec(exp, variant)
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
        spec = _safe_pipeline_spec(exp, v) if t.kind == "pipeline" else _safe(lambda v=v: pattern_spec(exp, v))
        workers = spec.workers if spec is not None else 0
        if (t.index or 0) >= workers:
            return f"{t.text()}: variant {v.name!r} has {workers} {t.kind} workers"
    return None


def _safe_pipeline_spec(exp: Experiment, variant: Variant) -> PipelineSpec | None:
    try:
        return pipeline_spec(exp, variant)
    except ValidationError:
        return None  # reported by _pipeline_problems


def _safe_group_spec(exp: Experiment, variant: Variant) -> ConsumerGroups | None:
    try:
        return group_spec(exp, variant)
    except ValidationError:
        return None  # reported by _consumer_problems


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


def capabilities(exp: Experiment, variant: Variant) -> frozenset[str]:
    """What this variant's workload produces, in the words of ``NEEDS``."""
    can = set()
    if "transactional.id" in variant.producer:
        can.add("txn")
    if exp.workload.consumers is not None:
        can.add("group")
    pipe = _safe_pipeline_spec(exp, variant)
    if pipe is not None:
        can |= {"pipeline", "group"} | ({"txn"} if pipe.mode == "exactly-once" else set())
        if pipe.store != "none":
            can.add("store")
    if _safe(lambda: pattern_spec(exp, variant)) is not None:
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


def number_key(number: str | None) -> tuple[int, ...]:
    """Sort key of an article number (``"2.10"`` after ``"2.9"``); unnumbered ones last."""
    if not number:
        return (10**6,)
    return tuple(int(part) if part.isdigit() else 10**6 for part in number.split("."))


def plan(exp: Experiment) -> str:
    """The resolved plan of an experiment, as ``kchaos validate`` prints it: phases,
    fault steps in time order with every argument (defaults filled in), variants, claims."""
    lines = [f"{exp.id}: {(exp.number + ' ') if exp.number else ''}{exp.question}"]
    for mode in ("quick", "nightly"):
        d = getattr(exp, mode)
        lines.append(
            f"  {mode}: steady {d.steady:g} s -> fault {d.fault:g} s -> heal -> recovery {d.recovery:g} s -> drain"
        )
    for step in sorted(exp.faults, key=lambda f: f.at):
        act = actions.action(step.do)
        if act.name == "step":
            args = {
                "name": step.args.get("name"),
                **steps.bind(step.args.get("name"), {k: v for k, v in step.args.items() if k != "name"}),
            }
        else:
            args = act.bind(step.args)
        where = f" {step.target}" + (f" -> {step.to}" if step.to is not None else "") if step.target is not None else ""
        named = f" as {step.name}" if step.name else ""
        shown = ", ".join(f"{k}={v}" for k, v in args.items())
        lines.append(f"  fault +{step.at:g} s: {act.name}{where}{named}" + (f" ({shown})" if shown else ""))
    for v in exp.variants:
        extra = (" (nightly only)" if v.nightly_only else "") + (
            f" (needs {', '.join(v.requires)})" if v.requires else ""
        )
        lines.append(f"  variant {v.id} {v.name!r}{extra}: {len(v.expect)} expectations: {'; '.join(v.expect)}")
        if v.faults is not None:
            own = ", ".join(f"+{s.at:g} s {s.do} {s.target if s.target is not None else ''}".strip() for s in v.faults)
            lines.append(f"    its own faults: {own or 'none'}")
    nightly = {v.id for v in exp.variants if v.nightly_only}
    for i, c in enumerate(exp.claims, 1):
        named = {r.bound(c.variant).variant for r in claims.parse(c.holds).refs()}
        when = " (nightly only)" if named & nightly else ""
        lines.append(f"  claim {i}{when}: {c.holds}" + (f" -- {c.say}" if c.say else ""))
    return "\n".join(lines)


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


def catalog() -> dict[str, Path]:
    """Every experiment shipped in ``experiments/``, by id (the file's stem)."""
    return {p.stem: p for p in sorted(EXPERIMENTS_DIR.glob("*.yaml"))}


def find(ref: str) -> Path:
    """An experiment by id or by path; an unknown id gets the closest names."""
    path = Path(ref)
    if ref.endswith((".yaml", ".yml")) or path.exists():
        if not path.exists():
            raise BadInput(f"{ref}: no such experiment file")
        return path
    known = catalog()
    if ref in known:
        return known[ref]
    close = difflib.get_close_matches(ref, list(known), n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(known)}"
    raise BadInput(f"unknown experiment {ref!r}{hint} (kchaos list shows all)")
