"""``python -m kchaos`` is the ``kchaos`` command."""

from kchaos.cli import run

run()
