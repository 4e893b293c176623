"""The workload's producers: recording Python producers (or, with a schema workload, the
one evolving producer), and Kafka's own VerifiableProducer beside them."""

from __future__ import annotations

from kchaos.roles.schemas import evolving
from kchaos.roles.scope import Producer, RunScope, VariantContext
from kchaos.workload.java import JavaProducer
from kchaos.workload.producer import Keys, RecordingProducer


def python_producers(run: RunScope, ctx: VariantContext) -> list[Producer]:
    """The workload's recording producers; with a schema workload, the one evolving
    producer that writes Avro records instead."""
    wl, variant = ctx.rv.workload, ctx.rv.variant
    if ctx.rv.schemas is not None:
        return [evolving(run, ctx)]
    return [
        RecordingProducer(
            f"v{ctx.index}p{i}",
            run.cluster.bootstrap,
            ctx.topic,
            ctx.pconf,
            ctx.history,
            wl.rate,
            ctx.lifetime,
            Keys(wl.keys, wl.key_count, prefix=wl.key_prefix),
            run.rng.getrandbits(32),
            wl.value_bytes,
            variant.txn_size or wl.txn_size,
            wl.abort_every,
            int(wl.volume_mb * 1e6 / wl.value_bytes),
            wl.corrupt,
        )
        for i in range(wl.producers)
    ]


def java_producers(run: RunScope, ctx: VariantContext) -> list[JavaProducer]:
    """Kafka's own VerifiableProducer beside the Python producers (``java_producers``)."""
    wl, variant = ctx.rv.workload, ctx.rv.variant
    conf = {**ctx.pconf, **variant.java_producer}  # java.java_producer_config translates it
    return [
        JavaProducer(
            f"v{ctx.index}j{i}",
            1000 * (ctx.index + 1) + i,
            run.cluster.bootstrap,
            ctx.topic,
            conf,
            ctx.history,
            wl.rate,
            ctx.lifetime,
            wl.key_count if wl.keys != "none" else 0,
            run.cluster.name,
            run.cluster.spec.kafka_version,
        )
        for i in range(wl.java_producers)
    ]
