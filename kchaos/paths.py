"""Where kchaos keeps downloads, installs and running clusters, and where the shipped
experiment files are.

Everything kchaos writes lives under one root (``KCHAOS_HOME``, default
``~/.cache/kchaos``) so that a second CI run finds its downloads and ``rm -rf`` of one
folder forgets everything.
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


# Installed from a wheel, the experiment files are package data (kchaos/experiments);
# in a checkout (or an editable install) they are the repository's experiments/.
_PACKAGED = Path(__file__).resolve().parent / "experiments"
EXPERIMENTS_DIR = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parent.parent / "experiments"


def schema_file(name: str) -> Path:
    """Where a schema file of an experiment is: under experiments/schemas, else the path."""
    packaged = EXPERIMENTS_DIR / "schemas" / name
    return packaged if packaged.exists() else Path(name)
