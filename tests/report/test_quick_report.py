"""The quick report, end to end: every command really runs (about 80 s of CPU), so this runs in CI's own step
(``.ci/run``: ``GNNHW_REPORT_QUICK=1 python -m pytest tests/report/test_quick_report.py``), not in the normal suite.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _require

ENV = "GNNHW_REPORT_QUICK"
pytestmark = pytest.mark.skipif(
    not os.environ.get(ENV), reason=f"runs every experiment (minutes); set {ENV}=1 (.ci/run does)"
)

# The assignment's questions, in its order (../shared/docs/assignment.md)
QUESTIONS = ["Q1.1", "Q1.2", "Q1.3", "Q1.4", "Q1.5", "Q1.6", "Q1.7", "Q2.1a", "Q2.1b", "Q2.1c", "Q2.1 bonus"]
QUESTIONS += ["Q3.1", "Q3.2", "Q3.3", "Q3.4"]
A_TILDE = ["110011", "111100", "011100", "011101", "100011", "100111"]  # the assignment's Q3.2 (a)


def _report(out: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "gnnhw", "report", "--out", str(out), "--budget", "quick", "--jobs", "2"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> Path:
    _require("books/book_EN_grimms_fairy_tails.txt")
    _require("planetoid/Cora/raw")
    # GNNHW_REPORT_QUICK_DIR: a folder to (re)use, so a rerun of these tests resumes instead of starting over
    kept = os.environ.get("GNNHW_REPORT_QUICK_DIR")
    out = Path(kept) if kept else tmp_path_factory.mktemp("report") / "quick"
    done = _report(out)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _sections(markdown: str) -> dict[str, str]:
    parts = re.split(r"^## ", markdown, flags=re.M)[1:]
    return {p.split(" — ", 1)[0]: p for p in parts if p.startswith("Q")}


def test_a_section_per_question_in_the_assignments_order(quick):
    sections = _sections((quick / "report.md").read_text())
    assert list(sections) == QUESTIONS


def test_every_answer_has_numbers_and_a_command(quick):
    for question, text in _sections((quick / "report.md").read_text()).items():
        answer = text.split("\n\n", 2)[1]
        assert re.search(r"\d", answer), question
        assert 2 <= answer.count(". ") + 1, question
        assert "Reproduce (in the report folder):" in text, question
        assert re.search(r"^(gnnhw|python -c) ", text, flags=re.M), question


def test_numbers_are_sane(quick):
    bptt = json.loads((quick / "bptt" / "bptt.json").read_text())
    assert bptt["agrees"] is True
    assert max(bptt["max_abs_diff"].values()) <= 1e-10
    sweep = json.loads((quick / "sweep" / "sweep.json").read_text())
    for record in sweep["records"]:
        assert 0.0 <= record["test_accuracy"] <= 1.0
    adjacency = json.loads((quick / "graph" / "adjacency.out").read_text())
    assert ["".join(str(int(x)) for x in row) for row in adjacency["matrix"]] == A_TILDE
    updates = json.loads((quick / "graph" / "receptive_field.out").read_text())["updates"]
    assert updates["count"] == 3
    md = (quick / "report.md").read_text()
    assert "after 3 updates" in md
    accuracies = [float(x) for x in re.findall(r"test accuracy (?:of |is )?(\d\.\d{3})", md)]
    assert accuracies
    assert all(0.0 <= a <= 1.0 for a in accuracies)


def test_the_html_is_self_contained_with_every_figure(quick):
    page = (quick / "report.html").read_text()
    md = (quick / "report.md").read_text()
    figures = re.findall(r"^!\[", md, flags=re.M)
    images = re.findall(r'<img src="([^"]*)"', page)
    assert len(images) == len(figures) > 0
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "is missing" not in page


def test_a_shown_command_reproduces_its_output(quick):
    md = (quick / "report.md").read_text()
    line = next(x for x in md.splitlines() if x.startswith("gnnhw adjacency --example --normalized"))
    argv = shlex.split(line)[1:]
    done = subprocess.run([sys.executable, "-m", "gnnhw", *argv], cwd=quick, capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout == (quick / "graph" / "normalized.out").read_text()


def test_a_second_run_reuses_every_experiment(quick):
    done = _report(quick)
    assert done.returncode == 0, done.stderr[-3000:]
    progress = [x for x in done.stderr.splitlines() if x.startswith("gnnhw report: [")]
    assert progress
    assert all("reused" in x for x in progress)


def test_an_interrupt_stops_the_commands_keeps_the_record_and_says_so(tmp_path):
    import signal

    out = tmp_path / "stopped"
    cmd = [sys.executable, "-m", "gnnhw", "report", "--out", str(out), "--budget", "quick", "--jobs", "1"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert first.startswith("gnnhw report: [1/9] bptt: gnnhw bptt")
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130
    lines = rest.strip().splitlines()
    # On a busy machine a command may finish (and the next start) before the signal lands: progress lines,
    # then exactly one line saying what happened, last.
    assert "interrupted by SIGINT" in lines[-1], rest
    assert "rerun the same command to resume" in lines[-1]
    assert all(x.startswith("gnnhw report: [") for x in lines[:-1]), rest
    running = [x for x in [first.strip(), *lines[:-1]] if ": gnnhw " in x][-1]  # the command stopped
    key, command = running.split("] ", 1)[1].split(": ", 1)
    record = json.loads((out / "report.json").read_text())["experiments"][key]
    name = record["settings"][record["commands"].index(command)][0]
    assert name not in record["steps"]  # the stopped command is not recorded as done
