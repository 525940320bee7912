"""Reading graphs from edge lists, GraphML, GML and adjacency-matrix files."""

from __future__ import annotations

import networkx as nx
import pytest

from gnnhw.errors import GnnhwError, GraphFileError
from gnnhw.graph.examples import assignment_graph
from gnnhw.graph.io import read_graph


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_edge_list_with_whitespace_commas_comments_and_blank_lines(tmp_path):
    path = write(tmp_path, "g.txt", "# the graph\nA B\n\nB,C   # trailing comment\n  C ,  D \n\t\nD\tA\n")
    graph = read_graph(path)
    assert isinstance(graph, nx.Graph)
    assert not graph.is_directed()
    assert list(graph.nodes) == ["A", "B", "C", "D"]
    assert {frozenset(e) for e in graph.edges} == {frozenset(e) for e in ["AB", "BC", "CD", "DA"]}


def test_numeric_names_stay_strings(tmp_path):
    graph = read_graph(write(tmp_path, "g.edges", "0 1\n1 2\n10 2\n"))
    assert list(graph.nodes) == ["0", "1", "2", "10"]
    assert all(isinstance(n, str) for n in graph.nodes)


def test_weights_are_floats_and_unweighted_edges_have_none(tmp_path):
    graph = read_graph(write(tmp_path, "g.csv", "a,b,0.5\nb,c\nc,a,2\n"))
    assert graph["a"]["b"]["weight"] == 0.5
    assert graph["c"]["a"]["weight"] == 2.0
    assert "weight" not in graph["b"]["c"]


def test_directed_edge_list(tmp_path):
    graph = read_graph(write(tmp_path, "g.txt", "u v\nv w\n"), directed=True)
    assert graph.is_directed()
    assert graph.has_edge("u", "v")
    assert not graph.has_edge("v", "u")


@pytest.mark.parametrize(
    ("text", "lineno"),
    [("a b\nc\n", 2), ("a b\n\n# c\na b c d\n", 4), ("x y 1 extra\n", 1)],
)
def test_malformed_line_names_file_and_line(tmp_path, text, lineno):
    path = write(tmp_path, "bad.txt", text)
    with pytest.raises(GraphFileError, match=rf"bad\.txt, line {lineno}: expected 'u v' or 'u v weight'"):
        read_graph(path)


@pytest.mark.parametrize("weight", ["heavy", "nan", "inf"])
def test_bad_weight_names_line_and_value(tmp_path, weight):
    path = write(tmp_path, "w.txt", f"a b 1\nb c {weight}\n")
    with pytest.raises(GraphFileError, match=rf"w\.txt, line 2: weight '{weight}' is not a"):
        read_graph(path)


def test_missing_file(tmp_path):
    with pytest.raises(GraphFileError, match=r"nope\.txt: no such file"):
        read_graph(tmp_path / "nope.txt")


@pytest.mark.parametrize("name", ["nope.graphml", "nope.gml", "nope.adj"])
def test_missing_file_any_format(tmp_path, name):
    with pytest.raises(GraphFileError, match="no such file"):
        read_graph(tmp_path / name)


def test_directory_is_not_a_graph(tmp_path):
    with pytest.raises(GraphFileError, match="is a directory"):
        read_graph(tmp_path)


def test_binary_file_is_unreadable(tmp_path):
    path = tmp_path / "g.txt"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(GraphFileError, match="not a UTF-8 text file"):
        read_graph(path)


def test_empty_file(tmp_path):
    with pytest.raises(GraphFileError, match="holds no edges or nodes"):
        read_graph(write(tmp_path, "empty.txt", "# nothing\n\n"))


def test_errors_are_gnnhw_errors(tmp_path):
    with pytest.raises(GnnhwError):
        read_graph(tmp_path / "missing")


@pytest.mark.parametrize(("suffix", "writer"), [(".graphml", nx.write_graphml), (".gml", nx.write_gml)])
def test_graphml_and_gml_round_trip(tmp_path, suffix, writer):
    original = assignment_graph()
    original["A"]["B"]["weight"] = 2.5
    path = tmp_path / f"fig2{suffix}"
    writer(original, path)
    graph = read_graph(path)
    assert list(graph.nodes) == list("ABCDEF")
    assert {frozenset(e) for e in graph.edges} == {frozenset(e) for e in original.edges}
    assert graph["A"]["B"]["weight"] == 2.5
    assert graph.graph["name"] == path.name


def test_graphml_keeps_direction_and_stringifies_names(tmp_path):
    path = tmp_path / "d.graphml"
    nx.write_graphml(nx.DiGraph([(1, 2), (2, 3)]), path)
    graph = read_graph(path)
    assert graph.is_directed()
    assert set(graph.edges) == {("1", "2"), ("2", "3")}


def test_graphml_extension_is_case_insensitive(tmp_path):
    path = tmp_path / "g.GraphML"
    nx.write_graphml(nx.path_graph(3), path)
    assert read_graph(path).number_of_edges() == 2


@pytest.mark.parametrize(("name", "kind"), [("bad.graphml", "GraphML"), ("bad.gml", "GML")])
def test_malformed_graphml_or_gml(tmp_path, name, kind):
    path = write(tmp_path, name, "this is <not a graph\n")
    with pytest.raises(GraphFileError, match=rf"bad\.\w+: not a valid {kind} file"):
        read_graph(path)


def test_adjacency_matrix_with_header(tmp_path):
    graph = read_graph(write(tmp_path, "m.adj", "x y z\n0 1 0\n1 0 2\n0 2 0\n"))
    assert not graph.is_directed()
    assert list(graph.nodes) == ["x", "y", "z"]
    assert set(map(frozenset, graph.edges)) == {frozenset("xy"), frozenset("yz")}
    assert "weight" not in graph["x"]["y"]
    assert graph["y"]["z"]["weight"] == 2.0


def test_adjacency_matrix_without_header_and_asymmetric_is_directed(tmp_path):
    graph = read_graph(write(tmp_path, "m.adj", "0,1\n0,0\n"))
    assert graph.is_directed()
    assert list(graph.nodes) == ["0", "1"]
    assert list(graph.edges) == [("0", "1")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 1 0\n1 0 1\n", r"not square: 2 row\(s\) for 3 column\(s\) in its first row"),
        ("0 1\n1 0 1\n", r"line 2: the adjacency matrix is not square: this row has 3 entries, expected 2"),
        ("a b\n0 1\n", r"not square: 1 row\(s\) for 2 node\(s\) named in the header"),
        ("0 1\n1 x\n", r"line 2: entry 'x' is not a number"),
    ],
)
def test_bad_adjacency_matrix(tmp_path, text, message):
    with pytest.raises(GraphFileError, match=message):
        read_graph(write(tmp_path, "m.adj", text))


def test_graphml_with_non_numeric_weight(tmp_path):
    graph = nx.Graph()
    graph.add_edge("a", "b", weight="heavy")
    path = tmp_path / "w.graphml"
    nx.write_graphml(graph, path)
    with pytest.raises(GraphFileError, match=r"w\.graphml: edge a-b has weight 'heavy', which is not a number"):
        read_graph(path)


# ---------------------------------------------------------------------------------------------------------------
# One meaning per graph (issue #8, item 7, example 9): the file forms follow the rules of gnnhw.graph.adjacency.


def test_graphml_parallel_edges_are_summed_as_networkx_does(tmp_path):
    import numpy as np

    from gnnhw.graph.adjacency import self_loop_adjacency

    multi = nx.MultiGraph()
    multi.add_edge("a", "b")
    multi.add_edge("a", "b")
    path = tmp_path / "g.graphml"
    nx.write_graphml(multi, path)
    ours = self_loop_adjacency(read_graph(path), nodelist=["a", "b"])
    theirs = nx.to_numpy_array(nx.read_graphml(path), nodelist=["a", "b"])
    assert ours[0, 1] == 2
    assert np.array_equal(ours.numpy()[0, 1], theirs[0, 1])
    assert torch_equal_to_networkx_route(path)


def torch_equal_to_networkx_route(path) -> bool:
    from gnnhw.graph.adjacency import self_loop_adjacency

    return bool((self_loop_adjacency(read_graph(path)) == self_loop_adjacency(nx.read_graphml(path))).all())


def test_gml_multigraph_parallel_edges_are_summed(tmp_path):
    multi = nx.MultiDiGraph()
    multi.add_edge("a", "b", weight=2.0)
    multi.add_edge("a", "b", weight=0.5)
    path = tmp_path / "g.gml"
    nx.write_gml(multi, path)
    graph = read_graph(path)
    assert graph.is_directed()
    assert graph.edges["a", "b"]["weight"] == 2.5


def test_edge_list_parallel_edges_are_summed_not_last_wins(tmp_path):
    import torch

    from gnnhw.graph.adjacency import normalized_adjacency

    graph = read_graph(write(tmp_path, "g.txt", "0 1 2.0\n0 1 5.0\n"))
    assert graph.edges["0", "1"]["weight"] == 7.0
    ei = torch.tensor([[0, 0, 1, 1], [1, 1, 0, 0]])
    same = normalized_adjacency(ei, torch.tensor([2.0, 5.0, 2.0, 5.0], dtype=torch.float64))
    assert torch.equal(normalized_adjacency(graph, dtype=torch.float64), same)


def test_undirected_edge_list_reverse_line_is_a_parallel_edge(tmp_path):
    graph = read_graph(write(tmp_path, "g.txt", "a b 2\nb a 3\na b\n"))
    assert graph.edges["a", "b"]["weight"] == 6.0
    directed = read_graph(write(tmp_path, "d.txt", "a b 2\nb a 3\na b\n"), directed=True)
    assert directed.edges["a", "b"]["weight"] == 3.0
    assert directed.edges["b", "a"]["weight"] == 3.0


def test_unweighted_parallel_edges_count_and_single_edges_stay_plain(tmp_path):
    graph = read_graph(write(tmp_path, "g.txt", "a b\na b\nb c\n"))
    assert graph.edges["a", "b"]["weight"] == 2.0
    assert "weight" not in graph.edges["b", "c"]


def test_zero_weight_self_loop_is_kept(tmp_path):
    graph = read_graph(write(tmp_path, "g.txt", "a a 0\na b\n"))
    assert graph.has_edge("a", "a")
    assert graph.edges["a", "a"]["weight"] == 0.0


def test_cancelling_parallel_weights_leave_an_edge_of_weight_zero(tmp_path):
    graph = read_graph(write(tmp_path, "g.txt", "a a 1\na a -1\na b\n"))
    assert graph.edges["a", "a"]["weight"] == 0.0


@pytest.mark.parametrize("name", ["g.txt", "g.adj", "g.graphml", "g.gml"])
def test_utf8_byte_order_mark_is_dropped(tmp_path, name):
    texts = {
        "g.txt": "0 1\n1 2\n",
        "g.adj": "0 1 0\n1 0 1\n0 1 0\n",
        "g.graphml": None,
        "g.gml": None,
    }
    path = tmp_path / name
    if texts[name] is None:
        plain = nx.path_graph(["0", "1", "2"])
        (nx.write_graphml if name.endswith("graphml") else nx.write_gml)(plain, path)
        body = path.read_text(encoding="utf-8")
    else:
        body = texts[name]
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    graph = read_graph(path)
    assert list(graph.nodes) == ["0", "1", "2"]


def test_gml_edge_listed_twice_without_the_multigraph_flag_is_a_parallel_edge(tmp_path):
    # networkx refuses it ("edge #1 (0--1) is duplicated", naming internal ids); every other form sums it.
    text = 'graph [\n node [ id 0 label "a" ]\n node [ id 1 label "b" ]\n'
    text += " edge [ source 0 target 1 weight 2.0 ]\n edge [ source 0 target 1 weight 0.5 ]\n]\n"
    graph = read_graph(write(tmp_path, "g.gml", text))
    assert not graph.is_directed()
    assert graph.edges["a", "b"]["weight"] == 2.5
