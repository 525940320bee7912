"""GCN: the scratch and PyG variants with equal weights give equal logits and gradients; options are checked."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import GCNConv

from gnnhw.errors import ConfigError
from gnnhw.graph.adjacency import normalized_adjacency
from gnnhw.graph.layers import GCNLayer
from gnnhw.graph.models import GCN, copy_weights, sparse_dropout

ATOL = 1e-5
N = 30


def graph(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, N - 2, (2, 90), generator=gen)  # two isolated nodes
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    return edge_index, torch.rand(edge_index.shape[1], generator=gen) + 0.1


def pair(num_layers: int, seed: int = 0, dropout: float = 0.5) -> tuple[GCN, GCN]:
    torch.manual_seed(seed)
    scratch = GCN(12, 8, 4, num_layers=num_layers, dropout=dropout, impl="scratch")
    for conv in scratch.convs:
        torch.nn.init.normal_(conv.bias)
    pyg = GCN(12, 8, 4, num_layers=num_layers, dropout=dropout, impl="reference")
    copy_weights(scratch, pyg)
    return scratch, pyg


def test_layer_kinds_and_sizes() -> None:
    scratch, pyg = pair(3)
    assert all(isinstance(c, GCNLayer) for c in scratch.convs)
    assert all(isinstance(c, GCNConv) for c in pyg.convs)
    assert [(c.in_channels, c.out_channels) for c in scratch.convs] == [(12, 8), (8, 8), (8, 4)]
    assert len(GCN(5, 7, 2, num_layers=1).convs) == 1


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_scratch_equals_pyg_in_eval_mode(num_layers: int, weighted: bool) -> None:
    scratch, pyg = pair(num_layers)
    scratch.eval()
    pyg.eval()
    edge_index, weight = graph(num_layers)
    weight = weight if weighted else None
    x = torch.randn(N, 12)
    torch.testing.assert_close(scratch(x, edge_index, weight), pyg(x, edge_index, weight), atol=ATOL, rtol=0)


def test_scratch_equals_pyg_in_training_mode_with_the_same_dropout_masks() -> None:
    scratch, pyg = pair(2)
    edge_index, weight = graph(1)
    x = torch.randn(N, 12)
    torch.manual_seed(7)
    out_s = scratch(x, edge_index, weight)
    torch.manual_seed(7)
    out_p = pyg(x, edge_index, weight)
    torch.testing.assert_close(out_s, out_p, atol=ATOL, rtol=0)
    grad = torch.randn_like(out_s)
    (out_s * grad).sum().backward()
    (out_p * grad).sum().backward()
    for a, b in zip(scratch.convs, pyg.convs, strict=True):
        torch.testing.assert_close(a.weight.grad, b.lin.weight.grad.T, atol=ATOL, rtol=0)
        torch.testing.assert_close(a.bias.grad, b.bias.grad, atol=ATOL, rtol=0)


def test_sparse_adjacency_and_sparse_features_give_the_same_logits() -> None:
    scratch, pyg = pair(2)
    scratch.eval()
    pyg.eval()
    edge_index, weight = graph(2)
    x = torch.randn(N, 12) * (torch.rand(N, 12) < 0.2)
    expected = pyg(x, edge_index, weight)
    adj = normalized_adjacency(edge_index, weight, N, sparse=True)
    for model in (scratch, pyg):
        for features in (x, x.to_sparse(), x.to_sparse_csr()):
            for graph_input in (adj, adj.to_sparse_coo()):
                torch.testing.assert_close(model(features, graph_input), expected, atol=ATOL, rtol=0)
    assert pyg.convs[0].normalize  # restored after the precomputed-Â call


def test_copy_weights_round_trip() -> None:
    scratch, pyg = pair(2, seed=3)
    again = GCN(12, 8, 4, impl="scratch")
    copy_weights(pyg, again)
    for a, b in zip(scratch.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("layout", [torch.sparse_coo, torch.sparse_csr])
def test_sparse_dropout_drops_and_scales_stored_values(layout) -> None:
    torch.manual_seed(0)
    dense = torch.rand(50, 40) + 1.0
    x = dense.to_sparse() if layout == torch.sparse_coo else dense.to_sparse_csr()
    out = sparse_dropout(x, 0.5, training=True).to_dense()
    kept = out != 0
    torch.testing.assert_close(out[kept], 2.0 * dense[kept])
    assert 0.4 < kept.float().mean() < 0.6
    assert sparse_dropout(x, 0.5, training=False) is x


@pytest.mark.parametrize(
    "kwargs",
    [{"impl": "gat"}, {"variant": "gat"}, {"num_layers": 0}, {"dropout": 1.0}, {"dropout": -0.1}, {"num_layers": 2.5}],
)
def test_bad_config(kwargs) -> None:
    with pytest.raises(ConfigError):
        GCN(4, 4, 2, **kwargs)


@pytest.mark.parametrize("impl", ["reference", "scratch"])
@pytest.mark.parametrize("bad_id", [3, -1, 10**12])
def test_out_of_range_node_id_is_a_graph_error_naming_it(impl: str, bad_id: int) -> None:
    # Issue #10: GCN(impl="reference") with an out-of-range node id raised a raw torch index error.
    from gnnhw.errors import GraphError

    model = GCN(4, 8, 2, impl=impl).eval()
    edge_index = torch.tensor([[0, 1, bad_id], [1, 2, 0]])
    with pytest.raises(GraphError, match=rf"node id {bad_id}\b"):
        model(torch.randn(3, 4), edge_index)


def test_pyg_model_rejects_edge_weight_of_the_wrong_length() -> None:
    from gnnhw.errors import GraphError

    with pytest.raises(GraphError, match="edge_weight has shape"):
        GCN(4, 8, 2, impl="reference")(torch.randn(3, 4), torch.tensor([[0, 1], [1, 2]]), torch.ones(3))


def test_old_layer_keyword_and_pyg_value_still_work_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        old = GCN(4, 8, 2, layer="pyg")
    messages = " | ".join(str(w.message) for w in caught)
    assert "layer= is deprecated" in messages
    assert "impl='pyg' is deprecated" in messages
    assert old.impl == "reference"
    assert isinstance(old.convs[0], GCNConv)
    with pytest.warns(DeprecationWarning, match="impl='pyg' is deprecated"):
        assert GCN(4, 8, 2, impl="pyg").impl == "reference"
    with pytest.raises(TypeError, match="unexpected keyword argument 'layers'"):
        GCN(4, 8, 2, layers="pyg")


@pytest.mark.parametrize("variant", ["plain", "residual", "pairnorm", "jk"])
def test_every_variant_is_the_same_model_with_scratch_or_reference_layers(variant: str) -> None:
    torch.manual_seed(0)
    scratch = GCN(12, 8, 4, num_layers=3, dropout=0.0, variant=variant).double().eval()
    reference = GCN(12, 8, 4, num_layers=3, dropout=0.0, variant=variant, impl="reference").double().eval()
    copy_weights(scratch, reference)
    edge_index, weight = graph(2)
    x = torch.randn(N, 12, dtype=torch.float64)
    weight = weight.double()
    torch.testing.assert_close(scratch(x, edge_index, weight), reference(x, edge_index, weight), atol=1e-12, rtol=0)


def test_copy_weights_refuses_models_of_different_variants() -> None:
    from gnnhw.errors import ShapeError

    with pytest.raises(ShapeError, match="different variants"):
        copy_weights(GCN(4, 8, 2, variant="plain"), GCN(4, 8, 2, variant="residual"))


def test_old_layer_attribute_reads_the_old_value_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match="GCN.layer is deprecated"):
        assert GCN(4, 8, 2, impl="reference").layer == "pyg"
    with pytest.warns(DeprecationWarning, match="GCN.layer is deprecated"):
        assert GCN(4, 8, 2).layer == "scratch"
