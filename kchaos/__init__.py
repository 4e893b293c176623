"""kchaos: answer Kafka's architecture questions with evidence from a real cluster.

The public Python API (``docs/api.md``) is what ``__all__`` lists; it is loaded on first
use, so ``import kchaos`` (and the CLI) stay quick. Everything else is internal.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "ActiveFault",
    "AnomaliesFound",
    "BadInput",
    "Cluster",
    "ClusterError",
    "Faults",
    "History",
    "KchaosError",
    "RecordedConsumer",
    "RecordedProducer",
    "Worker",
    "assert_no_anomalies",
    "attach",
    "check",
    "controller",
    "crash_point",
    "create_topic",
    "down",
    "drain",
    "follower_of",
    "group_coordinator",
    "leader_of",
    "node",
    "random_broker",
    "txn_coordinator",
    "up",
    "wait_healthy",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from kchaos import api

        return getattr(api, name)
    raise AttributeError(f"module 'kchaos' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
