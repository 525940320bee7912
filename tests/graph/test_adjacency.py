"""Ã = A + I and Â = D̃^-1/2 Ã D̃^-1/2: against networkx, a direct dense computation and PyG's gcn_norm."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from gnnhw.errors import GraphError, NodeNotFoundError
from gnnhw.graph.adjacency import check_edge_index, normalized_adjacency, self_loop_adjacency, to_edge_index


def random_graph(seed: int, n: int = 12, p: float = 0.25, directed: bool = False, weighted: bool = True) -> nx.Graph:
    """A random graph with isolated nodes, a few self-loops and (optionally) random positive weights."""
    rng = np.random.default_rng(seed)
    g = nx.gnp_random_graph(n, p, seed=seed, directed=directed)
    g.add_nodes_from([n, n + 1])  # isolated nodes
    for node in rng.choice(n, size=3, replace=False):
        g.add_edge(int(node), int(node))  # some self-loops already present
    if weighted:
        for u, v in g.edges:
            g.edges[u, v]["weight"] = float(rng.uniform(0.1, 3.0))
    return g


def dense_normalized(a_tilde: np.ndarray) -> np.ndarray:
    """D̃^-1/2 Ã^T D̃^-1/2 with D̃ the column sums of Ã (in-degree + loop), written out directly."""
    deg = a_tilde.sum(axis=0)
    inv = np.where(deg > 0, deg**-0.5, 0.0)
    return inv[:, None] * a_tilde.T * inv[None, :]


def nx_self_loop(g: nx.Graph) -> np.ndarray:
    a = nx.to_numpy_array(g, weight="weight")
    diag = np.diag(a).copy()
    np.fill_diagonal(a, np.where(diag != 0, diag, 1.0))
    return a


@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_self_loop_adjacency_equals_networkx_plus_remaining_loops(directed: bool, seed: int) -> None:
    g = random_graph(seed, directed=directed)
    got = self_loop_adjacency(g, dtype=torch.float64).numpy()
    np.testing.assert_allclose(got, nx_self_loop(g), atol=1e-12)


def test_self_loop_adjacency_keeps_existing_loop_weight() -> None:
    g = nx.Graph()
    g.add_edge("a", "b", weight=2.0)
    g.add_edge("a", "a", weight=5.0)
    a = self_loop_adjacency(g, nodelist=["b", "a"])
    assert torch.equal(a, torch.tensor([[1.0, 2.0], [2.0, 5.0]]))


def test_self_loop_adjacency_dense_input() -> None:
    a = self_loop_adjacency([[0, 1, 0], [1, 3, 1], [0, 0, 0]])
    assert torch.equal(a, torch.tensor([[1.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 0.0, 1.0]]))
    assert torch.equal(self_loop_adjacency(np.zeros((2, 2))), torch.eye(2))
    assert torch.equal(self_loop_adjacency(torch.zeros(2, 2)), torch.eye(2))


@pytest.mark.parametrize(
    "bad", [[[0, 1, 0], [1, 0, 1]], [["a", "b"], ["c", "d"]], [[0, 1], [1]], np.zeros(3), [[0, float("nan")], [1, 0]]]
)
def test_self_loop_adjacency_rejects_bad_dense(bad: object) -> None:
    with pytest.raises(GraphError):
        self_loop_adjacency(bad)


def test_unknown_node_in_nodelist() -> None:
    g = nx.path_graph(3)
    with pytest.raises(NodeNotFoundError, match="'x'"):
        self_loop_adjacency(g, nodelist=[0, "x"])
    with pytest.raises(NodeNotFoundError):
        normalized_adjacency(g, nodelist=[7])


def test_non_numeric_edge_weight() -> None:
    g = nx.Graph()
    g.add_edge(0, 1, weight="heavy")
    with pytest.raises(GraphError, match="heavy"):
        self_loop_adjacency(g)


def test_to_edge_index_undirected_gives_both_directions() -> None:
    g = nx.Graph()
    g.add_edge("u", "v", weight=2.5)
    g.add_edge("v", "v", weight=4.0)
    edge_index, edge_weight, nodes = to_edge_index(g)
    assert nodes == ["u", "v"]
    pairs = {(int(i), int(j)): float(w) for (i, j), w in zip(edge_index.t(), edge_weight, strict=True)}
    assert pairs == {(0, 1): 2.5, (1, 0): 2.5, (1, 1): 4.0}


def test_to_edge_index_sums_multigraph_edges() -> None:
    g = nx.MultiDiGraph()
    g.add_edge(0, 1, weight=1.0)
    g.add_edge(0, 1, weight=2.0)
    edge_index, edge_weight, _ = to_edge_index(g)
    assert edge_index.tolist() == [[0], [1]]
    assert edge_weight.tolist() == [3.0]


@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_normalized_adjacency_equals_direct_dense_computation(directed: bool, seed: int) -> None:
    g = random_graph(seed, directed=directed)
    got = normalized_adjacency(g, dtype=torch.float64).numpy()
    expected = dense_normalized(nx_self_loop(g))
    np.testing.assert_allclose(got, expected, atol=1e-12)
    if not directed:
        np.testing.assert_allclose(got, got.T, atol=1e-12)
        # the assignment's formula with Ã = A + I built by self_loop_adjacency
        a_tilde = self_loop_adjacency(g, dtype=torch.float64)
        d = a_tilde.sum(1) ** -0.5
        np.testing.assert_allclose(got, (d[:, None] * a_tilde * d[None, :]).numpy(), atol=1e-12)


def test_normalized_adjacency_sparse_equals_dense() -> None:
    g = random_graph(5, directed=True)
    dense = normalized_adjacency(g, dtype=torch.float64)
    sparse = normalized_adjacency(g, sparse=True, dtype=torch.float64)
    assert sparse.layout == torch.sparse_csr
    torch.testing.assert_close(sparse.to_dense(), dense, atol=1e-12, rtol=0)


def pyg_matrix(edge_index: torch.Tensor, edge_weight: torch.Tensor | None, n: int) -> torch.Tensor:
    """The matrix PyG's gcn_norm describes: M[i, j] = sum of norms of edges j -> i."""
    ei, w = gcn_norm(edge_index, edge_weight, n, add_self_loops=True, dtype=torch.float64)
    return torch.zeros(n, n, dtype=torch.float64).index_put((ei[1], ei[0]), w, accumulate=True)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_normalized_adjacency_equals_pyg_gcn_norm_on_edge_index(weighted: bool, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    n, e = 15, 40
    edge_index = torch.randint(0, n - 3, (2, e), generator=gen)  # nodes n-3.. n-1 are isolated
    edge_index[:, :4] = edge_index[:, 4:8]  # duplicate edges
    edge_index[1, 8:11] = edge_index[0, 8:11]  # self-loops already present
    weight = torch.rand(e, generator=gen, dtype=torch.float64) + 0.1 if weighted else None
    got = normalized_adjacency(edge_index, weight, n, dtype=torch.float64)
    torch.testing.assert_close(got, pyg_matrix(edge_index, weight, n), atol=1e-12, rtol=0)


def test_normalized_adjacency_no_edges_and_isolated_nodes() -> None:
    empty = torch.empty(2, 0, dtype=torch.long)
    assert torch.equal(normalized_adjacency(empty, num_nodes=3), torch.eye(3))
    g = nx.Graph()
    g.add_nodes_from(range(4))
    assert torch.equal(normalized_adjacency(g), torch.eye(4))


def test_zero_degree_gives_zero_not_nan() -> None:
    edge_index = torch.tensor([[0, 1], [0, 1]])  # node 0 has a loop of weight 0: degree 0
    m = normalized_adjacency(edge_index, torch.tensor([0.0, 2.0]))
    assert not torch.isnan(m).any()
    torch.testing.assert_close(m, torch.tensor([[0.0, 0.0], [0.0, 1.0]]))


def test_dense_input_to_normalized_adjacency() -> None:
    a = np.array([[0.0, 1.0], [1.0, 0.0]])
    torch.testing.assert_close(normalized_adjacency(a), torch.full((2, 2), 0.5))


@pytest.mark.parametrize(
    ("edge_index", "weight", "num_nodes", "match"),
    [
        (torch.tensor([[0, 5], [1, 0]]), None, 3, "node id 5; valid ids are 0..2"),
        (torch.tensor([[0, -1], [1, 0]]), None, 3, "node id -1"),
        (torch.tensor([[0, 1, 2]]), None, None, r"shape \(1, 3\)"),
        (torch.tensor([[0, 1], [1, 0]]), torch.tensor([1.0, float("nan")]), None, "NaN"),
        (torch.tensor([[0, 1], [1, 0]]), torch.tensor([1.0, float("inf")]), None, "NaN or infinite"),
        (torch.tensor([[0, 1], [1, 0]]), torch.tensor([1.0]), None, r"shape \(1,\)"),
        (torch.tensor([[0, 1], [1, 0]]), torch.tensor([-5.0, 1.0]), None, "degree -4 < 0"),
    ],
)
def test_bad_edge_index_or_weights(edge_index, weight, num_nodes, match) -> None:
    with pytest.raises(GraphError, match=match):
        normalized_adjacency(edge_index, weight, num_nodes)


def test_float_edge_index_is_rejected_or_read_as_dense() -> None:
    with pytest.raises(GraphError, match="square"):
        normalized_adjacency(torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 1.0]]))
    with pytest.raises(GraphError, match="dtype torch.float32"):
        check_edge_index(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    with pytest.raises(GraphError, match="edge_weight and num_nodes"):
        normalized_adjacency(nx.path_graph(2), num_nodes=2)


# ---------------------------------------------------------------------------------------------------------------
# One meaning per graph (issue #8, item 7, example 9) and bounded allocations (issue #10).


def test_zero_weight_self_loop_is_a_loop_in_a_tilde_and_a_hat_alike() -> None:
    g = nx.Graph()
    g.add_edge("a", "a", weight=0.0)
    g.add_edge("a", "b")
    a_tilde = self_loop_adjacency(g, dtype=torch.float64)
    assert a_tilde.tolist() == [[0.0, 1.0], [1.0, 1.0]]  # the loop's own weight 0, not the default 1
    torch.testing.assert_close(
        normalized_adjacency(g, dtype=torch.float64),
        torch.from_numpy(dense_normalized(a_tilde.numpy())),
        atol=1e-12,
        rtol=0,
    )


def test_self_loop_adjacency_accepts_edge_index_with_the_same_rules() -> None:
    ei = torch.tensor([[0, 0, 1, 1], [1, 1, 0, 1]])  # parallel 0 -> 1, and a loop of weight 0 at node 1
    w = torch.tensor([2.0, 5.0, 1.0, 0.0], dtype=torch.float64)
    assert self_loop_adjacency(ei, w).tolist() == [[1.0, 7.0], [1.0, 0.0]]
    assert self_loop_adjacency(ei, w, num_nodes=3)[2, 2] == 1.0


def test_duplicate_self_loops_in_edge_index_keep_the_last_as_gcnconv() -> None:
    ei = torch.tensor([[0, 0, 0], [0, 0, 1]])
    w = torch.tensor([2.0, 5.0, 1.0], dtype=torch.float64)
    assert self_loop_adjacency(ei, w)[0, 0] == 5.0
    norm_ei, norm_w = gcn_norm(ei, w, 2, add_self_loops=True)
    ref = torch.zeros(2, 2, dtype=torch.float64).index_put_((norm_ei[1], norm_ei[0]), norm_w, accumulate=True)
    torch.testing.assert_close(normalized_adjacency(ei, w), ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize(("weight", "degree"), [(-1.0, "0"), (-2.0, "-1")])
def test_non_positive_degree_is_refused_naming_the_label(weight, degree) -> None:
    from gnnhw.errors import DegreeError

    g = nx.Graph()
    g.add_edge("a", "b", weight=weight)
    with pytest.raises(DegreeError, match=rf"node 'a' has degree {degree} "):
        normalized_adjacency(g)
    ei, w, _ = to_edge_index(g)
    with pytest.raises(DegreeError, match=rf"node 0 has degree {degree} "):
        normalized_adjacency(ei, w)


def test_lone_zero_weight_loop_is_an_isolated_node_not_an_error() -> None:
    g = nx.DiGraph()
    g.add_edge("a", "a", weight=0.0)
    g.add_edge("b", "b")
    assert normalized_adjacency(g).tolist() == [[0.0, 0.0], [0.0, 1.0]]


def test_absurd_node_id_is_refused_before_allocating() -> None:
    ei = torch.tensor([[0], [10**12]])
    with pytest.raises(GraphError, match=r"node id 1000000000000, so num_nodes=1000000000001"):
        normalized_adjacency(ei)
    with pytest.raises(GraphError, match=r"node id 1000000000000"):
        normalized_adjacency(ei, sparse=True)
    with pytest.raises(GraphError, match=r"node id 1000000000000"):
        check_edge_index(ei)
    with pytest.raises(GraphError, match=r"num_nodes=1000000000000:"):
        check_edge_index(torch.tensor([[0], [1]]), num_nodes=10**12)


def test_dense_result_beyond_memory_is_refused_with_the_sparse_alternative() -> None:
    ei = torch.tensor([[0], [10**7]])  # 10^7 nodes: node-sized tensors fit, an N x N matrix (800 TB) does not
    with pytest.raises(GraphError, match=r"needs .*sparse=True"):
        normalized_adjacency(ei)
    with pytest.raises(GraphError, match=r"dense Ã"):
        self_loop_adjacency(ei)


def test_sparse_adjacency_input_is_never_densified() -> None:
    n = 10**6  # dense: 4 TB; as an edge list: two entries
    a = torch.sparse_coo_tensor(torch.tensor([[0, 1], [1, 0]]), torch.tensor([2.0, 2.0]), (n, n))
    edge_index, edge_weight, nodes = to_edge_index(a)
    assert edge_index.tolist() == [[0, 1], [1, 0]]
    assert edge_weight.tolist() == [2.0, 2.0]
    assert len(nodes) == n
    with pytest.raises(GraphError, match=r"dense Â of 1000000 x 1000000 nodes .* needs"):
        normalized_adjacency(a)
