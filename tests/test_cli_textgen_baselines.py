"""``gnnhw textgen baselines`` and ``--keep-gutenberg``: the table, its JSON, and one line with exit 2 on bad input."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from gnnhw.cli import main
from gnnhw.recurrent.baselines import text_baselines

BODY = "".join(
    f"The {who} went to the {where} and {did}.\n"
    for who in ("king", "queen", "miller", "tailor")
    for where in ("forest", "castle", "well", "mill", "garden")
    for did in ("sang", "slept", "wept")
)
START = "*** START OF THE PROJECT GUTENBERG EBOOK TALES ***"
END = "*** END OF THE PROJECT GUTENBERG EBOOK TALES ***"


@pytest.fixture
def book(tmp_path) -> Path:
    path = tmp_path / "tales.txt"
    header = "The Project Gutenberg eBook of Tales\n\nRelease date: 2001\n\n"
    licence = "\n\nSection 1. General Terms of Use and Redistributing Project Gutenberg-tm\n" * 20
    path.write_text(f"{header}{START}\n\n{BODY}\n\n{END}{licence}", encoding="utf-8")
    return path


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_baselines_print_a_table_of_every_baseline(book, capsys):
    assert main(["textgen", "baselines", "--text", str(book), "--order", "3"]) == 0
    out = capsys.readouterr().out
    report = text_baselines(BODY, order=3)
    assert f"{report.train_chars:,} training characters" in out
    assert "Gutenberg parts stripped" in out
    for row in report.baselines:
        assert f"{row.name}  " in out, row.name
        assert f"{row.bits_per_char:.4f}" in out, row.name


def test_baselines_json_on_stdout_and_in_a_file_agree_with_the_library(book, tmp_path, capsys):
    path = tmp_path / "out" / "baselines.json"
    args = ["textgen", "baselines", "--text", str(book), "--format", "json", "--json", str(path)]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads(path.read_text(encoding="utf-8")) == printed
    expected = json.loads(json.dumps(asdict(text_baselines(BODY))))
    assert printed == {"text": str(book), "strip_gutenberg": True, **expected}


def test_keep_gutenberg_measures_the_whole_file(book, capsys):
    assert main(["textgen", "baselines", "--text", str(book), "--format", "json"]) == 0
    clean = json.loads(capsys.readouterr().out)
    assert main(["textgen", "baselines", "--text", str(book), "--format", "json", "--keep-gutenberg"]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert kept["strip_gutenberg"] is False
    assert kept["train_chars"] + kept["held_out_chars"] == len(book.read_text(encoding="utf-8"))
    assert clean["train_chars"] + clean["held_out_chars"] == len(BODY)


def test_help_gives_an_example_and_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["textgen", "baselines", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out
    assert "gnnhw textgen baselines --text" in out
    assert "(default: 5)" in out
    assert "(default: 8)" in out


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (None, [], "does not exist"),
        ("short", [], "too short"),
        (f"{START}\n\n{END}\n", [], "no text between them"),
        (BODY, ["--order", "0"], "order must be a positive integer, got 0"),
        (BODY, ["--order", "9"], "at most 8"),
        (BODY, ["--ppmd-order", "1"], "PPMd order"),
    ],
    ids=["missing", "too-short", "only-markers", "order-0", "order-9", "ppmd-order-1"],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, content, extra, message):
    path = tmp_path / "book.txt"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["textgen", "baselines", "--text", str(path), *extra]) == 2
    err = _error_line(capsys)
    assert message in err
    assert err.startswith("gnnhw textgen baselines: error:")


def test_evaluate_reads_the_clean_text_unless_told_to_keep_gutenberg(tmp_path, capsys):
    # the body holds every character of the markers (mid-line, so not as a marker) so both readings encode
    body = BODY + f"({START}) ({END})\n"
    path = tmp_path / "tales.txt"
    path.write_text(f"{START}\n{body}{END}\n", encoding="utf-8")
    out = tmp_path / "run"
    tiny = ["--seq-length", "10", "--batch-size", "4", "--hidden-size", "8", "--eval-every", "100", "--quiet"]
    assert main(["textgen", "train", "--text", str(path), "--steps", "2", "--out", str(out), *tiny]) == 0
    capsys.readouterr()
    evaluate = ["textgen", "evaluate", "--checkpoint", str(out / "checkpoint.pt"), "--text", str(path)]
    assert main(evaluate) == 0
    assert f" {(len(body) - 1) // 10 * 10} characters" in capsys.readouterr().out
    assert main([*evaluate, "--keep-gutenberg"]) == 0
    whole = len(path.read_text(encoding="utf-8"))
    assert f" {(whole - 1) // 10 * 10} characters" in capsys.readouterr().out


def test_a_json_path_that_cannot_be_written_is_one_line_and_exit_2(book, tmp_path, capsys):
    folder = tmp_path / "taken"
    folder.mkdir()
    assert main(["textgen", "baselines", "--text", str(book), "--json", str(folder)]) == 2
    line = _error_line(capsys)
    assert "--json" in line
    assert "is a folder" in line
    assert folder.is_dir()
