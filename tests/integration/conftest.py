"""One real 3-broker cluster for the whole integration session, healed between tests.

``replica.lag.time.max.ms`` is low (3 s) so ISR changes show within a test's time.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import NewTopic

from kchaos import install
from kchaos.cluster import teardown
from kchaos.cluster.base import Cluster
from kchaos.cluster.inspect import partition_info
from kchaos.cluster.local import LocalCluster
from kchaos.cluster.readiness import admin
from kchaos.cluster.spec import ClusterSpec
from kchaos.errors import NotInstalled
from tests.conftest import require

TEST_CLUSTER = "itest"
TEST_BASE_PORT = 30000
#: The broker profile every shipped experiment asks for, so they all run on this cluster.
FAST_FAILURE = {
    "replica.lag.time.max.ms": "3000",
    "broker.session.timeout.ms": "6000",
    "broker.heartbeat.interval.ms": "1000",
    "log.retention.check.interval.ms": "1000",
    "group.consumer.session.timeout.ms": "6000",
    "group.consumer.heartbeat.interval.ms": "1000",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000",
}


def _installed() -> bool:
    try:
        install.find_kafka()
        install.find_toxiproxy()
        install.find_java()
        return True
    except NotInstalled:
        return False


def brought_up(c: Cluster) -> Iterator[Cluster]:
    """``c`` up (leftovers of the same name reaped first), yielded, and always taken down.

    The seconds ``up`` took are kept as ``c.up_seconds`` for tests that check them.
    """
    teardown(c.name)
    c.up_seconds = c.up()  # type: ignore[attr-defined]
    print(f"\n[kchaos] {c.backend} cluster '{c.name}' writable after {c.up_seconds:.1f} s")  # type: ignore[attr-defined]
    try:
        yield c
    finally:
        teardown(c.name)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    require(_installed(), "Kafka, Toxiproxy or Java is not installed")
    yield from brought_up(
        LocalCluster(ClusterSpec(name=TEST_CLUSTER, base_port=TEST_BASE_PORT, broker_config=FAST_FAILURE))
    )


@pytest.fixture
def healthy(cluster: LocalCluster) -> Iterator[LocalCluster]:
    """The cluster, healed after the test whatever it did."""
    yield cluster
    heal_and_wait(cluster)


def heal_and_wait(cluster: Cluster) -> None:
    """Heal everything, then wait until every partition has its full ISR again."""
    cluster.heal()
    wait_for(lambda: _fully_replicated(cluster), 90, "every partition back to a full ISR after heal")


def _fully_replicated(cluster: LocalCluster) -> bool:
    from kchaos.cluster.inspect import partitions

    parts = [p for ps in partitions(cluster).values() for p in ps]
    return all(p["leader"] >= 0 and len(p["isr"]) == len(p["replicas"]) for p in parts)


def new_topic(cluster: LocalCluster, partitions: int = 1, rf: int = 3, config: dict[str, str] | None = None) -> str:
    """Create a fresh topic and wait until every partition has a leader and a full ISR."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    adm = admin(cluster.bootstrap)
    adm.create_topics([NewTopic(name, partitions, rf, config=config or {})])[name].result(timeout=30)
    wait_for(
        lambda: all(len(partition_info(cluster, name, p)["isr"]) == rf for p in range(partitions)),
        30,
        f"{name} fully replicated",
    )
    return name


def wait_for(predicate, seconds: float, what: str, interval: float = 0.25):
    """Poll ``predicate`` until it returns truthy; fail the test naming ``what``."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as err:  # noqa: BLE001 - metadata can fail while a broker is down
            last = err
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {seconds:.0f} s waiting for {what} (last: {last!r})")


def as_a_terminal_would() -> None:
    """For a child that a test interrupts with SIGINT: Ctrl-C's default disposition,
    unblocked. A test run started as a background job of a non-interactive shell inherits
    SIGINT ignored (POSIX shells do that to ``cmd &``), and so would every child, which
    would then never see the Ctrl-C the test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
