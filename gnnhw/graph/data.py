"""Planetoid citation graphs (Cora, CiteSeer, PubMed) with the public split of Yang et al. (2016).

:func:`load_planetoid` reads the raw files through PyG's :class:`~torch_geometric.datasets.Planetoid`.
They live at ``<data root>/planetoid/<Name>/raw/ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}``,
where the data root is the ``root`` argument, else ``$GNNHW_DATA``, else the project's ``datasets/``.

gnnhw never writes beside the raw files (the data root may be read-only): PyG's processed ``data.pt``
goes to a cache folder, ``$XDG_CACHE_HOME/gnnhw/planetoid`` (default ``~/.cache/gnnhw/planetoid``),
or to a temporary folder when the cache is not writable. When the raw files are missing they are
downloaded from the Planetoid repository into the data root; without a network (or with a read-only
root) :class:`~gnnhw.errors.DataNotFoundError` says which files are expected, where, and where they
come from.

Public split (all three sets are fixed by the raw files):

=========  =====  =====  ======== =======  =====  ====
name       nodes  edges  features classes  train  val / test
=========  =====  =====  ======== =======  =====  ====
Cora        2708  10556  1433     7        140    500 / 1000
CiteSeer    3327   9104  3703     6        120    500 / 1000
PubMed     19717  88648   500     3         60    500 / 1000
=========  =====  =====  ======== =======  =====  ====

(edges counted as directed pairs in ``edge_index``, both directions stored.)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import torch
from torch_geometric.data import Data
from torch_geometric.datasets import Planetoid
from torch_geometric.io import fs

from gnnhw._utils import data_root
from gnnhw.errors import ConfigError, DataNotFoundError

PLANETOID_NAMES: tuple[str, ...] = ("Cora", "CiteSeer", "PubMed")
PLANETOID_URL = Planetoid.url  # https://github.com/kimiyoung/planetoid/raw/master/data
_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


def canonical_name(name: str) -> str:
    """``"cora"`` -> ``"Cora"`` (case-insensitive); :class:`ConfigError` for a name that is not Planetoid's."""
    for known in PLANETOID_NAMES:
        if name.lower() == known.lower():
            return known
    raise ConfigError(f"unknown dataset {name!r}; expected one of {', '.join(PLANETOID_NAMES)}")


def raw_file_names(name: str) -> list[str]:
    """The eight raw files of a Planetoid data set, e.g. ``ind.cora.x``."""
    name = canonical_name(name)
    return [f"ind.{name.lower()}.{suffix}" for suffix in _SUFFIXES]


def raw_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """``<data root>/planetoid/<Name>/raw``: where the raw files of ``name`` are expected."""
    return data_root(root) / "planetoid" / canonical_name(name) / "raw"


def cache_dir() -> Path:
    """gnnhw's writable cache: ``$XDG_CACHE_HOME/gnnhw``, default ``~/.cache/gnnhw``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "gnnhw"


def _cache_folder(raw: Path, name: str, cache: Path | None) -> Path:
    """A writable folder for PyG's processed files, keyed by the raw folder (two roots never share one)."""
    key = hashlib.sha1(str(raw.resolve()).encode()).hexdigest()[:10]
    folder = (cache if cache is not None else cache_dir()) / "planetoid" / f"{name}-{key}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError:
        folder = Path(tempfile.mkdtemp(prefix=f"gnnhw-planetoid-{name}-"))
    return folder


def _read(name: str, raw: Path, folder: Path) -> Planetoid:
    """Read from ``folder/processed`` if it is there and sound; else process afresh and publish atomically.

    Processing happens in a private staging folder that is renamed to ``processed`` at the end, so a
    concurrent reader never sees a half-written file.
    """
    final = folder / "processed"
    if (final / "data.pt").is_file():
        try:
            return _Planetoid(name, raw, final)
        except Exception:  # a stale or damaged cache: process again below
            shutil.rmtree(final, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=".processed-", dir=folder))
    dataset = _Planetoid(name, raw, staging)
    try:
        os.rename(staging, final)  # atomic publish (replaces an empty folder)
    except OSError:  # another process published first: keep theirs
        shutil.rmtree(staging, ignore_errors=True)
    return dataset


class _Planetoid(Planetoid):
    """PyG's Planetoid with the raw and processed folders chosen separately, and no console output."""

    def __init__(self, name: str, raw: Path, processed: Path) -> None:
        self._raw_dir = str(raw)
        self._processed_dir = str(processed)
        super().__init__(root=str(processed.parent), name=name, split="public")

    @property
    def raw_dir(self) -> str:
        return self._raw_dir

    @property
    def processed_dir(self) -> str:
        return self._processed_dir

    @property
    def log(self) -> bool:  # the library never prints
        return False

    @log.setter
    def log(self, value: bool) -> None:
        pass


def _missing_message(name: str, raw: Path, missing: list[str], reason: str) -> str:
    return (
        f"{name} data not found: expected {', '.join(missing)} in {raw} ({reason}); "
        f"download them from {PLANETOID_URL}/ into that folder, or point --data-root / $GNNHW_DATA "
        f"at a folder holding planetoid/{name}/raw/"
    )


def load_planetoid(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    download: bool = True,
    cache: str | os.PathLike | None = None,
) -> Data:
    """Load Cora, CiteSeer or PubMed (name case-insensitive) with the public Planetoid split.

    Args:
        name: ``"Cora"``, ``"CiteSeer"`` or ``"PubMed"``.
        root: data root (default: ``$GNNHW_DATA``, else the project's ``datasets/``); the raw files are
            read from ``<root>/planetoid/<Name>/raw/``.
        download: fetch missing raw files from the Planetoid repository into that folder.
        cache: folder for PyG's processed file (default :func:`cache_dir`).

    Returns:
        a :class:`~torch_geometric.data.Data` with raw (not yet row-normalized) features, plus
        ``name`` and ``num_classes``.

    Shapes:
        ``x``: (N, F) float; ``edge_index``: (2, E) long; ``y``: (N,) long;
        ``train_mask``, ``val_mask``, ``test_mask``: (N,) bool.

    Raises:
        ConfigError: ``name`` is not a Planetoid data set.
        DataNotFoundError: raw files missing and not downloadable (one line: which files, where, from where).
    """
    name = canonical_name(name)
    raw = raw_dir(name, root)
    missing = [f for f in raw_file_names(name) if not (raw / f).is_file()]
    if missing:
        if not download:
            raise DataNotFoundError(_missing_message(name, raw, missing, "download=False"))
        try:
            raw.mkdir(parents=True, exist_ok=True)
            for file in missing:
                fs.cp(f"{PLANETOID_URL}/{file}", str(raw))  # PyG's own downloader (fsspec)
        except Exception as err:  # no network, read-only root, HTTP error: all mean "not available"
            reason = f"download failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            raise DataNotFoundError(_missing_message(name, raw, missing, reason.rstrip(": "))) from None
    folder = _cache_folder(raw, name, Path(cache) if cache is not None else None)
    try:
        dataset = _read(name, raw, folder)
    except Exception as err:  # unreadable / corrupt raw files
        raise DataNotFoundError(
            f"could not read {name} from {raw}: {type(err).__name__}: {err}; "
            f"replace the raw files with fresh copies from {PLANETOID_URL}/"
        ) from None
    data = dataset[0]
    data.name = name
    data.num_classes = int(dataset.num_classes)
    return data


def row_normalize(x: torch.Tensor) -> torch.Tensor:
    r"""Row-normalize non-negative features, :math:`X_{i:} \leftarrow X_{i:} / \max(1, \sum_j X_{ij})`.

    The same as PyG's ``NormalizeFeatures`` on Planetoid's 0/1 features (whose minimum is 0); rows
    that sum to zero stay zero.

    Shapes:
        ``x``: (N, F) -> (N, F)
    """
    x = x - x.min()  # NormalizeFeatures shifts the minimum to 0 first
    return x / x.sum(dim=-1, keepdim=True).clamp(min=1.0)  # X_i: / max(1, sum_j X_ij)


def sparse_features(x: torch.Tensor) -> torch.Tensor:
    """A dense (N, F) feature matrix as a coalesced torch sparse COO tensor (Cora's is 98.7% zeros)."""
    return x.to_sparse_coo().coalesce()
