"""Experiment files as typed records: what a file may say, and the checks one field (or
one block) can make on its own. Whole-file checks are ``kchaos.spec.validate``'s; how a
variant's settings merge with the file's is ``kchaos.spec.resolve``'s.

An experiment names the question it answers, the cluster it needs, its topics, the
variants compared side by side, the workload, the fault schedule (with targets resolved
at run time) and the claims the run checks. See ``experiments/*.yaml``.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kchaos import claims
from kchaos.checker.anomalies import KINDS
from kchaos.checker.measurements import MEASURES, measure
from kchaos.faults.step import FaultStep


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
