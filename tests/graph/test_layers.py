"""GCNLayer equals PyG's GCNConv: outputs and gradients (x, weight, bias, edge_weight) on random graphs."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import GCNConv

from gnnhw.errors import ConfigError, GraphError, ShapeError
from gnnhw.graph.adjacency import gcn_norm_weights, looped_graph, normalized_adjacency
from gnnhw.graph.layers import Aggregate, CSRPattern, GCNLayer, transpose_csr

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
    layer.normalize = False  # a precomputed Â is used as is
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
    pattern = CSRPattern.build(graph.target, graph.source, 8)
    norm = gcn_norm_weights(graph, weight.double()).detach().requires_grad_()
    h = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w, x: Aggregate.apply(w, x, pattern), (norm, h))
    assert torch.autograd.gradgradcheck(lambda w, x: Aggregate.apply(w, x, pattern), (norm, h))


def test_sparse_aggregate_gradcheck_float64_and_transpose() -> None:
    edge_index, weight = random_edges(10, n=8, e=20)
    adj = normalized_adjacency(edge_index, weight.double(), 8, sparse=True)
    torch.testing.assert_close(transpose_csr(adj).to_dense(), adj.to_dense().T, atol=0, rtol=0)
    h = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    pattern = CSRPattern.from_csr(adj.crow_indices(), adj.col_indices(), 8)
    values = adj.values().detach().requires_grad_()
    assert torch.autograd.gradcheck(lambda v, x: Aggregate.apply(v, x, pattern), (values, h))
    assert torch.autograd.gradgradcheck(lambda v, x: Aggregate.apply(v, x, pattern), (values, h))


def test_memoized_structure_follows_in_place_changes() -> None:
    """The self-loop/CSR structure is memoized per edge_index; editing edge_index in place must not reuse it."""
    edge_index, weight = random_edges(11)
    layer, conv = paired(4, 3)
    x = torch.randn(20, 4)
    torch.testing.assert_close(layer(x, edge_index, weight), conv(x, edge_index, weight), atol=ATOL, rtol=0)
    edge_index[1, :7] = torch.tensor([0, 1, 2, 3, 4, 5, 6])  # now with new self-loops and other targets
    torch.testing.assert_close(layer(x, edge_index, weight), conv(x, edge_index, weight), atol=ATOL, rtol=0)
    adj = normalized_adjacency(edge_index, weight, 20, sparse=True)
    layer.normalize = False  # a precomputed Â is used as is
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
    assert w.grad[2] == 0  # the first loop is unused, so its weight has no effect
    assert w.grad[3] != 0
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
    assert layer.weight.shape == (300, 100)
    assert layer.bias.shape == (100,)
    assert torch.all(layer.bias == 0)
    bound = (6 / 400) ** 0.5
    assert layer.weight.abs().max() <= bound
    assert layer.weight.abs().max() > 0.95 * bound


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


# ----------------------------------------------------------------------------------------------------------------
# Regression tests for issue #8 (examples 1-7) and the layer's part of issue #10; float64 within 1e-12.

TIGHT = {"atol": 1e-12, "rtol": 0.0}


def paired64(in_channels: int, out_channels: int, seed: int = 0, **options) -> tuple[GCNLayer, GCNConv]:
    """A float64 GCNLayer with random (non-zero) bias and the GCNConv made from it by ``to_pyg``."""
    torch.manual_seed(seed)
    layer = GCNLayer(in_channels, out_channels, **options).double()
    if layer.bias is not None:
        torch.nn.init.normal_(layer.bias)
    return layer, layer.to_pyg()


def grads(out: torch.Tensor, inputs: list[torch.Tensor], seed: int = 0) -> list[torch.Tensor]:
    probe = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(seed))
    return list(torch.autograd.grad((out * probe).sum(), inputs))


def test_issue8_ex1_duplicate_edges_with_weights_requiring_grad() -> None:
    edge_index = torch.tensor([[1, 1, 1, 0], [0, 0, 0, 1]])  # the edge 1 -> 0 three times
    layer, conv = paired64(2, 2)
    x = torch.randn(2, 2, dtype=torch.float64)
    for ei in (edge_index, edge_index.int()):
        w0 = torch.rand(4, dtype=torch.float64)
        xa, wa = x.clone().requires_grad_(), w0.clone().requires_grad_()
        xb, wb = x.clone().requires_grad_(), w0.clone().requires_grad_()
        out, ref = layer(xa, ei, wa), conv(xb, edge_index, wb)
        torch.testing.assert_close(out, ref, **TIGHT)
        mine = grads(out, [xa, wa, layer.weight, layer.bias])
        theirs = grads(ref, [xb, wb, conv.lin.weight, conv.bias])
        for a, b in zip(mine[:2], theirs[:2], strict=True):
            torch.testing.assert_close(a, b, **TIGHT)
        torch.testing.assert_close(mine[2], theirs[2].T, **TIGHT)
        torch.testing.assert_close(mine[3], theirs[3], **TIGHT)


def test_issue8_ex2_second_order_gradient_in_edge_weight() -> None:
    edge_index = torch.tensor([[0], [1]])
    layer = GCNLayer(1, 1, bias=False).double()
    with torch.no_grad():
        layer.weight.fill_(1.0)
    conv = layer.to_pyg()

    def second(module) -> float:
        x = torch.tensor([[1.0], [2.0]], dtype=torch.float64, requires_grad=True)
        w = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
        y = (module(x, edge_index, w) ** 2).sum()
        (gx,) = torch.autograd.grad(y, x, create_graph=True)
        (gw,) = torch.autograd.grad(gx.sum(), w)
        return float(gw)

    # Dense reference: out = Â x with Â from the weights (loops 1), by plain autograd.
    x = torch.tensor([[1.0], [2.0]], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    a = torch.stack([torch.stack([w[0] * 0 + 1, w[0] * 0]), torch.stack([w[0], w[0] * 0 + 1])])  # Ã[i, j], j -> i
    d = a.sum(1)
    a_hat = a / torch.sqrt(d[:, None] * d[None, :])
    (gx,) = torch.autograd.grad(((a_hat @ x) ** 2).sum(), x, create_graph=True)
    (dense,) = torch.autograd.grad(gx.sum(), w)
    assert second(layer) == pytest.approx(float(dense), abs=1e-12)
    assert second(conv) == pytest.approx(float(dense), abs=1e-12)
    assert float(dense) == pytest.approx(0.373734, abs=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_gradcheck_and_gradgradcheck_float64(weighted) -> None:
    edge_index, weight = random_edges(12, n=8, e=20, weighted=True)
    edge_index = torch.cat([edge_index, edge_index[:, :4]], dim=1)  # more duplicates
    weight = torch.cat([weight, weight[:4]]).double()
    layer = GCNLayer(3, 2).double()
    x = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    w = weight.clone().requires_grad_()
    if weighted:
        inputs, fn = (x, w, layer.weight, layer.bias), (lambda x, w, *_: layer(x, edge_index, w))
    else:
        inputs, fn = (x, layer.weight), (lambda x, *_: layer(x, edge_index))
    assert torch.autograd.gradcheck(fn, inputs)
    assert torch.autograd.gradgradcheck(fn, inputs)


def test_issue8_ex3_inference_mode_with_inputs_created_inside() -> None:
    layer, conv = paired64(3, 2)
    with torch.inference_mode():
        x = torch.randn(5, 3, dtype=torch.float64)
        edge_index = torch.tensor([[0, 1, 2, 3, 3], [1, 2, 3, 4, 4]])
        out, ref = layer(x, edge_index), conv(x, edge_index)
        dense = normalized_adjacency(edge_index, num_nodes=5, dtype=torch.float64)
    torch.testing.assert_close(out, ref, **TIGHT)
    torch.testing.assert_close(dense @ x @ layer.weight + layer.bias, ref, **TIGHT)
    # The structure built in inference mode serves a later call that records gradients.
    xg = x.clone().requires_grad_()
    layer(xg, edge_index).sum().backward()
    with torch.no_grad():
        torch.testing.assert_close(layer(x.clone(), edge_index), ref, **TIGHT)


def test_issue8_ex4_memo_never_stale_after_untracked_writes() -> None:
    import numpy as np

    layer, conv = paired64(3, 2)
    x = torch.randn(6, 3, dtype=torch.float64)
    buffer = np.array([[0, 1, 2, 3], [1, 2, 3, 4]], dtype=np.int64)
    edge_index = torch.from_numpy(buffer)
    torch.testing.assert_close(layer(x, edge_index), conv(x, edge_index), **TIGHT)
    version = edge_index._version
    buffer[:] = [[5, 5, 4, 0], [0, 1, 0, 5]]  # refilled behind torch's back
    assert edge_index._version == version
    torch.testing.assert_close(layer(x, edge_index), conv(x, edge_index), **TIGHT)
    edge_index.data[1] = torch.tensor([2, 2, 2, 2])  # .data writes do not bump the version either
    torch.testing.assert_close(layer(x, edge_index), conv(x, edge_index), **TIGHT)
    # Same for a sparse adjacency's indices.
    adj = torch.sparse_coo_tensor(torch.tensor([[0, 1, 2], [1, 2, 3]]), torch.ones(3, dtype=torch.float64), (6, 6))
    adj = adj.coalesce()
    torch.testing.assert_close(layer(x, adj), conv(x, adj), **TIGHT)
    adj._indices().data[0] = torch.tensor([3, 4, 5])
    torch.testing.assert_close(layer(x, adj), conv(x, adj), **TIGHT)


def test_cached_true_reuses_the_first_graph_like_gcnconv() -> None:
    layer, conv = paired64(3, 2, cached=True)
    x = torch.randn(6, 3, dtype=torch.float64)
    first, second = torch.tensor([[0, 1], [1, 2]]), torch.tensor([[3, 4], [4, 5]])
    torch.testing.assert_close(layer(x, first), conv(x, first), **TIGHT)
    torch.testing.assert_close(layer(x, second), conv(x, second), **TIGHT)  # both still use `first`
    torch.testing.assert_close(layer(x, second), layer(x, first), **TIGHT)
    layer.reset_parameters()
    assert layer._cached_graph is None


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_issue8_ex5_half_types_and_autocast(dtype) -> None:
    edge_index, weight = random_edges(13)
    layer32, conv32 = paired(3, 2)
    x = torch.randn(20, 3)
    exact = conv32.double()(x.double(), edge_index, weight.double())
    layer = GCNLayer.from_pyg(conv32.to(dtype))
    out = layer(x.to(dtype), edge_index, weight.to(dtype))
    ref = conv32(x.to(dtype), edge_index, weight.to(dtype))
    assert out.dtype == ref.dtype == dtype
    tol = 3e-2 if dtype == torch.bfloat16 else 5e-3
    torch.testing.assert_close(out.double(), exact, atol=tol, rtol=tol)
    torch.testing.assert_close(out.double(), ref.double(), atol=2 * tol, rtol=2 * tol)
    out.float().sum().backward()
    assert layer.weight.grad.dtype == dtype
    assert torch.isfinite(layer.weight.grad).all()
    # CPU autocast (bfloat16 only on the CPU): float32 layer, output float32 like GCNConv's.
    if dtype == torch.bfloat16:
        layer32.float()
        conv32.float()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out, ref = layer32(x, edge_index, weight), conv32(x, edge_index, weight)
        assert out.dtype == ref.dtype
        torch.testing.assert_close(out.double(), ref.double(), atol=5e-2, rtol=5e-2)


def test_issue8_ex6_torch_func_jacrev_vmap_functional_call() -> None:
    edge_index, weight = random_edges(14, n=8, e=16)
    weight = weight.double()
    layer, conv = paired64(3, 2)
    x = torch.randn(8, 3, dtype=torch.float64)
    jac = torch.func.jacrev(lambda x: layer(x, edge_index, weight))(x)
    jac_ref = torch.func.jacrev(lambda x: conv(x, edge_index, weight))(x)
    torch.testing.assert_close(jac, jac_ref, **TIGHT)
    jw = torch.func.jacrev(lambda w: layer(x, edge_index, w))(weight)
    jw_ref = torch.func.jacrev(lambda w: conv(x, edge_index, w))(weight)
    torch.testing.assert_close(jw, jw_ref, **TIGHT)
    xs = torch.randn(4, 8, 3, dtype=torch.float64)
    torch.testing.assert_close(
        torch.func.vmap(lambda x: layer(x, edge_index, weight))(xs),
        torch.func.vmap(lambda x: conv(x, edge_index, weight))(xs),
        **TIGHT,
    )
    ws = torch.rand(3, weight.numel(), dtype=torch.float64) + 0.1
    torch.testing.assert_close(
        torch.func.vmap(lambda w: layer(x, edge_index, w))(ws),
        torch.stack([conv(x, edge_index, w) for w in ws]),
        **TIGHT,
    )
    params = {k: v * 2 for k, v in layer.named_parameters()}
    out = torch.func.functional_call(layer, params, (x, edge_index, weight))
    ref = normalized_adjacency(edge_index, weight, 8) @ x @ params["weight"] + params["bias"]
    torch.testing.assert_close(out, ref, **TIGHT)
    # With a precomputed Â (normalize=False): "Sparse CSR tensors do not have strides" before.
    adj = normalized_adjacency(edge_index, weight, 8, sparse=True)
    plain = GCNLayer(3, 2, normalize=False).double()
    plain.load_state_dict(layer.state_dict())
    jac_adj = torch.func.jacrev(lambda x: plain(x, adj))(x)
    torch.testing.assert_close(jac_adj, jac_ref, **TIGHT)
    torch.testing.assert_close(
        torch.func.vmap(lambda x: plain(x, adj))(xs),
        torch.func.vmap(lambda x: layer(x, edge_index, weight))(xs),
        **TIGHT,
    )


@pytest.mark.parametrize("layout", [torch.sparse_coo, torch.sparse_csr, torch.sparse_csc])
def test_issue8_ex7_sparse_adjacency_is_normalized_like_gcnconv(layout) -> None:
    edge_index, weight = random_edges(15)  # duplicates and existing self-loops
    weight = weight.double()
    n = 20
    adj_t = torch.sparse_coo_tensor(edge_index.flip(0), weight, (n, n)).coalesce()  # rows = targets
    layer, conv = paired64(4, 3)
    x = torch.randn(n, 4, dtype=torch.float64)
    adj_in = {torch.sparse_coo: adj_t, torch.sparse_csr: adj_t.to_sparse_csr(), torch.sparse_csc: adj_t.to_sparse_csc()}
    # One meaning per graph: the sparse matrix is normalized as its (coalesced) edge list is by GCNConv's edge_index
    # path, a stored diagonal entry keeping its weight (add_remaining_self_loops), and as the raw edge_index is by the
    # layer itself (its loops are distinct, so the last-listed rule does not come in).
    sources, weights_c = adj_t.indices().flip(0), adj_t.values()
    ref = conv(x, sources, weights_c)
    torch.testing.assert_close(layer(x, adj_in[layout]), ref, **TIGHT)
    torch.testing.assert_close(layer(x, adj_in[layout]), layer(x, edge_index, weight), **TIGHT)
    # GCNConv's torch-sparse path adds 1 to a stored diagonal entry instead (w + 1): deliberately not followed.
    assert (layer(x, adj_in[layout]) - conv(x, adj_t.to_sparse_csr())).abs().max() > 1e-3
    improved, conv_improved = paired64(4, 3, improved=True)
    torch.testing.assert_close(improved(x, adj_in[layout]), conv_improved(x, sources, weights_c), **TIGHT)
    # Gradients with respect to the stored values, self-loops included: GCNConv's w.r.t. the coalesced edge weights
    # (COO and CSR store a coalesced matrix's entries in the edge order; CSC's order differs, so it is mapped).
    w_ref = weights_c.clone().requires_grad_()
    (g_ref,) = grads(conv(x, sources, w_ref), [w_ref])
    w_mine = weights_c.clone().requires_grad_()
    adj_w = torch.sparse_coo_tensor(adj_t.indices(), w_mine, (n, n), is_coalesced=True)
    adj_w = {torch.sparse_coo: adj_w, torch.sparse_csr: adj_w.to_sparse_csr(), torch.sparse_csc: adj_w.to_sparse_csc()}
    (g_mine,) = grads(layer(x, adj_w[layout]), [w_mine])
    torch.testing.assert_close(g_mine, g_ref, **TIGHT)
    # Without existing self-loops GCNConv's own sparse path agrees too (GCNConv refuses CSC: compared as CSR).
    plain = edge_index[:, edge_index[0] != edge_index[1]]
    adj_plain = torch.sparse_coo_tensor(plain.flip(0), torch.ones(plain.shape[1], dtype=torch.float64), (n, n))
    adj_plain = {torch.sparse_coo: adj_plain, torch.sparse_csr: adj_plain.coalesce().to_sparse_csr()}.get(
        layout, adj_plain.coalesce().to_sparse_csc()
    )
    torch.testing.assert_close(layer(x, adj_plain), conv(x, plain), **TIGHT)
    torch.testing.assert_close(layer(x, adj_plain), conv(x, adj_plain.to_sparse_csr()), **TIGHT)
    # Gradients with respect to the adjacency values (PyG differentiates through CSR values only; COO and CSR
    # store a coalesced matrix's entries in the same row-major order). Without self-loops, where both GCNConv
    # paths agree.
    plain_weight = torch.rand(plain.shape[1], dtype=torch.float64) + 0.1
    csr = torch.sparse_coo_tensor(plain.flip(0), plain_weight, (n, n)).coalesce().to_sparse_csr()
    adj_t = csr.to_sparse_coo()
    values_ref = csr.values().clone().requires_grad_()
    adj_ref = torch.sparse_csr_tensor(csr.crow_indices(), csr.col_indices(), values_ref, (n, n))
    (g_ref,) = grads(conv(x, adj_ref), [values_ref])
    values = csr.values().clone().requires_grad_()
    if layout == torch.sparse_coo:
        adj_g = torch.sparse_coo_tensor(adj_t.indices(), values, (n, n), is_coalesced=True)
    elif layout == torch.sparse_csr:
        adj_g = torch.sparse_csr_tensor(csr.crow_indices(), csr.col_indices(), values, (n, n))
    else:
        return  # CSC: orders differ; its forward is checked above
    (g_mine,) = grads(layer(x, adj_g), [values])
    torch.testing.assert_close(g_mine, g_ref, **TIGHT)


# (No gradient case for the invariant-violating CSR: torch's own backward of sparse_csr_tensor cannot map a
# gradient back onto duplicate stored entries.)
@pytest.mark.parametrize(("layout", "requires_grad"), [("coo", False), ("coo", True), ("csr", False)])
def test_sparse_adjacency_duplicate_diagonal_entries_are_summed_into_one_loop(layout: str, requires_grad: bool):
    """Stored duplicates (an uncoalesced COO; a CSR built without invariant checks) are one entry, their sum: a
    diagonal entry stored as 0.5, 0.25 and 0 is one loop of weight 0.75 (not the last one, not 0.75 + 1), as the
    coalesced edge list means to GCNConv's edge_index path; gradients of each duplicate are those of the sum."""
    n = 5
    rows = torch.tensor([0, 2, 0, 1, 3, 2, 4, 0, 1])  # targets: (row, col) = (0, 0) x3, (2, 1) x2, (1, 1),
    cols = torch.tensor([0, 1, 0, 1, 0, 1, 3, 0, 0])  # (3, 0), (4, 3), (1, 0)
    values = torch.tensor([0.5, 1.5, 0.25, 2.0, 0.7, 0.3, 1.1, 0.0, 0.9], dtype=torch.float64)
    coalesced = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, (n, n)).coalesce()
    sources, weights = coalesced.indices().flip(0), coalesced.values()
    assert sources.shape[1] == 6
    assert float(coalesced.to_dense()[0, 0]) == 0.75
    layer, conv = paired64(3, 2)
    x = torch.randn(n, 3, dtype=torch.float64)
    v_mine = values.clone().requires_grad_(requires_grad)
    if layout == "coo":
        adj = torch.sparse_coo_tensor(torch.stack([rows, cols]), v_mine, (n, n))
        assert not adj.is_coalesced()
    else:  # sorted by row, duplicates adjacent: a CSR with repeated columns (torch's invariants would refuse it)
        order = torch.argsort(rows * n + cols, stable=True)
        crow = torch.zeros(n + 1, dtype=torch.long)
        crow[1:] = torch.bincount(rows, minlength=n).cumsum(0)
        adj = torch.sparse_csr_tensor(crow, cols[order], v_mine[order], (n, n), check_invariants=False)
    w_ref = weights.clone().requires_grad_()
    ref = conv(x, sources, w_ref)
    out = layer(x, adj)
    torch.testing.assert_close(out, ref, **TIGHT)
    torch.testing.assert_close(out, layer(x, sources, weights), **TIGHT)
    if requires_grad:
        (g_mine,) = grads(out, [v_mine])
        (g_ref,) = grads(ref, [w_ref])
        key_of_pair = (sources[1] * n + sources[0]).tolist()  # coalesced pairs (target, source)
        pair_of = torch.tensor([key_of_pair.index(key) for key in (rows * n + cols).tolist()])
        torch.testing.assert_close(g_mine, g_ref[pair_of], **TIGHT)


@pytest.mark.parametrize(
    "options",
    [
        {"improved": True},
        {"add_self_loops": False},
        {"normalize": False},
        {"bias": False},
        {"flow": "target_to_source"},
        {"improved": True, "add_self_loops": False},
    ],
)
def test_options_equal_gcnconv(options) -> None:
    edge_index, weight = random_edges(16)
    weight = weight.double()
    layer, conv = paired64(4, 3, **options)
    x = torch.randn(20, 4, dtype=torch.float64)
    torch.testing.assert_close(layer(x, edge_index, weight), conv(x, edge_index, weight), **TIGHT)
    ones = torch.ones(edge_index.shape[1], dtype=torch.float64)
    # Without edge_weight: unit weights. (PyG 2.8's GCNConv ignores `improved` then; GCNLayer keeps A + 2I.)
    torch.testing.assert_close(layer(x, edge_index), conv(x, edge_index, ones), **TIGHT)
    if not options.get("improved"):
        torch.testing.assert_close(layer(x, edge_index), conv(x, edge_index), **TIGHT)
    back = GCNLayer.from_pyg(conv)
    assert torch.equal(back.weight, layer.weight)
    assert (back.bias is None) == (layer.bias is None)
    assert back.extra_repr() == layer.extra_repr()


def test_batched_static_graph_features() -> None:
    edge_index, weight = random_edges(17)
    weight = weight.double()
    for channels in ((4, 3), (2, 5)):
        layer, conv = paired64(*channels)
        x = torch.randn(3, 20, channels[0], dtype=torch.float64, requires_grad=True)
        xr = x.detach().clone().requires_grad_()
        out, ref = layer(x, edge_index, weight), conv(xr, edge_index, weight)
        assert out.shape == (3, 20, channels[1])
        torch.testing.assert_close(out, ref, **TIGHT)
        torch.testing.assert_close(grads(out, [x])[0], grads(ref, [xr])[0], **TIGHT)


def test_from_pyg_to_pyg_bit_equal_dtype_device() -> None:
    conv = GCNConv(5, 3, improved=True, cached=True).double()
    torch.nn.init.normal_(conv.bias)
    layer = GCNLayer.from_pyg(conv)
    assert layer.weight.dtype == torch.float64
    assert layer.weight.device == conv.lin.weight.device
    assert torch.equal(layer.weight, conv.lin.weight.T)
    assert torch.equal(layer.bias, conv.bias)
    assert layer.weight.data_ptr() != conv.lin.weight.data_ptr()
    assert (layer.improved, layer.cached, layer.add_self_loops, layer.normalize) == (True, True, True, True)
    back = layer.to_pyg()
    assert torch.equal(back.lin.weight, conv.lin.weight)
    assert torch.equal(back.bias, conv.bias)
    assert back.improved
    assert back.cached
    assert back.lin.weight.dtype == torch.float64
    with pytest.raises(ConfigError, match="GCNConv"):
        GCNLayer.from_pyg(torch.nn.Linear(2, 2))
    with pytest.raises(ConfigError, match="in_channels=-1"):
        GCNLayer.from_pyg(GCNConv(-1, 3))


def test_no_grad_compile_deepcopy_state_dict() -> None:
    import copy

    edge_index, weight = random_edges(18)
    weight = weight.double()
    layer, conv = paired64(4, 3)
    x = torch.randn(20, 4, dtype=torch.float64)
    ref = conv(x, edge_index, weight)
    with torch.no_grad():
        torch.testing.assert_close(layer(x, edge_index, weight), ref, **TIGHT)
    clone = copy.deepcopy(layer)
    torch.testing.assert_close(clone(x, edge_index, weight), ref, **TIGHT)
    fresh = GCNLayer(4, 3).double()
    fresh.load_state_dict(layer.state_dict())
    torch.testing.assert_close(fresh(x, edge_index, weight), ref, **TIGHT)
    assert set(layer.state_dict()) == {"weight", "bias"}


def test_torch_compile_same_numbers() -> None:
    edge_index, weight = random_edges(19)
    weight = weight.double()
    layer, conv = paired64(4, 3)
    x = torch.randn(20, 4, dtype=torch.float64, requires_grad=True)
    compiled = torch.compile(layer, backend="eager")
    out = compiled(x, edge_index, weight)
    torch.testing.assert_close(out, conv(x, edge_index, weight), **TIGHT)
    (gx,) = torch.autograd.grad(out.sum(), x)
    (gx_ref,) = torch.autograd.grad(conv(x, edge_index, weight).sum(), x)
    torch.testing.assert_close(gx, gx_ref, **TIGHT)


def test_nan_features_propagate_exactly_as_gcnconv() -> None:
    """Documented choice: non-finite features are not checked; they reach the same outputs as in GCNConv."""
    edge_index = torch.tensor([[0, 1, 3], [1, 2, 4]])
    layer, conv = paired64(2, 2)
    x = torch.randn(5, 2, dtype=torch.float64)
    x[0, 0] = float("nan")
    out, ref = layer(x, edge_index), conv(x, edge_index)
    assert torch.equal(out.isnan(), ref.isnan())
    assert out[:2].isnan().all()
    assert not out[2:].isnan().any()
    torch.testing.assert_close(out, ref, equal_nan=True, **TIGHT)


def test_issue10_library_errors_are_gnnhw_errors() -> None:
    from gnnhw.errors import DeviceError, DTypeError

    layer = GCNLayer(3, 2)
    edge_index = torch.tensor([[0, 1], [1, 2]])
    x = torch.randn(3, 3)
    with pytest.raises(DTypeError, match=r"x.to\(torch.float32\)"):
        layer(x.double(), edge_index)
    with pytest.raises(DTypeError, match="float16"):
        layer(x.half(), edge_index)
    with pytest.raises(DeviceError, match="meta"):
        layer(x, edge_index.to("meta"))
    with pytest.raises(GraphError, match="node id 1000000000000; valid ids are 0..2"):
        layer(x, torch.tensor([[0, 10**12], [1, 2]]))
    with pytest.raises(GraphError, match="node id -1"):
        layer(x, torch.tensor([[0, -1], [1, 2]]))
    with pytest.raises(GraphError, match="GiB"):  # an absurd id: refused before allocating 8 TB
        normalized_adjacency(torch.tensor([[0, 10**12], [1, 2]]))
    with pytest.raises(ShapeError, match=r"\(B, N, 3\)"):
        layer(torch.randn(2, 2, 3, 3), edge_index)


def test_forward_mode_ad_and_hessian_equal_gcnconv() -> None:
    edge_index, weight = random_edges(20, n=8, e=16)
    weight = weight.double()
    layer, conv = paired64(3, 2)
    x = torch.randn(8, 3, dtype=torch.float64)
    for module_hessian in (
        lambda m: torch.func.hessian(lambda w: m(x, edge_index, w).pow(2).sum())(weight),  # in the edge weights
        lambda m: torch.func.hessian(lambda x: m(x, edge_index).pow(3).sum())(x),  # in the features
    ):
        torch.testing.assert_close(module_hessian(layer), module_hessian(conv), **TIGHT)
    xs, ws = x.clone().requires_grad_(), weight.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w: layer(x, edge_index, w), (xs, ws), check_forward_ad=True)


def test_structure_memo_is_content_checked_exactly() -> None:
    """The memo's private copy is int32 when the ids fit; a change by 2**32 (equal after narrowing) is still seen."""
    from gnnhw.graph.adjacency import cached_on

    builds = []
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 0]]).t().contiguous().t()  # a non-contiguous view
    for _ in range(2):
        cached_on(edge_index, "probe", lambda: builds.append(1))
    assert len(builds) == 1
    edge_index.data[0, 2] += 2**32
    cached_on(edge_index, "probe", lambda: builds.append(1))
    assert len(builds) == 2
    layer = GCNLayer(2, 2)
    with pytest.raises(GraphError, match="node id 4294967298"):
        layer(torch.randn(3, 2), edge_index)
