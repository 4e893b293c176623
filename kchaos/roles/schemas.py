"""The schema workload: the producer that deploys schema versions in turn, and one
reader group per reader schema (``reader:NAME``)."""

from __future__ import annotations

from kchaos.experiment import schema_file
from kchaos.patterns.evolving import EvolvingProducer
from kchaos.patterns.schema import connect, load_schema
from kchaos.patterns.worker import PatternProcess
from kchaos.roles.scope import RunScope, VariantContext


def evolving(run: RunScope, ctx: VariantContext) -> EvolvingProducer:
    """The producer that deploys the schema versions in turn, on a subject set to the
    variant's compatibility level."""
    spec, url = ctx.rv.schemas, run.registry()
    assert spec is not None  # only a schema workload has one
    connect(url).set_compatibility(subject_name=f"{ctx.topic}-value", level=spec.compatibility)
    versions = [(name, load_schema(schema_file(name))) for name in spec.versions]
    return EvolvingProducer(
        f"v{ctx.index}a0",
        run.cluster.bootstrap,
        ctx.topic,
        ctx.pconf,
        ctx.history,
        url,
        versions,
        spec.every_s,
        ctx.rv.workload.rate,
        ctx.lifetime,
    )


def readers(run: RunScope, ctx: VariantContext) -> dict[str, PatternProcess]:
    """One consumer group per reader schema (``reader:NAME``), each worker decoding with
    it and dead-lettering what it cannot read."""
    spec, names = ctx.rv.schemas, ctx.names
    if spec is None:
        return {}
    topic, url = ctx.topic, run.registry()
    readers = {}
    for name, schema in spec.readers.items():
        kwargs = {
            "name": f"v{ctx.index}{name}0",
            "group": ctx.groups[f"reader:{name}"],
            "bootstrap": run.cluster.bootstrap,
            "input_topic": topic,
            "handler": {"avro": {"registry": url, "reader_schema": load_schema(schema_file(schema))}},
            "dead_letter": names[spec.dead_letter] if spec.dead_letter else None,
            "duration": ctx.reader_lifetime,
        }
        readers[f"reader:{name}"] = PatternProcess(kwargs, ctx.history.path, ctx.history.start, run.cluster.name)
    return readers
