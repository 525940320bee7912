"""``gnnhw adjacency`` and ``gnnhw receptive-field``, run in-process (plus one subprocess run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gnnhw.cli import main

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT_A_TILDE = ["110011", "111100", "011100", "011101", "100011", "100111"]  # Q3.2(a), rows/cols A..F


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str):
    code, out, err = run(capsys, *argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def assert_one_line_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gnnhw ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# ---------------------------------------------------------------------------------------------- adjacency


def test_adjacency_text_is_the_labelled_assignment_answer(capsys):
    code, out, _ = run(capsys, "adjacency", "--example")
    assert code == 0
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == list("ABCDEF"))
    rows = [line.split() for line in lines[header + 1 : header + 7]]
    assert [row[0] for row in rows] == list("ABCDEF")
    assert ["".join(row[1:]) for row in rows] == ASSIGNMENT_A_TILDE


def test_adjacency_json(capsys):
    payload = run_json(capsys, "adjacency", "--example")
    assert payload == {"nodes": list("ABCDEF"), "matrix": [[int(c) for c in row] for row in ASSIGNMENT_A_TILDE]}


def test_adjacency_normalized_json_is_d_tilde_scaled(capsys):
    payload = run_json(capsys, "adjacency", "--example", "--normalized")
    degree = [row.count("1") for row in ASSIGNMENT_A_TILDE]  # row sums of Ã
    for i, row in enumerate(ASSIGNMENT_A_TILDE):
        for j, c in enumerate(row):
            expected = int(c) / (degree[i] * degree[j]) ** 0.5  # Â_ij = Ã_ij / sqrt(d_i d_j)
            assert payload["matrix"][i][j] == pytest.approx(expected, abs=1e-12)


def test_adjacency_normalized_text_has_three_decimals(capsys):
    code, out, _ = run(capsys, "adjacency", "--example", "--normalized")
    assert code == 0
    row_c = next(line.split() for line in out.splitlines() if line.startswith("C "))
    assert row_c == ["C", "0", f"{1 / 12**0.5:.3f}", f"{1 / 3:.3f}", f"{1 / 12**0.5:.3f}", "0", "0"]


def test_adjacency_csv(capsys):
    code, out, _ = run(capsys, "adjacency", "--example", "--format", "csv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == ",A,B,C,D,E,F"
    assert [line.split(",", 1)[1].replace(",", "") for line in lines[1:]] == ASSIGNMENT_A_TILDE


def test_adjacency_from_edge_list_file(tmp_path, capsys):
    path = tmp_path / "g.txt"
    path.write_text("0 1\n1 2\n", encoding="utf-8")
    payload = run_json(capsys, "adjacency", "--graph", str(path))
    assert payload == {"nodes": ["0", "1", "2"], "matrix": [[1, 1, 0], [1, 1, 1], [0, 1, 1]]}


def test_adjacency_needs_exactly_one_input(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["adjacency"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["adjacency", "--example", "--graph", "x.txt"])
    capsys.readouterr()


# ---------------------------------------------------------------------------------------------- receptive-field


def test_receptive_field_json_on_the_example(capsys):
    payload = run_json(capsys, "receptive-field", "--example")
    assert set(payload) == {"diameter", "sizes", "updates"}
    assert payload["diameter"] == 3
    assert payload["updates"] == {"source": "C", "target": "E", "count": 3, "path": ["C", "B", "A", "E"]}
    assert list(payload["sizes"]) == list("ABCDEF")
    assert all(len(series) == 5 for series in payload["sizes"].values())  # default max-layers = diameter + 1
    assert payload["sizes"]["A"][:2] == [1, 4]  # A and its three neighbours B, E, F
    assert payload["sizes"]["C"] == [1, 3, 5, 6, 6]


def test_receptive_field_options(capsys):
    payload = run_json(
        capsys, "receptive-field", "--example", "--node", "A", "--max-layers", "2", "--source", "A", "--target", "D"
    )
    assert payload["sizes"] == {"A": [1, 4, 6]}
    assert payload["updates"] == {"source": "A", "target": "D", "count": 2, "path": ["A", "B", "D"]}


def test_receptive_field_text(capsys):
    code, out, _ = run(capsys, "receptive-field", "--example", "--node", "C")
    assert code == 0
    assert "diameter 3" in out
    assert "Updates needed to forward information from C to E: 3 (path C -> B -> A -> E)" in out
    assert "k=1: B, C, D" in out


def test_receptive_field_disconnected_graph_says_so(tmp_path, capsys):
    path = tmp_path / "g.txt"
    path.write_text("a b\nb c\nc d\nx y\n", encoding="utf-8")
    code, out, _ = run(capsys, "receptive-field", "--graph", str(path))
    assert code == 0
    assert "not connected: diameter 3 is that of its largest component (4 of 6 nodes)" in out
    payload = run_json(capsys, "receptive-field", "--graph", str(path))
    assert payload["diameter"] == 3
    assert payload["updates"] is None
    assert payload["sizes"]["x"] == [1, 2, 2, 2, 2]


def test_directed_edge_list_follows_edge_direction(tmp_path, capsys):
    path = tmp_path / "g.txt"
    path.write_text("a b\nb c\n", encoding="utf-8")
    undirected = run_json(capsys, "receptive-field", "--graph", str(path), "--source", "c", "--target", "a")
    assert undirected["updates"]["path"] == ["c", "b", "a"]
    graph = ("receptive-field", "--graph", str(path), "--directed")
    directed = run_json(capsys, *graph, "--source", "a", "--target", "c")
    assert directed["sizes"] == {"a": [1, 1, 1, 1], "b": [1, 2, 2, 2], "c": [1, 2, 3, 3]}
    code, out, err = run(capsys, *graph, "--source", "c", "--target", "a")
    assert_one_line_error(code, out, err, "no path from 'c' to 'a'")


# ---------------------------------------------------------------------------------------------- bad input


def test_unknown_node(capsys):
    code, out, err = run(capsys, "receptive-field", "--example", "--node", "Z")
    assert_one_line_error(code, out, err, "'Z'", "known nodes: A, B, C, D, E, F")


@pytest.mark.parametrize("option", ["--source", "--target"])
def test_unknown_source_or_target(capsys, option):
    code, out, err = run(capsys, "receptive-field", "--example", option, "Q")
    assert_one_line_error(code, out, err, "'Q'", "known nodes")


def test_only_one_of_source_and_target(tmp_path, capsys):
    path = tmp_path / "g.txt"
    path.write_text("a b\n", encoding="utf-8")
    code, out, err = run(capsys, "receptive-field", "--graph", str(path), "--source", "a")
    assert_one_line_error(code, out, err, "--source and --target")


def test_no_path(tmp_path, capsys):
    path = tmp_path / "g.txt"
    path.write_text("a b\nc d\n", encoding="utf-8")
    code, out, err = run(capsys, "receptive-field", "--graph", str(path), "--source", "a", "--target", "d")
    assert_one_line_error(code, out, err, "no path from 'a' to 'd'")


@pytest.mark.parametrize("command", ["adjacency", "receptive-field"])
def test_missing_file(tmp_path, capsys, command):
    code, out, err = run(capsys, command, "--graph", str(tmp_path / "missing.txt"))
    assert_one_line_error(code, out, err, "missing.txt: no such file")


def test_unreadable_file(tmp_path, capsys):
    path = tmp_path / "binary.txt"
    path.write_bytes(b"\xff\xfe\x00\x01")
    code, out, err = run(capsys, "adjacency", "--graph", str(path))
    assert_one_line_error(code, out, err, "binary.txt: not a UTF-8 text file")


def test_malformed_line(tmp_path, capsys):
    path = tmp_path / "bad.txt"
    path.write_text("a b\na b c d\n", encoding="utf-8")
    code, out, err = run(capsys, "adjacency", "--graph", str(path))
    assert_one_line_error(code, out, err, "bad.txt, line 2", "expected 'u v' or 'u v weight'")


def test_non_numeric_weight(tmp_path, capsys):
    path = tmp_path / "w.txt"
    path.write_text("a b heavy\n", encoding="utf-8")
    code, out, err = run(capsys, "adjacency", "--graph", str(path))
    assert_one_line_error(code, out, err, "w.txt, line 1", "weight 'heavy' is not a number")


def test_non_square_adjacency_matrix(tmp_path, capsys):
    path = tmp_path / "m.adj"
    path.write_text("0 1 0\n1 0 1\n", encoding="utf-8")
    code, out, err = run(capsys, "adjacency", "--graph", str(path))
    assert_one_line_error(code, out, err, "m.adj", "not square")


def test_non_numeric_adjacency_matrix(tmp_path, capsys):
    path = tmp_path / "m.adj"
    path.write_text("0 1\n1 one\n", encoding="utf-8")
    code, out, err = run(capsys, "adjacency", "--graph", str(path), "--normalized")
    assert_one_line_error(code, out, err, "m.adj, line 2", "entry 'one' is not a number")


def test_help_explains_the_inputs(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["receptive-field", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--example" in out and "--graph FILE" in out and "diameter + 1" in out


def test_python_dash_m_adjacency_json():
    result = subprocess.run(
        [sys.executable, "-m", "gnnhw", "adjacency", "--example", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["nodes"] == list("ABCDEF")
    assert ["".join(map(str, row)) for row in payload["matrix"]] == ASSIGNMENT_A_TILDE
