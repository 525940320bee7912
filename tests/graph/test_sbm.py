"""The stochastic-block-model data set (gnnhw.graph.sbm) and `train-gcn --dataset sbm:...`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch_geometric.utils import is_undirected

from gnnhw.cli import main
from gnnhw.errors import ConfigError
from gnnhw.graph.config import DepthConfig, TrainConfig, dataset_size
from gnnhw.graph.sbm import (
    FEATURE_SIGNAL,
    INTRA_FRACTION,
    NUM_FEATURES,
    SBMSpec,
    load_dataset,
    parse_sbm,
    stochastic_block_model,
)


@pytest.fixture(scope="module")
def graph():
    return stochastic_block_model(3000, 30000, 5, seed=3)


def test_sizes_are_exact(graph) -> None:
    assert graph.num_nodes == 3000
    assert graph.edge_index.shape == (2, 30000)
    assert graph.x.shape == (3000, NUM_FEATURES)
    assert graph.num_classes == 5
    assert graph.name == "sbm:3000:30000:5"


def test_edges_are_symmetric_without_self_loops_or_repeats_and_sorted(graph) -> None:
    row, col = graph.edge_index
    assert is_undirected(graph.edge_index, num_nodes=graph.num_nodes)
    assert not bool((row == col).any())
    keys = row * graph.num_nodes + col
    assert torch.unique(keys).numel() == keys.numel()
    assert bool((keys[1:] > keys[:-1]).all())  # sorted by (row, col), as PyG's coalesce leaves it
    assert int(graph.edge_index.min()) >= 0
    assert int(graph.edge_index.max()) < graph.num_nodes


def test_classes_are_contiguous_blocks_of_nearly_equal_size(graph) -> None:
    n, c = graph.num_nodes, graph.num_classes
    assert torch.equal(graph.y, torch.arange(n) * c // n)
    counts = torch.bincount(graph.y, minlength=c)
    assert int(counts.max() - counts.min()) <= 1


def test_uneven_blocks_follow_floor_i_c_over_n() -> None:
    data = stochastic_block_model(103, 200, 7, seed=0)
    assert torch.equal(data.y, torch.arange(103) * 7 // 103)


def test_edges_are_homophilous_as_drawn(graph) -> None:
    row, col = graph.edge_index
    same = float((graph.y[row] == graph.y[col]).float().mean())
    # 15000 undirected pairs, each inside its block with probability INTRA_FRACTION: std < 0.005
    assert abs(same - INTRA_FRACTION) < 0.03


def test_other_block_ends_spread_over_every_other_block(graph) -> None:
    row, col = graph.edge_index
    inter = graph.y[row] != graph.y[col]
    pairs = graph.y[row[inter]] * graph.num_classes + graph.y[col[inter]]
    counts = torch.bincount(pairs, minlength=graph.num_classes**2).view(graph.num_classes, -1)
    off_diagonal = counts[~torch.eye(graph.num_classes, dtype=torch.bool)].float()
    assert float(off_diagonal.min()) > 0.7 * float(off_diagonal.mean())


def test_features_are_binary_bags_of_words_with_a_weak_class_signal(graph) -> None:
    x, y = graph.x, graph.y
    assert set(torch.unique(x).tolist()) <= {0.0, 1.0}
    assert int(x.sum(dim=1).max()) <= 8
    assert int(x.sum(dim=1).min()) >= 1
    words = NUM_FEATURES // graph.num_classes
    own = torch.stack(
        [x[i, int(y[i]) * NUM_FEATURES // 5 : int(y[i]) * NUM_FEATURES // 5 + words].sum() for i in range(300)]
    )
    share = float(own.sum() / x[:300].sum())
    chance = words / NUM_FEATURES
    assert share > chance + FEATURE_SIGNAL / 2  # well above chance ...
    assert share < 0.6  # ... but weak


def test_split_is_disjoint_covering_and_ten_ten_eighty(graph) -> None:
    masks = torch.stack([graph.train_mask, graph.val_mask, graph.test_mask]).long()
    assert bool((masks.sum(dim=0) == 1).all())
    assert masks.sum(dim=1).tolist() == [300, 300, 2400]


def test_same_seed_same_graph_other_seed_other_graph() -> None:
    a = stochastic_block_model(500, 2000, 3, seed=7)
    b = stochastic_block_model(500, 2000, 3, seed=7)
    c = stochastic_block_model(500, 2000, 3, seed=8)
    for key in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(a[key], b[key])
    assert not torch.equal(a.edge_index, c.edge_index)


def test_a_dense_request_still_gets_exactly_its_edges() -> None:
    data = stochastic_block_model(20, 190, 4, seed=0)  # 190 of 380 directed pairs: the densest allowed
    assert data.num_edges == 190
    assert is_undirected(data.edge_index, num_nodes=20)


def test_no_edges_is_a_graph_of_isolated_nodes() -> None:
    data = stochastic_block_model(10, 0, 2)
    assert data.edge_index.shape == (2, 0)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("sbm:1e6:1e7", SBMSpec(1_000_000, 10_000_000, 8)),
        ("SBM:1_000:2.5e3:4", SBMSpec(1000, 2500, 4)),
        ("sbm:100:0:2", SBMSpec(100, 0, 2)),
    ],
)
def test_parse_accepts_plain_underscored_and_exact_scientific_counts(text: str, spec: SBMSpec) -> None:
    assert parse_sbm(text) == spec


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("sbm:-5:10", "NODES must be a non-negative whole number"),
        ("sbm:1.5e0:10", "NODES must be a non-negative whole number"),
        ("sbm:100:abc", "EDGES must be a non-negative whole number"),
        ("sbm:9:10", "NODES must be in [10, "),
        ("sbm:1e12:10", "NODES must be in [10, "),
        ("sbm:100:99999", "more than possible"),
        ("sbm:100:5000", "more than half"),
        ("sbm:100:101", "EDGES must be even"),
        ("sbm:100:100:1", "CLASSES must be in [2, 100]"),
        ("sbm:100:100:101", "CLASSES must be in [2, 100]"),
        ("sbm:100", "expected sbm:NODES:EDGES[:CLASSES]"),
        ("sbm:1:2:3:4", "expected sbm:NODES:EDGES[:CLASSES]"),
    ],
)
def test_bad_specs_are_refused_in_one_line(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_sbm(text)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_config_takes_sbm_names_in_canonical_form_and_sizes_them() -> None:
    config = TrainConfig(dataset="sbm:1e3:1e4").validate()
    assert config.dataset == "sbm:1000:10000:8"
    assert dataset_size(config.dataset) == (1000, NUM_FEATURES, 8, 10000)
    assert DepthConfig(dataset="SBM:100:200:2").validate().dataset == "sbm:100:200:2"


def test_config_refuses_a_graph_larger_than_the_memory() -> None:
    with pytest.raises(ConfigError, match="smaller graph"):
        TrainConfig(dataset="sbm:2e9:4e9").validate()


def test_unknown_dataset_names_the_sbm_form() -> None:
    with pytest.raises(ConfigError, match=r"sbm:NODES:EDGES\[:CLASSES\]"):
        TrainConfig(dataset="Coraa").validate()


def test_load_dataset_draws_sbm_names() -> None:
    data = load_dataset("sbm:50:100:2")
    assert (data.num_nodes, data.num_edges, data.num_classes) == (50, 100, 2)


def test_generation_is_vectorized_enough_for_a_large_graph_in_little_memory() -> None:
    # Not a timing: the number of edges drawn per call of the sampler is what keeps 10^7 edges fast.
    data = stochastic_block_model(20000, 200000, 8, seed=1)
    assert data.num_edges == 200000
    degrees = torch.bincount(data.edge_index[0], minlength=data.num_nodes).float()
    assert math.isclose(float(degrees.mean()), 10.0)


def test_train_gcn_on_an_sbm_graph(tmp_path: Path, capsys) -> None:
    out_json = tmp_path / "sbm.json"
    code = main(
        ["train-gcn", "--dataset", "sbm:400:4000:2", "--epochs", "30", "--lr", "0.05", "--quiet", "--threads", "1",
         "--format", "json", "--json", str(out_json)]
    )  # fmt: skip
    out, _ = capsys.readouterr()
    assert code == 0
    payload = json.loads(out)
    assert payload["dataset"] == "sbm:400:4000:2"
    assert payload["test_acc_mean"] > 0.7  # two classes, homophilous edges: better than the 0.5 of chance


@pytest.mark.parametrize("spec", ["sbm:-1:10", "sbm:1e12:1e12", "sbm:100:99999", "sbm:3e9:1e10"])
def test_train_gcn_refuses_bad_sizes_in_one_line_exit_2(spec: str, capsys) -> None:
    code = main(["train-gcn", "--dataset", spec, "--quiet"])
    _, err = capsys.readouterr()
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert spec in err or "sbm:" in err
