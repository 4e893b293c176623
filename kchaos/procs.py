"""Processes kchaos starts: spawn them marked, find them again, stop them for sure.

Every process gets ``KCHAOS_CLUSTER=<name>`` in its environment. That mark is how
``kchaos down`` finds a broker whose pid never reached the state file (a harness killed
between ``fork`` and the state write), and how it avoids killing an unrelated process
that reused a recorded pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

MARK = "KCHAOS_CLUSTER"
#: Held while the process environment is changed or copied for a child (threads start children).
ENV_LOCK = threading.Lock()


def spawn(cmd: list[str], cluster: str, log_path: Path, env: dict[str, str] | None = None) -> int:
    """Start ``cmd`` in its own session (Ctrl-C in the terminal does not reach it)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {}), MARK: cluster}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full_env, start_new_session=True
        )
    _children[proc.pid] = proc
    return proc.pid


_children: dict[int, subprocess.Popen] = {}


def state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` (R, S, T, Z, ...), None when gone."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    st = stat.rsplit(")", 1)[1].split()[0]
    return None if st in ("Z", "X") else st


def alive(pid: int | None) -> bool:
    return pid is not None and state(pid) is not None


def paused(pid: int | None) -> bool:
    return pid is not None and state(pid) in ("T", "t")


def wait_state(pid: int, want_paused: bool, seconds: float = 5.0) -> None:
    """Signals are delivered asynchronously: wait until the kernel shows the new state."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and alive(pid) and paused(pid) != want_paused:
        time.sleep(0.01)


def marked_by(pid: int) -> str | None:
    """The cluster name a process was marked with, or None."""
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    prefix = f"{MARK}=".encode()
    for item in env:
        if item.startswith(prefix):
            # Leniently: anyone can set this variable, and one undecodable value must not
            # break every ``kchaos down`` (a replaced byte never equals a valid name).
            return item[len(prefix) :].decode(errors="replace")
    return None


def ancestors(pid: int | None = None) -> set[int]:
    """``pid`` (default: this process) and every process above it, up to init."""
    out: set[int] = set()
    pid = os.getpid() if pid is None else pid
    while pid > 1 and pid not in out:
        out.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def find_marked(cluster: str | None = None) -> list[int]:
    """Every live process marked for ``cluster`` (any kchaos cluster when None), except
    this process and its ancestors: a shell that exported the mark is not ours to kill."""
    out = []
    mine = ancestors()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        name = marked_by(int(entry.name))
        if name is not None and (cluster is None or name == cluster) and alive(int(entry.name)):
            out.append(int(entry.name))
    return out


def signal_pid(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def wait_gone(pid: int, seconds: float) -> bool:
    """Wait until ``pid`` has exited (reaping it when it is our child)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            _children.pop(pid, None)
            return True
        time.sleep(0.05)
    return False


def terminate(pid: int, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; resumes a paused process first."""
    signal_pid(pid, signal.SIGCONT)
    if signal_pid(pid, signal.SIGTERM) and not wait_gone(pid, grace):
        signal_pid(pid, signal.SIGKILL)
        wait_gone(pid, 5.0)


def _prctl() -> object | None:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()  # looked up here: a preexec function must not import (threads may hold the lock)


def output_to(log_path: Path) -> None:
    """Point this process's file descriptors 1 and 2 at ``log_path`` (appended). A child's
    librdkafka writes its assertion failures straight to descriptor 2, and Python its
    tracebacks: they belong in the run folder, beside the history, not in the terminal
    between the live view's lines."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    finally:
        os.close(fd)


def die_with_parent() -> None:
    """In a child, before exec (or at its start): be SIGKILLed when the thread that started
    us dies (Linux ``PR_SET_PDEATHSIG``), so a SIGKILLed harness leaves no client behind."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # type: ignore[operator]  # 1 = PR_SET_PDEATHSIG
