"""Receptive fields (hop-based and measured by autograd), updates needed, and the diameter."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from gnnhw.errors import ConfigError, GnnhwError, NodeNotFoundError, NoPathError
from gnnhw.graph.examples import assignment_graph
from gnnhw.graph.receptive import (
    MAX_LAYERS,
    empirical_receptive_field,
    empirical_receptive_fields,
    graph_diameter,
    receptive_field,
    receptive_field_sizes,
    updates_needed,
)


def _disconnected() -> nx.Graph:
    """A 6-path (diameter 5), a triangle and an isolated node, with string names."""
    graph = nx.Graph()
    graph.add_edges_from([("p0", "p1"), ("p1", "p2"), ("p2", "p3"), ("p3", "p4"), ("p4", "p5")])
    graph.add_edges_from([("t0", "t1"), ("t1", "t2"), ("t2", "t0")])
    graph.add_node("lonely")
    return graph


def _strings(graph: nx.Graph) -> nx.Graph:
    return nx.relabel_nodes(graph, {n: f"n{n}" for n in graph.nodes})


# Seeded random graphs, small enough (N * diameter^2 GCN layers each) to sweep every node and depth quickly.
UNDIRECTED = {
    "assignment": assignment_graph(),
    "disconnected": _disconnected(),
    "gnp-0": _strings(nx.gnp_random_graph(11, 0.18, seed=0)),  # 7 components
    "gnp-3": _strings(nx.gnp_random_graph(11, 0.18, seed=3)),  # 4 components
    "gnp-connected": _strings(nx.gnp_random_graph(10, 0.22, seed=1)),
    "tree": _strings(nx.random_labeled_tree(8, seed=1)),
}
DIRECTED = {
    "digraph-0": _strings(nx.gnp_random_graph(8, 0.3, seed=0, directed=True)),
    "digraph-1": _strings(nx.gnp_random_graph(8, 0.3, seed=1, directed=True)),
    "digraph-weak": _strings(nx.gnp_random_graph(9, 0.2, seed=0, directed=True)),  # not weakly connected
}
ALL = {**UNDIRECTED, **DIRECTED}


def test_random_graphs_include_disconnected_ones():
    assert not nx.is_connected(UNDIRECTED["gnp-0"])
    assert not nx.is_connected(UNDIRECTED["gnp-3"])
    assert nx.is_connected(UNDIRECTED["gnp-connected"])
    assert not nx.is_weakly_connected(DIRECTED["digraph-weak"])


def _reference_field(graph: nx.Graph, node, k: int) -> set:
    """{j : (Ã^k)[j, i] != 0}: A[j, i] = 1 for an edge j -> i, the direction messages flow."""
    nodes = list(graph.nodes)
    a_tilde = (nx.to_numpy_array(graph, nodelist=nodes, weight=None) + np.eye(len(nodes))) > 0
    reach = np.eye(len(nodes), dtype=bool)
    for _ in range(k):
        reach = (reach.astype(int) @ a_tilde.astype(int)) > 0
    i = nodes.index(node)
    return {nodes[j] for j in range(len(nodes)) if reach[j, i]}


def _depths(graph: nx.Graph) -> range:
    return range(graph_diameter(graph).value + 2)


# ---------------------------------------------------------------------------------------------- hop-based


def test_assignment_graph_fields_of_c():
    graph = assignment_graph()
    assert receptive_field(graph, "C", 0) == {"C"}
    assert receptive_field(graph, "C", 1) == {"B", "C", "D"}
    assert receptive_field(graph, "C", 2) == {"A", "B", "C", "D", "F"}
    assert receptive_field(graph, "C", 3) == set("ABCDEF")


@pytest.mark.parametrize("name", sorted(ALL))
def test_hop_field_is_the_nonzero_pattern_of_a_tilde_power(name):
    graph = ALL[name]
    for node in graph.nodes:
        for k in _depths(graph):
            assert receptive_field(graph, node, k) == _reference_field(graph, node, k), (node, k)


def test_directed_field_follows_edges_into_the_node():
    graph = nx.DiGraph([("a", "b"), ("b", "c")])
    assert receptive_field(graph, "c", 2) == {"a", "b", "c"}
    assert receptive_field(graph, "a", 2) == {"a"}


@pytest.mark.parametrize("name", sorted(UNDIRECTED))
def test_sizes_grow_until_the_eccentricity_then_stop(name):
    graph = UNDIRECTED[name]
    max_layers = graph_diameter(graph).value + 3
    sizes = receptive_field_sizes(graph, max_layers)
    for node in graph.nodes:
        component = nx.node_connected_component(graph, node)
        eccentricity = nx.eccentricity(graph.subgraph(component), v=node)
        series = sizes[node]
        assert len(series) == max_layers + 1
        assert series[0] == 1
        assert all(series[k] < series[k + 1] for k in range(eccentricity)), (node, series)
        assert all(size == len(component) for size in series[eccentricity:]), (node, series)


@pytest.mark.parametrize("name", sorted(ALL))
def test_sizes_equal_the_fields_lengths(name):
    graph = ALL[name]
    sizes = receptive_field_sizes(graph, 4)
    assert list(sizes) == list(graph.nodes)
    for node in graph.nodes:
        assert sizes[node] == [len(receptive_field(graph, node, k)) for k in range(5)]


def test_assignment_sizes_saturate_at_the_diameter():
    sizes = receptive_field_sizes(assignment_graph(), 4)
    assert all(series[3] == 6 for series in sizes.values())
    assert sizes["C"][2] == 5  # C and E are the two nodes 3 hops apart
    assert sizes["E"][2] == 5


# ---------------------------------------------------------------------------------------------- autograd


@pytest.mark.parametrize("name", sorted(ALL))
def test_autograd_fields_equal_hop_fields_for_every_node_and_depth(name):
    graph = ALL[name]
    depths = _depths(graph)
    for seed, node in enumerate(graph.nodes):
        measured = empirical_receptive_fields(graph, node, depths[-1], seed=seed)
        assert len(measured) == len(depths)
        for k in depths:
            assert measured[k] == receptive_field(graph, node, k), (node, k)


@pytest.mark.parametrize("k", range(5))
def test_single_depth_autograd_field_equals_hop_field(k):
    graph = ALL["gnp-connected"]
    for node in ["n0", "n5"]:
        assert empirical_receptive_field(graph, node, k, seed=7) == receptive_field(graph, node, k)


def test_autograd_field_ignores_edge_weights():
    graph = assignment_graph()
    nx.set_edge_attributes(graph, -1.0, "weight")  # would make Â's entries cancel if used
    assert empirical_receptive_field(graph, "C", 2) == receptive_field(graph, "C", 2)


def test_zero_layers_is_the_node_alone():
    assert empirical_receptive_field(assignment_graph(), "E", 0) == {"E"}
    assert receptive_field(assignment_graph(), "E", 0) == {"E"}


@pytest.mark.parametrize("func", [receptive_field, empirical_receptive_field])
@pytest.mark.parametrize("layers", [-1, 1.5, True])
def test_bad_num_layers(func, layers):
    with pytest.raises(ConfigError, match="num_layers must be a non-negative integer"):
        func(assignment_graph(), "A", layers)


def test_bad_max_layers():
    with pytest.raises(ConfigError, match="max_layers must be a non-negative integer, got -2"):
        receptive_field_sizes(assignment_graph(), -2)


@pytest.mark.parametrize("func", [receptive_field, empirical_receptive_field])
def test_unknown_node_lists_known_nodes(func):
    with pytest.raises(NodeNotFoundError, match=r"node 'Z' is not in the graph; known nodes: A, B, C, D, E, F$"):
        func(assignment_graph(), "Z", 1)


def test_unknown_node_message_is_truncated_on_big_graphs():
    with pytest.raises(NodeNotFoundError, match=r"\.\.\. \(100 in all\)"):
        receptive_field(nx.path_graph(100), -1, 1)


# ---------------------------------------------------------------------------------------------- updates


def test_c_to_e_needs_three_updates_along_c_b_a_e():
    result = updates_needed(assignment_graph(), "C", "E")
    assert result.count == 3
    assert result.path == ["C", "B", "A", "E"]


def test_tie_break_follows_node_order():
    graph = nx.Graph()
    graph.add_nodes_from("DFABCE")  # D and F now come before B and A
    graph.add_edges_from(assignment_graph().edges)
    assert updates_needed(graph, "C", "E").path == ["C", "D", "F", "E"]


def test_same_node_needs_no_update():
    assert updates_needed(assignment_graph(), "B", "B") == (0, ["B"])


@pytest.mark.parametrize("name", sorted(ALL))
def test_count_is_the_shortest_path_length_and_path_is_valid(name):
    graph = ALL[name]
    lengths = dict(nx.all_pairs_shortest_path_length(graph))
    for source in graph.nodes:
        for target in graph.nodes:
            if target not in lengths[source]:
                with pytest.raises(NoPathError):
                    updates_needed(graph, source, target)
                continue
            count, path = updates_needed(graph, source, target)
            assert count == lengths[source][target] == len(path) - 1
            assert path[0] == source
            assert path[-1] == target
            assert all(graph.has_edge(u, v) for u, v in zip(path, path[1:], strict=False))


def test_count_equals_the_depth_at_which_the_source_enters_the_field():
    graph = assignment_graph()
    count = updates_needed(graph, "C", "E").count
    assert "C" not in receptive_field(graph, "E", count - 1)
    assert "C" in receptive_field(graph, "E", count)


def test_directed_updates_follow_edge_direction():
    graph = nx.DiGraph([("a", "b"), ("b", "c")])
    assert updates_needed(graph, "a", "c") == (2, ["a", "b", "c"])
    with pytest.raises(NoPathError, match="no path from 'c' to 'a'"):
        updates_needed(graph, "c", "a")


def test_no_path_between_components():
    with pytest.raises(NoPathError, match="no path from 'p0' to 't1'"):
        updates_needed(_disconnected(), "p0", "t1")


@pytest.mark.parametrize(("source", "target"), [("Q", "E"), ("C", "Q")])
def test_updates_unknown_node(source, target):
    with pytest.raises(NodeNotFoundError, match="node 'Q' is not in the graph; known nodes: A, B, C, D, E, F"):
        updates_needed(assignment_graph(), source, target)


# ---------------------------------------------------------------------------------------------- diameter


def test_assignment_diameter():
    assert graph_diameter(assignment_graph()) == (3, True, 6, 6)


def test_disconnected_diameter_is_the_largest_components():
    result = graph_diameter(_disconnected())
    assert result == (5, False, 6, 10)


@pytest.mark.parametrize("name", sorted(UNDIRECTED))
def test_diameter_matches_networkx_on_the_largest_component(name):
    graph = UNDIRECTED[name]
    largest = max(nx.connected_components(graph), key=len)
    assert graph_diameter(graph).value == nx.diameter(graph.subgraph(largest))


def test_strongly_connected_digraph_diameter_matches_networkx():
    graph = nx.DiGraph([(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)])
    assert graph_diameter(graph).value == nx.diameter(graph)


def test_empty_graph_has_no_diameter():
    with pytest.raises(GnnhwError, match="no nodes"):
        graph_diameter(nx.Graph())


def test_sizes_for_chosen_nodes_equal_the_full_table_and_check_the_nodes() -> None:

    graph = assignment_graph()
    full = receptive_field_sizes(graph, 3)
    assert receptive_field_sizes(graph, 3, ["E", "A"]) == {"E": full["E"], "A": full["A"]}
    with pytest.raises(NodeNotFoundError, match="'Z'"):
        receptive_field_sizes(graph, 3, ["Z"])


def test_depth_above_the_declared_maximum_is_refused() -> None:

    with pytest.raises(ConfigError, match=f"at most {MAX_LAYERS}"):
        receptive_field_sizes(assignment_graph(), MAX_LAYERS + 1)


def test_diameter_work_is_bounded_on_request() -> None:

    path = nx.path_graph(50)
    assert graph_diameter(path, max_nodes=50).value == 49
    with pytest.raises(GnnhwError, match="50 nodes"):
        graph_diameter(path, max_nodes=49)


def test_updates_needed_keeps_the_first_shortest_path_in_node_order_on_random_graphs() -> None:

    for seed in range(5):
        graph = nx.gnp_random_graph(40, 0.08, seed=seed, directed=seed % 2 == 1)
        order = {n: i for i, n in enumerate(graph.nodes)}
        for source, target in [(0, 39), (5, 17), (3, 3)]:
            if not nx.has_path(graph, source, target):
                continue
            got = updates_needed(graph, source, target)
            to_target = nx.single_source_shortest_path_length(graph.reverse() if graph.is_directed() else graph, target)
            assert got.count == to_target[source]
            for a, b in zip(got.path, got.path[1:], strict=False):  # each step: the first node still on a shortest path
                succ = graph.successors(a) if graph.is_directed() else graph.neighbors(a)
                best = min((v for v in succ if to_target.get(v) == to_target[a] - 1), key=order.__getitem__)
                assert b == best
