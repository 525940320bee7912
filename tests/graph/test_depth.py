"""The depth-study variants of gnnhw.graph.models.GCN, PairNorm, the over-smoothing measure, and a tiny study."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gnnhw.errors import ConfigError
from gnnhw.graph.adjacency import normalized_adjacency
from gnnhw.graph.depth import (
    VARIANTS,
    DepthConfig,
    DepthGCN,
    PairNorm,
    mean_pairwise_cosine_distance,
    propagation_distances,
    run_depth_study,
)
from gnnhw.graph.models import GCN


def _graph(n: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    src = torch.arange(n)
    dst = (src + 1) % n  # a ring
    edge_index = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
    return torch.randn(n, 5, generator=g), normalized_adjacency(edge_index, num_nodes=n, sparse=True)


def test_pairnorm_centres_and_fixes_the_mean_squared_norm() -> None:
    x = torch.randn(50, 8) * 3 + 7
    out = PairNorm(scale=2.0)(x)
    assert torch.allclose(out.mean(dim=0), torch.zeros(8), atol=1e-5)
    assert out.pow(2).sum(dim=1).mean() == pytest.approx(4.0, rel=1e-4)  # s^2


def test_mean_pairwise_cosine_distance_equals_brute_force() -> None:
    z = torch.randn(30, 4, dtype=torch.float64)
    zh = torch.nn.functional.normalize(z, dim=1)
    cos = zh @ zh.T
    off_diagonal = ~torch.eye(30, dtype=torch.bool)
    assert mean_pairwise_cosine_distance(z) == pytest.approx(float((1 - cos)[off_diagonal].mean()), abs=1e-12)


def test_identical_embeddings_have_zero_distance() -> None:
    assert mean_pairwise_cosine_distance(torch.ones(10, 3) * 4.0) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ConfigError):
        mean_pairwise_cosine_distance(torch.ones(1, 3))


@pytest.mark.parametrize("num_layers", [1, 2, 5])
def test_plain_variant_is_kipfs_formula(num_layers: int) -> None:
    # The plain variant (the default) is Kipf & Welling's eq. 9 stacked num_layers times, computed here densely.
    x, adj = _graph()
    x = x.double()
    model = GCN(5, 8, 3, num_layers=num_layers, dropout=0.5, variant="plain").double().eval()
    dense = adj.to_dense().double()
    h = x
    for i, conv in enumerate(model.convs):
        h = dense @ h @ conv.weight + conv.bias  # Â H W + b
        if i < num_layers - 1:
            h = torch.relu(h)
    torch.testing.assert_close(model(x, adj.double()), h, atol=1e-12, rtol=0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_deprecated_depth_gcn_is_gcn_with_the_variant(variant: str) -> None:
    x, adj = _graph()
    torch.manual_seed(0)
    with pytest.warns(DeprecationWarning, match="DepthGCN"):
        old = DepthGCN(5, 8, 3, 2, 0.5, variant).eval()
    torch.manual_seed(0)
    new = GCN(5, 8, 3, num_layers=2, dropout=0.5, variant=variant).eval()
    assert isinstance(old, GCN)
    assert old.state_dict().keys() == new.state_dict().keys()
    for key, value in new.state_dict().items():
        assert torch.equal(old.state_dict()[key], value), key  # same layers, same initialisation order
    assert torch.equal(old(x, adj), new(x, adj))


def test_residual_adds_the_layer_input_on_hidden_layers() -> None:
    x, adj = _graph()
    model = GCN(5, 4, 3, num_layers=3, dropout=0.0, variant="residual").eval()
    dense = adj.to_dense()
    c0, c1, c2 = model.convs
    h1 = torch.relu(dense @ x @ c0.weight + c0.bias)  # in -> hidden: no residual
    h2 = torch.relu(dense @ h1 @ c1.weight + c1.bias) + h1  # H_2 = ReLU(Â H_1 W_1 + b_1) + H_1
    expected = dense @ h2 @ c2.weight + c2.bias
    assert torch.allclose(model(x, adj), expected, atol=1e-5)


def test_jumping_knowledge_takes_the_max_over_layers() -> None:
    x, adj = _graph()
    model = GCN(5, 4, 3, num_layers=2, dropout=0.0, variant="jk").eval()
    dense = adj.to_dense()
    c0, c1 = model.convs
    h1 = torch.relu(dense @ x @ c0.weight + c0.bias)
    h2 = torch.relu(dense @ h1 @ c1.weight + c1.bias)
    assert model.classifier is not None
    expected = model.classifier(torch.maximum(h1, h2))
    assert torch.allclose(model(x, adj), expected, atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_handles_sparse_features_and_learns(variant: str) -> None:
    x, adj = _graph(n=8)
    model = GCN(5, 6, 2, num_layers=3, dropout=0.3, variant=variant)
    sparse_out = model.eval()(x.to_sparse(), adj)
    assert torch.allclose(sparse_out, model(x, adj), atol=1e-5)
    assert sparse_out.shape == (8, 2)
    model.train()
    model(x.to_sparse(), adj).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_bad_depth_config() -> None:
    with pytest.raises(ConfigError, match="unknown variant"):
        DepthConfig(variants=("plain", "dropedge")).validate()
    with pytest.raises(ConfigError, match="depths must be positive integers"):
        DepthConfig(depths=(0, 2)).validate()
    with pytest.raises(ConfigError, match="dropout must be in"):
        DepthConfig(dropout=1.5).validate()
    with pytest.raises(ConfigError, match="unknown variant"):
        GCN(3, 4, 2, 2, variant="nope")


def test_tiny_depth_study_on_cora(planetoid_root: Path) -> None:
    config = DepthConfig(depths=(1, 3), seeds=2, epochs=3, hidden_channels=8)
    result = run_depth_study(config, root=planetoid_root)
    assert [(r.variant, r.num_layers) for r in result.rows] == [(v, d) for v in VARIANTS for d in (1, 3)]
    for row in result.rows:
        assert len(row.test_acc) == 2
        assert all(0.0 <= a <= 1.0 for a in row.test_acc)
        assert all(0.0 <= d <= 2.0 for d in row.distance)
    payload = result.to_dict()
    assert payload["rows"][0]["test_acc_mean"] == pytest.approx(result.rows[0].test_acc_mean)


def test_propagation_distances_match_dense_powers_and_shrink() -> None:
    x, adj = _graph(n=7)
    dists = propagation_distances(x.to_sparse(), adj, [0, 1, 3, 60])
    dense = adj.to_dense()
    assert dists[0] == pytest.approx(mean_pairwise_cosine_distance(x))
    assert dists[3] == pytest.approx(mean_pairwise_cosine_distance(torch.linalg.matrix_power(dense, 3) @ x), abs=1e-6)
    assert dists[60] < 1e-3 < dists[0]  # a connected ring: Â^k X tends to rank one (over-smoothing)
