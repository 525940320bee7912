"""GCNLayer equals PyG's GCNConv over a matrix of graph families x input forms x torch features (issue #8).

Each case builds a (GCNLayer, GCNConv) pair with the same weights and a non-zero bias, runs both on one seeded graph
(:mod:`tests.graph._gcn_cases`: directed, undirected, weighted, duplicate edges, existing and zero-weight
self-loops, isolated nodes including the highest id, no edges, one node) handed to the layer in one input form
(edge_index int64 / int32 / strided view, edge_index + edge_weight, sparse adj_t COO / CSR / CSC, sparse x COO /
CSR, batched x ``(B, N, F)``) and compares outputs and gradients. GCNConv gets the same graph as an int64 edge_index:
with the same weights for the edge_index forms, and as the coalesced edge list of the same matrix (its values as edge
weights) for the sparse forms, so every form is held to one meaning per graph (see ``_gcn_cases``: on graphs with
self-loops GCNConv's own sparse paths differ from its edge_index path; on graphs without, they are compared directly
too, :func:`test_sparse_adjacency_equals_gcnconv_sparse_path_without_self_loops`). Every form of every family gives
one output, equal to ``normalized_adjacency(...) @ (x W) + b`` (:func:`test_every_form_gives_one_output`). One
deliberate exception, :func:`reference`: ``improved=True`` without edge weights.

The matrix: 8 families x 10 forms x 8 features (test_matrix), x 2 (gradcheck / gradgradcheck), x 3 (jacrev, vmap,
functional_call); 8 families x 6 forms x 6 options (test_options); plus the cache, stale-memo, plumbing, error and
issue #8 example tests below.

Tolerances: float64 atol 1e-12; float32 atol = rtol = 1e-5; half types: a forward-error bound (see
:func:`assert_within_rounding`). Gradients w.r.t. an edge weight are compared where they exist (not for edges into a
node of degree exactly 0, where GCNConv's own gradient is NaN).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch_geometric.nn import GCNConv

from gnnhw.errors import GnnhwError
from gnnhw.graph import GCNLayer
from tests.graph._gcn_cases import (
    FAMILIES,
    FORMS,
    SPARSE_X_FORMS,
    WEIGHTED_FORMS,
    Graph,
    dense_norm_adj,
    family,
    features,
    make_inputs,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # torch's "sparse CSR is beta" and friends

F64 = {"atol": 1e-12, "rtol": 0.0}
F32 = {"atol": 1e-5, "rtol": 1e-5}


def channels(name: str) -> tuple[int, int]:
    """(in, out) per family: both orders, so both Â(XW) and (ÂX)W are exercised."""
    return (3, 2) if FAMILIES.index(name) % 2 == 0 else (2, 4)


def pair(in_channels: int, out_channels: int, dtype=torch.float64, seed: int = 0, **options):
    """A GCNConv with a random non-zero bias and a GCNLayer holding the same weights (copied, not via from_pyg)."""
    torch.manual_seed(seed)
    conv = GCNConv(in_channels, out_channels, **options).to(dtype)
    layer = GCNLayer(in_channels, out_channels, **options).to(dtype)
    with torch.no_grad():
        layer.weight.copy_(conv.lin.weight.T)
        if conv.bias is not None:
            conv.bias.normal_()
            layer.bias.copy_(conv.bias)
    return layer, conv


def leaf(t: torch.Tensor | None, requires_grad: bool = True) -> torch.Tensor | None:
    return None if t is None else t.detach().clone().requires_grad_(requires_grad)


def reference(conv, x, graph, edge_weight=None):
    """``conv(x, graph, edge_weight)``, with unit edge weights when ``improved`` is set and none are given.

    PyG 2.8's ``gcn_norm`` ignores ``improved=True`` when ``edge_weight`` is None (``add_remaining_self_loops`` has no
    edge attribute to fill with 2), although GCNConv documents Â = A + 2I. GCNLayer follows the documented meaning in
    both cases; GCNConv computes it once it is given explicit unit weights.
    """
    if conv.improved and edge_weight is None and graph.layout == torch.strided:
        edge_weight = torch.ones(graph.shape[1], dtype=x.dtype, device=x.device)
    return conv(x, graph, edge_weight)


def randn_like_seeded(t: torch.Tensor, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(t.shape, generator=gen, dtype=torch.float64).to(t.dtype)


def compare_forward_backward(layer, conv, g: Graph, form: str, dtype: torch.dtype, tol: dict) -> None:
    """Outputs and gradients w.r.t. x, weight, bias and edge_weight equal GCNConv's."""
    inp = make_inputs(g, form, features(g, form, layer.in_channels, dtype))
    dense_x = form not in SPARSE_X_FORMS
    x_mine = leaf(inp.x) if dense_x else inp.x.detach().requires_grad_()  # sparse x: its gradient is compared too
    x_ref = leaf(inp.x_dense)
    w_mine = leaf(inp.edge_weight)
    w_ref = leaf(inp.ref_weight, requires_grad=form in WEIGHTED_FORMS)
    out = layer(x_mine, inp.graph, w_mine)
    ref = reference(conv, x_ref, inp.ref_graph, w_ref)
    assert out.shape == ref.shape
    assert out.dtype == ref.dtype
    torch.testing.assert_close(out, ref, **tol)
    grad = randn_like_seeded(ref)
    (out * grad).sum().backward()
    (ref * grad).sum().backward()
    torch.testing.assert_close(layer.weight.grad, conv.lin.weight.grad.T, **tol)
    if conv.bias is not None:
        torch.testing.assert_close(layer.bias.grad, conv.bias.grad, **tol)
    # GCNConv's gradient w.r.t. a sparse x is dense (every entry, not only the stored ones), and so is the layer's
    torch.testing.assert_close(x_mine.grad if dense_x else x_mine.grad.to_dense(), x_ref.grad, **tol)
    if w_mine is not None:
        mask = g.differentiable_edges()
        torch.testing.assert_close(w_mine.grad[mask], w_ref.grad[mask], **tol)


# ----------------------------------------------------------------------------------------------------------------
# Half precision: a forward-error bound instead of a fixed tolerance


def _abs_terms(g: Graph, inp, conv: GCNConv) -> tuple[torch.Tensor, int]:
    """|Â| (dense float64, with conv's options) and the most terms any one row or column of Â sums (+ the loop)."""
    if conv.normalize:
        options = {"improved": conv.improved, "add_self_loops": conv.add_self_loops}
        adj = dense_norm_adj(g, inp.ref_weight, ref_graph=inp.ref_graph, **options).abs()
    else:  # the graph as is
        w = g.edge_weight if inp.ref_weight is not None or inp.ref_graph.layout != torch.strided else None
        w = torch.ones(g.edge_index.shape[1], dtype=torch.float64) if w is None else w.double()
        adj = torch.zeros(g.num_nodes, g.num_nodes, dtype=torch.float64)
        adj = adj.index_put_((g.edge_index[1], g.edge_index[0]), w, accumulate=True).abs()
    dst, src = g.edge_index[1], g.edge_index[0]
    per_row = torch.bincount(dst, minlength=g.num_nodes).max().item() if dst.numel() else 0
    per_col = torch.bincount(src, minlength=g.num_nodes).max().item() if src.numel() else 0
    return adj, max(per_row, per_col) + 1


def assert_within_rounding(actual: torch.Tensor, reference: torch.Tensor, bound: torch.Tensor, terms: int, dtype):
    r"""``|actual - reference| <= terms * u * bound`` elementwise, ``u = eps(dtype) / 2`` the unit roundoff.

    Why this tolerance: ``reference`` is GCNConv in float32 on the *same* half-rounded inputs and weights, so its
    own error is negligible next to half rounding. Standard forward-error analysis of sums and products of ``n``
    terms in a floating-point type with unit roundoff ``u`` gives ``|fl(s) - s| <= n u sum |terms|`` (to first order),
    so each output element is within ``terms * u * bound`` where ``bound`` is the same expression evaluated on
    absolute values (``|Â| |X| |W| + |b|``) and ``terms`` counts the rounding steps on the longest path (the
    feature dot product, the degree sum, ``deg^-1/2``, two products, the aggregation sum, the bias) plus a few
    spare. A wrong normalization or a dropped edge is off by O(|terms|): float16 sees it; bfloat16 (8 bits) only
    when it exceeds its rounding, which is why the float32/float64 features carry the exact comparisons.
    """
    eps = torch.finfo(dtype).eps / 2
    err = (actual.double() - reference.double()).abs()
    allowed = terms * eps * bound
    worst = (err - allowed).max().item() if err.numel() else 0.0
    assert worst <= 0.0, f"error exceeds {terms} * u({dtype}) * |terms| by {worst:.3g} (max error {err.max():.3g})"


def check_half(layer64, conv64, g: Graph, form: str, dtype: torch.dtype) -> None:
    """GCNLayer in ``dtype`` vs GCNConv in float32 on the same rounded inputs, within the rounding bound; grads too."""
    layer = layer64.to(dtype)
    conv32 = copy.deepcopy(conv64).float()
    with torch.no_grad():  # the float32 reference holds exactly the half-rounded weights
        conv32.lin.weight.copy_(layer.weight.T.float())
        if conv32.bias is not None:
            conv32.bias.copy_(layer.bias.float())
    inp = make_inputs(g, form, features(g, form, layer.in_channels, dtype))
    dense_x = form not in SPARSE_X_FORMS
    x_mine, x_ref = (leaf(inp.x) if dense_x else inp.x), leaf(inp.x_dense.float())
    w_mine = leaf(inp.edge_weight)
    w_ref = None if inp.ref_weight is None else inp.ref_weight.float()
    ref_graph = inp.ref_graph if inp.ref_graph.layout == torch.strided else inp.ref_graph.float()
    out = layer(x_mine, inp.graph, w_mine)
    ref = conv32(x_ref, ref_graph, w_ref)
    assert out.dtype == dtype
    assert out.shape == ref.shape

    adj, terms = _abs_terms(g, inp, conv32)
    x_abs, weight_abs = inp.x_dense.double().abs(), layer.weight.double().abs()
    bias_abs = layer.bias.double().abs() if layer.bias is not None else 0.0
    f_in, f_out = layer.in_channels, layer.out_channels
    bound = adj @ (x_abs @ weight_abs) + bias_abs
    assert_within_rounding(out, ref, bound, f_in + 2 * terms + 8, dtype)
    if inp.ref_graph.layout == torch.strided:  # the bound is one PyG's own half-precision GCNConv meets too
        conv_half = copy.deepcopy(conv32).to(dtype)  # (its sparse path has no half-precision CPU kernel)
        half_ref = conv_half(inp.x_dense, inp.ref_graph, inp.ref_weight)
        assert_within_rounding(half_ref, ref, bound, f_in + 2 * terms + 8, dtype)

    grad = randn_like_seeded(out)
    out.backward(grad)
    ref.backward(grad.float())
    grad_abs = grad.double().abs()
    nodes = grad.shape[:-1].numel()  # N, or B * N
    assert layer.weight.grad.dtype == dtype
    weight_bound = x_abs.reshape(-1, f_in).T @ (adj.T @ grad_abs).reshape(-1, f_out)  # |X|^T |Â|^T |G|
    assert_within_rounding(layer.weight.grad, conv32.lin.weight.grad.T, weight_bound, nodes + 2 * terms + 8, dtype)
    if layer.bias is not None:
        bias_bound = grad_abs.reshape(-1, f_out).sum(0)
        assert_within_rounding(layer.bias.grad, conv32.bias.grad, bias_bound, nodes + 2, dtype)
    if dense_x:
        x_bound = adj.T @ grad_abs @ weight_abs.T  # |Â|^T |G| |W|^T
        assert x_mine.grad.dtype == dtype
        assert_within_rounding(x_mine.grad, x_ref.grad, x_bound, f_out + 2 * terms + 8, dtype)
    if w_mine is not None:
        mask = g.differentiable_edges()
        assert w_mine.grad.dtype == dtype
        assert bool(torch.isfinite(w_mine.grad[mask]).all())


def check_autocast(layer, conv, g: Graph, form: str) -> None:
    """Under CPU autocast(bfloat16): GCNConv's output dtype, and its float32 numbers within bfloat16 rounding."""
    layer, conv = layer.float(), conv.float()
    inp = make_inputs(g, form, features(g, form, layer.in_channels, torch.float32))
    dense_x = form not in SPARSE_X_FORMS
    x_mine, x_ref = (leaf(inp.x) if dense_x else inp.x), leaf(inp.x_dense)
    w_ref = inp.ref_weight
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x_mine, inp.graph, inp.edge_weight)
        # the output dtype GCNConv gives under autocast (on the edge_index form: its sparse path has no bf16 kernel)
        ref_autocast = conv(inp.x_dense, g.edge_index, g.edge_weight.float())
    ref = conv(x_ref, inp.ref_graph, w_ref)  # float32, no autocast
    assert out.dtype == ref_autocast.dtype
    assert out.shape == ref.shape
    adj, terms = _abs_terms(g, inp, conv)
    x_abs, weight_abs = inp.x_dense.double().abs(), layer.weight.double().abs()
    bias_abs = layer.bias.double().abs() if layer.bias is not None else 0.0
    # + 4: autocast rounds x and W to bfloat16 inside the product (two more rounding steps, with margin)
    terms_out = layer.in_channels + 2 * terms + 12
    assert_within_rounding(out, ref, adj @ (x_abs @ weight_abs) + bias_abs, terms_out, torch.bfloat16)
    grad = randn_like_seeded(ref)
    out.float().backward(grad)
    ref.backward(grad)
    grad_abs, f_in, f_out = grad.double().abs(), layer.in_channels, layer.out_channels
    weight_bound = x_abs.reshape(-1, f_in).T @ (adj.T @ grad_abs).reshape(-1, f_out)  # |X|^T |Â|^T |G|
    nodes = grad.shape[:-1].numel()
    assert layer.weight.grad.dtype == torch.float32
    assert_within_rounding(
        layer.weight.grad, conv.lin.weight.grad.T, weight_bound, nodes + 2 * terms + 12, torch.bfloat16
    )
    if dense_x:
        x_bound = adj.T @ grad.double().abs() @ weight_abs.T
        assert x_mine.grad.dtype == torch.float32
        assert_within_rounding(x_mine.grad, x_ref.grad, x_bound, layer.out_channels + 2 * terms + 12, torch.bfloat16)


# ----------------------------------------------------------------------------------------------------------------
# The main matrix: families x forms x (dtype, grad mode, half types, autocast, second order)

CHEAP_FEATURES = ("float64", "float32", "no_grad", "inference_mode", "bfloat16", "float16", "autocast", "second_order")


def check_no_grad(layer, conv, g: Graph, form: str) -> None:
    inp = make_inputs(g, form, features(g, form, layer.in_channels, torch.float64))
    ref = conv(inp.x_dense, inp.ref_graph, inp.ref_weight)
    with torch.no_grad():
        out = layer(inp.x, inp.graph, inp.edge_weight)
    assert not out.requires_grad
    torch.testing.assert_close(out, ref.detach(), **F64)


def check_inference_mode(layer, conv, g: Graph, form: str) -> None:
    """Inputs created inside ``torch.inference_mode()`` (inference tensors: no version counter)."""
    outside = make_inputs(g, form, features(g, form, layer.in_channels, torch.float64))
    ref = conv(outside.x_dense, outside.ref_graph, outside.ref_weight)
    with torch.inference_mode():
        g_inf = Graph(g.name, g.num_nodes, g.edge_index.clone(), g.edge_weight.clone())  # inference tensors
        inp = make_inputs(g_inf, form, features(g_inf, form, layer.in_channels, torch.float64))
        assert inp.graph.is_inference()
        out = layer(inp.x, inp.graph, inp.edge_weight)
        out_again = layer(inp.x, inp.graph, inp.edge_weight)  # a second call (anything memoized) works too
    assert out.is_inference()
    torch.testing.assert_close(out, ref, **F64)
    torch.testing.assert_close(out_again, ref, **F64)


def check_second_order(layer, conv, g: Graph, form: str) -> None:
    """d/d(x, edge_weight, weight) of <v, d(sum out^2)/dx> (or /dweight for sparse x) equals GCNConv's (float64)."""
    inp = make_inputs(g, form, features(g, form, layer.in_channels, torch.float64))
    dense_x = form not in SPARSE_X_FORMS
    names = [n for n, used in (("x", dense_x), ("edge_weight", form in WEIGHTED_FORMS), ("weight", True)) if used]
    results = []
    for module, x, w, weight in (
        (layer, leaf(inp.x) if dense_x else inp.x, leaf(inp.edge_weight), layer.weight),
        (conv, leaf(inp.x_dense), leaf(inp.ref_weight, form in WEIGHTED_FORMS), conv.lin.weight),
    ):
        out = module(x, inp.graph if module is layer else inp.ref_graph, w)
        first_wrt = x if dense_x else weight
        (first,) = torch.autograd.grad((out**2).sum(), first_wrt, create_graph=True)
        if module is conv and not dense_x:
            first = first.T  # conv.lin.weight is layer.weight.T
        v = randn_like_seeded(first, seed=3)
        wrt = {"x": x, "edge_weight": w, "weight": weight}
        wrt = [wrt[n] for n in names]
        grads = torch.autograd.grad((first * v).sum(), wrt, allow_unused=True)
        grads = [torch.zeros_like(t) if d is None else d for t, d in zip(wrt, grads, strict=True)]
        if module is conv:
            grads[-1] = grads[-1].T
        results.append(grads)
    mask = g.differentiable_edges()
    for mine, ref, name in zip(*results, names, strict=True):
        if name == "edge_weight":
            mine, ref = mine[mask], ref[mask]
        torch.testing.assert_close(mine, ref, **F64, msg=lambda m, name=name: f"d2/d{name}: {m}")


@pytest.mark.parametrize("feature", CHEAP_FEATURES)
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", FAMILIES)
def test_matrix(name: str, form: str, feature: str) -> None:
    g = family(name)
    layer, conv = pair(*channels(name))
    if feature == "float64":
        compare_forward_backward(layer, conv, g, form, torch.float64, F64)
    elif feature == "float32":
        compare_forward_backward(layer.float(), conv.float(), g, form, torch.float32, F32)
    elif feature in ("bfloat16", "float16", "autocast"):
        try:
            if feature == "autocast":
                check_autocast(layer, conv, g, form)
            else:
                check_half(layer, conv, g, form, getattr(torch, feature))
        except GnnhwError as err:
            # CSR features in a half type: torch has no CPU kernel (GCNConv fails too, NotImplementedError);
            # the layer may compute it another way or refuse with one clear error naming it. Nothing else may refuse.
            if form != "x_csr":
                raise
            assert "sparse" in str(err).lower(), str(err)
            assert "\n" not in str(err), str(err)
    elif feature == "no_grad":
        check_no_grad(layer, conv, g, form)
    elif feature == "inference_mode":
        check_inference_mode(layer, conv, g, form)
    elif feature == "second_order":
        check_second_order(layer, conv, g, form)


# ----------------------------------------------------------------------------------------------------------------
# gradcheck / gradgradcheck (float64) on (x, edge_weight), and on (weight, bias) through functional_call


def _gradcheck_inputs(g: Graph, form: str, layer: GCNLayer):
    """(function of the differentiable inputs, those inputs) for the layer's own gradcheck."""
    inp = make_inputs(g, form, features(g, form, layer.in_channels, torch.float64))
    dense_x = form not in SPARSE_X_FORMS
    mask = g.differentiable_edges()
    use_w = inp.edge_weight is not None and bool(mask.any())
    w_fixed = inp.edge_weight
    inputs = []
    if dense_x:
        inputs.append(leaf(inp.x))
    if use_w:
        inputs.append(leaf(inp.edge_weight[mask]))

    def fn(*args):
        args = list(args)
        x = args.pop(0) if dense_x else inp.x
        w = w_fixed
        if use_w:
            w = w_fixed.masked_scatter(mask, args.pop(0))  # non-differentiable edges held constant
        return layer(x, inp.graph, w)

    return fn, tuple(inputs)


# a sparse x is not differentiable here; with no edges nothing else is (weight and bias: test_gradcheck_parameters)
GRADCHECK_CASES = [
    (name, form)
    for name in FAMILIES
    for form in FORMS
    if not (form in SPARSE_X_FORMS and name in ("no_edges", "single_node"))
]


@pytest.mark.parametrize("check", ["gradcheck", "gradgradcheck"])
@pytest.mark.parametrize(("name", "form"), GRADCHECK_CASES)
def test_gradcheck(name: str, form: str, check: str) -> None:
    g = family(name)
    layer, _ = pair(2, 2)
    fn, inputs = _gradcheck_inputs(g, form, layer)

    # fast_mode compares random projections u^T J v of the analytic and numerical Jacobians: one wrong entry changes
    # them almost surely, at a fraction of the cost. Full Jacobians: test_gradcheck_full_jacobians.
    assert getattr(torch.autograd, check)(fn, inputs, fast_mode=True)


@pytest.mark.parametrize("form", ["ei_w", "csr"])
@pytest.mark.parametrize("name", ["duplicates", "self_loops"])
def test_gradcheck_full_jacobians(name: str, form: str) -> None:
    """gradcheck and gradgradcheck with every Jacobian entry compared (fast_mode=False)."""
    g = family(name)
    layer, _ = pair(2, 2)
    fn, inputs = _gradcheck_inputs(g, form, layer)

    assert torch.autograd.gradcheck(fn, inputs)
    assert torch.autograd.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("form", ["ei64", "ei_w", "csr", "x_coo", "batched"])
@pytest.mark.parametrize("name", ["directed", "self_loops", "isolated"])
def test_gradcheck_parameters(name: str, form: str) -> None:
    """First and second derivatives in weight and bias (through torch.func.functional_call)."""
    g = family(name)
    layer, _ = pair(2, 2)
    inp = make_inputs(g, form, features(g, form, 2, torch.float64))

    def fn(weight, bias):
        return torch.func.functional_call(layer, {"weight": weight, "bias": bias}, (inp.x, inp.graph, inp.edge_weight))

    params = (leaf(layer.weight), leaf(layer.bias))
    assert torch.autograd.gradcheck(fn, params, fast_mode=True)
    assert torch.autograd.gradgradcheck(fn, params, fast_mode=True)


# ----------------------------------------------------------------------------------------------------------------
# torch.func: jacrev, vmap, functional_call


def _jacobian_ref(fn, arg):
    return torch.autograd.functional.jacobian(fn, arg)


@pytest.mark.parametrize("feature", ["jacrev", "vmap", "functional_call"])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", FAMILIES)
def test_torch_func(name: str, form: str, feature: str) -> None:
    g = family(name)
    layer, conv = pair(*channels(name))
    inp = make_inputs(g, form, features(g, form, layer.in_channels, torch.float64))
    dense_x = form not in SPARSE_X_FORMS
    weighted = form in WEIGHTED_FORMS
    mask = g.differentiable_edges()
    w_ref, ref_graph = inp.ref_weight, inp.ref_graph
    if feature == "jacrev":
        if dense_x:
            jac = torch.func.jacrev(lambda x: layer(x, inp.graph, inp.edge_weight))(inp.x)
            ref = _jacobian_ref(lambda x: conv(x, ref_graph, w_ref), inp.x_dense)
            torch.testing.assert_close(jac, ref, **F64)
        if weighted:
            try:
                jac = torch.func.jacrev(lambda w: layer(inp.x, inp.graph, w))(inp.edge_weight)
            except GnnhwError as err:
                # CSR features under a torch.func grad transform: torch cannot ("Sparse CSR tensors do not have
                # strides"; GCNConv fails too), so one clear GnnhwError naming it is allowed there, and only there
                if form != "x_csr":
                    raise
                assert "sparse" in str(err).lower(), str(err)
                assert "\n" not in str(err), str(err)
            else:
                ref = _jacobian_ref(lambda w: conv(inp.x_dense, ref_graph, w), w_ref)
                torch.testing.assert_close(jac[..., mask], ref[..., mask], **F64)
        if not dense_x:  # sparse x: differentiate in the weight instead
            # GCNConv itself cannot (torch: "expand is unsupported for Sparse tensors" / "Sparse CSR tensors do not
            # have strides"), so the layer may either do it or refuse with one clear GnnhwError that names it.
            def by_weight(weight):
                return torch.func.functional_call(layer, {"weight": weight}, (inp.x, inp.graph, inp.edge_weight))

            try:
                jac = torch.func.jacrev(by_weight)(layer.weight.detach())
            except GnnhwError as err:
                assert "sparse" in str(err).lower(), str(err)
                assert "\n" not in str(err), str(err)
            else:
                args = (inp.x_dense, ref_graph) if w_ref is None else (inp.x_dense, ref_graph, w_ref)
                ref = _jacobian_ref(
                    lambda weight: torch.func.functional_call(conv, {"lin.weight": weight.T}, args),
                    layer.weight.detach(),
                )
                torch.testing.assert_close(jac, ref, **F64)
    elif feature == "vmap":
        if dense_x:  # over a batch of node features
            xs = torch.stack([features(g, form, layer.in_channels, torch.float64, seed=s) for s in range(3)])
            out = torch.func.vmap(lambda x: layer(x, inp.graph, inp.edge_weight))(xs)
            ref = torch.stack([conv(x, ref_graph, w_ref) for x in xs])
            torch.testing.assert_close(out, ref, **F64)
        if weighted:  # over a batch of edge weightings of one graph
            ws = torch.stack([inp.edge_weight * (s + 1) / 2 + s / 10 for s in range(3)])
            out = torch.func.vmap(lambda w: layer(inp.x, inp.graph, w))(ws)
            ref = torch.stack([conv(inp.x_dense, ref_graph, w) for w in ws])
            torch.testing.assert_close(out, ref, **F64)
    else:  # functional_call with other parameters than the layer's own, and gradients through them
        gen = torch.Generator().manual_seed(5)
        weight = torch.randn(layer.weight.shape, generator=gen, dtype=torch.float64, requires_grad=True)
        bias = torch.randn(layer.bias.shape, generator=gen, dtype=torch.float64, requires_grad=True)
        out = torch.func.functional_call(layer, {"weight": weight, "bias": bias}, (inp.x, inp.graph, inp.edge_weight))
        conv_params = {"lin.weight": weight.T, "bias": bias}
        args = (inp.x_dense, ref_graph) if w_ref is None else (inp.x_dense, ref_graph, w_ref)
        ref = torch.func.functional_call(conv, conv_params, args)
        torch.testing.assert_close(out, ref, **F64)
        grad = randn_like_seeded(ref)
        mine = torch.autograd.grad((out * grad).sum(), (weight, bias))
        theirs = torch.autograd.grad((ref * grad).sum(), (weight, bias))
        torch.testing.assert_close(mine, theirs, **F64)
        assert layer.weight.grad is None  # the layer's own parameters were not used


def _adj_t_of(index: torch.Tensor, weight: torch.Tensor, n: int, layout: str) -> torch.Tensor:
    """``adj_t[target, source] = weight`` as a sparse ``(N, N)`` matrix, differentiable in ``weight``.

    ``index`` coalesced (as :meth:`Graph.coalesced` gives): the COO / CSR storage order is the edge order."""
    coo = torch.sparse_coo_tensor(index.flip(0), weight, (n, n), is_coalesced=layout != "uncoalesced")
    if layout in ("coo", "uncoalesced"):
        return coo
    return coo.to_sparse_csr() if layout == "csr" else coo.to_sparse_csc()


@pytest.mark.parametrize("layout", ["coo", "csr", "csc", "uncoalesced"])
@pytest.mark.parametrize("name", FAMILIES)
def test_sparse_adjacency_value_gradients(name: str, layout: str) -> None:
    """A sparse adj_t whose values require grad: d out / d values equals GCNConv's d out / d edge_weight on the same
    matrix as an edge_index (one meaning per graph: an existing self-loop keeps its weight).

    Coalesced layouts are built from the coalesced edge list, so value ``k`` is edge ``k``; the uncoalesced COO is
    built from the family's raw edge list (duplicates stored separately; the layer sums them), compared with GCNConv
    on that raw edge list (the gradient of each duplicate is that of their sum)."""
    g = family(name)
    layer, conv = pair(*channels(name))
    x = features(g, "ei_w", layer.in_channels, torch.float64)
    if layout == "uncoalesced":
        index, weight = g.edge_index, g.edge_weight
    else:
        index, weight = g.coalesced()
    w_mine, w_ref = leaf(weight), leaf(weight)
    out, ref = layer(x, _adj_t_of(index, w_mine, g.num_nodes, layout)), conv(x, index, w_ref)
    torch.testing.assert_close(out, ref, **F64)
    if index.shape[1] == 0:
        return
    grad = randn_like_seeded(ref)
    (g_mine,) = torch.autograd.grad((out * grad).sum(), w_mine)
    (g_ref,) = torch.autograd.grad((ref * grad).sum(), w_ref)
    coalesced = Graph(name, g.num_nodes, index, weight)
    mask = coalesced.differentiable_edges()
    torch.testing.assert_close(g_mine[mask], g_ref[mask], **F64)


NO_LOOP_FAMILIES = [
    name for name in FAMILIES if not bool((family(name).edge_index[0] == family(name).edge_index[1]).any())
]


@pytest.mark.parametrize("improved", [False, True])
@pytest.mark.parametrize("layout", ["coo", "csr", "csc"])
@pytest.mark.parametrize("name", NO_LOOP_FAMILIES)
def test_sparse_adjacency_equals_gcnconv_sparse_path_without_self_loops(name: str, layout: str, improved: bool):
    """On graphs without self-loops GCNConv's torch-sparse path agrees with its edge_index path, and the layer with
    both: outputs and the x / weight / value gradients equal GCNConv's on the sparse matrix itself (CSR for CSC,
    which its ``gcn_norm`` refuses; GCNConv's COO path cannot be differentiated in the values, so those gradients
    come from the CSR form of the same matrix)."""
    assert "self_loops" not in NO_LOOP_FAMILIES
    assert len(NO_LOOP_FAMILIES) == len(FAMILIES) - 1
    g = family(name)
    layer, conv = pair(*channels(name), improved=improved)
    x = features(g, "ei_w", layer.in_channels, torch.float64)
    index, weight = g.coalesced()
    w_mine, w_ref = leaf(weight), leaf(weight)
    ref_layout = "coo" if layout == "coo" else "csr"
    x_mine, x_ref = leaf(x), leaf(x)
    out = layer(x_mine, _adj_t_of(index, w_mine, g.num_nodes, layout))
    ref = conv(x_ref, _adj_t_of(index, w_ref if ref_layout == "csr" else weight, g.num_nodes, ref_layout))
    torch.testing.assert_close(out, ref, **F64)
    torch.testing.assert_close(out, conv(x, index, weight), **F64)  # GCNConv's two paths agree here
    grad = randn_like_seeded(ref)
    (out * grad).sum().backward()
    (ref * grad).sum().backward()
    torch.testing.assert_close(x_mine.grad, x_ref.grad, **F64)
    torch.testing.assert_close(layer.weight.grad, conv.lin.weight.grad.T, **F64)
    if ref_layout == "csr" and index.shape[1]:
        torch.testing.assert_close(w_mine.grad, w_ref.grad, **F64)


EVERY_GRAPH_FORM = ("ei64", "ei32", "ei_w", "ei_w32", "coo", "coo_uncoalesced", "csr", "csc")


def _form_args(g: Graph, form: str, weighted: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The graph of ``g`` in one input form; ``weighted=False``: every edge weighs 1 (also in the sparse forms)."""
    w = g.edge_weight if weighted else torch.ones_like(g.edge_weight)
    index, w_c = Graph(g.name, g.num_nodes, g.edge_index, w).coalesced()
    n = g.num_nodes
    if form in ("ei64", "ei32"):
        ei = g.edge_index if form == "ei64" else g.edge_index.int()
        return (ei, w.clone()) if weighted else (ei, None)
    if form in ("ei_w", "ei_w32"):
        return (g.edge_index if form == "ei_w" else g.edge_index.int()), w.clone()
    if form == "coo_uncoalesced":
        return _adj_t_of(g.edge_index, w, n, "uncoalesced"), None
    return _adj_t_of(index, w_c, n, form), None


@pytest.mark.parametrize("options", [{}, {"improved": True}], ids=["plain", "improved"])
@pytest.mark.parametrize("weighted", [True, False], ids=["weighted", "unweighted"])
@pytest.mark.parametrize("name", FAMILIES)
def test_every_form_gives_one_output(name: str, weighted: bool, options: dict) -> None:
    """One meaning per graph (issue #8, item 7): every input form of a family's graph (edge_index int64 / int32,
    with or without edge_weight, sparse adj_t COO coalesced or not, CSR, CSC) gives the same layer output within
    1e-12 (float64), equal to ``normalized_adjacency(edge_index, edge_weight) @ (x W) + b`` computed densely
    (``normalized_adjacency`` has no ``improved``: with it, Â is PyG's ``gcn_norm`` of the edge_index with explicit
    weights, unit ones when unweighted, see :func:`reference`)."""
    from gnnhw.graph import normalized_adjacency

    g = family(name)
    layer, _ = pair(*channels(name), **options)
    x = features(g, "ei_w", layer.in_channels, torch.float64)
    w = g.edge_weight if weighted else None
    if options.get("improved"):
        a_hat = dense_norm_adj(g, g.edge_weight if weighted else torch.ones_like(g.edge_weight), improved=True)
    else:
        a_hat = normalized_adjacency(g.edge_index, w, num_nodes=g.num_nodes, dtype=torch.float64)
    expected = a_hat @ (x @ layer.weight.detach()) + layer.bias.detach()
    with torch.no_grad():
        outs = {form: layer(x, *_form_args(g, form, weighted)) for form in EVERY_GRAPH_FORM}
    for form, out in outs.items():
        torch.testing.assert_close(out, outs["ei64"], atol=1e-12, rtol=0.0, msg=lambda m, f=form: f"{f}: {m}")
        torch.testing.assert_close(out, expected, atol=1e-12, rtol=0.0, msg=lambda m, f=form: f"{f}: {m}")


# ----------------------------------------------------------------------------------------------------------------
# GCNConv's options

OPTIONS = {
    "improved": {"improved": True},
    "no_self_loops": {"add_self_loops": False},
    "improved_no_self_loops": {"improved": True, "add_self_loops": False},
    "no_normalize": {"normalize": False},
    "no_bias": {"bias": False},
    "cached": {"cached": True},
}


@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("form", ["ei64", "ei_w", "coo", "csr", "csc", "batched"])
@pytest.mark.parametrize("name", FAMILIES)
def test_options(name: str, form: str, option: str) -> None:
    g = family(name)
    layer, conv = pair(*channels(name), **OPTIONS[option])
    compare_forward_backward(layer, conv, g, form, torch.float64, F64)


@pytest.mark.parametrize("layout", [torch.sparse_coo, torch.sparse_csr, torch.sparse_csc])
@pytest.mark.parametrize("name", FAMILIES)
def test_precomputed_normalized_adjacency_with_normalize_false(name: str, layout) -> None:
    """``GCNLayer(normalize=False)(x, Â)`` with a precomputed sparse Â equals GCNConv on the raw graph."""
    g = family(name)
    layer, conv = pair(*channels(name), normalize=False)
    _, conv_norm = pair(*channels(name))  # same seed: same weights and bias
    adj = dense_norm_adj(g, g.edge_weight).to_sparse()
    adj = (
        adj
        if layout == torch.sparse_coo
        else (adj.to_sparse_csr() if layout == torch.sparse_csr else adj.to_sparse_csc())
    )
    x = features(g, "ei_w", layer.in_channels, torch.float64)
    x_mine, x_ref = leaf(x), leaf(x)
    out, ref = layer(x_mine, adj), conv_norm(x_ref, g.edge_index, g.edge_weight)
    torch.testing.assert_close(out, ref, **F64)
    torch.testing.assert_close(out, conv(x, adj.to_sparse_csr() if layout == torch.sparse_csc else adj), **F64)
    grad = randn_like_seeded(ref)
    (out * grad).sum().backward()
    (ref * grad).sum().backward()
    torch.testing.assert_close(x_mine.grad, x_ref.grad, **F64)
    torch.testing.assert_close(layer.weight.grad, conv_norm.lin.weight.grad.T, **F64)


@pytest.mark.parametrize("form", ["ei_w", "csr", "coo"])
def test_cached_reuses_the_first_normalization_like_gcnconv(form: str) -> None:
    """cached=True: the normalization of the first call is reused for later calls, whatever graph they pass."""
    g1, g2 = family("directed"), family("directed", seed=1)
    layer, conv = pair(3, 2, cached=True)
    fresh, _ = pair(3, 2)  # uncached, same weights
    x1 = features(g1, form, 3, torch.float64)
    x2 = features(g1, form, 3, torch.float64, seed=9)
    in1, in2 = make_inputs(g1, form, x1), make_inputs(g2, form, x2)
    torch.testing.assert_close(layer(x1, in1.graph, in1.edge_weight), conv(x1, in1.ref_graph, in1.ref_weight), **F64)
    out2 = layer(x2, in2.graph, in2.edge_weight)
    ref2 = conv(x2, in2.ref_graph, in2.ref_weight)  # GCNConv uses its cache of g1
    torch.testing.assert_close(out2, ref2, **F64)
    torch.testing.assert_close(out2, fresh(x2, in1.graph, in1.edge_weight), **F64)  # i.e. the first graph, new x
    assert (out2 - fresh(x2, in2.graph, in2.edge_weight)).abs().max() > 1e-3  # and not the second graph
    # GCNConv.reset_parameters() also drops the cache; so does the layer's
    layer.reset_parameters()
    conv.reset_parameters()
    with torch.no_grad():
        layer.weight.copy_(conv.lin.weight.T)
        layer.bias.copy_(conv.bias)
    torch.testing.assert_close(layer(x2, in2.graph, in2.edge_weight), conv(x2, in2.ref_graph, in2.ref_weight), **F64)


@pytest.mark.parametrize("form", ["ei64", "ei_w", "batched"])
def test_several_self_loops_on_one_node_in_an_edge_index(form: str) -> None:
    """Two loops on node 0 (and one on 2) in an edge_index: GCNConv on the CPU keeps the last one's weight
    (``add_remaining_self_loops`` scatters them into one slot). Outputs and the x / weight / bias gradients equal its.
    Edge-weight gradients are compared for the other edges only: GCNConv hands every duplicate loop the kept loop's
    gradient, although only the kept one influences the output (its gradient is the true one for that loop)."""
    edge_index = torch.tensor([[0, 1, 0, 2, 3, 2, 0], [1, 2, 0, 3, 0, 2, 0]])
    weight = torch.tensor([1.0, 2.0, 0.5, 1.5, 0.7, 2.5, 3.0], dtype=torch.float64)
    g = Graph("loops", 5, edge_index, weight)
    layer, conv = pair(3, 2)
    inp = make_inputs(g, form, features(g, form, 3, torch.float64))
    x_mine, x_ref = leaf(inp.x), leaf(inp.x_dense)
    w_mine, w_ref = leaf(inp.edge_weight), leaf(inp.ref_weight)
    out, ref = layer(x_mine, inp.graph, w_mine), conv(x_ref, inp.ref_graph, w_ref)
    torch.testing.assert_close(out, ref, **F64)
    grad = randn_like_seeded(ref)
    (out * grad).sum().backward()
    (ref * grad).sum().backward()
    torch.testing.assert_close(x_mine.grad, x_ref.grad, **F64)
    torch.testing.assert_close(layer.weight.grad, conv.lin.weight.grad.T, **F64)
    torch.testing.assert_close(layer.bias.grad, conv.bias.grad, **F64)
    if w_mine is not None:
        others = torch.tensor([True, True, False, True, True, True, True])  # all but the overridden loop
        torch.testing.assert_close(w_mine.grad[others], w_ref.grad[others], **F64)
        assert w_mine.grad[2] == 0.0  # the loop whose weight is not used has no influence


# ----------------------------------------------------------------------------------------------------------------
# The default (cached=False) never answers from another graph: writes that do not bump the version counter


def _assert_equal_now(layer, conv, x, edge_index, edge_weight=None, graph=None) -> None:
    out = layer(x, edge_index if graph is None else graph, edge_weight)
    torch.testing.assert_close(out, conv(x, edge_index, edge_weight), **F64)


def test_edge_index_changed_through_data_is_seen() -> None:
    g = family("directed")
    layer, conv = pair(3, 2)
    x = features(g, "ei64", 3, torch.float64)
    edge_index = g.edge_index.clone()
    _assert_equal_now(layer, conv, x, edge_index)
    edge_index.data[1, :6] = torch.tensor([0, 1, 2, 3, 4, 5])  # new targets and new self-loops
    _assert_equal_now(layer, conv, x, edge_index)
    edge_index.data[0] = edge_index.data[0].flip(0)
    _assert_equal_now(layer, conv, x, edge_index)
    weight = g.edge_weight.clone()
    _assert_equal_now(layer, conv, x, edge_index, weight)
    weight.data[:4] = 3.0
    _assert_equal_now(layer, conv, x, edge_index, weight)


def test_edge_index_changed_through_a_shared_numpy_buffer_is_seen() -> None:
    g = family("undirected")
    layer, conv = pair(3, 2)
    x = features(g, "ei64", 3, torch.float64)
    buf = g.edge_index.numpy().copy()
    edge_index = torch.from_numpy(buf)
    _assert_equal_now(layer, conv, x, edge_index)
    gen = np.random.default_rng(0)
    for _ in range(3):  # refill the buffer with other graphs; the tensor object and its version stay the same
        buf[...] = gen.integers(0, g.num_nodes, size=buf.shape)
        _assert_equal_now(layer, conv, x, edge_index)
    weight_buf = g.edge_weight.numpy().copy()
    weight = torch.from_numpy(weight_buf)
    _assert_equal_now(layer, conv, x, edge_index, weight)
    weight_buf[:] = gen.uniform(0.1, 3.0, size=weight_buf.shape)
    _assert_equal_now(layer, conv, x, edge_index, weight)


def test_sparse_adjacency_changed_through_numpy_buffers_is_seen() -> None:
    """A CSR adj_t over numpy buffers (values and column indices), refilled between calls."""
    g = family("directed")
    layer, conv = pair(3, 2)
    x = features(g, "csr", 3, torch.float64)
    adj = g.adj_t(torch.sparse_csr)
    crow, col, val = adj.crow_indices().numpy().copy(), adj.col_indices().numpy().copy(), adj.values().numpy().copy()
    shared = torch.sparse_csr_tensor(torch.from_numpy(crow), torch.from_numpy(col), torch.from_numpy(val), adj.shape)

    def reference():  # GCNConv (uncached) on a fresh copy of the buffers' current content, as an edge list
        fresh = torch.sparse_csr_tensor(*(torch.from_numpy(a.copy()) for a in (crow, col, val)), adj.shape)
        coo = fresh.to_sparse_coo().coalesce()  # (the shifted columns below put self-loops on some nodes)
        return conv(x, coo.indices().flip(0), coo.values())

    torch.testing.assert_close(layer(x, shared), reference(), **F64)
    val[:] = np.linspace(0.2, 4.0, len(val))
    torch.testing.assert_close(layer(x, shared), reference(), **F64)
    for r in range(g.num_nodes):  # other sources, same row structure (column order within a row kept sorted)
        col[crow[r] : crow[r + 1]] = np.sort((col[crow[r] : crow[r + 1]] + 1) % g.num_nodes)
    torch.testing.assert_close(layer(x, shared), reference(), **F64)


def test_new_edge_index_tensors_in_a_loop() -> None:
    """Tensors freed and reallocated (same shape, maybe the same id and address) never reuse an old graph."""
    layer, conv = pair(3, 2)
    g = family("directed")
    x = features(g, "ei64", 3, torch.float64)
    gen = torch.Generator().manual_seed(4)
    for _ in range(8):
        edge_index = torch.randint(0, g.num_nodes, g.edge_index.shape, generator=gen)
        _assert_equal_now(layer, conv, x, edge_index)
        del edge_index


# ----------------------------------------------------------------------------------------------------------------
# Module plumbing: copies, state_dict, from_pyg / to_pyg, torch.compile, CUDA


@pytest.mark.parametrize("form", ["ei_w", "csr", "batched"])
@pytest.mark.parametrize("cached", [False, True])
def test_deepcopy_and_state_dict_round_trip(form: str, cached: bool) -> None:
    g = family("self_loops")
    layer, conv = pair(3, 2, cached=cached)
    inp = make_inputs(g, form, features(g, form, 3, torch.float64))
    expected = conv(inp.x_dense, inp.ref_graph, inp.ref_weight)
    torch.testing.assert_close(layer(inp.x, inp.graph, inp.edge_weight), expected, **F64)
    twin = copy.deepcopy(layer)
    torch.testing.assert_close(twin(inp.x, inp.graph, inp.edge_weight), expected, **F64)
    fresh = GCNLayer(3, 2, cached=cached).double()
    fresh.load_state_dict(layer.state_dict())
    for key, value in layer.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value)
    torch.testing.assert_close(fresh(inp.x, inp.graph, inp.edge_weight), expected, **F64)
    with torch.no_grad():  # the copy owns its parameters
        twin.weight.add_(1.0)
    torch.testing.assert_close(layer(inp.x, inp.graph, inp.edge_weight), expected, **F64)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("option", ["default", *OPTIONS])
def test_from_pyg_and_to_pyg(option: str, dtype) -> None:
    options = OPTIONS.get(option, {})
    torch.manual_seed(0)
    conv = GCNConv(3, 2, **options).to(dtype)
    if conv.bias is not None:
        torch.nn.init.normal_(conv.bias)
    layer = GCNLayer.from_pyg(conv)
    assert isinstance(layer, GCNLayer)
    assert layer.weight.dtype == dtype
    assert torch.equal(layer.weight, conv.lin.weight.T)  # bit-equal
    assert (layer.bias is None) == (conv.bias is None)
    if conv.bias is not None:
        assert torch.equal(layer.bias, conv.bias)
    for name in ("improved", "cached", "add_self_loops", "normalize"):
        assert getattr(layer, name) == getattr(conv, name), name
    back = layer.to_pyg()
    assert isinstance(back, GCNConv)
    assert back.lin.weight.dtype == dtype
    assert torch.equal(back.lin.weight, conv.lin.weight)
    if conv.bias is not None:
        assert torch.equal(back.bias, conv.bias)
    for name in ("in_channels", "out_channels", "improved", "cached", "add_self_loops", "normalize"):
        assert getattr(back, name) == getattr(conv, name), name
    g = family("undirected")
    x = features(g, "ei_w", 3, dtype)
    w = g.edge_weight.to(dtype)
    expected = conv(x, g.edge_index, w)
    assert torch.equal(back(x, g.edge_index, w), expected)  # a GCNConv with bit-equal weights: the same computation
    if dtype == torch.bfloat16:  # against float32 GCNConv on the same rounded numbers, within bfloat16 rounding
        layer64 = GCNLayer.from_pyg(conv.double())
        check_half(layer64, conv.double(), g, "ei_w", torch.bfloat16)
    else:
        tol = F64 if dtype == torch.float64 else F32
        torch.testing.assert_close(layer(x, g.edge_index, w), expected, **tol)


def _compile_case(backend: str, form: str) -> None:
    torch._dynamo.reset()
    g = family("self_loops")
    layer, conv = pair(3, 2, dtype=torch.float32)
    compiled = torch.compile(layer, backend=backend)
    compare_forward_backward(compiled, conv, g, form, torch.float32, F32)
    layer.zero_grad()
    conv.zero_grad()
    compare_forward_backward(compiled, conv, g, form, torch.float32, F32)  # the second call: compiled code reused


def test_torch_compile_inductor_edge_index() -> None:
    """torch.compile with the default backend (inductor): same numbers as GCNConv (graph breaks allowed). Slow (s)."""
    _compile_case("inductor", "ei_w")


def test_torch_compile_aot_eager_sparse_adjacency() -> None:
    """Dynamo tracing + AOTAutograd (what inductor sees) without inductor's code generation: cheap."""
    _compile_case("aot_eager", "csr")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("form", ["ei64", "ei_w", "csr", "coo", "batched"])
def test_cuda(form: str) -> None:
    g = family("self_loops")
    layer, conv = pair(3, 2)
    layer, conv = layer.cuda(), conv.cuda()
    inp = make_inputs(g, form, features(g, form, 3, torch.float64))
    move = lambda t: None if t is None else t.cuda()  # noqa: E731
    x, x_ref = leaf(inp.x.cuda()), leaf(inp.x_dense.cuda())
    w = leaf(move(inp.edge_weight))
    w_ref = leaf(move(inp.ref_weight), form in WEIGHTED_FORMS)
    out, ref = layer(x, inp.graph.cuda(), w), conv(x_ref, inp.ref_graph.cuda(), w_ref)
    assert out.is_cuda
    torch.testing.assert_close(out, ref, **F64)
    grad = torch.randn_like(ref)
    (out * grad).sum().backward()
    (ref * grad).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, **F64)
    torch.testing.assert_close(layer.weight.grad, conv.lin.weight.grad.T, **F64)
    if w is not None:
        mask = g.differentiable_edges().cuda()
        torch.testing.assert_close(w.grad[mask], w_ref.grad[mask], **F64)


# ----------------------------------------------------------------------------------------------------------------
# What is not supported raises one clear GnnhwError


def test_bipartite_features_raise() -> None:
    """GCNConv refuses a (x_src, x_dst) pair with a ValueError; the layer with a GnnhwError (a ValueError too)."""
    layer, _ = pair(3, 2)
    g = family("directed")
    with pytest.raises(GnnhwError, match="(?i)bipartite|tuple"):
        layer((torch.randn(g.num_nodes, 3), torch.randn(g.num_nodes, 3)), g.edge_index)


@pytest.mark.parametrize("layout", ["coo", "csr", "csc"])
def test_batched_features_with_a_sparse_adjacency_are_supported_or_refused_clearly(layout: str) -> None:
    """GCNConv fails here with a torch RuntimeError; the layer must either give the per-graph result or refuse."""
    g = family("directed")
    layer, conv = pair(3, 2)
    x = features(g, "batched", 3, torch.float64)
    adj = make_inputs(g, layout, x[0]).graph
    try:
        out = layer(x, adj)
    except GnnhwError as err:
        assert "sparse" in str(err).lower()
        assert "\n" not in str(err)
        return
    torch.testing.assert_close(out, torch.stack([conv(xb, g.edge_index, g.edge_weight) for xb in x]), **F64)


def test_bad_inputs_raise_gnnhw_errors() -> None:
    layer, _ = pair(3, 2)
    g = family("directed")
    x = features(g, "ei64", 3, torch.float64)
    with pytest.raises(GnnhwError):  # a node id >= N
        layer(x[:-1], g.edge_index)
    with pytest.raises(GnnhwError):
        layer(x, g.edge_index, g.edge_weight[:-1])
    with pytest.raises(GnnhwError):
        layer(x, g.edge_index.double())
    with pytest.raises(GnnhwError):
        layer(x[:, :2], g.edge_index)
    with pytest.raises(GnnhwError):  # a sparse adjacency already holds the weights
        layer(x, g.adj_t(torch.sparse_csr), g.edge_weight)
    with pytest.raises(GnnhwError):
        layer(x, torch.sparse_coo_tensor(g.edge_index, g.edge_weight, (g.num_nodes, g.num_nodes + 1)))
    with pytest.raises(GnnhwError):  # float32 features into a float64 layer, outside autocast (GCNConv: RuntimeError)
        layer(x.float(), g.edge_index)


def test_what_the_layer_declares_unsupported_raises_one_clear_error() -> None:
    """The layer's docstring: flow="target_to_source" needs an edge_index (a sparse adjacency is always adj_t)."""
    g = family("directed")
    layer, _ = pair(3, 2, flow="target_to_source")
    x = features(g, "csr", 3, torch.float64)
    with pytest.raises(GnnhwError, match="flow") as info:
        layer(x, g.adj_t(torch.sparse_csr))
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------------------------------------------
# Issue #8's examples 1-7, as stated there


def test_issue8_example1_duplicate_edges_with_weight_gradients() -> None:
    torch.manual_seed(0)
    edge_index = torch.tensor([[1, 1, 1], [0, 0, 0]])
    w = torch.rand(3, requires_grad=True)
    x = torch.randn(2, 2, requires_grad=True)
    layer = GCNLayer(2, 2)
    layer(x, edge_index, w).sum().backward()
    conv = GCNConv(2, 2)
    with torch.no_grad():
        conv.lin.weight.copy_(layer.weight.T)
    w_ref, x_ref = leaf(w), leaf(x)
    conv(x_ref, edge_index, w_ref).sum().backward()
    torch.testing.assert_close(w.grad, w_ref.grad, **F32)
    torch.testing.assert_close(x.grad, x_ref.grad, **F32)


def test_issue8_example2_second_order_gradient_in_edge_weight() -> None:
    """Two nodes, edge 0 -> 1 of weight 0.5, W = 1, x = [[1], [2]]: d(sum dy/dx)/dw against a dense reference."""
    edge_index = torch.tensor([[0], [1]])

    def second_order(model_fn):
        x = torch.tensor([[1.0], [2.0]], dtype=torch.float64, requires_grad=True)
        w = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
        y = (model_fn(x, w) ** 2).sum()
        (gx,) = torch.autograd.grad(y, x, create_graph=True)
        (dw,) = torch.autograd.grad(gx.sum(), w)
        return dw

    def dense(x, w):  # Â from its definition: Ã = A + I, deg = in-degrees of Ã, Â[i, j] = Ã[j -> i] / sqrt(d_i d_j)
        a_tilde = torch.eye(2, dtype=torch.float64) + torch.zeros(2, 2, dtype=torch.float64).index_put(
            (torch.tensor([1]), torch.tensor([0])), w
        )  # row = target
        d = a_tilde.sum(1)
        return (a_tilde / torch.sqrt(d[:, None] * d[None, :])) @ x  # W = 1, no bias

    layer = GCNLayer(1, 1, bias=False).double()
    conv = GCNConv(1, 1, bias=False).double()
    with torch.no_grad():
        layer.weight.fill_(1.0)
        conv.lin.weight.fill_(1.0)
    expected = second_order(dense)
    torch.testing.assert_close(second_order(lambda x, w: conv(x, edge_index, w)), expected, **F64)  # the reference
    torch.testing.assert_close(second_order(lambda x, w: layer(x, edge_index, w)), expected, **F64)
    x = torch.tensor([[1.0], [2.0]], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda x, w: layer(x, edge_index, w), (x, w))


def test_issue8_example3_inference_mode() -> None:
    from gnnhw.graph import normalized_adjacency

    layer = GCNLayer(3, 2)
    conv = GCNConv(3, 2)
    with torch.no_grad():
        conv.lin.weight.copy_(layer.weight.T)
    x_out, ei_out = torch.randn(4, 3), torch.tensor([[0, 1, 2], [1, 2, 3]])
    with torch.inference_mode():
        x, edge_index = x_out.clone(), ei_out.clone()
        out = layer(x, edge_index)
        adj = normalized_adjacency(edge_index)
    torch.testing.assert_close(out, conv(x_out, ei_out), **F32)
    torch.testing.assert_close(torch.as_tensor(adj), torch.as_tensor(normalized_adjacency(ei_out)), **F64)


def test_issue8_example4_no_stale_memo() -> None:
    layer, conv = pair(3, 2, dtype=torch.float32)
    x = torch.randn(6, 3)
    buf = np.array([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    edge_index = torch.from_numpy(buf)
    torch.testing.assert_close(layer(x, edge_index), conv(x, edge_index), **F32)
    buf[...] = [[5, 4, 3, 2, 0], [0, 0, 0, 1, 1]]
    torch.testing.assert_close(layer(x, edge_index), conv(x, edge_index), **F32)
    edge_index = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    layer(x, edge_index)
    edge_index.data[...] = torch.tensor([[5, 4, 3, 2, 0], [0, 0, 0, 1, 1]])
    torch.testing.assert_close(layer(x, edge_index), conv(x, edge_index), **F32)


@pytest.mark.parametrize("mode", ["bfloat16", "float16", "autocast"])
def test_issue8_example5_half_types_and_autocast(mode: str) -> None:
    torch.manual_seed(0)
    layer = GCNLayer(3, 2)
    conv = GCNConv(3, 2)
    with torch.no_grad():
        conv.lin.weight.copy_(layer.weight.T)
    x, ei = torch.randn(4, 3), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    if mode == "autocast":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out, ref = layer(x, ei), conv(x, ei)
    else:
        dtype = getattr(torch, mode)
        out, ref = copy.deepcopy(layer).to(dtype)(x.to(dtype), ei), copy.deepcopy(conv).to(dtype)(x.to(dtype), ei)
    assert out.dtype == ref.dtype
    assert bool(torch.isfinite(out).all())
    # the numbers, within the type's rounding of float32 GCNConv (see assert_within_rounding)
    ring = Graph("ring", 4, ei, torch.ones(4, dtype=torch.float64))
    layer64, conv64 = GCNLayer.from_pyg(copy.deepcopy(conv).double()), copy.deepcopy(conv).double()
    if mode == "autocast":
        check_autocast(layer64, conv64, ring, "ei64")
    else:
        check_half(layer64, conv64, ring, "ei64", getattr(torch, mode))


def test_issue8_example6_torch_func() -> None:
    torch.manual_seed(0)
    layer, conv = pair(3, 2)
    x = torch.randn(5, 3, dtype=torch.float64)
    ei = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    jac = torch.func.jacrev(lambda x: layer(x, ei))(x)
    torch.testing.assert_close(jac, torch.func.jacrev(lambda x: conv(x, ei))(x), **F64)
    xs = torch.randn(4, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(
        torch.func.vmap(lambda x: layer(x, ei))(xs), torch.func.vmap(lambda x: conv(x, ei))(xs), **F64
    )
    # with a precomputed Â (normalize=False)
    g = Graph("path", 5, ei, torch.ones(4, dtype=torch.float64))
    adj = dense_norm_adj(g, None).to_sparse_csr()
    plain, _ = pair(3, 2, normalize=False)
    jac_adj = torch.func.jacrev(lambda x: plain(x, adj))(x)
    torch.testing.assert_close(jac_adj, jac, **F64)
    torch.testing.assert_close(
        torch.func.vmap(lambda x: plain(x, adj))(xs), torch.stack([conv(x, ei) for x in xs]), **F64
    )


def test_issue8_example7_drop_in() -> None:
    torch.manual_seed(0)
    layer, conv = pair(3, 2)
    g = family("isolated")
    x = features(g, "ei64", 3, torch.float64)
    adj = torch.sparse_coo_tensor(g.edge_index, g.edge_weight, (g.num_nodes, g.num_nodes))  # adj[source, target]
    torch.testing.assert_close(conv(x, adj.t()), conv(x, g.edge_index, g.edge_weight), **F64)  # GCNConv's own claim
    torch.testing.assert_close(layer(x, adj.t()), conv(x, g.edge_index, g.edge_weight), **F64)
    xb = features(g, "batched", 3, torch.float64)
    torch.testing.assert_close(layer(xb, g.edge_index), conv(xb, g.edge_index), **F64)
    for options in OPTIONS.values():
        mine, theirs = pair(3, 2, **options)
        torch.testing.assert_close(mine(x, g.edge_index), reference(theirs, x, g.edge_index), **F64)


@pytest.mark.parametrize("transform", ["grad", "jacrev"])
def test_vmap_of_a_gradient_over_a_batch_of_edge_weights(transform: str) -> None:
    # vmap(grad(f)) over edge weights raised torch's "data-dependent control flow" from the finiteness check, which
    # saw a grad-tracking wrapper around the batched tensor; GCNConv computes it.
    ei = torch.tensor([[0, 1, 2, 3, 0], [1, 2, 3, 0, 2]])
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    weights = torch.rand(3, 5, generator=gen, dtype=torch.float64) + 0.1
    conv = GCNConv(3, 2).double()
    layer = GCNLayer.from_pyg(conv)
    if transform == "grad":
        mine = torch.vmap(torch.func.grad(lambda w: layer(x, ei, w).sum()))(weights)
        ref = torch.vmap(torch.func.grad(lambda w: conv(x, ei, w).sum()))(weights)
    else:
        mine = torch.vmap(torch.func.jacrev(lambda w: layer(x, ei, w)))(weights)
        ref = torch.vmap(torch.func.jacrev(lambda w: conv(x, ei, w)))(weights)
    torch.testing.assert_close(mine, ref, rtol=0, atol=1e-12)
