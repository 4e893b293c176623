"""Deploying a fix to the pattern workers (question 6.3), and the replay that follows it.

A dead-letter topic is only half a design: its records wait for a fix, and then for
someone to send them through again. This step is that moment: every pattern worker
(``pattern:M``) is stopped gracefully and started again with the fixed handler (a
rolling deploy: the group rebalances twice per worker). Worker 0 goes last and, when
``replay`` is set, replays the dead letters to their source topic before it consumes
(``kchaos.patterns.routing.replay``): by then every worker runs the fix and no old one
writes a dead letter the replay would miss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kchaos.cluster.base import Cluster

if TYPE_CHECKING:
    from kchaos.faults.nemesis import Nemesis


def deploy_fix_step(cluster: Cluster, nemesis: Nemesis, replay: bool = True) -> None:
    """Restart every pattern worker with the fixed handler, worker 0 last; it replays the
    dead letters when ``replay``. The settings are the workers' (their ``kwargs``), read
    by each new process when it starts."""
    workers = [c for ref, c in sorted(nemesis.clients.items(), reverse=True) if ref.startswith("pattern:")]
    if not workers:
        raise ValueError("deploy-fix: this workload has no pattern workers")
    nemesis.record("deploy-fix", "pattern", "start", args={"replay": replay})
    for i, worker in enumerate(workers):
        worker.kwargs["handler"] = {**worker.kwargs.get("handler", {}), "fixed": True}
        worker.kwargs["replay"] = replay and i == len(workers) - 1
        worker.leave()
        worker.start()
        worker.kwargs["replay"] = False  # a later restart of this worker does not replay again
    nemesis.record("deploy-fix", "pattern", "end")
