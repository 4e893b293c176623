"""The runner: one experiment, every variant, end to end.

For each variant: fresh topics -> workload (producers, consumer groups) -> steady phase
-> fault phase (the nemesis runs the schedule) -> heal -> recovery -> drain -> check ->
measure -> expectations. Observers (the live view, the report) subscribe to run events;
the runner knows neither. Whatever happens (Ctrl-C, an error), faults are healed and the
workload stopped on the way out, and a partial result is marked interrupted.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from kchaos import features
from kchaos.checker import build, check_index
from kchaos.checker import measurements as measure
from kchaos.cluster.base import Cluster
from kchaos.cluster.inspect import finalized_features
from kchaos.cluster.readiness import wait_writable
from kchaos.completion import catch_up, drain_all, quiet_time, settle
from kchaos.events import Client, Meta, Phase
from kchaos.expectations import evaluate, judge
from kchaos.experiment import Experiment, PipelineSpec, Variant, number
from kchaos.faults.nemesis import Nemesis
from kchaos.faults.steps.broker import set_broker_configs
from kchaos.history import HistoryWriter, load
from kchaos.phases import Ticker, run_phases
from kchaos.results import Observer, RunResult, VariantResult
from kchaos.roles import GROUP_WAIT_S, Member, Producer, Roles, VariantContext, group_ids, group_topics
from kchaos.spec.resolve import ResolvedVariant, features_of, resolve
from kchaos.variant_topics import create_topics, delete_topics, wait_known_everywhere, wait_replicated
from kchaos.workload import pipeline
from kchaos.workload.child import ClientProcess
from kchaos.workload.consumer import wait_for_members
from kchaos.workload.groupwatch import GroupWatcher
from kchaos.workload.java import JavaConsumer, JavaProducer
from kchaos.workload.poller import LeaderPoller

#: Extra lifetime of a run's clients when a presenter steps through the phases (--step).
STEP_ALLOWANCE_S = 3600.0
#: How long a Java client's JVM may take to print its first line (a loaded 2-core runner
#: has taken several seconds); past it the run goes on and the history says so.
JAVA_READY_S = 60.0
#: How long a variant's new topics may take to reach every broker's metadata.
TOPICS_KNOWN_S = 30.0
PRODUCER_DEFAULTS = {"acks": "all", "message.timeout.ms": 20000, "linger.ms": 5}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


class Runner:
    """Runs one experiment on one cluster; see the module docstring for the phases."""

    def __init__(
        self,
        experiment: Experiment,
        cluster: Cluster,
        result: RunResult,
        observers: list[Observer] | None = None,
        schema_registry: str | None = None,
    ) -> None:
        self.exp, self.cluster, self.result = experiment, cluster, result
        self.observers = observers or []
        self.durations = getattr(experiment, result.mode)
        self.rng = random.Random(result.seed)
        self.roles = Roles(experiment, cluster, result.run_dir, self.rng, schema_registry)
        self._missing_features: set[str] = set()  # features this cluster lacks (_unavailable)
        self._resolved: dict[str, ResolvedVariant] = {}

    def resolved(self, variant: Variant) -> ResolvedVariant:
        """The variant merged with the file, once per run (``spec.resolve``)."""
        if variant.id not in self._resolved:
            self._resolved[variant.id] = resolve(self.exp, variant)
        return self._resolved[variant.id]

    def _emit(self, method: str, *args: Any) -> None:
        for o in self.observers:
            getattr(o, method)(*args)

    @property
    def stepping(self) -> bool:
        """Whether an observer gates the phases (``--step``)."""
        return any(getattr(o, "steps", False) for o in self.observers)

    def _gate(self, phase: str) -> float:
        """Let observers hold the run before ``phase``; returns the seconds they held it."""
        t0 = time.monotonic()
        for o in self.observers:
            o.gate(phase)
        return time.monotonic() - t0

    def run(self) -> RunResult:
        try:
            unavailable = self._unavailable()
            for i, variant in enumerate(self.exp.variants):
                if variant.nightly_only and self.result.mode == "quick":
                    continue
                if variant.id in unavailable:
                    self.result.skipped.append({"name": variant.name, "id": variant.id, "why": unavailable[variant.id]})
                    continue
                try:
                    self.result.variants.append(self.run_variant(i, variant))
                finally:
                    self._remove_broker_configs(variant)
            ran = {v.id: v for v in self.result.variants}
            nightly = {v.id for v in self.exp.variants if v.nightly_only}
            self.result.claims = [judge(c, ran, nightly, unavailable) for c in self.exp.claims]
        finally:
            self.roles.close()
        return self.result

    def _unavailable(self) -> dict[str, str]:
        """Why each variant that needs a Kafka feature this cluster lacks cannot run, by
        id; the cluster is asked only when a variant needs something. The features found
        missing also keep their topic settings out of the topics (``variant_topics.create_topics``)."""
        needs = {v.id: features_of(self.exp, v) for v in self.exp.variants}
        topic_keys = {k for t in self.exp.topics for k in t.config} | {
            k for v in self.exp.variants for k in v.topic_config
        }
        if not any(needs.values()) and not topic_keys & set(features.TOPIC_CONFIG_FEATURES):
            return {}
        finalized = finalized_features(self.cluster)
        version = self.result.kafka_version
        self._missing_features = {n for n in features.FEATURES if features.missing([n], version, finalized)}
        return {i: why for i, need in needs.items() if need and (why := features.missing(need, version, finalized))}

    def _abort_cleanup_s(self, variant: Variant) -> float | None:
        """How often the brokers abort timed-out transactions (seconds), when the
        experiment sets it; the checker's stuck-lso deadline adds it (Kafka's default
        otherwise)."""
        ms = number(
            self.resolved(variant).settings["broker"].get("transaction.abort.timed.out.transaction.cleanup.interval.ms")
        )
        return ms / 1000 if ms is not None else None

    def _remove_broker_configs(self, variant: Variant) -> None:
        """The next variant, and a reused cluster, get the brokers' own settings back: with
        every broker up (a down one would keep the variant's dynamic setting)."""
        if variant.broker_config:
            self.cluster.heal()
            wait_writable(self.cluster.bootstrap, self.cluster.spec, timeout=90)
            set_broker_configs(self.cluster.bootstrap, dict.fromkeys(variant.broker_config))

    # --- one variant ---------------------------------------------------------------------
    def run_variant(self, index: int, variant: Variant) -> VariantResult:
        """One variant end to end: a whole cluster, fresh topics, the roles, the phases,
        the drain, the check; nothing it started outlives it."""
        rv = self.resolved(variant)
        self._whole_cluster(variant)
        names = create_topics(self.cluster, self.exp, index, variant, self._missing_features)
        known = wait_known_everywhere(self.cluster, list(names.values()), TOPICS_KNOWN_S)
        hist_path = self.result.run_dir / f"history.{index}-{slug(variant.name)}.jsonl"
        history = HistoryWriter(hist_path)
        pconf = {**PRODUCER_DEFAULTS, **variant.producer}
        txn_timeout = _txn_timeout(pconf, rv.pipeline)
        store = self.result.run_dir / f"effects.{index}.sqlite" if rv.pipeline and rv.pipeline.store != "none" else None
        d = self.durations
        # Clients run for the phases; when a presenter steps through them the phases are
        # paused at each gate, so the clients get room and are stopped at the drain.
        lifetime = d.steady + d.fault + d.recovery + (STEP_ALLOWANCE_S if self.stepping else 0)
        ctx = VariantContext(index, rv, names, history, lifetime, group_ids(index, rv, names), pconf, store)
        self._write_meta(ctx, txn_timeout)
        if not known:  # the run goes on; a group may start with an empty assignment
            history.write(
                Client("topics", "not-known", history.now(), detail=f"not on every broker after {TOPICS_KNOWN_S:g} s")
            )
        res = self._new_result(ctx, hist_path)
        self._emit("variant_started", index, variant, d)
        phases: list[dict[str, Any]] = []

        def phase(name: str) -> None:
            history.write(Phase(name, history.now()))
            phases.append({"name": name, "t": history.now()})
            self._emit("phase", name)

        self._run_workload(ctx, phase, txn_timeout)
        phase("done")
        history.close()
        delete_topics(self.cluster, list(names.values()))
        self._analyse(res, hist_path, variant, phases)
        self._emit("variant_finished", res)
        return res

    def _whole_cluster(self, variant: Variant) -> None:
        """A reused cluster starts each variant whole (nothing paused, down or cut), with
        the variant's broker settings (every broker is up to take them)."""
        self.cluster.heal()
        wait_writable(self.cluster.bootstrap, self.cluster.spec, timeout=90)
        set_broker_configs(self.cluster.bootstrap, variant.broker_config)

    def _write_meta(self, ctx: VariantContext, txn_timeout: float | None) -> None:
        """The history's first event: what the checker needs to know of the run."""
        ctx.history.write(
            Meta(
                t=0.0,
                txn_timeout_s=txn_timeout,
                txn_abort_cleanup_s=self._abort_cleanup_s(ctx.rv.variant),
                experiment=self.exp.id,
                variant=ctx.rv.variant.name,
                pattern=self.roles.pattern_topology(ctx.groups, ctx.rv.pattern, ctx.names),
                groups={gid: name for name, gid in ctx.groups.items()},
            )
        )

    def _new_result(self, ctx: VariantContext, hist_path: Path) -> VariantResult:
        """The variant's result as the report shows its setup, before anything ran."""
        variant, wl = ctx.rv.variant, ctx.rv.workload
        return VariantResult(
            variant.name,
            {
                "producer": ctx.pconf,
                "consumer": variant.consumer,
                "topic": {**next(t.config for t in self.exp.topics if t.name == wl.topic), **variant.topic_config},
                **({"broker": dict(variant.broker_config)} if variant.broker_config else {}),
            },
            ctx.topic,
            hist_path,
            id=variant.id,
            settings=ctx.rv.settings,
        )

    def _run_workload(self, ctx: VariantContext, phase: Callable[[str], None], txn_timeout: float | None) -> None:
        """Build and start the roles, run the phases, stop everything, drain. Whatever is
        raised, each stop still runs: nothing started is left running."""
        rv, history, topic = ctx.rv, ctx.history, ctx.topic
        nemesis = Nemesis(self.cluster, history, self.rng, ctx.names)
        built = self.roles.build(ctx)
        nemesis.producers = list(built.python_producers)  # crash-producer and txn-coordinator:N name these
        nemesis.clients = {k: c for k, c in built.members.items() if isinstance(c, ClientProcess | JavaConsumer)}
        producers, consumers = built.producers, built.consumers
        used = {c.group for c in consumers}  # in the file's order: group-coordinator:N is the N-th
        nemesis.groups = [g for g in ctx.groups.values() if g in used] + sorted(used - set(ctx.groups.values()))
        watched = {g: t for g, t in group_topics(rv, ctx.names, ctx.groups).items() if g in used}
        watched |= {g: [topic] for g in nemesis.groups if g not in ctx.groups.values()}  # a group the file did not name
        watcher = GroupWatcher(
            self.cluster.bootstrap, watched, history, ctx.lifetime + 120 + GROUP_WAIT_S, self.cluster.name
        )
        watch = (rv.workload.watch or f"{rv.workload.topic}:0").rsplit(":", 1)
        poller = LeaderPoller(self.cluster, ctx.names.get(watch[0], topic), int(watch[1]), history)
        transactional = "transactional.id" in ctx.pconf
        finished = False
        try:
            poller.start()
            if watched:
                watcher.start()
            self._start_clients(consumers, built.standby, producers, history, phase)
            ticker = Ticker(producers, consumers, poller, watcher if watched else None, nemesis)
            run_phases(self.durations, rv.schedule, nemesis, phase, self._gate, self._tick, ticker)
            phase("drain")
            for p in producers:
                p.stop()
            for p in producers:
                p.join(60)
            catch_up(self.cluster, built.members, history, transactional)
            settle(consumers, quiet_time(rv))
            finished = True
        finally:
            _all(
                *(p.stop for p in producers),
                nemesis.heal_all,  # before the consumers stop: it restarts killed clients
                *(c.stop for c in consumers),
                *(lambda c=c: c.join(15) for c in consumers),
                *([watcher.stop] if watched else []),
                *([] if finished else [poller.stop]),
            )
        try:
            if ctx.store is not None:
                pipeline.effects(ctx.store, history)
            # The poller watches until the partition is whole again (a restarted broker
            # rejoining the ISR after the recovery phase still belongs to the measurement),
            # and on through the drain, so it records the whole ISR.
            wait_replicated(self.cluster, [topic], 60)
            drain_all(self.cluster, self.exp, rv, ctx.names, transactional, txn_timeout, history)
        finally:
            poller.stop()

    def _tick(self, snapshot: dict[str, Any]) -> None:
        self._emit("tick", snapshot)

    def _start_clients(
        self,
        consumers: list[Member],
        standby: list[Member],
        producers: list[Producer],
        history: HistoryWriter,
        phase: Callable[[str], None],
    ) -> None:
        """Members first (standby ones only prewarmed), until each has its first
        assignment; then the Java producers, whose first write starts the steady phase;
        then the Python producers."""
        for c in consumers:
            if c not in standby:
                c.start()
            elif isinstance(c, ClientProcess):
                c.prewarm()  # its interpreter starts now; it joins at its start-client
        self._wait_for_groups([c for c in consumers if c not in standby], history)
        self._gate("steady")
        # A Java producer starts writing once its JVM is up: start those first, and the
        # run's clock once they write, so a slow JVM start does not eat a variant's time.
        java = [p for p in producers if isinstance(p, JavaProducer)]
        for jp in java:
            jp.start()
        ready_by = time.monotonic() + JAVA_READY_S
        for jp in java:
            jp.wait_ready(max(0.0, ready_by - time.monotonic()))
        phase("steady")
        for p in producers:
            if p not in java:
                p.start()

    def _wait_for_groups(self, consumers: list[Member], history: HistoryWriter) -> None:
        """The steady phase begins once every member has its first assignment; one that
        has not by then is recorded (a ``client`` event), and the run goes on."""
        for c in wait_for_members(consumers, timeout=GROUP_WAIT_S):
            history.write(
                Client(c.reader, "not-assigned", history.now(), detail=f"no assignment after {GROUP_WAIT_S} s")
            )

    def _analyse(self, res: VariantResult, path: Path, variant: Variant, phases: list[dict[str, Any]]) -> None:
        ix = build(load(path))
        checked = check_index(ix)
        res.anomalies, res.examples = checked["anomalies"], checked["examples"]
        res.undrained, res.info, res.findings = checked["undrained"], checked["info"], checked["findings"]
        res.measurements = measure.all_measurements(ix, res.topic, checked)
        res.timelines = measure.timelines(ix)
        res.faults, res.phases = [msgspec.to_builtins(f) for f in ix.faults], phases  # from the history
        res.expectations = [evaluate(e, res) for e in variant.expect]


def _txn_timeout(pconf: dict[str, Any], pipe: PipelineSpec | None) -> float | None:
    """The transaction timeout of the run's transactional clients (seconds), if any."""
    if "transactional.id" in pconf:
        return float(pconf.get("transaction.timeout.ms", 60000)) / 1000
    if pipe is not None and pipe.mode == "exactly-once":
        return float(pipe.producer.get("transaction.timeout.ms", 60000)) / 1000
    return None


def _all(*steps: Callable[[], Any]) -> None:
    """Run every step; then raise the first error any of them raised."""
    first: BaseException | None = None
    for step in steps:
        try:
            step()
        except BaseException as err:  # noqa: BLE001 - re-raised below, after the rest ran
            first = first or err
    if first is not None:
        raise first
