"""Workshop mode driven through a pseudo-terminal, as a presenter would: ``kchaos run
leader-failover --present --step`` waits before the steady phase, advances on Enter, and
Ctrl-C in the middle of the fault (the leader down) heals the cluster."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from tests.integration.conftest import as_a_terminal_would, wait_for

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>78]")


class Terminal:
    """A child process on a pseudo-terminal, its screen output kept as plain text."""

    def __init__(self, argv: list[str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the pty is its controlling terminal, Ctrl-C is SIGINT
            as_a_terminal_would()
            os.execvp(argv[0], argv)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 160, 0, 0))
        self.text = ""
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self.text += ANSI.sub(b"", chunk).decode(errors="replace")

    def seen(self, what: str) -> bool:
        with self._lock:
            return what in self.text

    def wait_for(self, what: str, seconds: float) -> None:
        wait_for(lambda: self.seen(what), seconds, f"{what!r} on the screen (last: {self.text[-600:]!r})")

    def press(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def exit_code(self, seconds: float) -> int:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.2)
        os.kill(self.pid, 9)
        pytest.fail("kchaos did not exit after Ctrl-C")


def _phases(run_dirs: Path) -> list[str]:
    return [
        m for p in run_dirs.glob("*/history.*.jsonl") for m in re.findall(r'"op":"phase","name":"(\w+)"', p.read_text())
    ]


def test_present_step_waits_advances_on_enter_and_ctrl_c_heals(healthy, tmp_path):
    argv = [sys.executable, "-m", "kchaos", "run", "leader-failover", "--quick", "--present", "--step"]
    term = Terminal([*argv, "--cluster", healthy.name, "--report-dir", str(tmp_path), "--seed", "4"])
    term.wait_for("press Enter to start the steady phase", 120)
    assert term.seen("what actually happens during failover")  # the question is on the screen
    time.sleep(3)
    assert "steady" not in _phases(tmp_path), "it must wait for Enter"
    term.press(b"\r")
    term.wait_for("phase: STEADY", 30)
    term.wait_for("Baseline:", 5)  # the phase's narration
    term.wait_for("press Enter to start the fault phase", 60)
    term.press(b"\r")
    term.wait_for("phase: FAULT", 30)
    wait_for(lambda: any(healthy.process_state(n.id) == "down" for n in healthy.spec.nodes), 20, "the leader killed")
    term.press(b"\x03")  # Ctrl-C with the leader down
    assert term.exit_code(120) == 130
    assert all(healthy.process_state(n.id) == "up" for n in healthy.spec.nodes), "Ctrl-C must heal"
    summary = next(tmp_path.glob("*-leader-failover/summary.json")).read_text()
    assert '"interrupted": true' in summary
