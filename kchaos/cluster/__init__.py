"""Clusters: one interface (``Cluster``), a local backend, and a docker backend."""

from __future__ import annotations

from kchaos.cluster.base import Cluster
from kchaos.cluster.spec import ClusterSpec

__all__ = [
    "BACKENDS",
    "Cluster",
    "ClusterSpec",
    "attach",
    "choose_backend",
    "find_running",
    "make",
    "start_fresh",
    "teardown",
]

BACKENDS = ("local", "docker", "auto")


def attach(name: str = "default") -> Cluster:
    """The running cluster named ``name``, whatever its backend, from its state file."""
    from kchaos.cluster import state
    from kchaos.cluster.docker import DockerCluster
    from kchaos.cluster.local import LocalCluster
    from kchaos.errors import ClusterError

    st = state.load(name)
    if not st:
        raise ClusterError(f"no cluster '{name}' is running; start one with: kchaos up")
    if st.get("backend") == "local":
        return LocalCluster.attach(name)
    if st.get("backend") == "docker":
        return DockerCluster.attach(name)
    raise ClusterError(f"cluster '{name}' has unknown backend {st.get('backend')!r}")


def choose_backend(backend: str, kafka_version: str) -> tuple[str, str]:
    """``local`` or ``docker`` for a ``--backend`` value, and a line saying why.

    ``auto`` picks docker when a daemon answers and both images are present (official or
    built offline) or can be pulled, else local.
    """
    from kchaos.cluster.docker import images
    from kchaos.errors import BadInput

    if backend not in BACKENDS:
        raise BadInput(f"--backend={backend}: choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend, f"backend {backend}"
    if not images.daemon_answers():
        return "local", "backend auto → local (no Docker daemon answers)"
    if images.offline_available(kafka_version):
        return "docker", "backend auto → docker (a daemon answers and the images are present)"
    if images.pull_official(kafka_version):
        return "docker", "backend auto → docker (a daemon answers; the official images were pulled)"
    return "local", (
        "backend auto → local (Docker answers but the images are absent and cannot be pulled: "
        "kchaos images build --offline)"
    )


def make(
    spec: ClusterSpec, backend: str, kafka_image: str | None = None, toxiproxy_image: str | None = None
) -> Cluster:
    """A cluster object of the chosen backend (``local`` or ``docker``), not started yet."""
    from kchaos.cluster.docker import DockerCluster
    from kchaos.cluster.local import LocalCluster

    if backend == "docker":
        return DockerCluster(spec, kafka_image, toxiproxy_image)
    return LocalCluster(spec)


#: Clusters that ``kchaos run``, ``kchaos suite``, the pytest plugin, the public API's
#: ``up()`` and ``bench/repeat.py`` start for themselves, fault, and take down: another
#: process may be using one right now, so none is ever borrowed (a leftover of a crashed
#: owner is replaced, not reused).
OWNED_BY_A_RUN = ("kchaos-run", "kchaos-suite", "kchaos-pytest", "kchaos-api", "kchaos-bench")


def find_running(
    brokers: int,
    controllers: str = "combined",
    broker_config: dict[str, object] | None = None,
    features: dict[str, int] | None = None,
    *,
    backend: str | None = None,
    kafka_version: str | None = None,
) -> Cluster | None:
    """A running kchaos cluster that serves these needs (``spec.fits``), to reuse instead
    of starting one: of ``backend`` and ``kafka_version`` when given, not one another run
    owns (``OWNED_BY_A_RUN``), its first node not down. The clusters it offers are the
    ones a person started (``kchaos up``) to be shared."""
    from kchaos.cluster import state
    from kchaos.cluster.spec import fits

    for name in state.known_clusters():
        st = state.load(name) or {}
        if st.get("status") != "up" or name in OWNED_BY_A_RUN or (backend and st.get("backend") != backend):
            continue
        if kafka_version and st.get("kafka_version", kafka_version) != kafka_version:
            continue
        c = attach(name)
        if (
            fits(c.spec, brokers, controllers, broker_config, features)
            and c.process_state(c.spec.nodes[0].id) != "down"
        ):
            return c
    return None


def start_fresh(
    spec: ClusterSpec, backend: str, kafka_image: str | None = None, toxiproxy_image: str | None = None
) -> tuple[Cluster, float]:
    """A cluster of ``spec`` started from nothing (leftovers of its name removed first),
    with the seconds it took; if it does not come up, nothing of it is left."""
    teardown(spec.name)
    cluster = make(spec, backend, kafka_image, toxiproxy_image)
    try:
        seconds = cluster.up()
    except BaseException:
        teardown(spec.name)
        raise
    return cluster, seconds


def teardown(name: str, keep_data: bool = False) -> list[str]:
    """Everything of cluster ``name`` gone, whatever its backend: containers, networks and
    volumes with its label, processes with its mark, and its folder."""
    from kchaos.cluster import docker as docker_cluster
    from kchaos.cluster import local

    return docker_cluster.teardown(name, keep_data) + local.teardown(name, keep_data)
