"""Deploying a fix to the pattern workers (question 6.3), and the replay that follows it.

A dead-letter topic is only half a design: its records wait for a fix, and then for
someone to send them through again. This step is that moment: every pattern worker
(``pattern:M``) is stopped gracefully and started again with the fixed handler (a
rolling deploy: the group rebalances twice per worker). Worker 0 goes last and, when
``replay`` is set, replays the dead letters to their source topic before it consumes
(``kchaos.patterns.routing.replay``): by then every worker runs the fix and no old one
writes a dead letter the replay would miss.

``after_deliveries`` makes the step wait (at most ``wait_s``) until the workers have been
handed that many records: a group that starts late on a busy machine (a share group's
first assignment can take seconds) must still meet its poison records before the fix.
"""

from __future__ import annotations

import time

from kchaos.faults.context import StepContext


def deploy_fix_step(ctx: StepContext, replay: bool = True, after_deliveries: int = 0, wait_s: float = 30.0) -> None:
    """Restart every pattern worker with the fixed handler, worker 0 last; it replays the
    dead letters when ``replay`` (``PatternProcess.deploy_fix``). With ``after_deliveries``, first wait (at most
    ``wait_s``) until the workers were handed that many records between them."""
    workers = [c for ref, c in sorted(ctx.clients.items(), reverse=True) if ref.startswith("pattern:")]
    if not workers:
        raise ValueError("deploy-fix: this workload has no pattern workers")
    deadline = time.monotonic() + wait_s
    while after_deliveries and sum(w.delivered for w in workers) < after_deliveries and time.monotonic() < deadline:
        time.sleep(0.2)
    ctx.record("deploy-fix", "pattern", "start", args={"replay": replay})
    for i, worker in enumerate(workers):
        worker.deploy_fix(replay=replay and i == len(workers) - 1)
    ctx.record("deploy-fix", "pattern", "end")
