"""Argument types and output helpers shared by the subcommand modules."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gnnhw._utils import atomic_write_text


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", default="auto", help="auto (CUDA when available, else CPU), cpu, or cuda (default: auto)"
    )


def add_data_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="data folder (default: $GNNHW_DATA, else the project's datasets/ folder)",
    )


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="CPU threads for torch (default: torch's choice; 1 is often fastest on a busy machine)",
    )


def apply_threads(args: argparse.Namespace) -> None:
    """``torch.set_num_threads(args.threads)`` when the command was given ``--threads``."""
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("text", "json")) -> None:
    parser.add_argument("--format", choices=choices, default="text", help="output format (default: text)")


def print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2)
    sys.stdout.write("\n")


def write_json(path: str | Path, payload: Any) -> None:
    """Write ``payload`` as JSON to ``path`` atomically; :class:`ConfigError` (one line) if it cannot be written."""
    from gnnhw.errors import ConfigError

    try:
        atomic_write_text(path, json.dumps(payload, indent=2) + "\n")
    except OSError as err:  # a folder at that path, no permission, a full disk: never a traceback
        raise ConfigError(f"cannot write {str(path)!r}: {err.strerror or err}; choose another path") from None
