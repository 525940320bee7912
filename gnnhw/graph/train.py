"""Semi-supervised node classification on Planetoid with Kipf & Welling's GCN recipe.

The default :class:`TrainConfig` is the recipe of Kipf & Welling (ICLR 2017, Section 5.1) as their code
and PyG's ``examples/gcn.py`` run it: a 2-layer GCN with 16 hidden units, dropout 0.5 on the input
features and on the hidden layer, ReLU, Adam (lr 0.01) with an L2 penalty of 5e-4 on the *first* layer
only, 200 epochs of full-batch training on the 140 / 120 / 60 labelled nodes of the public split, and
row-normalized features. Model selection uses the validation set only: the reported test accuracy is
the one at the epoch of best validation accuracy (ties: lower validation loss); the test accuracy after
the last epoch is reported beside it.

The fast path (``sparse_features=True``) is Kipf's: the normalized adjacency Â = D^-1/2 (A + I) D^-1/2 is
computed once, the feature matrix stays a sparse tensor (98.7% of Cora's entries are zero) and dropout
acts on its stored values, so the first layer costs O(nnz(X) * hidden) instead of O(N * F * hidden).

:func:`train_planetoid` returns a :class:`TrainResult` (per-seed numbers, mean, std, seconds per epoch,
peak memory, the best model's weights); :func:`save_checkpoint` / :func:`load_checkpoint` write and read
the best model (``torch.load(path, weights_only=True)`` works on the file).
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

from gnnhw._utils import atomic_torch_save, resolve_device, seed_everything
from gnnhw.checks import check_training_finite
from gnnhw.errors import CheckpointError, ConfigError
from gnnhw.graph.config import LAYERS as LAYERS  # re-exported
from gnnhw.graph.config import TrainConfig
from gnnhw.graph.data import row_normalize, sparse_features
from gnnhw.graph.sbm import load_dataset

CHECKPOINT_FORMAT = "gnnhw.planetoid.gcn/1"


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
        return statistics.stdev(self.per_seed) if len(self.runs) > 1 else 0.0

    @property
    def test_acc_last_mean(self) -> float:
        return statistics.fmean(run.test_acc_last for run in self.runs)

    @property
    def test_acc_last_std(self) -> float:
        return statistics.stdev([r.test_acc_last for r in self.runs]) if len(self.runs) > 1 else 0.0

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
            "layer": self.config.layer,
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


@dataclass
class Graph:
    """A Planetoid graph ready for full-batch training: features, Â (or edge_index), labels, masks."""

    x: Tensor  # (N, F), dense or sparse COO
    adj: Tensor  # scratch: Â as a sparse CSR (N, N); pyg: edge_index (2, E)
    y: Tensor  # (N,)
    train_mask: Tensor  # (N,) bool
    val_mask: Tensor  # (N,) bool
    test_mask: Tensor  # (N,) bool
    num_classes: int


def prepare_graph(data: Data, config: TrainConfig, device: torch.device | str = "cpu") -> Graph:
    """Row-normalize and (optionally) sparsify X, compute Â once for the scratch layer, move all to ``device``.

    The PyG layer gets dense features and ``edge_index``, and normalizes the graph itself (the reference path).
    """
    from gnnhw.graph.adjacency import normalized_adjacency

    device = torch.device(device)
    x = data.x.float()
    if config.normalize_features:
        x = row_normalize(x)
    if config.sparse_features and config.layer == "scratch":
        x = sparse_features(x)  # GCNConv's Linear needs dense features: the pyg layer keeps X dense
    num_nodes = data.num_nodes
    if config.layer == "scratch":
        adj = normalized_adjacency(data.edge_index, num_nodes=num_nodes, sparse=True)
    else:
        adj = data.edge_index
    num_classes = int(getattr(data, "num_classes", int(data.y.max()) + 1))
    return Graph(
        x=x.to(device),
        adj=adj.to(device),
        y=data.y.to(device),
        train_mask=data.train_mask.to(device),
        val_mask=data.val_mask.to(device),
        test_mask=data.test_mask.to(device),
        num_classes=num_classes,
    )


def build_model(config: TrainConfig, in_channels: int, out_channels: int) -> nn.Module:
    """Kipf's GCN from :mod:`gnnhw.graph.models` with ``config``'s sizes, dropout and layer."""
    from gnnhw.graph.models import GCN

    return GCN(
        in_channels,
        config.hidden_channels,
        out_channels,
        num_layers=config.num_layers,
        dropout=config.dropout,
        layer=config.layer,
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
    graph: Graph,
    config: TrainConfig,
    seed: int,
    *,
    model: nn.Module | None = None,
    progress: Any = None,
) -> tuple[SeedResult, dict[str, Tensor]]:
    """Train one model with ``seed``; return its :class:`SeedResult` and the weights at the best epoch.

    ``model`` (optional) replaces the model :func:`build_model` would make; it must take ``(x, graph.adj)``.
    ``progress`` is an optional tqdm bar advanced once per epoch.
    """
    seed_everything(seed)
    device = graph.y.device
    if model is None:
        model = build_model(config, graph.x.size(1), graph.num_classes)
    model = model.to(device)
    optimizer = make_optimizer(model, config)
    x, adj, y = graph.x, graph.adj, graph.y
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


def _train_seed(item: tuple[Graph, TrainConfig, int]) -> tuple[SeedResult, dict[str, Tensor]]:
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
    """
    from gnnhw.executors import check_executor, map_jobs
    from gnnhw.graph.config import PlanetoidSize

    check_executor(executor, address)

    config = (config or TrainConfig()).validate()
    device = resolve_device(device)
    if data is None:
        data = load_dataset(config.dataset, root, trust_raw_data=trust_raw_data)  # Planetoid or sbm:...
    num_classes = int(getattr(data, "num_classes", int(data.y.max()) + 1))
    config.check_memory(PlanetoidSize(data.num_nodes, data.num_features, num_classes, data.num_edges))
    graph = prepare_graph(data, config, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    from tqdm.auto import tqdm

    runs: list[SeedResult] = []
    best_seed, best_key, best_state = config.first_seed, (-1.0, -math.inf), {}
    with tqdm(
        total=config.seeds * config.epochs,
        desc=f"{config.dataset} {config.layer}",
        disable=not progress,
        file=sys.stderr,
        leave=False,
    ) as bar:
        seeds = range(config.first_seed, config.first_seed + config.seeds)
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
    """Write the best run's model atomically; the file loads with ``torch.load(path, weights_only=True)``.

    Contents: ``format``, ``config`` (a dict), ``in_channels``, ``out_channels``, ``seed``, ``val_acc``,
    ``test_acc`` and ``state_dict``.

    Raises:
        OutputError: the file cannot be written (e.g. ``No space left on device (ENOSPC)``); an existing
            file at ``path`` is then kept as it was.
    """
    best = next(run for run in result.runs if run.seed == result.best_seed)
    atomic_torch_save(
        {
            "format": CHECKPOINT_FORMAT,
            "config": dataclasses.asdict(result.config),
            "in_channels": result.num_features,
            "out_channels": result.num_classes,
            "seed": best.seed,
            "val_acc": best.val_acc,
            "test_acc": best.test_acc,
            "state_dict": result.best_state,
        },
        path,
    )


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
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format: a zip archive


def load_checkpoint(path: str | os.PathLike) -> tuple[nn.Module, TrainConfig, dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`; return (model in eval mode, config, checkpoint).

    The file is untrusted input: it must be a zip archive (what ``torch.save`` writes; anything else is refused
    before unpickling), it is read with ``weights_only=True`` only (:func:`gnnhw.checkpoint.load_checkpoint`,
    which never suggests ``weights_only=False``), and every field is checked: the format, ``seed``,
    ``in_channels`` / ``out_channels`` (integers in range), ``config`` (every :class:`TrainConfig` range,
    and the memory the model needs), the weights (finite floats of the shapes the config implies).

    Raises:
        CheckpointError: one line naming the file and the field.
    """
    from gnnhw.checkpoint import load_checkpoint as read_checkpoint
    from gnnhw.checks import config_from_dict
    from gnnhw.graph.config import PlanetoidSize, dataset_size

    source = f"checkpoint {str(path)!r}"
    magic = _ZIP_MAGIC  # missing, a directory, a pipe, unreadable: the shared reader handles and names those
    if os.path.isfile(path):
        try:
            with open(path, "rb") as file:
                magic = file.read(4)
        except OSError:
            pass
    if magic != _ZIP_MAGIC:
        raise CheckpointError(f"{source} is corrupt or not a torch file (not the zip archive torch.save writes)")
    name, _, version = CHECKPOINT_FORMAT.rpartition("/")
    ckpt = read_checkpoint(path, name, (int(version),), _checkpoint_spec(), what="gnnhw GCN")
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


def evaluate(model: nn.Module, graph: Graph) -> dict[str, float]:
    """Train / validation / test accuracy of ``model`` (eval mode, no gradients) on ``graph``."""
    model.eval()
    with torch.no_grad():
        out = model(graph.x, graph.adj)
    return {split: accuracy(out, graph.y, getattr(graph, f"{split}_mask")) for split in ("train", "val", "test")}
