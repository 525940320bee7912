"""The ``gnnhw`` command line.

Each area of gnnhw keeps its subcommands in a module of this package (``graph``, ``planetoid``,
``recurrent``, ``textgen``); each module has ``register(subparsers)``, which adds its subcommands and
sets ``func`` to a handler ``func(args) -> int``. Handlers parse nothing themselves, call the library,
and print or save what it returns. Heavy imports (PyG, matplotlib) happen inside handlers so that
``gnnhw --help`` stays fast.

A :class:`gnnhw.errors.GnnhwError` raised anywhere becomes one line on stderr and exit code 2. SIGINT
and SIGTERM are handled alike for every command (:mod:`gnnhw.cli._run`): one line on stderr saying what
was kept, exit code 130 or 143.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from gnnhw import __version__
from gnnhw.cli import graph, planetoid, recurrent, textgen
from gnnhw.cli._run import Interrupted, command_signals, install_start_handlers
from gnnhw.errors import GnnhwError

_AREAS = (graph, planetoid, recurrent, textgen)


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
    real_stdout = sys.stdout
    sys.stdout = _GuardedStdout(real_stdout)
    try:
        with command_signals():
            code = int(args.func(args) or 0)
            sys.stdout.flush()  # a write error still inside the command: one line, not an error at exit
            return code
    except _StdoutClosed:
        # the reader went away (``gnnhw ... | head``): stop quietly, as tools killed by SIGPIPE do
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            os.dup2(os.open(os.devnull, os.O_WRONLY), real_stdout.fileno())  # nothing more to flush at exit
        return 128 + signal.SIGPIPE
    except GnnhwError as err:
        print(f"gnnhw {args.command}: error: {err}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        note = f"; {stop.note}" if stop.note else ""
        print(f"gnnhw {args.command}: interrupted by {stop.signal_name}{note}", file=sys.stderr)
        return stop.exit_code
    except KeyboardInterrupt:
        print(f"gnnhw {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        sys.stdout = real_stdout


class _StdoutClosed(BrokenPipeError):
    """Standard output's reader is gone (EPIPE). A command that streams (``textgen sample``) may catch it as
    a BrokenPipeError and end quietly with 0; elsewhere the command stops with 141 (128 + SIGPIPE), as tools
    killed by SIGPIPE do, since its later results (files written after the printed numbers) were not made."""


class _GuardedStdout:
    """``sys.stdout`` for one command: a failing write or flush (a full disk, ``> /dev/full``) becomes one
    :class:`OutputError` line; a closed pipe, :class:`_StdoutClosed` (a quiet stop)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _guard(self, call: Any, *a: Any) -> Any:
        try:
            return call(*a)
        except BrokenPipeError:
            raise _StdoutClosed from None
        except OSError as err:
            from gnnhw._utils import describe_os_error
            from gnnhw.errors import OutputError

            raise OutputError(f"cannot write to standard output: {describe_os_error(err)}") from None

    def write(self, text: str) -> int:
        return self._guard(self._stream.write, text)

    def flush(self) -> None:
        self._guard(self._stream.flush)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``gnnhw`` program (and ``python -m gnnhw``): :func:`main`, then exit with its code.

    Until the command installs its handlers, a SIGINT or SIGTERM ends the process at once with one line
    (:func:`gnnhw.cli._run.stop_while_starting`: nothing was read or written yet). Once the command has
    returned, SIGINT and SIGTERM are ignored for the rest of the process: the work is done (or stopped and
    saved), and a signal while the interpreter shuts down (the second of two Ctrl-C) would otherwise kill
    the process by the signal instead of letting it exit with its code.
    """
    install_start_handlers()  # a signal while the arguments are parsed: one line, not a silent death
    code = main(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    raise SystemExit(code)
