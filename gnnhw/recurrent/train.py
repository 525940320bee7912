"""Training a recurrent classifier on palindromes: one config, one loop, one result.

Every step draws a fresh batch of palindromes from the training generator, takes the cross-entropy of
the last digit, clips the gradient norm and updates the weights. At the end the model is scored on a test
set of fresh palindromes drawn from an independent generator
(:func:`gnnhw.recurrent.palindrome.train_test_generators`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from gnnhw._utils import resolve_device
from gnnhw.checks import SEED_MAX, SEED_WHY, bounded, check_config, check_memory, check_training_finite
from gnnhw.errors import ConfigError
from gnnhw.recurrent.models import MODELS, TorchRecurrentClassifier, build_model
from gnnhw.recurrent.palindrome import INPUT_DIMS, NUM_DIGITS, palindrome_batch, train_test_generators

OPTIMIZERS = ("adam", "rmsprop", "sgd", "sgd-momentum")
BACKENDS = ("gnnhw", "torch")


@dataclass
class PalindromeConfig:
    """Hyper-parameters of one training run; the defaults are the assignment's.

    Each field declares its valid range beside its default (:func:`gnnhw.checks.bounded`: min, max, why);
    :meth:`validate` enforces them, and the CLI builds the same checks from them.
    """

    model: str = bounded("lstm", choices=tuple(sorted(MODELS)), why="VanillaRNN or LSTM")
    length: int = bounded(10, min=2, max=10_000, why="T-1 input digits and 1 target; longer unrolls take hours")
    input_dim: int = bounded(NUM_DIGITS, choices=INPUT_DIMS, why="10: one-hot digits; 1: raw digit values")
    num_hidden: int = bounded(128, min=1, max=65_536, why="hidden units n")
    forget_bias: float = bounded(1.0, min=-100, max=100, why="LSTM only: added to b_f; sigmoid saturates beyond")
    batch_size: int = bounded(128, min=1, max=1_000_000, why="palindromes per training step")
    learning_rate: float = bounded(
        1e-3, min=0, min_open=True, max=10.0, why="optimizer step size; larger steps only diverge"
    )
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
    backend: str = bounded("gnnhw", choices=BACKENDS, why="gnnhw: from scratch; torch: torch.nn.RNN/LSTM")
    device: str = "cpu"  # "cpu", "cuda" or "auto"

    def validate(self, labels: Mapping[str, str] | None = None) -> None:
        """Raise :class:`ConfigError` naming the first bad field (``labels``: field -> CLI option name), or
        when the run would need more memory than the machine has (:meth:`memory_estimate`)."""
        check_config(self, labels)
        hidden = (labels or {}).get("num_hidden", "num_hidden")
        check_memory(
            self.memory_estimate(),
            f"training a {self.model} of {self.num_hidden} hidden units on batches of {self.batch_size} "
            f"palindromes of length {self.length}",
            f"use a smaller {hidden}, batch size or length",
        )

    def memory_estimate(self) -> int:
        """A lower bound on the bytes training needs: the weights with their gradients and two optimizer
        moments (4 float32 copies), plus the activations kept for backpropagation through time
        (B x (T-1) x n x (gates + 2) float32)."""
        gates = 4 if self.model == "lstm" else 1
        params = gates * self.num_hidden * (self.input_dim + self.num_hidden + 2) + self.num_hidden * NUM_DIGITS
        activations = self.batch_size * (self.length - 1) * self.num_hidden * (gates + 2)
        return 4 * (4 * params + activations)


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
    run = f"{config.model} T={config.length} seed={config.seed}, {config.optimizer} lr {config.learning_rate:g}"
    fix = "lower the learning rate or the clipping norm"  # no accuracy is reported for a diverged model
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

        loss_value = loss.item()
        check_training_finite(step, loss_value, run=run, fix=fix)
        accuracy = (logits.detach().argmax(-1) == y).float().mean().item()
        loss_sum += loss_value
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

    check_training_finite(result.steps, parameters=model.parameters(), run=run, fix=fix)
    model.eval()
    result.test_accuracy = evaluate(model, config.length, config.test_size, test_gen, config.input_dim)
    result.seconds = time.perf_counter() - start
    result.model = model
    return result
