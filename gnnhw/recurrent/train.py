"""Training a recurrent classifier on palindromes: one config, one loop, one result.

Every step draws a fresh batch of palindromes from the training generator, takes the cross-entropy of
the last digit, clips the gradient norm and updates the weights. At the end the model is scored on a test
set of fresh palindromes drawn from an independent generator
(:func:`gnnhw.recurrent.palindrome.train_test_generators`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from gnnhw._utils import resolve_device
from gnnhw.checks import check_training_finite
from gnnhw.errors import ConfigError
from gnnhw.recurrent.config import OPTIMIZERS, PalindromeConfig  # noqa: F401 - re-exported
from gnnhw.recurrent.models import TorchRecurrentClassifier, build_model
from gnnhw.recurrent.palindrome import NUM_DIGITS, palindrome_batch, train_test_generators


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
def evaluate(
    model: nn.Module, length: int, num: int, generator: torch.Generator, input_size: int = NUM_DIGITS
) -> float:
    """Accuracy of ``model`` on ``num`` palindromes drawn from ``generator`` (in chunks of 1000)."""
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, num, 1000):
        x, y = palindrome_batch(length, min(1000, num - start), generator, input_size)
        correct += int((model(x.to(device)).argmax(-1) == y.to(device)).sum())
    return correct / num


def build(config: PalindromeConfig) -> nn.Module:
    """The config's untrained model, its weights drawn from ``torch.manual_seed(config.seed)``.

    With ``impl="reference"`` it is the same model, with the same initial weights, on ``torch.nn.RNN`` /
    ``torch.nn.LSTM`` (:class:`TorchRecurrentClassifier`): a reference run for the from-scratch one.
    """
    config.validate()
    torch.manual_seed(config.seed)
    model = build_model(config.model, config.input_size, config.hidden_size, NUM_DIGITS, config.forget_bias)
    return TorchRecurrentClassifier.from_scratch(model) if config.impl == "reference" else model


def train(config: PalindromeConfig, progress: bool = False) -> PalindromeResult:
    """Train ``config.model`` on palindromes of ``config.length`` and score it on fresh ones."""
    config.validate()
    device = resolve_device(config.device)
    start = time.perf_counter()
    model = build(config).to(device)
    train_gen, test_gen = train_test_generators(config.seed)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, config.momentum)

    result = PalindromeResult(config, test_accuracy=float("nan"), steps=0, seconds=0.0, stopped_early=False)
    run = f"{config.model} T={config.length} seed={config.seed}, {config.optimizer} lr {config.lr:g}"
    fix = "lower the learning rate or the clipping norm"  # no accuracy is reported for a diverged model
    recent: list[float] = []  # accuracies of the last early_stop_window batches
    loss_sum = acc_sum = 0.0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.train_steps, desc=f"{config.model} T={config.length}", leave=False)
    model.train()
    for step in range(1, config.train_steps + 1):
        x, y = palindrome_batch(config.length, config.batch_size, train_gen, config.input_size)
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
    result.test_accuracy = evaluate(model, config.length, config.test_size, test_gen, config.input_size)
    result.seconds = time.perf_counter() - start
    result.model = model
    return result
