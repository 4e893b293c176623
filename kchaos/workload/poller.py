"""The leader poller: one partition's leader and ISR, recorded as they change.

Leaders and ISRs are read from the majority side (``cluster.inspect.partitions``), twice
a second, and each change becomes a ``leader`` event: the history then shows when the
leader moved and how long the ISR stayed short, and the live view shows them now.
"""

from __future__ import annotations

import threading

from kchaos.cluster.base import Cluster
from kchaos.cluster.inspect import partitions
from kchaos.events import Leader
from kchaos.history import HistoryWriter


class LeaderPoller(threading.Thread):
    """Polls one partition's leader and ISR twice a second; records each change."""

    def __init__(self, cluster: Cluster, topic: str, partition: int, history: HistoryWriter) -> None:
        super().__init__(name="leader-poller", daemon=True)
        self.cluster, self.topic, self.partition, self.history = cluster, topic, partition, history
        self.leader: int | None = None
        self.isr: list[int] = []
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def run(self) -> None:
        last = None
        while not self._halt.is_set():
            try:
                info = partitions(self.cluster, self.topic, timeout=2).get(self.topic, [])[self.partition]
                state = (info["leader"], sorted(info["isr"]))
                self.leader, self.isr = state
                if state != last:
                    self.history.write(Leader(self.topic, self.partition, state[0], state[1], self.history.now()))
                    last = state
            except Exception:  # noqa: BLE001 - metadata is unavailable during some faults
                pass
            self._halt.wait(0.5)
