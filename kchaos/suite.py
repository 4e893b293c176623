"""The suite: every experiment (or the chosen ones) in one go, for nightly CI.

Experiments are grouped by the cluster they need (shape, broker config, features), and
each group runs on one cluster: a running one that fits is reused, else the suite starts
its own (``kchaos-suite``) and takes it down after the group. Between experiments the
cluster is healed and waited for until every partition has its full ISR again. Every run
writes its own report into the suite's folder; the suite adds ``summary.md``,
``summary.json`` and, when asked, JUnit XML. ``--budget`` stops before an experiment
that would not finish in time and says what did not run. Ctrl-C stops after healing,
and the summary says so.
"""

from __future__ import annotations

import datetime as dt
import difflib
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kchaos import experiment as experiments
from kchaos import profile as profiles
from kchaos.cluster import choose_backend, start_fresh, teardown
from kchaos.cluster.base import Cluster
from kchaos.cluster.inspect import wait_healthy
from kchaos.cluster.spec import ClusterSpec, config_text
from kchaos.errors import BadInput, KchaosError
from kchaos.experiment import Experiment
from kchaos.profile import Profile
from kchaos.report.suite import write_suite
from kchaos.results import Mode, Observer, SuiteEntry, SuiteObserver, SuiteResult
from kchaos.session import execute as execute_one
from kchaos.session import running_cluster

SUITE_CLUSTER, SUITE_BASE_PORT = "kchaos-suite", 29700
#: Seconds an experiment takes beyond its phases (topic setup, drain, check, report),
#: per variant, for ``--budget``'s estimate.
OVERHEAD_S = 15.0


def select(only: list[str] | None, skip: list[str] | None) -> list[str]:
    """The experiment ids to run: all shipped ones, or ``only``, minus ``skip``; an
    unknown id is a one-line error with the closest names."""
    known = list(experiments.catalog())
    for ref in [*(only or []), *(skip or [])]:
        if ref not in known:
            close = difflib.get_close_matches(ref, known, n=3, cutoff=0.4)
            raise BadInput(f"unknown experiment {ref!r}" + (f"; did you mean {', '.join(close)}?" if close else ""))
    chosen = [i for i in known if not only or i in only]
    return [i for i in chosen if i not in (skip or [])]


def need(exp: Experiment) -> tuple[Any, ...]:
    """What cluster an experiment needs, as a key: experiments with equal keys share one."""
    c = exp.cluster
    return (c.brokers, c.controllers, tuple(sorted(c.features.items())), tuple(sorted(c.broker_config.items())))


def plan(ids: list[str], profile: Profile | None) -> list[list[Experiment]]:
    """The experiments grouped by the cluster they need, groups in catalog order: one
    cluster start per group instead of one per experiment."""
    groups: dict[tuple[Any, ...], list[Experiment]] = {}
    for exp_id in ids:
        exp, _ = profiles.apply(experiments.load(experiments.find(exp_id)), profile)
        groups.setdefault(need(exp), []).append(exp)
    return list(groups.values())


def estimate(exp: Experiment, mode: Mode) -> float:
    """Seconds an experiment should take: its phases per variant run, plus overhead."""
    d = getattr(exp, mode)
    variants = [v for v in exp.variants if mode == "nightly" or not v.nightly_only]
    return len(variants) * (d.steady + d.fault + d.recovery + OVERHEAD_S)


def run_suite(
    mode: Mode = "quick",
    only: list[str] | None = None,
    skip: list[str] | None = None,
    budget_minutes: float | None = None,
    profile: Profile | None = None,
    backend: str = "auto",
    report_dir: Path = Path("reports"),
    progress: SuiteObserver | None = None,
    observers: list[Observer] | None = None,
) -> SuiteResult:
    """Run the suite; returns its result after writing the summary (and every report)."""
    ids = select(only, skip)
    groups = plan(ids, profile)
    now = dt.datetime.now(dt.UTC)
    result = SuiteResult(mode, Path(report_dir) / f"{now:%Y%m%dT%H%M%SZ}-suite", f"{now:%Y-%m-%d %H:%M:%SZ}")
    result.profile = profile.name if profile else None
    result.suite_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    chosen, _ = choose_backend(backend, (profile or Profile()).kafka_version or ClusterSpec().kafka_version)
    run = _SuiteRun(
        mode, budget_minutes, profile, chosen, result, progress or SuiteObserver(), observers, len(ids), started
    )
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a CI cancel stops like Ctrl-C: healed, summarised
    try:
        for group in groups:
            run.group(group)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
    done = {e.experiment for e in result.entries}
    result.entries += [
        SuiteEntry(i, experiments.load(experiments.find(i)).question, "NOT RUN", why_not_run="interrupted")
        for i in ids
        if i not in done
    ]
    result.seconds = round(time.monotonic() - run.started, 1)
    write_suite(result)
    return result


@dataclass
class _SuiteRun:
    """One suite run in progress: what every group of experiments shares (the budget's
    clock, the backend, where results and progress go) and how many have started."""

    mode: Mode
    budget_minutes: float | None
    profile: Profile | None
    backend: str
    result: SuiteResult
    progress: SuiteObserver
    observers: list[Observer] | None
    total: int
    started: float  # time.monotonic() when the suite began: the budget's clock
    index: int = 0

    def group(self, group: list[Experiment]) -> None:
        """Run a group of experiments on one cluster (started for the first that runs,
        torn down after the last); a group whose cluster fails marks the rest NOT RUN."""
        cluster, owned, result = None, False, self.result
        try:
            for exp in group:
                self.index += 1
                left = self.budget_minutes * 60 - (time.monotonic() - self.started) if self.budget_minutes else None
                if left is not None and estimate(exp, self.mode) > left:
                    why = f"budget: about {estimate(exp, self.mode):.0f} s needed, {max(left, 0):.0f} s left"
                    result.entries.append(SuiteEntry(exp.id, exp.question, "NOT RUN", why_not_run=why))
                    continue
                if cluster is None:
                    cluster, owned = _cluster_for(exp, self.backend, self.profile, result)
                self._one(exp, cluster)
        except KchaosError as err:  # the group's cluster failed: its other experiments cannot run
            missing = f"the cluster failed: {err}"
            done = {e.experiment for e in result.entries}
            result.entries += [
                SuiteEntry(e.id, e.question, "NOT RUN", why_not_run=missing) for e in group if e.id not in done
            ]
        finally:
            if owned and cluster is not None:
                teardown(cluster.name)

    def _one(self, exp: Experiment, cluster: Cluster) -> None:
        """One experiment, then the cluster made healthy again (that reset belongs to the
        experiment's time)."""
        self.progress.experiment_started(self.index, self.total, exp.id)
        t0 = time.monotonic()
        entry = _run_one(exp, self.mode, cluster, self.profile, self.result.suite_dir, self.observers)
        self.result.entries.append(entry)
        if entry.run is not None and entry.run.interrupted:
            raise KeyboardInterrupt
        try:
            wait_healthy(cluster)
        finally:
            entry.seconds = round(time.monotonic() - t0, 1)
            self.progress.experiment_finished(self.index, self.total, entry)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _cluster_for(exp: Experiment, backend: str, profile: Profile | None, result: SuiteResult) -> tuple[Cluster, bool]:
    """A running cluster that fits (reused, not owned), else one the suite starts."""
    wanted = profile or Profile()  # an empty profile asks nothing
    reuse = running_cluster(exp, backend, wanted.kafka_version)
    if reuse is not None:
        result.cluster_starts.append({"cluster": reuse.name, "reused": True, "seconds": 0.0, "for": exp.id})
        return reuse, False
    spec = ClusterSpec(
        brokers=exp.cluster.brokers,
        controllers=exp.cluster.controllers,
        features=dict(exp.cluster.features),
        broker_config={k: config_text(v) for k, v in exp.cluster.broker_config.items()},
        kafka_version=wanted.kafka_version or ClusterSpec().kafka_version,
        name=SUITE_CLUSTER,
        base_port=SUITE_BASE_PORT,
    )
    cluster, seconds = start_fresh(spec, backend, wanted.kafka_image, wanted.toxiproxy_image)
    result.cluster_starts.append(
        {"cluster": SUITE_CLUSTER, "reused": False, "seconds": round(seconds, 1), "for": exp.id}
    )
    return cluster, True


def _run_one(
    exp: Experiment,
    mode: Mode,
    cluster: Cluster,
    profile: Profile | None,
    suite_dir: Path,
    observers: list[Observer] | None,
) -> SuiteEntry:
    try:
        run = execute_one(exp.id, mode, report_dir=suite_dir, cluster=cluster, profile=profile, observers=observers)
    except Exception as err:  # noqa: BLE001 - one experiment's failure is its FAIL, not the suite's end
        return SuiteEntry(exp.id, exp.question, "FAIL", why_not_run=f"{type(err).__name__}: {err}")
    return SuiteEntry(exp.id, exp.question, run.verdict, run=run)
