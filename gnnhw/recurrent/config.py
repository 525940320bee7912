"""The configs of the recurrent experiments, with every field's valid range declared beside its default.

Kept free of torch, so that the CLI checks its options (and refuses a bad one in one line) before it imports
torch: :class:`PalindromeConfig` (palindrome training), :class:`TextTrainConfig` (text generation),
:class:`SampleConfig` and :class:`BaselineConfig` (the defaults of ``textgen sample`` / ``textgen baselines``)
and the bounds of sampling. :mod:`gnnhw.recurrent.train`, :mod:`gnnhw.recurrent.train_text` and
:mod:`gnnhw.recurrent.sampling` re-export them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gnnhw._renames import IMPLS, accept_renamed, impl_value, renamed_keys, upgraded_keys, warn_renamed
from gnnhw.checks import (
    SEED_MAX,
    SEED_WHY,
    bounded,
    check_config,
    check_memory,
    check_value,
    config_from_dict,
)
from gnnhw.errors import ConfigError

MODEL_NAMES = ("lstm", "rnn")  # the keys of gnnhw.recurrent.models.MODELS (a test keeps them equal)
OPTIMIZERS = ("adam", "rmsprop", "sgd", "sgd-momentum")
BATCHINGS = ("random", "sequential")  # how text training draws its batches (gnnhw.recurrent.train_text)
NUM_DIGITS = 10
INPUT_SIZES = (1, NUM_DIGITS)  # raw digit values, or one-hot

SIZE_RENAMES = {"input_dim": "input_size", "num_hidden": "hidden_size"}
"""Old keywords of the palindrome models and data (before torch's vocabulary) -> the new ones."""
PALINDROME_RENAMES = {**SIZE_RENAMES, "learning_rate": "lr", "backend": "impl"}
"""Old field names of :class:`PalindromeConfig` -> the new ones."""

SWEEP_LENGTHS = (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)
"""The palindrome lengths ``palindrome-sweep`` trains on unless told otherwise."""
SWEEP_SEEDS = 3
"""How many seeds (runs) per (model, length) ``palindrome-sweep`` trains unless told otherwise."""
COMPARED_MODELS = ("rnn", "lstm")
"""The models ``palindrome-sweep`` and ``grads-over-time`` compare unless told otherwise."""
COMPARED_OPTIMIZERS = ("sgd", "sgd-momentum", "rmsprop", "adam")
"""The optimizers ``gnnhw optimizers`` compares unless told otherwise."""

TEXT_RENAMES = {"cell": "impl", "learning_rate": "lr"}
"""Old field names of :class:`TextTrainConfig` -> today's (``cell``'s values: "torch" -> "reference")."""

MAX_SAMPLE_LENGTH = 1_000_000
"""Most characters one sampling call generates: one model step each, 1.4-2.3 ms per character for 2 x 128
units on a busy CPU, so 20-40 minutes."""
MIN_TEMPERATURE = 1e-6
MAX_TEMPERATURE = 1e6


@accept_renamed(PALINDROME_RENAMES)
@dataclass
class PalindromeConfig:
    """Hyper-parameters of one training run; the defaults are the assignment's.

    Each field declares its valid range beside its default (:func:`gnnhw.checks.bounded`: min, max, why);
    :meth:`validate` enforces them; the CLI calls it (with its option names) before any work, and takes its
    options' defaults from here. The old keywords ``input_dim``, ``num_hidden``, ``learning_rate`` and
    ``backend`` (:data:`PALINDROME_RENAMES`) still work for one release, with a :class:`DeprecationWarning`.
    """

    model: str = bounded("lstm", choices=MODEL_NAMES, why="VanillaRNN or LSTM")
    length: int = bounded(10, min=2, max=10_000, why="T-1 input digits and 1 target; longer unrolls take hours")
    input_size: int = bounded(NUM_DIGITS, choices=INPUT_SIZES, why="10: one-hot digits; 1: raw digit values")
    hidden_size: int = bounded(128, min=1, max=65_536, why="hidden units H")
    forget_bias: float = bounded(1.0, min=-100, max=100, why="LSTM only: added to b_f; sigmoid saturates beyond")
    batch_size: int = bounded(128, min=1, max=1_000_000, why="palindromes per training step")
    lr: float = bounded(1e-3, min=0, min_open=True, max=10.0, why="learning rate; larger steps only diverge")
    train_steps: int = bounded(10_000, min=1, max=100_000_000, why="maximum number of training steps")
    max_norm: float = bounded(10.0, min=0, min_open=True, max=1e12, why="clip the global gradient norm to this")
    optimizer: str = bounded("adam", choices=OPTIMIZERS, why="the update rule")
    momentum: float = bounded(0.9, min=0, max=1, max_open=True, why='momentum of "sgd-momentum"')
    early_stop_accuracy: float | None = bounded(  # stop once the training accuracy of the last
        None, min=0, min_open=True, max=1, why="training accuracy to stop at (None: never)"
    )
    early_stop_window: int = bounded(50, min=1, max=1_000_000, why="... this many batches averages it")
    test_size: int = bounded(1000, min=1, max=100_000_000, why="fresh test palindromes")
    log_every: int = bounded(10, min=1, max=100_000_000, why="steps between logged loss/accuracy points")
    seed: int = bounded(0, min=0, max=SEED_MAX, why=SEED_WHY + "; the test set uses 2*seed+1")
    impl: str = bounded("scratch", choices=IMPLS, why="scratch: gnnhw's own cells; reference: torch.nn.RNN/LSTM")
    device: str = "cpu"  # "cpu", "cuda" or "auto"

    def __post_init__(self) -> None:
        self.impl = impl_value(self.impl, type(self).__name__)  # "gnnhw" / "torch": the old values

    def validate(self, labels: Mapping[str, str] | None = None) -> None:
        """Raise :class:`ConfigError` naming the first bad field (``labels``: field -> CLI option name), or
        when the run would need more memory than the machine has (:meth:`memory_estimate`)."""
        check_config(self, labels)
        hidden = (labels or {}).get("hidden_size", "hidden_size")
        check_memory(
            self.memory_estimate(),
            f"training a {self.model} of {self.hidden_size} hidden units on batches of {self.batch_size} "
            f"palindromes of length {self.length}",
            f"use a smaller {hidden}, batch size or length",
        )

    def memory_estimate(self) -> int:
        """A lower bound on the bytes training needs: the weights with their gradients and two optimizer
        moments (4 float32 copies), plus the activations kept for backpropagation through time
        (B x (T-1) x H x (gates + 2) float32)."""
        gates = 4 if self.model == "lstm" else 1
        params = gates * self.hidden_size * (self.input_size + self.hidden_size + 2) + self.hidden_size * NUM_DIGITS
        activations = self.batch_size * (self.length - 1) * self.hidden_size * (gates + 2)
        return 4 * (4 * params + activations)


def palindrome_fields_from_file(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (config fields read from a results file) with the old field names and ``impl`` values of
    files written before the rename (``num_hidden``, ``backend: "gnnhw"``, ...) translated to the new ones.

    Silent: the file is not something the user typed. A file holding both an old and a new name keeps the new.
    """
    return upgraded_keys(values, PALINDROME_RENAMES, impl_key="backend")


def sweep_seeds(first: int, seeds: int | Sequence[int], name: str = "seeds") -> list[int]:
    """The seeds of ``seeds`` runs starting at ``first``: ``first, first + 1, ..., first + seeds - 1``.

    ``seeds`` is a count (gnnhw's one meaning of ``seeds``). A list of seeds, the old meaning, is still taken
    as it is for one release, with a :class:`DeprecationWarning`. :class:`ConfigError` (naming ``name``) for a
    count below 1.

    >>> sweep_seeds(5, 3)
    [5, 6, 7]
    """
    if not isinstance(seeds, Sequence):
        check_value(name, seeds, int, {"min": 1, "max": 1_000_000, "why": "runs per (model, length)"})
        return list(range(first, first + seeds))
    warn_renamed("seeds=[s1, s2, ...] (a list)", "seeds=N (a count, starting at the config's seed)", "run_sweep")
    return list(seeds)


def _preset(name: str, default: Any) -> Any:
    """A field of :class:`PalindromeConfig` with another default (same range and why): a command's own default."""
    spec = next(f for f in dataclasses.fields(PalindromeConfig) if f.name == name)
    return dataclasses.field(default=default, metadata=spec.metadata)


@accept_renamed(PALINDROME_RENAMES)
@dataclass
class SweepConfig(PalindromeConfig):
    """The defaults of ``gnnhw palindrome-sweep``: the assignment's, but stop once a run has learned the task."""

    early_stop_accuracy: float | None = _preset("early_stop_accuracy", 0.99)


@accept_renamed(PALINDROME_RENAMES)
@dataclass
class OptimizersConfig(PalindromeConfig):
    """The defaults of ``gnnhw optimizers``: the vanilla RNN (the README's experiment, Q1.4) for 2000 steps."""

    model: str = _preset("model", "rnn")
    train_steps: int = _preset("train_steps", 2000)


@accept_renamed(PALINDROME_RENAMES)
@dataclass
class GradientsConfig(PalindromeConfig):
    """The defaults of ``gnnhw grads-over-time``: palindromes of length 100, 1000 training steps (Q1.7)."""

    length: int = _preset("length", 100)
    train_steps: int = _preset("train_steps", 1000)


@dataclass
class ComparisonConfig:
    """What the palindrome comparisons vary, beside their training config (:class:`SweepConfig`,
    :class:`OptimizersConfig`, :class:`GradientsConfig`): the defaults and ranges of ``palindrome-sweep
    --models --lengths --seeds``, ``grads-over-time --models`` and ``optimizers --optimizers``. Each value is
    also checked as its training config's field before any work."""

    models: list[str] = bounded(
        default_factory=lambda: list(COMPARED_MODELS), choices=MODEL_NAMES, why="the models to compare"
    )
    lengths: list[int] = bounded(
        default_factory=lambda: list(SWEEP_LENGTHS), min=2, max=10_000, why="palindrome lengths T"
    )
    seeds: int = bounded(SWEEP_SEEDS, min=1, max=1_000_000, why="runs (seeds) per model and length")
    optimizers: list[str] = bounded(
        default_factory=lambda: list(COMPARED_OPTIMIZERS),
        choices=OPTIMIZERS,
        why="optimizers to compare (sgd-momentum: momentum 0.9)",
    )


@accept_renamed(TEXT_RENAMES, impl_key="cell")
@dataclass
class TextTrainConfig:
    """Everything that defines a text-generation run; the defaults are the assignment's.

    Each field declares its valid range beside its default (:func:`gnnhw.checks.bounded`: min, max, why); the
    constructor enforces them (:class:`ConfigError` naming the field), and refuses sizes whose estimated
    memory (:meth:`memory_estimate`) exceeds the machine's.
    """

    steps: int = bounded(5000, min=1, max=100_000_000, why="optimizer steps in total (a resume continues to it)")
    seq_length: int = bounded(30, min=1, max=100_000, why="characters per training sequence T")
    batch_size: int = bounded(64, min=1, max=1_000_000, why="windows per batch B")
    hidden_size: int = bounded(128, min=1, max=65_536, why="LSTM units per layer")
    num_layers: int = bounded(2, min=1, max=100, why="stacked LSTM layers; deeper stacks do not train")
    dropout: float = bounded(0.0, min=0.0, max=1.0, max_open=True, why="dropout between LSTM layers")
    impl: str = bounded("reference", choices=IMPLS, why="reference: torch.nn.LSTM; scratch: gnnhw's LSTMCell stack")
    lr: float = bounded(2e-3, min=0, min_open=True, max=10.0, why="Adam's learning rate; larger only diverges")
    max_norm: float = bounded(5.0, min=0, min_open=True, max=1e12, why="gradient clipping: global L2 norm")
    lr_decay: float = bounded(
        1.0, min=0, min_open=True, max=1.0, why="lr factor every lr_decay_every steps (1: constant)"
    )
    lr_decay_every: int = bounded(1000, min=1, max=100_000_000, why="steps between learning-rate decays")
    batching: str = bounded(
        "random", choices=BATCHINGS, why="random windows from a zero state, or B streams with the state carried"
    )
    strip_gutenberg: bool = bounded(True, why="drop Project Gutenberg's header and licence when marked")
    val_fraction: float = bounded(0.1, min=0.0, max=1.0, max_open=True, why="end of the text held out")
    eval_every: int = bounded(100, min=1, max=100_000_000, why="steps between evaluations")
    max_val_windows: int | None = bounded(None, min=1, why="cap on validation windows per evaluation")
    checkpoint_every: int = bounded(500, min=0, max=100_000_000, why="steps between checkpoints (0: end only)")
    sample_every: int = bounded(0, min=0, max=100_000_000, why="steps between logged samples (0: sample_at only)")
    sample_at: list[int] = bounded(default_factory=list, min=1, max=100_000_000, why="extra steps to log a sample")
    sample_length: int = bounded(30, min=1, max=100_000, why="characters per logged sample")
    seed: int = bounded(0, min=0, max=SEED_MAX, why=SEED_WHY)

    def __post_init__(self) -> None:
        self.validate()
        self.sample_at = sorted(set(self.sample_at))

    def validate(self, labels: Mapping[str, str] | None = None, vocab_size: int = 1) -> None:
        """Check every field (:class:`ConfigError` naming the first bad one; ``labels``: field -> CLI option),
        and that a model over ``vocab_size`` characters fits in the machine's memory."""
        check_config(self, labels)
        check_memory(
            self.memory_estimate(vocab_size),
            f"training {self.num_layers} LSTM layer(s) of {self.hidden_size} units on batches of "
            f"{self.batch_size} x {self.seq_length} characters",
            "use a smaller hidden size, number of layers, batch size or sequence length",
        )

    def memory_estimate(self, vocab_size: int = 1) -> int:
        """A lower bound on the bytes training needs: the weights with their gradients and Adam's two moments
        (4 float32 copies), plus the activations kept for backpropagation (B x T x (L x H x 6 + 2V))."""
        h, v = self.hidden_size, vocab_size
        params = 4 * h * (v + h + 2) + (self.num_layers - 1) * 4 * h * (2 * h + 2) + h * v + v
        activations = self.batch_size * self.seq_length * (self.num_layers * h * 6 + 2 * v)
        return 4 * (4 * params + activations)

    def lr_at(self, step: int) -> float:
        """lr_0 * decay^floor(step / decay_every) for the update that makes step ``step + 1``.

        >>> TextTrainConfig(lr=1e-2, lr_decay=0.5, lr_decay_every=10).lr_at(25)
        0.0025
        """
        return self.lr * self.lr_decay ** (step // self.lr_decay_every)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> TextTrainConfig:
        """The config stored in a checkpoint; every field is checked (:class:`ConfigError` naming ``source``
        and the field); fields missing from older files take their defaults. A config written by an older
        gnnhw, with ``cell`` ("torch" / "scratch") and ``learning_rate``, is read under today's names
        (:data:`TEXT_RENAMES`), so its checkpoint still loads, samples and resumes."""
        if isinstance(values, Mapping):
            values = renamed_keys(values, TEXT_RENAMES, impl_key="cell")
        return config_from_dict(cls, values, source)

    # ---- the old names, for one release (CHANGELOG.md)

    @property
    def learning_rate(self) -> float:
        """Deprecated: :attr:`lr`."""
        warn_renamed("TextTrainConfig.learning_rate", "TextTrainConfig.lr", "TextTrainConfig")
        return self.lr

    @property
    def cell(self) -> str:
        """Deprecated: :attr:`impl` in the old values ("torch" for "reference")."""
        warn_renamed("TextTrainConfig.cell", "TextTrainConfig.impl", "TextTrainConfig")
        return "torch" if self.impl == "reference" else self.impl

    def learning_rate_at(self, step: int) -> float:
        """Deprecated: :meth:`lr_at`."""
        warn_renamed("TextTrainConfig.learning_rate_at()", "TextTrainConfig.lr_at()", "TextTrainConfig")
        return self.lr_at(step)


MAX_NGRAM_ORDER = 8
"""Largest n of the n-gram baseline: counts of a 1.3 MB book take 0.5 GB at order 5 and 1.8 GB at order 8."""
PPMD_ORDERS = (2, 64)  # the orders pyppmd accepts


@dataclass
class BaselineConfig:
    """The defaults and ranges of ``gnnhw textgen baselines`` (:func:`gnnhw.recurrent.baselines.text_baselines`
    checks the values and says what is wrong)."""

    order: int = bounded(5, min=1, max=MAX_NGRAM_ORDER, why="n of the interpolated Kneser-Ney n-gram model")
    ppmd_order: int = bounded(8, min=PPMD_ORDERS[0], max=PPMD_ORDERS[1], why="PPMd's model order")


@dataclass
class EvaluateConfig:
    """The defaults and ranges of ``gnnhw textgen evaluate``: the part of the text read, ``[start, end)`` as
    fractions of its length (the CLI also refuses ``start >= end``)."""

    start: float = bounded(0.0, min=0.0, max=1.0, max_open=True, why="start of the part, as a fraction of the text")
    end: float = bounded(1.0, min=0.0, min_open=True, max=1.0, why="end of the part, as a fraction of the text")


@dataclass
class SampleConfig:
    """The defaults and ranges of ``gnnhw textgen sample`` (:mod:`gnnhw.recurrent.sampling` checks the values)."""

    length: int = bounded(30, min=0, max=MAX_SAMPLE_LENGTH, why="characters to generate after the prompt")


def check_sample_length(length: int) -> None:
    """ConfigError unless 0 <= ``length`` <= :data:`MAX_SAMPLE_LENGTH`."""
    check_value(
        "length", length, int, {"min": 0, "max": MAX_SAMPLE_LENGTH, "why": "characters per call; ask again for more"}
    )


def check_temperature(temperature: float) -> None:
    """ConfigError unless ``temperature`` is a finite number in [MIN_TEMPERATURE, MAX_TEMPERATURE]."""
    if isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature <= 0:
        raise ConfigError(f"temperature must be a positive number (T > 0; T -> 0 is greedy), got {temperature!r}")
    meta = {"min": MIN_TEMPERATURE, "max": MAX_TEMPERATURE, "why": "below, z / T overflows: use greedy decoding"}
    check_value("temperature", temperature, float, meta)
