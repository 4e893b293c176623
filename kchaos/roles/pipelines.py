"""The pipeline workers (``pipeline:M``): consume-transform-produce, each in a process of
its own, with an optional side-effect store."""

from __future__ import annotations

from kchaos.roles.scope import RunScope, VariantContext
from kchaos.workload import pipeline
from kchaos.workload.pipeline import PipelineProcess


def workers(run: RunScope, ctx: VariantContext) -> dict[str, PipelineProcess]:
    """The pipeline workers by target name (``pipeline:M``), each in a process of its own."""
    spec, variant, store = ctx.rv.pipeline, ctx.rv.variant, ctx.store
    if spec is None:
        return {}
    if store is not None:
        pipeline.create_store(store, spec.store == "sqlite-idempotent")
    group = ctx.groups["pipe"]
    workers = {}
    for m in range(spec.workers):
        kwargs = {
            "name": f"v{ctx.index}w{m}",
            "group": group,
            "bootstrap": run.cluster.bootstrap,
            "input_topic": ctx.topic,
            "output_topic": ctx.names[spec.output],
            "mode": spec.mode,
            "consumer_config": {**spec.config, **variant.consumer},
            "producer_config": dict(spec.producer),
            "batch": spec.batch,
            "poll_ms": spec.poll_ms,
            "duration": ctx.reader_lifetime,
            "store": str(store) if store is not None else None,
            "idempotent_store": spec.store == "sqlite-idempotent",
        }
        workers[f"pipeline:{m}"] = PipelineProcess(kwargs, ctx.history.path, ctx.history.start, run.cluster.name)
    return workers
