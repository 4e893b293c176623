"""What cluster an experiment needs: node counts, controller layout, broker configs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from kchaos.errors import BadInput

ControllerMode = Literal["combined", "dedicated"]
DEFAULT_BASE_PORT = 29000


@dataclass(frozen=True)
class NodeSpec:
    """One KRaft node: its id, whether it is a broker, a controller or both."""

    id: int
    broker: bool
    controller: bool

    @property
    def roles(self) -> str:
        return ",".join(r for r, on in (("broker", self.broker), ("controller", self.controller)) if on)

    @property
    def host(self) -> str:
        """The name every other node dials; each node resolves it to its own proxy."""
        return f"kchaos-n{self.id}"


@dataclass(frozen=True)
class ClusterSpec:
    """A cluster's shape. Brokers are ids 1..N; dedicated controllers are 101, 102, ...

    ``broker_config`` is applied to every node on top of kchaos' defaults, so an
    experiment can set for example ``replica.lag.time.max.ms`` or
    ``unclean.leader.election.enable``.
    """

    brokers: int = 3
    controllers: ControllerMode = "combined"
    dedicated_controllers: int = 3
    broker_config: dict[str, str] = field(default_factory=dict)
    features: dict[str, int] = field(default_factory=dict)  # set at format time, e.g. ELR off
    kafka_version: str = "4.4.0"
    base_port: int = DEFAULT_BASE_PORT
    name: str = "default"
    heap_mb: int = 512

    def __post_init__(self) -> None:
        from kchaos import safety

        safety.cluster_name(self.name)
        safety.version(self.kafka_version, "kafka_version")
        for key, value in self.broker_config.items():  # --config and the API too, not only files
            if problem := safety.broker_config_problem(key, value):
                raise BadInput(problem)
        for name, level in self.features.items():
            if problem := safety.feature_problem(name, level):
                raise BadInput(problem)
        if self.brokers < 1 or self.brokers > 9:
            raise BadInput(f"--brokers={self.brokers}: choose between 1 and 9 brokers")
        if self.controllers not in ("combined", "dedicated"):
            raise BadInput(f"--controllers={self.controllers}: choose combined or dedicated")
        if self.controllers == "dedicated" and not 1 <= self.dedicated_controllers <= 5:
            raise BadInput(f"dedicated_controllers={self.dedicated_controllers}: choose 1 to 5")
        if not 1024 <= self.base_port <= 65000:
            raise BadInput(f"--base-port={self.base_port}: choose between 1024 and 65000")

    @property
    def nodes(self) -> list[NodeSpec]:
        """Every node, brokers first."""
        combined = self.controllers == "combined"
        nodes = [NodeSpec(i, True, combined) for i in range(1, self.brokers + 1)]
        if not combined:
            nodes += [NodeSpec(100 + i, False, True) for i in range(1, self.dedicated_controllers + 1)]
        return nodes

    @property
    def replication_factor(self) -> int:
        """The largest useful replication factor: 3, or fewer when there are fewer brokers."""
        return min(3, self.brokers)

    def node(self, node_id: int) -> NodeSpec:
        """The node with ``node_id``, or a one-line error listing the valid ids."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        valid = ", ".join(str(n.id) for n in self.nodes)
        raise BadInput(f"unknown node id {node_id}: this cluster has nodes {valid}")


def config_text(value: object) -> str:
    """A broker config value as the properties file has it (booleans lower-case)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def fits(
    have: ClusterSpec,
    brokers: int,
    controllers: str = "combined",
    broker_config: dict[str, object] | None = None,
    features: dict[str, int] | None = None,
) -> bool:
    """Whether a cluster of spec ``have`` serves a need: the same shape and features, and
    every broker config asked set to the value asked (other settings may differ)."""
    if have.brokers != brokers or have.controllers != controllers or have.features != (features or {}):
        return False
    set_now = {k: str(v) for k, v in have.broker_config.items()}
    return all(set_now.get(k) == config_text(v) for k, v in (broker_config or {}).items())
