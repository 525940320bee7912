"""Depth study: how test accuracy and over-smoothing change as GCN layers are stacked, and three remedies.

Each GCN layer replaces a node's features by a weighted mean over its closed neighbourhood, H' = Â H W.
Stacking L layers applies Â^L, and Â^L converges to a rank-one operator on a connected graph (its rows
become proportional to D̃^1/2 1): the node embeddings of a deep plain GCN become indistinguishable,
*over-smoothing* (Li, Han & Wu, AAAI 2018, https://arxiv.org/abs/1801.07606; Oono & Suzuki, ICLR 2020,
https://arxiv.org/abs/1905.10947). The models are :class:`~gnnhw.graph.models.GCN` with its ``variant`` option:
``plain`` (Kipf's GCN), ``residual``, ``pairnorm`` and ``jk`` (jumping knowledge); see :mod:`gnnhw.graph.models`.

Over-smoothing is measured by the mean pairwise cosine distance of the final node embeddings (the
model's output, "MAD" of Chen et al., AAAI 2020, https://arxiv.org/abs/1909.03211):
1 - mean_{i != j} cos(z_i, z_j), computed in O(N C).

``DepthGCN`` is a deprecated alias of ``GCN(..., variant=...)``, kept for one release.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnhw._utils import resolve_device
from gnnhw.errors import ConfigError
from gnnhw.graph.config import VARIANTS as VARIANTS  # re-exported
from gnnhw.graph.config import DepthConfig as DepthConfig  # re-exported
from gnnhw.graph.data import num_classes_of, prepare_graph
from gnnhw.graph.layers import is_sparse
from gnnhw.graph.models import GCN
from gnnhw.graph.models import PairNorm as PairNorm  # re-exported
from gnnhw.graph.models import dropout_any as dropout_any  # re-exported
from gnnhw.graph.sbm import load_dataset
from gnnhw.graph.train import build_model, sample_std, train_run


class DepthGCN(GCN):
    """Deprecated (one release): :class:`~gnnhw.graph.models.GCN` with ``variant=``; this alias keeps the old
    argument order ``(in_channels, hidden_channels, out_channels, num_layers, dropout, variant)``."""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        num_layers: int,
        dropout: float = 0.5,
        variant: str = "plain",
    ) -> None:
        from gnnhw._renames import warn_renamed

        warn_renamed("DepthGCN(...)", "GCN(..., variant=...)", "gnnhw.graph.depth")
        super().__init__(in_channels, hidden_channels, out_channels, num_layers, dropout, variant=variant)


def mean_pairwise_cosine_distance(z: Tensor) -> float:
    r"""Mean cosine distance over all ordered pairs of distinct rows, in O(N C) memory.

    .. math::
        \text{MAD} = 1 - \frac{1}{N(N-1)} \sum_{i \ne j} \hat z_i \cdot \hat z_j
                   = 1 - \frac{\|\sum_i \hat z_i\|^2 - \sum_i \|\hat z_i\|^2}{N(N-1)},
        \qquad \hat z_i = z_i / \|z_i\|

    (a zero row stays zero). 0 when all embeddings point the same way (fully over-smoothed).

    Shapes:
        z: (N, C), N >= 2

    >>> mean_pairwise_cosine_distance(torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]]))  # cosines 1, 0, 0
    0.6666666666666667
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
        return sample_std(self.test_acc)

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
    size = PlanetoidSize(data.num_nodes, data.num_features, num_classes_of(data), data.num_edges)
    config.train_config(max(config.depths)).check_memory(size)
    graph = prepare_graph(data, config.train_config(1), device)  # the same X and Â for every cell
    result = DepthResult(config=config)
    total = len(config.variants) * len(config.depths) * config.seeds * config.epochs
    seeds = range(config.seed, config.seed + config.seeds)
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
    train_config = config.train_config(depth, variant)
    torch.manual_seed(seed)  # the model's initial weights come from the seed too
    model = build_model(train_config, graph.x.size(1), graph.num_classes)
    if bar is not None:
        bar.set_description(f"{variant} L={depth}")
    run, state = train_run(graph, train_config, seed, model=model, progress=bar)
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        z = model(graph.x, graph.graph)  # (N, C) final embeddings at the best validation epoch
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
