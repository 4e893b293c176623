"""The target grammar, one spelling everywhere (older spellings accepted as aliases).

| target | means |
|---|---|
| ``3`` | node 3 |
| ``leader-of:TOPIC:P`` | the leader of partition P of TOPIC now (alias ``leader:TOPIC:P``) |
| ``follower-of:TOPIC:P[:N]`` | a follower of it; with N the N-th by id, 0-based (alias ``follower:``) |
| ``controller`` | the active KRaft controller |
| ``random`` | a broker chosen with the run's seeded random source |
| ``coordinator:TRANSACTIONAL_ID`` | the broker leading that id's ``__transaction_state`` partition |
| ``group-coordinator-of:GROUP`` | the broker leading that group's ``__consumer_offsets`` partition |
| ``txn-coordinator[:N]`` | the same for the workload's producer N (run-only) |
| ``group-coordinator[:N]`` | the broker leading the ``__consumer_offsets`` partition of the workload's group N (run-only) |
| ``consumer:G:M`` | member M of the workload's consumer group G, for client faults (run-only) |
| ``pipeline:M`` | worker M of the workload's pipeline, for client faults (run-only) |
| ``pattern:M`` | worker M of the workload's pattern group (retries, dead letters), for client faults (run-only) |
| ``$name`` | the node an earlier step resolved and named with ``as: name`` (run-only) |

In experiment files TOPIC is the file's topic name; the run maps it to the real one.
Parsing is pure and done when a file loads; resolving to a node id needs the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

RUN_ONLY = ("txn-coordinator", "group-coordinator", "consumer", "pipeline", "pattern", "$")
#: The target kinds that name a workload client (the client faults' targets).
CLIENT_KINDS = ("consumer", "pipeline", "pattern")
ALIASES = {"leader": "leader-of", "follower": "follower-of"}


@dataclass(frozen=True)
class Target:
    kind: str  # node, leader-of, follower-of, controller, random, coordinator, txn-coordinator, group-coordinator, $
    node: int | None = None
    topic: str | None = None
    partition: int | None = None
    index: int | None = None
    name: str | None = None

    def text(self, topic: str | None = None) -> str:
        """The canonical spelling (with ``topic`` in place of the file's topic name)."""
        if self.kind == "node":
            return str(self.node)
        if self.kind == "$":
            return f"${self.name}"
        if self.kind in ("leader-of", "follower-of"):
            n = f":{self.index}" if self.index is not None else ""
            return f"{self.kind}:{topic or self.topic}:{self.partition}{n}"
        if self.kind in ("coordinator", "group-coordinator-of"):
            return f"{self.kind}:{self.name}"
        if self.kind in ("txn-coordinator", "group-coordinator"):
            return f"{self.kind}:{self.index or 0}"
        if self.kind == "consumer":
            return f"consumer:{self.partition}:{self.index}"
        if self.kind in ("pipeline", "pattern"):
            return f"{self.kind}:{self.index}"
        return self.kind


def parse(ref: str | int) -> Target:
    """A target's parts; ValueError says how to write it."""
    text = str(ref).strip()
    if text.isdigit():
        return Target("node", node=int(text))
    if text.startswith("$"):
        if not text[1:]:
            raise ValueError("target '$': write $NAME of an earlier step's 'as: NAME'")
        return Target("$", name=text[1:])
    kind, _, rest = text.partition(":")
    kind = ALIASES.get(kind, kind)
    if kind in ("controller", "random") and not rest:
        return Target(kind)
    if kind in ("coordinator", "group-coordinator-of") and rest:
        return Target(kind, name=rest)
    if kind in ("txn-coordinator", "group-coordinator"):
        if rest and not rest.isdigit():
            raise ValueError(f"target {text!r}: write {kind}[:N], N the workload's {kind[:-12] or 'txn'} number")
        return Target(kind, index=int(rest or 0))
    if kind == "consumer":
        g, _, m = rest.partition(":")
        if not (g.isdigit() and m.isdigit()):
            raise ValueError(f"target {text!r}: write consumer:GROUP:MEMBER (0-based numbers), e.g. consumer:0:1")
        return Target(kind, partition=int(g), index=int(m))  # group in ``partition``, member in ``index``
    if kind in ("pipeline", "pattern"):
        if not rest.isdigit():
            raise ValueError(f"target {text!r}: write {kind}:WORKER (0-based), e.g. {kind}:0")
        return Target(kind, index=int(rest))
    if kind in ("leader-of", "follower-of"):
        parts = rest.split(":")
        if len(parts) == 3 and kind == "follower-of" and parts[2].isdigit() and parts[1].isdigit():
            return Target(kind, topic=parts[0], partition=int(parts[1]), index=int(parts[2]))
        if len(parts) == 2 and parts[0] and parts[1].isdigit():
            return Target(kind, topic=parts[0], partition=int(parts[1]))
        raise ValueError(f"target {text!r}: write {kind}:TOPIC:PARTITION, e.g. {kind}:orders:0")
    raise ValueError(
        f"target {text!r}: unknown kind {kind!r}; use a node id, leader-of:T:P, follower-of:T:P[:N], controller, "
        "random, coordinator:TRANSACTIONAL_ID, group-coordinator-of:GROUP, txn-coordinator[:N], group-coordinator[:N], consumer:G:M, pipeline:M, pattern:M or $name"
    )


# The grammar as functions, for Python code (the public API): each returns the target's text.


def node(node_id: int) -> str:
    """Node ``node_id``."""
    return str(int(node_id))


def leader_of(topic: str, partition: int) -> str:
    """Whoever leads ``topic``-``partition`` when the fault starts."""
    return f"leader-of:{topic}:{int(partition)}"


def follower_of(topic: str, partition: int, index: int | None = None) -> str:
    """A follower of ``topic``-``partition`` (with ``index``: the index-th by id, 0-based)."""
    return f"follower-of:{topic}:{int(partition)}" + (f":{int(index)}" if index is not None else "")


def controller() -> str:
    """The active KRaft controller."""
    return "controller"


def random_broker() -> str:
    """A broker chosen at random."""
    return "random"


def txn_coordinator(transactional_id: str) -> str:
    """The transaction coordinator of ``transactional_id``."""
    return f"coordinator:{transactional_id}"


def group_coordinator(group_id: str) -> str:
    """The group coordinator of consumer group ``group_id``."""
    return f"group-coordinator-of:{group_id}"
