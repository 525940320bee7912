"""``python -m gnnhw``: the same as the ``gnnhw`` command."""

from gnnhw.cli import main

raise SystemExit(main())
