"""``gnnhw report``: run every experiment of the assignment at a budget and write DIR/report.md and DIR/report.html.

The experiments run as the same ``gnnhw`` commands a user would type (listed under each answer); this module
parses the options, tells the library which options each command accepts (from the parser itself), prints
progress lines on stderr and the written files on stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gnnhw.cli._common import add_config_option, add_data_root, path_arg, positive_int


class _ParserOptions:
    """:class:`gnnhw.report.plan.CommandOptions` answered from the ``gnnhw`` argument parser."""

    def __init__(self) -> None:
        from gnnhw.cli import build_parser

        self._root = build_parser()
        self._cache: dict[tuple[str, ...], dict[str, argparse.Action]] = {}

    def _actions(self, command: Sequence[str]) -> dict[str, argparse.Action]:
        key = tuple(command)
        if key not in self._cache:
            parser: argparse.ArgumentParser = self._root
            for name in command:
                sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
                parser = sub.choices[name]
            self._cache[key] = {
                flag: action
                for action in parser._actions
                for flag in action.option_strings
                if action.help is not argparse.SUPPRESS  # deprecated aliases are hidden: never use them
            }
        return self._cache[key]

    def accepts(self, command: Sequence[str], flag: str) -> bool:
        return flag in self._actions(command)


def _report(args: argparse.Namespace) -> int:
    from gnnhw._utils import data_root
    from gnnhw.report import make_report

    def progress(line: str) -> None:
        print(f"{args.prog}: {line}", file=sys.stderr, flush=True)

    from gnnhw.cli._run import current

    current().note = f"the finished commands are recorded in {args.out}; rerun the same command to resume"
    result = make_report(
        args.out,
        args.budget,
        _ParserOptions(),
        data_root(args.data_root),
        replace=args.replace,
        jobs=args.jobs,
        progress=(lambda _: None) if args.quiet else progress,
        publish_to=args.publish,
    )
    current().note = ""
    print(f"report: {result.markdown}")
    print(f"report: {result.html}")
    if args.publish is not None:
        print(f"published: {args.publish}/report.md, report.json and its figures")
    print(f"wall time: {result.wall_seconds:.1f} s")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report``."""
    from gnnhw.report.plan import BUDGETS, ReportConfig

    p = subparsers.add_parser(
        "report",
        help="run every experiment of the assignment and write report.md and report.html in the --out folder "
        "(resumable)",
        description=(
            "Run every experiment of the assignment (BPTT check, palindrome sweep, optimizers, gradients over "
            "time, text generation, the example graph, Planetoid, depth study, GNN vs RNN) as the gnnhw commands "
            "listed in the report, at one budget, and write report.md and a self-contained report.html in the --out "
            "folder, "
            "answering each question in the assignment's order from the measured numbers (--publish: a copy of the "
            "page, its record and figures for a repository). Resumable: rerun the "
            "same command and finished experiments are reused; a folder made with other settings is refused "
            "unless --replace (only the differing experiments are then rerun)."
        ),
        epilog=(
            "budgets:\n" + "".join(f"  {name:<9} {b.why}\n" for name, b in BUDGETS.items()) + "\nexamples:\n"
            "  gnnhw report --out out/report --budget quick\n"
            "  gnnhw report --out out/report --budget standard --jobs 2\n"
            "  gnnhw report --out out/report --budget standard --publish docs/report   # the README's figures\n"
        ),
    )
    p.add_argument("--out", type=path_arg, required=True, metavar="DIR", help="the report folder")
    add_config_option(p, "--budget", ReportConfig, choices=tuple(BUDGETS))
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=2,
        metavar="N",
        help="experiments run at the same time (each one's commands in order)",
    )
    p.add_argument(
        "--replace",
        action="store_true",
        help="rerun the experiments the --out folder holds with other settings (default: refuse, change nothing)",
    )
    add_data_root(p)
    p.add_argument(
        "--publish",
        type=path_arg,
        metavar="DIR",
        default=None,
        help="also replace DIR with report.md, report.json and the figures the page shows (no checkpoints or "
        "logs; the data folder's path written $GNNHW_DATA): the copy a repository keeps, e.g. docs/report; "
        "DIR must be new, empty or a copy published there before, with nothing added (default: none)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_report)
