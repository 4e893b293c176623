"""Broker settings changed on a running cluster: dynamic per-broker configs set on every
broker the cluster has (confluent-kafka cannot name the cluster-wide default resource),
which each broker applies without a restart. Only settings Kafka lists as dynamic take
(``num.io.threads``, ``num.replica.fetchers``, ``num.network.threads``, ``log.*``
defaults, ...); Kafka refuses the others, and so does this, with the broker's reason."""

from __future__ import annotations

from typing import Any

from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

from kchaos.clients import config_text
from kchaos.cluster.readiness import admin
from kchaos.errors import ClusterError
from kchaos.faults.context import StepContext


def set_broker_configs(bootstrap: str, config: dict[str, Any]) -> None:
    """Set (a value) or remove (None) dynamic broker settings on every broker, incrementally."""
    if not config:
        return
    client = admin(bootstrap)  # kept alive until the futures resolve
    entries = [
        ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE)
        if v is None
        else ConfigEntry(k, config_text(v), incremental_operation=AlterConfigOpType.SET)
        for k, v in config.items()
    ]
    try:
        brokers = sorted(client.list_topics(timeout=15).brokers)
        for b in brokers:  # Kafka takes one broker resource per request
            resource = ConfigResource(ConfigResource.Type.BROKER, str(b), incremental_configs=entries)
            for fut in client.incremental_alter_configs([resource]).values():
                fut.result(timeout=30)
    except Exception as err:  # noqa: BLE001 - any admin failure is the same to the run
        raise ClusterError(f"cannot set broker configs {config}: {err}") from None


def set_broker_config_step(ctx: StepContext, config: dict[str, Any]) -> None:
    """Change cluster-wide broker settings now (dynamic ones only)."""
    set_broker_configs(ctx.cluster.bootstrap, config)
    ctx.record("set-broker-config", "cluster", "start", args=dict(config))
    ctx.record("set-broker-config", "cluster", "end")
