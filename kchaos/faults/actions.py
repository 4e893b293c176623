"""The fault vocabulary: one table of actions that the experiment loader, the nemesis,
the CLI's ``kchaos fault`` commands and ``docs/faults.md`` all read.

Each action says what it calls on the cluster, what undoes it, its arguments (type,
default, choices, the spelling of older files it still accepts), what it targets, and
whether it is *cluster-wide* (a ``kchaos fault`` command too) or *run-only* (it needs a
running experiment: its workload's clients, or a named step). Arguments are bound and
checked here when an experiment file loads, so a typo is a one-line error before any
cluster is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Scope = Literal["cluster", "run"]
TargetKind = Literal["node", "pair", "none", "producer", "client"]


#: Every numeric action argument is a duration (ms), a rate or a count: never negative,
#: and a jitter of 1e12 ms is a typo, not a fault.
MAX_ARG = 3_600_000


@dataclass(frozen=True)
class Arg:
    """One argument of an action. ``param`` is the cluster method's parameter name."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    param: str = ""
    aliases: tuple[str, ...] = ()

    def check(self, value: Any) -> Any:
        """``value`` as this argument's type; a ValueError names the argument."""
        if self.type is list:
            items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items) or not items:
                raise ValueError(f"{self.name}: expected a list of {', '.join(self.choices)}, got {value!r}")
            bad = [v for v in items if self.choices and v not in self.choices]
            if bad:
                raise ValueError(f"{self.name}: {bad[0]!r} is not one of {', '.join(self.choices)}")
            return tuple(items)
        ok = isinstance(value, self.type) and not (self.type is int and isinstance(value, bool))
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            ok, value = True, float(value)
        if not ok:
            raise ValueError(f"{self.name}: expected {self.type.__name__}, got {value!r}")
        if self.type in (int, float) and not 0 <= value <= MAX_ARG:  # NaN fails this too
            raise ValueError(f"{self.name}: {value!r} is out of range (0 to {MAX_ARG:g})")
        if self.choices and value not in self.choices:
            raise ValueError(f"{self.name}: {value!r} is not one of {', '.join(self.choices)}")
        return value


@dataclass(frozen=True)
class Action:
    """One fault action."""

    name: str
    scope: Scope
    help: str
    target: TargetKind = "node"
    method: str = ""  # the Cluster method it calls (cluster-wide actions)
    args: tuple[Arg, ...] = ()
    undoes: tuple[str, ...] = ()  # the open faults this action ends (start ends kill and stop)
    process: bool = False  # a process fault (kill, stop, pause), not a network one
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def executor(self) -> str:
        """Which executor does and undoes it (``faults.executors``): ``heal``, ``step``,
        ``client``, ``producer``, or ``cluster`` for a node's process or links."""
        if self.name in ("heal", "step"):
            return self.name
        if self.target in ("client", "producer"):
            return self.target
        return "cluster"

    def bind(self, given: dict[str, Any]) -> dict[str, Any]:
        """Every argument with its value (given or default), checked; ValueError on a typo."""
        by_name = {a.name: a for a in self.args} | {alias: a for a in self.args for alias in a.aliases}
        out = {a.name: a.default for a in self.args}
        for key, value in given.items():
            arg = by_name.get(key)
            if arg is None:
                known = ", ".join(a.name for a in self.args) or "none"
                raise ValueError(f"{self.name} has no argument {key!r} (its arguments: {known})")
            out[arg.name] = arg.check(value)
        return out


MID_BATCH = Arg(
    "mid_batch", bool, False, "wait (up to 10 s) until the client begins processing a new batch (not yet committed)"
)
#: Where a worker can be made to crash (``kchaos.workload.pipeline.POINTS``, ``kchaos.patterns.worker.POINTS``).
AT = Arg(
    "at",
    str,
    "",
    "pipeline and pattern workers: SIGKILL when the worker reaches this point of its loop (waits up to 15 s)",
    ("", "after-output", "after-commit", "between", "after-handle"),
)
HOLD = Arg("hold_ms", int, 0, "with mid_batch: act this long after the batch was delivered (deeper into it)")
DIRECTION = Arg("direction", str, "both", "in, out or both (relative to the node)", ("in", "out", "both"))
LINKS = Arg(
    "links", list, ("repl", "ctrl"), "link kinds: repl, ctrl, client", ("repl", "ctrl", "client"), "kinds", ("kinds",)
)
NETWORK = (DIRECTION, LINKS)

ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("kill", "cluster", "SIGKILL a node (no controlled shutdown).", method="kill", process=True),
        Action("stop", "cluster", "Stop a node gracefully (controlled shutdown).", method="stop", process=True),
        Action("start", "cluster", "Start a stopped or killed node.", method="start", undoes=("kill", "stop")),
        Action("pause", "cluster", "Freeze a node (SIGSTOP / docker pause).", method="pause", process=True),
        Action("resume", "cluster", "Unfreeze a paused node.", method="resume", undoes=("pause",)),
        Action(
            "isolate",
            "cluster",
            "Cut a node off from every peer and controller.",
            method="isolate",
            args=(Arg("keep_clients", bool, False, "clients can still reach the node"),),
        ),
        Action(
            "cut", "cluster", "Cut one directed link: connections the node opens to TO.", target="pair", method="cut"
        ),
        Action(
            "slow",
            "cluster",
            "Add latency to a node's links.",
            method="slow",
            args=(
                Arg("latency_ms", int, 200, "added latency per response"),
                Arg("jitter_ms", int, 0, "jitter"),
                *NETWORK,
            ),
        ),
        Action(
            "bandwidth",
            "cluster",
            "Limit a node's links to RATE_KB KB/s.",
            method="bandwidth",
            args=(Arg("rate_kb", int, 100, "KB/s"), *NETWORK),
        ),
        Action(
            "reset-peer",
            "cluster",
            "Reset (TCP RST) a node's connections.",
            method="reset_peer",
            args=(Arg("timeout_ms", int, 0, "delay before the reset"), *NETWORK),
        ),
        Action(
            "timeout",
            "cluster",
            "Make a node's links swallow all data (connections hang).",
            method="timeout",
            args=(Arg("timeout_ms", int, 0, "0 = hang until healed"), *NETWORK),
        ),
        Action("heal", "cluster", "Everything back: proxies, toxics, paused and stopped nodes.", target="none"),
        Action(
            "crash-producer",
            "run",
            "Crash a transactional producer of the workload mid-transaction; a new instance fences the old one.",
            target="producer",
            args=(Arg("zombie_sends", int, 5, "records the fenced zombie tries to write"),),
        ),
        Action(
            "kill-client",
            "run",
            "SIGKILL a workload client in its own process (consumers with process: true, pipeline and pattern workers):"
            " no close, no commit.",
            target="client",
            process=True,
            args=(MID_BATCH, HOLD, AT),
        ),
        Action("pause-client", "run", "Freeze a workload client's process (SIGSTOP).", target="client", process=True),
        Action("resume-client", "run", "Unfreeze a paused client.", target="client", undoes=("pause-client",)),
        Action(
            "hang-client",
            "run",
            "A client stops polling for good; its heartbeats go on, so it leaves at max.poll.interval.ms.",
            target="client",
            process=True,
            args=(MID_BATCH, HOLD),
        ),
        Action(
            "stop-client",
            "run",
            "Close a client gracefully: a dynamic member sends LeaveGroup (a static one does not).",
            target="client",
            process=True,
        ),
        Action(
            "start-client",
            "run",
            "Start a standby or stopped client: a member joins its group.",
            target="client",
            undoes=("stop-client", "kill-client", "hang-client"),
        ),
        Action(
            "restart-client",
            "run",
            "Start a killed or hung client again: a new process, the same member name.",
            target="client",
            undoes=("kill-client", "hang-client", "stop-client"),
        ),
        Action("step", "run", "Run a named step (see docs/faults.md, steps).", target="none"),
    )
}
#: Older spellings still accepted in experiment files.
ACTION_ALIASES = {a.replace("-", "_"): a for a in ACTIONS if "-" in a}


def action(name: str) -> Action:
    """The action called ``name`` (older spellings accepted); ValueError lists the known ones."""
    found = ACTIONS.get(ACTION_ALIASES.get(name, name))
    if found is None:
        raise ValueError(f"unknown action {name!r}; known: {', '.join(ACTIONS)}")
    return found


def cluster_wide() -> list[Action]:
    """The actions that are also ``kchaos fault`` commands."""
    return [a for a in ACTIONS.values() if a.scope == "cluster"]


def apply(cluster: Any, act: Action, node: int | None, to: int | None, args: dict[str, Any]) -> str:
    """Perform a cluster-wide action now; returns its label (``3`` or ``1->2``)."""
    if act.name == "heal":
        cluster.heal()
        return "all"
    kwargs = {(a.param or a.name): args[a.name] for a in act.args if a.name in args}
    if act.target == "pair":
        getattr(cluster, act.method)(node, to)
        return f"{node}->{to}"
    getattr(cluster, act.method)(node, **kwargs)
    return str(node)
