"""``python -m gnnhw``: the same as the ``gnnhw`` command.

SIGINT and SIGTERM are handled from the first line: until the command installs its own handlers
(:mod:`gnnhw.cli._run`), a stop signal ends the process at once with one stderr line and exit code
128 + the signal's number. Nothing has been read or written by then, so there is nothing to keep; without
this, a SIGTERM while the modules load killed the process silently.
"""

import os
import signal
import sys


def _stop_while_starting(signum, frame):  # noqa: ANN001, ARG001 - a signal handler's signature
    sys.stderr.write(f"gnnhw: interrupted by {signal.Signals(signum).name} while starting; nothing was done\n")
    sys.stderr.flush()
    os._exit(128 + signum)


for _signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(_signum, _stop_while_starting)

from gnnhw.cli import run  # noqa: E402 - after the handlers, so that loading the CLI is covered too

run()
