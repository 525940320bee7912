"""Small shared helpers: atomic file writes, device choice, data root, seeding."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import random
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from gnnhw.errors import ConfigError, OutputError

if TYPE_CHECKING:  # torch is imported where it is used, so that the CLI answers bad options without it
    import torch

DATA_ENV = "GNNHW_DATA"
_REPO_DATASETS = Path(__file__).resolve().parent.parent / "datasets"


#: Marks the temporary files of :func:`atomic_path`: ``.<name>.<pid>.<random>.gnnhw-tmp<suffix>``, so
#: :func:`gnnhw.runs.clean_stale_temporaries` can tell its own leftovers (of a killed process) from other files.
TEMP_MARK = ".gnnhw-tmp"
TEMP_PATTERN = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]+" + re.escape(TEMP_MARK) + r"(\.[^.]*)?$")


def describe_os_error(err: OSError) -> str:
    """The cause of an ``OSError`` in a few words: ``No space left on device (ENOSPC)``."""
    name = errno.errorcode.get(err.errno or 0)
    reason = err.strerror or str(err) or type(err).__name__
    return f"{reason} ({name})" if name else reason


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary file is named ``.<name>.<pid>.<random>.gnnhw-tmp<suffix>`` (so it keeps ``path``'s
    suffix, and a later run can recognise and remove it if this process is killed). A reader never sees
    a half-written file, and an existing file is left untouched when writing fails.

    Raises:
        OutputError: the folder cannot be created or written, or renaming fails; the message names the
            path and the cause (e.g. ``No space left on device (ENOSPC)``). Also when ``path`` is a device,
            a FIFO or a socket (renaming onto it would replace the device node); a symlink is followed.
    """
    path = Path(path)
    if path.is_symlink() and path.exists():  # write the file the link points to (renaming onto the link would
        path = Path(os.path.realpath(path))  # replace it); a dangling link is replaced, no folder is made for it
    special = special_file_kind(path)
    if special is not None:  # a rename onto /dev/full or a FIFO would replace the device node with a regular file
        raise OutputError(f"cannot write {str(path)!r}: it is {special}, not a regular file; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_MARK + path.suffix, dir=path.parent
        )
        os.close(fd)
    except OSError as err:
        raise OutputError(f"cannot write {str(path)!r}: {describe_os_error(err)}") from None
    tmp_path = Path(tmp)
    try:
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the final file the usual mode
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as err:
        raise OutputError(
            f"cannot write {str(path)!r}: {describe_os_error(err)}; any previous version of it is kept"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)


def special_file_kind(path: str | os.PathLike) -> str | None:
    """``"a character device"``, ``"a FIFO (named pipe)"``, ... when ``path`` (after symlinks) exists and is
    neither a regular file nor a folder; ``None`` otherwise (also when it does not exist)."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    for test, name in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` and flush it to the disk (``OSError`` on a full disk)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename).

    Raises:
        OutputError: the file cannot be written (the message names the path and the cause); an existing
            file at ``path`` is then left as it was.
    """
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8; temp file + rename); :class:`OutputError` if it fails."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_torch_save(obj: object, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` atomically; :class:`OutputError` if it fails.

    The object is serialized in memory first, so a full disk is reported as ``No space left on device``
    (torch's own writer reports it as an obscure ``inline_container.cc`` error) and never leaves a
    half-written file behind.
    """
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def check_device_name(device: str) -> None:
    """ConfigError unless ``device`` is ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (torch-free: whether
    CUDA is there is :func:`resolve_device`'s business)."""
    if device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit()):
        return
    raise ConfigError(f"unknown device {device!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N' (N a GPU index)")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` (or ``"cuda:N"``) into a :class:`torch.device`.

    ``"auto"`` picks CUDA when it is available, else the CPU.
    """
    import torch

    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} was asked for but CUDA is not available; use --device cpu or auto")
        return torch.device(device)
    raise ConfigError(f"unknown device {device!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N' (N a GPU index)")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root`` if given, else ``$GNNHW_DATA``, else the project's ``datasets/`` folder."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return _REPO_DATASETS if _REPO_DATASETS.is_dir() else Path("datasets")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, torch's (and CUDA's) global RNGs; return a CPU generator seeded the same way."""
    import torch

    random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def plural(count: int, word: str) -> str:
    """``1 seed``, ``5 seeds``: a count with its noun, singular only for one (regular plurals only).

    >>> plural(1, "layer"), plural(16, "layer"), plural(0, "node")
    ('1 layer', '16 layers', '0 nodes')
    """
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
