"""Kafka features a variant may need, and whether a cluster has them.

A company runs the experiments on its own Kafka version. A variant that needs the
consumer group protocol of KIP-848 on a 3.9 broker does not show anything about that
broker: it runs its whole time with nobody noticing the join, and fails. So a variant
declares what it needs (``requires: [kip-848]``); before it runs, the runner asks the
cluster which feature levels are finalized (``kafka-features describe``) and skips the
variant, with the reason, when one is missing. Where the cluster cannot be asked, the
Kafka version decides (each feature's first release).

Finalized levels are what a KRaft cluster agreed on (KIP-584): a broker may support
a level its cluster has not finalized (share groups before ``share.version=1``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    """One capability: its name in experiment files, what it is, the first Kafka release
    that has it, and the finalized feature (KIP-584) and level that turn it on."""

    name: str
    title: str
    since: str
    flag: str
    level: int


FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("kip-848", "the consumer group protocol (KIP-848)", "4.0.0", "group.version", 1),
        Feature("share-groups", "share groups (KIP-932)", "4.1.0", "share.version", 1),
        Feature("share-dlq", "share groups' dead-letter queue (KIP-1191)", "4.4.0", "share.version", 2),
        Feature("elr", "eligible leader replicas (KIP-966)", "4.0.0", "eligible.leader.replicas.version", 1),
        Feature("transaction-v2", "transaction protocol 2 (KIP-890)", "4.0.0", "transaction.version", 2),
    )
}

#: Topic settings a broker without the feature refuses ("Unknown topic config name"):
#: the runner leaves them out of the topics it creates when the feature is missing.
TOPIC_CONFIG_FEATURES = {"errors.deadletterqueue.group.enable": "share-dlq"}


def unknown_problem(names: list[str]) -> str | None:
    """A one-line error for a feature name this module does not know, with the closest."""
    for name in names:
        if name not in FEATURES:
            close = difflib.get_close_matches(name, list(FEATURES), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return f"unknown feature {name!r}{hint}; known: {', '.join(FEATURES)}"
    return None


def version_key(version: str) -> tuple[int, ...]:
    """``"3.9.1"`` → ``(3, 9, 1)``; a suffix (``-rc1``) is ignored."""
    return tuple(int(p) for p in re.findall(r"\d+", version.split("-")[0])[:3])


def parse_finalized(text: str) -> dict[str, int]:
    """Finalized levels from ``kafka-features describe`` (``FeatureCommand``) output:
    ``Feature: group.version ... FinalizedVersionLevel: 1 ...`` per line. A feature the
    cluster has not finalized is absent (level 0)."""
    levels = {}
    for match in re.finditer(r"Feature:\s*(\S+).*?FinalizedVersionLevel:\s*(\d+)\b", text):
        levels[match.group(1)] = int(match.group(2))
    return levels


def missing(required: list[str], version: str, finalized: dict[str, int] | None) -> str | None:
    """Why a variant needing ``required`` cannot run on Kafka ``version`` whose finalized
    levels are ``finalized`` (None: not known, the version decides); None when it can."""
    for name in required:
        f = FEATURES[name]
        if version_key(version) < version_key(f.since):
            return f"needs {f.title}: Kafka {version} does not have it (from {f.since})"
        if finalized is not None and finalized.get(f.flag, 0) < f.level:
            have = finalized.get(f.flag, 0)
            return f"needs {f.title}: this cluster finalized {f.flag} at {have}, not {f.level}"
    return None
