"""Planetoid citation graphs (Cora, CiteSeer, PubMed) with the public split of Yang et al. (2016).

:func:`load_planetoid` reads the raw files ``<data root>/planetoid/<Name>/raw/ind.<name>.{x,tx,allx,y,ty,ally,
graph,test.index}``, where the data root is the ``root`` argument, else ``$GNNHW_DATA``, else the project's
``datasets/``.

**Provenance.** The 24 raw files are fixed, published files (the ``data/`` folder of
https://github.com/kimiyoung/planetoid, Yang, Cohen & Salakhutdinov, ICML 2016). Their SHA-256 digests are
in :data:`RAW_SHA256`, and every file is checked against its digest *before* anything reads it; a file that
differs raises :class:`~gnnhw.errors.DataIntegrityError` (one line: the file, expected and actual digest, where
to get the original). ``trust_raw_data=True`` (CLI: ``--trust-raw-data``) admits other files on purpose.

**Reading.** Seven of the files are Python 2 pickles. They are read by a *restricted* unpickler that resolves
only the few globals the format needs (``numpy.ndarray``, ``numpy.dtype``, numpy's array reconstructor,
``collections.defaultdict``, ``list``, and ``scipy.sparse.csr_matrix``, which is rebuilt from its arrays by
scipy's checked constructor); any other global, e.g. one whose ``__reduce__`` would run code, is refused
before it is called. The unpickled objects are then checked (types, shapes, finiteness, node ids in range,
the memory the dense features need) and assembled exactly as PyG's ``read_planetoid_data`` does (a test
compares the two on the genuine files).

**Cache.** The assembled tensors go to ``$XDG_CACHE_HOME/gnnhw/planetoid/<Name>-<key>/processed/data.pt``
(default ``~/.cache/gnnhw``; a temporary folder when that is not writable), where ``key`` is derived from the
raw files' digests: changed raw files never give cached numbers of other files. gnnhw never writes beside
the raw files (the data root may be read-only). When the raw files are missing they are downloaded from the
Planetoid repository into the data root (and then checked like any other); without a network (or with a
read-only root) :class:`~gnnhw.errors.DataNotFoundError` says which files are expected, where, and where
they come from.

**Preparation.** :func:`prepare_graph` turns a loaded data set into a :class:`FullBatchGraph` for training:
row-normalized (optionally sparse) features and Â computed once, or ``edge_index`` for the reference layers.

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

import collections
import hashlib
import io
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.io import fs
from torch_geometric.io.planetoid import edge_index_from_dict
from torch_geometric.utils import index_to_mask

from gnnhw._utils import atomic_torch_save, data_root
from gnnhw.checks import format_bytes, machine_memory
from gnnhw.errors import DataIntegrityError, DataNotFoundError, OutputError
from gnnhw.graph.config import PLANETOID_NAMES as PLANETOID_NAMES  # re-exported
from gnnhw.graph.config import canonical_name
from gnnhw.runs import remove_unused_folders

if TYPE_CHECKING:
    from gnnhw.graph.config import TrainConfig

PLANETOID_URL = "https://github.com/kimiyoung/planetoid/raw/master/data"  # PyG's Planetoid.url
_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
_PROCESSED_FORMAT = "gnnhw.planetoid.processed/1"

# SHA-256 of the published raw files (kimiyoung/planetoid, data/), computed from the project's copies.
# The same 24 digests appear in two independent public projects that pin them to kimiyoung/planetoid commit
# af6abf468a772cc055bec88c52e4d6f51b7c37e3; sizes in bytes are in the comments.
RAW_SHA256: dict[str, dict[str, str]] = {
    "Cora": {
        "x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",  # 22119
        "tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",  # 148025
        "allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",  # 257305
        "y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",  # 4054
        "ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",  # 28135
        "ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",  # 47959
        "graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",  # 59847
        "test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",  # 5000
    },
    "CiteSeer": {
        "x": "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6",  # 31087
        "tx": "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21",  # 260321
        "allx": "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668",  # 595021
        "y": "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924",  # 3014
        "ty": "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce",  # 24135
        "ally": "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95",  # 55623
        "graph": "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7",  # 61987
        "test.index": "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4",  # 5000
    },
    "PubMed": {
        "x": "fbe9cb5c47200d1b7769a26e579be3b7130b556831f9d850e77c4c74f2599b33",  # 23172
        "tx": "4eb5f5d0f30f26497eb0ac6ac9719d09c67e284f1ed0385c93f3ef27a671da3d",  # 405505
        "allx": "508e538e2abdccdd54c4d3e9f49d638b4af7107d85845f66ddea5a5152658b7e",  # 7578385
        "y": "e6c807633307a07ed659249006536a147c7999c797f11a2560752990181b41b3",  # 854
        "ty": "ee2e0d4819d9fbcc403689c3bf2e49face401b605932f093bc58ab6461130fdd",  # 12135
        "ally": "0c37bbe3b5014ec365e9d393cf4791925e5ed94fb194305d74f064a8d7b50f0e",  # 224739
        "graph": "5b89f0036ca22909471f1e6558eb42fa06e0c730a577bde5b058b40638f81dc9",  # 471808
        "test.index": "b101d421688bbaecbd82e8a18f1e282378d6830f3a37666f28ebc47f844341b5",  # 6000
    },
}


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


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def raw_digests(name: str, raw: str | os.PathLike) -> dict[str, str]:
    """``{suffix: SHA-256}`` of the eight raw files of ``name`` in the folder ``raw``."""
    name = canonical_name(name)
    return {s: file_sha256(Path(raw) / f"ind.{name.lower()}.{s}") for s in _SUFFIXES}


def check_raw_digests(name: str, raw: str | os.PathLike, digests: dict[str, str] | None = None) -> None:
    """Raise :class:`DataIntegrityError` naming the first raw file whose digest is not the published one.

    Nothing is unpickled here: the check reads bytes only.
    """
    name = canonical_name(name)
    digests = digests if digests is not None else raw_digests(name, raw)
    for suffix in _SUFFIXES:
        expected, actual = RAW_SHA256[name][suffix], digests[suffix]
        if actual != expected:
            file = f"ind.{name.lower()}.{suffix}"
            raise DataIntegrityError(
                f"raw file {Path(raw) / file} is not the published {name} file: SHA-256 {actual}, expected "
                f"{expected}; replace it with the original from {PLANETOID_URL}/{file} (or, to use other "
                f"files on purpose, pass --trust-raw-data / trust_raw_data=True)"
            )


# ---------------------------------------------------------------------------------------------------------
# Restricted unpickling of the Planetoid format
# ---------------------------------------------------------------------------------------------------------


class _CsrState:
    """Stand-in for ``scipy.sparse.csr_matrix`` while unpickling: it only collects the pickled attributes.

    The real matrix is then built by scipy's checked constructor from the ``data``, ``indices``, ``indptr``
    arrays and the ``_shape``, so no scipy code runs on attributes chosen by the file.
    """

    def __init__(self) -> None:
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's _reconstruct (numpy.core or numpy._core)

# (module, name) as written in the files (Python 2 names included) -> the object it resolves to.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("scipy.sparse.csr", "csr_matrix"): _CsrState,
    ("scipy.sparse._csr", "csr_matrix"): _CsrState,
    ("scipy.sparse", "csr_matrix"): _CsrState,
    ("collections", "defaultdict"): collections.defaultdict,
    ("__builtin__", "list"): list,
    ("builtins", "list"): list,
}


class _RefusedGlobal(pickle.UnpicklingError):
    pass


class RestrictedUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` that resolves only the globals of the Planetoid format.

    Any other global (``os.system``, ``builtins.eval``, a class whose ``__reduce__`` runs code, ...) raises
    before it is looked up, so it can never be called. Persistent ids and out-of-band buffers are refused by
    :class:`pickle.Unpickler` itself.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except (KeyError, TypeError):
            raise _RefusedGlobal(
                f"refused to load global {module}.{name} (the Planetoid format needs only numpy arrays, "
                f"scipy CSR matrices, lists and defaultdicts)"
            ) from None


def restricted_load(data: bytes) -> Any:
    """Unpickle ``data`` (Python 2 pickles: ``encoding="latin1"``) with :class:`RestrictedUnpickler`."""
    return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()


class _Reader:
    """Reads and checks the eight files of one data set; every error names the file and what is wrong."""

    def __init__(self, name: str, raw: Path, contents: dict[str, bytes]) -> None:
        self.name, self.raw, self.contents = name, raw, contents

    def fail(self, suffix: str, problem: str) -> DataIntegrityError:
        file = self.raw / f"ind.{self.name.lower()}.{suffix}"
        return DataIntegrityError(
            f"could not read {self.name} from {self.raw}: {file.name}: {problem}; replace the raw files with "
            f"fresh copies from {PLANETOID_URL}/"
        )

    def unpickle(self, suffix: str) -> Any:
        try:
            return restricted_load(self.contents[suffix])
        except _RefusedGlobal as err:
            raise self.fail(suffix, str(err)) from None
        except Exception as err:  # truncated or malformed pickle, bad array state, ...
            reason = f"{type(err).__name__}: {str(err).splitlines()[0]}" if str(err) else type(err).__name__
            raise self.fail(suffix, f"not a readable pickle ({reason})") from None

    def matrix(self, suffix: str) -> np.ndarray | Any:
        """A feature matrix: a CSR matrix (rebuilt by scipy) or a 2-D numeric ndarray, finite."""
        import scipy.sparse as sp

        obj = self.unpickle(suffix)
        if isinstance(obj, _CsrState):
            state = obj.state
            if not isinstance(state, dict):
                raise self.fail(suffix, "CSR matrix without its attributes")
            found = [state.get(k) for k in ("data", "indices", "indptr")]
            shape = state.get("_shape", state.get("shape"))
            parts: list[np.ndarray] = [
                a for a in found if isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype.kind in "biuf"
            ]
            if len(parts) != len(found):
                raise self.fail(suffix, "CSR matrix whose data/indices/indptr are not 1-D numeric arrays")
            if not (
                isinstance(shape, tuple)
                and len(shape) == 2
                and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
            ):
                raise self.fail(suffix, f"CSR matrix with shape {shape!r}, expected two non-negative integers")
            if parts[1].dtype.kind not in "iu" or parts[2].dtype.kind not in "iu":
                raise self.fail(suffix, "CSR matrix with non-integer indices")
            try:
                matrix = sp.csr_matrix(tuple(parts), shape=shape)
                matrix.check_format(full_check=True)
            except Exception as err:
                raise self.fail(suffix, f"inconsistent CSR matrix ({str(err).splitlines()[0]})") from None
            values = matrix.data
        elif isinstance(obj, np.ndarray):
            if obj.ndim != 2 or obj.dtype.kind not in "biuf":
                raise self.fail(suffix, f"array of shape {obj.shape} and dtype {obj.dtype}, expected 2-D numeric")
            matrix = values = obj
        else:
            raise self.fail(suffix, f"holds a {type(obj).__name__}, expected a CSR matrix or a 2-D array")
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise self.fail(suffix, "non-finite (NaN or infinite) values")
        return matrix

    def labels(self, suffix: str, rows: int) -> np.ndarray:
        """One-hot labels: a 2-D numeric ndarray with ``rows`` rows and at least one class column."""
        obj = self.unpickle(suffix)
        if not isinstance(obj, np.ndarray) or obj.ndim != 2 or obj.dtype.kind not in "biuf":
            kind = f"array of shape {obj.shape}" if isinstance(obj, np.ndarray) else type(obj).__name__
            raise self.fail(suffix, f"holds a {kind}, expected a 2-D numeric array of one-hot labels")
        if obj.shape[0] != rows or obj.shape[1] < 1:
            raise self.fail(suffix, f"labels of shape {obj.shape}, expected ({rows}, classes)")
        if obj.dtype.kind == "f" and not np.isfinite(obj).all():
            raise self.fail(suffix, "non-finite (NaN or infinite) labels")
        return obj

    def graph(self, num_nodes: int) -> dict[int, list[int]]:
        obj = self.unpickle("graph")
        if not isinstance(obj, dict):
            raise self.fail("graph", f"holds a {type(obj).__name__}, expected a dict of adjacency lists")
        for node, neighbours in obj.items():
            if type(node) is not int or not 0 <= node < num_nodes:
                raise self.fail("graph", f"node id {node!r} is not an integer in [0, {num_nodes})")
            if not isinstance(neighbours, list):
                raise self.fail("graph", f"node {node}: neighbours are a {type(neighbours).__name__}, expected a list")
            for other in neighbours:
                if type(other) is not int or not 0 <= other < num_nodes:
                    raise self.fail("graph", f"node {node}: neighbour {other!r} is not an integer in [0, {num_nodes})")
        return obj

    def test_index(self) -> np.ndarray:
        try:
            lines = self.contents["test.index"].decode("ascii").split("\n")[:-1]  # as PyG's read_txt_array
            ids = np.array([int(line) for line in lines], dtype=np.int64)
        except (UnicodeDecodeError, ValueError, OverflowError) as err:
            raise self.fail("test.index", f"expected one integer per line ({type(err).__name__})") from None
        if ids.size == 0:
            raise self.fail("test.index", "no test node ids")
        if len(np.unique(ids)) != ids.size:
            raise self.fail("test.index", "repeated test node ids")
        return ids


def _read_raw(name: str, raw: Path, contents: dict[str, bytes]) -> Data:
    """The eight files' bytes -> :class:`Data`, assembled as PyG's ``read_planetoid_data`` does (public split)."""
    read = _Reader(name, raw, contents)
    x, tx, allx = read.matrix("x"), read.matrix("tx"), read.matrix("allx")
    features = {x.shape[1], tx.shape[1], allx.shape[1]}
    if len(features) != 1:
        raise read.fail("tx", f"x, tx and allx have {x.shape[1]}, {tx.shape[1]} and {allx.shape[1]} columns")
    num_features = features.pop()
    test_index = read.test_index()
    if test_index.size != tx.shape[0]:
        raise read.fail("test.index", f"{test_index.size} test ids for {tx.shape[0]} rows of tx")
    lo, hi = int(test_index.min()), int(test_index.max())
    if lo < 0:
        raise read.fail("test.index", f"negative node id {lo}")
    # CiteSeer has isolated test nodes missing from tx/ty: PyG pads the test block to max - min + 1 rows.
    test_rows = hi - lo + 1 if name == "CiteSeer" else tx.shape[0]
    num_nodes = allx.shape[0] + test_rows
    needed = 2 * num_nodes * num_features * 4  # dense float32 features, plus one copy while assembling
    if needed > machine_memory():
        raise read.fail(
            "allx",
            f"{num_nodes} nodes x {num_features} features need about {format_bytes(needed)} as dense features, "
            f"more than this machine's {format_bytes(machine_memory())}",
        )
    if hi >= num_nodes:
        raise read.fail("test.index", f"node id {hi} is out of range for {num_nodes} nodes")
    if x.shape[0] + 500 > num_nodes:
        raise read.fail("x", f"{x.shape[0]} training + 500 validation nodes exceed the {num_nodes} nodes")
    y, ty, ally = read.labels("y", x.shape[0]), read.labels("ty", tx.shape[0]), read.labels("ally", allx.shape[0])
    if len({y.shape[1], ty.shape[1], ally.shape[1]}) != 1:
        raise read.fail("ty", f"y, ty and ally have {y.shape[1]}, {ty.shape[1]} and {ally.shape[1]} class columns")
    graph = read.graph(num_nodes)

    def dense(m: Any) -> torch.Tensor:
        return torch.from_numpy(np.asarray(m.toarray() if hasattr(m, "toarray") else m)).to(torch.float)

    tx_t, ty_t = dense(tx), torch.from_numpy(np.asarray(ty)).to(torch.float)
    test = torch.from_numpy(test_index)
    sorted_test = test.sort()[0]
    if name == "CiteSeer":
        tx_ext = torch.zeros(test_rows, num_features)
        tx_ext[sorted_test - lo] = tx_t
        ty_ext = torch.zeros(test_rows, ty_t.size(1))
        ty_ext[sorted_test - lo] = ty_t
        tx_t, ty_t = tx_ext, ty_ext
    x_all = torch.cat([dense(allx), tx_t], dim=0)
    x_all[test] = x_all[sorted_test]
    labels = torch.cat([torch.from_numpy(np.asarray(ally)).to(torch.float), ty_t], dim=0).max(dim=1)[1]
    labels[test] = labels[sorted_test]
    data = Data(x=x_all, edge_index=edge_index_from_dict(graph, num_nodes=num_nodes), y=labels)
    data.train_mask = index_to_mask(torch.arange(y.shape[0]), size=num_nodes)
    data.val_mask = index_to_mask(torch.arange(y.shape[0], y.shape[0] + 500), size=num_nodes)
    data.test_mask = index_to_mask(test, size=num_nodes)
    return data


# ---------------------------------------------------------------------------------------------------------
# Processed cache, keyed on the raw files' digests
# ---------------------------------------------------------------------------------------------------------

_TENSORS = {
    "x": torch.float,
    "edge_index": torch.long,
    "y": torch.long,
    "train_mask": torch.bool,
    "val_mask": torch.bool,
    "test_mask": torch.bool,
}


def _cache_key(name: str, digests: dict[str, str]) -> str:
    text = "\n".join([name, *(f"{s} {digests[s]}" for s in _SUFFIXES)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cache_folder(name: str, digests: dict[str, str], cache: Path | None) -> Path:
    """A writable folder for the processed file, keyed by the raw files' digests (never by their path)."""
    folder = (cache if cache is not None else cache_dir()) / "planetoid" / f"{name}-{_cache_key(name, digests)}"
    try:
        (folder / "processed").mkdir(parents=True, exist_ok=True)
        probe = folder / "processed" / f".probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError:
        folder = Path(tempfile.mkdtemp(prefix=f"gnnhw-planetoid-{name}-"))
        (folder / "processed").mkdir()
    return folder


def _read_cache(path: Path, name: str, digests: dict[str, str]) -> Data | None:
    """The cached :class:`Data` if ``path`` holds a sound one for exactly these raw files, else ``None``."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # missing, half-written, foreign: rebuild
        return None
    if not (
        isinstance(blob, dict)
        and blob.get("format") == _PROCESSED_FORMAT
        and blob.get("name") == name
        and blob.get("raw_sha256") == digests
    ):
        return None
    found = {k: blob.get(k) for k in _TENSORS}
    tensors: dict[str, torch.Tensor] = {
        k: t for k, t in found.items() if isinstance(t, torch.Tensor) and t.dtype == _TENSORS[k]
    }
    if len(tensors) != len(_TENSORS):  # a tensor missing, not a tensor, or of another dtype
        return None
    n = tensors["y"].size(0) if tensors["y"].dim() == 1 else -1
    edge_index = tensors["edge_index"]
    if (
        n < 1
        or tensors["x"].dim() != 2
        or tensors["x"].size(0) != n
        or not torch.isfinite(tensors["x"]).all()
        or any(tensors[m].shape != (n,) for m in ("train_mask", "val_mask", "test_mask"))
        or edge_index.dim() != 2
        or edge_index.size(0) != 2
        or (edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= n))
    ):
        return None
    data = Data(x=tensors["x"], edge_index=edge_index, y=tensors["y"])
    for m in ("train_mask", "val_mask", "test_mask"):
        data[m] = tensors[m]
    return data


def _missing_message(name: str, raw: Path, missing: list[str], reason: str) -> str:
    return (
        f"{name} data not found: expected {', '.join(missing)} in {raw} ({reason}); "
        f"{_found_elsewhere(name, raw, missing)}"
        f"download them from {PLANETOID_URL}/ into that folder, or point --data-root / $GNNHW_DATA "
        f"at a folder holding planetoid/{name}/raw/"
    )


def _found_elsewhere(name: str, raw: Path, missing: list[str]) -> str:
    """A hint when the files lie below the given root instead (``--data-root`` one level too deep)."""
    root = raw.parents[2]  # raw = <root>/planetoid/<Name>/raw
    for folder in (root / name / "raw", root / "raw", root):
        if all((folder / f).is_file() for f in missing):
            if folder.name == "raw" and folder.parent.name == name and folder.parents[1].name == "planetoid":
                return f"they are in {folder}: use --data-root {folder.parents[2]} (the folder holding planetoid/); "
            return f"they are in {folder}: move them to {raw}; "
    return ""


def load_planetoid(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    download: bool = True,
    cache: str | os.PathLike | None = None,
    trust_raw_data: bool = False,
) -> Data:
    """Load Cora, CiteSeer or PubMed (name case-insensitive) with the public Planetoid split.

    Args:
        name: ``"Cora"``, ``"CiteSeer"`` or ``"PubMed"``.
        root: data root (default: ``$GNNHW_DATA``, else the project's ``datasets/``); the raw files are
            read from ``<root>/planetoid/<Name>/raw/``.
        download: fetch missing raw files from the Planetoid repository into that folder.
        cache: folder for the processed file (default :func:`cache_dir`).
        trust_raw_data: also accept raw files whose SHA-256 is not the published one (:data:`RAW_SHA256`);
            they are still read with the restricted unpickler and checked.

    Returns:
        a :class:`~torch_geometric.data.Data` with raw (not yet row-normalized) features, plus
        ``name`` and ``num_classes``.

    Shapes:
        ``x``: (N, F) float; ``edge_index``: (2, E) long; ``y``: (N,) long;
        ``train_mask``, ``val_mask``, ``test_mask``: (N,) bool.

    Raises:
        ConfigError: ``name`` is not a Planetoid data set.
        DataNotFoundError: raw files missing and not downloadable (one line: which files, where, from where).
        DataIntegrityError: a raw file is not the published one (without ``trust_raw_data``), or its
            contents are not a valid Planetoid file (a disallowed pickle global, wrong shapes, NaN, ...).
    """
    name = canonical_name(name)
    raw = raw_dir(name, root)
    missing = [f for f in raw_file_names(name) if not (raw / f).is_file()]
    if missing:
        if not download:
            raise DataNotFoundError(_missing_message(name, raw, missing, "download=False"))
        created = [folder for folder in (raw, *raw.parents) if not folder.exists()]  # deepest first
        try:
            raw.mkdir(parents=True, exist_ok=True)
            for file in missing:
                fs.cp(f"{PLANETOID_URL}/{file}", str(raw))  # PyG's own downloader (fsspec)
        except Exception as err:  # no network, read-only root, HTTP error: all mean "not available"
            remove_unused_folders(created)  # a mistyped --data-root must not leave planetoid/<Name>/raw/ behind
            reason = f"download failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            raise DataNotFoundError(_missing_message(name, raw, missing, reason.rstrip(": "))) from None
    try:  # read once: the bytes that are hashed are the bytes that are parsed (no swap in between)
        contents = {s: (raw / f"ind.{name.lower()}.{s}").read_bytes() for s in _SUFFIXES}
    except OSError as err:
        raise DataNotFoundError(
            f"could not read {name} from {raw}: {type(err).__name__}: {err.strerror or err}; "
            f"replace the raw files with fresh copies from {PLANETOID_URL}/"
        ) from None
    digests = {s: hashlib.sha256(body).hexdigest() for s, body in contents.items()}
    if not trust_raw_data:
        check_raw_digests(name, raw, digests)  # before anything unpickles them
    folder = _cache_folder(name, digests, Path(cache) if cache is not None else None)
    processed = folder / "processed" / "data.pt"
    data = _read_cache(processed, name, digests)
    if data is None:
        data = _read_raw(name, raw, contents)
        blob = {"format": _PROCESSED_FORMAT, "name": name, "raw_sha256": digests}
        blob.update({k: data[k] for k in _TENSORS})
        try:
            atomic_torch_save(blob, processed)  # temp file + rename: a concurrent reader never sees half a file
        except (OSError, OutputError):  # the cache vanished or filled up: the data is still good
            pass
    data.name = name
    data.num_classes = int(data.y.max()) + 1
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


@dataclass
class FullBatchGraph:
    """A Planetoid graph ready for full-batch node classification: features, the graph, labels and split masks.

    The graph is held in exactly one of two forms, each in the field named for it:

    - ``norm_adj``: the normalized adjacency Â = D̃^-1/2 Ã D̃^-1/2 (Ã = A + I; Kipf & Welling,
      https://arxiv.org/abs/1609.02907, eq. 2) as a sparse CSR ``(N, N)``, computed once (gnnhw's scratch layers);
    - ``edge_index``: the raw edges ``(2, E)``, which PyG's ``GCNConv`` normalizes itself (the reference path).

    :attr:`graph` is the one that is set, the second argument of :class:`~gnnhw.graph.models.GCN`'s ``forward``.

    Raises:
        ConfigError: both or neither of ``norm_adj`` and ``edge_index`` given.
    """

    x: torch.Tensor  # (N, F) float, dense or sparse COO
    y: torch.Tensor  # (N,) long class labels
    train_mask: torch.Tensor  # (N,) bool
    val_mask: torch.Tensor  # (N,) bool
    test_mask: torch.Tensor  # (N,) bool
    num_classes: int
    norm_adj: torch.Tensor | None = None  # Â, sparse CSR (N, N)
    edge_index: torch.Tensor | None = None  # (2, E) long

    def __post_init__(self) -> None:
        if (self.norm_adj is None) == (self.edge_index is None):
            from gnnhw.errors import ConfigError

            raise ConfigError("a FullBatchGraph holds exactly one of norm_adj and edge_index; give one of them")

    @property
    def graph(self) -> torch.Tensor:
        """``norm_adj`` when set, else ``edge_index``: what a :class:`~gnnhw.graph.models.GCN` takes."""
        graph = self.norm_adj if self.norm_adj is not None else self.edge_index
        assert graph is not None  # __post_init__: exactly one is set
        return graph


def num_classes_of(data: Data) -> int:
    """The number of classes of ``data``: its ``num_classes`` attribute, else ``max(y) + 1``."""
    return int(getattr(data, "num_classes", int(data.y.max()) + 1))


def prepare_graph(data: Data, config: TrainConfig, device: torch.device | str = "cpu") -> FullBatchGraph:
    """Row-normalize and (optionally) sparsify X, compute Â once for the scratch layers, move all to ``device``.

    ``config``'s ``normalize_features``, ``sparse_features`` and ``impl`` decide. The reference layers
    (``impl="reference"``) get dense features and ``edge_index``, and normalize the graph themselves.

    >>> from gnnhw.graph.config import TrainConfig
    >>> data = Data(x=torch.eye(3), edge_index=torch.tensor([[0, 1], [1, 0]]), y=torch.tensor([0, 1, 0]))
    >>> data.train_mask = data.val_mask = data.test_mask = torch.ones(3, dtype=torch.bool)
    >>> graph = prepare_graph(data, TrainConfig())
    >>> graph.norm_adj.layout, graph.edge_index, graph.num_classes
    (torch.sparse_csr, None, 2)
    """
    from gnnhw.graph.adjacency import normalized_adjacency

    device = torch.device(device)
    x = data.x.float()
    if config.normalize_features:
        x = row_normalize(x)
    scratch = config.impl == "scratch"
    if config.sparse_features and scratch:
        x = sparse_features(x)  # GCNConv's Linear needs dense features: the reference layers keep X dense
    if scratch:
        norm_adj = normalized_adjacency(data.edge_index, num_nodes=data.num_nodes, sparse=True).to(device)
        edge_index = None
    else:
        norm_adj, edge_index = None, data.edge_index.to(device)
    return FullBatchGraph(
        x=x.to(device),
        y=data.y.to(device),
        train_mask=data.train_mask.to(device),
        val_mask=data.val_mask.to(device),
        test_mask=data.test_mask.to(device),
        num_classes=num_classes_of(data),
        norm_adj=norm_adj,
        edge_index=edge_index,
    )
