"""Smoke tests (tiny sizes, seconds) and bad-input tests of the palindrome commands."""

from __future__ import annotations

import json

import pytest

from gnnhw.cli import main

TINY = ["--hidden-size", "8", "--batch-size", "16", "--test-size", "50", "--quiet", "--device", "cpu"]


def test_palindrome_prints_json(capsys, tmp_path):
    code = main(
        [
            "palindrome",
            "--model",
            "rnn",
            "--length",
            "4",
            "--steps",
            "3",
            "--seed",
            "1",
            "--optimizer",
            "sgd",
            "--format",
            "json",
            "--out",
            str(tmp_path),
            *TINY,
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert {"model", "length", "test_accuracy", "steps", "seconds"} <= set(out)
    assert out["model"] == "rnn"
    assert out["length"] == 4
    assert out["steps"] == 3
    assert out["optimizer"] == "sgd"
    assert out["impl"] == "scratch"
    assert 0 <= out["test_accuracy"] <= 1
    assert (tmp_path / "palindrome_rnn_T4_seed1.json").exists()
    assert (tmp_path / "palindrome_rnn_T4_seed1.png").exists()


def test_palindrome_text_output_with_raw_digits(capsys):
    assert main(["palindrome", "--model", "lstm", "--length", "3", "--steps", "2", "--input", "raw", *TINY]) == 0
    assert capsys.readouterr().out.startswith("lstm T=3 seed=0: test accuracy")


def test_sweep_writes_results_and_figure_and_resumes(capsys, tmp_path):
    args = [
        "palindrome-sweep",
        "--lengths",
        "3",
        "4",
        "--seeds",
        "2",
        "--steps",
        "2",
        "--workers",
        "1",
        "--out",
        str(tmp_path),
        *TINY,
    ]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "0 jobs already" in first
    data = json.loads((tmp_path / "sweep.json").read_text())
    assert len(data["records"]) == 8
    assert set(data["summary"]) == {"rnn", "lstm"}
    assert (tmp_path / "sweep.png").stat().st_size > 0
    assert main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 8


def test_optimizers_writes_curves_and_figure(capsys, tmp_path):
    assert main(["optimizers", "--length", "3", "--steps", "3", "--workers", "1", "--out", str(tmp_path), *TINY]) == 0
    out = capsys.readouterr().out
    for name in ("sgd", "sgd-momentum", "rmsprop", "adam"):
        assert name in out
    runs = json.loads((tmp_path / "optimizers.json").read_text())["runs"]
    assert list(runs) == ["sgd", "sgd-momentum", "rmsprop", "adam"]
    assert (tmp_path / "optimizers.png").exists()


def test_grads_over_time_writes_norms_and_figure(capsys, tmp_path):
    code = main(["grads-over-time", "--length", "8", "--steps", "2", "--out", str(tmp_path), "--format", "json", *TINY])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["decay_per_step"]["untrained"]) == {"rnn", "lstm"}
    data = json.loads((tmp_path / "grads_over_time.json").read_text())
    assert len(data["untrained"]["rnn"]) == 7
    assert len(data["trained"]["lstm"]) == 7
    assert (tmp_path / "grads_over_time.png").exists()


def test_grads_over_time_text_names_the_steps_the_rate_is_fitted_over(capsys, tmp_path):
    # length 8 has 7 hidden states: the rate is fitted over those 7, not "the last 30 steps"
    assert main(["grads-over-time", "--length", "8", "--steps", "1", "--out", str(tmp_path), *TINY]) == 0
    rates = [line for line in capsys.readouterr().out.splitlines() if "per step back" in line]
    assert len(rates) == 4
    assert all(line.endswith("(last 7 steps)") for line in rates), rates


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["palindrome", "--length", "1"], "length must be in [2, 10000]"),
        (["palindrome", "--model", "gru"], "unknown model 'gru'"),
        (["palindrome", "--optimizer", "adagrad"], "unknown optimizer 'adagrad'"),
        (["palindrome", "--lr", "0"], "--lr must be in (0, 10]"),
        (["palindrome", "--lr", "-0.1"], "--lr must be in (0, 10]"),
        (["palindrome", "--steps", "0"], "--steps (train_steps) must be in [1, "),
        (["palindrome", "--hidden-size", "-3"], "--hidden-size must be in [1, 65536]"),
        (["palindrome", "--batch-size", "0"], "batch_size must be in [1, "),
        (["palindrome", "--impl", "jax"], "unknown impl 'jax'"),
        (["palindrome-sweep", "--seeds", "0"], "--seeds must be in [1, "),
        (["palindrome-sweep", "--lengths", "5", "1"], "length must be in [2, 10000]"),
        (["palindrome-sweep", "--models", "rnn", "gru"], "unknown model 'gru'"),
        (["palindrome-sweep", "--workers", "0"], "workers must be a positive integer"),
        (["optimizers", "--optimizers", "sgd", "lbfgs"], "unknown optimizer 'lbfgs'"),
        (["optimizers", "--length", "0"], "length must be in [2, 10000]"),
        (["grads-over-time", "--models", "gru"], "unknown model 'gru'"),
        (["grads-over-time", "--steps", "-1"], "--steps (train_steps) must be in [1, "),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(capsys, tmp_path, argv, message):
    code = main([*argv, "--quiet"] + (["--out", str(tmp_path)] if argv[0] != "palindrome" else []))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert message in err


def test_non_finite_forget_bias_is_one_line_and_exit_2(capsys):
    assert main(["palindrome", "--length", "5", "--steps", "1", "--forget-bias", "inf"]) == 2
    err = capsys.readouterr().err.strip()
    assert "forget_bias" in err
    assert "\n" not in err


# ----------------------------------------------------------------------- one vocabulary: defaults and old names

PALINDROME_COMMANDS = ("palindrome", "palindrome-sweep", "optimizers", "grads-over-time")


def _parser(command):
    from gnnhw.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.choices and command in a.choices)
    return sub.choices[command]


@pytest.mark.parametrize("command", PALINDROME_COMMANDS)
def test_the_hyper_parameters_of_every_palindrome_command_are_config_fields(command):
    # that each such option's default is its field's: tests/test_cli_help.py, for every command
    from gnnhw.cli._common import CONFIG_FIELD

    checked = sum(hasattr(action, CONFIG_FIELD) for action in _parser(command)._actions)
    assert checked >= 12


def test_optimizers_defaults_to_the_readmes_model_the_vanilla_rnn():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "gnnhw optimizers --model rnn" in readme
    assert _parser("optimizers").parse_args([]).model == "rnn"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (["--hidden", "8"], ["--hidden-size", "8"]),
        (["--clip", "2.5"], ["--max-norm", "2.5"]),
        (["--backend", "torch"], ["--impl", "reference"]),
        (["--backend", "gnnhw"], ["--impl", "scratch"]),
    ],
)
def test_old_option_names_still_work_with_one_warning(capsys, old, new):
    parser = _parser("palindrome")
    got = parser.parse_args(old)
    warning = capsys.readouterr().err
    assert vars(got) | {"given_options": None} == vars(parser.parse_args(new)) | {"given_options": None}
    assert warning.count("\n") == 1
    assert "deprecated" in warning
    assert new[0] in warning


def test_sweep_seeds_is_a_count_from_the_first_seed(capsys, tmp_path):
    args = ["palindrome-sweep", "--models", "rnn", "--lengths", "3", "--seed", "4", "--seeds", "2", "--steps", "1"]
    assert main([*args, "--workers", "1", "--out", str(tmp_path), *TINY]) == 0
    assert capsys.readouterr().err == ""
    records = json.loads((tmp_path / "sweep.json").read_text())["records"]
    assert [r["seed"] for r in records] == [4, 5]


def test_sweep_seeds_as_a_list_still_works_with_one_warning(capsys, tmp_path):
    args = ["palindrome-sweep", "--models", "rnn", "--lengths", "3", "--seeds", "3", "7", "--steps", "1"]
    assert main([*args, "--workers", "1", "--out", str(tmp_path), *TINY]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--seed FIRST --seeds COUNT" in err
    records = json.loads((tmp_path / "sweep.json").read_text())["records"]
    assert [r["seed"] for r in records] == [3, 7]
