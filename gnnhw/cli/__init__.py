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
import difflib
import io
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from gnnhw import __version__
from gnnhw.cli import assignment, graph, planetoid, recurrent, report, textgen
from gnnhw.cli._common import OneValueOrOldList, refuse_deprecated_conflicts, warn_deprecated
from gnnhw.cli._run import Interrupted, command_signals, install_start_handlers
from gnnhw.errors import GnnhwError

_AREAS = (graph, planetoid, recurrent, textgen, assignment, report)


class HelpFormatter(argparse.HelpFormatter):
    """Help text that says every option's default, and keeps hand-laid-out text (examples) as written.

    An option whose help does not mention its default gets `` (default: X)`` appended when it has one
    (not for flags and options that are simply absent unless given). Text with line breaks (an epilog of
    examples, a description wrapped by hand) is printed as it is; a one-line description is wrapped. An option
    that takes a list only in a deprecated old form (:class:`~gnnhw.cli._common.OneValueOrOldList`) is shown
    with its one value: ``--seeds N``.
    """

    def _format_args(self, action: argparse.Action, default_metavar: str) -> str:
        if isinstance(action, OneValueOrOldList):
            (metavar,) = self._metavar_formatter(action, default_metavar)(1)
            return metavar
        return super()._format_args(action, default_metavar)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip("\n"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        default = action.default
        silent = default is None or default is False or default is argparse.SUPPRESS or default == []
        if "default" in help_text or silent or not action.option_strings or isinstance(default, bool):
            return help_text
        if isinstance(default, (list, tuple)):
            shown = " ".join(str(value) for value in default)
        else:
            shown = str(default)
        shown = shown.replace("%", "%%")
        return f"{help_text} (default: {shown})" if help_text else f"(default: {shown})"


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose mistakes are one line on stderr, exit code 2.

    A misspelt or unknown option is reported by the (sub)command it was given to, with the closest
    option of that command (``gnnhw palindrome --lenght 5``: did you mean --length?), instead of
    argparse's top-level usage block. Options must be spelt in full (no abbreviations): argparse would
    otherwise take ``palindrome --early 0.9`` for ``--early-stop 0.9``, and an option added later would
    silently change what such a prefix means (``train-gcn --seed 3`` meant ``--seeds 3``, three runs, until
    ``--seed`` came). Every subparser made through
    ``add_subparsers`` is of this class too.
    """

    _LEAF = "_gnnhw_leaf_parser"

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        kwargs.setdefault("allow_abbrev", False)
        if kwargs.get("formatter_class") in (None, argparse.HelpFormatter, argparse.RawDescriptionHelpFormatter):
            kwargs["formatter_class"] = HelpFormatter
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())
        if "required" in message:  # a misspelt required option reads as missing: name the misspelling first
            unknown = [
                token
                for token in getattr(self, "_gnnhw_argv", [])
                if token.startswith("-")
                and token != "--"
                and not self._negative_number_matcher.match(token)
                and token.split("=", 1)[0] not in self._option_string_actions
            ]
            if unknown:
                message = f"unrecognized arguments: {' '.join(unknown)}{self._suggestion(unknown)}; {message}"
        self.exit(2, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")

    def parse_known_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201
        self._gnnhw_argv = list(sys.argv[1:] if args is None else args)
        namespace, extras = super().parse_known_args(args, namespace)
        if not hasattr(namespace, self._LEAF):
            setattr(namespace, self._LEAF, self)  # the innermost (sub)command sets it first
            refuse_deprecated_conflicts(self, namespace, self._gnnhw_argv)
        return namespace, extras

    def parse_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201
        """Parse; ``namespace.prog`` is the (sub)command's name, e.g. ``gnnhw textgen train``."""
        namespace, extras = self.parse_known_args(args, namespace)
        leaf = getattr(namespace, self._LEAF)
        delattr(namespace, self._LEAF)
        if extras:
            leaf.error(f"unrecognized arguments: {' '.join(extras)}{leaf._suggestion(extras)}")
        namespace.prog = leaf.prog
        warn_deprecated(leaf.prog, namespace)
        return namespace

    def _suggestion(self, extras: list[str]) -> str:
        known = [s for action in self._actions for s in action.option_strings if s.startswith("--")]
        hints = []
        for token in extras:
            name = token.split("=", 1)[0]
            if name.startswith("-"):
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                if close:
                    hints.append((name, close[0]))
        if not hints:
            return ""
        if len(hints) == 1:
            return f" (did you mean {hints[0][1]}?)"
        return " (did you mean " + ", ".join(f"{good} for {bad}" for bad, good in hints) + "?)"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="gnnhw",
        description=(
            "Verified from-scratch GCNs, RNNs and LSTMs: every experiment of the assignment is one command "
            "that prints its numbers and draws its figure. Run 'gnnhw COMMAND --help' for a command's options."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw adjacency --example --normalized\n"
            "  gnnhw receptive-field --example --source C --target E\n"
            "  gnnhw train-gcn --dataset Cora --seeds 10        # data: --data-root or $GNNHW_DATA\n"
            "  gnnhw palindrome --model lstm --length 10 --steps 2000\n"
            "  gnnhw textgen train --text BOOK.txt --steps 5000 --out runs/book\n"
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
            _check_device(args)
            code = int(args.func(args) or 0)
            sys.stdout.flush()  # a write error still inside the command: one line, not an error at exit
            return code
    except _StdoutClosed:
        # the reader went away (``gnnhw ... | head``): stop quietly, as tools killed by SIGPIPE do
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            os.dup2(os.open(os.devnull, os.O_WRONLY), real_stdout.fileno())  # nothing more to flush at exit
        return 128 + signal.SIGPIPE
    except GnnhwError as err:
        print(f"{args.prog}: error: {err}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        note = f"; {stop.note}" if stop.note else ""
        print(f"{args.prog}: interrupted by {stop.signal_name}{note}", file=sys.stderr)
        return stop.exit_code
    except KeyboardInterrupt:
        print(f"{args.prog}: interrupted", file=sys.stderr)
        return 130
    finally:
        sys.stdout = real_stdout


def _check_device(args: argparse.Namespace) -> None:
    """ConfigError for a ``--device`` name that is none of auto, cpu, cuda, cuda:N, in every command that has
    the option, before the command reads or writes anything (whether CUDA is there is the command's check)."""
    device = getattr(args, "device", None)
    if isinstance(device, str):
        from gnnhw._utils import check_device_name

        check_device_name(device)


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
