"""The phase clock of a variant: steady, then fault (the nemesis runs the schedule at
its times), then heal and recovery, with a tick twice a second for the live view. A
presenter may hold the run at a phase's gate; the clock stops while it does, so a held
run keeps its phase lengths."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from kchaos.faults.nemesis import Nemesis
from kchaos.faults.step import FaultStep
from kchaos.roles import Member, Producer

#: Seconds between two ticks.
TICK_S = 0.5


class Ticker:
    """What the live view shows at a tick: acks and errors per second since the last
    tick, deliveries, the group's state, the watched partition's leader and ISR, and the
    open faults."""

    def __init__(
        self, producers: Sequence[Producer], consumers: Sequence[Member], poller: Any, watcher: Any, nemesis: Nemesis
    ) -> None:
        self.producers, self.consumers, self.poller, self.watcher, self.nemesis = (
            producers,
            consumers,
            poller,
            watcher,
            nemesis,
        )
        self._last = {"ok": 0, "errors": 0, "t": 0.0}

    def __call__(self, elapsed: float, total: float, phase: str) -> dict[str, Any]:
        ok = sum(p.stats.ok for p in self.producers)
        errors = sum(p.stats.fail + p.stats.unknown for p in self.producers)
        dt = max(elapsed - self._last["t"], 1e-6)
        tick = {
            "elapsed": elapsed,
            "total": total,
            "phase": phase,
            "acks_per_s": (ok - self._last["ok"]) / dt,
            "errors_per_s": (errors - self._last["errors"]) / dt,
            "acks": ok,
            "errors": errors,
            "delivered": sum(c.delivered for c in self.consumers),
            "group": self.watcher.snapshot() if self.watcher is not None else "-",
            "leader": self.poller.leader,
            "isr": self.poller.isr,
            "faults": self.nemesis.active(),
        }
        self._last = {"ok": ok, "errors": errors, "t": elapsed}
        return tick


def run_phases(
    durations: Any,
    schedule: list[FaultStep],
    nemesis: Nemesis,
    phase: Callable[[str], None],
    gate: Callable[[str], float],
    tick: Callable[[dict[str, Any]], None],
    ticker: Ticker,
) -> None:
    """Run the steady, fault and recovery phases (``durations``: their lengths). ``phase``
    records a phase's start, ``gate`` lets a presenter hold the run (returns the seconds
    held), ``tick`` receives the live view's snapshot from ``ticker``."""
    d = durations
    total = d.steady + d.fault + d.recovery
    start = time.monotonic()
    steps = sorted(schedule, key=lambda s: s.at)
    current = "steady"
    while (elapsed := time.monotonic() - start) < total:
        if current == "steady" and elapsed >= d.steady:
            start += gate("fault")  # the phase clock stops while a presenter talks
            current = "fault"
            phase("fault")
        while current == "fault" and steps and time.monotonic() - start >= d.steady + steps[0].at:
            nemesis.run(steps.pop(0))  # a step can take its time (kill-client at a point waits for it)
        if current == "fault" and elapsed >= d.steady + d.fault:
            start += gate("heal")
            phase("heal")
            nemesis.heal_all()
            current = "recovery"
            phase("recovery")
        tick(ticker(elapsed, total, current))
        time.sleep(TICK_S)
