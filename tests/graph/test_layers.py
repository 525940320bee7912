"""GCNLayer equals PyG's GCNConv: outputs and gradients (x, weight, bias, edge_weight) on random graphs."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import GCNConv

from gnnhw.errors import ConfigError, GraphError, ShapeError
from gnnhw.graph.adjacency import gcn_norm_weights, looped_graph, normalized_adjacency
from gnnhw.graph.layers import GCNAggregate, GCNLayer, SparseAggregate, transpose_csr

ATOL = 1e-5


def random_edges(
    seed: int, n: int = 20, e: int = 60, *, undirected: bool = False, weighted: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Random edges with isolated nodes (the last 3), duplicate edges and a few self-loops already present."""
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, n - 3, (2, e), generator=gen)
    edge_index[:, :5] = edge_index[:, 5:10]  # duplicates
    loop = edge_index[0] == edge_index[1]
    edge_index[1, loop] = (edge_index[1, loop] + 1) % (n - 3)  # no random self-loops...
    edge_index[:, 10:13] = torch.tensor([0, 1, 2])  # ...but three placed ones (their weights replace the +1)
    weight = torch.rand(e, generator=gen) + 0.1 if weighted else None
    if undirected:  # add the reverse of every edge that is not a self-loop
        back = edge_index[0] != edge_index[1]
        edge_index = torch.cat([edge_index, edge_index[:, back].flip(0)], dim=1)
        weight = torch.cat([weight, weight[back]]) if weight is not None else None
    return edge_index, weight


def paired(in_channels: int, out_channels: int, seed: int = 0, bias: bool = True) -> tuple[GCNLayer, GCNConv]:
    torch.manual_seed(seed)
    layer = GCNLayer(in_channels, out_channels, bias=bias)
    if bias:
        torch.nn.init.normal_(layer.bias)  # non-zero, so the bias is really compared
    conv = GCNConv(in_channels, out_channels, bias=bias)
    with torch.no_grad():
        conv.lin.weight.copy_(layer.weight.T)
        if bias:
            conv.bias.copy_(layer.bias)
    return layer, conv


def compare(layer: GCNLayer, conv: GCNConv, x: torch.Tensor, edge_index, edge_weight, *, adj=None, x_ours=None):
    """Forward and backward through both; assert equal outputs and gradients (x, weight, bias, edge_weight)."""
    x_ref = x.clone().requires_grad_()
    x_mine = x.clone().requires_grad_() if x_ours is None else x_ours
    w_ref = edge_weight.clone().requires_grad_() if edge_weight is not None else None
    w_mine = edge_weight.clone().requires_grad_() if edge_weight is not None and adj is None else None
    ref = conv(x_ref, edge_index, w_ref)
    out = layer(x_mine, adj if adj is not None else edge_index, w_mine)
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)
    grad = torch.randn_like(ref)
    (ref * grad).sum().backward()
    (out * grad).sum().backward()
    torch.testing.assert_close(layer.weight.grad, conv.lin.weight.grad.T, atol=ATOL, rtol=0)
    if layer.bias is not None:
        torch.testing.assert_close(layer.bias.grad, conv.bias.grad, atol=ATOL, rtol=0)
    if x_ours is None:
        torch.testing.assert_close(x_mine.grad, x_ref.grad, atol=ATOL, rtol=0)
    if w_mine is not None:
        torch.testing.assert_close(w_mine.grad, w_ref.grad, atol=ATOL, rtol=0)


@pytest.mark.parametrize("undirected", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("in_channels", "out_channels"), [(8, 4), (3, 7)])  # both orders: A(XW) and (AX)W
@pytest.mark.parametrize("seed", [0, 1])
def test_equals_gcnconv_on_random_graphs(undirected, weighted, in_channels, out_channels, seed) -> None:
    edge_index, weight = random_edges(seed, undirected=undirected, weighted=weighted)
    layer, conv = paired(in_channels, out_channels, seed)
    x = torch.randn(20, in_channels, generator=torch.Generator().manual_seed(seed))
    compare(layer, conv, x, edge_index, weight)


def test_equals_gcnconv_without_bias() -> None:
    edge_index, weight = random_edges(3)
    layer, conv = paired(5, 4, bias=False)
    compare(layer, conv, torch.randn(20, 5), edge_index, weight)


def test_equals_gcnconv_with_no_edges() -> None:
    layer, conv = paired(5, 3)
    empty = torch.empty(2, 0, dtype=torch.long)
    compare(layer, conv, torch.randn(6, 5), empty, None)
    compare(layer, conv, torch.randn(6, 5), empty, torch.empty(0))


def test_sparse_adjacency_path_equals_gcnconv() -> None:
    edge_index, weight = random_edges(4)
    layer, conv = paired(6, 4)
    adj = normalized_adjacency(edge_index, weight, 20, sparse=True)
    x = torch.randn(20, 6)
    compare(layer, conv, x, edge_index, weight, adj=adj)
    layer.zero_grad()
    conv.zero_grad()
    compare(layer, conv, x, edge_index, weight, adj=adj.to_sparse_coo())


@pytest.mark.parametrize("layout", [torch.sparse_coo, torch.sparse_csr])
def test_sparse_features_equal_dense(layout) -> None:
    edge_index, weight = random_edges(5)
    layer, conv = paired(10, 4)
    x = torch.randn(20, 10) * (torch.rand(20, 10) < 0.3)  # mostly zeros, like bag-of-words features
    x_sparse = x.to_sparse() if layout == torch.sparse_coo else x.to_sparse_csr()
    compare(layer, conv, x, edge_index, weight, x_ours=x_sparse)


def test_float64() -> None:
    edge_index, weight = random_edges(6)
    layer, conv = paired(4, 3)
    layer.double()
    conv.double()
    compare(layer, conv, torch.randn(20, 4, dtype=torch.float64), edge_index, weight.double())


def test_aggregate_gradcheck_float64() -> None:
    edge_index, weight = random_edges(7, n=8, e=20)
    graph = looped_graph(edge_index, 8)
    norm = gcn_norm_weights(graph, weight.double()).detach().requires_grad_()
    h = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w, x: GCNAggregate.apply(w, x, graph), (norm, h))


def test_sparse_aggregate_gradcheck_float64_and_transpose() -> None:
    edge_index, weight = random_edges(10, n=8, e=20)
    adj = normalized_adjacency(edge_index, weight.double(), 8, sparse=True)
    torch.testing.assert_close(transpose_csr(adj).to_dense(), adj.to_dense().T, atol=0, rtol=0)
    h = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: SparseAggregate.apply(x, adj), (h,))


def test_memoized_structure_follows_in_place_changes() -> None:
    """The self-loop/CSR structure is memoized per edge_index; editing edge_index in place must not reuse it."""
    edge_index, weight = random_edges(11)
    layer, conv = paired(4, 3)
    x = torch.randn(20, 4)
    torch.testing.assert_close(layer(x, edge_index, weight), conv(x, edge_index, weight), atol=ATOL, rtol=0)
    edge_index[1, :7] = torch.tensor([0, 1, 2, 3, 4, 5, 6])  # now with new self-loops and other targets
    torch.testing.assert_close(layer(x, edge_index, weight), conv(x, edge_index, weight), atol=ATOL, rtol=0)
    adj = normalized_adjacency(edge_index, weight, 20, sparse=True)
    out = layer(x.requires_grad_(), adj)
    out.sum().backward()
    grad_before = x.grad.clone()
    with torch.no_grad():
        adj.values().mul_(2.0)  # the memoized transpose must be rebuilt
    x.grad = None
    layer(x, adj).sum().backward()
    torch.testing.assert_close(x.grad, 2.0 * grad_before, atol=ATOL, rtol=0)


def test_layer_gradcheck_in_edge_weight_float64() -> None:
    edge_index, weight = random_edges(8, n=8, e=20)
    layer = GCNLayer(3, 2).double()
    x = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    w = weight.double().requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w: layer(x, edge_index, w), (x, w))


def test_duplicate_self_loops_last_one_kept_with_exact_gradient() -> None:
    edge_index = torch.tensor([[0, 1, 0, 0, 2], [1, 0, 0, 0, 2]])  # node 0 has two self-loops (weights 3 and 4)
    weight = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)
    layer, conv = paired(3, 2)
    layer.double()
    conv.double()
    x = torch.randn(3, 3, dtype=torch.float64)
    torch.testing.assert_close(layer(x, edge_index, weight), conv(x, edge_index, weight), atol=ATOL, rtol=0)
    w = weight.clone().requires_grad_()
    layer(x, edge_index, w).sum().backward()
    assert w.grad[2] == 0 and w.grad[3] != 0  # the first loop is unused, so its weight has no effect
    assert torch.autograd.gradcheck(lambda w: layer(x, edge_index, w), (weight.clone().requires_grad_(),))


def test_equals_dense_formula() -> None:
    edge_index, weight = random_edges(9)
    layer = GCNLayer(4, 3)
    x = torch.randn(20, 4)
    expected = normalized_adjacency(edge_index, weight, 20) @ x @ layer.weight + layer.bias
    torch.testing.assert_close(layer(x, edge_index, weight), expected, atol=ATOL, rtol=0)


def test_reset_parameters_glorot_and_zero_bias() -> None:
    torch.manual_seed(0)
    layer = GCNLayer(300, 100)
    assert layer.weight.shape == (300, 100) and layer.bias.shape == (100,)
    assert torch.all(layer.bias == 0)
    bound = (6 / 400) ** 0.5
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.95 * bound


def test_bad_inputs() -> None:
    layer = GCNLayer(4, 2)
    edge_index = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ShapeError, match=r"\(3, 5\)"):
        layer(torch.randn(3, 5), edge_index)
    with pytest.raises(GraphError, match="node id 2; valid ids are 0..1"):
        layer(torch.randn(2, 4), edge_index)
    with pytest.raises(GraphError, match=r"shape \(3, 2\)"):
        layer(torch.randn(3, 4), torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(GraphError, match="dtype"):
        layer(torch.randn(3, 4), edge_index.float())
    adj = normalized_adjacency(edge_index, num_nodes=3, sparse=True)
    with pytest.raises(ShapeError, match="4 rows"):
        layer(torch.randn(4, 4), adj)
    with pytest.raises(GraphError, match="edge_weight"):
        layer(torch.randn(3, 4), adj, torch.ones(2))
    with pytest.raises(GraphError, match="NaN"):
        layer(torch.randn(3, 4), edge_index, torch.tensor([1.0, float("nan")]))
    with pytest.raises(ConfigError):
        GCNLayer(0, 2)
