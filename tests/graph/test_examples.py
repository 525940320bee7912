"""The assignment's example graph (Figure 2)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import torch

from gnnhw.graph.examples import assignment_graph

# The assignment's answer to Q3.2(a), rows/columns A..F.
ASSIGNMENT_A_TILDE = ["110011", "111100", "011100", "011101", "100011", "100111"]


def expected_a_tilde() -> np.ndarray:
    return np.array([[int(c) for c in row] for row in ASSIGNMENT_A_TILDE], dtype=float)


def test_nodes_are_a_to_f_in_order():
    assert list(assignment_graph().nodes) == ["A", "B", "C", "D", "E", "F"]


def test_has_the_eight_undirected_edges():
    graph = assignment_graph()
    assert not graph.is_directed()
    expected = {frozenset(e) for e in ["AB", "AE", "AF", "BC", "BD", "CD", "DF", "EF"]}
    assert {frozenset(e) for e in graph.edges} == expected


def test_networkx_adjacency_plus_identity_is_the_assignments_answer():
    graph = assignment_graph()
    a = nx.to_numpy_array(graph, nodelist=list("ABCDEF"))
    np.testing.assert_array_equal(a + np.eye(6), expected_a_tilde())


def test_self_loop_adjacency_is_the_assignments_answer():
    from gnnhw.graph.adjacency import self_loop_adjacency

    a_tilde = self_loop_adjacency(assignment_graph())
    assert torch.equal(a_tilde.to(torch.float64), torch.tensor(expected_a_tilde()))


def test_diameter_is_three_and_c_to_e_is_three_hops():
    graph = assignment_graph()
    assert nx.diameter(graph) == 3
    assert nx.shortest_path_length(graph, "C", "E") == 3


def test_each_call_returns_a_new_graph():
    first = assignment_graph()
    first.add_edge("C", "E")
    assert not assignment_graph().has_edge("C", "E")
