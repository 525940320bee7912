"""gnnhw.graph.data: Planetoid loading from a (read-only) data root, the cache, and clear errors."""

from __future__ import annotations

import hashlib
import pickle
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch_geometric.data import Data
from torch_geometric.transforms import NormalizeFeatures

from gnnhw.errors import ConfigError, DataIntegrityError, DataNotFoundError
from gnnhw.graph import data as data_module
from gnnhw.graph.data import (
    PLANETOID_NAMES,
    RAW_SHA256,
    canonical_name,
    check_raw_digests,
    load_planetoid,
    raw_dir,
    raw_file_names,
    restricted_load,
    row_normalize,
    sparse_features,
)


def _copy_cora(planetoid_root: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the Cora raw files under ``tmp_path/root``; returns that root."""
    root = tmp_path / "root"
    shutil.copytree(planetoid_root / "planetoid" / "Cora" / "raw", root / "planetoid" / "Cora" / "raw")
    for path in (root / "planetoid" / "Cora" / "raw").iterdir():
        path.chmod(path.stat().st_mode | stat.S_IWUSR)  # the shared originals are read-only
    return root


def _listing(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*"))


def test_cora_has_the_public_split(planetoid_root: Path, tmp_path: Path) -> None:
    data = load_planetoid("Cora", planetoid_root, cache=tmp_path)
    assert data.x.shape == (2708, 1433)
    assert data.edge_index.shape == (2, 10556)
    assert data.num_classes == 7
    assert data.name == "Cora"
    assert (int(data.train_mask.sum()), int(data.val_mask.sum()), int(data.test_mask.sum())) == (140, 500, 1000)
    assert not (data.train_mask & data.val_mask).any()
    assert not (data.val_mask & data.test_mask).any()
    assert data.train_mask[:140].all()  # the public split: the first 140 nodes are the labelled ones


def test_names_are_case_insensitive() -> None:
    assert [canonical_name(n) for n in ("cora", "CITESEER", "pubmed")] == list(PLANETOID_NAMES)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown dataset 'Coraa'; expected one of Cora, CiteSeer, PubMed"):
        load_planetoid("Coraa")


def test_read_only_root_is_never_written(planetoid_root: Path, tmp_path: Path) -> None:
    root = _copy_cora(planetoid_root, tmp_path)
    for path in [*root.rglob("*"), root]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    before = _listing(root)
    try:
        data = load_planetoid("cora", root, cache=tmp_path / "cache")
    finally:
        for path in [root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert data.num_nodes == 2708
    assert _listing(root) == before  # nothing written beside the raw files
    assert list((tmp_path / "cache" / "planetoid").glob("Cora-*/processed/data.pt"))


def test_processed_files_go_to_the_xdg_cache(planetoid_root: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = _copy_cora(planetoid_root, tmp_path)
    first = load_planetoid("Cora", root)
    assert list((tmp_path / "xdg" / "gnnhw" / "planetoid").glob("Cora-*/processed/data.pt"))
    second = load_planetoid("Cora", root)  # now read from the cache
    assert torch.equal(first.x, second.x)
    assert torch.equal(first.edge_index, second.edge_index)


def test_unwritable_cache_falls_back_to_a_temporary_folder(planetoid_root: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    data = load_planetoid("Cora", planetoid_root, cache=blocker)
    assert data.num_nodes == 2708


def test_missing_files_say_what_where_and_from_where(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as err:
        load_planetoid("CiteSeer", tmp_path, download=False)
    message = str(err.value)
    assert "\n" not in message
    assert all(name in message for name in raw_file_names("CiteSeer"))
    assert str(tmp_path / "planetoid" / "CiteSeer" / "raw") in message
    assert "https://github.com/kimiyoung/planetoid" in message


def test_failed_download_is_one_clear_line(tmp_path: Path, monkeypatch) -> None:
    def no_network(source: str, destination: str) -> None:
        raise OSError(f"Cannot connect to host github.com:443\n(more detail for {source})")

    monkeypatch.setattr(data_module.fs, "cp", no_network)
    with pytest.raises(DataNotFoundError, match=r"download failed: OSError: Cannot connect") as err:
        load_planetoid("Cora", tmp_path)
    assert "\n" not in str(err.value)
    assert "ind.cora.graph" in str(err.value)
    assert list(tmp_path.iterdir()) == []  # the folders made for the download are removed again
    with pytest.raises(DataNotFoundError):
        load_planetoid("Cora", tmp_path / "a" / "b")
    assert list(tmp_path.iterdir()) == []


def test_a_cache_that_cannot_be_written_is_skipped_not_an_error(
    planetoid_root: Path, tmp_path: Path, monkeypatch
) -> None:
    # atomic writes raise OutputError (not OSError): a full cache disk must not fail a run whose data is good
    def full(*args, **kwargs):
        raise data_module.OutputError("cannot write 'data.pt': No space left on device (ENOSPC)")

    monkeypatch.setattr(data_module, "atomic_torch_save", full)
    data = load_planetoid("Cora", planetoid_root, cache=tmp_path)
    assert data.num_nodes == 2708


def test_corrupt_raw_file_is_reported(planetoid_root: Path, tmp_path: Path) -> None:
    root = _copy_cora(planetoid_root, tmp_path)
    (root / "planetoid" / "Cora" / "raw" / "ind.cora.graph").write_bytes(b"not a pickle")
    with pytest.raises(DataNotFoundError, match="could not read Cora from"):  # past the digest check on purpose
        load_planetoid("Cora", root, cache=tmp_path / "cache", trust_raw_data=True)


def test_row_normalize_equals_pyg_normalize_features(planetoid_root: Path, tmp_path: Path) -> None:
    data = load_planetoid("Cora", planetoid_root, cache=tmp_path)
    expected = NormalizeFeatures()(Data(x=data.x.clone())).x
    assert torch.allclose(row_normalize(data.x), expected, atol=1e-7)
    assert torch.allclose(row_normalize(data.x).sum(dim=1), torch.ones(2708), atol=1e-5)  # no empty rows in Cora


def test_row_normalize_keeps_zero_rows_zero() -> None:
    x = torch.tensor([[1.0, 3.0], [0.0, 0.0]])
    assert torch.equal(row_normalize(x), torch.tensor([[0.25, 0.75], [0.0, 0.0]]))


def test_sparse_features_round_trip() -> None:
    x = torch.tensor([[0.0, 2.0, 0.0], [1.0, 0.0, 0.0]])
    sparse = sparse_features(x)
    assert sparse.is_sparse
    assert sparse.is_coalesced()
    assert sparse._nnz() == 2
    assert torch.equal(sparse.to_dense(), x)


def test_damaged_cache_is_rebuilt(planetoid_root: Path, tmp_path: Path) -> None:
    load_planetoid("Cora", planetoid_root, cache=tmp_path)
    (processed,) = (tmp_path / "planetoid").glob("Cora-*/processed/data.pt")
    processed.write_bytes(b"half-written")
    assert load_planetoid("Cora", planetoid_root, cache=tmp_path).num_nodes == 2708
    assert processed.stat().st_size > 1000  # rebuilt


# --- provenance: published digests, the restricted unpickler, the digest-keyed cache ---------------------------


class _WritesMarker:
    """A pickle payload that, if unpickled by plain :mod:`pickle`, creates ``marker`` (a harmless stand-in for code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _raw(root: Path) -> Path:
    return root / "planetoid" / "Cora" / "raw"


@pytest.mark.parametrize("name", PLANETOID_NAMES)
def test_shared_raw_files_have_the_published_digests(planetoid_root: Path, name: str) -> None:
    raw = raw_dir(name, planetoid_root)
    if not raw.is_dir():
        pytest.skip(f"no {raw}")
    assert sorted(RAW_SHA256[name]) == sorted(s.removeprefix(f"ind.{name.lower()}.") for s in raw_file_names(name))
    check_raw_digests(name, raw)  # raises on any difference


@pytest.mark.parametrize("suffix", ["x", "tx", "allx", "y", "ty", "ally", "graph", "test.index"])
def test_a_corrupted_raw_file_gets_one_digest_line(planetoid_root: Path, tmp_path: Path, suffix: str) -> None:
    root = _copy_cora(planetoid_root, tmp_path)
    path = _raw(root) / f"ind.cora.{suffix}"
    body = bytearray(path.read_bytes())
    body[len(body) // 2] ^= 0x01  # one flipped bit
    path.write_bytes(bytes(body))
    with pytest.raises(DataIntegrityError) as err:
        load_planetoid("Cora", root, cache=tmp_path / "cache")
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    assert hashlib.sha256(bytes(body)).hexdigest() in message
    assert RAW_SHA256["Cora"][suffix] in message
    assert f"https://github.com/kimiyoung/planetoid/raw/master/data/ind.cora.{suffix}" in message
    assert "--trust-raw-data" in message
    assert not (tmp_path / "cache").exists()  # refused before any processing


def test_the_marker_payload_does_run_under_plain_pickle(tmp_path: Path) -> None:
    """The payload of the next tests is live: plain pickle runs it (so their 'not run' can fail)."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_WritesMarker(marker), protocol=2)).close()
    assert marker.exists()


@pytest.mark.parametrize("trust", [False, True])
@pytest.mark.parametrize("suffix", ["x", "ally", "graph"])
def test_a_code_running_pickle_is_refused_without_running_it(
    planetoid_root: Path, tmp_path: Path, suffix: str, trust: bool
) -> None:
    root = _copy_cora(planetoid_root, tmp_path)
    marker = tmp_path / "ran"
    (_raw(root) / f"ind.cora.{suffix}").write_bytes(pickle.dumps(_WritesMarker(marker), protocol=2))
    with pytest.raises(DataIntegrityError) as err:
        load_planetoid("Cora", root, cache=tmp_path / "cache", trust_raw_data=trust)
    assert not marker.exists()
    message = str(err.value)
    assert "\n" not in message
    assert f"ind.cora.{suffix}" in message
    assert ("refused to load global io.open" in message) if trust else ("SHA-256" in message)


def test_a_payload_nested_in_a_valid_graph_is_refused(planetoid_root: Path, tmp_path: Path) -> None:
    root = _copy_cora(planetoid_root, tmp_path)
    marker = tmp_path / "ran"
    graph = restricted_load((_raw(root) / "ind.cora.graph").read_bytes())
    graph[5].append(_WritesMarker(marker))
    (_raw(root) / "ind.cora.graph").write_bytes(pickle.dumps(graph, protocol=2))
    with pytest.raises(DataIntegrityError, match="ind.cora.graph: refused to load global io.open"):
        load_planetoid("Cora", root, cache=tmp_path / "cache", trust_raw_data=True)
    assert not marker.exists()


@pytest.mark.parametrize("target", sorted(data_module._ALLOWED_GLOBALS))
def test_allowed_globals_cannot_be_given_attributes(target: tuple[str, str]) -> None:
    """BUILD on an allowed class itself (not an instance) must fail, never patch the class process-wide."""
    module, name = target
    payload = b"c" + f"{module}\n{name}\n".encode() + b"(N}(Vinjected\nI1\nutb."
    with pytest.raises(Exception):  # noqa: B017 - TypeError or AttributeError depending on the target
        restricted_load(payload)
    assert not hasattr(data_module._ALLOWED_GLOBALS[target], "injected")
    assert not hasattr(sp.csr_matrix, "injected")


def test_other_globals_are_refused_by_name() -> None:
    payload = b"cbuiltins\neval\n(V1 + 1\ntR."
    assert pickle.loads(payload) == 2  # a live payload under plain pickle
    with pytest.raises(pickle.UnpicklingError, match="refused to load global builtins.eval"):
        restricted_load(payload)


def test_changed_raw_files_never_give_cached_numbers(planetoid_root: Path, tmp_path: Path) -> None:
    root, cache = _copy_cora(planetoid_root, tmp_path), tmp_path / "cache"
    path = _raw(root) / "ind.cora.ally"
    original = path.read_bytes()
    first = load_planetoid("Cora", root, cache=cache)
    ally = restricted_load(original)
    old = int(ally[0].argmax())
    ally[0] = 0
    ally[0, (old + 1) % 7] = 1  # node 0 moves to another class
    path.write_bytes(pickle.dumps(ally, protocol=4))
    with pytest.raises(DataIntegrityError, match="ind.cora.ally is not the published Cora file"):
        load_planetoid("Cora", root, cache=cache)
    changed = load_planetoid("Cora", root, cache=cache, trust_raw_data=True)
    assert int(first.y[0]) == old
    assert int(changed.y[0]) == (old + 1) % 7
    assert torch.equal(changed.y[1:], first.y[1:])
    assert torch.equal(changed.x, first.x)
    assert len(list((cache / "planetoid").glob("Cora-*/processed/data.pt"))) == 2  # one entry per set of files
    path.write_bytes(original)
    assert torch.equal(load_planetoid("Cora", root, cache=cache).y, first.y)


def _csr_with_nan() -> sp.csr_matrix:
    m = sp.random(140, 1433, density=0.01, format="csr", dtype=np.float32, random_state=0)
    m.data[0] = np.nan
    return m


@pytest.mark.parametrize(
    ("suffix", "make", "problem"),
    [
        ("x", _csr_with_nan, "ind.cora.x: non-finite"),
        ("x", lambda: "a string", "ind.cora.x: holds a str, expected a CSR matrix"),
        ("ty", lambda: np.zeros((999, 7), np.int32), r"ind.cora.ty: labels of shape \(999, 7\), expected \(1000,"),
        ("graph", lambda: {0: [10**6]}, r"ind.cora.graph: node 0: neighbour 1000000 is not an integer in \[0, 2708\)"),
        ("graph", lambda: [1, 2], "ind.cora.graph: holds a list, expected a dict"),
        ("tx", lambda: sp.csr_matrix((1000, 1432), dtype=np.float32), "x, tx and allx have 1433, 1432 and 1433"),
    ],
)
def test_trusted_files_are_still_checked(planetoid_root: Path, tmp_path: Path, suffix: str, make, problem: str) -> None:
    root = _copy_cora(planetoid_root, tmp_path)
    (_raw(root) / f"ind.cora.{suffix}").write_bytes(pickle.dumps(make(), protocol=4))
    with pytest.raises(DataIntegrityError, match=problem) as err:
        load_planetoid("Cora", root, cache=tmp_path / "cache", trust_raw_data=True)
    assert "\n" not in str(err.value)


def test_trusted_test_index_must_be_integers(planetoid_root: Path, tmp_path: Path) -> None:
    root = _copy_cora(planetoid_root, tmp_path)
    (_raw(root) / "ind.cora.test.index").write_text("1708\nabc\n")
    with pytest.raises(DataIntegrityError, match="ind.cora.test.index: expected one integer per line"):
        load_planetoid("Cora", root, cache=tmp_path / "cache", trust_raw_data=True)


def test_trusted_files_too_large_for_memory_are_refused_before_allocating(planetoid_root: Path, tmp_path: Path) -> None:
    root = _copy_cora(planetoid_root, tmp_path)
    for suffix, rows in (("x", 140), ("tx", 1000), ("allx", 1708)):  # 10^11 empty feature columns
        matrix = sp.csr_matrix((rows, 10**11), dtype=np.float32)
        (_raw(root) / f"ind.cora.{suffix}").write_bytes(pickle.dumps(matrix, protocol=4))
    with pytest.raises(
        DataIntegrityError, match=r"2708 nodes x 100000000000 features need about [\d.]+ [GTP]iB as dense"
    ):
        load_planetoid("Cora", root, cache=tmp_path / "cache", trust_raw_data=True)


@pytest.mark.parametrize("name", ["Cora", "CiteSeer"])  # CiteSeer: PyG's padding of missing test nodes
def test_reader_equals_pygs_read_planetoid_data(planetoid_root: Path, tmp_path: Path, name: str) -> None:
    from torch_geometric.io.planetoid import read_planetoid_data

    raw = raw_dir(name, planetoid_root)
    if not raw.is_dir():
        pytest.skip(f"no {raw}")
    ours = load_planetoid(name, planetoid_root, cache=tmp_path)
    reference = read_planetoid_data(str(raw), name)  # plain pickle: fine on the digest-checked originals
    for key in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(ours[key], reference[key]), key


def test_a_file_swapped_after_the_digest_check_is_never_read(planetoid_root: Path, tmp_path: Path, monkeypatch) -> None:
    """The bytes that are hashed are the bytes that are parsed: swapping a file after the check changes nothing."""
    root = _copy_cora(planetoid_root, tmp_path)
    marker = tmp_path / "ran"
    original_read_raw = data_module._read_raw

    def swap_then_read(name, raw, contents):
        (raw / "ind.cora.x").write_bytes(pickle.dumps(_WritesMarker(marker), protocol=2))  # after the check
        return original_read_raw(name, raw, contents)

    monkeypatch.setattr(data_module, "_read_raw", swap_then_read)
    data = load_planetoid("Cora", root, cache=tmp_path / "cache")
    assert not marker.exists()
    assert data.x.shape == (2708, 1433)


# --- issue 11: data preparation lives here; the prepared graph names what it holds ------------------------------


def test_prepared_graph_holds_norm_adj_for_scratch_and_edge_index_for_reference(planetoid_root: Path) -> None:
    from gnnhw.graph.config import TrainConfig
    from gnnhw.graph.data import prepare_graph

    cora = load_planetoid("Cora", planetoid_root)
    scratch = prepare_graph(cora, TrainConfig(impl="scratch"))
    reference = prepare_graph(cora, TrainConfig(impl="reference"))
    assert scratch.edge_index is None
    assert scratch.norm_adj is not None
    assert scratch.norm_adj.layout == torch.sparse_csr
    assert scratch.graph is scratch.norm_adj
    assert reference.norm_adj is None
    assert reference.graph is reference.edge_index
    assert torch.equal(reference.edge_index, cora.edge_index)


@pytest.mark.parametrize("both", [False, True])
def test_full_batch_graph_holds_exactly_one_form_of_the_graph(both: bool) -> None:
    from gnnhw.graph.data import FullBatchGraph

    n = torch.zeros(2, dtype=torch.bool)
    graph = (
        {"norm_adj": torch.eye(2).to_sparse_csr(), "edge_index": torch.zeros(2, 0, dtype=torch.long)} if both else {}
    )
    with pytest.raises(ConfigError, match="exactly one of norm_adj and edge_index"):
        FullBatchGraph(torch.zeros(2, 1), torch.zeros(2, dtype=torch.long), n, n, n, 1, **graph)
