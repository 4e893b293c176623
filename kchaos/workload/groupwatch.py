"""The group watcher: consumer groups as the broker sees them, beside what the members say.

Members record their own rebalance callbacks and commits; the broker's view is another
witness. Twice a second the watcher asks the Admin API for each group's state and
members (a ``group`` event when it changes) and, through a consumer handle of the group
(``committed``), for its committed offsets against the
log end (a ``lag`` event per partition when either moves). Its last look, taken after
the members have stopped, is what the group committed in the end: the checker sets that
against the records the members processed.
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

from confluent_kafka import TopicPartition
from confluent_kafka.admin import OffsetSpec

from kchaos.cluster.readiness import admin
from kchaos.events import Client, Group, Lag
from kchaos.history import HistoryWriter
from kchaos.workload.child import enter_child, start_marked
from kchaos.workload.committed import CommittedReader

_SPAWN = multiprocessing.get_context("spawn")
MAX_RESTARTS = 10
#: Group states as the Admin API names them (lower case); ``unknown`` covers KIP-848's others.
STATES = ("unknown", "preparing_rebalancing", "completing_rebalancing", "stable", "dead", "empty", "assigning",
          "reconciling")  # fmt: skip


class GroupWatcher:
    """The watcher in a process of its own (spawned; it writes the shared history like a
    child consumer does). Its Admin API requests run while coordinators are killed, and
    librdkafka 2.16 has been seen here to abort on such a request's timeout
    (``rd_kafka_enq_once_del_source_return``): that takes the watcher down, never the
    run, and the watcher is started again. The final look (the committed offsets once the
    consumers stopped) is taken by the watcher itself when halted; if that fails, by a
    fresh process, tried up to three times."""

    def __init__(
        self, bootstrap: str, groups: dict[str, list[str]], history: HistoryWriter, duration: float, cluster: str
    ) -> None:
        """``groups``: each consumer group's id -> the topics its committed offsets are read
        on (the ones it consumes; none for a share group, which is only described)."""
        self.args = (bootstrap, dict(groups), str(history.path), history.start)
        self.history = history
        self.duration, self.cluster = duration, cluster
        self.restarts = 0
        # What the live view shows of the first group: state, members, total lag (-1: unknown yet).
        self._live = _SPAWN.Array("q", [-1, -1, -1], lock=False)
        self._final = _SPAWN.Value("b", 0, lock=False)  # set by a process that took the final look
        self._halt = _SPAWN.Event()
        self._proc: Any = None
        self._monitor = threading.Thread(target=self._keep_running, name="group-watcher", daemon=True)

    def start(self) -> None:
        self._spawn(self.duration)
        self._monitor.start()

    def _spawn(self, duration: float) -> None:
        self._proc = _SPAWN.Process(
            target=_watch_main,
            args=(*self.args, duration, self._halt, self._live, self._final),
            name="kchaos-groups",
            daemon=True,
        )
        start_marked(self._proc, self.cluster)

    def snapshot(self) -> str:
        """The first group as the live view shows it: ``stable, 3 members, lag 120``."""
        state, members, lag = list(self._live)
        if state < 0:
            return "-"
        return f"{STATES[state]}, {members} members, lag {lag if lag >= 0 else '?'}"

    def _keep_running(self) -> None:
        while not self._halt.wait(1.0):
            dead = self._proc is not None and not self._proc.is_alive() and self._proc.exitcode != 0
            if dead and self.restarts < MAX_RESTARTS:
                self.restarts += 1
                code = self._proc.exitcode
                self.history.write(Client("group-watcher", "restarted", self.history.now(), detail=f"exit code {code}"))
                self._spawn(self.duration)

    def stop(self) -> None:
        """Stop sampling; then one last look (the final committed offsets), tried up to
        three times."""
        if self._proc is None:
            return
        self._halt.set()
        self._monitor.join(5)
        self._proc.join(30)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        if self._final.value:
            return
        for _ in range(3):
            self._spawn(0.0)  # halted already: samples once
            self._proc.join(30)
            if self._proc.exitcode == 0:
                return
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(5)


def _watch_main(
    bootstrap: str,
    groups: dict[str, list[str]],
    path: str,
    start: float,
    duration: float,
    halt: Any,
    live: Any,
    final: Any,
) -> None:
    """Sample twice a second until halted (or ``duration`` runs out); once halted, take
    the final look (strict: complete, or the exit code says to try again)."""
    enter_child(path, "group-watcher")
    history = HistoryWriter(Path(path), start)
    sampler = Sampler(bootstrap, groups, history, live)
    deadline = history.now() + duration
    try:
        while not halt.is_set() and history.now() < deadline:
            sampler.sample()
            halt.wait(0.5)
        if halt.is_set():  # the final look: it counts only if complete (else exit 1: tried again)
            sampler.sample(strict=True)
            final.value = 1
    finally:
        sampler.close()


class Sampler:
    """One look at the groups: their description and their committed offsets vs the log end."""

    def __init__(self, bootstrap: str, groups: dict[str, list[str]], history: HistoryWriter, live: Any = None) -> None:
        self.groups, self.history, self.live = groups, history, live
        self.first = next(iter(groups), None)  # the group the live view shows
        self.admin = admin(bootstrap)
        self.state: dict[str, Group] = {}
        self._lag: dict[tuple[str, str, int], tuple[int, int]] = {}
        self._ends_complete = False
        self._bootstrap = bootstrap
        self._readers: dict[str, CommittedReader] = {}

    def _reader(self, group: str) -> CommittedReader:
        """The group's committed-offset reader (a consumer handle of the group, kept)."""
        if group not in self._readers:
            self._readers[group] = CommittedReader(self._bootstrap, group)
        return self._readers[group]

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def sample(self, strict: bool = False) -> None:
        """One look. ``strict``: raise unless every group's committed offset was read
        for every partition (the final look must be whole)."""
        try:
            self._describe()
            complete = self._lags()
        except Exception:  # noqa: BLE001 - the coordinator may be down during a fault
            if strict:
                raise
            return
        if strict and not complete:
            raise RuntimeError("group watcher: committed offsets incomplete")

    def _describe(self) -> None:
        for group, fut in self.admin.describe_consumer_groups(list(self.groups), request_timeout=10).items():
            try:
                d = fut.result()
            except Exception:  # noqa: BLE001 - coordinator moving: next time
                continue
            members = sorted(
                (m.client_id, len(m.assignment.topic_partitions) if m.assignment else 0) for m in d.members
            )
            ev = Group(group, _name(d.state), members, self.history.now(), _name(getattr(d, "type", None)))
            last = self.state.get(group)
            if last is None or (last.state, last.members) != (ev.state, ev.members):
                self.history.write(ev)
                self.state[group] = ev
            if self.live is not None and group == self.first:
                self.live[0] = STATES.index(ev.state) if ev.state in STATES else STATES.index("unknown")
                self.live[1] = len(members)

    def _lags(self) -> bool:
        """Write the lag of each group on each partition of its topics that moved; True
        when every group's committed offset was read for every partition."""
        self._ends_complete = True
        ends_of = {t: self._ends(t) for t in sorted({t for topics in self.groups.values() for t in topics})}
        complete = True
        for group, topics in self.groups.items():
            behind = [self._lag_of(group, t, ends_of[t]) for t in topics]
            complete &= all(b is not None for b in behind)
            if self.live is not None and group == self.first and topics:
                self.live[2] = sum(b or 0 for b in behind)
        return complete and self._ends_complete

    def _lag_of(self, group: str, topic: str, ends: dict[int, int]) -> int | None:
        """Write the group's lag on each partition of ``topic`` that moved; its total lag
        there, or None when its committed offset was not read for every partition."""
        if not ends:
            return None
        complete, total = True, 0
        for tp in self._reader(group).read(topic, list(ends), timeout=10):
            end = ends.get(tp.partition)
            if end is None or tp.error is not None:
                complete = False
                continue
            committed = tp.offset if tp.offset >= 0 else -1
            lag = end - max(committed, 0)
            total += lag
            if self._lag.get((group, topic, tp.partition)) != (committed, end):
                self._lag[(group, topic, tp.partition)] = (committed, end)
                self.history.write(Lag(group, topic, tp.partition, lag, self.history.now(), committed, end))
        return total if complete else None

    def _ends(self, topic: str) -> dict[int, int]:
        """The log end of each partition of ``topic`` (``_ends_complete``: all of them,
        for every topic asked in this look)."""
        md = self.admin.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None:
            self._ends_complete = False
            return {}
        request = {TopicPartition(topic, p): OffsetSpec.latest() for p in md.partitions}
        out = {}
        for tp, fut in self.admin.list_offsets(request, request_timeout=10).items():
            try:
                out[tp.partition] = fut.result().offset
            except Exception:  # noqa: BLE001 - no leader right now
                continue
        self._ends_complete = self._ends_complete and len(out) == len(request)
        return out


def _name(value: Any) -> str | None:
    """An Admin API enum (ConsumerGroupState.STABLE) as a word ("stable")."""
    if value is None:
        return None
    return str(getattr(value, "name", value)).lower()
