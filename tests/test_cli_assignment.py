"""``gnnhw bptt`` and ``gnnhw gnn-vs-rnn``: outputs, files, help, and one-line errors with exit code 2."""

from __future__ import annotations

import argparse
import json

import pytest

from gnnhw.cli import build_parser, main


def test_bptt_prints_agreement_and_each_mistake(capsys, tmp_path):
    code = main(["bptt", "--length", "12", "--hidden-size", "5", "--json", str(tmp_path / "b.json")])
    out = capsys.readouterr().out
    assert code == 0
    assert "all gradients agree within 1e-10" in out
    for variant in ("sign_flipped", "diagonal_softmax", "last_step_only"):
        assert variant in out
    payload = json.loads((tmp_path / "b.json").read_text())
    assert payload["agrees"] is True
    assert payload["length"] == 12
    assert max(payload["max_abs_diff"].values()) <= 1e-10
    assert all(m["relative_diff"] > 1e-3 for m in payload["mistakes"].values())
    assert len(payload["contributions"]) == 12


def test_bptt_lstm_json_and_plot(capsys, tmp_path):
    plot = tmp_path / "fig" / "lstm.png"
    code = main(["bptt", "--model", "lstm", "--length", "6", "--format", "json", "--plot", str(plot)])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert payload["agrees"] is True
    assert payload["model"] == "lstm"
    assert len(payload["cell_grad_norms"]) == 6
    assert payload["mistakes"] == {}
    assert plot.stat().st_size > 1000


@pytest.mark.parametrize(
    "argv",
    [
        ["bptt", "--length", "0"],
        ["bptt", "--length", "-5"],
        ["bptt", "--length", "abc"],
        ["bptt", "--model", "gru"],
        ["bptt", "--hidden-size", "100000000"],
        ["bptt", "--batch-size", "0"],
        ["gnn-vs-rnn", "--lengths", "1", "--quiet"],
        ["gnn-vs-rnn", "--depths", "0", "--quiet"],
        ["gnn-vs-rnn", "--models", "gru", "--quiet"],
        ["gnn-vs-rnn", "--steps", "x", "--quiet"],
        ["gnn-vs-rnn", "--steps", "0", "--quiet"],
        ["gnn-vs-rnn", "--lengths", "200", "--depths", "256", "--batch-size", "100000", "--quiet"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors (a non-integer) exit from the parser
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "error" in err


def test_outputs_that_cannot_be_written_are_refused_before_work(tmp_path, capsys):
    assert main(["bptt", "--json", str(tmp_path)]) == 2  # a folder
    assert "is a folder" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["gnn-vs-rnn", "--quiet", "--plot", str(blocker / "sub" / "g.png")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["bptt", "gnn-vs-rnn"])
def test_help_has_a_description_an_example_and_defaults(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert exc.value.code == 0
    assert "examples: gnnhw " + command in text
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    assert sub.description
    for action in sub._actions:
        if action.dest not in ("help", "quiet") and action.help != argparse.SUPPRESS:
            shown = sub._get_formatter()._get_help_string(action)  # what --help prints (defaults appended)
            assert "(default:" in shown, action.dest


def test_gnn_vs_rnn_tiny_run_writes_table_json_and_figure(tmp_path, capsys):
    argv = [
        "gnn-vs-rnn", "--lengths", "3", "--depths", "1", "2", "--seeds", "1", "--steps", "2",
        "--batch-size", "4", "--test-size", "10", "--hidden-channels", "4", "--quiet",
        "--json", str(tmp_path / "g.json"), "--plot", str(tmp_path / "g.png"),
    ]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "k=1" in out
    assert "k=2" in out
    assert "lstm" in out
    assert "k >= 2" in out
    payload = json.loads((tmp_path / "g.json").read_text())
    assert len(payload["runs"]) == 4
    assert "position" in payload["features"]
    assert (tmp_path / "g.png").stat().st_size > 1000


def test_gnn_vs_rnn_shows_progress_unless_quiet_and_prints_json(capsys):
    argv = [
        "gnn-vs-rnn", "--lengths", "3", "--depths", "2", "--seeds", "1", "--steps", "2", "--batch-size", "4",
        "--test-size", "10", "--hidden-channels", "4", "--models", "rnn", "--format", "json",
    ]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "gnn-vs-rnn" in captured.err or "T=3" in captured.err  # the tqdm bar, on stderr
    payload = json.loads(captured.out)
    assert [r["model"] for r in payload["runs"]] == ["rnn", "gcn"]
    assert payload["runs"][1]["initial_influence_ratio"] > 0  # k = 2 = T - 1: the first digit is in the field
    assert main([*argv, "--quiet"]) == 0
    assert capsys.readouterr().err == ""


# --- issue 11: --seeds is a count of runs from --seed; the old list form is read for one release ---------------


def _gnn_vs_rnn_seeds(capsys, *seed_options: str) -> tuple[list[int], str]:
    argv = [
        "gnn-vs-rnn", "--lengths", "3", "--depths", "2", *seed_options, "--steps", "1", "--batch-size", "2",
        "--test-size", "2", "--hidden-channels", "2", "--rnn-hidden-size", "2", "--models", "rnn", "--quiet",
        "--format", "json",
    ]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    return sorted({run["seed"] for run in json.loads(captured.out)["runs"]}), captured.err


def test_gnn_vs_rnn_seeds_counts_runs_from_seed(capsys):
    seeds, err = _gnn_vs_rnn_seeds(capsys, "--seed", "5", "--seeds", "2")
    assert seeds == [5, 6]
    assert err == ""


def test_gnn_vs_rnn_old_list_of_seeds_is_read_with_a_warning(capsys):
    seeds, err = _gnn_vs_rnn_seeds(capsys, "--seeds", "3", "4")
    assert seeds == [3, 4]
    assert "a list of seeds after --seeds is deprecated; use --seed 3 --seeds 2" in err


def test_gnn_vs_rnn_a_list_of_seeds_with_gaps_is_refused(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["gnn-vs-rnn", "--seeds", "0", "5"])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert "is a count of runs now" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--gcn-lr", "11"], "--gcn-lr must be in (0, 10]"),
        (["--rnn-lr", "0"], "--rnn-lr must be in (0, 10]"),
        (["--seed", "-1"], "--seed must be in [0, 4294967295]"),
        (["--seeds", "0"], "--seeds must be in [1, 10000]"),
        (["--depths", "0"], "--depths[0] must be in [1, 256]"),
    ],
)
def test_gnn_vs_rnn_bad_options_name_the_option(capsys, argv, message):
    assert main(["gnn-vs-rnn", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_bptt_config_holds_check_bptts_defaults_and_limits():
    import dataclasses
    import inspect

    from gnnhw.checks import describe
    from gnnhw.experiments.config import BPTTConfig
    from gnnhw.recurrent import bptt

    defaults = {name: p.default for name, p in inspect.signature(bptt.check_bptt).parameters.items()}
    for field in dataclasses.fields(BPTTConfig):
        assert field.default == defaults[field.name], field.name
    limits = {"length": bptt.MAX_LENGTH, "hidden_size": bptt.MAX_HIDDEN_SIZE, "batch_size": bptt.MAX_BATCH_SIZE}
    for name, most in limits.items():
        assert describe(BPTTConfig, name).startswith(f"[1, {most}]"), name


def test_bptt_bad_option_names_the_option(capsys):
    assert main(["bptt", "--hidden-size", "100000000"]) == 2
    err = capsys.readouterr().err
    assert "--hidden-size must be in [1, 4096]" in err
    assert err.count("\n") == 1
