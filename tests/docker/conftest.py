"""One real 3-broker cluster on the docker backend for this package's tests.

It needs a Docker daemon and the images (official or built with ``kchaos images build
--offline``); in CI their absence fails the tests, elsewhere it skips them. The cluster
lives for this package only, so it is gone before the local integration tests start.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kchaos.cluster.docker import DockerCluster, images
from kchaos.cluster.spec import ClusterSpec
from tests.conftest import require
from tests.integration.conftest import FAST_FAILURE, _installed, brought_up, heal_and_wait

DOCKER_CLUSTER = "dtest"
DOCKER_BASE_PORT = 25000


def docker_ready() -> bool:
    return images.offline_available(ClusterSpec().kafka_version)


def require_docker() -> None:
    require(_installed(), "Kafka, Toxiproxy or Java is not installed")
    require(docker_ready(), "no Docker daemon answers or the images are absent (kchaos images build --offline)")


@pytest.fixture(scope="package")
def dcluster() -> Iterator[DockerCluster]:
    require_docker()
    spec = ClusterSpec(name=DOCKER_CLUSTER, base_port=DOCKER_BASE_PORT, broker_config=FAST_FAILURE)
    yield from brought_up(DockerCluster(spec))


@pytest.fixture
def dhealthy(dcluster: DockerCluster) -> Iterator[DockerCluster]:
    """The docker cluster, healed after the test whatever it did."""
    yield dcluster
    heal_and_wait(dcluster)
