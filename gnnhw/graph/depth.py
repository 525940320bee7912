"""Depth study: how test accuracy and over-smoothing change as GCN layers are stacked, and three remedies.

Each GCN layer replaces a node's features by a weighted mean over its closed neighbourhood, H' = Â H W.
Stacking L layers applies Â^L, and Â^L converges to a rank-one operator on a connected graph (its rows
become proportional to D^1/2 1): the node embeddings of a deep plain GCN become indistinguishable,
*over-smoothing* (Li, Han & Wu, AAAI 2018; Oono & Suzuki, ICLR 2020). :class:`DepthGCN` builds four
variants from gnnhw's :class:`~gnnhw.graph.layers.GCNLayer`:

- ``plain``: Kipf's GCN with ``num_layers`` convolutions, H_{l+1} = ReLU(Â H_l W_l).
- ``residual``: H_{l+1} = ReLU(Â H_l W_l) + H_l on every hidden -> hidden layer (He et al.; Kipf & Welling,
  Appendix B), so each layer only adds a correction to what the layer below knew.
- ``pairnorm``: PairNorm (Zhao & Akoglu, ICLR 2020) after every hidden layer, which keeps the total
  pairwise squared distance of the embeddings constant: x̃_i = x_i - mean_j x_j,
  x_i <- s * x̃_i / sqrt(mean_j ||x̃_j||^2).
- ``jk``: jumping knowledge (Xu et al., ICML 2018): ``num_layers`` hidden convolutions whose outputs are
  combined by an element-wise max and classified by a linear layer, so the classifier can pick, per
  feature, the most useful neighbourhood size.

Over-smoothing is measured by the mean pairwise cosine distance of the final node embeddings (the
model's output, "MAD" of Chen et al., AAAI 2020): 1 - mean_{i != j} cos(z_i, z_j), computed in O(N C).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnnhw._utils import resolve_device
from gnnhw.errors import ConfigError
from gnnhw.graph.config import VARIANTS, DepthConfig
from gnnhw.graph.layers import GCNLayer, is_sparse, precomputed_adjacency
from gnnhw.graph.models import sparse_dropout
from gnnhw.graph.sbm import load_dataset
from gnnhw.graph.train import prepare_graph, train_run


def dropout_any(x: Tensor, p: float, training: bool) -> Tensor:
    """Dropout on a dense tensor, or on the stored values of a sparse tensor (Kipf's sparse dropout)."""
    if is_sparse(x):
        return sparse_dropout(x, p, training)
    return F.dropout(x, p, training)


class PairNorm(nn.Module):
    r"""PairNorm (Zhao & Akoglu, 2020), "PN" mode, without parameters.

    .. math::
        \tilde x_i = x_i - \frac1N \sum_j x_j, \qquad
        x_i' = s \, \tilde x_i \Big/ \sqrt{\tfrac1N \textstyle\sum_j \|\tilde x_j\|^2 + \epsilon}

    Shapes:
        (N, F) -> (N, F)
    """

    def __init__(self, scale: float = 1.0, eps: float = 1.0e-5) -> None:
        super().__init__()
        self.scale = scale
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        x = x - x.mean(dim=0, keepdim=True)  # x̃_i = x_i - mean_j x_j
        return self.scale * x / (x.pow(2).sum(dim=-1).mean() + self.eps).sqrt()  # s x̃_i / sqrt(mean ||x̃||^2)


class DepthGCN(nn.Module):
    """A GCN of ``num_layers`` graph convolutions, plain or with a remedy against over-smoothing.

    Args:
        in_channels: input features F.
        hidden_channels: width of every hidden layer.
        out_channels: classes C.
        num_layers: graph convolutions (>= 1). For ``jk`` all of them are hidden and a linear layer classifies.
        dropout: dropout probability before every convolution (on the stored values of a sparse X).
        variant: ``"plain"``, ``"residual"``, ``"pairnorm"`` or ``"jk"``.

    Shapes:
        x: (N, F) dense or sparse COO; adj: Â as (N, N) sparse (or edge_index (2, E)); output: (N, C).
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        num_layers: int,
        dropout: float = 0.5,
        variant: str = "plain",
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ConfigError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
        if num_layers < 1:
            raise ConfigError(f"num_layers must be a positive integer, got {num_layers!r}")
        self.variant = variant
        self.dropout = dropout
        if variant == "jk":
            dims = [in_channels] + [hidden_channels] * num_layers
            self.classifier: nn.Module | None = nn.Linear(hidden_channels, out_channels)
        else:
            dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
            self.classifier = None
        self.convs = nn.ModuleList(GCNLayer(i, o) for i, o in zip(dims[:-1], dims[1:], strict=True))
        self.norm = PairNorm() if variant == "pairnorm" else None

    def forward(self, x: Tensor, adj: Tensor) -> Tensor:
        # A sparse adj is a precomputed Â: the layers must not add self-loops and normalize it again.
        with precomputed_adjacency(self) if is_sparse(adj) else contextlib.nullcontext():
            return self._forward(x, adj)

    def _forward(self, x: Tensor, adj: Tensor) -> Tensor:
        hidden: list[Tensor] = []
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            h = conv(dropout_any(x, self.dropout, self.training), adj)  # Â X W (+ b)
            if i == last and self.classifier is None:
                return h  # (N, C) logits of the plain / residual / pairnorm variants
            h = h.relu()
            if self.norm is not None:
                h = self.norm(h)
            if self.variant == "residual" and i > 0:
                h = h + x  # H_{l+1} = ReLU(Â H_l W_l) + H_l (hidden -> hidden layers only)
            hidden.append(h)
            x = h
        jk = torch.stack(hidden, dim=0).max(dim=0).values  # (L, N, H) -> (N, H): element-wise max over layers
        return self.classifier(F.dropout(jk, self.dropout, self.training))  # (N, C)


def mean_pairwise_cosine_distance(z: Tensor) -> float:
    r"""Mean cosine distance over all ordered pairs of distinct rows, in O(N C) memory.

    .. math::
        \text{MAD} = 1 - \frac{1}{N(N-1)} \sum_{i \ne j} \hat z_i \cdot \hat z_j
                   = 1 - \frac{\|\sum_i \hat z_i\|^2 - \sum_i \|\hat z_i\|^2}{N(N-1)},
        \qquad \hat z_i = z_i / \|z_i\|

    (a zero row stays zero). 0 when all embeddings point the same way (fully over-smoothed).

    Shapes:
        z: (N, C), N >= 2
    """
    n = z.size(0)
    if n < 2:
        raise ConfigError(f"need at least 2 nodes to measure pairwise distances, got {n}")
    zh = F.normalize(z.double(), dim=-1)  # ẑ_i = z_i / ||z_i||
    total = zh.sum(dim=0).pow(2).sum()  # ||Σ ẑ_i||^2 = Σ_i Σ_j ẑ_i·ẑ_j
    diagonal = zh.pow(2).sum()  # Σ_i ||ẑ_i||^2
    return float(1.0 - (total - diagonal) / (n * (n - 1)))


@torch.no_grad()
def propagation_distances(x: Tensor, adj: Tensor, powers: Sequence[int]) -> dict[int, float]:
    r"""Over-smoothing without training: MAD of :math:`\hat A^k X` for each ``k`` in ``powers``.

    This is what a GCN of ``k`` layers does to the features when its weights are the identity and it has
    no nonlinearity; on a connected graph :math:`\hat A^k X` tends to rank one as ``k`` grows, so the
    distance falls towards 0 (per connected component).

    Shapes:
        x: (N, F) dense or sparse; adj: Â (N, N) sparse; returns {k: MAD}
    """
    wanted = sorted(set(powers))
    if not wanted or wanted[0] < 0:
        raise ConfigError(f"powers must be non-negative integers, got {list(powers)!r}")
    h = x.to_dense() if is_sparse(x) else x  # (N, F)
    out: dict[int, float] = {}
    for k in range(wanted[-1] + 1):
        if k > 0:
            h = adj @ h  # Â^k X
        if k in wanted:
            out[k] = mean_pairwise_cosine_distance(h)
    return out


@dataclass
class DepthRow:
    """One (variant, depth) cell: per-seed test accuracies (best validation epoch) and MAD of the output."""

    variant: str
    num_layers: int
    test_acc: list[float]
    distance: list[float]  # mean pairwise cosine distance of the final embeddings, per seed
    seconds_per_epoch: float

    @property
    def test_acc_mean(self) -> float:
        return statistics.fmean(self.test_acc)

    @property
    def test_acc_std(self) -> float:
        return statistics.stdev(self.test_acc) if len(self.test_acc) > 1 else 0.0

    @property
    def distance_mean(self) -> float:
        return statistics.fmean(self.distance)


@dataclass
class DepthResult:
    config: DepthConfig
    rows: list[DepthRow] = field(default_factory=list)

    def row(self, variant: str, num_layers: int) -> DepthRow:
        return next(r for r in self.rows if r.variant == variant and r.num_layers == num_layers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": dataclasses.asdict(self.config),
            "rows": [
                {
                    **dataclasses.asdict(r),
                    "test_acc_mean": r.test_acc_mean,
                    "test_acc_std": r.test_acc_std,
                    "distance_mean": r.distance_mean,
                }
                for r in self.rows
            ],
        }


def run_depth_study(
    config: DepthConfig | None = None,
    *,
    root: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
    trust_raw_data: bool = False,
    executor: str = "local",
    address: str | None = None,
) -> DepthResult:
    """Train every (variant, depth) of ``config`` for ``config.seeds`` seeds; return accuracies and MADs.

    ``trust_raw_data``: accept raw files that are not the published ones (see :func:`load_planetoid`).
    ``executor`` / ``address``: where the runs train (:func:`gnnhw.executors.map_jobs`): ``"local"``, here one
    after another, or ``"ray"``, one Ray task per (variant, depth, seed); the numbers are the same.

    Raises:
        ConfigError: a field out of its declared range, or a model too large for the memory.
        DataNotFoundError, DataIntegrityError: see :func:`~gnnhw.graph.data.load_planetoid`.
        DivergedError: a run's loss or weights became non-finite.
        ExecutorError: an unknown executor, Ray not installed, or its cluster unreachable.
    """
    from tqdm.auto import tqdm

    from gnnhw.executors import check_executor, map_jobs

    check_executor(executor, address)

    from gnnhw.graph.config import PlanetoidSize

    config = (config or DepthConfig()).validate()
    device = resolve_device(device)
    data = load_dataset(config.dataset, root, trust_raw_data=trust_raw_data)  # Planetoid or sbm:...
    size = PlanetoidSize(data.num_nodes, data.num_features, int(data.num_classes), data.num_edges)
    config.train_config(max(config.depths)).check_memory(size)
    graph = prepare_graph(data, config.train_config(1), device)
    result = DepthResult(config=config)
    total = len(config.variants) * len(config.depths) * config.seeds * config.epochs
    seeds = range(config.first_seed, config.first_seed + config.seeds)
    cells = [(variant, depth) for variant in config.variants for depth in config.depths]
    with tqdm(total=total, desc="depth study", disable=not progress, file=sys.stderr, leave=False) as bar:
        if executor == "local":
            outcomes = [_depth_run((graph, config, v, d, s), bar) for v, d in cells for s in seeds]
        else:
            items = [(graph, config, v, d, s) for v, d in cells for s in seeds]
            outcomes = map_jobs(
                _depth_run, items, executor=executor, address=address, on_done=lambda i, o: bar.update(config.epochs)
            )
    for i, (variant, depth) in enumerate(cells):
        runs = outcomes[i * len(seeds) : (i + 1) * len(seeds)]  # [(test_acc, distance, seconds_per_epoch)]
        accs, dists, secs = (list(column) for column in zip(*runs, strict=True))
        result.rows.append(DepthRow(variant, depth, accs, dists, statistics.fmean(secs)))
    return result


def _depth_run(item: tuple[Any, DepthConfig, str, int, int], bar: Any = None) -> tuple[float, float, float]:
    """Train one (variant, depth, seed) of the study; return (test accuracy, MAD of the final embeddings, seconds
    per epoch). A job for :func:`gnnhw.executors.map_jobs`; ``bar``: a tqdm bar advanced per epoch (local only)."""
    graph, config, variant, depth, seed = item
    torch.manual_seed(seed)  # the model's initial weights come from the seed too
    model = DepthGCN(graph.x.size(1), config.hidden_channels, graph.num_classes, depth, config.dropout, variant)
    if bar is not None:
        bar.set_description(f"{variant} L={depth}")
    run, state = train_run(graph, config.train_config(depth), seed, model=model, progress=bar)
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        z = model(graph.x, graph.adj)  # (N, C) final embeddings at the best validation epoch
    return run.test_acc, mean_pairwise_cosine_distance(z), run.seconds_per_epoch


__all__ = [
    "VARIANTS",
    "DepthConfig",
    "DepthGCN",
    "DepthResult",
    "DepthRow",
    "PairNorm",
    "dropout_any",
    "mean_pairwise_cosine_distance",
    "propagation_distances",
    "run_depth_study",
]
