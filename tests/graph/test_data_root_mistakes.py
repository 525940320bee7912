"""A mistyped data root: the error says where the files are, and nothing is created where they are not.

Pointing ``--data-root`` one level too deep (at ``.../planetoid`` or at ``.../planetoid/Cora/raw``) used to
answer only "not found" and leave an empty ``planetoid/<Name>/raw/`` tree inside that folder after the
failed download (even inside a read-only shared folder, for root).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gnnhw.errors import DataNotFoundError
from gnnhw.graph import data as data_module
from gnnhw.graph.data import load_planetoid, raw_file_names


@pytest.fixture
def no_network(monkeypatch):
    def fail(source: str, destination: str) -> None:
        raise OSError("Cannot connect to host github.com:443")

    monkeypatch.setattr(data_module.fs, "cp", fail)


def _fake_root(tmp_path: Path, name: str = "Cora") -> Path:
    """``<tmp>/data/planetoid/<name>/raw/`` holding (empty) files of the right names: only their names count."""
    raw = tmp_path / "data" / "planetoid" / name / "raw"
    raw.mkdir(parents=True)
    for file in raw_file_names(name):
        (raw / file).write_bytes(b"")
    return tmp_path / "data"


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("too_deep", ["planetoid", "planetoid/Cora/raw", "planetoid/Cora"])
def test_a_root_one_level_too_deep_is_named_with_the_right_one(tmp_path, no_network, too_deep):
    root = _fake_root(tmp_path)
    before = _tree(tmp_path)
    with pytest.raises(DataNotFoundError) as err:
        load_planetoid("Cora", root / too_deep)
    message = str(err.value)
    assert "\n" not in message
    assert f"use --data-root {root} (the folder holding planetoid/)" in message, message
    assert _tree(tmp_path) == before  # the failed download left no planetoid/Cora/raw/ in the wrong place


def test_a_missing_root_is_not_created(tmp_path, no_network):
    with pytest.raises(DataNotFoundError, match="download failed") as err:
        load_planetoid("CiteSeer", tmp_path / "typo" / "datasets")
    assert "they are in" not in str(err.value)  # no hint where there is nothing to find
    assert list(tmp_path.iterdir()) == []


def test_files_lying_loose_in_the_root_are_named_with_where_they_belong(tmp_path, no_network):
    loose = tmp_path / "loose"
    loose.mkdir()
    for file in raw_file_names("Cora"):
        (loose / file).write_bytes(b"")
    with pytest.raises(DataNotFoundError) as err:
        load_planetoid("Cora", loose)
    assert f"they are in {loose}: move them to {loose / 'planetoid' / 'Cora' / 'raw'}" in str(err.value)
    assert sorted(p.name for p in loose.iterdir()) == sorted(raw_file_names("Cora"))
