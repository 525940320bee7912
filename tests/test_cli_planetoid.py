"""Smoke tests of `gnnhw train-gcn`, `gnnhw eval-gcn` and `gnnhw depth-study` (tiny sizes), and their errors."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from gnnhw.cli import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _refused(capsys, *argv: str) -> str:
    """Run a command that must be refused: exit code 2, nothing on stdout, one line on stderr; return that line."""
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    return err


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
        "dataset", "impl", "seeds", "test_acc_mean", "test_acc_std", "per_seed", "seconds_per_epoch",
    ]  # fmt: skip
    assert (payload["dataset"], payload["impl"], payload["seeds"]) == ("Cora", "scratch", 2)
    assert len(payload["per_seed"]) == 2
    assert all(0.0 <= a <= 1.0 for a in payload["per_seed"])
    assert 0.0 <= payload["test_acc_mean"] <= 1.0
    assert payload["seconds_per_epoch"] > 0
    assert fig.stat().st_size > 0
    assert len(json.loads(full.read_text())["runs"][0]["history"]["val_acc"]) == 3
    assert torch.load(ckpt, weights_only=True)["config"]["dataset"] == "Cora"

    code, out, _ = _run(capsys, "eval-gcn", str(ckpt), "--format", "json", "--data-root", str(planetoid_root))
    assert code == 0
    assert set(json.loads(out)) >= {"train_acc", "val_acc", "test_acc"}


def test_train_gcn_text_output_with_pyg_layer(planetoid_root: Path, capsys) -> None:
    code, out, _ = _run(
        capsys, "train-gcn", "--impl", "reference", "--epochs", "2", "--quiet", "--data-root", str(planetoid_root)
    )
    assert code == 0
    assert "Cora, reference layers, 1 seed, 2 epochs" in out
    assert "test accuracy" in out


def test_depth_study_smoke(planetoid_root: Path, tmp_path: Path, capsys) -> None:
    code, out, _ = _run(
        capsys, "depth-study", "--depths", "1", "2", "--variants", "plain", "residual", "--seeds", "1",
        "--epochs", "2", "--hidden-channels", "8", "--quiet", "--threads", "1", "--data-root", str(planetoid_root),
        "--plot", str(tmp_path / "depth.png"), "--json", str(tmp_path / "depth.json"),
    )  # fmt: skip
    assert code == 0
    assert "residual" in out
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
        (["train-gcn", "--impl", "dgl"], "unknown --impl 'dgl'"),
        (["depth-study", "--variants", "dropedge"], "unknown variant"),
        (["depth-study", "--epochs", "-1"], "epochs must be a positive integer, got -1"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(argv: list[str], message: str, capsys) -> None:
    assert message in _refused(capsys, *argv)


def test_missing_data_is_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    from gnnhw.graph import data as data_module

    def no_network(source: str, destination: str) -> None:
        raise OSError("Cannot connect to host github.com:443")

    monkeypatch.setattr(data_module.fs, "cp", no_network)
    code, _, err = _run(capsys, "train-gcn", "--epochs", "1", "--quiet", "--data-root", str(tmp_path))
    assert code == 2
    assert err.count("\n") == 1
    assert "ind.cora.x" in err
    assert "kimiyoung/planetoid" in err


@pytest.mark.parametrize("content", [None, b"corrupt bytes", b"PK\x03\x04 truncated zip"])
def test_unreadable_or_corrupt_checkpoint_exits_2(tmp_path: Path, content: bytes | None, capsys) -> None:
    path = tmp_path / "gcn.pt"
    if content is not None:
        path.write_bytes(content)
    code, out, err = _run(capsys, "eval-gcn", str(path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "checkpoint" in err


# --- issue 10: ranges, provenance, divergence, checkpoints -------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train-gcn", "--seed", str(2**64)], "--seed must be in [0, 4294967295]"),
        (["train-gcn", "--seed", str(2**32 - 1), "--seeds", "2"], "reaches seed 4294967296"),
        (["train-gcn", "--lr", "1e300"], "--lr must be in (0, 10]"),
        (["train-gcn", "--lr", "nan"], "--lr must be a positive number, got nan"),
        (["train-gcn", "--weight-decay", "inf"], "--weight-decay must be a finite number"),
        (["train-gcn", "--hidden-channels", "1000000000"], "--hidden-channels must be in [1, 65536]"),
        (["train-gcn", "--num-layers", "100000"], "--num-layers must be in [1, 1024]"),
        (
            ["train-gcn", "--hidden-channels", "65536", "--num-layers", "1024"],
            "TiB of memory, more than this machine's",
        ),
        (["train-gcn", "--epochs", "10000000"], "--epochs must be in [1, 1000000]"),
        (["depth-study", "--seed", str(2**64)], "--seed must be in [0, 4294967295]"),
        (["depth-study", "--hidden-channels", "1000000000"], "--hidden-channels must be in [1, 65536]"),
        (["depth-study", "--depths", "100000"], "--depths[0] must be in [1, 1024]"),
        (["depth-study", "--depths", "2", "2"], "--depths repeats 2"),
        (["depth-study", "--variants", "plain", "plain"], "--variants repeats plain"),
        (["depth-study", "--seeds", "100000"], "--seeds must be in [1, 10000]"),
        (["train-gcn", "--impl", "reference", "--dense-features"], "--dense-features applies only to --impl scratch"),
    ],
)
def test_out_of_range_options_are_one_line_exit_2(argv: list[str], message: str, capsys) -> None:
    assert message in _refused(capsys, *argv)


def _cora_copy(planetoid_root: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A writable copy of the Cora raw files; returns (data root, raw folder)."""
    import shutil
    import stat

    root = tmp_path / "root"
    raw = root / "planetoid" / "Cora" / "raw"
    shutil.copytree(planetoid_root / "planetoid" / "Cora" / "raw", raw)
    for path in raw.iterdir():
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return root, raw


class _WritesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_corrupted_raw_data_is_refused_with_the_digest_line(
    planetoid_root: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root, raw = _cora_copy(planetoid_root, tmp_path)
    argv = ["train-gcn", "--epochs", "2", "--quiet", "--format", "json", "--data-root", str(root)]
    assert _run(capsys, *argv)[0] == 0  # the originals: fine, and now cached
    body = bytearray((raw / "ind.cora.allx").read_bytes())
    body[1000] ^= 0xFF
    (raw / "ind.cora.allx").write_bytes(bytes(body))
    code, out, err = _run(capsys, *argv)  # the cache of the originals must not answer for changed files
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "ind.cora.allx is not the published Cora file: SHA-256" in err
    assert "--trust-raw-data" in err


@pytest.mark.parametrize("trust", [False, True])
def test_raw_pickle_that_would_run_code_is_refused(planetoid_root: Path, tmp_path: Path, capsys, trust) -> None:
    root, raw = _cora_copy(planetoid_root, tmp_path)
    marker = tmp_path / "ran"
    (raw / "ind.cora.x").write_bytes(pickle.dumps(_WritesMarker(marker), protocol=2))
    argv = ["train-gcn", "--epochs", "1", "--quiet", "--data-root", str(root)] + (["--trust-raw-data"] if trust else [])
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert not marker.exists()
    assert ("refused to load global io.open" if trust else "SHA-256") in err


def test_trusted_changed_raw_data_is_used_not_the_cache(
    planetoid_root: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    from gnnhw.graph.data import restricted_load

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root, raw = _cora_copy(planetoid_root, tmp_path)
    argv = ["train-gcn", "--epochs", "2", "--quiet", "--format", "json", "--threads", "1", "--data-root", str(root)]
    before = json.loads(_run(capsys, *argv)[1])["per_seed"]
    ty = restricted_load((raw / "ind.cora.ty").read_bytes())
    (raw / "ind.cora.ty").write_bytes(pickle.dumps(np.roll(ty, 1, axis=1), protocol=4))  # every test label moves
    assert _run(capsys, *argv)[0] == 2  # refused without the option
    code, out, _ = _run(capsys, *argv, "--trust-raw-data")
    assert code == 0
    assert json.loads(out)["per_seed"] != before


def _strict_json(text: str):
    def refuse(token: str):
        raise ValueError(f"bare {token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_diverging_run_reports_no_accuracy_and_writes_nothing(
    planetoid_root: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    # Learning rates are capped at 10 (gnnhw.checks.LR), where Adam cannot overflow in a few epochs: features
    # near float32's limit make Â X W overflow instead.
    from gnnhw.graph import sbm as sbm_module
    from gnnhw.graph import train as train_module

    def overflowing(*args, **kwargs):
        data = sbm_module.load_dataset(*args, **kwargs)  # what train_planetoid loads a data set with
        data.x = data.x * 3e38
        return data

    monkeypatch.setattr(train_module, "load_dataset", overflowing)
    full, ckpt = tmp_path / "run.json", tmp_path / "gcn.pt"
    code, out, err = _run(
        capsys, "train-gcn", "--no-normalize-features", "--epochs", "5", "--quiet", "--format", "json",
        "--threads", "1", "--data-root", str(planetoid_root), "--json", str(full), "--save", str(ckpt),
    )  # fmt: skip
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "training diverged at step" in err
    assert "no result is reported" in err
    assert "lr=0.01" in err
    assert not full.exists()
    assert not ckpt.exists()


def test_json_outputs_are_strict_json(planetoid_root: Path, tmp_path: Path, capsys) -> None:
    full = tmp_path / "run.json"
    code, out, _ = _run(
        capsys, "train-gcn", "--epochs", "2", "--quiet", "--format", "json", "--threads", "1",
        "--data-root", str(planetoid_root), "--json", str(full),
    )  # fmt: skip
    assert code == 0
    _strict_json(out)
    _strict_json(full.read_text())


def _saved(planetoid_root: Path, tmp_path: Path, capsys) -> Path:
    ckpt = tmp_path / "gcn.pt"
    code, _, _ = _run(
        capsys, "train-gcn", "--epochs", "2", "--quiet", "--threads", "1", "--data-root", str(planetoid_root),
        "--save", str(ckpt),
    )  # fmt: skip
    assert code == 0
    return ckpt


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop("seed"), "lacks the required key(s) seed"),
        (lambda c: c.update(in_channels="abc"), "in_channels must be an integer, got str 'abc'"),
        (lambda c: c.update(in_channels=float("nan")), "in_channels must be an integer, got float nan"),
        (lambda c: c["config"].update(num_layers=1e9), "config.num_layers must be an integer"),
        (lambda c: c["config"].update(num_layers=10**9), "config.num_layers must be in [1, 1024]"),
        (lambda c: next(iter(c["state_dict"].values())).fill_(float("nan")), "non-finite value(s)"),
    ],
)
def test_eval_gcn_refuses_bad_checkpoints(planetoid_root: Path, tmp_path: Path, capsys, change, message) -> None:
    path = _saved(planetoid_root, tmp_path, capsys)
    ckpt = torch.load(path, weights_only=True)
    change(ckpt)
    torch.save(ckpt, path)
    code, out, err = _run(capsys, "eval-gcn", str(path), "--data-root", str(planetoid_root))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert message in err
    assert str(path) in err
    assert "weights_only=False" not in err


def test_eval_gcn_on_random_bytes_never_suggests_weights_only_false(tmp_path: Path, capsys) -> None:
    import random

    path = tmp_path / "random.pt"
    path.write_bytes(b"PK\x03\x04" + random.Random(1).randbytes(2048))
    code, out, err = _run(capsys, "eval-gcn", str(path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "weights_only" not in err


def test_eval_gcn_reads_a_checkpoint_from_a_fifo(planetoid_root: Path, tmp_path: Path, capsys) -> None:
    import os
    import threading

    body = _saved(planetoid_root, tmp_path, capsys).read_bytes()
    fifo = tmp_path / "ckpt.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(body,), daemon=True)
    writer.start()
    code, out, err = _run(capsys, "eval-gcn", str(fifo), "--format", "json", "--data-root", str(planetoid_root))
    writer.join(timeout=10)
    assert code == 0
    assert err == ""
    assert set(_strict_json(out)) >= {"train_acc", "val_acc", "test_acc"}


# --- issue 11: one vocabulary; old option names still work for one release ------------------------------------


def _train_json(capsys, tmp_path: Path, planetoid_root: Path, *argv: str) -> tuple[dict, str]:
    """Run ``train-gcn`` tiny with ``argv``; return (the full results file, stderr)."""
    full = tmp_path / "run.json"
    code, _, err = _run(
        capsys, "train-gcn", *argv, "--epochs", "1", "--quiet", "--format", "json", "--threads", "1",
        "--data-root", str(planetoid_root), "--json", str(full),
    )  # fmt: skip
    assert code == 0, err
    return json.loads(full.read_text()), err


def test_old_option_names_still_work_with_one_warning_each(planetoid_root: Path, tmp_path: Path, capsys) -> None:
    old, err = _train_json(capsys, tmp_path, planetoid_root, "--layer", "pyg", "--hidden", "8", "--first-seed", "3")
    assert old["impl"] == "reference"
    assert old["config"]["hidden_channels"] == 8
    assert [run["seed"] for run in old["runs"]] == [3]
    assert "--layer pyg is deprecated; use --impl reference" in err
    assert "--hidden is deprecated; use --hidden-channels" in err
    assert "--first-seed is deprecated; use --seed" in err
    assert err.count("\n") == 3


def test_seeds_counts_runs_from_seed(planetoid_root: Path, tmp_path: Path, capsys) -> None:
    results, _ = _train_json(capsys, tmp_path, planetoid_root, "--seed", "4", "--seeds", "2")
    assert [run["seed"] for run in results["runs"]] == [4, 5]


def test_train_gcn_trains_a_variant(planetoid_root: Path, tmp_path: Path, capsys) -> None:
    results, _ = _train_json(capsys, tmp_path, planetoid_root, "--variant", "jk", "--num-layers", "3")
    assert results["config"]["variant"] == "jk"
    assert results["config"]["num_layers"] == 3


def test_depth_study_takes_lr_dropout_and_weight_decay(planetoid_root: Path, tmp_path: Path, capsys) -> None:
    code, _, _ = _run(
        capsys, "depth-study", "--depths", "1", "--variants", "jk", "--seeds", "1", "--epochs", "1", "--lr", "0.05",
        "--dropout", "0.1", "--weight-decay", "0", "--seed", "7", "--quiet", "--threads", "1",
        "--data-root", str(planetoid_root), "--json", str(tmp_path / "d.json"),
    )  # fmt: skip
    assert code == 0
    config = json.loads((tmp_path / "d.json").read_text())["config"]
    assert (config["lr"], config["dropout"], config["weight_decay"], config["seed"]) == (0.05, 0.1, 0, 7)


@pytest.mark.parametrize("command", ["train-gcn", "depth-study", "gnn-vs-rnn", "bptt"])
def test_help_names_only_options_the_command_has(command: str, capsys) -> None:
    # depth-study's help once mentioned a --max-layers option that it never had
    import re

    from gnnhw.cli import build_parser

    parser = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", text))
    assert named
    assert named <= set(parser._option_string_actions), named - set(parser._option_string_actions)
