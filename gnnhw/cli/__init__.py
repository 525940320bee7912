"""The ``gnnhw`` command line.

Each area of gnnhw keeps its subcommands in a module of this package (``graph``, ``planetoid``,
``recurrent``, ``textgen``); each module has ``register(subparsers)``, which adds its subcommands and
sets ``func`` to a handler ``func(args) -> int``. Handlers parse nothing themselves, call the library,
and print or save what it returns. Heavy imports (PyG, matplotlib) happen inside handlers so that
``gnnhw --help`` stays fast.

A :class:`gnnhw.errors.GnnhwError` raised anywhere becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gnnhw import __version__
from gnnhw.cli import assignment, graph, planetoid, recurrent, textgen
from gnnhw.errors import GnnhwError

_AREAS = (graph, planetoid, recurrent, textgen, assignment)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gnnhw",
        description=(
            "Verified from-scratch GCNs, RNNs and LSTMs: every experiment of the assignment is one command "
            "that prints its numbers and draws its figure. Run 'gnnhw COMMAND --help' for a command's options."
        ),
    )
    parser.add_argument("--version", action="version", version=f"gnnhw {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for area in _AREAS:
        area.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except GnnhwError as err:
        print(f"gnnhw {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gnnhw {args.command}: interrupted", file=sys.stderr)
        return 130
