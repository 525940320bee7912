"""PyG's own GCNConv tests (``test/nn/conv/test_gcn_conv.py`` in pyg-team/pytorch_geometric), re-expressed for
GCNLayer.

Each PyG test is kept with its inputs and assertions (same graph, same shapes, ``atol=1e-6``), run on GCNLayer, and
extended by one check: the layer equals GCNConv itself (same weights), whose numbers are computed here, never copied.

PyG tests or parts that do not apply:

- the ``SparseTensor`` (torch_sparse) parts of ``test_gcn_conv``: torch_sparse is not a dependency of gnnhw and
  GCNLayer takes torch sparse tensors only; those parts run below only when torch_sparse is installed, as in PyG.
- the ``torch.jit.script`` parts (``is_full_test()`` only in PyG): TorchScript is deprecated in torch 2.x and GCNLayer
  makes no TorchScript promise; ``torch.compile`` is tested in test_gcn_conformance.py instead.
- ``test_gcn_conv_with_decomposed_layers``: ``decomposed_layers`` and message hooks are MessagePassing machinery
  (splitting the message computation by feature columns); GCNLayer has no message step to decompose. What the test
  guards, that splitting the features does not change the output, holds trivially for a matrix product.
- ``test_gcn_conv_error`` asserts that ``GCNConv(normalize=False, add_self_loops=True)`` raises. GCNLayer's agreed
  signature has ``add_self_loops=True`` as its default, so it cannot tell an explicit ``True`` from the default; the
  translation accepts either that error (as a GnnhwError, a ValueError too) or GCNConv's ``normalize=False``
  behaviour (no self-loops added).
"""

from __future__ import annotations

import pytest
import torch
import torch_geometric.typing
from torch_geometric.nn import GCNConv
from torch_geometric.utils import to_torch_coo_tensor, to_torch_csc_tensor

from gnnhw.errors import GnnhwError
from gnnhw.graph import GCNLayer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # torch's "sparse CSR is beta" and friends

EDGE_INDEX = [[0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0]]  # PyG's star graph, both directions


def pyg_twin(layer: GCNLayer, **options) -> GCNConv:
    """A GCNConv with the layer's weights and bias (copied, so the test does not lean on to_pyg)."""
    conv = GCNConv(layer.in_channels, layer.out_channels, bias=layer.bias is not None, **options)
    with torch.no_grad():
        conv.lin.weight.copy_(layer.weight.T)
        if layer.bias is not None:
            conv.bias.copy_(layer.bias)
    return conv


def nonzero_bias(layer: GCNLayer) -> GCNLayer:
    with torch.no_grad():
        layer.bias.normal_()
    return layer


def test_gcn_conv() -> None:
    x = torch.randn(4, 16)
    edge_index = torch.tensor(EDGE_INDEX)
    value = torch.rand(edge_index.size(1))
    adj1 = to_torch_csc_tensor(edge_index, size=(4, 4))
    adj2 = to_torch_csc_tensor(edge_index, value, size=(4, 4))

    conv = nonzero_bias(GCNLayer(16, 32))
    assert str(conv).startswith("GCNLayer(16, 32")  # PyG: str(conv) == 'GCNConv(16, 32)'
    ref = pyg_twin(conv)

    out1 = conv(x, edge_index)
    assert out1.size() == (4, 32)
    assert torch.allclose(conv(x, adj1.t()), out1, atol=1e-6)
    assert torch.allclose(out1, ref(x, edge_index), atol=1e-6)

    out2 = conv(x, edge_index, value)
    assert out2.size() == (4, 32)
    assert torch.allclose(conv(x, adj2.t()), out2, atol=1e-6)
    assert torch.allclose(out2, ref(x, edge_index, value), atol=1e-6)

    if torch_geometric.typing.WITH_TORCH_SPARSE:  # pragma: no cover - torch_sparse is not installed here
        from torch_geometric.typing import SparseTensor

        adj3 = SparseTensor.from_edge_index(edge_index, sparse_sizes=(4, 4))
        adj4 = SparseTensor.from_edge_index(edge_index, value, (4, 4))
        assert torch.allclose(conv(x, adj3.t()), out1, atol=1e-6)
        assert torch.allclose(conv(x, adj4.t()), out2, atol=1e-6)

    conv.cached = True
    conv(x, edge_index)
    # PyG: conv._cached_edge_index is not None. Here, by behaviour: a cached layer keeps the first graph's
    # normalization, so another graph now gives the first graph's output (as GCNConv does).
    other = torch.tensor([[0, 1, 2], [1, 2, 3]])
    assert torch.allclose(conv(x, other), out1, atol=1e-6)
    assert torch.allclose(conv(x, edge_index), out1, atol=1e-6)
    assert torch.allclose(conv(x, adj1.t()), out1, atol=1e-6)
    ref.cached = True
    ref(x, edge_index)
    assert torch.allclose(conv(x, other), ref(x, other), atol=1e-6)


def test_gcn_conv_with_sparse_input_feature() -> None:
    x = torch.sparse_coo_tensor(
        indices=torch.tensor([[0, 0], [0, 1]]),
        values=torch.tensor([1.0, 1.0]),
        size=torch.Size([4, 16]),
    )
    edge_index = torch.tensor(EDGE_INDEX)

    conv = nonzero_bias(GCNLayer(16, 32))
    assert conv(x, edge_index).size() == (4, 32)
    assert torch.allclose(conv(x, edge_index), pyg_twin(conv)(x, edge_index), atol=1e-6)
    assert torch.allclose(conv(x, edge_index), conv(x.to_dense(), edge_index), atol=1e-6)


def test_static_gcn_conv() -> None:
    x = torch.randn(3, 4, 16)
    edge_index = torch.tensor(EDGE_INDEX)

    conv = nonzero_bias(GCNLayer(16, 32))
    out = conv(x, edge_index)
    assert out.size() == (3, 4, 32)
    assert torch.allclose(out, pyg_twin(conv)(x, edge_index), atol=1e-6)


def test_gcn_conv_error() -> None:
    try:
        conv = GCNLayer(16, 32, normalize=False, add_self_loops=True)
    except GnnhwError as err:  # PyG: ValueError "does not support adding self-loops"
        assert "self-loops" in str(err) or "add_self_loops" in str(err)
        return
    x, edge_index = torch.randn(4, 16), torch.tensor(EDGE_INDEX)
    ref = pyg_twin(conv, normalize=False)  # GCNConv(normalize=False): add_self_loops defaults to False
    assert torch.allclose(conv(x, edge_index), ref(x, edge_index), atol=1e-6)


def test_gcn_conv_flow() -> None:
    x = torch.randn(4, 16)
    edge_index = torch.tensor([[0, 0, 0], [1, 2, 3]])

    conv = GCNLayer(16, 32, flow="source_to_target")
    out1 = conv(x, edge_index)
    conv.flow = "target_to_source"
    out2 = conv(x, edge_index.flip(0))
    assert torch.allclose(out1, out2, atol=1e-6)
    ref = pyg_twin(conv, flow="target_to_source")
    assert torch.allclose(out2, ref(x, edge_index.flip(0)), atol=1e-6)
    assert not torch.allclose(out1, conv(x, edge_index), atol=1e-3)  # the flow really changes the result


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("layout", [torch.sparse_coo, torch.sparse_csr])
def test_gcn_norm_gradient(requires_grad, layout) -> None:
    """PyG checks that ``gcn_norm`` of a sparse adjacency keeps ``requires_grad`` of its values. GCNLayer has no
    separate ``gcn_norm`` for sparse input; the same property, end to end: the output requires grad exactly when the
    adjacency does (or the parameters do), and the gradient reaching the edge weights equals GCNConv's."""
    edge_index = torch.tensor(EDGE_INDEX)
    edge_weight = torch.ones(edge_index.size(1), requires_grad=requires_grad)
    adj = to_torch_coo_tensor(edge_index, edge_weight)
    if layout == torch.sparse_csr:
        adj = adj.to_sparse_csr()
    assert adj.requires_grad == requires_grad

    conv = nonzero_bias(GCNLayer(16, 32))
    x = torch.randn(4, 16)
    with torch.no_grad():  # parameters out of the picture: only the adjacency can make the output require grad
        assert not conv(x, adj).requires_grad
    for p in conv.parameters():
        p.requires_grad_(False)
    out = conv(x, adj)
    assert out.requires_grad == requires_grad
    if requires_grad:
        (grad,) = torch.autograd.grad(out.sum(), edge_weight)
        w_ref = torch.ones(edge_index.size(1), requires_grad=True)
        # GCNConv's COO path cannot be differentiated in the values ("derivative for aten::_coalesced_ is not
        # implemented"), so its gradient comes from the same matrix as CSR
        adj_ref = to_torch_coo_tensor(edge_index, w_ref).to_sparse_csr()
        (grad_ref,) = torch.autograd.grad(pyg_twin(conv)(x, adj_ref).sum(), w_ref)
        assert torch.allclose(grad, grad_ref, atol=1e-6)
