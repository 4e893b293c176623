"""The consumer groups' members (``consumer:G:M``): Python threads or child processes,
Java members, and the standby members only a ``start-client`` fault starts."""

from __future__ import annotations

from typing import Any

from kchaos.experiment import Experiment
from kchaos.roles.scope import Member, RunScope, VariantContext
from kchaos.workload.child import ClientProcess
from kchaos.workload.consumer import GroupConsumer
from kchaos.workload.java import JavaConsumer


def members(run: RunScope, ctx: VariantContext) -> dict[str, Member]:
    """The group members by target name (``consumer:G:M``): threads, or child
    processes when the workload asks (``process: true``, for client faults). They
    read the workload's topic, or the one the groups name (``topic``)."""
    spec, variant, index, history = ctx.rv.groups, ctx.rv.variant, ctx.index, ctx.history
    if spec is None:
        return {}
    topic = ctx.names[spec.topic or run.exp.workload.topic]
    conf = {**spec.config, **variant.consumer}
    out: dict[str, Member] = {}
    for g in range(spec.groups):
        group = ctx.groups[f"g{g}"]
        python = [*range(spec.members), *range(spec.members + spec.java_members, members_per_group(run.exp))]
        for m in python:
            kwargs: dict[str, Any] = {
                "name": f"v{index}g{g}c{m}",
                "group": group,
                "bootstrap": run.cluster.bootstrap,
                "topics": [topic],
                "config": {**conf, **({"group.instance.id": f"{group}-m{m}"} if m in spec.static_members else {})},
                "commit": spec.commit,
                "processing_ms": spec.processing_of(g),
                "duration": ctx.reader_lifetime,
                "batch": spec.batch,
                "commit_every": spec.commit_every,
                "commit_on_revoke": spec.commit_on_revoke,
                "poll_ms": spec.poll_ms,
            }
            if spec.process:
                out[f"consumer:{g}:{m}"] = ClientProcess(kwargs, history.path, history.start, run.cluster.name)
            else:
                out[f"consumer:{g}:{m}"] = GroupConsumer(history=history, **kwargs)
        for j in range(spec.java_members):
            out[f"consumer:{g}:{spec.members + j}"] = JavaConsumer(
                f"v{index}g{g}j{j}",
                group,
                run.cluster.bootstrap,
                [topic],
                {**conf, **variant.java_consumer},
                history,
                run.cluster.name,
                run.cluster.spec.kafka_version,
            )
    return out


def members_per_group(exp: Experiment) -> int:
    """Every member of a group: Python, Java and standby."""
    spec = exp.workload.consumers
    return 0 if spec is None else spec.members + spec.java_members + spec.standby


def standby(exp: Experiment, members: dict[str, Any]) -> list[Any]:
    """The members started only by a ``start-client`` fault (the last ``standby`` of each group)."""
    spec = exp.workload.consumers
    if spec is None or not spec.standby:
        return []
    first = spec.members + spec.java_members
    return [c for ref, c in members.items() if int(ref.rsplit(":", 1)[1]) >= first]
