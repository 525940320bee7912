"""``gnnhw textgen train`` / ``sample``: outputs, resume, and one clear line with exit code 2 on bad input."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gnnhw.cli import main
from gnnhw.recurrent.train_text import load_checkpoint

TEXT = "once upon a time there was a king. the king had a daughter. " * 30
TINY = ["--seq-length", "10", "--batch-size", "8", "--hidden-size", "16", "--eval-every", "3", "--quiet"]


@pytest.fixture
def book(tmp_path) -> Path:
    path = tmp_path / "book.txt"
    path.write_bytes(b"\xef\xbb\xbf" + TEXT.encode("utf-8"))
    return path


@pytest.fixture
def trained(tmp_path, book) -> Path:
    out = tmp_path / "run"
    assert main(["textgen", "train", "--text", str(book), "--steps", "6", "--out", str(out), *TINY]) == 0
    return out / "checkpoint.pt"


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_train_writes_checkpoint_history_samples_and_figure(tmp_path, book, capsys):
    out = tmp_path / "run"
    args = ["textgen", "train", "--text", str(book), "--steps", "6", "--out", str(out), *TINY, "--sample-at", "3"]
    assert main(args) == 0
    stdout = capsys.readouterr().out
    assert "step 3: " in stdout
    assert "val loss" in stdout
    for name in ("checkpoint.pt", "history.json", "samples.txt", "curves.png"):
        assert (out / name).is_file(), name
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 6


def test_train_resume_continues_to_the_new_step_count(tmp_path, book, trained):
    out = trained.parent
    assert (
        main(["textgen", "train", "--text", str(book), "--steps", "9", "--out", str(out), "--resume", "--quiet"]) == 0
    )
    assert load_checkpoint(trained)["step"] == 9


def test_sample_prints_the_completion_on_stdout(trained, capsys):
    assert main(["textgen", "sample", "--checkpoint", str(trained), "--prompt", "the king", "--length", "12"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("the king")
    assert len(out.rstrip("\n")) == len("the king") + 12


@pytest.mark.parametrize("mode", [["--greedy"], ["--temperature", "0.5"], ["--beam", "3"], ["--temperature", "2"]])
def test_sample_modes_are_reproducible(trained, capsys, mode):
    args = ["textgen", "sample", "--checkpoint", str(trained), "--length", "20", "--seed", "4", *mode]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first
    assert len(first.rstrip("\n")) == 21


def test_evaluate_prints_loss_and_accuracy_of_a_part_of_the_text(trained, book, capsys):
    assert main(["textgen", "evaluate", "--checkpoint", str(trained), "--text", str(book), "--start", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out
    assert "[0.9, 1) windows of 10" in out
    assert main(["textgen", "evaluate", "--checkpoint", str(trained), "--text", str(book), "--start", "1.5"]) == 2
    assert "--start" in _error_line(capsys)


def test_temperature_and_greedy_are_exclusive(trained, capsys):
    with pytest.raises(SystemExit) as info:
        main(["textgen", "sample", "--checkpoint", str(trained), "--greedy", "--temperature", "1"])
    assert info.value.code == 2


@pytest.mark.parametrize("temperature", ["0", "-1"])
def test_non_positive_temperature_exits_2(trained, capsys, temperature):
    assert main(["textgen", "sample", "--checkpoint", str(trained), "--temperature", temperature]) == 2
    assert "temperature" in _error_line(capsys)


def test_prompt_outside_the_vocabulary_exits_2_naming_the_characters(trained, capsys):
    assert main(["textgen", "sample", "--checkpoint", str(trained), "--prompt", "the QUEEN"]) == 2
    err = _error_line(capsys)
    assert "'Q'" in err
    assert "'U'" in err
    assert "leave these out or replace them" in err  # the fix, not only the problem


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        (b"", "empty"),
        (b"\xff\xfe\x00b\x00a\x00d", "not valid UTF-8"),
        (b"too short", "too short"),
    ],
    ids=["missing", "empty", "not-utf8", "short"],
)
def test_unusable_text_exits_2(tmp_path, capsys, content, message):
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    args = ["textgen", "train", "--text", str(path), "--steps", "2", "--out", str(tmp_path / "o"), *TINY]
    assert main(args) == 2
    assert message in _error_line(capsys)
    assert not (tmp_path / "o" / "checkpoint.pt").exists()


@pytest.mark.parametrize("kind", ["corrupt", "foreign", "missing"])
def test_bad_checkpoint_exits_2(tmp_path, capsys, kind):
    path = tmp_path / "model.pt"
    if kind == "corrupt":
        path.write_bytes(b"\x00garbage" * 10)
    elif kind == "foreign":
        torch.save({"weights": torch.ones(3)}, path)
    assert main(["textgen", "sample", "--checkpoint", str(path)]) == 2
    _error_line(capsys)


def test_training_into_an_existing_run_without_resume_exits_2_and_keeps_it(book, trained, capsys):
    before = trained.read_bytes()
    args = ["textgen", "train", "--text", str(book), "--steps", "3", "--out", str(trained.parent), *TINY]
    assert main(args) == 2
    line = _error_line(capsys)
    assert "already exists" in line
    assert "--resume" in line  # the fix, not only the problem
    assert trained.read_bytes() == before


def test_resume_on_a_corrupt_checkpoint_exits_2_and_leaves_it(tmp_path, book, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"broken")
    args = ["textgen", "train", "--text", str(book), "--steps", "3", "--out", str(tmp_path / "run"), "--resume"]
    assert main(args) == 2
    assert "corrupt" in _error_line(capsys)
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == b"broken"


def test_benchmark_smoke():
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "textgen.py"
    done = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "reference (torch.nn.LSTM) / scratch" in done.stdout


def _marked_book(tmp_path) -> Path:
    path = tmp_path / "marked.txt"
    path.write_text(
        "The Project Gutenberg EBook of Tales, by ZQX\n*** START OF THE PROJECT GUTENBERG EBOOK TALES ***\n"
        f"{TEXT}\n*** END OF THE PROJECT GUTENBERG EBOOK TALES ***\nLicence.\n",
        encoding="utf-8",
    )
    return path


def test_batching_and_keep_gutenberg_are_stored_in_the_checkpoint_and_kept_on_resume(tmp_path, capsys):
    book, out = _marked_book(tmp_path), tmp_path / "run"
    train = ["textgen", "train", "--text", str(book), "--out", str(out), *TINY]
    assert main([*train, "--steps", "4", "--batching", "sequential", "--keep-gutenberg"]) == 0
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["config"]["batching"] == "sequential"
    assert ckpt["config"]["strip_gutenberg"] is False
    assert "Z" in ckpt["vocab"]
    assert "*" in ckpt["vocab"]  # the header was read: only it holds these characters
    assert ckpt["stream"]["position"] == 4
    # resumed without the options: the checkpoint's (same text, same batching); with a different one: exit 2
    assert main([*train, "--steps", "6", "--resume"]) == 0
    assert load_checkpoint(out / "checkpoint.pt")["stream"]["position"] == 6
    capsys.readouterr()
    assert main([*train, "--steps", "8", "--resume", "--batching", "random"]) == 2
    assert "--batching 'random' (checkpoint: 'sequential')" in _error_line(capsys)
    stripped = tmp_path / "stripped"
    assert main(["textgen", "train", "--text", str(book), "--out", str(stripped), *TINY, "--steps", "2"]) == 0
    assert "Z" not in load_checkpoint(stripped / "checkpoint.pt")["vocab"]
    capsys.readouterr()
    resume = ["textgen", "train", "--text", str(book), "--out", str(stripped), *TINY, "--steps", "4", "--resume"]
    assert main([*resume, "--keep-gutenberg"]) == 2
    assert "--keep-gutenberg" in _error_line(capsys)


def test_train_reports_bits_per_character_in_history_json(tmp_path, book, capsys):
    out = tmp_path / "run"
    assert main(["textgen", "train", "--text", str(book), "--steps", "6", "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / "history.json").read_text())
    assert saved["val_bpc"] == pytest.approx(saved["val_loss"] / math.log(2), rel=1e-12)
    assert saved["val_stream_bpc"] == pytest.approx(saved["val_stream_loss"] / math.log(2), rel=1e-12)
    assert f"bpc {saved['val_bpc']:.4f}" in printed
    assert f"stream bpc {saved['val_stream_bpc']:.4f}" in printed
    h = saved["history"]
    assert h["step"] == [3, 6]
    for split in ("train", "val", "val_stream"):
        assert h[f"{split}_bpc"] == pytest.approx([v / math.log(2) for v in h[f"{split}_loss"]], rel=1e-12)
    assert all(0 <= a <= 1 for a in h["val_stream_acc"])


def test_evaluate_reports_bits_per_character_for_windows_and_the_stream(trained, book, capsys):
    args = ["textgen", "evaluate", "--checkpoint", str(trained), "--text", str(book), "--start", "0.9"]
    assert main([*args, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["seq_length"] == 10
    assert report["strip_gutenberg"] is True
    for reading in ("windows", "stream"):
        r = report[reading]
        assert r["bits_per_char"] == pytest.approx(r["loss"] / math.log(2), rel=1e-12)
    assert report["windows"]["characters"] == report["stream"]["characters"]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert "windows of 10" in out[0]
    assert "stateful" in out[1]
    assert f"bpc {report['stream']['bits_per_char']:.4f}" in out[1]
    assert main([*args, "--stateful", "--format", "json"]) == 0
    assert "windows" not in json.loads(capsys.readouterr().out)


def _textgen_leaves():
    from gnnhw.cli import build_parser

    top = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    textgen = top.choices["textgen"]
    sub = next(a for a in textgen._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def test_every_textgen_train_config_field_is_an_option_from_the_config():
    # that each such option's default (and dest) is its field's: tests/test_cli_help.py, for every command
    from gnnhw.cli._common import CONFIG_FIELD
    from gnnhw.recurrent.config import TextTrainConfig

    leaves = _textgen_leaves()
    seen = set()
    for name, parser in leaves.items():
        for action in parser._actions:
            if hasattr(action, CONFIG_FIELD):
                seen.add((name, getattr(action, CONFIG_FIELD)[1]))
    fields = {f.name for f in dataclasses.fields(TextTrainConfig)}
    options = {a.dest for a in leaves["train"]._actions}
    # every TextTrainConfig field is a train option, from the config (strip_gutenberg is --keep-gutenberg;
    # val_fraction and max_val_windows have no option)
    assert fields - {"strip_gutenberg", "val_fraction", "max_val_windows"} <= {f for n, f in seen if n == "train"}
    assert "keep_gutenberg" in options
    assert ("sample", "length") in seen
    assert ("baselines", "order") in seen
    assert ("baselines", "ppmd_order") in seen


def test_the_old_cell_option_is_hidden_from_help():
    text = _textgen_leaves()["train"].format_help()
    assert "--impl" in text
    assert "--cell" not in text
