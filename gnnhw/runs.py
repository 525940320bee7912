"""The library half of a run's lifecycle: output paths checked before any work, a lock per output, and
the cleanup of temporary files that a killed run left behind.

A command that writes results does, before it reads data or trains:

1. :func:`check_output_dir` / :func:`check_output_file` / :func:`check_figure_path` on every output, so a
   path under a regular file, a folder where a file is meant, a read-only place or a figure format
   matplotlib cannot write is one :class:`~gnnhw.errors.OutputError` line, not a traceback after the work;
2. :class:`OutputLock` on each output folder (or file): a second run on the same output is refused at
   once with :class:`~gnnhw.errors.OutputLockedError`. The lock is an ``flock`` (through the ``filelock``
   library), which the kernel drops when its process dies, so a lock left by a killed run is simply
   taken over;
3. :func:`clean_stale_temporaries`: removes the ``.<name>.<pid>.<random>.gnnhw-tmp<suffix>`` files of
   :func:`gnnhw._utils.atomic_path` whose process is gone.

Writes then go through :mod:`gnnhw._utils`'s atomic writers, which turn an ``OSError`` (a full disk,
``ENOSPC``) into one :class:`~gnnhw.errors.OutputError` line naming the path and the cause and keep the
previous file. Signals are the CLI's business (:mod:`gnnhw.cli._run`); a library loop that can stop
cleanly takes a ``should_stop`` callable and raises :class:`RunStopped` once it has saved its state.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from gnnhw._utils import TEMP_MARK, TEMP_PATTERN, describe_os_error, special_file_kind
from gnnhw.errors import OutputError, OutputLockedError

LOCK_NAME = ".gnnhw.lock"


class RunStopped(Exception):  # noqa: N818 - not an error: the run did what was asked (stop and save)
    """A training loop stopped because ``should_stop()`` said so, after saving a consistent checkpoint.

    Attributes:
        step: the optimizer steps the saved state holds.
        checkpoint: where that state is (``None`` when the run writes no checkpoint).
    """

    def __init__(self, step: int, checkpoint: Path | None) -> None:
        where = f"checkpoint {checkpoint}" if checkpoint is not None else "no checkpoint"
        super().__init__(f"stopped at step {step} ({where})")
        self.step = step
        self.checkpoint = checkpoint


def _label(path: Path, label: str | None) -> str:
    return f"{label} {str(path)!r}" if label else repr(str(path))


def _nearest_existing(path: Path) -> Path:
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _check_writable_folder(folder: Path, what: str) -> None:
    """Raise OutputError unless a file can be created in the existing folder ``folder`` (a real try)."""
    try:
        # named like atomic_path's temporaries, so one left by a process killed right here is cleaned up too
        fd, probe = tempfile.mkstemp(prefix=f".probe.{os.getpid()}.", suffix=TEMP_MARK, dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(f"{what}: cannot write in {str(folder)!r}: {describe_os_error(err)}") from None


def check_output_dir(path: str | os.PathLike, label: str | None = None) -> Path:
    """Check that ``path`` is, or can be made, a folder this process can write in; create nothing.

    Raises:
        OutputError: ``path`` (or a folder above it) is a file, or the nearest existing folder is not
            writable (permissions, read-only filesystem).
    """
    path = Path(path)
    what = _label(path, label)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} is a file, but a folder is expected there; choose another path")
    base = _nearest_existing(path)
    if not base.is_dir():
        raise OutputError(f"{what} cannot be created: {str(base)!r} is a file, not a folder")
    _check_writable_folder(base, what)
    return path


def check_output_file(path: str | os.PathLike, label: str | None = None) -> Path:
    """Check that the file ``path`` can be written (replaced atomically); create nothing.

    Raises:
        OutputError: ``path`` is a folder, or an existing special file (a device such as ``/dev/full``,
            a FIFO, a socket: an atomic write would replace it with a regular file), a folder above it
            is a file, or its folder is not writable.
    """
    path = Path(path)
    what = _label(path, label)
    if path.is_dir():
        raise OutputError(f"{what} is a folder, but a file is expected there; give a file name")
    special = special_file_kind(path)
    if special is not None:
        raise OutputError(
            f"{what} is {special}, not a regular file; gnnhw writes results to regular files only "
            "(it replaces them atomically); give a file name"
        )
    if path.name in ("", ".", ".."):
        raise OutputError(f"{what} does not name a file")
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise OutputError(f"{what} cannot be created: {str(base)!r} is a file, not a folder")
    _check_writable_folder(base, what)
    return path


def supported_figure_suffixes() -> tuple[str, ...]:
    """The file suffixes matplotlib can save a figure as (``("eps", "jpeg", ..., "svg")``), sorted."""
    from matplotlib.figure import Figure  # imported here: only commands that draw need matplotlib

    return tuple(sorted(Figure().canvas.get_supported_filetypes()))


# Formats matplotlib's built-in backends (agg, pdf, svg, ps) always write.
_ALWAYS_SUPPORTED = frozenset({"png", "pdf", "svg", "eps", "ps"})


def check_figure_path(path: str | os.PathLike, label: str | None = None) -> Path:
    """:func:`check_output_file`, and the suffix must be a format matplotlib can write.

    Raises:
        OutputError: no suffix, or one matplotlib cannot write (the message lists the ones it can), or
            the path is not writable.
    """
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix in _ALWAYS_SUPPORTED:  # matplotlib's own backends: no need to import it to know
        return check_output_file(path, label)
    supported = supported_figure_suffixes()
    if suffix not in supported:
        got = f"'.{suffix}'" if suffix else "no suffix"
        raise OutputError(
            f"{_label(path, label)}: matplotlib cannot write figures with {got}; "
            f"use one of {', '.join('.' + s for s in supported)}"
        )
    return check_output_file(path, label)


def _lock_file_for(path: Path, folder: bool) -> Path:
    if folder:
        return path / LOCK_NAME
    # A lock for one file lives outside its folder (no stray lock files beside results), keyed by the
    # file's absolute path; per user, so users never share (or fight over) one lock folder.
    # keyed by the real path: a symlink and its target (or a/../b and b) are one file, so one lock
    key = hashlib.sha256(os.path.realpath(path).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"gnnhw-locks-{uid}" / f"{key}.lock"


class OutputLock:
    """An exclusive, non-blocking lock on an output folder (``<folder>/.gnnhw.lock``) or output file.

    Taken with ``with OutputLock(path):`` or :meth:`acquire`; a second holder (another process) gets
    :class:`OutputLockedError` at once instead of waiting. The lock is an ``flock`` through ``filelock``:
    the kernel releases it when the holding process dies, however it dies, so the lock of a killed run
    never blocks the next one. Creates the folder when it does not exist yet.
    """

    def __init__(self, path: str | os.PathLike, folder: bool = True, label: str | None = None) -> None:
        self.path = Path(path)
        self.folder = folder
        self.label = label
        self.lock_file = _lock_file_for(self.path, folder)
        self._lock: FileLock | None = None

    def acquire(self) -> OutputLock:
        what = _label(self.path, self.label)
        try:
            self.lock_file.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(self.lock_file), timeout=0)
            lock.acquire()
        except Timeout:
            raise OutputLockedError(
                f"{what} is in use by another running gnnhw command (lock {str(self.lock_file)!r}); "
                "wait for it to finish or choose another output"
            ) from None
        except OSError as err:
            raise OutputError(
                f"{what}: cannot take the lock {str(self.lock_file)!r}: {describe_os_error(err)}"
            ) from None
        self._lock = lock
        return self

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except OSError:
        return True
    return True


def clean_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of :func:`gnnhw._utils.atomic_path` in ``folder`` whose writer is dead.

    Only files named ``.<name>.<pid>.<random>.gnnhw-tmp<suffix>`` are considered, and only when no process
    ``<pid>`` is alive, so a write in progress (of this or another process) is never touched. Returns the
    removed paths. A folder that does not exist has none.
    """
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = TEMP_PATTERN.match(entry.name)
        if match is None or not entry.is_file() or _pid_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            entry.unlink()
            removed.append(entry)
    return removed


@contextlib.contextmanager
def prepare_outputs(
    folders: Iterable[str | os.PathLike | tuple[str | os.PathLike, str]] = (),
    files: Iterable[str | os.PathLike | tuple[str | os.PathLike, str]] = (),
    figures: Iterable[str | os.PathLike | tuple[str | os.PathLike, str]] = (),
) -> Iterator[list[Path]]:
    """Check every output, then lock each and clean its stale temporaries; release the locks on exit.

    Each entry is a path or ``(path, label)`` (the label, such as ``"--out"``, starts its error message).
    Every path is checked before anything is created or locked, so a refused command leaves no trace; and
    when the block raises (a later refusal, an error, an interruption) before anything was written, the
    folders this call created are removed again.
    ``files`` and ``figures`` in a listed folder are covered by that folder's lock. Yields the paths of
    the temporaries removed.

    Raises:
        OutputError: an output cannot be written (see :func:`check_output_dir` and friends).
        OutputLockedError: another running command holds one of the outputs.
    """

    def split(entry: str | os.PathLike | tuple[str | os.PathLike, str]) -> tuple[Path, str | None]:
        if isinstance(entry, tuple):
            return Path(entry[0]), entry[1]
        return Path(entry), None

    dirs = [split(e) for e in folders]
    outs = [split(e) for e in files]
    figs = [split(e) for e in figures]
    owners: dict[Path, str | None] = {}
    for path, label in outs + figs:  # two outputs of one command on one file: one would silently replace the other
        key = Path(os.path.realpath(path))
        if key in owners:
            first = owners[key] or "one output"
            raise OutputError(
                f"{label or 'another output'} and {first} both name {str(path)!r}; give each its own file"
            )
        owners[key] = label
    for path, label in dirs:
        check_output_dir(path, label)
    for path, label in outs:
        check_output_file(path, label)
    for path, label in figs:
        check_figure_path(path, label)
    locked_dirs = {p.absolute() for p, _ in dirs}
    locks: list[OutputLock] = []
    removed: list[Path] = []
    made: list[Path] = []  # output folders (and folders above them) that this call creates, deepest first
    try:
        for path, label in dirs:
            absolute = path.absolute()
            new = [p for p in (absolute, *absolute.parents) if not p.exists()]
            locks.append(OutputLock(path, folder=True, label=label).acquire())
            made = new + made
            removed += clean_stale_temporaries(path)
        seen: set[Path] = set()
        for path, label in outs + figs:
            key = path.absolute()
            if key in seen:
                continue
            seen.add(key)
            if key.parent not in locked_dirs:
                locks.append(OutputLock(path, folder=False, label=label).acquire())
            removed += clean_stale_temporaries(path.parent)
        yield removed
    except BaseException:
        # A command refused (or stopped) before it wrote anything leaves no trace: the folders made for it
        # go again when they hold nothing but the lock file.
        remove_unused_folders(made)
        raise
    finally:
        for lock in reversed(locks):
            lock.release()


def remove_unused_folders(folders: list[Path]) -> None:
    """Remove each of ``folders`` (deepest first) that is empty or holds nothing but gnnhw's lock file; stop at the
    first that holds more (its parents then hold it). For folders a command made and then wrote nothing into."""
    for folder in folders:
        try:
            entries = [e.name for e in folder.iterdir()]
            if entries and entries != [LOCK_NAME]:
                return
            if entries:
                (folder / LOCK_NAME).unlink()
            folder.rmdir()
        except OSError:
            return
