"""The ``--executor local|ray`` and ``--address`` options of the commands that run independent jobs."""

from __future__ import annotations

import argparse

from gnnhw.executors import EXECUTORS


def add_executor(parser: argparse.ArgumentParser) -> None:
    """Add ``--executor`` (default ``local``) and ``--address`` (a Ray cluster) to ``parser``."""
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="where the jobs run: local (worker processes on this machine) or ray (a Ray cluster; needs "
        "pip install 'gnnhw[ray]') (default: local)",
    )
    parser.add_argument(
        "--address",
        default=None,
        help="with --executor ray: the cluster's head, HOST:PORT (e.g. 10.0.0.1:6379), ray://HOST:PORT or auto "
        "(default: start a local Ray instance on this machine)",
    )


def check_executor_args(args: argparse.Namespace) -> None:
    """Refuse a bad ``--executor`` / ``--address`` combination, or Ray missing, before any work (exit 2)."""
    from gnnhw.executors import check_executor

    check_executor(args.executor, args.address)
