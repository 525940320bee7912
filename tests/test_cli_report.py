"""``gnnhw report``'s bad input: one stderr line, exit code 2, checked before any work, nothing lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gnnhw.cli import main
from gnnhw.report.runner import FORMAT, RECORD
from tests.mounts import read_only_dir  # noqa: F401 - fixture


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_unknown_budget_is_one_line_exit_2_and_creates_nothing(tmp_path, capsys):
    out = tmp_path / "r"
    with pytest.raises(SystemExit) as stop:
        main(["report", "--out", str(out), "--budget", "fast"])
    assert stop.value.code == 2
    line = _one_error_line(capsys)
    assert "'fast'" in line
    assert "quick" in line
    assert not out.exists()


def test_out_that_is_a_file_is_refused_and_kept(tmp_path, capsys):
    out = tmp_path / "r.txt"
    out.write_text("keep me")
    assert main(["report", "--out", str(out), "--budget", "quick"]) == 2
    line = _one_error_line(capsys)
    assert "--out" in line
    assert out.read_text() == "keep me"


def test_out_under_a_file_is_refused(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["report", "--out", str(blocker / "r"), "--budget", "quick"]) == 2
    assert "--out" in _one_error_line(capsys)
    assert blocker.read_text() == "x"


def test_read_only_out_is_refused_before_any_work(tmp_path, capsys, read_only_dir):  # noqa: F811
    assert main(["report", "--out", str(read_only_dir / "r"), "--budget", "quick"]) == 2
    assert "--out" in _one_error_line(capsys)


def test_a_folder_that_is_not_a_report_is_refused_and_kept(tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    (out / "report.md").write_text("my own notes")
    assert main(["report", "--out", str(out), "--budget", "quick"]) == 2
    assert "not a report folder" in _one_error_line(capsys)
    assert (out / "report.md").read_text() == "my own notes"
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]


def _foreign_report(out: Path) -> bytes:
    """A report folder whose 'bptt' experiment was made with other settings."""
    out.mkdir()
    (out / "bptt").mkdir()
    (out / "bptt" / "bptt.json").write_text("{}")
    record = {
        "format": FORMAT,
        "budget": "standard",
        "experiments": {
            "bptt": {"settings": [["bptt", "bptt", "--length", "999"]], "steps": {"bptt": {"status": "done"}}}
        },
    }
    data = json.dumps(record).encode()
    (out / RECORD).write_bytes(data)
    return data


def test_a_report_made_with_other_settings_is_refused_and_nothing_changes(tmp_path, capsys):
    out = tmp_path / "r"
    record = _foreign_report(out)
    assert main(["report", "--out", str(out), "--budget", "quick"]) == 2
    line = _one_error_line(capsys)
    assert "other settings" in line
    assert "bptt" in line
    assert "--replace" in line
    assert (out / RECORD).read_bytes() == record
    assert (out / "bptt" / "bptt.json").read_text() == "{}"


def test_a_report_locked_by_another_command_is_refused(tmp_path, capsys):
    from gnnhw.runs import OutputLock

    out = tmp_path / "r"
    out.mkdir()
    with OutputLock(out):
        assert main(["report", "--out", str(out), "--budget", "quick"]) == 2
    assert "--out" in _one_error_line(capsys)


def test_a_data_root_without_the_book_is_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["report", "--out", str(out), "--budget", "quick", "--data-root", str(tmp_path / "nodata")]) == 2
    line = _one_error_line(capsys)
    assert "book_EN_grimms_fairy_tails.txt" in line
    assert "--data-root" in line
    assert not out.exists()


@pytest.mark.parametrize("name", ["quick", "standard", "full"])
def test_every_step_of_the_report_parses_as_the_current_vocabulary(capsys, tmp_path, name):
    """The report's commands, answered from the real parser, parse without a deprecation warning and ask
    for at least one run wherever they give a count (an option that still reads an old list form, such as
    --seeds 0 1 2, must get a count: --seeds 0 once meant seed 0 and now means no run)."""
    from gnnhw.cli import build_parser
    from gnnhw.cli.report import _ParserOptions
    from gnnhw.report.plan import budget, build_plan

    plan = build_plan(budget(name), _ParserOptions(), tmp_path)
    steps = [step for experiment in plan for step in experiment.steps]
    assert steps
    for step in steps:
        args = build_parser().parse_args(list(step.argv))
        err = capsys.readouterr().err
        assert err == "", (step.shell(), err)
        if "--seeds" in step.argv:
            assert isinstance(args.seeds, int), step.shell()
            assert args.seeds >= 1, step.shell()
