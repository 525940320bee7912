"""Semi-supervised node classification on Planetoid with Kipf & Welling's GCN recipe.

The default :class:`TrainConfig` is the recipe of Kipf & Welling (ICLR 2017, Section 5.1) as their code
and PyG's ``examples/gcn.py`` run it: a 2-layer GCN with 16 hidden units, dropout 0.5 on the input
features and on the hidden layer, ReLU, Adam (lr 0.01) with an L2 penalty of 5e-4 on the *first* layer
only, 200 epochs of full-batch training on the 140 / 120 / 60 labelled nodes of the public split, and
row-normalized features. Model selection uses the validation set only: the reported test accuracy is
the one at the epoch of best validation accuracy (ties: lower validation loss); the test accuracy after
the last epoch is reported beside it.

The fast path (``sparse_features=True``) is Kipf's: the normalized adjacency Â = D̃^-1/2 Ã D̃^-1/2 (Ã = A + I)
is computed once (:func:`~gnnhw.graph.data.prepare_graph`), the feature matrix stays a sparse tensor (98.7% of
Cora's entries are zero) and dropout acts on its stored values, so the first layer costs O(nnz(X) * hidden)
instead of O(N * F * hidden).

:func:`train_planetoid` returns a :class:`TrainResult` (per-seed numbers, mean, std, seconds per epoch,
peak memory, the best model's weights); :func:`save_checkpoint` / :func:`load_checkpoint` write and read
the best model through :mod:`gnnhw.checkpoint` (format ``gnnhw.planetoid.gcn``, version 2; version 1 files,
written before the one vocabulary, still load). Data preparation lives in :mod:`gnnhw.graph.data`.

Reference: Kipf & Welling, Semi-Supervised Classification with Graph Convolutional Networks, ICLR 2017,
https://arxiv.org/abs/1609.02907.
"""

from __future__ import annotations

import dataclasses
import math
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from gnnhw._utils import resolve_device, seed_everything
from gnnhw.checks import check_training_finite
from gnnhw.errors import CheckpointError, ConfigError
from gnnhw.graph.config import TrainConfig as TrainConfig  # re-exported
from gnnhw.graph.config import upgrade_config_dict
from gnnhw.graph.data import FullBatchGraph, num_classes_of, prepare_graph
from gnnhw.graph.models import GCN
from gnnhw.graph.sbm import load_dataset

CHECKPOINT_FORMAT = "gnnhw.planetoid.gcn"
CHECKPOINT_VERSION = 2
"""Version 2: config keys ``impl`` and ``seed`` (version 1, written before the one vocabulary: ``layer`` with
``"pyg"``, and ``first_seed``; still read)."""


def sample_std(values: list[float]) -> float:
    """The sample standard deviation of ``values`` (``n - 1`` in the denominator), 0 for a single value.

    >>> sample_std([0.5]), sample_std([0.0, 1.0])
    (0.0, 0.7071067811865476)
    """
    return statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass
class SeedResult:
    """One training run. Accuracies are fractions in [0, 1]; epochs count from 1."""

    seed: int
    best_epoch: int  # epoch of best validation accuracy (ties: lower validation loss)
    val_acc: float  # validation accuracy at best_epoch
    test_acc: float  # test accuracy at best_epoch: the reported number
    test_acc_last: float  # test accuracy after the last epoch
    seconds_per_epoch: float  # one training step plus one evaluation
    history: dict[str, list[float]] = field(repr=False)  # per epoch: train_loss, val_loss, *_acc


@dataclass
class TrainResult:
    """All runs of one :class:`TrainConfig`. ``std`` is the sample standard deviation (0 for one run)."""

    config: TrainConfig
    runs: list[SeedResult]
    device: str
    peak_memory_mb: float  # CPU: peak resident set size of the process; CUDA: peak allocated memory
    memory_kind: str  # "process peak RSS" or "CUDA peak allocated"
    num_features: int
    num_classes: int
    best_seed: int  # the run with the best validation accuracy; its weights are in best_state
    best_state: dict[str, Tensor] = field(repr=False)

    @property
    def per_seed(self) -> list[float]:
        return [run.test_acc for run in self.runs]

    @property
    def test_acc_mean(self) -> float:
        return statistics.fmean(self.per_seed)

    @property
    def test_acc_std(self) -> float:
        return sample_std(self.per_seed)

    @property
    def test_acc_last_mean(self) -> float:
        return statistics.fmean(run.test_acc_last for run in self.runs)

    @property
    def test_acc_last_std(self) -> float:
        return sample_std([r.test_acc_last for r in self.runs])

    @property
    def val_acc_mean(self) -> float:
        return statistics.fmean(run.val_acc for run in self.runs)

    @property
    def seconds_per_epoch(self) -> float:
        return statistics.fmean(run.seconds_per_epoch for run in self.runs)

    def to_dict(self, history: bool = False) -> dict[str, Any]:
        """A JSON-ready summary (the keys of ``gnnhw train-gcn --format json``), runs' curves optional."""
        runs = []
        for run in self.runs:
            entry = dataclasses.asdict(run)
            if not history:
                entry.pop("history")
            runs.append(entry)
        return {
            "dataset": self.config.dataset,
            "impl": self.config.impl,
            "seeds": len(self.runs),
            "test_acc_mean": self.test_acc_mean,
            "test_acc_std": self.test_acc_std,
            "per_seed": self.per_seed,
            "test_acc_last_mean": self.test_acc_last_mean,
            "test_acc_last_std": self.test_acc_last_std,
            "val_acc_mean": self.val_acc_mean,
            "seconds_per_epoch": self.seconds_per_epoch,
            "peak_memory_mb": self.peak_memory_mb,
            "memory_kind": self.memory_kind,
            "device": self.device,
            "config": dataclasses.asdict(self.config),
            "runs": runs,
        }


def build_model(config: TrainConfig, in_channels: int, out_channels: int) -> GCN:
    """The :class:`~gnnhw.graph.models.GCN` of ``config``: its sizes, dropout, ``impl`` and ``variant``."""
    return GCN(
        in_channels,
        config.hidden_channels,
        out_channels,
        num_layers=config.num_layers,
        dropout=config.dropout,
        impl=config.impl,
        variant=config.variant,
    )


def first_layer_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Split ``model``'s parameters into (first graph convolution's, all others) for first-layer weight decay."""
    from torch_geometric.nn import GCNConv

    from gnnhw.graph.layers import GCNLayer

    first = next((m for m in model.modules() if isinstance(m, (GCNLayer, GCNConv))), None)
    if first is None:
        raise ConfigError(f"{type(model).__name__} has no graph convolution to apply weight decay to")
    first_ids = {id(p) for p in first.parameters()}
    return list(first.parameters()), [p for p in model.parameters() if id(p) not in first_ids]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam with weight decay on the first layer only (Kipf's ``FLAGS.weight_decay``; PyG's examples/gcn.py)."""
    first, rest = first_layer_parameters(model)
    groups = [{"params": first, "weight_decay": config.weight_decay}]
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    return torch.optim.Adam(groups, lr=config.lr)


def accuracy(logits: Tensor, y: Tensor, mask: Tensor) -> float:
    """Fraction of the nodes in ``mask`` whose arg-max class is ``y``."""
    return float((logits[mask].argmax(dim=-1) == y[mask]).float().mean())


def _peak_memory_mb(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "CUDA peak allocated"
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / 1024, "process peak RSS"


def train_run(
    graph: FullBatchGraph,
    config: TrainConfig,
    seed: int,
    *,
    model: nn.Module | None = None,
    progress: Any = None,
) -> tuple[SeedResult, dict[str, Tensor]]:
    """Train one model with ``seed``; return its :class:`SeedResult` and the weights at the best epoch.

    ``model`` (optional) replaces the model :func:`build_model` would make; it must take ``(x, graph.graph)``.
    ``progress`` is an optional tqdm bar advanced once per epoch.
    """
    seed_everything(seed)
    device = graph.y.device
    if model is None:
        model = build_model(config, graph.x.size(1), graph.num_classes)
    model = model.to(device)
    optimizer = make_optimizer(model, config)
    x, adj, y = graph.x, graph.graph, graph.y  # adj: Â (sparse) or edge_index
    history: dict[str, list[float]] = {k: [] for k in ("train_loss", "val_loss", "train_acc", "val_acc", "test_acc")}
    best = (-1.0, math.inf)  # (val_acc, val_loss) of the best epoch so far
    best_epoch, best_state, best_test = 0, {}, 0.0
    fix = f"lower the learning rate (lr={config.lr:g}, seed {seed})"

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        optimizer.zero_grad()
        out = model(x, adj)  # (N, C) logits
        loss = F.cross_entropy(out[graph.train_mask], y[graph.train_mask])
        train_loss = loss.item()
        check_training_finite(epoch, train_loss, fix=fix)  # a diverged model is never evaluated or reported
        loss.backward()
        optimizer.step()
        check_training_finite(epoch, parameters=model.parameters(), fix=fix)

        model.eval()
        with torch.no_grad():
            out = model(x, adj)
            val_loss = float(F.cross_entropy(out[graph.val_mask], y[graph.val_mask]))
            check_training_finite(epoch, val_loss, fix=fix)  # finite weights can still overflow the logits
            train_acc = accuracy(out, y, graph.train_mask)
            val_acc = accuracy(out, y, graph.val_mask)
            test_acc = accuracy(out, y, graph.test_mask)
        for key, value in zip(history, (train_loss, val_loss, train_acc, val_acc, test_acc), strict=True):
            history[key].append(value)
        if val_acc > best[0] or (val_acc == best[0] and val_loss < best[1]):
            best, best_epoch, best_test = (val_acc, val_loss), epoch, test_acc
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if progress is not None:
            progress.update(1)
            progress.set_postfix(seed=seed, val=f"{val_acc:.3f}", test=f"{best_test:.3f}")
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = (time.perf_counter() - start) / config.epochs

    result = SeedResult(
        seed=seed,
        best_epoch=best_epoch,
        val_acc=best[0],
        test_acc=best_test,
        test_acc_last=history["test_acc"][-1],
        seconds_per_epoch=seconds,
        history=history,
    )
    return result, best_state


def _train_seed(item: tuple[FullBatchGraph, TrainConfig, int]) -> tuple[SeedResult, dict[str, Tensor]]:
    """One seed's :func:`train_run` (a job for :func:`gnnhw.executors.map_jobs`)."""
    graph, config, seed = item
    return train_run(graph, config, seed)


def train_planetoid(
    config: TrainConfig | None = None,
    *,
    data: Data | None = None,
    root: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
    trust_raw_data: bool = False,
    executor: str = "local",
    address: str | None = None,
) -> TrainResult:
    """Train ``config.seeds`` GCNs on ``config.dataset`` and collect their test accuracies.

    Args:
        config: hyper-parameters (default: Kipf & Welling's recipe on Cora with the scratch layer).
        data: an already loaded data set (default: :func:`~gnnhw.graph.data.load_planetoid` from ``root``).
        root: data root for loading.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        progress: show a tqdm bar on stderr.
        trust_raw_data: accept raw files that are not the published ones (see :func:`load_planetoid`).
        executor, address: where the seeds train (:func:`gnnhw.executors.map_jobs`): ``"local"``, here one after
            another, or ``"ray"``, one Ray task per seed (same numbers; ``peak_memory_mb`` is then this process's).

    Raises:
        ConfigError: a field of ``config`` out of its declared range, or a model too large for the memory.
        DataNotFoundError, DataIntegrityError: see :func:`~gnnhw.graph.data.load_planetoid`.
        DivergedError: the loss or the weights became non-finite (no accuracy is reported for such a run).
        ExecutorError: an unknown executor, Ray not installed, or its cluster unreachable.

    A tiny graph (any :class:`torch_geometric.data.Data` with ``x``, ``edge_index``, ``y`` and the three masks):

    >>> from torch_geometric.data import Data
    >>> data = Data(x=torch.eye(4), edge_index=torch.tensor([[0, 1, 2], [1, 2, 3]]), y=torch.tensor([0, 1, 0, 1]))
    >>> data.train_mask = data.val_mask = data.test_mask = torch.ones(4, dtype=torch.bool)
    >>> result = train_planetoid(TrainConfig(epochs=3, seeds=2, seed=7), data=data)
    >>> [run.seed for run in result.runs], len(result.runs[0].history["val_acc"])
    ([7, 8], 3)
    """
    from gnnhw.executors import check_executor, map_jobs
    from gnnhw.graph.config import PlanetoidSize

    check_executor(executor, address)

    config = (config or TrainConfig()).validate()
    device = resolve_device(device)
    if data is None:
        data = load_dataset(config.dataset, root, trust_raw_data=trust_raw_data)  # Planetoid or sbm:...
    num_classes = num_classes_of(data)
    config.check_memory(PlanetoidSize(data.num_nodes, data.num_features, num_classes, data.num_edges))
    graph = prepare_graph(data, config, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    from tqdm.auto import tqdm

    runs: list[SeedResult] = []
    best_seed, best_key, best_state = config.seed, (-1.0, -math.inf), {}
    with tqdm(
        total=config.seeds * config.epochs,
        desc=f"{config.dataset} {config.impl}",
        disable=not progress,
        file=sys.stderr,
        leave=False,
    ) as bar:
        seeds = range(config.seed, config.seed + config.seeds)
        if executor == "local":
            outcomes = [train_run(graph, config, seed, progress=bar) for seed in seeds]
        else:
            outcomes = map_jobs(
                _train_seed,
                [(graph, config, seed) for seed in seeds],
                executor=executor,
                address=address,
                on_done=lambda item, out: bar.update(config.epochs),
            )
        for seed, (run, state) in zip(seeds, outcomes, strict=True):
            runs.append(run)
            key = (run.val_acc, -run.history["val_loss"][run.best_epoch - 1])
            if key > best_key:
                best_seed, best_key, best_state = seed, key, state
    peak, kind = _peak_memory_mb(device)
    return TrainResult(
        config=config,
        runs=runs,
        device=str(device),
        peak_memory_mb=peak,
        memory_kind=kind,
        num_features=int(graph.x.size(1)),
        num_classes=graph.num_classes,
        best_seed=best_seed,
        best_state={k: v.cpu() for k, v in best_state.items()},
    )


def save_checkpoint(result: TrainResult, path: str | os.PathLike) -> None:
    """Write the best run's model atomically (:func:`gnnhw.checkpoint.save_checkpoint`); the file loads with
    ``torch.load(path, weights_only=True)``.

    Contents: the header (``format``, ``version``), ``config`` (a dict), ``in_channels``, ``out_channels``,
    ``seed``, ``val_acc``, ``test_acc`` and ``state_dict``.

    Raises:
        OutputError: the file cannot be written (e.g. ``No space left on device (ENOSPC)``); an existing
            file at ``path`` is then kept as it was.
    """
    from gnnhw.checkpoint import save_checkpoint as write_checkpoint

    best = next(run for run in result.runs if run.seed == result.best_seed)
    payload = {
        "config": dataclasses.asdict(result.config),
        "in_channels": result.num_features,
        "out_channels": result.num_classes,
        "seed": best.seed,
        "val_acc": best.val_acc,
        "test_acc": best.test_acc,
        "state_dict": result.best_state,
    }
    write_checkpoint(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, payload)


def _checkpoint_spec() -> Any:
    """The schema of a GCN checkpoint (:mod:`gnnhw.schema`); ``config`` is checked field by field afterwards."""
    from gnnhw.checks import SEED_MAX
    from gnnhw.schema import ANY, Float, Int, MapOf, Record, TensorSpec

    return Record(
        required={
            "config": ANY,  # checked against TrainConfig's declared ranges below
            "in_channels": Int(min=1, max=MAX_IN_CHANNELS),
            "out_channels": Int(min=1, max=MAX_OUT_CHANNELS),
            "seed": Int(min=0, max=SEED_MAX),
            "state_dict": MapOf(TensorSpec(finite=True, dtype="float")),
        },
        optional={"val_acc": Float(min=0.0, max=1.0), "test_acc": Float(min=0.0, max=1.0)},
    )


MAX_IN_CHANNELS = 1 << 24  # input features a checkpoint may declare (Planetoid's largest: 3703)
MAX_OUT_CHANNELS = 1 << 16  # classes a checkpoint may declare (Planetoid's largest: 7)


def load_checkpoint(path: str | os.PathLike) -> tuple[GCN, TrainConfig, dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`; return (model in eval mode, config, checkpoint).

    The file is untrusted input, read by :func:`gnnhw.checkpoint.load_checkpoint` (a zip archive as
    ``torch.save`` writes, ``weights_only=True`` only, never suggesting ``weights_only=False``), and every field is
    checked: the format and version, ``seed``, ``in_channels`` / ``out_channels`` (integers in range), ``config``
    (every :class:`TrainConfig` range, and the memory the model needs), the weights (finite floats of the shapes the
    config implies). Version 1 files (config keys ``layer``/``first_seed``) are translated on read; the returned
    checkpoint's ``config`` holds the current keys.

    Raises:
        CheckpointError: one line naming the file and the field.
    """
    from gnnhw.checkpoint import load_checkpoint as read_checkpoint
    from gnnhw.checks import config_from_dict
    from gnnhw.graph.config import PlanetoidSize, dataset_size

    source = f"checkpoint {str(path)!r}"
    ckpt = read_checkpoint(path, CHECKPOINT_FORMAT, (1, CHECKPOINT_VERSION), _checkpoint_spec(), what="gnnhw GCN")
    ckpt["config"] = upgrade_config_dict(ckpt["config"])  # version 1: layer="pyg" -> impl="reference", first_seed
    try:
        config = config_from_dict(TrainConfig, ckpt["config"], source).validate()
        size = dataset_size(config.dataset)
        config.check_memory(PlanetoidSize(size.nodes, ckpt["in_channels"], ckpt["out_channels"], size.edges))
    except ConfigError as err:
        text = str(err)
        raise CheckpointError(text if source in text else f"{source}: config: {text}") from None
    try:
        model = build_model(config, ckpt["in_channels"], ckpt["out_channels"])
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, RuntimeError, ConfigError) as err:
        reason = str(err).splitlines()[0]
        raise CheckpointError(f"{source} does not describe a valid GCN: {reason}") from None
    return model.eval(), config, ckpt


def evaluate(model: nn.Module, graph: FullBatchGraph) -> dict[str, float]:
    """Train / validation / test accuracy of ``model`` (eval mode, no gradients) on ``graph``."""
    model.eval()
    with torch.no_grad():
        out = model(graph.x, graph.graph)
    return {split: accuracy(out, graph.y, getattr(graph, f"{split}_mask")) for split in ("train", "val", "test")}
