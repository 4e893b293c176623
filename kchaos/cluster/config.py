"""The server.properties of each node, from a ClusterSpec and its addresses.

Defaults are chosen for a small test cluster on a 2-core laptop: no initial rebalance
delay, small internal topics, no auto-created topics (so a typo in a topic name fails
loudly), and replication factors that fit the broker count.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

from kchaos.cluster.spec import ClusterSpec, NodeSpec
from kchaos.cluster.topology import Topology

_LOG4J2 = """status = warn
{appender}appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.network.name = kafka.network.RequestChannel$
logger.network.level = WARN
"""
_TO_FILE = (
    "appender.out.type = File\nappender.out.name = OUT\nappender.out.fileName = ${sys:kafka.logs.dir}/server.log\n"
)
_TO_CONSOLE = "appender.out.type = Console\nappender.out.name = OUT\n"

#: Local nodes log to ``server.log`` in their folder; containers log to stdout (``docker logs``).
LOG4J2_PROPERTIES = _LOG4J2.format(appender=_TO_FILE)
LOG4J2_CONSOLE = _LOG4J2.format(appender=_TO_CONSOLE)


def cluster_id(seed: bytes | None = None) -> str:
    """A KRaft cluster id: 16 bytes in URL-safe base64 (random, or from ``seed``).

    Like Kafka's own ``Uuid.randomUuid``, never one that starts with ``-``: the storage
    tool would read it as an option ("--cluster-id: expected one argument"), which made
    about one ``up`` in 64 fail.
    """
    raw = seed or uuid.uuid4().bytes
    while True:
        text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        if not text.startswith("-"):
            return text
        raw = uuid.uuid4().bytes if seed is None else hashlib.sha256(raw).digest()[:16]


def defaults(spec: ClusterSpec) -> dict[str, str]:
    """kchaos' broker defaults; an experiment's ``broker_config`` overrides any of them."""
    rf = spec.replication_factor
    return {
        "num.partitions": "1",
        "default.replication.factor": str(rf),
        "offsets.topic.replication.factor": str(rf),
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": str(rf),
        "transaction.state.log.min.isr": str(min(2, rf)),
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": str(rf),
        "share.coordinator.state.topic.min.isr": str(min(2, rf)),
        "group.initial.rebalance.delay.ms": "0",
        # Minimums only (the defaults stay 45 s and 5 s): an experiment may set the KIP-848
        # consumer protocol's session timeout low enough to see a crash within seconds.
        "group.consumer.min.session.timeout.ms": "3000",
        "group.consumer.min.heartbeat.interval.ms": "500",
        "group.min.session.timeout.ms": "2000",  # the classic protocol's minimum (default 6 s)
        "auto.create.topics.enable": "false",
        "replica.lag.time.max.ms": "10000",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.segment.bytes": str(64 * 1024 * 1024),
    }


def node_properties(spec: ClusterSpec, topo: Topology, node: NodeSpec, bind_host: str, log_dir: str) -> str:
    """One node's server.properties from the topology: it listens on ``bind_host`` at its
    own ports, advertises clients its client proxy and peers its name (which each peer
    resolves to its own proxy), and knows the controllers by name too."""
    p = topo.ports(node)
    voters = ",".join(f"{n.id}@{n.host}:{topo.ports(n).controller}" for n in spec.nodes if n.controller)
    listeners, advertised = {}, {}
    if node.broker:
        listeners["CLIENT"] = f"{bind_host}:{p.client}"
        listeners["REPLICATION"] = f"{bind_host}:{p.replication}"
        advertised["CLIENT"] = f"127.0.0.1:{p.client_proxy}"
        advertised["REPLICATION"] = f"{node.host}:{p.replication}"
    if node.controller:
        listeners["CONTROLLER"] = f"{bind_host}:{p.controller}"
        if node.broker:
            advertised["CONTROLLER"] = f"{node.host}:{p.controller}"
    return server_properties(spec, node, listeners, advertised, voters, log_dir)


def server_properties(
    spec: ClusterSpec,
    node: NodeSpec,
    listeners: dict[str, str],
    advertised: dict[str, str],
    voters: str,
    log_dir: str,
) -> str:
    """Render one node's server.properties.

    ``listeners``/``advertised`` map listener names (CLIENT, REPLICATION, CONTROLLER) to
    ``host:port``; ``voters`` is the static ``controller.quorum.voters`` string.
    """
    props = {
        "process.roles": node.roles,
        "node.id": str(node.id),
        "controller.quorum.voters": voters,
        "controller.listener.names": "CONTROLLER",
        "listeners": ",".join(f"{k}://{v}" for k, v in listeners.items()),
        # Every node must know how to speak to the controllers, brokers without a CONTROLLER listener too.
        "listener.security.protocol.map": ",".join(f"{k}:PLAINTEXT" for k in {**listeners, "CONTROLLER": ""}),
        "log.dirs": log_dir,
    }
    if advertised:
        props["advertised.listeners"] = ",".join(f"{k}://{v}" for k, v in advertised.items())
    if node.broker:
        props["inter.broker.listener.name"] = "REPLICATION"
    props.update(defaults(spec))
    props.update({k: str(v) for k, v in spec.broker_config.items()})
    return "".join(f"{k}={v}\n" for k, v in props.items())
