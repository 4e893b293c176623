"""One function per anomaly kind (``docs/anomalies.md``): Index in, list of instances out.

Each returns *every* instance found (the count is its length); reports show the first
ten. Each docstring says why the pattern is an anomaly and when it is allowed. The
reference is Jepsen's Kafka checker (lost-write, poll-skip, nonmonotonic-poll,
inconsistent-offsets, G1a, precommitted-read, duplicates); where Kafka's semantics allow
a sharper judgement (committed offsets, per-isolation drains, leader epochs, inferred
transaction outcomes) the checks here take it. Whole-history scans use one plain loop or
set operations: they run on histories of millions of events.
"""

from __future__ import annotations

from collections.abc import Callable

from kchaos.checker.anomalies import consumers, offsets, transactions, writes
from kchaos.checker.anomalies.examples import Example
from kchaos.checker.index import Index

#: The families, in the order reports list their kinds: each module holds its kinds'
#: checks (``CHECKS``) and what a workload must produce for them to fire (``NEEDS``).
FAMILIES = (writes, offsets, consumers, transactions)

CHECKS: dict[str, Callable[[Index], list[Example]]] = {k: f for m in FAMILIES for k, f in m.CHECKS.items()}
KINDS = tuple(CHECKS)

#: What a workload must produce for each check to be able to fire (``docs/anomalies.md``).
#: ``group``: consumer groups (reads, commits, rebalances); ``txn``: transactional
#: producers; ``keyed``: records with keys; ``pipeline``: outputs that name their input.
#: An expectation on a kind whose needs a variant cannot meet is refused at load: it
#: could never fail.
NEEDS: dict[str, frozenset[str]] = {
    **{kind: frozenset() for kind in CHECKS},
    **{k: n for m in FAMILIES for k, n in getattr(m, "NEEDS", {}).items()},
}


def family_of(kind: str) -> str:
    """The family a kind belongs to (its module's last name: ``writes``, ``offsets``, ...)."""
    return next(m.__name__.rsplit(".", 1)[1] for m in FAMILIES if kind in m.CHECKS)
