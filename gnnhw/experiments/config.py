"""The settings of :mod:`gnnhw.experiments.gnn_vs_rnn`, free of torch so the CLI checks them before importing it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from gnnhw.checks import unique
from gnnhw.errors import ConfigError
from gnnhw.recurrent.config import NUM_DIGITS

RECURRENT_MODELS = ("rnn", "lstm")
MAX_LENGTH = 200  # a path of T nodes and a GCN of up to MAX_DEPTH layers; beyond, a run takes hours on a CPU
MAX_DEPTH = 256
MAX_ACTIVATIONS = 500_000_000  # GCN values kept for backward per step (B * T nodes x width x layers): 2 GB float32


@dataclass
class GNNvsRNNConfig:
    """Settings of the comparison; the recurrent nets use the assignment's hyper-parameters."""

    lengths: tuple[int, ...] = (5, 7, 10)  # palindrome lengths T
    depths: tuple[int, ...] = (1, 2, 4, 6, 8, 12)  # GCN depths k (graph convolutions)
    seeds: tuple[int, ...] = (0, 1)  # one run per seed of every model; a seed fixes weights and data
    steps: int = 1000  # training steps of every run (fewer after an early stop)
    models: tuple[str, ...] = RECURRENT_MODELS  # recurrent nets to compare with (gnnhw.recurrent.train)
    batch_size: int = 128  # palindromes per step, for every model
    test_size: int = 1000  # fresh test palindromes, the same for every model of a seed
    early_stop_accuracy: float | None = 0.99  # stop once the last 50 training batches average this (None: never)
    gcn_hidden_channels: int = 64  # width of the GCN's hidden layers
    gcn_learning_rate: float = 3e-3  # Adam step size of the GCN
    rnn_hidden_size: int = 128  # hidden units of the RNN / LSTM (the assignment's)
    rnn_learning_rate: float = 1e-3  # Adam step size of the RNN / LSTM (the assignment's)
    max_norm: float = 10.0  # gradient-norm clipping, every model

    def validate(self) -> GNNvsRNNConfig:
        """Check every field (raises :class:`ConfigError` naming the first bad one); return ``self``."""
        for name, values, low, high in (
            ("lengths", self.lengths, 2, MAX_LENGTH),
            ("depths", self.depths, 1, MAX_DEPTH),
            ("seeds", self.seeds, 0, 2**31 - 1),
        ):
            values = tuple(values)
            if not values or any(isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high for v in values):
                raise ConfigError(f"{name} must be one or more integers in {low}..{high}, got {list(values)!r}")
            setattr(self, name, tuple(unique(name, list(values))))  # a repeat would count one run twice
        self.models = tuple(unique("models", list(self.models)))
        bad = [m for m in self.models if m not in RECURRENT_MODELS]
        if bad:
            raise ConfigError(f"unknown model(s) {bad!r}; expected some of {', '.join(RECURRENT_MODELS)}")
        for name, high in (
            ("steps", 10_000_000),
            ("batch_size", 100_000),
            ("test_size", 10_000_000),
            ("gcn_hidden_channels", 65_536),
            ("rnn_hidden_size", 65_536),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise ConfigError(f"{name} must be an integer in 1..{high}, got {value!r}")
        for name in ("gcn_learning_rate", "rnn_learning_rate", "max_norm"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")
        longest, deepest = max(self.lengths), max(self.depths)
        activations = self.batch_size * longest * (self.gcn_hidden_channels + NUM_DIGITS + longest) * (deepest + 1)
        if activations > MAX_ACTIVATIONS:
            raise ConfigError(
                f"a GCN step would keep about {activations:,} values (batch_size {self.batch_size} x length {longest} "
                f"x width x {deepest} layers), more than {MAX_ACTIVATIONS:,}; use a smaller batch, length, depth "
                "or gcn_hidden_channels"
            )
        acc = self.early_stop_accuracy
        if acc is not None and (isinstance(acc, bool) or not isinstance(acc, int | float) or not 0 < acc <= 1):
            raise ConfigError(f"early_stop_accuracy must be in (0, 1] or None, got {acc!r}")
        return self
