"""Small shared helpers: atomic file writes, device choice, data root, seeding."""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from gnnhw.errors import ConfigError

if TYPE_CHECKING:  # torch is imported where it is used, so that the CLI answers bad options without it
    import torch

DATA_ENV = "GNNHW_DATA"
_REPO_DATASETS = Path(__file__).resolve().parent.parent / "datasets"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary file keeps ``path``'s suffix, so tools that infer a format from the extension
    (``matplotlib.savefig``) still work. A reader never sees a half-written file, and an existing
    file is left untouched when writing fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the final file the usual mode
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file + rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_torch_save(obj: object, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` atomically (temp file + rename)."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


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
    raise ConfigError(f"unknown device {device!r}; expected 'auto', 'cpu' or 'cuda'")


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
