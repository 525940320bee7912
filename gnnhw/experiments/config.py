"""The settings of :mod:`gnnhw.experiments.gnn_vs_rnn`, free of torch so the CLI checks them before importing it.

Each field declares its range beside it (:func:`gnnhw.checks.bounded`); :meth:`GNNvsRNNConfig.validate` enforces
them with :func:`gnnhw.checks.check_config`, like every other config of gnnhw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gnnhw._renames import accept_renamed
from gnnhw.checks import LR, SEED, Range, bounded, check_config, check_value, unique
from gnnhw.errors import ConfigError
from gnnhw.recurrent.config import NUM_DIGITS

RECURRENT_MODELS = ("rnn", "lstm")
MAX_LENGTH = 200  # a path of T nodes and a GCN of up to MAX_DEPTH layers; beyond, a run takes hours on a CPU
MAX_DEPTH = 256
MAX_ACTIVATIONS = 500_000_000  # GCN values kept for backward per step (B * T nodes x width x layers): 2 GB float32

_LENGTH: Range = {"min": 2, "max": MAX_LENGTH, "why": "palindrome lengths T; longer runs take hours on a CPU"}
_DEPTH: Range = {"min": 1, "max": MAX_DEPTH, "why": "GCN depths k (graph convolutions)"}
_WIDTH: Range = {"min": 1, "max": 65_536, "why": "units per hidden layer"}


@accept_renamed({"gcn_learning_rate": "gcn_lr", "rnn_learning_rate": "rnn_lr"})  # the old keywords, warned
@dataclass
class GNNvsRNNConfig:
    """Settings of the comparison; the recurrent nets use the assignment's hyper-parameters.

    Every model runs ``seeds`` times, with seeds ``seed, seed + 1, ..., seed + seeds - 1``; a seed fixes the
    weights and the data.

    >>> GNNvsRNNConfig(lengths=(5,), depths=(2, 4), seeds=2).validate().depths
    (2, 4)
    >>> GNNvsRNNConfig(gcn_lr=100.0).validate()
    Traceback (most recent call last):
    ...
    gnnhw.errors.ConfigError: gcn_lr must be in (0, 10] (optimizer step size; larger steps only diverge), got 100
    """

    lengths: tuple[int, ...] = (5, 7, 10)  # palindrome lengths T, each in [2, MAX_LENGTH]
    depths: tuple[int, ...] = (1, 2, 4, 6, 8, 12)  # GCN depths k (graph convolutions), each in [1, MAX_DEPTH]
    seeds: int = bounded(2, min=1, max=10_000, why="runs of every model, with seeds seed, seed + 1, ...")
    seed: int = bounded(0, **SEED)  # the first run's seed
    steps: int = bounded(1000, min=1, max=10_000_000, why="training steps of every run (fewer after an early stop)")
    models: tuple[str, ...] = RECURRENT_MODELS  # recurrent nets to compare with (gnnhw.recurrent.train)
    batch_size: int = bounded(128, min=1, max=100_000, why="palindromes per step, for every model")
    test_size: int = bounded(1000, min=1, max=10_000_000, why="fresh test palindromes, the same for every model")
    early_stop_accuracy: float | None = bounded(
        0.99, min=0, min_open=True, max=1, why="stop once the last 50 training batches average this (None: never)"
    )
    gcn_hidden_channels: int = bounded(64, **_WIDTH)  # width of the GCN's hidden layers
    gcn_lr: float = bounded(3e-3, **LR)  # Adam step size of the GCN
    rnn_hidden_size: int = bounded(128, **_WIDTH)  # hidden units of the RNN / LSTM (the assignment's)
    rnn_lr: float = bounded(1e-3, **LR)  # Adam step size of the RNN / LSTM (the assignment's)
    max_norm: float = bounded(10.0, min=0, min_open=True, why="gradient-norm clipping, every model")

    def validate(self, labels: Mapping[str, str] | None = None) -> GNNvsRNNConfig:
        """Check every field (raises :class:`ConfigError` naming the first bad one, or the CLI option of ``labels``
        it came from); return ``self``."""
        labels = labels or {}
        for name, meta in (("lengths", _LENGTH), ("depths", _DEPTH)):
            label = labels.get(name, name)
            values = getattr(self, name)
            if not isinstance(values, (tuple, list)) or not values:
                raise ConfigError(f"{label} must be one or more integers, got {values!r:.80}")
            for i, value in enumerate(values):
                check_value(f"{label}[{i}]", value, int, meta)
            setattr(self, name, tuple(unique(label, list(values))))  # a repeat would count one run twice
        self.models = tuple(unique(labels.get("models", "models"), list(self.models)))
        bad = [m for m in self.models if m not in RECURRENT_MODELS]
        if bad or not self.models:
            raise ConfigError(f"unknown model(s) {bad!r}; expected some of {', '.join(RECURRENT_MODELS)}")
        check_config(self, labels, skip=("lengths", "depths", "models"))  # those: element by element above
        from gnnhw.graph.config import check_seed_span

        check_seed_span(self.seed, self.seeds, labels.get("seed", "seed"))
        longest, deepest = max(self.lengths), max(self.depths)
        activations = self.batch_size * longest * (self.gcn_hidden_channels + NUM_DIGITS + longest) * (deepest + 1)
        if activations > MAX_ACTIVATIONS:
            raise ConfigError(
                f"a GCN step would keep about {activations:,} values (batch_size {self.batch_size} x length {longest} "
                f"x width x {deepest} layers), more than {MAX_ACTIVATIONS:,}; use a smaller batch, length, depth "
                "or gcn_hidden_channels"
            )
        return self

    def seed_list(self) -> list[int]:
        """The seeds of the runs: ``[seed, seed + 1, ..., seed + seeds - 1]``."""
        return list(range(self.seed, self.seed + self.seeds))


BPTT_MODELS = ("rnn", "lstm")


@dataclass
class BPTTConfig:
    """Settings of ``gnnhw bptt`` (:func:`gnnhw.recurrent.bptt.check_bptt`, whose defaults and limits these are:
    a test holds them equal).

    >>> BPTTConfig(model="lstm", length=30).validate().length
    30
    """

    model: str = bounded("rnn", choices=BPTT_MODELS, why="rnn: the vanilla RNN; lstm: the LSTM")
    length: int = bounded(20, min=1, max=10_000, why="time steps T the model reads; a Python loop per step")
    hidden_size: int = bounded(16, min=1, max=4096, why="hidden units")
    batch_size: int = bounded(8, min=1, max=100_000, why="sequences in the batch")
    seed: int = bounded(0, min=0, max=2**63 - 1, why="seed of the weights and the digits (torch's range)")
    forget_bias: float = bounded(
        0.0, min=-100, max=100, why="LSTM only: added to the forget gates' bias; 0 is torch's initialisation"
    )

    def validate(self, labels: Mapping[str, str] | None = None) -> BPTTConfig:
        """Check every field (:class:`ConfigError` naming the field, or its CLI option in ``labels``); ``self``."""
        check_config(self, labels)
        return self
