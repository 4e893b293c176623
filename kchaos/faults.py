"""The nemesis: runs an experiment's fault steps against a cluster and heals them all.

Each step resolves its target at run time (``leader-of:T:P``, ``follower-of:T:P``,
``controller``, ``random``, a node id, or ``$name`` of an earlier step's node), performs
one action, and records a ``fault`` start event; the action that undoes it (start after
kill/stop, resume after pause, heal) records the end. ``heal_all`` ends every open fault
whatever happened: it runs on the way out, also on Ctrl-C and on error.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from kchaos.cluster.base import Cluster
from kchaos.cluster.inspect import resolve_target
from kchaos.errors import BadInput
from kchaos.experiment import FaultStep
from kchaos.history import HistoryWriter

#: Named custom steps for what data alone cannot say; experiments refer to them by name.
STEPS: dict[str, Callable[..., None]] = {}

UNDOES = {"start": ("kill", "stop"), "resume": ("pause",)}


def step(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a named custom step (``do: step, args: {name: ...}``)."""

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        STEPS[name] = fn
        return fn

    return register


class Nemesis:
    """Applies fault steps to one cluster, recording them in one history."""

    def __init__(
        self, cluster: Cluster, history: HistoryWriter, rng: random.Random, topic_names: dict[str, str] | None = None
    ) -> None:
        self.cluster, self.history, self.rng = cluster, history, rng
        self.topic_names = topic_names or {}
        self.names: dict[str, int] = {}
        #: The workload's producers, for workload faults (``crash-producer``) and for
        #: ``txn-coordinator[:N]`` targets; the runner sets them.
        self.producers: list[Any] = []
        self.open: list[dict[str, Any]] = []
        self.log: list[dict[str, Any]] = []

    def target(self, ref: str | int | None) -> int:
        if ref is None:
            raise BadInput("this fault step needs a target")
        text = str(ref)
        if text.startswith("$"):
            if text[1:] not in self.names:
                raise BadInput(f"target {text}: no earlier step named {text[1:]!r} (use as: {text[1:]})")
            return self.names[text[1:]]
        for logical, real in self.topic_names.items():
            text = text.replace(f":{logical}:", f":{real}:")
        if text.startswith("txn-coordinator"):
            text = f"coordinator:{self._producer(text.partition(':')[2] or 0).config['transactional.id']}"
        return resolve_target(self.cluster, text, self.rng)

    def _producer(self, ref: str | int) -> Any:
        """The workload's producer number ``ref`` (0-based)."""
        text = str(ref)
        if not text.isdigit() or int(text) >= len(self.producers):
            raise BadInput(f"producer {text!r}: this workload has producers 0..{len(self.producers) - 1}")
        producer = self.producers[int(text)]
        if "transactional.id" not in producer.config:
            raise BadInput(f"producer {text}: not transactional (set transactional.id in the variant's producer)")
        return producer

    def record(self, name: str, target: Any, phase: str, **extra: Any) -> None:
        event = {"op": "fault", "name": name, "target": str(target), "phase": phase, "t": self.history.now(), **extra}
        self.history.write(event)
        self.log.append(event)

    def run(self, s: FaultStep) -> None:
        """Perform one step now."""
        c = self.cluster
        if s.do == "heal":
            self.heal_all()
            return
        if s.do == "crash_producer":
            p = self._producer(s.target or 0)
            p.crash(**s.args)
            self.record("crash-producer", p.producer_name, "start", **({"args": s.args} if s.args else {}))
            self.record("crash-producer", p.producer_name, "end")
            return
        if s.do == "step":
            fn = STEPS.get(str(s.args.get("name")))
            if fn is None:
                raise BadInput(f"unknown step {s.args.get('name')!r}; known: {', '.join(STEPS) or 'none'}")
            fn(c, self, **{k: v for k, v in s.args.items() if k != "name"})
            return
        node = self.target(s.target)
        if s.name:
            self.names[s.name] = node
        if s.do in UNDOES:
            getattr(c, s.do)(node)
            self._end(lambda f, node=node, undone=UNDOES[s.do]: f["node"] == node and f["name"] in undone)
            return
        if s.do == "cut":
            dst = self.target(s.to)
            c.cut(node, dst)
            label = f"{node}->{dst}"
        else:
            getattr(c, s.do)(node, **s.args)
            label = str(node)
        self.record(s.do, label, "start", **({"args": s.args} if s.args else {}))
        self.open.append({"name": s.do, "node": node, "label": label, "network": s.do not in ("kill", "stop", "pause")})

    def _end(self, matches: Callable[[dict[str, Any]], bool]) -> None:
        for f in [f for f in self.open if matches(f)]:
            self.open.remove(f)
            self.record(f["name"], f["label"], "end")

    def heal_all(self) -> list[str]:
        """Everything back (network, paused, stopped nodes); every open fault ends."""
        done = self.cluster.heal()
        self._end(lambda f: True)
        return done

    def active(self) -> list[str]:
        return [f"{f['name']} {f['label']}" for f in self.open]
