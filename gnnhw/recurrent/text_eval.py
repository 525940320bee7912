"""Measuring a character model on text: next-character loss (nats), accuracy and bits per character.

Two readings of the same characters (the loss is in nats per character; bits per character are the loss
divided by ln 2, :func:`gnnhw.recurrent.metrics.nats_to_bits`):

- **windows** (:func:`evaluate`, :func:`evaluate_text`): consecutive windows of T characters, each read from a
  zero state, as random-batching training reads text;
- **one stream** (:func:`evaluate_stream`, ``evaluate_text(..., stateful=True)``): the state carried through the
  whole text, so every character is predicted from everything before it (the number comparable with
  compressors, :mod:`gnnhw.recurrent.baselines`).

:class:`HeldOut` measures both on a run's held-out part at once (what training logs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnhw.errors import ConfigError, NonFiniteError
from gnnhw.recurrent.models import TextGenerationModel
from gnnhw.recurrent.text import TextDataset, Vocabulary

STREAM_CHUNK = 1024
"""Characters per forward call when a text is read as one stream (the chunking changes nothing but rounding)."""


@torch.no_grad()
def evaluate(model: TextGenerationModel, x: Tensor, y: Tensor, batch_size: int = 256) -> tuple[float, float]:
    """Mean next-character cross-entropy (nats) and accuracy of ``model`` on windows ``x``, ``y`` (N, T) each,
    every window from a zero state. ``batch_size`` windows go through the model at a time."""
    was_training = model.training
    model.eval()
    device = model.head.weight.device
    total_loss, correct, count = 0.0, 0, 0
    for i in range(0, x.shape[0], batch_size):
        xb, yb = x[i : i + batch_size].to(device), y[i : i + batch_size].to(device)
        logits, _ = model(xb)  # (b, T, V)
        total_loss += float(F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="sum"))
        correct += int((logits.argmax(-1) == yb).sum())
        count += yb.numel()
    model.train(was_training)
    return total_loss / max(count, 1), correct / max(count, 1)


@torch.no_grad()
def evaluate_stream(model: TextGenerationModel, data: Tensor, chunk_length: int = STREAM_CHUNK) -> tuple[float, float]:
    """Mean next-character cross-entropy (nats) and accuracy of ``model`` on the encoded text ``data`` (N,) long,
    read as one stream: character n + 1 is predicted from characters 0..n, the state carried from each chunk
    of ``chunk_length`` characters into the next (the chunking changes nothing but rounding). N - 1 characters
    are predicted; NaN for both when N < 2.
    """
    if data.numel() < 2:
        return math.nan, math.nan
    was_training = model.training
    model.eval()
    device = model.head.weight.device
    total_loss, correct = 0.0, 0
    state: tuple[Tensor, Tensor] | None = None
    for i in range(0, data.numel() - 1, chunk_length):
        xb = data[i : i + chunk_length][None].to(device)  # (1, C)
        yb = data[i + 1 : i + chunk_length + 1][None].to(device)  # (1, C')
        xb = xb[:, : yb.shape[1]]
        logits, state = model(xb, state)  # (1, C, V)
        total_loss += float(F.cross_entropy(logits[0], yb[0], reduction="sum"))
        correct += int((logits.argmax(-1) == yb).sum())
    model.train(was_training)
    count = data.numel() - 1
    return total_loss / count, correct / count


def evaluate_text(
    model: TextGenerationModel, vocab: Vocabulary, text: str, seq_length: int = 30, stateful: bool = False
) -> tuple[float, float, int]:
    """Loss (nats per character), accuracy and number of predicted characters of ``model`` on ``text``.

    The text is cut into consecutive windows of ``seq_length`` + 1 characters. By default each window starts
    from a zero state, as in random-batching training (so the first characters of a window are predicted from
    little context); ``stateful=True`` reads the same characters as one stream instead
    (:func:`evaluate_stream`), so every character is predicted from everything before it.

    Raises:
        ConfigError: a bad ``seq_length``, a text shorter than one window, characters outside ``vocab``.
        NonFiniteError: the loss is not finite (no number is returned for it).
    """
    if not isinstance(seq_length, int) or seq_length < 1:
        raise ConfigError(f"seq_length must be a positive integer, got {seq_length!r}")
    n = (len(text) - 1) // seq_length
    if n < 1:
        raise ConfigError(f"the text has {len(text)} characters, fewer than one window of {seq_length + 1}")
    data = vocab.encode(text[: n * seq_length + 1])  # ConfigError names characters the model never saw
    x = data[:-1].view(n, seq_length)  # (N, T)
    y = data[1:].view(n, seq_length)  # (N, T)
    loss, acc = evaluate_stream(model, data) if stateful else evaluate(model, x, y)  # the same N * T characters
    return finite_loss(loss), acc, y.numel()


def finite_loss(loss: float) -> float:
    """``loss``, or :class:`NonFiniteError` when it is NaN or infinite (no number is reported for such a model)."""
    if not math.isfinite(loss):
        raise NonFiniteError(
            f"the model's loss on this text is {loss} (not finite): its weights overflow on it; "
            "retrain with a lower learning rate or use another checkpoint"
        )
    return loss


@dataclass(frozen=True)
class HeldOutScores:
    """One evaluation of the held-out part: loss (nats) and accuracy, on windows and as one stream (NaN when
    the run holds nothing out)."""

    loss: float = math.nan
    acc: float = math.nan
    stream_loss: float = math.nan
    stream_acc: float = math.nan


class HeldOut:
    """A run's held-out part, measured the two ways at every evaluation.

    The windows are :meth:`TextDataset.validation_windows` (capped at ``max_windows``); the stream is the same
    characters read with the state carried (capped alike).
    """

    def __init__(self, dataset: TextDataset, max_windows: int | None = None) -> None:
        self.x, self.y = dataset.validation_windows(max_windows)  # (N, T) each
        self.stream = dataset.val_data[: self.x.numel() + 1] if self.x.shape[0] else dataset.val_data[:0]

    def measure(self, model: TextGenerationModel) -> HeldOutScores:
        if not self.x.shape[0]:
            return HeldOutScores()
        return HeldOutScores(*evaluate(model, self.x, self.y), *evaluate_stream(model, self.stream))
