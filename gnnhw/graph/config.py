"""Configs of the GCN experiments on Planetoid, with each field's range declared beside it.

This module imports neither torch nor PyG, so the CLI can refuse a bad option (a seed of 2^64, a learning
rate of 1e300, a million layers) in milliseconds, before anything heavy is loaded or allocated.

- :class:`TrainConfig`: one node-classification experiment (:func:`gnnhw.graph.train.train_planetoid`).
- :class:`DepthConfig`: the depth study (:func:`gnnhw.graph.depth.run_depth_study`).
- :func:`gcn_training_bytes`: the memory a full-batch GCN training run needs, checked against the machine's
  before any tensor is made (:func:`gnnhw.checks.check_memory`).

Ranges are declared with :func:`gnnhw.checks.bounded` (min, max, why) and enforced by ``validate()``, which
the library calls and the CLI calls first (naming its own options, e.g. ``--hidden-channels``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from gnnhw._renames import IMPL_WHY, IMPLS, accept_renamed
from gnnhw.checks import LR, SEED, SEED_MAX, SEED_WHY, Range, bounded, check_config, check_memory, check_value, unique
from gnnhw.errors import ConfigError, check_positive_int
from gnnhw.graph.sbm import generation_bytes, is_sbm, parse_sbm, sbm_size

PLANETOID_NAMES: tuple[str, ...] = ("Cora", "CiteSeer", "PubMed")
# The largest depth k gnnhw.graph.receptive accepts. Sizes stop growing at the graph's diameter (at most N - 1),
# GCNs over-smooth long before, and a size table holds N * (k + 1) numbers: 10,000 is beyond any useful depth
# and keeps that bounded.
MAX_LAYERS = 10_000

VARIANTS = ("plain", "residual", "pairnorm", "jk")
"""The GCN variants (:class:`gnnhw.graph.models.GCN`'s ``variant``): Kipf's plain stack and three remedies
against over-smoothing (residual connections, PairNorm, jumping knowledge)."""


class PlanetoidSize(NamedTuple):
    """Sizes of a Planetoid data set with the published raw files (``edges``: directed pairs)."""

    nodes: int
    features: int
    classes: int
    edges: int


PLANETOID_SIZES: dict[str, PlanetoidSize] = {
    "Cora": PlanetoidSize(2708, 1433, 7, 10556),
    "CiteSeer": PlanetoidSize(3327, 3703, 6, 9104),
    "PubMed": PlanetoidSize(19717, 500, 3, 88648),
}


def canonical_name(name: str) -> str:
    """``"cora"`` -> ``"Cora"`` (case-insensitive); :class:`ConfigError` for a name that is not Planetoid's."""
    if isinstance(name, str):
        for known in PLANETOID_NAMES:
            if name.lower() == known.lower():
                return known
    raise ConfigError(f"unknown dataset {name!r:.80}; expected one of {', '.join(PLANETOID_NAMES)}")


def canonical_dataset(name: str) -> str:
    """A Planetoid name (:func:`canonical_name`) or ``sbm:NODES:EDGES[:CLASSES]`` (:func:`gnnhw.graph.sbm.parse_sbm`)
    in canonical form; :class:`ConfigError` for anything else."""
    if is_sbm(name):
        return parse_sbm(name).name()
    try:
        return canonical_name(name)
    except ConfigError:
        raise ConfigError(
            f"unknown dataset {name!r:.80}; expected one of {', '.join(PLANETOID_NAMES)} or sbm:NODES:EDGES[:CLASSES]"
        ) from None


def dataset_size(name: str) -> PlanetoidSize:
    """The published sizes of a Planetoid data set, or the sizes an ``sbm:`` spec asks for."""
    if is_sbm(name):
        return PlanetoidSize(*sbm_size(parse_sbm(name)))
    return PLANETOID_SIZES[canonical_name(name)]


# Limits shared by both configs. They are generous for the task (Kipf's recipe: 2 layers, 16 hidden,
# 200 epochs) and exist so that an absurd value is refused at once instead of failing deep inside torch.
# The learning rate's range is gnnhw's one declared range for every ``lr`` (gnnhw.checks.LR).
_HIDDEN: Range = {"min": 1, "max": 65_536, "why": "units per hidden layer; the memory estimate also applies"}
_LAYERS_MAX = 1_024  # far deeper than any GCN that trains; deep plain GCNs only over-smooth
_WD: Range = {"min": 0.0, "max": 1e38, "why": "L2 penalty on float32 weights; above 3.4e38 it overflows"}
_EPOCHS: Range = {"min": 1, "max": 1_000_000, "why": "full-batch training steps"}
_SEEDS: Range = {"min": 1, "max": 10_000, "why": "independent runs, with seeds seed, seed + 1, ..."}
_DROPOUT: Range = {"min": 0.0, "max": 1.0, "max_open": True, "why": "a probability; 1 would drop everything"}


def gcn_training_bytes(
    num_nodes: int,
    num_features: int,
    num_classes: int,
    num_edges: int,
    hidden_channels: int,
    num_layers: int,
) -> int:
    """Estimated peak bytes of full-batch training of a ``num_layers``-layer GCN (float32).

    Parameters P = F*H + (L-2)*H*H + H*C (+ biases), held five times (weights, gradients, Adam's two moments,
    the best epoch's copy); per layer about six (N, H) activations kept for the backward pass; the features
    three times (raw, normalized, sparse copy); Â as a sparse matrix. An estimate for refusing absurd sizes,
    not a promise: the real peak is usually lower.
    """
    n, f, c, h, layers = num_nodes, num_features, num_classes, hidden_channels, num_layers
    if layers == 1:
        params = f * c + c
    else:
        params = f * h + (layers - 2) * h * h + h * c + (layers - 1) * h + c
    activations = 6 * n * max(h, c) * layers
    features = 3 * n * f
    adjacency = 5 * (num_edges + n)  # values plus (row, col) indices, counted in float32 units
    return 4 * (5 * params + activations + features + adjacency)


def check_seed_span(seed: int, seeds: int, label: str = "seed") -> None:
    """Refuse (:class:`ConfigError`) ``seeds`` runs from ``seed`` whose last seed, ``seed + seeds - 1``, is beyond
    :data:`~gnnhw.checks.SEED_MAX`; ``label`` names the first seed's field or option."""
    if seed + seeds - 1 > SEED_MAX:
        raise ConfigError(
            f"{label} {seed} with {seeds} seed(s) reaches seed {seed + seeds - 1}, beyond {SEED_MAX} "
            f"({SEED_WHY}); use a smaller first seed"
        )


OLD_CONFIG_KEYS = {"layer": "impl", "first_seed": "seed"}
"""Keys of a :class:`TrainConfig` / :class:`DepthConfig` dict written before the one vocabulary (gnnhw <= 0.x
checkpoints and results files, or keywords a user typed) and their names now; ``layer``'s value ``"pyg"`` is
now ``"reference"``."""


@accept_renamed(OLD_CONFIG_KEYS, impl_key="layer")  # TrainConfig(layer="pyg", first_seed=3) still works, warned
@dataclass
class TrainConfig:
    """Every hyper-parameter of one node-classification experiment (defaults: Kipf & Welling's).

    Each field declares its range (:func:`gnnhw.checks.bounded`); :meth:`validate` enforces them and
    refuses sizes whose estimated memory (:func:`gcn_training_bytes`) exceeds the machine's.

    >>> TrainConfig(dataset="cora", seeds=3).validate().dataset
    'Cora'
    >>> TrainConfig(lr=0.0).validate()
    Traceback (most recent call last):
    ...
    gnnhw.errors.ConfigError: lr must be a positive number, got 0.0
    """

    dataset: str = bounded("Cora", why="Cora, CiteSeer, PubMed (public split) or sbm:NODES:EDGES[:CLASSES]")
    impl: str = bounded("scratch", choices=IMPLS, why=IMPL_WHY)  # gnnhw's GCNLayer or PyG's GCNConv
    variant: str = bounded("plain", choices=VARIANTS, why="Kipf's GCN, or a remedy against over-smoothing")
    hidden_channels: int = bounded(16, **_HIDDEN)  # width of every hidden layer
    num_layers: int = bounded(2, min=1, max=_LAYERS_MAX, why="graph convolutions; deeper only over-smooths")
    dropout: float = bounded(0.5, **_DROPOUT)  # on the input features and every hidden layer
    lr: float = bounded(0.01, **LR)  # Adam learning rate
    weight_decay: float = bounded(5e-4, **_WD)  # L2 on the first layer's parameters (Kipf; PyG's examples/gcn.py)
    epochs: int = bounded(200, **_EPOCHS)
    normalize_features: bool = True  # row-normalize X (PyG's NormalizeFeatures)
    sparse_features: bool = True  # keep X sparse, dropout on its stored values (Kipf's fast path)
    seeds: int = bounded(1, **_SEEDS)  # runs with seeds seed, seed + 1, ..., seed + seeds - 1
    seed: int = bounded(0, **SEED)  # the first run's seed

    def __post_init__(self) -> None:
        from gnnhw._renames import impl_value

        self.impl = impl_value(self.impl, "TrainConfig")  # the old layer values: "pyg" is now "reference"

    def validate(self, labels: Mapping[str, str] | None = None) -> TrainConfig:
        """Check every field and the memory the run needs; return ``self`` with the data set's canonical name.

        ``labels`` maps field names to the CLI options they came from (say ``{"hidden_channels": "--hidden-channels"}``)
        so that errors name what the user typed. Raises :class:`ConfigError` (one line: the field, the value,
        the range and why).
        """
        labels = labels or {}
        self.dataset = canonical_dataset(self.dataset)
        _check_positive_fields(self, labels, ("hidden_channels", "num_layers", "epochs", "seeds"))
        if isinstance(self.dropout, (int, float)) and not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{labels.get('dropout', 'dropout')} must be in [0, 1), got {self.dropout!r}")
        if isinstance(self.lr, (int, float)) and not self.lr > 0.0:
            raise ConfigError(f"{labels.get('lr', 'lr')} must be a positive number, got {self.lr!r}")
        if isinstance(self.weight_decay, (int, float)) and not self.weight_decay >= 0.0:
            raise ConfigError(
                f"{labels.get('weight_decay', 'weight_decay')} must be a non-negative number, got {self.weight_decay!r}"
            )
        check_config(self, labels)  # types, finiteness and the declared ranges
        check_seed_span(self.seed, self.seeds, labels.get("seed", "seed"))
        self.check_memory()
        return self

    def check_memory(self, size: PlanetoidSize | None = None) -> None:
        """Refuse (:class:`ConfigError`) a model whose training would need more memory than the machine has.

        ``size``: the data set's sizes (default: :func:`dataset_size` of ``self.dataset``).
        """
        size = size or dataset_size(self.dataset)
        estimate = gcn_training_bytes(
            size.nodes, size.features, size.classes, size.edges, self.hidden_channels, self.num_layers
        )
        if is_sbm(self.dataset):  # the graph is drawn in this process first
            estimate += generation_bytes(parse_sbm(self.dataset))
        check_memory(
            estimate,
            f"training a {self.num_layers}-layer GCN with {self.hidden_channels} hidden channels on "
            f"{self.dataset} ({size.nodes} nodes)",
            "use fewer layers or hidden channels" + (", or a smaller graph" if is_sbm(self.dataset) else ""),
        )


def _check_positive_fields(config: Any, labels: Mapping[str, str], names: tuple[str, ...]) -> None:
    for name in names:
        check_positive_int(labels.get(name, name), getattr(config, name))


def upgrade_config_dict(values: Any) -> Any:
    """A config dict read from a file with its old keys (:data:`OLD_CONFIG_KEYS`) and old ``impl`` values
    translated, so files written by earlier versions still load. Anything that is not a dict is returned as is
    (for the caller's schema check to refuse).

    >>> upgrade_config_dict({"layer": "pyg", "first_seed": 3, "epochs": 5})
    {'epochs': 5, 'impl': 'reference', 'seed': 3}
    """
    from gnnhw._renames import upgraded_keys

    if not isinstance(values, dict):
        return values
    return upgraded_keys(values, OLD_CONFIG_KEYS, impl_key="layer")


@accept_renamed({"first_seed": "seed"})  # DepthConfig(first_seed=3) still works, warned
@dataclass
class DepthConfig:
    """Hyper-parameters of the depth study (Kipf's recipe, wider hidden layers); ranges as :class:`TrainConfig`.

    >>> DepthConfig(depths=(1, 2), variants=("plain", "jk"), seeds=1).validate().depths
    (1, 2)
    """

    dataset: str = bounded("Cora", why="Cora, CiteSeer, PubMed (public split) or sbm:NODES:EDGES[:CLASSES]")
    depths: tuple[int, ...] = (1, 2, 4, 6, 8)  # numbers of graph convolutions to train, each in [1, 1024]
    variants: tuple[str, ...] = VARIANTS  # plain and the remedies
    hidden_channels: int = bounded(64, **_HIDDEN)
    dropout: float = bounded(0.5, **_DROPOUT)  # before every convolution
    lr: float = bounded(0.01, **LR)  # Adam learning rate
    weight_decay: float = bounded(5e-4, **_WD)  # L2 on the first layer only, as in the Kipf recipe
    epochs: int = bounded(200, **_EPOCHS)  # per run
    seeds: int = bounded(3, **_SEEDS)  # runs per (variant, depth), seeds seed, seed + 1, ...
    seed: int = bounded(0, **SEED)  # the first run's seed

    def validate(self, labels: Mapping[str, str] | None = None) -> DepthConfig:
        """Check every field (raises :class:`ConfigError`, naming ``labels``' options); return ``self``."""
        labels = labels or {}
        self.dataset = canonical_dataset(self.dataset)
        depths, variants = self.depths, self.variants
        if not isinstance(depths, (tuple, list)) or not depths:
            raise ConfigError(f"depths must be positive integers, got {depths!r:.80}")
        if any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in depths):
            raise ConfigError(f"depths must be positive integers, got {tuple(depths)!r:.80}")
        for i, depth in enumerate(depths):
            check_value(f"{labels.get('depths', 'depths')}[{i}]", depth, int, {"min": 1, "max": _LAYERS_MAX})
        if not isinstance(variants, (tuple, list)):
            raise ConfigError(f"variants must be a sequence of names, got {variants!r:.80}")
        bad = [v for v in variants if v not in VARIANTS]
        if not variants or bad:
            raise ConfigError(f"unknown variant(s) {bad or variants!r}; expected some of {', '.join(VARIANTS)}")
        self.depths = tuple(unique(labels.get("depths", "depths"), list(depths)))
        self.variants = tuple(unique(labels.get("variants", "variants"), list(variants)))
        self.train_config(max(self.depths)).validate(labels)  # every shared field, and memory at the deepest
        check_config(self, labels, skip=("depths", "variants"))  # those: element by element above
        return self

    def train_config(self, num_layers: int, variant: str = "plain") -> TrainConfig:
        """The :class:`TrainConfig` of one (variant, depth) cell: this study's shared fields, scratch layers."""
        shared = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("depths", "variants")
        }
        return TrainConfig(impl="scratch", variant=variant, num_layers=num_layers, **shared)
