"""Regression tests of issue 10 for the palindrome commands: ranges, repeated list values, divergence, JSON."""

from __future__ import annotations

import json
import os

import pytest

from gnnhw.cli import main
from gnnhw.errors import DivergedError
from gnnhw.recurrent import train as train_module
from gnnhw.recurrent.experiments import decay_per_step, run_sweep
from gnnhw.recurrent.train import PalindromeConfig, train
from tests.diverging import PoisonedAdam

TINY = ["--hidden-size", "8", "--batch-size", "16", "--test-size", "50", "--quiet", "--device", "cpu"]
COMMANDS = ("palindrome", "palindrome-sweep", "optimizers", "grads-over-time")


def _run(capsys, tmp_path, argv):
    code = main([*argv, "--quiet"] + (["--out", str(tmp_path)] if argv[0] != "palindrome" else []))
    return code, capsys.readouterr()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("seed", [2**64, 2**63, 2**32, -1])
def test_seed_outside_what_every_rng_accepts_is_one_line_exit_2(capsys, tmp_path, command, seed):
    code, out = _run(capsys, tmp_path, [command, "--seed", str(seed)])
    assert code == 2
    assert out.err.count("\n") == 1
    assert "seed" in out.err
    assert "[0, 4294967295]" in out.err
    assert not list(tmp_path.iterdir())  # refused before any work or output


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lr", "1e300"], "--lr must be in (0, 10]"),
        (["--lr", "inf"], "--lr must be a finite number"),
        (["--hidden-size", "1000000000"], "--hidden-size must be in [1, 65536]"),
        (["--hidden-size", "65536", "--batch-size", "1000000"], "needs about"),
        (["--forget-bias", "nan"], "forget_bias must be a finite number"),
        (["--max-norm", "nan"], "--max-norm must be a finite number"),
        (["--early-stop", "2"], "--early-stop (early_stop_accuracy) must be in (0, 1]"),
        (["--length", "100000000"], "length must be in [2, 10000]"),
    ],
)
@pytest.mark.parametrize("command", COMMANDS)
def test_absurd_sizes_and_rates_are_refused_before_any_work(capsys, tmp_path, command, argv, message):
    code, out = _run(capsys, tmp_path, [command, *argv])
    assert code == 2
    assert out.err.count("\n") == 1
    assert message in out.err


def test_memory_refusal_names_the_fix(capsys, tmp_path):
    code, out = _run(capsys, tmp_path, ["palindrome", "--hidden-size", "65536", "--batch-size", "1000000"])
    assert code == 2
    assert "more than this machine's" in out.err
    assert "use a smaller --hidden-size" in out.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["palindrome-sweep", "--seeds", "0", "0"], "--seeds repeats 0;"),
        (["palindrome-sweep", "--models", "rnn", "rnn"], "--models repeats rnn;"),
        (["palindrome-sweep", "--lengths", "5", "7", "5"], "--lengths repeats 5;"),
        (["optimizers", "--optimizers", "sgd", "adam", "sgd"], "--optimizers repeats sgd;"),
        (["grads-over-time", "--models", "lstm", "lstm"], "--models repeats lstm;"),
    ],
)
def test_repeated_list_values_are_refused(capsys, tmp_path, argv, message):
    code, out = _run(capsys, tmp_path, argv)
    assert code == 2
    assert out.err.count("\n") == 1
    assert message in out.err
    assert not (tmp_path / "sweep.json").exists()


@pytest.fixture
def diverging(monkeypatch):
    monkeypatch.setattr(train_module, "make_optimizer", lambda name, params, lr, momentum=0.9: PoisonedAdam(params))


def test_training_that_diverges_raises_and_reports_no_accuracy(diverging):
    with pytest.raises(DivergedError, match=r"^training \(rnn T=4 seed=0, adam lr 0.001\) diverged at step 4: "):
        train(PalindromeConfig(model="rnn", length=4, hidden_size=8, batch_size=8, train_steps=10, test_size=10))


def test_weights_that_become_non_finite_on_the_last_step_are_caught(diverging):
    with pytest.raises(DivergedError, match="the weights hold NaN or infinity"):
        train(PalindromeConfig(model="rnn", length=4, hidden_size=8, batch_size=8, train_steps=3, test_size=10))


def test_palindrome_cli_that_diverges_is_one_line_exit_2_and_writes_nothing(diverging, capsys, tmp_path):
    argv = ["palindrome", "--model", "lstm", "--length", "4", "--steps", "10", "--format", "json"]
    code = main([*argv, *TINY, "--out", str(tmp_path)])
    out = capsys.readouterr()
    assert code == 2
    assert out.err.count("\n") == 1
    assert "diverged at step" in out.err
    assert "no result is reported" in out.err
    assert "kept" not in out.err
    # nothing but the folder's lock (gnnhw.runs: kept between runs, dropped by the kernel with its holder)
    assert out.out == ""
    assert [p.name for p in tmp_path.iterdir()] == [".gnnhw.lock"]


def test_grads_over_time_length_2_writes_valid_json_with_null_decay(capsys, tmp_path):
    argv = ["grads-over-time", "--length", "2", "--steps", "2", "--models", "rnn", "--format", "json"]
    assert main([*argv, *TINY, "--out", str(tmp_path)]) == 0
    strict = {"parse_constant": lambda token: pytest.fail(f"bare {token} in JSON")}
    printed = json.loads(capsys.readouterr().out, **strict)
    saved = json.loads((tmp_path / "grads_over_time.json").read_text(), **strict)
    assert printed["decay_per_step"]["untrained"]["rnn"] is None
    assert saved["decay_per_step"]["trained"]["rnn"] is None


def test_grads_over_time_length_2_text_says_why_there_is_no_rate(capsys, tmp_path):
    argv = ["grads-over-time", "--length", "2", "--steps", "2", "--models", "rnn"]
    assert main([*argv, *TINY, "--out", str(tmp_path)]) == 0
    assert "no decay rate (it needs at least 2 time steps)" in capsys.readouterr().out


def test_decay_per_step_is_none_when_undefined():
    assert decay_per_step([0.5]) is None
    assert decay_per_step([0.0, 0.0, 0.0]) is None


# ------------------------------------------------------------------------------------------- sweep.json


def _tiny_base(**fields):
    return PalindromeConfig(hidden_size=4, batch_size=8, train_steps=2, test_size=10, **fields)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("records without length", "records[0] lacks the required key(s) length"),
        ({"format": "gnnhw-palindrome-sweep/1", "records": 5}, "records must be a list, got int 5"),
        ({"format": "gnnhw-palindrome-sweep/1", "records": [], "base": [1]}, "base must be a mapping, got list"),
        ({"format": "gnnhw-palindrome-sweep/1"}, "lacks the required key(s) records"),
        ({"format": "other", "records": []}, "format must be one of gnnhw-palindrome-sweep/1"),
        ({"format": "gnnhw-palindrome-sweep/1", "records": [], "base": {"hidden_size": "4"}}, "base.hidden_size"),
        ({"format": "gnnhw-palindrome-sweep/1", "records": [], "base": {"lr": 1e300}}, "base.lr"),
        # a file written before the rename: its old keys are read as the new ones, and checked as strictly
        ({"format": "gnnhw-palindrome-sweep/1", "records": [], "base": {"num_hidden": "4"}}, "base.hidden_size"),
        ({"format": "gnnhw-palindrome-sweep/1", "records": [], "base": {"learning_rate": 1e300}}, "base.lr"),
        ({"format": "gnnhw-palindrome-sweep/1", "records": [], "base": {"backend": "jax"}}, "base.impl"),
    ],
)
def test_a_sweep_file_of_the_wrong_shape_is_refused_naming_file_and_field(tmp_path, content, message):
    from gnnhw.errors import ResultsFileError

    path = tmp_path / "sweep.json"
    if content == "records without length":
        run_sweep(_tiny_base(), ["rnn"], [3], 1, path, workers=1)
        data = json.loads(path.read_text())
        del data["records"][0]["length"]
        content = data
    path.write_text(json.dumps(content))
    with pytest.raises(ResultsFileError) as err:
        run_sweep(_tiny_base(), ["rnn"], [3], 1, path, workers=1)
    assert message in str(err.value)
    assert "sweep.json" in str(err.value)


def test_a_sweep_file_that_repeats_a_job_is_refused(tmp_path):
    # two results for one (model, length, seed) would both count in the mean and n, or one would be dropped
    from gnnhw.errors import ResultsFileError

    rec = {"model": "rnn", "length": 3, "seed": 0, "test_accuracy": 0.1}
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps({"format": "gnnhw-palindrome-sweep/1", "records": [rec, {**rec, "test_accuracy": 0.9}]}))
    with pytest.raises(ResultsFileError, match=r"records\[1\] repeats the job of records\[0\] \(rnn, T=3, seed 0\)"):
        run_sweep(_tiny_base(), ["rnn"], [3], 1, path, workers=1)


def test_json_nested_too_deeply_or_a_special_file_is_one_error_not_a_traceback_or_a_hang(tmp_path):
    from gnnhw.errors import ResultsFileError
    from gnnhw.jsonio import read_json

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)  # a RecursionError inside json.loads
    with pytest.raises(ResultsFileError, match="deep.json' is not a JSON file gnnhw wrote .nested too deeply"):
        read_json(deep)
    os.mkfifo(tmp_path / "pipe.json")  # reading a FIFO without a writer would block forever
    with pytest.raises(ResultsFileError, match="pipe.json' is a FIFO"):
        read_json(tmp_path / "pipe.json")
    with pytest.raises(ResultsFileError, match="'/dev/zero' is a character device"):  # would never end
        read_json("/dev/zero")


def test_a_sweep_file_with_bare_nan_is_refused(tmp_path):
    from gnnhw.errors import ResultsFileError

    path = tmp_path / "sweep.json"
    path.write_text('{"format": "gnnhw-palindrome-sweep/1", "records": [], "x": NaN}')
    with pytest.raises(ResultsFileError, match="NaN is not valid JSON"):
        run_sweep(_tiny_base(), ["rnn"], [3], 1, path, workers=1)


def test_sweep_cli_on_a_bad_sweep_file_is_one_line_exit_2(capsys, tmp_path):
    (tmp_path / "sweep.json").write_text('{"format": "gnnhw-palindrome-sweep/1", "records": 5}')
    code = main(
        [
            "palindrome-sweep",
            "--models",
            "rnn",
            "--lengths",
            "3",
            "--seeds",
            "1",
            "--workers",
            "1",
            *TINY,
            "--out",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "records must be a list" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["palindrome", "--seed", str(2**64)],
        ["palindrome", "--lr", "1e300"],
        ["palindrome-sweep", "--seeds", "0", "0"],
        ["palindrome-sweep", "--models", "rnn", "rnn"],
        ["optimizers", "--optimizers", "adam", "adam"],
        ["grads-over-time", "--models", "lstm", "lstm"],
        ["optimizers", "--hidden-size", "1000000000"],
        ["grads-over-time", "--length", "1"],
        ["textgen", "train", "--text", "t.txt", "--out", "o", "--num-layers", "100000"],
        ["textgen", "sample", "--checkpoint", "c.pt", "--length", "10000000"],
        ["textgen", "sample", "--checkpoint", "c.pt", "--seed", str(2**64)],
    ],
)
def test_bad_options_are_refused_before_torch_is_imported(tmp_path, argv):
    """Refusing a bad option costs no torch import (the bulk of a command's start-up), so it is immediate."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys; from gnnhw.cli import main; rc = main(sys.argv[1:]); "
        "print('torch imported' if 'torch' in sys.modules else 'no torch'); sys.exit(rc)"
    )
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(root)},
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout.strip() == "no torch"
    assert proc.stderr.count("\n") == 1


def test_the_torch_free_model_names_are_the_models():
    from gnnhw.recurrent.config import MODEL_NAMES
    from gnnhw.recurrent.models import MODELS

    assert MODEL_NAMES == tuple(sorted(MODELS))


@pytest.mark.parametrize(
    "argv",
    [
        ["palindrome", "--model", "rnn", "--forget-bias", "2"],
        ["grads-over-time", "--models", "rnn", "--forget-bias", "2"],
        ["palindrome-sweep", "--models", "rnn", "--forget-bias", "0"],
        ["optimizers", "--model", "rnn", "--forget-bias", "0"],
    ],
)
def test_forget_bias_without_an_lstm_is_refused(capsys, tmp_path, argv):
    code, out = _run(capsys, tmp_path, argv)
    assert code == 2
    assert out.err.count("\n") == 1
    assert "--forget-bias applies only to the LSTM" in out.err
