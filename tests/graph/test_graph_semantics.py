"""One meaning per graph (issue #8, item 7): every input form of the same graph gives the same Ã, Â and GCN output.

Seeded random graphs with parallel edges, existing self-loops (zero-weight ones too, in the forms that can state
them) and weights, written in every form gnnhw reads: networkx Graph/DiGraph and MultiGraph/MultiDiGraph, an
edge-list file, GraphML, GML, a ``.adj`` matrix file, a dense tensor, and ``edge_index`` + ``edge_weight``. The
expected Ã is built here from the rules of :mod:`gnnhw.graph.adjacency` (parallel edges summed; a node's own loop
weight, else 1), written out independently of the library.
"""

from __future__ import annotations

import random
from pathlib import Path

import networkx as nx
import pytest
import torch
from torch_geometric.nn import GCNConv

from gnnhw.graph import GCNLayer
from gnnhw.graph.adjacency import normalized_adjacency, self_loop_adjacency, to_edge_index
from gnnhw.graph.io import read_graph

WEIGHTS = [0.25, 0.5, 1.0, 1.5, 2.0, 3.0]  # dyadic: sums are exact in float64 and survive text round trips


def random_multigraph(seed: int, directed: bool, zero_loops: bool) -> tuple[list[str], list[tuple[str, str, float]]]:
    """Nodes and a list of edges ``(u, v, w)`` with parallel edges, self-loops (at most one listed per node) and
    no isolated node (an edge list cannot state one)."""
    rng = random.Random(seed)
    n = rng.randint(2, 9)
    nodes = [f"n{i}" for i in range(n)]
    edges = []
    for _ in range(rng.randint(1, 3 * n)):
        u, v = rng.sample(nodes, 2)
        edges.append((u, v, rng.choice(WEIGHTS)))
    for _ in range(rng.randint(0, 4)):  # parallel copies of existing edges
        u, v, _w = rng.choice(edges)
        if not directed and rng.random() < 0.5:
            u, v = v, u  # undirected: the reverse is the same edge
        edges.append((u, v, rng.choice(WEIGHTS)))
    for node in rng.sample(nodes, rng.randint(0, n)):  # existing self-loops
        weight = 0.0 if zero_loops and rng.random() < 0.4 else rng.choice(WEIGHTS)
        edges.append((node, node, weight))
    touched = {u for u, _, _ in edges} | {v for _, v, _ in edges}
    for node in nodes:
        if node not in touched:
            edges.append((node, rng.choice([m for m in nodes if m != node]), rng.choice(WEIGHTS)))
    rng.shuffle(edges)
    order = {node: min(i for i, (u, v, _) in enumerate(edges) if node in (u, v)) for node in nodes}
    return sorted(nodes, key=order.__getitem__), edges  # nodes in order of first appearance, as files give them


def expected_a_tilde(nodes, edges, directed) -> torch.Tensor:
    """The rules, written out: A[i, j] = sum of the weights of i -> j; Ã[i, i] = own loop weight, else 1."""
    index = {node: i for i, node in enumerate(nodes)}
    a = torch.zeros(len(nodes), len(nodes), dtype=torch.float64)
    has_loop = [False] * len(nodes)
    for u, v, w in edges:
        i, j = index[u], index[v]
        a[i, j] += w
        if not directed and i != j:
            a[j, i] += w
        if i == j:
            has_loop[i] = True
    for i, looped in enumerate(has_loop):
        if not looped:
            a[i, i] = 1.0
    return a


def forms(tmp_path: Path, nodes, edges, directed: bool, zero_loops: bool):
    """Every input form of the graph: (name, input, kwargs) for the library functions."""
    simple = nx.DiGraph() if directed else nx.Graph()
    multi = nx.MultiDiGraph() if directed else nx.MultiGraph()
    simple.add_nodes_from(nodes)
    multi.add_nodes_from(nodes)
    for u, v, w in edges:
        multi.add_edge(u, v, weight=w)
        if simple.has_edge(u, v):
            simple.edges[u, v]["weight"] += w
        else:
            simple.add_edge(u, v, weight=w)
    index = {node: i for i, node in enumerate(nodes)}
    yield "networkx simple", simple, {"nodelist": nodes}
    yield "networkx multigraph", multi, {"nodelist": nodes}

    edge_file = tmp_path / "g.txt"
    edge_file.write_text("".join(f"{u} {v} {w!r}\n" for u, v, w in edges), encoding="utf-8")
    yield "edge list file", read_graph(edge_file, directed=directed), {"nodelist": nodes}
    graphml = tmp_path / "g.graphml"
    nx.write_graphml(multi, graphml)
    yield "GraphML file", read_graph(graphml), {"nodelist": nodes}
    gml = tmp_path / "g.gml"
    nx.write_gml(multi, gml)
    yield "GML file", read_graph(gml), {"nodelist": nodes}

    src = torch.tensor([index[u] for u, _, _ in edges] + [index[v] for u, v, _ in edges if not directed and u != v])
    dst = torch.tensor([index[v] for _, v, _ in edges] + [index[u] for u, v, _ in edges if not directed and u != v])
    weight = torch.tensor(
        [w for _, _, w in edges] + [w for u, v, w in edges if not directed and u != v], dtype=torch.float64
    )
    yield "edge_index + edge_weight", torch.stack([src, dst]), {"edge_weight": weight, "num_nodes": len(nodes)}

    if not zero_loops:  # a dense matrix cannot state a zero-weight edge (a 0 entry is no edge)
        dense = expected_a_tilde(nodes, edges, directed)
        for i, node in enumerate(nodes):  # back from Ã to A: the diagonal holds only listed loops
            if not any(u == v == node for u, v, _ in edges):
                dense[i, i] = 0.0
        yield "dense tensor", dense, {}
        yield "sparse COO tensor", dense.to_sparse_coo(), {}
        yield "sparse CSR tensor", dense.to_sparse_csr(), {}
        adj = tmp_path / "g.adj"
        adj.write_text(
            " ".join(nodes) + "\n" + "".join(" ".join(repr(float(x)) for x in row) + "\n" for row in dense.tolist()),
            encoding="utf-8",
        )
        yield ".adj file", read_graph(adj), {"nodelist": nodes}


def layer_input(source, kwargs):
    """(edge_index, edge_weight, num_nodes) that GCNLayer takes, for any form."""
    if isinstance(source, torch.Tensor) and not source.is_floating_point() and source.layout == torch.strided:
        return source, kwargs["edge_weight"], kwargs["num_nodes"]
    edge_index, edge_weight, nodes = to_edge_index(source, kwargs.get("nodelist"), dtype=torch.float64)
    return edge_index, edge_weight, len(nodes)


@pytest.mark.parametrize("zero_loops", [False, True], ids=["loops", "zero-weight-loops"])
@pytest.mark.parametrize("directed", [False, True], ids=["undirected", "directed"])
@pytest.mark.parametrize("seed", range(6))
def test_every_input_form_gives_the_same_a_tilde_a_hat_and_layer_output(tmp_path, seed, directed, zero_loops):
    nodes, edges = random_multigraph(seed, directed, zero_loops)
    a_tilde = expected_a_tilde(nodes, edges, directed)
    deg = a_tilde.sum(dim=0)  # d_i = sum_j Ã[j, i], weights arriving at i
    inv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))  # 0^-1/2 := 0: a lone zero-weight loop
    a_hat = inv[:, None] * a_tilde.T * inv[None, :]  # PyG's convention: Â[i, j] for the edge j -> i

    torch.manual_seed(seed)
    layer = GCNLayer(3, 2).double()
    conv = GCNConv(3, 2).double()
    with torch.no_grad():
        conv.lin.weight.copy_(layer.weight.t())
        conv.bias.copy_(layer.bias)
    x = torch.randn(len(nodes), 3, dtype=torch.float64)
    expected_out = a_hat @ (x @ layer.weight) + layer.bias

    seen = []
    for name, source, kwargs in forms(tmp_path, nodes, edges, directed, zero_loops):
        seen.append(name)
        got_tilde = self_loop_adjacency(source, **kwargs, dtype=torch.float64)
        assert torch.equal(got_tilde, a_tilde), name
        got_hat = normalized_adjacency(source, **kwargs, dtype=torch.float64)
        torch.testing.assert_close(got_hat, a_hat, atol=1e-12, rtol=0, msg=name)
        sparse_hat = normalized_adjacency(source, **kwargs, dtype=torch.float64, sparse=True).to_dense()
        torch.testing.assert_close(sparse_hat, a_hat, atol=1e-12, rtol=0, msg=name)
        edge_index, edge_weight, num_nodes = layer_input(source, kwargs)
        assert num_nodes == len(nodes)
        torch.testing.assert_close(layer(x, edge_index, edge_weight), expected_out, atol=1e-12, rtol=0, msg=name)
        if isinstance(source, torch.Tensor) and source.layout != torch.strided:  # the layer reads it directly too
            adj_t = source.t()  # A[i, j] is the edge i -> j; the layer takes adj_t (COO: uncoalesced; CSR: CSC)
            torch.testing.assert_close(layer(x, adj_t), expected_out, atol=1e-12, rtol=0, msg=f"{name}, adj_t")
        torch.testing.assert_close(conv(x, edge_index, edge_weight), expected_out, atol=1e-12, rtol=0, msg=name)
    assert len(seen) == (6 if zero_loops else 10)


@pytest.mark.parametrize("weight", [-1.0, -2.0, -0.5])
def test_a_degree_of_zero_or_below_is_refused_alike_by_every_path(tmp_path, weight):
    # Example 9: `a b -1` made node a silently isolated (degree 1 - 1 = 0) while a negative degree raised, naming
    # the internal index 0. -0.5 leaves degree 0.5 > 0: accepted everywhere.
    from gnnhw.errors import DegreeError

    path = tmp_path / "g.txt"
    path.write_text(f"a b {weight}\n", encoding="utf-8")
    graph = read_graph(path)
    edge_index, edge_weight, _ = to_edge_index(graph, dtype=torch.float64)
    layer = GCNLayer(2, 2).double()
    x = torch.randn(2, 2, dtype=torch.float64)
    calls = {
        "normalized_adjacency(graph)": lambda: normalized_adjacency(graph),
        "normalized_adjacency(graph, sparse=True)": lambda: normalized_adjacency(graph, sparse=True),
        "normalized_adjacency(edge_index)": lambda: normalized_adjacency(edge_index, edge_weight),
        "GCNLayer": lambda: layer(x, edge_index, edge_weight),
    }
    for name, call in calls.items():
        if weight > -1:
            call()
            continue
        with pytest.raises(DegreeError, match="node 'a' has degree" if "graph" in name else "node 0 has degree"):
            call()


def test_several_self_loops_of_a_node_are_one_summed_loop_in_every_form_that_merges_them(tmp_path):
    # Rule 1 applies to loops too; only a raw edge_index listing the loop twice follows GCNConv (the last one).
    multi = nx.MultiGraph()
    multi.add_edge("a", "a", weight=2.0)
    multi.add_edge("a", "a", weight=3.0)
    multi.add_edge("a", "b", weight=1.0)
    edge_file = tmp_path / "g.txt"
    edge_file.write_text("a a 2\na a 3\na b 1\n", encoding="utf-8")
    graphml, gml = tmp_path / "g.graphml", tmp_path / "g.gml"
    nx.write_graphml(multi, graphml)
    nx.write_gml(multi, gml)
    want = torch.tensor([[5.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    for source in (multi, read_graph(edge_file), read_graph(graphml), read_graph(gml)):
        assert torch.equal(self_loop_adjacency(source, nodelist=["a", "b"], dtype=torch.float64), want)
    merged, weight, _ = to_edge_index(multi, ["a", "b"], dtype=torch.float64)
    assert int((merged[0] == merged[1]).sum()) == 1  # one loop per node after to_edge_index
    raw = torch.tensor([[0, 0, 0, 1], [0, 0, 1, 0]])
    last = self_loop_adjacency(raw, torch.tensor([2.0, 3.0, 1.0, 1.0], dtype=torch.float64))
    assert last[0, 0] == 3.0  # GCNConv's add_remaining_self_loops keeps the last one listed


@pytest.mark.parametrize("layout", [torch.sparse_coo, torch.sparse_csr, torch.sparse_csc])
def test_a_stored_zero_in_a_sparse_matrix_is_a_zero_weight_edge_everywhere(layout):
    # Edges 0 -> 1 (1.0), 1 -> 0 (2.0) and a loop 1 -> 1 stored with weight 0: a zero-weight loop, so node 1 gets
    # no loop of 1 (rule 2), exactly as the same edges given as an edge_index with edge_weight.
    edge_index = torch.tensor([[0, 1, 1], [1, 0, 1]])
    weight = torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    adj_t = torch.sparse_coo_tensor(edge_index.flip(0), weight, (2, 2)).coalesce()  # adj_t[target, source]
    if layout != torch.sparse_coo:
        adj_t = adj_t.to_sparse_csr() if layout == torch.sparse_csr else adj_t.to_sparse_csc()
    from_edges = normalized_adjacency(edge_index, weight, dtype=torch.float64)
    from_sparse = normalized_adjacency(adj_t.t(), dtype=torch.float64)  # A[source, target]
    torch.testing.assert_close(from_sparse, from_edges, rtol=0, atol=1e-12)
    assert float(from_edges[1, 1]) == 0.0  # the zero-weight loop stays 0, never 1
    layer = GCNLayer(3, 2).double()
    x = torch.randn(2, 3, dtype=torch.float64)
    expected = from_edges @ (x @ layer.weight) + layer.bias
    torch.testing.assert_close(layer(x, adj_t), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(layer(x, edge_index, weight), expected, rtol=0, atol=1e-12)
