"""gnnhw.graph.train: Kipf's recipe on real Cora, scratch == PyG, model selection, checkpoints, bad input."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gnnhw.errors import CheckpointError, ConfigError, DivergedError
from gnnhw.graph.data import load_planetoid, prepare_graph
from gnnhw.graph.models import GCN, copy_weights
from gnnhw.graph.train import (
    TrainConfig,
    build_model,
    evaluate,
    load_checkpoint,
    make_optimizer,
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
        ("impl", "dgl", "unknown impl 'dgl'; expected one of scratch, reference"),
        ("dataset", "Reddit", "unknown dataset 'Reddit'; expected one of Cora, CiteSeer, PubMed"),
    ],
)
def test_bad_config_is_rejected(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value}).validate()


def test_default_config_is_kipfs_recipe() -> None:
    config = TrainConfig()
    recipe = (config.num_layers, config.hidden_channels, config.dropout, config.lr, config.weight_decay, config.epochs)
    assert recipe == (2, 16, 0.5, 0.01, 5e-4, 200)
    assert config.normalize_features


def test_weight_decay_applies_to_the_first_layer_only() -> None:
    model = build_model(TrainConfig(), 10, 3)
    groups = make_optimizer(model, TrainConfig()).param_groups
    assert [g["weight_decay"] for g in groups] == [5e-4, 0.0]
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in model.convs[0].parameters()}
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in model.convs[1].parameters()}


@pytest.mark.parametrize("dense_scratch", [False, True])
def test_scratch_and_pyg_give_equal_logits_on_cora(cora, dense_scratch: bool) -> None:
    """Same weights: the fast path (sparse X, precomputed Â) equals GCNConv on dense X and edge_index."""
    scratch_config = TrainConfig(impl="scratch", sparse_features=not dense_scratch)
    pyg_config = TrainConfig(impl="reference")
    torch.manual_seed(0)
    scratch, pyg = build_model(scratch_config, 1433, 7).eval(), build_model(pyg_config, 1433, 7).eval()
    copy_weights(scratch, pyg)
    scratch_graph, pyg_graph = prepare_graph(cora, scratch_config), prepare_graph(cora, pyg_config)
    assert scratch_graph.x.is_sparse != dense_scratch
    assert not pyg_graph.x.is_sparse
    with torch.no_grad():
        expected = pyg(pyg_graph.x, pyg_graph.graph)
        actual = scratch(scratch_graph.x, scratch_graph.graph)
    assert actual.shape == (2708, 7)
    assert torch.allclose(actual, expected, atol=1e-5, rtol=1e-5)


def test_default_recipe_reaches_079_on_cora(cora) -> None:
    result = train_planetoid(TrainConfig(seeds=1), data=cora)
    run = result.runs[0]
    assert run.test_acc >= 0.79
    assert len(run.history["val_acc"]) == 200
    assert 1 <= run.best_epoch <= 200


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
    assert result.seconds_per_epoch > 0
    assert result.peak_memory_mb > 0
    assert [run.seed for run in result.runs] == [0, 1]


def test_same_seed_gives_the_same_numbers(cora) -> None:
    first = train_planetoid(TrainConfig(epochs=5, seed=3), data=cora).runs[0]
    second = train_planetoid(TrainConfig(epochs=5, seed=3), data=cora).runs[0]
    assert first.history == second.history


def test_pyg_layer_trains_too(cora) -> None:
    result = train_planetoid(TrainConfig(impl="reference", epochs=20), data=cora)
    assert result.runs[0].history["train_loss"][-1] < result.runs[0].history["train_loss"][0]


def test_checkpoint_round_trip(cora, tmp_path: Path) -> None:
    result = train_planetoid(TrainConfig(epochs=10, seeds=2), data=cora)
    path = tmp_path / "sub" / "gcn.pt"
    save_checkpoint(result, path)
    raw = torch.load(path, weights_only=True)  # plain tensors and builtins only
    assert raw["seed"] == result.best_seed
    assert raw["config"]["epochs"] == 10
    model, config, ckpt = load_checkpoint(path)
    assert isinstance(model, GCN)
    assert not model.training
    assert config == result.config
    accs = evaluate(model, prepare_graph(cora, config))
    assert accs["val"] == pytest.approx(ckpt["val_acc"])
    assert accs["test"] == pytest.approx(ckpt["test_acc"])


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


# --- issue 10: declared ranges, memory estimate, divergence, checkpoints read as untrusted input ------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("seed", 2**64, "seed must be in [0, 4294967295]"),
        ("seed", 2**32, "seed must be in [0, 4294967295]"),
        ("seed", -1, "seed must be in [0,"),
        ("lr", 1e300, "lr must be in (0, 10]"),
        ("lr", math.inf, "lr must be a finite number"),
        ("lr", math.nan, "lr must be a positive number, got nan"),
        ("weight_decay", 1e300, "weight_decay must be in [0, 1e+38]"),
        ("weight_decay", math.nan, "weight_decay must be a non-negative number, got nan"),
        ("hidden_channels", 10**9, "hidden_channels must be in [1, 65536]"),
        ("hidden_channels", "16", "hidden_channels must be a positive integer, got '16'"),
        ("hidden_channels", True, "hidden_channels must be a positive integer, got True"),
        ("num_layers", 100_000, "num_layers must be in [1, 1024]"),
        ("num_layers", 1e9, "num_layers must be a positive integer, got 1000000000.0"),
        ("epochs", 10**7, "epochs must be in [1, 1000000]"),
        ("seeds", 10**5, "seeds must be in [1, 10000]"),
        ("dropout", math.nan, "dropout must be in [0, 1), got nan"),
        ("dropout", "0.5", "dropout must be a number, got str"),
        ("sparse_features", 1, "sparse_features must be true or false"),
    ],
)
def test_out_of_range_fields_are_one_line_naming_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        TrainConfig(**{field: value}).validate()
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_the_last_seed_must_be_in_range_too() -> None:
    TrainConfig(seed=2**32 - 2, seeds=2).validate()
    with pytest.raises(ConfigError, match="seed 4294967295 with 2 seed.s. reaches seed 4294967296"):
        TrainConfig(seed=2**32 - 1, seeds=2).validate()


def test_labels_name_the_cli_options() -> None:
    with pytest.raises(ConfigError, match=r"^--hidden-channels must be in \[1, 65536\]"):
        TrainConfig(hidden_channels=10**6).validate({"hidden_channels": "--hidden-channels"})


def test_sizes_beyond_the_machines_memory_are_refused_with_an_estimate(monkeypatch) -> None:
    import gnnhw.checks
    from gnnhw.graph.config import PLANETOID_SIZES, gcn_training_bytes

    with pytest.raises(ConfigError, match=r"1024-layer GCN with 65536 hidden .* needs about [\d.]+ TiB of memory"):
        TrainConfig(hidden_channels=65536, num_layers=1024).validate()
    # the estimate grows with the size asked for, and the refusal follows the machine's memory
    cora = PLANETOID_SIZES["Cora"]
    small = gcn_training_bytes(*cora, hidden_channels=16, num_layers=2)
    assert small < gcn_training_bytes(*cora, hidden_channels=32, num_layers=2)
    assert small < gcn_training_bytes(*cora, hidden_channels=16, num_layers=3)
    monkeypatch.setattr(gnnhw.checks, "machine_memory", lambda: small - 1)
    with pytest.raises(ConfigError, match="more than this machine's"):
        TrainConfig().validate()
    monkeypatch.setattr(gnnhw.checks, "machine_memory", lambda: small)
    TrainConfig().validate()


def test_config_module_and_refusals_do_not_load_torch() -> None:
    """The CLI refuses bad options before torch is imported (so in milliseconds, not seconds)."""
    code = (
        "import sys; from gnnhw.cli import main; "
        "rc = main(['train-gcn', '--hidden-channels', '1000000000']); "
        "rc2 = main(['depth-study', '--seed', str(2**64)]); "
        "print(rc, rc2, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["2", "2", "False"]


def _overflowing(data):
    """``data`` with features so large (3e38, near float32's limit) that Â X W overflows: the run must diverge.

    (Learning rates are capped at 10, gnnhw.checks.LR, where Adam's bounded steps cannot overflow in a few epochs.)
    """
    data = data.clone()
    data.x = data.x * 3e38
    return data


def test_a_diverging_run_stops_without_reporting_an_accuracy(cora) -> None:
    with pytest.raises(DivergedError) as err:
        train_planetoid(TrainConfig(epochs=5, normalize_features=False), data=_overflowing(cora))
    message = str(err.value)
    assert "\n" not in message
    assert "diverged at step" in message
    assert "lower the learning rate (lr=0.01" in message


class _NaNParameterGCN(torch.nn.Module):
    """Kipf's GCN plus one parameter that holds NaN but does not touch the loss (only the weight check sees it)."""

    def __init__(self) -> None:
        super().__init__()
        self.gcn = build_model(TrainConfig(), 1433, 7)
        self.extra = torch.nn.Parameter(torch.tensor([float("nan")]))

    def forward(self, x, adj):
        return self.gcn(x, adj)


def test_non_finite_weights_stop_training_even_with_a_finite_loss(cora) -> None:
    from gnnhw.graph.train import train_run

    config = TrainConfig(epochs=3)
    with pytest.raises(DivergedError, match="diverged at step 1: the weights hold NaN or infinity"):
        train_run(prepare_graph(cora, config), config, 0, model=_NaNParameterGCN())


@pytest.fixture
def saved_checkpoint(cora, tmp_path: Path) -> Path:
    path = tmp_path / "gcn.pt"
    save_checkpoint(train_planetoid(TrainConfig(epochs=2), data=cora), path)
    return path


def _set(ckpt: dict, dotted: str, value: object) -> None:
    *parents, last = dotted.split(".", 1) if dotted.startswith("state_dict.") else dotted.split(".")
    for key in parents:
        ckpt = ckpt[key]
    if last in ("@first", "@last"):  # the first / last tensor of the state dict, whatever the layers name them
        last = list(ckpt)[0 if last == "@first" else -1]
    if value is _DELETE:
        del ckpt[last]
    else:
        ckpt[last] = value(ckpt[last]) if callable(value) else value


_DELETE = object()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("seed", _DELETE, "lacks the required key(s) seed"),
        ("state_dict", _DELETE, "lacks the required key(s) state_dict"),
        ("in_channels", "abc", "in_channels must be an integer, got str 'abc'"),
        ("in_channels", math.nan, "in_channels must be an integer, got float nan"),
        ("in_channels", 10**9, "in_channels must be <= 1.67772e+07"),
        ("seed", -1, "seed must be >= 0"),
        ("seed", 2**64, "seed must be <= 4.29497e+09"),
        ("config", "a string", "config must be a mapping, got str"),
        ("config.num_layers", 1e9, "config.num_layers must be an integer, got float 1000000000.0"),
        ("config.num_layers", 10**9, "config.num_layers must be in [1, 1024]"),
        ("config.seed", 2**64, "config.seed must be in [0, 4294967295]"),
        ("config.lr", math.nan, "config.lr must be a finite number, got nan"),
        ("config.impl", "dgl", "config.impl 'dgl'; expected one of scratch, reference"),
        ("state_dict", [1, 2], "state_dict must be a mapping, got list"),
        ("state_dict.@first", lambda w: w.index_fill(0, torch.tensor([0]), float("nan")), "non-finite value(s) (NaN"),
        ("state_dict.@last", lambda b: b.to(torch.int64), "must be a floating-point tensor, got torch.int64"),
        ("format", "gnnhw.textgen", "is not a gnnhw GCN checkpoint (format 'gnnhw.textgen'"),
        ("version", 7, "has format version 7"),
    ],
)
def test_checkpoint_fields_are_checked_naming_file_and_field(
    saved_checkpoint: Path, field: str, value: object, message: str
) -> None:
    ckpt = torch.load(saved_checkpoint, weights_only=True)
    _set(ckpt, field, value)
    torch.save(ckpt, saved_checkpoint)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(saved_checkpoint)
    text = str(err.value)
    assert message in text
    assert str(saved_checkpoint) in text
    assert "\n" not in text
    assert "weights_only=False" not in text


def test_checkpoint_too_large_for_memory_is_refused(saved_checkpoint: Path) -> None:
    ckpt = torch.load(saved_checkpoint, weights_only=True)
    ckpt["config"].update(hidden_channels=65536, num_layers=1024)
    torch.save(ckpt, saved_checkpoint)
    with pytest.raises(CheckpointError, match=r"gcn.pt'?: .*needs about [\d.]+ TiB of memory"):
        load_checkpoint(saved_checkpoint)


@pytest.mark.parametrize("prefix", [b"", b"PK\x03\x04"])  # plain random bytes, and random bytes behind zip's magic
def test_random_bytes_never_suggest_weights_only_false(tmp_path: Path, prefix: bytes) -> None:
    path = tmp_path / "random.pt"
    path.write_bytes(prefix + random.Random(0).randbytes(4096))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert "weights_only" not in str(err.value)
    assert "\n" not in str(err.value)
    assert str(path) in str(err.value)


class _WritesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(saved_checkpoint: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    ckpt = torch.load(saved_checkpoint, weights_only=True)
    ckpt["config"] = _WritesMarker(marker)
    torch.save(ckpt, saved_checkpoint)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(saved_checkpoint)
    assert not marker.exists()
    assert "weights_only=False" not in str(err.value)


# --- issue 11: one vocabulary; data preparation in graph.data; checkpoints of earlier versions still load -------


def _as_version_1(ckpt: dict) -> dict:
    """A checkpoint as gnnhw.graph.train.save_checkpoint wrote it before issue 11: the header ``format:
    "gnnhw.planetoid.gcn/1"`` without ``version``, config keys ``layer`` (``"scratch"`` or ``"pyg"``) and
    ``first_seed``, no ``variant``."""
    old = {k: v for k, v in ckpt.items() if k != "version"}
    old["format"] = "gnnhw.planetoid.gcn/1"
    config = dict(old["config"])
    config["layer"] = {"scratch": "scratch", "reference": "pyg"}[config.pop("impl")]
    config["first_seed"] = config.pop("seed")
    del config["variant"]
    old["config"] = config
    return old


@pytest.mark.parametrize("impl", ["scratch", "reference"])
def test_a_checkpoint_written_before_the_one_vocabulary_still_loads(cora, tmp_path: Path, impl: str) -> None:
    result = train_planetoid(TrainConfig(epochs=2, impl=impl, seed=5), data=cora)
    path = tmp_path / "gcn.pt"
    save_checkpoint(result, path)
    torch.save(_as_version_1(torch.load(path, weights_only=True)), path)
    assert "layer" in torch.load(path, weights_only=True)["config"]  # really the old form
    model, config, ckpt = load_checkpoint(path)
    assert config == result.config
    assert config.impl == impl
    assert config.seed == 5
    assert ckpt["config"]["impl"] == impl
    accs = evaluate(model, prepare_graph(cora, config))
    assert accs["test"] == pytest.approx(ckpt["test_acc"])


def test_new_checkpoints_carry_the_header_of_the_checkpoint_module(saved_checkpoint: Path) -> None:
    raw = torch.load(saved_checkpoint, weights_only=True)
    assert (raw["format"], raw["version"]) == ("gnnhw.planetoid.gcn", 2)
    assert raw["config"]["impl"] == "scratch"
    assert "layer" not in raw["config"]


def test_old_layer_value_in_a_config_is_translated_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match="impl='pyg' is deprecated"):
        assert TrainConfig(impl="pyg").impl == "reference"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"layer": "pyg"}, {"impl": "reference"}),
        ({"layer": "scratch"}, {"impl": "scratch"}),
        ({"first_seed": 3}, {"seed": 3}),
    ],
)
def test_old_train_config_keywords_still_work_with_a_warning(old, new) -> None:
    # the one vocabulary's rule: a keyword typed before the rename works for one release, warned (CHANGELOG.md)
    from gnnhw.graph.config import TrainConfig as Config

    with pytest.warns(DeprecationWarning, match=f"{next(iter(old))}="):
        config = Config(**old)
    assert config == Config(**new)


def test_old_depth_config_keyword_still_works_with_a_warning() -> None:
    from gnnhw.graph.config import DepthConfig

    with pytest.warns(DeprecationWarning, match="first_seed="):
        config = DepthConfig(first_seed=3)
    assert config == DepthConfig(seed=3)


def test_an_old_keyword_and_its_new_name_together_are_refused() -> None:
    from gnnhw.graph.config import TrainConfig as Config

    with pytest.raises(TypeError, match="first_seed"):
        Config(first_seed=3, seed=4)
