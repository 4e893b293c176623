"""What both backends share and neither owns: the brokers' JVM flags and the check that
the ports a cluster needs are free before anything starts."""

from __future__ import annotations

import socket
import time

from kchaos.errors import PortInUse

JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    "-XX:-UsePerfData",
]


#: How long a port may stay taken before ``check_ports_free`` gives up: a broker of the
#: cluster just taken down may still be closing its sockets for a moment after it died.
PORT_GRACE_S = 5.0


def check_ports_free(addresses: list[tuple[str, int]], grace: float = PORT_GRACE_S) -> None:
    """Fail with one line naming the first port that another process holds (after
    ``grace`` seconds of asking again)."""
    deadline = time.monotonic() + grace
    for host, port in addresses:
        while not _free(host, port):
            if time.monotonic() > deadline:
                raise PortInUse(f"port {host}:{port} is in use; stop what holds it or pass --base-port")
            time.sleep(0.2)


def _free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True
