"""Smoke tests of `gnnhw train-gcn`, `gnnhw eval-gcn` and `gnnhw depth-study` (tiny sizes), and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gnnhw.cli import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_gcn_json_save_plot_and_eval(planetoid_root: Path, tmp_path: Path, capsys) -> None:
    ckpt, fig, full = tmp_path / "gcn.pt", tmp_path / "curves.png", tmp_path / "run.json"
    code, out, _ = _run(
        capsys, "train-gcn", "--dataset", "cora", "--seeds", "2", "--epochs", "3", "--format", "json", "--quiet",
        "--threads", "1", "--data-root", str(planetoid_root), "--save", str(ckpt), "--plot", str(fig),
        "--json", str(full),
    )  # fmt: skip
    assert code == 0
    payload = json.loads(out)
    assert list(payload)[:7] == [
        "dataset", "layer", "seeds", "test_acc_mean", "test_acc_std", "per_seed", "seconds_per_epoch",
    ]  # fmt: skip
    assert (payload["dataset"], payload["layer"], payload["seeds"]) == ("Cora", "scratch", 2)
    assert len(payload["per_seed"]) == 2 and all(0.0 <= a <= 1.0 for a in payload["per_seed"])
    assert 0.0 <= payload["test_acc_mean"] <= 1.0 and payload["seconds_per_epoch"] > 0
    assert fig.stat().st_size > 0 and len(json.loads(full.read_text())["runs"][0]["history"]["val_acc"]) == 3
    assert torch.load(ckpt, weights_only=True)["config"]["dataset"] == "Cora"

    code, out, _ = _run(capsys, "eval-gcn", str(ckpt), "--format", "json", "--data-root", str(planetoid_root))
    assert code == 0 and set(json.loads(out)) >= {"train_acc", "val_acc", "test_acc"}


def test_train_gcn_text_output_with_pyg_layer(planetoid_root: Path, capsys) -> None:
    code, out, _ = _run(
        capsys, "train-gcn", "--layer", "pyg", "--epochs", "2", "--quiet", "--data-root", str(planetoid_root)
    )
    assert code == 0 and "Cora, pyg layer, 1 seed(s), 2 epochs" in out and "test accuracy" in out


def test_depth_study_smoke(planetoid_root: Path, tmp_path: Path, capsys) -> None:
    code, out, _ = _run(
        capsys, "depth-study", "--depths", "1", "2", "--variants", "plain", "residual", "--seeds", "1",
        "--epochs", "2", "--hidden", "8", "--quiet", "--threads", "1", "--data-root", str(planetoid_root),
        "--plot", str(tmp_path / "depth.png"), "--json", str(tmp_path / "depth.json"),
    )  # fmt: skip
    assert code == 0 and "residual" in out
    rows = json.loads((tmp_path / "depth.json").read_text())["rows"]
    assert [(r["variant"], r["num_layers"]) for r in rows] == [
        ("plain", 1),
        ("plain", 2),
        ("residual", 1),
        ("residual", 2),
    ]
    assert (tmp_path / "depth.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train-gcn", "--dataset", "Reddit"], "unknown dataset 'Reddit'; expected one of Cora, CiteSeer, PubMed"),
        (["train-gcn", "--epochs", "-5"], "epochs must be a positive integer, got -5"),
        (["train-gcn", "--dropout", "1"], "dropout must be in [0, 1), got 1.0"),
        (["train-gcn", "--dropout", "-0.5"], "dropout must be in [0, 1), got -0.5"),
        (["train-gcn", "--layer", "dgl"], "unknown layer 'dgl'"),
        (["depth-study", "--variants", "dropedge"], "unknown variant"),
        (["depth-study", "--epochs", "-1"], "epochs must be a positive integer, got -1"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(argv: list[str], message: str, capsys) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_missing_data_is_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    from gnnhw.graph import data as data_module

    def no_network(source: str, destination: str) -> None:
        raise OSError("Cannot connect to host github.com:443")

    monkeypatch.setattr(data_module.fs, "cp", no_network)
    code, _, err = _run(capsys, "train-gcn", "--epochs", "1", "--quiet", "--data-root", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "ind.cora.x" in err and "kimiyoung/planetoid" in err


@pytest.mark.parametrize("content", [None, b"corrupt bytes", b"PK\x03\x04 truncated zip"])
def test_unreadable_or_corrupt_checkpoint_exits_2(tmp_path: Path, content: bytes | None, capsys) -> None:
    path = tmp_path / "gcn.pt"
    if content is not None:
        path.write_bytes(content)
    code, out, err = _run(capsys, "eval-gcn", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1 and "checkpoint" in err
