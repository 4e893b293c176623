"""What a run produces, and the events it announces while it runs.

The runner fills these; the report, the live view and ``summary.json`` read them. They
know nothing of how a run is driven, so a UI or a reporter depends on this module, not
on the orchestrator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kchaos.experiment import Durations, Experiment, Variant

Mode = Literal["quick", "nightly"]
#: How the terminal shows each verdict (SKIP: the cluster lacks what every variant needs).
VERDICT_COLORS = {"PASS": "green", "SKIP": "yellow", "NOT RUN": "yellow", "FAIL": "red"}


class Observer:
    """Subscriber of run events; every method is a no-op unless overridden. An observer
    with ``steps`` true holds the run in ``gate`` before each phase (workshop mode)."""

    steps: bool = False

    def gate(self, phase: str) -> None: ...

    def variant_started(self, index: int, variant: Variant, durations: Durations) -> None: ...
    def tick(self, snapshot: dict[str, Any]) -> None: ...
    def phase(self, name: str) -> None: ...
    def variant_finished(self, result: VariantResult) -> None: ...


@dataclass
class VariantResult:
    name: str
    config: dict[str, Any]
    topic: str
    history: Path
    anomalies: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[Any]] = field(default_factory=dict)
    undrained: list[Any] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)
    timelines: dict[str, Any] = field(default_factory=dict)
    expectations: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    id: str = ""  # the variant's short id, as claims name it (lost@acks1)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # what the file states, by scope

    @property
    def passed(self) -> bool:
        return all(e["held"] for e in self.expectations)


@dataclass
class RunResult:
    experiment: Experiment
    mode: Mode
    seed: int
    backend: str
    kafka_version: str
    run_dir: Path
    command: str
    variants: list[VariantResult] = field(default_factory=list)
    interrupted: bool = False
    error: str | None = None
    started_utc: str = ""
    profile: dict[str, Any] | None = None  # what a profile set and what the experiment kept (kchaos.profile)
    # The experiment's claims, judged across the variants that ran (expectations.judge).
    claims: list[dict[str, Any]] = field(default_factory=list)
    # Variants this cluster cannot run (a Kafka feature they need is missing): name, id, why.
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """PASS, FAIL, or SKIP: every variant needs a feature this cluster lacks, so the
        run shows nothing about it (not a failure of the user's Kafka)."""
        if self.skipped and not self.variants and not self.interrupted and self.error is None:
            return "SKIP"
        ok = (
            not self.interrupted
            and self.error is None
            and self.variants
            and all(v.passed for v in self.variants)
            and all(c["held"] is not False for c in self.claims)
        )
        return "PASS" if ok else "FAIL"


@dataclass
class SuiteEntry:
    """One experiment of a suite: its run's result, or why it did not run."""

    experiment: str
    question: str
    verdict: str  # PASS, FAIL, SKIP (no variant this cluster can run), or NOT RUN
    seconds: float = 0.0
    run: RunResult | None = None
    why_not_run: str = ""


class SuiteObserver:
    """Told when each experiment of a suite starts and ends (the CLI's progress view)."""

    def experiment_started(self, index: int, total: int, exp_id: str) -> None: ...
    def experiment_finished(self, index: int, total: int, entry: SuiteEntry) -> None: ...


@dataclass
class SuiteResult:
    mode: Mode
    suite_dir: Path
    started_utc: str
    entries: list[SuiteEntry] = field(default_factory=list)
    interrupted: bool = False
    profile: str | None = None
    seconds: float = 0.0
    cluster_starts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.interrupted and bool(self.entries) and all(e.verdict in ("PASS", "SKIP") for e in self.entries)
