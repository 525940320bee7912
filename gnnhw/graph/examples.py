"""The assignment's example graph (Figure 2).

Six nodes A-F and eight undirected edges::

    A-B, A-E, A-F, B-C, B-D, C-D, D-F, E-F

Its adjacency matrix with self-loops, Ã = A + I (rows and columns in the order A..F), is::

    A  1 1 0 0 1 1
    B  1 1 1 1 0 0
    C  0 1 1 1 0 0
    D  0 1 1 1 0 1
    E  1 0 0 0 1 1
    F  1 0 0 1 1 1

The graph's diameter is 3 (e.g. C and E: C-B-A-E or C-D-F-E).
"""

from __future__ import annotations

import networkx as nx

ASSIGNMENT_NODES: tuple[str, ...] = ("A", "B", "C", "D", "E", "F")
ASSIGNMENT_EDGES: tuple[tuple[str, str], ...] = (
    ("A", "B"),
    ("A", "E"),
    ("A", "F"),
    ("B", "C"),
    ("B", "D"),
    ("C", "D"),
    ("D", "F"),
    ("E", "F"),
)


def assignment_graph() -> nx.Graph:
    """The assignment's Figure 2: an undirected, unweighted :class:`networkx.Graph`.

    Nodes are the strings ``"A"`` .. ``"F"``, inserted in that order (so ``list(graph)`` is A..F and every
    matrix built from it has rows and columns A..F); the eight edges are :data:`ASSIGNMENT_EDGES`.
    Each call returns a new graph, so callers may modify it.
    """
    graph = nx.Graph(name="assignment example (Figure 2)")
    graph.add_nodes_from(ASSIGNMENT_NODES)
    graph.add_edges_from(ASSIGNMENT_EDGES)
    return graph
