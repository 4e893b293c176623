"""The state file of a running cluster: everything another kchaos process needs.

``kchaos up`` writes it before it starts anything and after each process it starts, so
``kchaos down`` after a crash (even a SIGKILL mid-``up``) finds every process. Writes
are atomic (write a temp file, rename), so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kchaos import paths, safety


def cluster_dir(name: str) -> Path:
    """The folder of cluster ``name``; BadInput unless ``name`` is a valid cluster name,
    so no name (``../x``, ``/``) ever becomes a path outside ``clusters/``."""
    return paths.clusters_dir() / safety.cluster_name(name)


def state_path(name: str) -> Path:
    return cluster_dir(name) / "state.json"


def load(name: str) -> dict[str, Any] | None:
    """The state of cluster ``name``, or None when there is none."""
    path = state_path(name)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def save(name: str, state: dict[str, Any]) -> None:
    path = state_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    tmp.replace(path)


def update(name: str, **changes: Any) -> dict[str, Any]:
    """Read, change some top-level keys, write back; returns the new state."""
    state = load(name) or {}
    state.update(changes)
    save(name, state)
    return state


def known_clusters() -> list[str]:
    root = paths.clusters_dir()
    found = (p.parent.name for p in root.glob("*/state.json")) if root.exists() else ()
    return sorted(name for name in found if safety.is_cluster_name(name))
