"""Resuming a report folder: reuse what matches, rerun what does not (only when asked), refuse the rest."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gnnhw.errors import ExperimentError, OutputError, ResultsFileError
from gnnhw.report.plan import BUDGETS, Experiment, Step
from gnnhw.report.runner import RECORD, Records, check_folder, run_experiments

FAKE = """
import sys, pathlib
with open("calls.log", "a") as log:  # O_APPEND: two steps running at once never lose each other's line
    log.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1] == "fail":
    print("first line", file=sys.stderr)
    print("fake: error: " + sys.argv[2], file=sys.stderr)
    sys.exit(3)
path = pathlib.Path(sys.argv[2])
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(sys.argv[3])
print("wrote", path)
"""

QUICK = BUDGETS["quick"]


@pytest.fixture
def launcher(tmp_path: Path) -> tuple[str, ...]:
    script = tmp_path / "fake.py"
    script.write_text(FAKE)
    return (sys.executable, str(script))


def _plan(value: str = "1") -> list[Experiment]:
    return [
        Experiment("one", "first", (Step("a", ("write", "one/a.txt", value), ("one/a.txt",)),)),
        Experiment(
            "two",
            "second",
            (
                Step("b", ("write", "two/b.txt", "b"), ("two/b.txt",)),
                Step("c", ("write", "two/c.txt", "c"), ("two/c.txt",)),
            ),
        ),
    ]


def _run(folder: Path, plan: list[Experiment], launcher, replace: bool = False, jobs: int = 1) -> list[str]:
    folder.mkdir(exist_ok=True)
    records, rerun = check_folder(folder, plan, QUICK, replace)
    lines: list[str] = []
    run_experiments(folder, plan, records, rerun, "quick", jobs=jobs, progress=lines.append, launcher=launcher)
    return lines


def _calls(folder: Path) -> list[str]:
    log = folder / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_a_fresh_folder_runs_every_step_and_records_it(tmp_path, launcher):
    out = tmp_path / "r"
    _run(out, _plan(), launcher)
    assert _calls(out) == ["write one/a.txt 1", "write two/b.txt b", "write two/c.txt c"]
    record = json.loads((out / RECORD).read_text())
    assert record["budget"] == "quick"
    assert record["experiments"]["two"]["steps"]["c"]["status"] == "done"
    assert (out / "one" / "a.out").read_text() == "wrote one/a.txt\n"


def test_a_second_run_with_the_same_settings_reuses_everything(tmp_path, launcher):
    out = tmp_path / "r"
    _run(out, _plan(), launcher)
    lines = _run(out, _plan(), launcher)
    assert len(_calls(out)) == 3
    assert all("reused" in line for line in lines)


def test_parallel_jobs_run_each_step_once(tmp_path, launcher):
    out = tmp_path / "r"
    _run(out, _plan(), launcher, jobs=2)
    assert sorted(_calls(out)) == ["write one/a.txt 1", "write two/b.txt b", "write two/c.txt c"]


def test_a_step_whose_output_is_gone_is_rerun_alone(tmp_path, launcher):
    out = tmp_path / "r"
    _run(out, _plan(), launcher)
    (out / "two" / "c.txt").unlink()
    _run(out, _plan(), launcher)
    assert _calls(out)[3:] == ["write two/c.txt c"]


def test_other_settings_are_refused_and_nothing_changes(tmp_path, launcher):
    out = tmp_path / "r"
    _run(out, _plan("1"), launcher)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(OutputError, match=r"differing: one; matching: two.*--replace") as err:
        _run(out, _plan("2"), launcher)
    assert "\n" not in str(err.value)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_replace_reruns_only_the_differing_experiment(tmp_path, launcher):
    out = tmp_path / "r"
    _run(out, _plan("1"), launcher)
    _run(out, _plan("2"), launcher, replace=True)
    assert _calls(out)[3:] == ["write one/a.txt 2"]
    assert (out / "one" / "a.txt").read_text() == "2"
    assert (out / "two" / "b.txt").read_text() == "b"


def test_a_failed_command_is_one_line_naming_it_and_the_finished_steps_stay(tmp_path, launcher):
    out = tmp_path / "r"
    plan = [
        Experiment("one", "first", (Step("a", ("write", "one/a.txt", "1"), ("one/a.txt",)),)),
        Experiment("two", "second", (Step("b", ("fail", "boom"), ()),)),
    ]
    with pytest.raises(ExperimentError) as err:
        _run(out, plan, launcher)
    message = str(err.value)
    assert "\n" not in message
    assert "gnnhw fail boom" in message
    assert "exit code 3" in message
    assert "fake: error: boom" in message
    records = Records.read(out)
    assert records is not None
    assert records.step_done(plan[0], plan[0].steps[0])
    assert not records.step_done(plan[1], plan[1].steps[0])


def test_a_folder_with_other_files_is_not_a_report_folder(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not a report folder"):
        check_folder(out, _plan(), QUICK, replace=True)
    assert (out / "notes.txt").read_text() == "mine"


def test_a_report_record_gnnhw_did_not_write_is_refused(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / RECORD).write_text('{"format": "something else"}')
    with pytest.raises(ResultsFileError, match="not one 'gnnhw report' wrote"):
        check_folder(out, _plan(), QUICK, replace=False)


def test_a_broken_report_record_is_refused(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / RECORD).write_text('{"format": ')
    with pytest.raises(ResultsFileError):
        check_folder(out, _plan(), QUICK, replace=False)
