"""The live terminal view of a run (rich): a subscriber of run events, nothing more."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from kchaos.experiment import Durations, Variant
from kchaos.results import VERDICT_COLORS, Observer, SuiteEntry, SuiteObserver, VariantResult


class LiveView(Observer):
    """Elapsed/remaining, phase, acks and errors per second, deliveries and the group (state,
    members, lag), leader and ISR, active faults."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.live = Live(console=self.console, refresh_per_second=4, transient=False)
        self.variant = ""
        self.snapshot: dict[str, Any] = {}
        self.done: list[str] = []

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def variant_started(self, index: int, variant: Variant, durations: Durations) -> None:
        self.variant = f"variant {index + 1}: {variant.name}"
        self.snapshot = {}
        self._render()

    def phase(self, name: str) -> None:
        self.snapshot["phase"] = name
        self._render()

    def tick(self, snapshot: dict[str, Any]) -> None:
        self.snapshot = snapshot
        self._render()

    def variant_finished(self, result: VariantResult) -> None:
        bad = {k: v for k, v in result.anomalies.items() if v}
        mark = "[green]PASS[/green]" if result.passed else "[red]FAIL[/red]"
        self.done.append(
            f"{mark} {result.name}: {result.measurements.get('sends_ok', 0)} acked, "
            f"anomalies {bad or 'none'}, unavailable {result.measurements.get('unavailability_s')} s"
        )
        self._render()

    def _render(self) -> None:
        s = self.snapshot
        table = Table(title=self.variant, show_header=True)
        for col in ("elapsed", "phase", "acks/s", "errors/s", "acked", "delivered", "group", "leader", "ISR", "faults"):
            table.add_column(col)
        if s.get("elapsed") is not None:
            table.add_row(
                f"{s['elapsed']:.0f}/{s['total']:.0f} s",
                str(s.get("phase", "")),
                f"{s['acks_per_s']:.0f}",
                f"{s['errors_per_s']:.0f}",
                str(s["acks"]),
                str(s["delivered"]),
                str(s.get("group", "-")),
                str(s.get("leader")),
                str(s.get("isr")),
                ", ".join(s.get("faults") or []) or "-",
            )
        else:
            table.add_row("-", str(s.get("phase", "starting")), "", "", "", "", "", "", "", "")
        self.live.update(
            Group(*[Text.from_markup(d) for d in self.header()], *[Text.from_markup(d) for d in self.done], table)
        )

    def header(self) -> list[str]:
        """Lines above the run's view (a suite's progress)."""
        return []


class SuiteView(LiveView, SuiteObserver):
    """The run's live view under a suite line: experiment n of N, elapsed, verdicts so far."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__(console)
        self.started = time.monotonic()
        self.position = ""
        self.verdicts: dict[str, int] = {}
        self.finished: list[str] = []

    def experiment_started(self, index: int, total: int, exp_id: str) -> None:
        self.position = f"experiment {index} of {total}: [bold]{exp_id}[/bold]"
        self.done = []
        self._render()

    def experiment_finished(self, index: int, total: int, entry: SuiteEntry) -> None:
        self.verdicts[entry.verdict] = self.verdicts.get(entry.verdict, 0) + 1
        color = VERDICT_COLORS.get(entry.verdict, "red")
        self.finished.append(f"[{color}]{entry.verdict}[/{color}] {entry.experiment} ({entry.seconds:.0f} s)")
        self._render()

    def header(self) -> list[str]:
        elapsed = time.monotonic() - self.started
        tally = ", ".join(f"{n} {v}" for v, n in sorted(self.verdicts.items())) or "none yet"
        return [*self.finished, f"suite: {self.position} · {elapsed / 60:.1f} min · verdicts: {tally}"]
