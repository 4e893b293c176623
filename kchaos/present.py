"""Workshop mode: ``kchaos run ID --present [--step]``, a full-screen view for a projector.

Large counters (records acknowledged, acks per second, errors), the phase with one
sentence of narration drawn from the experiment file, the fault, the watched
partition's leader and ISR, and a per-second sparkline of acks. With ``--step`` the run
waits for Enter before each phase (steady, fault, heal) so a presenter can talk; the
run's clock stops while it waits, so the phases keep their lengths. Ctrl-C at any
point heals the cluster, as in any run.
"""

from __future__ import annotations

import sys
from collections import deque
from typing import Any

from rich.align import Align
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kchaos.experiment import Durations, Experiment, Variant
from kchaos.results import Observer, VariantResult

# A 3x5 block font: digits and the few signs counters need.
_FONT = {
    "0": ["███", "█ █", "█ █", "█ █", "███"],
    "1": [" █ ", "██ ", " █ ", " █ ", "███"],
    "2": ["███", "  █", "███", "█  ", "███"],
    "3": ["███", "  █", "███", "  █", "███"],
    "4": ["█ █", "█ █", "███", "  █", "  █"],
    "5": ["███", "█  ", "███", "  █", "███"],
    "6": ["███", "█  ", "███", "█ █", "███"],
    "7": ["███", "  █", "  █", "  █", "  █"],
    "8": ["███", "█ █", "███", "█ █", "███"],
    "9": ["███", "█ █", "███", "  █", "███"],
    ",": ["   ", "   ", "   ", " █ ", "█  "],
    "-": ["   ", "   ", "███", "   ", "   "],
    " ": ["   ", "   ", "   ", "   ", "   "],
}
_BARS = "▁▂▃▄▅▆▇█"
SPARK_SECONDS = 60


def big(text: str) -> str:
    """``text`` (digits, commas, dashes) in the block font: five lines."""
    rows = [[], [], [], [], []]
    for ch in text:
        for i, part in enumerate(_FONT.get(ch, _FONT[" "])):
            rows[i].append(part)
    return "\n".join(" ".join(r) for r in rows)


def sparkline(values: list[float]) -> str:
    """One bar per value, scaled to the largest."""
    top = max(values, default=0)
    if top <= 0:
        return _BARS[0] * len(values)
    return "".join(_BARS[min(len(_BARS) - 1, int(v / top * (len(_BARS) - 1)))] for v in values)


def narration(exp: Experiment, phase: str) -> str:
    """One sentence for a phase: the file's ``narration`` if it has one, else drawn from
    the workload and the fault schedule."""
    if phase in exp.narration:
        return exp.narration[phase]
    wl = exp.workload
    topic = next(t for t in exp.topics if t.name == wl.topic)
    if phase == "steady":
        groups = f", {wl.consumers.groups} group(s) of {wl.consumers.members} consumers" if wl.consumers else ""
        return (
            f"Baseline: {wl.producers} producer(s) write {wl.rate:g} records/s to {topic.name} "
            f"({topic.partitions} partition(s), RF {topic.replication_factor}){groups}; everything is healthy."
        )
    if phase == "fault":
        steps = "; ".join(
            f"at +{s.at:g} s {s.do} {s.target if s.target is not None else ''}".strip() for s in exp.faults
        )
        return f"The fault: {steps or 'none scheduled'}. Watch the acks and the leader."
    if phase == "heal":
        return "Heal: every fault undone — nodes started, links restored."
    if phase == "recovery":
        return "Recovery: the ISR fills up again; did every acknowledged record survive?"
    if phase == "drain":
        return "Drain: read every partition to its end; the checker compares it with every acknowledgement."
    return ""


class PresentView(Observer):
    """The full-screen view; with ``step`` it also gates each phase on Enter."""

    def __init__(self, exp: Experiment, console: Console | None = None, step: bool = False) -> None:
        self.exp, self.console, self.steps = exp, console or Console(), step
        self.live = Live(console=self.console, screen=True, refresh_per_second=4, transient=False)
        self.variant = ""
        self.phase_name = "starting"
        self.snapshot: dict[str, Any] = {}
        self.rates: deque[float] = deque(maxlen=SPARK_SECONDS)
        self.waiting = ""
        self.done: list[str] = []
        self._second = -1

    def __enter__(self) -> PresentView:
        self.live.__enter__()
        self._render()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def variant_started(self, index: int, variant: Variant, durations: Durations) -> None:
        self.variant, self.snapshot = variant.name, {}
        self.rates.clear()
        self._render()

    def phase(self, name: str) -> None:
        self.phase_name = name
        self._render()

    def tick(self, snapshot: dict[str, Any]) -> None:
        self.snapshot = snapshot
        second = int(snapshot.get("elapsed", 0))
        if second != self._second:  # one sparkline bar per second
            self._second = second
            self.rates.append(float(snapshot.get("acks_per_s", 0)))
        self._render()

    def variant_finished(self, result: VariantResult) -> None:
        bad = {k: v for k, v in result.anomalies.items() if v}
        self.done.append(f"{'PASS' if result.passed else 'FAIL'} {result.name}: anomalies {bad or 'none'}")
        self._render()

    def gate(self, phase: str) -> None:
        """With ``step``: wait for Enter before ``phase`` (the runner's clock stops)."""
        if not self.steps:
            return
        self.waiting = f"press Enter to start the {phase} phase"
        self._render()
        try:
            sys.stdin.readline()
        finally:
            self.waiting = ""
            self._render()

    def _render(self) -> None:
        s = self.snapshot
        counters = Table.grid(padding=(0, 4))
        for _ in range(3):
            counters.add_column(justify="center")
        counters.add_row(Text("acknowledged"), Text("acks / s"), Text("errors"))
        counters.add_row(
            Text(big(f"{s.get('acks', 0):,}"), style="bold green"),
            Text(big(f"{s.get('acks_per_s', 0):.0f}"), style="bold cyan"),
            Text(big(f"{s.get('errors', 0):,}"), style="bold red" if s.get("errors") else "dim"),
        )
        faults = ", ".join(s.get("faults") or []) or "none"
        body = [
            Text(self.exp.question, style="bold"),
            Text(f"variant: {self.variant}   ·   phase: {self.phase_name.upper()}", style="bold yellow"),
            Text(narration(self.exp, self.phase_name), style="italic"),
            Text(""),
            Align.center(counters),
            Text(""),
            Text(f"acks per second, last {SPARK_SECONDS} s: {sparkline(list(self.rates))}"),
            Text(
                f"leader: {s.get('leader', '-')}   ISR: {s.get('isr', '-')}   faults: {faults}   group: {s.get('group', '-')}"
            ),
            *[Text(d) for d in self.done],
        ]
        if self.waiting:
            body.append(Text(f"▶ {self.waiting}", style="bold magenta"))
        self.live.update(Panel(Group(*body), title=f"kchaos · {self.exp.id}"))
