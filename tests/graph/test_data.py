"""gnnhw.graph.data: Planetoid loading from a (read-only) data root, the cache, and clear errors."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.transforms import NormalizeFeatures

from gnnhw.errors import ConfigError, DataNotFoundError
from gnnhw.graph import data as data_module
from gnnhw.graph.data import (
    PLANETOID_NAMES,
    canonical_name,
    load_planetoid,
    raw_file_names,
    row_normalize,
    sparse_features,
)


def _copy_cora(planetoid_root: Path, tmp_path: Path) -> Path:
    """A private copy of the Cora raw files under ``tmp_path/root``; returns that root."""
    root = tmp_path / "root"
    shutil.copytree(planetoid_root / "planetoid" / "Cora" / "raw", root / "planetoid" / "Cora" / "raw")
    return root


def _listing(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*"))


def test_cora_has_the_public_split(planetoid_root: Path, tmp_path: Path) -> None:
    data = load_planetoid("Cora", planetoid_root, cache=tmp_path)
    assert data.x.shape == (2708, 1433)
    assert data.edge_index.shape == (2, 10556)
    assert data.num_classes == 7 and data.name == "Cora"
    assert (int(data.train_mask.sum()), int(data.val_mask.sum()), int(data.test_mask.sum())) == (140, 500, 1000)
    assert not (data.train_mask & data.val_mask).any() and not (data.val_mask & data.test_mask).any()
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
    assert torch.equal(first.x, second.x) and torch.equal(first.edge_index, second.edge_index)


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
    assert "\n" not in str(err.value) and "ind.cora.graph" in str(err.value)


def test_corrupt_raw_file_is_reported(planetoid_root: Path, tmp_path: Path) -> None:
    root = _copy_cora(planetoid_root, tmp_path)
    (root / "planetoid" / "Cora" / "raw" / "ind.cora.graph").write_bytes(b"not a pickle")
    with pytest.raises(DataNotFoundError, match="could not read Cora from"):
        load_planetoid("Cora", root, cache=tmp_path / "cache")


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
    assert sparse.is_sparse and sparse.is_coalesced() and sparse._nnz() == 2
    assert torch.equal(sparse.to_dense(), x)


def test_damaged_cache_is_rebuilt(planetoid_root: Path, tmp_path: Path) -> None:
    load_planetoid("Cora", planetoid_root, cache=tmp_path)
    (processed,) = (tmp_path / "planetoid").glob("Cora-*/processed/data.pt")
    processed.write_bytes(b"half-written")
    assert load_planetoid("Cora", planetoid_root, cache=tmp_path).num_nodes == 2708
    assert processed.stat().st_size > 1000  # rebuilt
