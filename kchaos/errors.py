"""The KchaosError family.

Every error a user can cause or fix is one of these: the CLI prints its message on one
line and exits with its ``exit_code``; only ``--debug`` shows a traceback.
"""

from __future__ import annotations


def one_line(text: object, limit: int = 500) -> str:
    """``text`` with its whitespace (newlines too) folded to single spaces, at most
    ``limit`` characters: what a server or an exception says must stay one line."""
    return " ".join(str(text).split())[:limit]


class KchaosError(Exception):
    """Base of every error kchaos reports to a user as one line."""

    exit_code = 2


class BadInput(KchaosError):
    """An argument, a file or a value the user gave is wrong; the message names it."""


class NotInstalled(KchaosError):
    """Kafka, Toxiproxy, Java or Docker is missing; the message says what to run."""


class PortInUse(KchaosError):
    """A port the cluster needs is taken by another process; choose another --base-port."""


class ClusterError(KchaosError):
    """The cluster could not be started, or did not reach the state we waited for."""


class HistoryError(BadInput):
    """A history file is malformed; the message names the line number."""
