"""Consume-transform-produce pipelines as the history proves them: which group each
output belongs to, and which inputs a committed transaction took.

A pipeline's output names its input (the send's ``input``); its producer is the pipeline
worker's, and the worker's ``process`` events name the group (``output``). A transaction
that committed (recorded, or inferred from what read_committed readers saw) made its
outputs visible *and* committed the input offsets sent in it: so its inputs were
processed, and its group's committed offset on each input partition is at least one past
the highest of them, even when the worker was SIGKILLed before it wrote its ``process``
and ``commit`` events, or never learned the outcome. Computed once per index.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from kchaos.checker.index import TP, Index


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
