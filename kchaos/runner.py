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
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from confluent_kafka.admin import NewTopic

from kchaos import features
from kchaos.checker import build, check_index
from kchaos.checker import measurements as measure
from kchaos.clients import config_text
from kchaos.cluster.base import Cluster
from kchaos.cluster.inspect import finalized_features, partitions
from kchaos.cluster.readiness import admin, wait_writable
from kchaos.errors import ClusterError
from kchaos.events import Client, Meta, Phase
from kchaos.expectations import evaluate, judge
from kchaos.experiment import (
    Experiment,
    PipelineSpec,
    Variant,
    number,
)
from kchaos.faults.nemesis import Nemesis
from kchaos.faults.step import FaultStep
from kchaos.faults.steps.broker import set_broker_configs
from kchaos.history import HistoryWriter, load
from kchaos.patterns import share
from kchaos.patterns.worker import PatternProcess
from kchaos.results import Observer, RunResult, VariantResult
from kchaos.roles import GROUP_WAIT_S, Roles, group_ids
from kchaos.spec.resolve import ResolvedVariant, features_of, resolve
from kchaos.workload import pipeline
from kchaos.workload.child import ClientProcess
from kchaos.workload.consumer import GroupConsumer, drain, wait_for_members
from kchaos.workload.groupwatch import GroupWatcher
from kchaos.workload.java import JavaConsumer, JavaProducer
from kchaos.workload.pipeline import PipelineProcess
from kchaos.workload.poller import LeaderPoller
from kchaos.workload.producer import RecordingProducer

#: Extra lifetime of a run's clients when a presenter steps through the phases (--step).
STEP_ALLOWANCE_S = 3600.0
#: How long a Java client's JVM may take to print its first line (a loaded 2-core runner
#: has taken several seconds); past it the run goes on and the history says so.
JAVA_READY_S = 60.0
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
        missing also keep their topic settings out of the topics (``_create_topics``)."""
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
    def _create_topics(self, index: int, variant: Variant) -> dict[str, str]:
        tag = uuid.uuid4().hex[:6]  # not from the seed: a rerun with the same seed needs new topics
        # A share group's broker-side dead-letter topic must carry the broker's prefix (dlq.).
        names = {
            t.name: (f"dlq.{self.exp.id}.{t.name[4:]}" if t.name.startswith("dlq.") else f"{self.exp.id}.{t.name}")
            + f".v{index}.{tag}"
            for t in self.exp.topics
        }
        adm = admin(self.cluster.bootstrap)
        wl = self.exp.workload.topic
        new = [
            NewTopic(
                names[t.name],
                variant.partitions if t.name == wl and variant.partitions else t.partitions,
                t.replication_factor,
                config={
                    k: config_text(v)
                    for k, v in {**t.config, **variant.topic_config}.items()
                    if features.TOPIC_CONFIG_FEATURES.get(k) not in self._missing_features
                },
            )
            for t in self.exp.topics
        ]
        for name, fut in adm.create_topics(new, operation_timeout=30).items():
            try:
                fut.result(timeout=40)
            except Exception as err:  # noqa: BLE001
                raise ClusterError(f"could not create topic {name}: {err}") from None
        self._wait_replicated(list(names.values()), 60)
        return names

    def _delete_topics(self, topics: list[str]) -> None:
        """A reused cluster should not collect every variant's topics (best effort)."""
        adm = admin(self.cluster.bootstrap)  # held: futures fail if their client is collected
        try:
            for fut in adm.delete_topics(topics, operation_timeout=30).values():
                fut.result(timeout=30)
        except Exception:  # noqa: BLE001 - the history is safe on disk; a leftover topic is harmless
            pass

    def _wait_replicated(self, topics: list[str], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                ok = True
                for t in topics:
                    parts = partitions(self.cluster, t).get(t, [])
                    ok &= bool(parts) and all(p["leader"] >= 0 and len(p["isr"]) == len(p["replicas"]) for p in parts)
                if ok:
                    return True
            except Exception:  # noqa: BLE001 - metadata may fail right after a heal
                pass
            time.sleep(0.3)
        return False

    def run_variant(self, index: int, variant: Variant) -> VariantResult:
        d, rv = self.durations, self.resolved(variant)
        wl = rv.workload
        # A reused cluster starts each variant whole: nothing paused, down or cut.
        self.cluster.heal()
        wait_writable(self.cluster.bootstrap, self.cluster.spec, timeout=90)
        set_broker_configs(self.cluster.bootstrap, variant.broker_config)  # every broker is up now
        names = self._create_topics(index, variant)
        topic = names[wl.topic]
        hist_path = self.result.run_dir / f"history.{index}-{slug(variant.name)}.jsonl"
        history = HistoryWriter(hist_path)
        pconf = {**PRODUCER_DEFAULTS, **variant.producer}
        txn_timeout = _txn_timeout(pconf, rv.pipeline)
        pattern = rv.pattern
        group_table = group_ids(index, rv, names)
        history.write(
            Meta(
                t=0.0,
                txn_timeout_s=txn_timeout,
                txn_abort_cleanup_s=self._abort_cleanup_s(variant),
                experiment=self.exp.id,
                variant=variant.name,
                pattern=self.roles.pattern_topology(group_table, pattern, names),
                groups={gid: name for name, gid in group_table.items()},
            )
        )
        res = VariantResult(
            variant.name,
            {
                "producer": pconf,
                "consumer": variant.consumer,
                "topic": {**next(t.config for t in self.exp.topics if t.name == wl.topic), **variant.topic_config},
                **({"broker": dict(variant.broker_config)} if variant.broker_config else {}),
            },
            topic,
            hist_path,
            id=variant.id,
            settings=rv.settings,
        )
        self._emit("variant_started", index, variant, d)
        total = d.steady + d.fault + d.recovery
        # Clients run for the phases; when a presenter steps through them the phases are
        # paused at each gate, so the clients get room and are stopped at the drain.
        lifetime = total + (STEP_ALLOWANCE_S if self.stepping else 0)
        nemesis = Nemesis(self.cluster, history, self.rng, names)
        producers = self.roles.python_producers(index, rv, topic, pconf, history, lifetime)
        schemas = rv.schemas
        nemesis.producers = list(producers)  # crash-producer and txn-coordinator:N name Python producers
        producers += self.roles.java_producers(index, rv, topic, pconf, history, lifetime)
        members = self.roles.consumers(index, rv, names, history, lifetime, group_table)
        pipe = rv.pipeline
        store = self.result.run_dir / f"effects.{index}.sqlite" if pipe is not None and pipe.store != "none" else None
        members |= self.roles.pipelines(index, rv, names, history, lifetime, store, group_table)
        members |= self.roles.patterns(index, pattern, names, variant, history, lifetime, group_table)
        members |= self.roles.readers(index, schemas, names, history, lifetime, group_table)
        consumers = list(members.values())
        standby = self.roles.standby(members)
        nemesis.clients = {k: c for k, c in members.items() if isinstance(c, ClientProcess | JavaConsumer)}
        used = {c.group for c in consumers}  # in the file's order: group-coordinator:N is the N-th
        nemesis.groups = [g for g in group_table.values() if g in used] + sorted(used - set(group_table.values()))
        watcher = GroupWatcher(
            self.cluster.bootstrap, nemesis.groups, topic, history, lifetime + 120 + GROUP_WAIT_S, self.cluster.name
        )
        watch = (wl.watch or f"{wl.topic}:0").rsplit(":", 1)
        poller = LeaderPoller(self.cluster, names.get(watch[0], topic), int(watch[1]), history)
        phases: list[dict[str, Any]] = []

        def phase(name: str) -> None:
            history.write(Phase(name, history.now()))
            phases.append({"name": name, "t": history.now()})
            self._emit("phase", name)

        finished = False
        try:
            poller.start()
            if consumers:
                watcher.start()
            self._start_clients(consumers, standby, producers, history, phase)
            steps = rv.schedule
            self._timeline(
                history, nemesis, producers, consumers, poller, watcher if consumers else None, phase, total, steps
            )
            phase("drain")
            for p in producers:
                p.stop()
            for p in producers:
                p.join(60)
            self._catch_up(members, history, "transactional.id" in pconf)
            self._settle(consumers, self._quiet(variant))
            finished = True
        finally:
            # Each stage runs whatever an earlier one raised: nothing started is left running.
            _all(
                *(p.stop for p in producers),
                nemesis.heal_all,  # before the consumers stop: it restarts killed clients
                *(c.stop for c in consumers),
                *(lambda c=c: c.join(15) for c in consumers),
                *([watcher.stop] if consumers else []),
                *([] if finished else [poller.stop]),
            )
        try:
            if store is not None:
                pipeline.effects(store, history)
            # The poller watches until the partition is whole again (a restarted broker
            # rejoining the ISR after the recovery phase still belongs to the measurement),
            # and on through the drain, so it records the whole ISR.
            self._wait_replicated([topic], 60)
            self._drain_all(rv, names, "transactional.id" in pconf, txn_timeout, history)
        finally:
            poller.stop()
        phase("done")
        history.close()
        self._delete_topics(list(names.values()))
        self._analyse(res, hist_path, variant, phases)
        self._emit("variant_finished", res)
        return res

    def _start_clients(
        self,
        consumers: list[Any],
        standby: list[Any],
        producers: list[Any],
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
        for p in java:
            p.start()
        ready_by = time.monotonic() + JAVA_READY_S
        for p in java:
            p.wait_ready(max(0.0, ready_by - time.monotonic()))
        phase("steady")
        for p in producers:
            if p not in java:
                p.start()

    def _drain_all(
        self,
        rv: ResolvedVariant,
        names: dict[str, str],
        transactional: bool,
        txn_timeout: float | None,
        history: HistoryWriter,
    ) -> None:
        """Read every topic the workload wrote to its end (read_committed, and also
        read_uncommitted where transactions wrote), into the history."""
        variant, wl, pattern, schemas = rv.variant, rv.workload, rv.pattern, rv.schemas
        topic = names[wl.topic]
        # The topic as it is now: an add-partitions step may have grown it.
        declared = variant.partitions or next(t.partitions for t in self.exp.topics if t.name == wl.topic)
        try:
            parts = max(declared, len(partitions(self.cluster, topic).get(topic, [])))
        except ClusterError:  # no broker answers: the drain records what it cannot read
            parts = declared
        # A read_committed drain waits out the transaction timeout: a hanging transaction
        # holds it below the end until the coordinator aborts it (else: stuck-lso).
        wait = max(60.0, (txn_timeout or 0) + 15)
        drained = self._drained(topic, parts, transactional, rv.pipeline, names)
        drained += [(names[t], self._declared(t), False) for t in (pattern.topics() if pattern else ())]
        if schemas is not None and schemas.dead_letter:
            drained.append((names[schemas.dead_letter], self._declared(schemas.dead_letter), False))
        for name, n, txn in drained:
            for iso in ["read_committed"] + (["read_uncommitted"] if txn else []):
                drain(self.cluster.bootstrap, name, list(range(n)), history, iso, f"drain-{iso}", timeout=wait)

    def _wait_for_groups(self, consumers: list[Any], history: HistoryWriter) -> None:
        """The steady phase begins once every member has its first assignment; one that
        has not by then is recorded (a ``client`` event), and the run goes on."""
        for c in wait_for_members(consumers, timeout=GROUP_WAIT_S):
            history.write(
                Client(c.reader, "not-assigned", history.now(), detail=f"no assignment after {GROUP_WAIT_S} s")
            )

    def _declared(self, name: str) -> int:
        return next(t.partitions for t in self.exp.topics if t.name == name)

    def _drained(
        self, topic: str, parts: int, transactional: bool, pipe: PipelineSpec | None, names: dict[str, str]
    ) -> list[tuple[str, int, bool]]:
        """(topic, partitions, transactional) of each topic the drain reads: the workload's
        topic, and a pipeline's output topic."""
        out = [(topic, parts, transactional)]
        if pipe is not None:
            declared = next(t.partitions for t in self.exp.topics if t.name == pipe.output)
            out.append((names[pipe.output], declared, pipe.mode == "exactly-once"))
        return out

    def _timeline(
        self,
        history: HistoryWriter,
        nemesis: Nemesis,
        producers: list[RecordingProducer],
        consumers: list[GroupConsumer],
        poller: LeaderPoller,
        watcher: GroupWatcher | None,
        phase: Callable[[str], None],
        total: float,
        schedule: list[FaultStep],
    ) -> None:
        d = self.durations
        start = time.monotonic()
        steps = sorted(schedule, key=lambda s: s.at)
        current = "steady"
        last = {"ok": 0, "errors": 0, "t": 0.0}
        while True:
            elapsed = time.monotonic() - start
            if elapsed >= total:
                return
            if current == "steady" and elapsed >= d.steady:
                start += self._gate("fault")  # the phase clock stops while a presenter talks
                current = "fault"
                phase("fault")
            while current == "fault" and steps and time.monotonic() - start >= d.steady + steps[0].at:
                nemesis.run(steps.pop(0))  # a step can take its time (kill-client at a point waits for it)
            if current == "fault" and elapsed >= d.steady + d.fault:
                start += self._gate("heal")
                phase("heal")
                nemesis.heal_all()
                current = "recovery"
                phase("recovery")
            ok = sum(p.stats.ok for p in producers)
            errors = sum(p.stats.fail + p.stats.unknown for p in producers)
            dt = max(elapsed - last["t"], 1e-6)
            self._emit(
                "tick",
                {
                    "elapsed": elapsed,
                    "total": total,
                    "phase": current,
                    "acks_per_s": (ok - last["ok"]) / dt,
                    "errors_per_s": (errors - last["errors"]) / dt,
                    "acks": ok,
                    "errors": errors,
                    "delivered": sum(c.delivered for c in consumers),
                    "group": watcher.snapshot() if watcher is not None else "-",
                    "leader": poller.leader,
                    "isr": poller.isr,
                    "faults": nemesis.active(),
                },
            )
            last = {"ok": ok, "errors": errors, "t": elapsed}
            time.sleep(0.5)

    def _catch_up(
        self, members: dict[str, Any], history: HistoryWriter, transactional_input: bool, limit: float = 45.0
    ) -> None:
        """Pipeline and pattern workers are done when their group committed its input (and,
        for a pattern, each retry topic) to the end; a share group when its lag is 0. A
        group that is not by ``limit`` is recorded (a ``client`` event), and the run goes on."""
        workers = [c for c in members.values() if isinstance(c, PipelineProcess | PatternProcess)]
        deadline = time.monotonic() + limit
        for group in sorted({w.group for w in workers}):
            first = next(w for w in workers if w.group == group)
            if first.kwargs.get("share"):
                self._share_caught_up(group, deadline, history)
                continue
            # A pattern's records move forward only (input, retry topics in order): each
            # topic committed to its end, in that order, leaves nothing in flight.
            topics = [first.kwargs["input_topic"], *(first.kwargs.get("retry") or {}).get("topics", [])]
            for t in topics:
                left = max(1.0, deadline - time.monotonic())
                transactional = transactional_input and t == topics[0]  # retry topics never are
                if not pipeline.wait_caught_up(self.cluster.bootstrap, group, t, left, transactional):
                    history.write(
                        Client(group, "not-caught-up", history.now(), detail=f"{t} not committed after {limit:g} s")
                    )
                    break

    def _share_caught_up(self, group: str, deadline: float, history: HistoryWriter) -> None:
        """A share group is done when its lag is 0 (no committed offsets to compare)."""
        while time.monotonic() < deadline:
            if share.lag(self.cluster, group) == 0:
                return
            time.sleep(1.0)
        history.write(Client(group, "not-caught-up", history.now(), detail="share group lag not 0"))

    def _quiet(self, variant: Variant) -> float:
        """How long deliveries must stand still before consumers count as caught up:
        longer than one batch takes to process (a slow consumer delivers once a batch)."""
        spec = self.resolved(variant).groups
        if spec is None:
            return 0.6
        return max(
            0.6,
            1.5 * max(spec.processing_of(g) for g in range(spec.groups)) * spec.batch / 1000 + 2 * spec.poll_ms / 1000,
        )

    def _settle(self, consumers: list[GroupConsumer], quiet: float = 0.6, limit: float = 20.0) -> None:
        """Let consumers catch up: wait until deliveries stop growing for ``quiet`` seconds."""
        if not consumers:
            return
        deadline, seen, since = time.monotonic() + limit, -1, time.monotonic()
        while time.monotonic() < deadline:
            now = sum(c.delivered for c in consumers)
            if now != seen:
                seen, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.2)

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
