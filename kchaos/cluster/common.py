"""What both backends share and neither owns: the brokers' JVM flags and the check that
the ports a cluster needs are free before anything starts."""

from __future__ import annotations

import socket

from kchaos.errors import PortInUse

JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    "-XX:-UsePerfData",
]


def check_ports_free(addresses: list[tuple[str, int]]) -> None:
    """Fail with one line naming the first port that another process holds."""
    for host, port in addresses:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError:
                raise PortInUse(f"port {host}:{port} is in use; stop what holds it or pass --base-port") from None
