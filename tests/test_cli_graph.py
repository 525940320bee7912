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


@pytest.mark.parametrize(
    ("edges", "everyone"),
    [("a b\nb c\nc a\n", True), ("a b\nb c\n", False), ("a b\nb c\nc a\nc d\n", False), ("a b\nc b\n", False)],
)
def test_a_directed_graph_is_said_to_let_every_node_see_every_other_only_when_strongly_connected(
    tmp_path, capsys, edges: str, everyone: bool
):
    """Weakly connected is not enough: in a -> b -> c, a's field stays {a} at every depth."""
    path = tmp_path / "g.txt"
    path.write_text(edges, encoding="utf-8")
    code, out, _ = run(capsys, "receptive-field", "--graph", str(path), "--directed", "--all-nodes")
    assert code == 0
    assert ("every node sees every other" in out) is everyone
    assert ("some nodes never see some others" in out) is not everyone


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


@pytest.mark.parametrize(
    ("name", "text", "options", "fragments"),
    [
        pytest.param(
            "bad.txt", "a b\na b c d\n", (), ("bad.txt, line 2", "expected 'u v' or 'u v weight'"), id="malformed_line"
        ),
        pytest.param(
            "w.txt", "a b heavy\n", (), ("w.txt, line 1", "weight 'heavy' is not a number"), id="non_numeric_weight"
        ),
        pytest.param("m.adj", "0 1 0\n1 0 1\n", (), ("m.adj", "not square"), id="non_square_adjacency_matrix"),
        pytest.param(
            "m.adj",
            "0 1\n1 one\n",
            ("--normalized",),
            ("m.adj, line 2", "entry 'one' is not a number"),
            id="non_numeric_adjacency_matrix",
        ),
    ],
)
def test_bad_graph_file_is_one_line(tmp_path, capsys, name, text, options, fragments):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "adjacency", "--graph", str(path), *options)
    assert_one_line_error(code, out, err, *fragments)


def test_help_explains_the_inputs(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["receptive-field", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--example" in out
    assert "--graph FILE" in out
    assert "diameter + 1" in out


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


# ---------------------------------------------------------------------------------------------- one meaning per graph
# Issue #8, item 7 (example 9): the CLI prints the graph the library means, by the same rules.


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_zero_weight_self_loop_prints_as_zero_and_a_hat_is_normalized_from_the_printed_a_tilde(tmp_path, capsys):
    import numpy as np

    path = write(tmp_path, "g.txt", "a a 0\na b\nb c 2\n")
    a_tilde = np.array(run_json(capsys, "adjacency", "--graph", path)["matrix"], dtype=float)
    assert a_tilde[0, 0] == 0  # a's own loop of weight 0; b's default loop of weight 1
    assert a_tilde[1, 1] == 1
    a_hat = np.array(run_json(capsys, "adjacency", "--graph", path, "--normalized")["matrix"], dtype=float)
    deg = a_tilde.sum(axis=0)
    np.testing.assert_allclose(a_hat, a_tilde.T / np.sqrt(np.outer(deg, deg)), atol=1e-12, rtol=0)


def test_parallel_edge_lines_are_summed(tmp_path, capsys):
    path = write(tmp_path, "g.txt", "0 1 2.0\n0 1 5.0\n")
    assert run_json(capsys, "adjacency", "--graph", path)["matrix"] == [[1, 7], [7, 1]]


@pytest.mark.parametrize(("weight", "degree"), [("-1", "degree 0 "), ("-2", "degree -1 ")])
@pytest.mark.parametrize("output", ["json", "edges"])
def test_non_positive_degree_is_one_line_naming_the_node_label(tmp_path, capsys, weight, degree, output):
    path = write(tmp_path, "g.txt", f"a b {weight}\n")
    code, out, err = run(capsys, "adjacency", "--graph", path, "--normalized", "--format", output)
    assert_one_line_error(code, out, err, "node 'a'", degree)


def test_byte_order_mark_is_dropped(tmp_path, capsys):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf0 1\n1 2\n")
    payload = run_json(capsys, "receptive-field", "--graph", str(path), "--source", "0", "--target", "2")
    assert payload["updates"]["path"] == ["0", "1", "2"]


def test_help_states_the_rules(capsys):
    with pytest.raises(SystemExit):
        main(["adjacency", "--help"])
    out = capsys.readouterr().out
    assert "parallel edges" in out
    assert "summed" in out
    assert "own loop weight" in out
    assert "refused" in out


# ---------------------------------------------------------------------------------------------- bounded inputs (#10)


def test_edges_format_lists_the_entries_of_the_matrix(tmp_path, capsys):
    for flags in ((), ("--normalized",)):
        matrix = run_json(capsys, "adjacency", "--example", *flags)["matrix"]
        code, out, _ = run(capsys, "adjacency", "--example", *flags, "--format", "edges")
        assert code == 0
        nodes = list("ABCDEF")
        got = {}
        for line in out.splitlines():
            u, v, w = line.split()
            got[(nodes.index(u), nodes.index(v))] = float(w)
        # Ã: the edge u -> v is Ã[u, v]; Â (PyG's convention): its normalized weight is Â[v, u]
        want = {
            (i, j): float(matrix[j][i] if flags else matrix[i][j])
            for i in range(6)
            for j in range(6)
            if matrix[i][j] != 0
        }
        assert got.keys() == want.keys()
        assert all(abs(got[k] - want[k]) < 1e-12 for k in want)


def test_dense_output_beyond_memory_is_refused_suggesting_edges(monkeypatch, capsys):
    import gnnhw.graph.adjacency as adjacency

    monkeypatch.setattr(adjacency, "machine_memory", lambda: 1000)  # a machine with 1000 bytes: 6 x 6 x 48 > 1000
    code, out, err = run(capsys, "adjacency", "--example")
    assert_one_line_error(code, out, err, "6 nodes", "--format edges", "1000 B")
    code, out, _ = run(capsys, "adjacency", "--example", "--format", "edges")
    assert code == 0
    assert len(out.splitlines()) == 6 + 2 * 8


@pytest.mark.parametrize(
    "argv",
    [
        ("adjacency", "--example", "--decimals", "18"),
        ("adjacency", "--example", "--decimals", "1000000000"),
        ("adjacency", "--example", "--decimals", "-1"),
        ("receptive-field", "--example", "--max-layers", "1000000000"),
        ("receptive-field", "--example", "--max-layers", "10001"),
    ],
)
def test_out_of_range_numbers_are_refused_with_the_range(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "expected an integer in [0, " in err


def test_largest_accepted_values_work(capsys):
    code, out, _ = run(capsys, "adjacency", "--example", "--normalized", "--decimals", "17")
    assert code == 0
    assert "0.25000000000000000" in out
    payload = run_json(capsys, "receptive-field", "--example", "--node", "A", "--max-layers", "10000")
    assert len(payload["sizes"]["A"]) == 10001
    assert payload["sizes"]["A"][-1] == 6


def _ring_with_chords(tmp_path, n: int) -> str:
    import random

    rng = random.Random(0)
    lines = [f"{i} {(i + 1) % n}\n" for i in range(n)] + [f"{rng.randrange(n)} {rng.randrange(n)}\n" for _ in range(n)]
    return write(tmp_path, "big.txt", "".join(lines))


def test_receptive_field_on_a_large_graph_does_only_the_work_asked(tmp_path, capsys, monkeypatch):
    # Issue #10: the all-pairs diameter came first (no answer after 120 s on 100k nodes / 200k edges). Work is
    # counted, not timed: no all-pairs search, no search per node, only searches from the nodes asked about.
    import networkx as nx

    path = _ring_with_chords(tmp_path, 3000)
    calls = []
    original = nx.single_source_shortest_path_length

    def counted(graph, source, cutoff=None):
        calls.append(source)
        return original(graph, source, cutoff=cutoff)

    def forbidden(*args, **kwargs):
        raise AssertionError("all-pairs search")

    monkeypatch.setattr(nx, "single_source_shortest_path_length", counted)
    monkeypatch.setattr(nx, "all_pairs_shortest_path_length", forbidden)
    payload = run_json(
        capsys, "receptive-field", "--graph", path, "--max-layers", "2", "--source", "0", "--target", "7"
    )
    assert payload["diameter"] is None
    assert payload["sizes"] is None
    assert payload["updates"]["count"] == len(payload["updates"]["path"]) - 1 <= 7
    assert len(calls) <= 1
    calls.clear()
    payload = run_json(capsys, "receptive-field", "--graph", path, "--max-layers", "2", "--node", "5")
    assert list(payload["sizes"]) == ["5"]
    assert payload["sizes"]["5"][:2] == [1, len(set(nx.read_edgelist(path).adj["5"])) + 1]
    assert len(calls) <= 2


def test_receptive_field_without_max_layers_on_a_large_component_asks_for_it(tmp_path, capsys):
    path = _ring_with_chords(tmp_path, 3000)
    code, out, err = run(capsys, "receptive-field", "--graph", path, "--source", "0", "--target", "7")
    assert_one_line_error(code, out, err, "3000 nodes", "--max-layers")


def test_receptive_field_all_nodes_on_request(tmp_path, capsys):
    path = _ring_with_chords(tmp_path, 1200)
    payload = run_json(capsys, "receptive-field", "--graph", path, "--max-layers", "1", "--all-nodes")
    assert len(payload["sizes"]) == 1200


@pytest.mark.parametrize("command", ["adjacency", "receptive-field"])
@pytest.mark.parametrize("source", ["--example", "graph.graphml", "graph.gml", "graph.adj"])
def test_directed_where_the_input_says_it_itself_is_refused(tmp_path, capsys, command, source):
    # --directed applies to edge lists only; with the example or a format that declares it, it was ignored
    if source == "--example":
        argv = [command, "--example", "--directed"]
    else:
        (tmp_path / source).write_text("never read")
        argv = [command, "--graph", str(tmp_path / source), "--directed"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "directed applies only to" in err, err


# ---------------------------------------------------------------------------------------------- receptive-field --plot


def test_receptive_field_plot_draws_the_fields_networkx_gives(tmp_path, capsys, monkeypatch):
    import networkx as nx

    import gnnhw.plotting.graph as plotting
    from gnnhw.graph.examples import assignment_graph

    drawn = {}
    real = plotting.plot_receptive_fields

    def spy(graph, node, fields, sizes, diameter=None, pos=None):
        drawn.update(node=node, fields=fields, sizes=sizes, diameter=diameter)
        return real(graph, node, fields, sizes, diameter=diameter, pos=pos)

    monkeypatch.setattr(plotting, "plot_receptive_fields", spy)
    png = tmp_path / "rf.png"
    plain = run_json(capsys, "receptive-field", "--example", "--node", "C")
    with_plot = run_json(capsys, "receptive-field", "--example", "--node", "C", "--plot", str(png))
    assert with_plot == plain  # the figure adds a file, not a change of the printed result
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    distance = nx.single_source_shortest_path_length(assignment_graph(), "C")
    assert drawn["node"] == "C" and drawn["diameter"] == 3
    assert len(drawn["fields"]) == plain["diameter"] + 2  # k = 0..diameter + 1, the default depths
    for k, field in enumerate(drawn["fields"]):
        assert field == {v for v, d in distance.items() if d <= k}
    assert set(drawn["sizes"]) == set("ABCDEF")  # every node's curve, not only C's


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        ((), ("--plot", "--node")),
        (("--node", "C", "--max-layers", "8"), ("--plot", "--max-layers 7")),
        (("--node", "Z"), ("'Z'",)),
    ],
)
def test_receptive_field_plot_refusals_write_nothing(tmp_path, capsys, options, fragments):
    png = tmp_path / "rf.png"
    code, out, err = run(capsys, "receptive-field", "--example", *options, "--plot", str(png))
    assert_one_line_error(code, out, err, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_receptive_field_plot_of_a_large_graph_is_refused_before_drawing(tmp_path, capsys):
    from gnnhw.cli.graph import PLOT_NODE_LIMIT

    edges = tmp_path / "path.txt"
    edges.write_text("".join(f"{i} {i + 1}\n" for i in range(PLOT_NODE_LIMIT)), encoding="utf-8")  # limit + 1 nodes
    png = tmp_path / "out" / "rf.png"
    code, out, err = run(
        capsys, "receptive-field", "--graph", str(edges), "--node", "0", "--max-layers", "2", "--plot", str(png)
    )
    assert_one_line_error(code, out, err, f"{PLOT_NODE_LIMIT + 1} nodes", "--plot")
    assert not (tmp_path / "out").exists()


def _broom():
    """A path a0 - ... - a39 with a leaf z on a20, added last: z's size curve is its own and the last one."""
    import networkx as nx

    graph = nx.path_graph([f"a{i}" for i in range(40)])
    graph.add_edge("a20", "z")
    return graph


def test_the_highlighted_nodes_curve_is_in_the_legend_in_red_and_no_colour_names_two_curves():
    from matplotlib.colors import to_hex

    from gnnhw.graph.receptive import receptive_field, receptive_field_sizes
    from gnnhw.plotting.graph import _CENTER, plot_receptive_fields

    graph = _broom()
    sizes = receptive_field_sizes(graph, 7)
    assert len({tuple(s) for s in sizes.values()}) > 12  # more curves than a legend shows
    fields = [receptive_field(graph, "z", k) for k in range(8)]
    fig = plot_receptive_fields(graph, "z", fields, sizes, pos={v: (float(i), 0.0) for i, v in enumerate(graph)})
    ax = fig.axes[-1]
    named = {
        line.get_label(): to_hex(line.get_color()) for line in ax.get_lines() if not line.get_label().startswith("_")
    }
    assert named["z"] == to_hex(_CENTER)
    colours = [c for label, c in named.items() if "more curves" not in label]
    assert len(colours) == len(set(colours))
    assert all(float(t).is_integer() for t in ax.get_yticks())


def test_plot_of_a_graph_too_large_to_draw_is_refused_for_its_size_first(tmp_path, capsys):
    """Not first for its diameter (too many searches: 'give --max-layers'), then, given that, for its size."""
    path = tmp_path / "big.txt"
    path.write_text("".join(f"{i} {i + 1}\n" for i in range(2500)), encoding="utf-8")
    plot = tmp_path / "big.png"
    code, _, err = run(capsys, "receptive-field", "--graph", str(path), "--node", "0", "--plot", str(plot))
    assert code == 2
    assert "more than 200" in err
    assert "--max-layers" not in err
    assert not plot.exists()


@pytest.mark.parametrize(
    "edges, said", [("a b\n", "(2 nodes, 1 undirected edge)"), ("a b\nb c\n", "3 nodes, 2 undirected edges")]
)
def test_adjacency_text_counts_edges_in_singular_and_plural(tmp_path: Path, capsys, edges: str, said: str):
    path = tmp_path / "g.txt"
    path.write_text(edges, encoding="utf-8")
    code, out, _ = run(capsys, "adjacency", "--graph", str(path))
    assert code == 0
    assert said in out.splitlines()[0]


def test_no_cli_message_writes_a_counted_noun_with_s_in_parentheses():
    # 'layer(s)', 'job(s)' after a count: gnnhw._utils.plural says '1 job' and '3 jobs'
    import re

    cli = Path(__file__).resolve().parent.parent / "gnnhw" / "cli"
    found = [
        f"{p.name}: {m.group()}"
        for p in cli.glob("*.py")
        for m in re.finditer(r"\{[^{}]+\} [\w -]*\(s\)", p.read_text(encoding="utf-8"))
    ]
    assert not found, found
