"""One ``kchaos run``: find the experiment, get a cluster that fits, run, report, clean up.

The cluster is reused when one is running and fits the experiment's needs; otherwise a
cluster of its own is brought up (cluster name ``kchaos-run``) and taken down after.
Ctrl-C or SIGTERM heal faults and stop the workload (the runner's ``finally``), a partial
report marked interrupted is written, and the exit code is non-zero.
"""

from __future__ import annotations

import datetime as dt
import random
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from kchaos import experiment as experiments
from kchaos import profile as profiles
from kchaos import safety
from kchaos.cluster import attach, choose_backend, find_running, start_fresh, teardown
from kchaos.cluster import state as statefile
from kchaos.cluster.base import Cluster
from kchaos.cluster.spec import ClusterSpec, config_text
from kchaos.cluster.spec import fits as spec_fits
from kchaos.errors import BadInput, KchaosError
from kchaos.experiment import Experiment
from kchaos.profile import Profile
from kchaos.report import write_report
from kchaos.results import Mode, Observer, RunResult
from kchaos.runner import Runner

RUN_CLUSTER, RUN_BASE_PORT = "kchaos-run", 29500


def fits(exp: Experiment, cluster: Cluster, kafka_version: str | None = None) -> bool:
    """A running cluster fits when its shape matches, it has every broker config asked,
    and (when one is asked, by a profile) it runs that Kafka version."""
    need = exp.cluster
    if kafka_version and (statefile.load(cluster.name) or {}).get("kafka_version", kafka_version) != kafka_version:
        return False
    return spec_fits(cluster.spec, need.brokers, need.controllers, need.broker_config, need.features)


def running_cluster(exp: Experiment, backend: str, kafka_version: str | None = None) -> Cluster | None:
    """A running cluster of ``backend`` that fits ``exp``, to reuse instead of starting one."""
    need = exp.cluster
    return find_running(
        need.brokers,
        need.controllers,
        need.broker_config,
        need.features,
        backend=backend,
        kafka_version=kafka_version,
    )


def execute(
    ref: str,
    mode: Mode = "quick",
    seed: int | None = None,
    backend: str = "local",
    report_dir: Path = Path("reports"),
    observers: list[Observer] | None = None,
    cluster: Cluster | None = None,
    cluster_name: str | None = None,
    kafka_image: str | None = None,
    toxiproxy_image: str | None = None,
    profile: Profile | None = None,
    variants: list[str] | None = None,
    schema_registry: str | None = None,
) -> RunResult:
    """Run one experiment end to end and write its report; returns the result. A
    ``profile`` is laid under the experiment (``kchaos.profile``); ``variants`` keeps
    only the variants whose names contain one of them."""
    path = experiments.find(ref)
    exp = experiments.only_variants(experiments.load(path), variants or [])
    exp, provenance = profiles.apply(exp, profile)
    provenance = profiles.for_variants(
        provenance, {v.name for v in exp.variants if mode == "nightly" or not v.nightly_only}
    )
    wanted = profile or Profile()  # what the profile asks (an empty one asks nothing)
    kafka_image = kafka_image or wanted.kafka_image
    toxiproxy_image = toxiproxy_image or wanted.toxiproxy_image
    seed = seed if seed is not None else random.SystemRandom().randrange(1, 2**31)
    now = dt.datetime.now(dt.UTC)
    run_dir = Path(report_dir) / f"{now:%Y%m%dT%H%M%SZ}-{safety.experiment_id(exp.id)}"  # never a path
    owned = None
    if cluster is None:
        cluster, owned = _run_cluster(exp, cluster_name, backend, wanted, kafka_image, toxiproxy_image)
    st = statefile.load(cluster.name) or {}
    command = _command(ref, mode, seed, cluster.backend, variants, profile)
    result = RunResult(
        exp,
        mode,
        seed,
        cluster.backend,
        st.get("kafka_version", cluster.spec.kafka_version),
        run_dir,
        command,
        started_utc=f"{now:%Y-%m-%d %H:%M:%SZ}",
        profile=provenance,
    )
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        Runner(exp, cluster, result, observers, schema_registry).run()
    except KeyboardInterrupt:
        result.interrupted = True
    except KchaosError as err:
        result.error = str(err)
    finally:
        signal.signal(signal.SIGTERM, previous)
        _safe_heal(cluster)
        if owned is not None:
            teardown(owned.name)
        write_report(result)
    return result


def _run_cluster(
    exp: Experiment,
    cluster_name: str | None,
    backend: str,
    wanted: Profile,
    kafka_image: str | None,
    toxiproxy_image: str | None,
) -> tuple[Cluster, Cluster | None]:
    """The cluster a run uses, and the one it started (to tear down after), if any: the
    named one (it must fit), else a running one that fits and nobody owns, else a new one."""
    version = wanted.kafka_version or ClusterSpec().kafka_version
    if cluster_name:
        cluster = attach(cluster_name)
        if not fits(exp, cluster, wanted.kafka_version):
            raise BadInput(
                f"--cluster={cluster_name} does not fit {exp.id} (needs {exp.cluster.brokers} brokers, "
                f"{exp.cluster.controllers} controllers, broker config {exp.cluster.broker_config})"
            )
        return cluster, None
    backend, _ = choose_backend(backend, version)
    running = running_cluster(exp, backend, wanted.kafka_version)
    if running is not None:
        return running, None
    spec = ClusterSpec(
        brokers=exp.cluster.brokers,
        controllers=exp.cluster.controllers,
        features=dict(exp.cluster.features),
        name=RUN_CLUSTER,
        base_port=RUN_BASE_PORT,
        kafka_version=version,
        broker_config={k: config_text(v) for k, v in exp.cluster.broker_config.items()},
    )
    # A failed start (no daemon, no image, ports in use, ^C or SIGTERM) leaves nothing
    # and writes no report: nothing ran; the one-line error goes through.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        owned, _ = start_fresh(spec, backend, kafka_image, toxiproxy_image)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return owned, owned


def _command(ref: str, mode: str, seed: int, backend: str, variants: list[str] | None, profile: Profile | None) -> str:
    """The command line that reruns this run (the report's Reproduce section)."""
    command = f"kchaos run {shlex.quote(ref)} --{mode} --seed {seed} --backend {backend}"
    command += "".join(f" --variant {shlex.quote(v)}" for v in variants or [])
    if profile is not None:
        command += f" --profile {shlex.quote(profile.source or profile.name + '.yaml')}"
    return command


def _safe_heal(cluster: Any) -> None:
    try:
        cluster.heal()
    except Exception as err:  # noqa: BLE001 - healing a cluster that is being torn down
        print(f"warning: heal failed: {err}", file=sys.stderr)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
