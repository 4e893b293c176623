"""Consume-transform-produce pipelines as the history proves them: which group each
output belongs to, and which inputs a committed transaction took.

A pipeline's output names its input (the send's ``input``); its producer is the pipeline
worker's, and the worker's ``process`` events name the group (``output``). A transaction
that committed (recorded, or inferred from what read_committed readers saw) made its
outputs visible *and* committed the input offsets sent in it: so its inputs were
processed, and its group's committed offset on each input partition is at least one past
the highest of them, even when the worker was SIGKILLed before it wrote its ``process``
and ``commit`` events, or never learned the outcome. Computed once per index.

The pipeline family's measurements live here too: outputs per input (lost, duplicated),
re-deliveries, side effects, how long an open transaction of a killed worker held
read_committed readers back, and when an output became visible.

Visibility is measured where the reader is. ``commit_transaction()`` returns once the
coordinator has logged PREPARE_COMMIT; it writes the transaction markers after answering,
and a read_committed reader gets the output only once a marker has moved the last stable
offset past it. So ``visible_latency_ms`` is the first delivery of each output to a
read_committed consumer group, minus its input's send.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from kchaos.checker.index import RC, TP, Index
from kchaos.events import Effect
from kchaos.percentiles import ms, percentile


def pipeline_groups(ix: Index) -> set[str | None]:
    """Groups whose ``process`` events name outputs."""
    return _tables(ix)["groups"]


def producer_group(ix: Index, producer: str, input_id: str | None = None) -> str | None:
    """The pipeline group an output of ``producer`` belongs to: the group of the process
    events that name this producer's outputs; else, when only one pipeline group read the
    input, that group; else, when one group's member is the producer's namesake (kchaos
    names a worker's producer ``<reader>-<suffix>``), that group; else None."""
    t = _tables(ix)
    group = t["by_producer"].get(producer)
    if group is not None or not t["groups"]:
        return group
    if len(t["groups"]) == 1:
        return next(iter(t["groups"]))
    readers = t["readers_of"].get(input_id, {}) if input_id is not None else {}
    candidates = {g for g in readers.values() if g in t["groups"]}
    if len(candidates) == 1:
        return next(iter(candidates))
    named = {g for reader, g in readers.items() if producer.startswith(f"{reader}-")}
    return next(iter(named)) if len(named) == 1 else None


def committed_inputs(ix: Index) -> dict[tuple[str | None, TP], dict[int, str]]:
    """Per (group, input partition): the inputs (offset -> id) whose outputs a committed
    transaction holds."""
    return _tables(ix)["inputs"]


def _tables(ix: Index) -> dict[str, Any]:
    cached = ix.cache.get("pipelines")
    if cached is not None:
        return cached
    sends = ix.sends
    by_producer: dict[str, str | None] = {}
    groups: set[str | None] = set()
    for p in ix.processes:
        if p.output is not None:
            groups.add(p.group)
            s = sends.get(p.output)
            if s is not None:
                by_producer.setdefault(s.producer, p.group)
    tables: dict[str, Any] = {"by_producer": by_producer, "groups": groups, "readers_of": {}, "inputs": {}}
    ix.cache["pipelines"] = tables
    outputs = [s for s in sends.values() if s.input is not None and s.txn is not None and s.status != "fail"]
    if not outputs:
        return tables
    txns = ix.txns
    wanted = {s.input for s in outputs}
    readers_of: dict[str, dict[str, str]] = defaultdict(dict)
    if len(groups) > 1:
        for r in ix.reads:
            if r.group is not None and r.id in wanted:
                readers_of[r.id][r.reader] = r.group
    tables["readers_of"] = readers_of
    inputs: dict[tuple[str | None, TP], dict[int, str]] = defaultdict(dict)
    for s in outputs:
        if txns.get(s.txn) != "commit":  # type: ignore[arg-type]
            continue
        source = sends.get(s.input)  # type: ignore[arg-type]
        where = ix.position(source) if source is not None else None
        if where is None:
            continue
        group = producer_group(ix, s.producer, s.input)
        inputs[(group, (where[0], where[1]))][where[2]] = s.input
    tables["inputs"] = dict(inputs)
    return tables


def pipeline_measurements(ix: Index) -> dict[str, Any]:
    """A consume-transform-produce pipeline, counted per input record: committed outputs
    (0 is lost, 2 or more duplicated), re-deliveries, and the rows of its side effect.
    Empty when no pipeline ran (no ``process`` event names an output)."""
    outputs = [p for p in ix.processes if p.output is not None]
    if not outputs:
        return {}
    groups, input_topics = {p.group for p in outputs}, {p.topic for p in outputs}
    # Committed outputs per input, each output position once.
    positions = {(r.topic, r.partition, r.offset): r.input for r in ix.drain_reads(RC) if r.input is not None}
    committed = Counter(positions.values())
    covered_to: dict[tuple[str, int], int] = {}
    for c in ix.commits:
        if c.status == "ok" and c.group in groups and c.topic in input_topics:
            covered_to[(c.topic, c.partition)] = max(covered_to.get((c.topic, c.partition), 0), c.offset)
    # Inputs the pipeline committed past (it owes each one output); the others it never had to do.
    inputs = {i for tp, at in ix.committed_view.items() for o, i in at.items() if o < covered_to.get(tp, 0)}
    behind = {i for (t, _), at in ix.committed_view.items() if t in input_topics for i in at.values()} - inputs
    delivered = Counter(r.id for r in ix.reads if r.group in groups)
    kills = [f for f in ix.faults if f.name == "kill-client" and f.phase == "start" and (f.args or {}).get("at")]
    rows = Counter(e.input for e in ix.other if isinstance(e, Effect))
    visible = _visible_outputs(ix)
    latencies = [t - ix.sends[i].t0 for i, t in visible.items() if i in ix.sends and ix.sends[i].t0_known]
    first = min((p.t for p in outputs), default=0.0)
    span = max(visible.values(), default=first) - first
    after_kill, after_open = _txn_abort_after_kill(ix, kills)
    return {
        "pipeline_throughput_per_s": round(len(visible) / span, 1) if span > 0 else None,
        "pipeline_latency_ms": {"p50": ms(percentile(latencies, 50)), "p99": ms(percentile(latencies, 99))},
        "pipeline_inputs": len({p.id for p in outputs}),
        "pipeline_outputs": sum(committed.values()),
        "pipeline_lost": sum(1 for i in inputs if committed[i] == 0),
        "pipeline_unprocessed": sum(1 for i in behind if committed[i] == 0),
        "pipeline_duplicated": sum(1 for i in inputs if committed[i] > 1),
        "pipeline_redelivered": sum(n - 1 for n in delivered.values() if n > 1),
        "txn_abort_after_kill_s": after_kill,
        "txn_abort_after_open_s": after_open,
        "pipeline_kills": len(kills),
        "pipeline_kills_at_point": sum(1 for f in kills if (f.args or {}).get("reached")),
        **(
            {"effects": sum(rows.values()), "effects_duplicated": sum(1 for n in rows.values() if n > 1)}
            if rows
            else {}
        ),
    }


def _txn_abort_after_kill(ix: Index, kills: list[Any]) -> tuple[float | None, float | None]:
    """After a transactional worker is SIGKILLed with its transaction open, read_committed
    consumers get nothing past that transaction's first record on each partition it
    wrote to (the last stable offset stays there) until the coordinator aborts it, after
    transaction.timeout.ms counted from the transaction's start. Seconds to the first
    group read past it, from the kill and from the open transaction's first record (the
    longest over kills of each), or None when no such read came. Only the second has the
    timeout as its floor: the transaction may have been open for a while at the kill."""
    from_kill, from_open = [], []
    for kill in kills:
        open_ = [
            s
            for s in ix.sends.values()
            if s.txn and s.status == "ok" and s.producer.startswith(f"{kill.target}-") and s.t0 <= kill.t
            if ix.txns.get(s.txn) != "commit"
        ]
        first: dict[tuple[str, int], int] = {}
        for s in open_:
            tp = (s.topic, s.partition)
            first[tp] = min(first.get(tp, s.offset), s.offset)  # type: ignore[type-var, arg-type]
        past = [
            r.t
            for r in ix.reads
            if r.group is not None
            and r.committed_only
            and r.t > kill.t
            and r.offset > first.get((r.topic, r.partition), 1 << 62)
        ]
        if past:
            from_kill.append(round(min(past) - kill.t, 3))
            never_ended = [s.t0 for s in open_ if ix.txns.get(s.txn) == "unknown" and s.t0_known]
            if never_ended:
                from_open.append(round(min(past) - min(never_ended), 3))
    return (max(from_kill) if from_kill else None), (max(from_open) if from_open else None)


def _visible_outputs(ix: Index) -> dict[str, float]:
    """Input id -> when its first committed output became visible to read_committed
    readers: its transaction's commit, or (outside a transaction) its ack."""
    out: dict[str, float] = {}
    for r in ix.drain_reads(RC):
        send = ix.sends.get(r.id)
        if r.input is None or send is None:
            continue
        txn = ix.txn_events.get(send.txn) if send.txn else None
        t = txn.t if txn is not None and txn.status == "commit" else send.t1
        out[r.input] = min(t, out.get(r.input, t))
    return out


def first_committed_delivery(ix: Index) -> dict[str, float]:
    """Input id -> when a read_committed group first got an output carrying it."""
    first: dict[str, float] = {}
    for r in ix.reads:
        if r.group is None or r.input is None or not r.committed_only:
            continue
        if r.t < first.get(r.input, float("inf")):
            first[r.input] = r.t
    return first


def visibility_measurements(ix: Index) -> dict[str, Any]:
    """``visible_latency_ms``: input send to its output's first delivery to a
    read_committed group (p50, p99); empty when no such group read outputs."""
    first = first_committed_delivery(ix)
    latencies = [t - ix.sends[i].t0 for i, t in first.items() if i in ix.sends and ix.sends[i].t0_known]
    if not latencies:
        return {}
    return {
        "visible_latency_ms": {
            "p50": ms(percentile(latencies, 50)),
            "p99": ms(percentile(latencies, 99)),
        }
    }
