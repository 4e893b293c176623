"""The pattern workers (``pattern:M``): a consumer group (or share group) that handles,
retries and dead-letters records, each in a process of its own."""

from __future__ import annotations

from typing import Any

from kchaos.experiment import Experiment, PatternSpec
from kchaos.patterns import share
from kchaos.patterns.worker import PatternProcess
from kchaos.roles.scope import RunScope, VariantContext


def topology(
    exp: Experiment, groups: dict[str, str], spec: PatternSpec | None, names: dict[str, str]
) -> dict[str, Any] | None:
    """What the history must say of a pattern for its check: its group and topics."""
    if spec is None:
        return None
    return {
        "group": groups["pattern"],
        "input": names[exp.workload.topic],
        "retry": [names[t] for t in spec.retry_topics],
        "dead_letter": names[spec.dead_letter] if spec.dead_letter else None,
    }


def workers(run: RunScope, ctx: VariantContext) -> dict[str, PatternProcess]:
    """The pattern workers by target name (``pattern:M``), each in a process of its own."""
    spec, variant = ctx.rv.pattern, ctx.rv.variant
    if spec is None:
        return {}
    where = topology(run.exp, ctx.groups, spec, ctx.names)
    done = run.run_dir / f"done.{ctx.index}.sqlite" if spec.dedupe else None
    if spec.share:
        share.configure_group(run.cluster.bootstrap, where["group"], where["dead_letter"], spec.attempts)  # type: ignore[index]
    workers = {}
    for m in range(spec.workers):
        kwargs = {
            "name": f"v{ctx.index}r{m}",
            "group": where["group"],  # type: ignore[index]
            "bootstrap": run.cluster.bootstrap,
            "input_topic": where["input"],  # type: ignore[index]
            "handler": spec.handler.model_dump(),
            "retry": {
                "mode": spec.retry,
                "attempts": spec.attempts,
                "backoff_ms": spec.backoff_ms,
                "topics": where["retry"],  # type: ignore[index]
                "delays_ms": spec.delays_ms,
            },
            "dead_letter": where["dead_letter"],  # type: ignore[index]
            "dedupe": str(done) if done is not None else None,
            **({"share": True, "attempts": spec.attempts} if spec.share else {}),
            "parallel": spec.parallel,
            "ordering": spec.ordering,
            "consumer_config": {**spec.config, **variant.consumer},
            "producer_config": dict(spec.producer),
            "batch": spec.batch,
            "poll_ms": spec.poll_ms,
            "duration": ctx.reader_lifetime,
        }
        workers[f"pattern:{m}"] = PatternProcess(kwargs, ctx.history.path, ctx.history.start, run.cluster.name)
    return workers
