"""kchaos: answer Kafka's architecture questions with evidence from a real cluster.

The public Python API (``docs/api.md``) is ``kchaos.api``'s ``__all__``, offered here
and loaded on first use, so ``import kchaos`` (and the CLI) stay quick. Everything else
is internal.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

__version__ = "0.2.0"


def __getattr__(name: str) -> Any:
    """The public names (and ``__all__``), from ``kchaos.api`` when first asked for."""
    if (name.startswith("__") and name != "__all__") or importlib.util.find_spec(f"kchaos.{name}"):
        raise AttributeError(name)  # a submodule (``from kchaos import install``): the import system's
    api = importlib.import_module("kchaos.api")  # not ``from kchaos import``: that asks this hook again

    if name == "__all__":
        return list(api.__all__)
    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'kchaos' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *importlib.import_module("kchaos.api").__all__])
