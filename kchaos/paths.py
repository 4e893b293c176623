"""Where kchaos keeps downloads, installs and running clusters.

Everything lives under one root (``KCHAOS_HOME``, default ``~/.cache/kchaos``) so that a
second CI run finds its downloads and ``rm -rf`` of one folder forgets everything.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The root of kchaos' cache: ``$KCHAOS_HOME`` or ``~/.cache/kchaos``."""
    return Path(os.environ.get("KCHAOS_HOME", Path.home() / ".cache" / "kchaos"))


def kafka_dir(version: str) -> Path:
    """A pinned Kafka installation: ``libs/`` with every runtime jar."""
    return home() / "kafka" / version


def toxiproxy_bin(version: str) -> Path:
    """The Toxiproxy server binary built for ``version``."""
    return home() / "toxiproxy" / version / "toxiproxy-server"


def clusters_dir() -> Path:
    """Running clusters: one folder each, with its state file, data and logs."""
    return home() / "clusters"
