"""Experiment files: YAML, validated into typed records, with errors that name file,
line and field.

An experiment names the question it answers, the cluster it needs, its topics, the
variants compared side by side, the workload, the fault schedule (with targets resolved
at run time) and the expectations per variant. See ``experiments/*.yaml``.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kchaos.checker.anomalies import KINDS
from kchaos.errors import BadInput

EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent / "experiments"
EXPECTATION = re.compile(r"^\s*([a-z_\-.0-9]+)\s*(==|!=|<=|>=|<|>)\s*(-?[0-9.]+)\s*$")
MEASUREMENTS = {
    "sends_attempted",
    "sends_ok",
    "sends_unknown",
    "sends_failed",
    "reads",
    "throughput_per_s",
    "produce_latency_ms.p50",
    "produce_latency_ms.p99",
    "produce_latency_ms.max",
    "unavailability_s",
    "longest_ack_gap_s",
    "end_to_end_latency_ms.p50",
    "end_to_end_latency_ms.p99",
    "leader_changes",
    "isr_min",
    "isr_shrinks",
    "isr_final",
    "under_replicated_s",
    "failed_not_enough_replicas",
    "leader_epoch_changes",
    "undrained",
    "unknown_seen",
    "txn_committed",
    "txn_aborted",
    "txn_unknown",
    "producer_crashes",
    "zombies_fenced",
    "aborted_in_log",
    "aborted_consumed",
    "segments_first",
    "segments_last",
    "segments_deleted",
    "log_start_offset",
    "segment_file_kinds",
    "records_decoded",
    "index_entries",
    "timeindex_entries",
}
ACTIONS = (
    "kill",
    "stop",
    "start",
    "pause",
    "resume",
    "isolate",
    "cut",
    "slow",
    "bandwidth",
    "reset_peer",
    "timeout",
    "heal",
    "crash_producer",
    "step",
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClusterNeeds(Strict):
    brokers: int = 3
    controllers: Literal["combined", "dedicated"] = "combined"
    broker_config: dict[str, str | int | bool] = Field(default_factory=dict)
    features: dict[str, int] = Field(default_factory=dict)


class Topic(Strict):
    name: str
    partitions: int = 1
    replication_factor: int = 3
    config: dict[str, str | int | bool] = Field(default_factory=dict)


class Durations(Strict):
    """Seconds per phase: steady (baseline) -> fault -> recovery (after heal)."""

    steady: float = 5
    fault: float = 10
    recovery: float = 5


class ConsumerGroups(Strict):
    groups: int = 1
    members: int = 2
    commit: Literal["auto", "sync", "async", "before"] = "sync"
    processing_ms: float = 0
    config: dict[str, str | int | bool] = Field(default_factory=dict)


class Workload(Strict):
    topic: str
    producers: int = 1
    rate: float = 500
    keys: Literal["uniform", "hot", "none"] = "uniform"
    key_count: int = 100
    value_bytes: int = 100
    consumers: ConsumerGroups | None = None
    txn_size: int = 10  # records per transaction, for producers with a transactional.id
    abort_every: int = 0  # abort every N-th transaction (0: never)
    watch: str | None = None  # topic:partition shown live and plotted (default: topic:0)


class FaultStep(Strict):
    """One action at ``at`` seconds into the fault phase. ``as`` names the resolved node
    so a later step can say ``target: $victim``."""

    at: float = 0
    do: str
    target: str | int | None = None
    to: str | int | None = None
    name: str | None = Field(default=None, alias="as")
    args: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("do")
    @classmethod
    def known_action(cls, v: str) -> str:
        v = v.replace("-", "_")
        if v not in ACTIONS:
            raise ValueError(f"unknown action {v!r}; known: {', '.join(ACTIONS)}")
        return v


class Variant(Strict):
    name: str
    nightly_only: bool = False  # left out of --quick runs to keep them short
    producer: dict[str, str | int | bool] = Field(default_factory=dict)
    consumer: dict[str, str | int | bool] = Field(default_factory=dict)
    topic_config: dict[str, str | int | bool] = Field(default_factory=dict)
    expect: list[str] = Field(default_factory=list)

    @field_validator("expect")
    @classmethod
    def parse_expectations(cls, items: list[str]) -> list[str]:
        for item in items:
            m = EXPECTATION.match(item)
            if not m:
                raise ValueError(f"expectation {item!r}: write NAME OP NUMBER, e.g. 'lost == 0'")
            name = m.group(1)
            if name not in KINDS and name not in MEASUREMENTS:
                close = difflib.get_close_matches(name, [*KINDS, *MEASUREMENTS], n=3)
                raise ValueError(
                    f"expectation {item!r}: unknown name {name!r}"
                    + (f" (did you mean {', '.join(close)}?)" if close else "")
                )
        return items


class Experiment(Strict):
    id: str
    question: str
    answer_hint: str = ""
    cluster: ClusterNeeds = Field(default_factory=ClusterNeeds)
    topics: list[Topic]
    workload: Workload
    faults: list[FaultStep] = Field(default_factory=list)
    variants: list[Variant]
    quick: Durations = Field(default_factory=Durations)
    nightly: Durations = Field(default_factory=lambda: Durations(steady=20, fault=40, recovery=20))

    @model_validator(mode="after")
    def topic_exists(self) -> Experiment:
        names = [t.name for t in self.topics]
        if self.workload.topic not in names:
            raise ValueError(f"workload.topic {self.workload.topic!r} is not among topics {names}")
        if not self.variants:
            raise ValueError("at least one variant is needed")
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
    """Read and validate one experiment file; a ``BadInput`` names file, line and field."""
    try:
        text = path.read_text()
    except OSError as err:
        raise BadInput(f"{path}: cannot read ({err.strerror})") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise BadInput(f"{path}{where}: not valid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: an experiment is a mapping (id, question, topics, workload, variants)")
    try:
        return Experiment.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(node, loc)
        msg = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            msg = f"unknown field {loc[-1]!r}"
        elif first["type"] == "missing":
            msg = "required field is missing"
        raise BadInput(f"{path}:{line}: {field}: {msg}") from None


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
