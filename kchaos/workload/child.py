"""Workload clients in processes of their own, so a fault can really crash them.

A consumer killed with SIGKILL is not a consumer that stopped polling: it stops
heartbeating too, so its partitions move when its session times out, and whatever it
had delivered but not processed or committed is where at-least-once re-delivers and
at-most-once loses. A thread cannot be killed like that; a child process can.

``ClientProcess`` runs one client role (today: a group consumer) in a child started with
multiprocessing's *spawn* (a fresh interpreter: librdkafka's threads never cross a
fork). The child appends to the same history file as everyone (one ``write`` per line,
O_APPEND), so a SIGKILL loses nothing it had recorded. It carries ``KCHAOS_CLUSTER`` in
its environment like every process kchaos starts, so ``kchaos down`` finds leftovers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kchaos import procs
from kchaos.events import Client
from kchaos.history import HistoryWriter

_SPAWN = multiprocessing.get_context("spawn")


def child_log(history_path: str, name: str) -> Path:
    """Where child ``name`` of the variant recorded in ``history_path`` writes its output:
    ``<history stem>.<name>.log`` beside the history (each variant has its own, like the
    Java roles' logs)."""
    history = Path(history_path)
    return history.with_name(f"{history.stem}.{name}.log")


def enter_child(history_path: str, name: str) -> None:
    """What every child does first. Ctrl-C is the harness's to handle (it stops us); if the
    harness dies, so do we; and what the child prints (librdkafka's assertions, Python's
    tracebacks) goes to its log beside the history (``child_log``), where the run's folder
    keeps it, and never to the terminal."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    procs.die_with_parent()
    procs.output_to(child_log(history_path, name))


def wait_for_go(go: Any, halt: Any) -> bool:
    """A warmed-up child (its interpreter started, its modules imported) waits here until
    it is told to begin: a member that "joins" at a fault's time then joins then, not a
    slow interpreter start later. False when it was halted first."""
    while not go.wait(0.1):
        if halt.is_set():
            return False
    return True


@dataclass
class Handles:
    """What a child shares with the harness: the history (path and clock start), the
    counters the live view and the faults read (delivered, records in hand, assigned),
    and the events that stop it, hang it and tell a warmed-up one to begin."""

    path: str
    start: float
    counter: Any
    in_hand: Any
    assigned: Any
    halt: Any
    hang: Any
    go: Any

    def counters(self) -> dict[str, Any]:
        """The history writer and counters a role's constructor takes."""
        history = HistoryWriter(Path(self.path), self.start)
        return {"history": history, "counter": self.counter, "in_hand": self.in_hand, "assigned": self.assigned}


def _consumer_main(kwargs: dict[str, Any], h: Handles) -> None:
    """The child: one GroupConsumer on the shared history, until ``halt`` is set. A hung
    consumer stays alive (and in its group, heartbeating) until halted."""
    enter_child(h.path, kwargs["name"])
    from kchaos.workload.consumer import GroupConsumer

    if not wait_for_go(h.go, h.halt):
        return
    consumer = GroupConsumer(**h.counters(), **kwargs)
    threading.Thread(target=lambda: (h.halt.wait(), consumer.stop()), daemon=True).start()
    threading.Thread(target=lambda: (h.hang.wait(), consumer.hang()), daemon=True).start()
    consumer.run()
    if h.hang.is_set():
        h.halt.wait()


def serve(build: Any, name: str, h: Handles) -> None:
    """The body of worker ``name``'s child process: ``build(history=..., counter=..., ...)``
    makes the worker (a pipeline or pattern worker), which runs on the shared history
    until ``halt`` is set, once ``go`` is (``wait_for_go``)."""
    enter_child(h.path, name)
    if not wait_for_go(h.go, h.halt):
        return

    worker = build(**h.counters())
    threading.Thread(target=lambda: (h.halt.wait(), worker.stop()), daemon=True).start()
    worker.run()


def start_marked(proc: Any, cluster: str) -> None:
    """Start a spawned process with ``KCHAOS_CLUSTER`` in its environment (``kchaos down``
    finds it by that)."""
    with procs.ENV_LOCK:  # a spawned child inherits os.environ as it is when it starts
        before = os.environ.get(procs.MARK)
        os.environ[procs.MARK] = cluster
        try:
            proc.start()
        finally:
            if before is None:
                os.environ.pop(procs.MARK, None)
            else:
                os.environ[procs.MARK] = before


class ClientProcess:
    """A group consumer in a child process: start, stop, and the faults kill (SIGKILL),
    pause (SIGSTOP), resume (SIGCONT), hang (stop polling, keep heartbeating), leave
    (a graceful close) and restart (a new process, same member name). ``main`` is the
    child's function (a subclass runs another role)."""

    main = staticmethod(_consumer_main)

    def __init__(self, kwargs: dict[str, Any], history_path: Path, history_start: float, cluster: str) -> None:
        self.kwargs, self.path, self.start_t, self.cluster = kwargs, str(history_path), history_start, cluster
        self.reader, self.group = kwargs["name"], kwargs["group"]
        self._counter = _SPAWN.Value("q", 0, lock=False)
        self._in_hand = _SPAWN.Value("q", 0, lock=False)
        self._assigned = _SPAWN.Value("q", 0, lock=False)
        self._proc: Any = None
        self._halt: Any = None
        self._hang: Any = None
        self.earlier = 0  # deliveries of processes this one replaced
        self._killed = False  # this process was SIGKILLed by us (a fault), not crashed
        self._noted = False  # its crash is in the history already
        self._go: Any = None  # set: the child begins (unset while it is warmed up, ``prewarm``)

    @property
    def delivered(self) -> int:
        return self.earlier + int(self._counter.value)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, go: bool = True) -> None:
        """Start the child; with ``go`` False it starts its interpreter and imports, then
        waits to be told to begin (``prewarm``)."""
        self._killed = self._noted = False
        self._halt, self._hang, self._go = _SPAWN.Event(), _SPAWN.Event(), _SPAWN.Event()
        if go:
            self._go.set()
        self._counter.value = 0
        self._in_hand.value = 0
        self._assigned.value = 0
        self._proc = _SPAWN.Process(
            target=self.main,
            args=(
                self.kwargs,
                Handles(
                    self.path,
                    self.start_t,
                    self._counter,
                    self._in_hand,
                    self._assigned,
                    self._halt,
                    self._hang,
                    self._go,
                ),
            ),
            name=f"kchaos-{self.reader}",
            daemon=True,
        )
        start_marked(self._proc, self.cluster)

    def stop(self) -> None:
        """Ask the child to finish. A paused child is resumed first. Setting the event
        waits for every process asleep on it to wake, and a child killed in its sleep never
        does: the set gets 5 s in a thread of its own, then the child is killed (``join``)."""
        if self._proc is not None and procs.paused(self._proc.pid):
            self.resume()
        if self._halt is not None:
            setter = threading.Thread(target=self._halt.set, name="client-stop", daemon=True)
            setter.start()
            setter.join(5)
            if setter.is_alive():
                self.kill()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the child; one that does not leave in time is killed (nothing is left)."""
        if self._proc is None:
            return
        self._proc.join(timeout)
        if self._proc.is_alive():
            self.kill()
        self.note_crash()

    def note_crash(self) -> None:
        """A child that ended by itself with an error (not a kill of ours, not a clean
        stop) crashed: a ``client`` event in the history says so, with the last line of
        its log (the traceback or librdkafka's assertion is in ``child_log``)."""
        proc = self._proc
        if proc is None or proc.exitcode in (None, 0) or self._killed or self._noted:
            return
        self._noted = True
        log = child_log(self.path, self.reader)
        lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
        history = HistoryWriter(Path(self.path), self.start_t)
        try:
            last = lines[-1][:300] if lines else ""
            history.write(
                Client(self.reader, "crashed", history.now(), error=f"exit code {proc.exitcode}", detail=last)
            )
        finally:
            history.close()

    @property
    def assigned(self) -> bool:
        """The member's assign callback has run (it is in its group)."""
        return bool(self._assigned.value)

    @property
    def in_hand(self) -> int:
        """Records the child has delivered and not finished processing."""
        return int(self._in_hand.value) if self.alive else 0

    def wait_in_hand(self, timeout: float) -> bool:
        """Wait until the child starts processing a new batch (its records in hand go
        from none to some), so that what follows lands a known time into the batch;
        False if none began in time."""
        deadline = time.monotonic() + timeout
        idle = False
        while time.monotonic() < deadline:
            if self.in_hand == 0:
                idle = True
            elif idle:
                return True
            time.sleep(0.002)
        return False

    def kill(self) -> None:
        """SIGKILL: no close, no commit, no leave-group; heartbeats stop."""
        if self._proc is not None and self._proc.is_alive():
            self._killed = True
            os.kill(self._proc.pid, signal.SIGKILL)
            self._proc.join(10)

    def hang(self) -> None:
        """Stop polling for good; librdkafka's threads go on heartbeating."""
        if self._hang is not None:
            self._hang.set()

    def leave(self, timeout: float = 30.0) -> None:
        """A graceful stop: the consumer closes (a dynamic member sends LeaveGroup)."""
        self.stop()
        self.join(timeout)

    def pause(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            os.kill(self._proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            os.kill(self._proc.pid, signal.SIGCONT)

    def prewarm(self) -> None:
        """Start a standby member's process ahead of its ``start-client``, waiting: on a
        busy machine a fresh interpreter takes seconds to import librdkafka, and the member
        must join when the fault says, not then."""
        self.start(go=False)

    def restart(self) -> None:
        """A new process for the same member (after a kill or a leave, or a kill now);
        a standby member's first start too (a warmed-up one is told to begin)."""
        untouched = self._hang is not None and not self._hang.is_set() and not procs.paused(self.pid)
        if self.alive and self._go is not None and not self._go.is_set() and untouched:
            self._go.set()
            return
        if self._proc is not None and not self._proc.is_alive():
            self.note_crash()
        self.kill()
        self.earlier += int(self._counter.value)
        self.start()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()


class ArmedProcess(ClientProcess):
    """A worker that can be killed at a point of its loop: ``kill_at`` arms the point (a
    shared number the child's loop checks, ``point_code``), waits until the child stopped
    itself there (SIGSTOP) and SIGKILLs it."""

    def __init__(self, kwargs: dict[str, Any], history_path: Path, history_start: float, cluster: str) -> None:
        self.arm = _SPAWN.Value("i", 0, lock=False)
        super().__init__({**kwargs, "arm": self.arm}, history_path, history_start, cluster)

    def point_code(self, point: str) -> int:
        """The number the child's loop knows ``point`` by (a subclass's points)."""
        raise NotImplementedError

    def kill_at(self, point: str, timeout: float = 15.0) -> bool:
        """Arm ``point``, wait until the worker stopped itself there, SIGKILL it; whether it
        got there in time (if not, it is killed wherever it is)."""
        self.arm.value = self.point_code(point)
        deadline = time.monotonic() + timeout
        reached = False
        while time.monotonic() < deadline and self.alive:
            if procs.paused(self.pid):
                reached = True
                break
            time.sleep(0.01)
        self.arm.value = 0
        self.kill()
        return reached
