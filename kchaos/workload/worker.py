"""A worker: the team's own client code in a process of its own, so a test can SIGKILL it
at a point of its choosing and start it again.

The process is started with the history's environment (it records into the same file,
``History.from_env()``), marked with the cluster's name (``kchaos down`` finds it), in a
session of its own (a Ctrl-C in the terminal reaches the test, which stops it, not the
worker directly), and set to die with the process that started it (a SIGKILLed pytest
leaves no worker behind). A kill and the restart after it are ``fault`` events in the
history (``kill-client``), so the checker can name the kill a finding happened after.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from kchaos import procs
from kchaos.errors import ClusterError
from kchaos.events import Fault
from kchaos.workload.recorded import ENV_CRASH, ENV_NAME, History


class Worker:
    """``argv`` run as a child process that records into ``history``."""

    def __init__(
        self,
        argv: list[str],
        history: History,
        name: str = "worker",
        cluster: str = "kchaos",
        env: dict[str, str] | None = None,
    ) -> None:
        self.argv, self.history, self.name, self.cluster = list(argv), history, name, cluster
        self.env = dict(env or {})
        self.log_path = Path(history.path).with_name(f"{name}.log")
        self._proc: subprocess.Popen[bytes] | None = None
        self._killed = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def start(self, crash_at: str | None = None) -> Worker:
        """Start the process; with ``crash_at`` it stops itself at that ``crash_point``."""
        if self.alive:
            raise ClusterError(f"worker {self.name} is already running (pid {self.pid})")
        env = {**os.environ, **self.env, **self.history.env(), ENV_NAME: self.name, procs.MARK: self.cluster}
        env.pop(ENV_CRASH, None)
        if crash_at:
            env[ENV_CRASH] = crash_at
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                preexec_fn=procs.die_with_parent,  # noqa: PLW1509 - it only calls prctl, looked up before
            )
        if self._killed:
            self.history.write(Fault("kill-client", self.name, "end", self.history.now(), {"by": "restart"}))
            self._killed = False
        return self

    def wait_for_crash_point(self, timeout: float = 60.0) -> None:
        """Wait until the process stopped itself at its crash point; ClusterError when it
        exited instead, or did not get there in time (its log's tail says why)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise ClusterError(
                    f"worker {self.name} exited (rc {self.returncode}) before its crash point{self._tail()}"
                )
            if procs.paused(self._proc.pid):
                return
            time.sleep(0.05)
        raise ClusterError(f"worker {self.name} did not reach its crash point within {timeout:.0f} s{self._tail()}")

    def kill(self) -> None:
        """SIGKILL: no close, no commit, no leave; recorded as a ``kill-client`` fault."""
        if not self.alive:
            return
        assert self._proc is not None
        self.history.write(
            Fault("kill-client", self.name, "start", self.history.now(), {"pid": self._proc.pid, "client": self.name})
        )
        self._proc.kill()
        self._proc.wait(10)
        self._killed = True

    def restart(self, crash_at: str | None = None) -> Worker:
        """Kill the process if it still runs, then start a new one (the same name)."""
        self.kill()
        return self.start(crash_at)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (a graceful shutdown: the team's code closes its clients), SIGKILL if
        it is not gone after ``timeout`` s; returns the exit code."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            procs.signal_pid(self._proc.pid, signal.SIGCONT)
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        return self._proc.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit by itself; its exit code."""
        if self._proc is None:
            raise ClusterError(f"worker {self.name} was never started")
        return self._proc.wait(timeout)

    def _tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            return ""
        return (": " + " | ".join(text)) if text else ""

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop(5.0)
