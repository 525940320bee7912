"""gnnhw.graph.train: Kipf's recipe on real Cora, scratch == PyG, model selection, checkpoints, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gnnhw.errors import CheckpointError, ConfigError
from gnnhw.graph.data import load_planetoid
from gnnhw.graph.models import GCN, copy_weights
from gnnhw.graph.train import (
    TrainConfig,
    build_model,
    evaluate,
    load_checkpoint,
    make_optimizer,
    prepare_graph,
    save_checkpoint,
    train_planetoid,
)


@pytest.fixture
def cora(planetoid_root: Path):
    return load_planetoid("Cora", planetoid_root)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epochs", -1, "epochs must be a positive integer, got -1"),
        ("epochs", 0, "epochs must be a positive integer, got 0"),
        ("dropout", 1.0, r"dropout must be in \[0, 1\), got 1.0"),
        ("dropout", -0.1, r"dropout must be in \[0, 1\), got -0.1"),
        ("seeds", 0, "seeds must be a positive integer"),
        ("lr", 0.0, "lr must be a positive number"),
        ("weight_decay", -1e-4, "weight_decay must be a non-negative number"),
        ("layer", "dgl", "unknown layer 'dgl'; expected one of scratch, pyg"),
        ("dataset", "Reddit", "unknown dataset 'Reddit'; expected one of Cora, CiteSeer, PubMed"),
    ],
)
def test_bad_config_is_rejected(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value}).validate()


def test_default_config_is_kipfs_recipe() -> None:
    config = TrainConfig()
    recipe = (config.num_layers, config.hidden_channels, config.dropout, config.lr, config.weight_decay, config.epochs)
    assert recipe == (2, 16, 0.5, 0.01, 5e-4, 200) and config.normalize_features


def test_weight_decay_applies_to_the_first_layer_only() -> None:
    model = build_model(TrainConfig(), 10, 3)
    groups = make_optimizer(model, TrainConfig()).param_groups
    assert [g["weight_decay"] for g in groups] == [5e-4, 0.0]
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in model.convs[0].parameters()}
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in model.convs[1].parameters()}


@pytest.mark.parametrize("dense_scratch", [False, True])
def test_scratch_and_pyg_give_equal_logits_on_cora(cora, dense_scratch: bool) -> None:
    """Same weights: the fast path (sparse X, precomputed Â) equals GCNConv on dense X and edge_index."""
    scratch_config = TrainConfig(layer="scratch", sparse_features=not dense_scratch)
    pyg_config = TrainConfig(layer="pyg")
    torch.manual_seed(0)
    scratch, pyg = build_model(scratch_config, 1433, 7).eval(), build_model(pyg_config, 1433, 7).eval()
    copy_weights(scratch, pyg)
    scratch_graph, pyg_graph = prepare_graph(cora, scratch_config), prepare_graph(cora, pyg_config)
    assert scratch_graph.x.is_sparse != dense_scratch and not pyg_graph.x.is_sparse
    with torch.no_grad():
        expected = pyg(pyg_graph.x, pyg_graph.adj)
        actual = scratch(scratch_graph.x, scratch_graph.adj)
    assert actual.shape == (2708, 7)
    assert torch.allclose(actual, expected, atol=1e-5, rtol=1e-5)


def test_default_recipe_reaches_079_on_cora(cora) -> None:
    result = train_planetoid(TrainConfig(seeds=1), data=cora)
    run = result.runs[0]
    assert run.test_acc >= 0.79
    assert len(run.history["val_acc"]) == 200 and 1 <= run.best_epoch <= 200


def test_reported_test_accuracy_is_the_one_at_the_best_validation_epoch(cora) -> None:
    result = train_planetoid(TrainConfig(epochs=30, seeds=2), data=cora)
    for run in result.runs:
        val = run.history["val_acc"]
        assert run.val_acc == max(val) == val[run.best_epoch - 1]
        assert run.test_acc == run.history["test_acc"][run.best_epoch - 1]
        assert run.test_acc_last == run.history["test_acc"][-1]
    accs = [run.test_acc for run in result.runs]
    assert result.test_acc_mean == pytest.approx(sum(accs) / 2)
    assert result.test_acc_std == pytest.approx(abs(accs[0] - accs[1]) / 2**0.5)
    assert result.seconds_per_epoch > 0 and result.peak_memory_mb > 0
    assert [run.seed for run in result.runs] == [0, 1]


def test_same_seed_gives_the_same_numbers(cora) -> None:
    first = train_planetoid(TrainConfig(epochs=5, first_seed=3), data=cora).runs[0]
    second = train_planetoid(TrainConfig(epochs=5, first_seed=3), data=cora).runs[0]
    assert first.history == second.history


def test_pyg_layer_trains_too(cora) -> None:
    result = train_planetoid(TrainConfig(layer="pyg", epochs=20), data=cora)
    assert result.runs[0].history["train_loss"][-1] < result.runs[0].history["train_loss"][0]


def test_checkpoint_round_trip(cora, tmp_path: Path) -> None:
    result = train_planetoid(TrainConfig(epochs=10, seeds=2), data=cora)
    path = tmp_path / "sub" / "gcn.pt"
    save_checkpoint(result, path)
    raw = torch.load(path, weights_only=True)  # plain tensors and builtins only
    assert raw["seed"] == result.best_seed and raw["config"]["epochs"] == 10
    model, config, ckpt = load_checkpoint(path)
    assert isinstance(model, GCN) and not model.training and config == result.config
    accs = evaluate(model, prepare_graph(cora, config))
    assert accs["val"] == pytest.approx(ckpt["val_acc"]) and accs["test"] == pytest.approx(ckpt["test_acc"])


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


def test_corrupt_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(b"\x00garbage, not a zip file")
    with pytest.raises(CheckpointError, match="corrupt or not a torch file"):
        load_checkpoint(path)


def test_foreign_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not a gnnhw GCN checkpoint"):
        load_checkpoint(path)


def test_checkpoint_with_wrong_weights(tmp_path: Path) -> None:
    result = train_planetoid(TrainConfig(epochs=1), data=_tiny_graph())
    path = tmp_path / "gcn.pt"
    save_checkpoint(result, path)
    ckpt = torch.load(path, weights_only=True)
    ckpt["state_dict"]["convs.0.weight"] = torch.zeros(2, 2)
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="does not describe a valid GCN"):
        load_checkpoint(path)


def _tiny_graph():
    from torch_geometric.data import Data

    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    mask = torch.tensor([True, True, True, True])
    data = Data(x=torch.rand(4, 5), edge_index=edge_index, y=torch.tensor([0, 1, 0, 1]))
    data.train_mask = data.val_mask = data.test_mask = mask
    data.num_classes = 2
    return data
