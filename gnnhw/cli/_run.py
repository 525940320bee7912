"""The CLI half of a run's lifecycle: SIGINT and SIGTERM, handled alike by every command.

:func:`gnnhw.cli.main` installs :class:`SignalStop` around every command. The first SIGINT or SIGTERM
then either

- raises :class:`Interrupted` at once (the default: nothing the command holds in memory is saved, and
  what it has written is complete, since every write is atomic), or
- inside :meth:`SignalStop.deferred` (a library loop that polls ``should_stop`` between optimizer steps,
  like :func:`gnnhw.recurrent.train_text.train_text`), only sets a flag: the loop finishes or discards
  its current step, writes one consistent checkpoint and raises :class:`gnnhw.runs.RunStopped`.

Further signals while the first is being handled only count, they never interrupt the cleanup. The
command exits with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM) and one stderr line.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an Exception on purpose
    """The command was stopped by a signal; ``note`` says what was kept (one line)."""

    def __init__(self, signum: int, note: str = "") -> None:
        super().__init__(signum, note)
        self.signum = signum
        self.note = note

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


class SignalStop:
    """Process-wide SIGINT/SIGTERM handlers for one command (install with :meth:`installed`)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.count = 0
        self.note = ""  # what an interruption keeps, for the exit line (set by the command)
        self._deferred = 0

    def _handler(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.signum is not None:
            return  # already stopping: a second Ctrl-C must not break the cleanup of the first
        self.signum = signum
        if self._deferred == 0:
            raise Interrupted(signum, self.note)

    def should_stop(self) -> bool:
        """True once a stop signal arrived (the ``should_stop`` callback of library loops)."""
        return self.signum is not None

    def interrupted(self, note: str | None = None) -> Interrupted:
        """The :class:`Interrupted` to raise for the signal received (SIGINT if none was)."""
        return Interrupted(self.signum or signal.SIGINT, self.note if note is None else note)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """While active, a signal only sets the flag; on leaving normally, a pending stop is raised."""
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1
        if self._deferred == 0 and self.signum is not None:
            raise self.interrupted()

    @contextlib.contextmanager
    def installed(self) -> Iterator[SignalStop]:
        """Install the handlers for SIGINT and SIGTERM (main thread only), restore the old ones after."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
        for s in STOP_SIGNALS:
            signal.signal(s, self._handler)
        try:
            yield self
        finally:
            # Once stopping, the process only has to exit: a later signal (the second of two Ctrl-C) must
            # not raise during the interpreter's shutdown, so it is counted and dropped from now on.
            for s, handler in previous.items():
                signal.signal(s, self._count_only if self.signum is not None else handler)

    def _count_only(self, signum: int, frame: Any) -> None:
        self.count += 1


def stop_while_starting(signum: int, frame: Any) -> None:
    """The handler from the program's start until a command installs :class:`SignalStop`: nothing has been
    read or written yet, so one line and exit ``128 + signum`` at once."""
    import os
    import sys

    sys.stderr.write(f"gnnhw: interrupted by {signal.Signals(signum).name} while starting; nothing was done\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def install_start_handlers() -> None:
    """:func:`stop_while_starting` for SIGINT and SIGTERM (main thread only; the program's entry calls it)."""
    if threading.current_thread() is threading.main_thread():
        for s in STOP_SIGNALS:
            signal.signal(s, stop_while_starting)


_CURRENT: list[SignalStop] = []


def current() -> SignalStop:
    """The :class:`SignalStop` of the running command (an uninstalled one when called outside ``main``)."""
    return _CURRENT[-1] if _CURRENT else SignalStop()


@contextlib.contextmanager
def command_signals() -> Iterator[SignalStop]:
    """Install a fresh :class:`SignalStop` for one command and make it :func:`current`."""
    stop = SignalStop()
    _CURRENT.append(stop)
    try:
        with stop.installed():
            yield stop
    finally:
        _CURRENT.remove(stop)
