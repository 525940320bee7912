"""``python -m gnnhw``: the same as the ``gnnhw`` command."""

from gnnhw.cli import run

run()
