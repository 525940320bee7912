"""Training a recurrent classifier on palindromes: one config, one loop, one result.

Every step draws a fresh batch of palindromes from the training generator, takes the cross-entropy of
the last digit, clips the gradient norm and updates the weights. At the end the model is scored on a test
set of fresh palindromes drawn from an independent generator
(:func:`gnnhw.recurrent.palindrome.train_test_generators`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from gnnhw._utils import resolve_device
from gnnhw.errors import ConfigError, check_positive_int
from gnnhw.recurrent.models import MODELS, TorchRecurrentClassifier, build_model
from gnnhw.recurrent.palindrome import INPUT_DIMS, NUM_DIGITS, check_length, palindrome_batch, train_test_generators

OPTIMIZERS = ("adam", "rmsprop", "sgd", "sgd-momentum")
BACKENDS = ("gnnhw", "torch")


@dataclass
class PalindromeConfig:
    """Hyper-parameters of one training run; the defaults are the assignment's."""

    model: str = "lstm"  # "rnn" (VanillaRNN) or "lstm" (LSTM)
    length: int = 10  # palindrome length T: the model reads T-1 digits and predicts the last
    input_dim: int = NUM_DIGITS  # 10: one-hot digits; 1: raw digit values (the course skeleton)
    num_hidden: int = 128  # hidden units n
    forget_bias: float = 1.0  # LSTM only: added to b_f at initialisation (0: torch's init; see README)
    batch_size: int = 128  # palindromes per training step
    learning_rate: float = 1e-3  # step size of the optimizer
    train_steps: int = 10_000  # maximum number of training steps
    max_norm: float = 10.0  # clip the global gradient norm to this value
    optimizer: str = "adam"  # "adam", "rmsprop", "sgd" or "sgd-momentum"
    momentum: float = 0.9  # momentum of "sgd-momentum" (unused by the others)
    early_stop_accuracy: float | None = None  # stop once the training accuracy of the last
    early_stop_window: int = 50  # ... this many batches averages at least early_stop_accuracy (None: never)
    test_size: int = 1000  # fresh test palindromes
    log_every: int = 10  # record the training loss/accuracy every this many steps
    seed: int = 0  # seeds the weights, the training batches and (independently) the test set
    backend: str = "gnnhw"  # "gnnhw": the from-scratch model; "torch": the same model on torch.nn.RNN/LSTM
    device: str = "cpu"  # "cpu", "cuda" or "auto"

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad field."""
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; expected one of {', '.join(sorted(MODELS))}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r}; expected one of {', '.join(BACKENDS)}")
        check_length(self.length)
        if self.input_dim not in INPUT_DIMS:
            raise ConfigError(f"input_dim must be 10 (one-hot) or 1 (raw digits), got {self.input_dim!r}")
        for name in ("num_hidden", "batch_size", "train_steps", "early_stop_window", "test_size", "log_every"):
            check_positive_int(name, getattr(self, name))
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        for name in ("learning_rate", "max_norm"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")
        if not isinstance(self.forget_bias, int | float) or not math.isfinite(self.forget_bias):
            raise ConfigError(f"forget_bias must be a finite number, got {self.forget_bias!r}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if self.early_stop_accuracy is not None and not 0 < self.early_stop_accuracy <= 1:
            raise ConfigError(f"early_stop_accuracy must be in (0, 1] or None, got {self.early_stop_accuracy!r}")


@dataclass
class PalindromeResult:
    """What one training run measured. ``model`` is the trained model (left out of :meth:`to_dict`)."""

    config: PalindromeConfig
    test_accuracy: float  # accuracy on config.test_size fresh palindromes
    steps: int  # training steps actually taken (fewer than config.train_steps after an early stop)
    seconds: float  # wall time of training and testing
    stopped_early: bool
    curve_steps: list[int] = field(default_factory=list)  # the step of each logged point
    train_loss: list[float] = field(default_factory=list)  # mean batch loss since the previous point
    train_accuracy: list[float] = field(default_factory=list)  # mean batch accuracy since the previous point
    model: nn.Module | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the config's fields first-level under "config", the curves as lists."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("model", "config")}
        out["config"] = dataclasses.asdict(self.config)
        return out


def make_optimizer(name: str, params: Any, lr: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    """``adam``, ``rmsprop``, ``sgd`` (plain) or ``sgd-momentum`` (heavy-ball, ``momentum``) over ``params``."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "sgd-momentum":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    raise ConfigError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")


@torch.no_grad()
def evaluate(model: nn.Module, length: int, num: int, generator: torch.Generator, input_dim: int = NUM_DIGITS) -> float:
    """Accuracy of ``model`` on ``num`` palindromes drawn from ``generator`` (in chunks of 1000)."""
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, num, 1000):
        x, y = palindrome_batch(length, min(1000, num - start), generator, input_dim)
        correct += int((model(x.to(device)).argmax(-1) == y.to(device)).sum())
    return correct / num


def build(config: PalindromeConfig) -> nn.Module:
    """The config's untrained model, its weights drawn from ``torch.manual_seed(config.seed)``.

    With ``backend="torch"`` it is the same model, with the same initial weights, on ``torch.nn.RNN`` /
    ``torch.nn.LSTM`` (:class:`TorchRecurrentClassifier`): a reference run for the from-scratch one.
    """
    config.validate()
    torch.manual_seed(config.seed)
    model = build_model(config.model, config.input_dim, config.num_hidden, NUM_DIGITS, config.forget_bias)
    return TorchRecurrentClassifier.from_scratch(model) if config.backend == "torch" else model


def train(config: PalindromeConfig, progress: bool = False) -> PalindromeResult:
    """Train ``config.model`` on palindromes of ``config.length`` and score it on fresh ones."""
    config.validate()
    device = resolve_device(config.device)
    start = time.perf_counter()
    model = build(config).to(device)
    train_gen, test_gen = train_test_generators(config.seed)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.learning_rate, config.momentum)

    result = PalindromeResult(config, test_accuracy=float("nan"), steps=0, seconds=0.0, stopped_early=False)
    recent: list[float] = []  # accuracies of the last early_stop_window batches
    loss_sum = acc_sum = 0.0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.train_steps, desc=f"{config.model} T={config.length}", leave=False)
    model.train()
    for step in range(1, config.train_steps + 1):
        x, y = palindrome_batch(config.length, config.batch_size, train_gen, config.input_dim)
        x, y = x.to(device), y.to(device)
        logits = model(x)  # (B, 10)
        loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config.max_norm)
        optimizer.step()

        accuracy = (logits.detach().argmax(-1) == y).float().mean().item()
        loss_sum += loss.item()
        acc_sum += accuracy
        recent.append(accuracy)
        if len(recent) > config.early_stop_window:
            recent.pop(0)
        if step % config.log_every == 0 or step == config.train_steps:
            count = step - (result.curve_steps[-1] if result.curve_steps else 0)
            result.curve_steps.append(step)
            result.train_loss.append(loss_sum / count)
            result.train_accuracy.append(acc_sum / count)
            loss_sum = acc_sum = 0.0
            if bar is not None:
                bar.set_postfix(loss=f"{result.train_loss[-1]:.3f}", acc=f"{result.train_accuracy[-1]:.3f}")
        if bar is not None:
            bar.update(1)
        result.steps = step
        if (
            config.early_stop_accuracy is not None
            and len(recent) == config.early_stop_window
            and sum(recent) / len(recent) >= config.early_stop_accuracy
        ):
            result.stopped_early = step < config.train_steps
            break
    if bar is not None:
        bar.close()
    if result.curve_steps and result.curve_steps[-1] != result.steps:  # the tail since the last point
        count = result.steps - result.curve_steps[-1]
        result.curve_steps.append(result.steps)
        result.train_loss.append(loss_sum / count)
        result.train_accuracy.append(acc_sum / count)
    elif not result.curve_steps:
        result.curve_steps.append(result.steps)
        result.train_loss.append(loss_sum / result.steps)
        result.train_accuracy.append(acc_sum / result.steps)

    model.eval()
    result.test_accuracy = evaluate(model, config.length, config.test_size, test_gen, config.input_dim)
    result.seconds = time.perf_counter() - start
    result.model = model
    return result
