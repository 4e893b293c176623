"""kchaos as a pytest plugin (on by installing kchaos: the ``pytest11`` entry point).

Fixtures:

- ``kafka_cluster``: a real cluster that lives for the whole session, started by the
  plugin (backend ``--kchaos-backend``, default auto) and taken down when the session
  ends. A test's ``@pytest.mark.kchaos(brokers=3, broker_config={...})`` says what it
  needs; the cluster changes only when a test needs another one. Another running
  cluster is never borrowed unless named: ``--kchaos-cluster NAME`` attaches to that
  running cluster instead (on a shared machine a cluster that fits may be another job's).
- ``history``: a fresh ``kchaos.History`` per test, in the test's ``tmp_path``; when the
  test fails, its path and last lines are attached to the report.
- ``faults``: ``kchaos.Faults`` on the cluster, recording into ``history``; at teardown
  everything is healed (also after a failed or interrupted test) and the cluster is
  waited for until every partition has its full ISR again.
- ``workers``: starts ``kchaos.Worker`` processes that record into ``history``; every
  one still running is stopped at teardown (SIGTERM, then SIGKILL after 5 s).

``kchaos.assert_no_anomalies(history)`` is the assertion: its message is the checker's
findings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # kchaos itself is imported when a fixture is first used: pytest starts quick
    from kchaos import api

PYTEST_CLUSTER, PYTEST_BASE_PORT = "kchaos-pytest", 31500
HISTORY_TAIL = 15


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kchaos", "kchaos: Kafka under real faults")
    group.addoption("--kchaos-backend", default="auto", choices=("auto", "local", "docker"), help="cluster backend")
    group.addoption("--kchaos-kafka-version", default=None, help="Kafka version of a cluster the plugin starts")
    group.addoption("--kchaos-cluster", default=None, help="use this running kchaos cluster (by name)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kchaos(brokers=3, controllers='combined', broker_config={}): the cluster this test needs"
    )


class Clusters:
    """The session's clusters: at most one started by the plugin at a time."""

    def __init__(self, config: pytest.Config) -> None:
        self.backend = config.getoption("--kchaos-backend")
        self.version = config.getoption("--kchaos-kafka-version")
        self.named = config.getoption("--kchaos-cluster")
        self.owned: api.Cluster | None = None

    def get(self, brokers: int = 3, controllers: str = "combined", broker_config: dict[str, Any] | None = None) -> Any:
        """A cluster with this shape and these broker settings."""
        from kchaos import api
        from kchaos.cluster.spec import fits

        need = (brokers, controllers, broker_config or {})
        if self.named:
            cluster = api.attach(self.named)
            if not fits(cluster.spec, *need):
                pytest.fail(f"--kchaos-cluster={self.named} does not fit this test's needs {need}")
            return cluster
        if self.owned is not None and fits(self.owned.spec, *need):
            return self.owned
        # No other running cluster is borrowed: on a shared machine it may be another job's,
        # which this session would fault and heal. Name one with --kchaos-cluster to use it.
        self.close()
        self.owned = api.up(
            brokers,
            broker_config,
            name=PYTEST_CLUSTER,
            base_port=PYTEST_BASE_PORT,
            backend=self.backend,
            kafka_version=self.version,
            controllers=controllers,
        )
        return self.owned

    def close(self) -> None:
        from kchaos import api

        if self.owned is not None:
            api.down(self.owned.name)
            self.owned = None


@pytest.fixture(scope="session")
def kchaos_clusters(pytestconfig: pytest.Config) -> Iterator[Clusters]:
    """The session's cluster pool (``kafka_cluster`` takes from it)."""
    pool = Clusters(pytestconfig)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def kafka_cluster(request: pytest.FixtureRequest, kchaos_clusters: Clusters) -> Any:
    """A running cluster fitting the test's ``kchaos`` marker (kept for the session)."""
    marker = request.node.get_closest_marker("kchaos")
    return kchaos_clusters.get(**(marker.kwargs if marker else {}))


@pytest.fixture
def history(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[api.History]:
    """A fresh history recorder for this test (``tmp_path/history.jsonl``)."""
    from kchaos import api

    recorder = api.History(tmp_path / "history.jsonl")
    request.node.stash[_HISTORY] = recorder
    try:
        yield recorder
    finally:
        recorder.close()


@pytest.fixture
def faults(kafka_cluster: Any, history: api.History) -> Iterator[api.Faults]:
    """Faults on the test's cluster; everything healed at teardown, whatever happened."""
    from kchaos import api

    handle = api.Faults(kafka_cluster, history)
    try:
        yield handle
    finally:
        handle.heal()
        api.wait_healthy(kafka_cluster)


class Workers:
    """Starts workers for one test and kills what still runs at its end."""

    def __init__(self, cluster: Any, history: api.History) -> None:
        self.cluster, self.history = cluster, history
        self.started: list[api.Worker] = []

    def start(self, argv: list[str], name: str = "worker", crash_at: str | None = None, **env: str) -> api.Worker:
        """Start ``argv`` recording into the test's history (``crash_at``: see ``crash_point``)."""
        from kchaos import api

        worker = api.Worker(argv, self.history, name=name, cluster=self.cluster.name, env=env)
        self.started.append(worker)
        return worker.start(crash_at)

    def stop_all(self) -> None:
        """SIGTERM (a graceful close), SIGKILL after 5 s: nothing is left running."""
        for worker in self.started:
            worker.stop(5.0)


@pytest.fixture
def workers(kafka_cluster: Any, history: api.History) -> Iterator[Workers]:
    """Start your own client code as processes; all are killed at teardown."""
    pool = Workers(kafka_cluster, history)
    try:
        yield pool
    finally:
        pool.stop_all()


_HISTORY = pytest.StashKey[Any]()
_ATTACHED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test's report carries its history: the path and the last lines."""
    outcome = yield
    report = outcome.get_result()
    recorder = item.stash.get(_HISTORY, None)
    if recorder is None or not report.failed or item.stash.get(_ATTACHED, False):
        return
    item.stash[_ATTACHED] = True
    try:
        lines = recorder.path.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    tail = "\n".join(lines[-HISTORY_TAIL:])
    report.sections.append(("kchaos history", f"{recorder.path} ({len(lines)} events)\n{tail}"))
    item.user_properties.append(("kchaos_history", str(recorder.path)))
