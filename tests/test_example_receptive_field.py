"""Smoke test of ``examples/receptive_field.py`` (what ``make demo`` runs), in-process."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT_A_TILDE = ["110011", "111100", "011100", "011101", "100011", "100111"]  # Q3.2(a), rows/cols A..F


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("example_receptive_field", ROOT / "examples" / "receptive_field.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_run_prints_the_answers_and_writes_figure_and_json(example, tmp_path, capsys):
    assert example.main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()

    # Ã printed with labelled rows and columns, equal to the assignment's answer.
    header = lines.index("Ã = A + I:") + 1
    assert lines[header].split() == list("ABCDEF")
    rows = [line.split() for line in lines[header + 1 : header + 7]]
    assert [row[0] for row in rows] == list("ABCDEF")
    assert ["".join(row[1:]) for row in rows] == ASSIGNMENT_A_TILDE

    assert "Â = D̃^-1/2 Ã D̃^-1/2:" in out
    assert "agree at every depth" in out
    assert "Updates needed to forward information from C to E: 3 (path C -> B -> A -> E)" in out

    png = tmp_path / "receptive_field.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    payload = json.loads((tmp_path / "receptive_field.json").read_text(encoding="utf-8"))
    assert ["".join(map(str, row)) for row in payload["self_loop_adjacency"]] == ASSIGNMENT_A_TILDE
    assert payload["normalized_adjacency"][2][2] == pytest.approx(1 / 3)  # C has degree 3 in Ã
    assert payload["diameter"] == 3
    assert payload["autograd_agrees"] is True
    assert payload["receptive_field"][1] == ["B", "C", "D"]
    # Depths 0..4: every size reaches 6 at the diameter (3) and stays there.
    assert all(len(s) == 5 for s in payload["sizes"].values())
    assert all(s[3] == s[4] == 6 for s in payload["sizes"].values())
    assert payload["updates"] == {"source": "C", "target": "E", "count": 3, "path": ["C", "B", "A", "E"]}


def test_graph_file_and_options(example, tmp_path, capsys):
    path = tmp_path / "path.txt"
    path.write_text("0 1\n1 2\n2 3\n", encoding="utf-8")
    argv = ["--graph", str(path), "--node", "0", "--source", "0", "--target", "3", "--max-layers", "2"]
    assert example.main([*argv, "--out", str(tmp_path / "out")]) == 0
    payload = json.loads((tmp_path / "out" / "receptive_field.json").read_text(encoding="utf-8"))
    assert payload["sizes"]["0"] == [1, 2, 3]
    assert payload["updates"]["count"] == 3
    capsys.readouterr()


def test_unknown_node_is_one_line_and_exit_2(example, tmp_path, capsys):
    assert example.main(["--node", "Z", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "'Z'" in err
    assert not (tmp_path / "receptive_field.png").exists()
