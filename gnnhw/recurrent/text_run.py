"""The state of a text-generation run in progress, and how it goes into a checkpoint and comes back.

:class:`TextRun` holds everything a resumed run needs to continue bit for bit (the model, the optimizer, the
batch generator, the step, the running sums since the last evaluation, the curves, the logged samples, the
training time of earlier sessions, and with sequential batching the position in the streams and the carried
state): :meth:`TextRun.start` builds a new one, :meth:`TextRun.restore` loads a checkpoint into it,
:meth:`TextRun.payload` is what :func:`gnnhw.recurrent.text_checkpoint.save_text_checkpoint` writes.
:class:`RunningMetrics` are the training loss and accuracy averaged since the last evaluation;
:func:`record_evaluation` appends one point to the curves. The loop itself is
:func:`gnnhw.recurrent.train_text.train_text`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gnnhw.checkpoint import check_optimizer_state
from gnnhw.errors import CheckpointError
from gnnhw.recurrent.config import TextTrainConfig
from gnnhw.recurrent.metrics import nats_to_bits
from gnnhw.recurrent.models import TextGenerationModel
from gnnhw.recurrent.text import TextDataset, Vocabulary
from gnnhw.recurrent.text_checkpoint import HISTORY_KEYS, build_model
from gnnhw.recurrent.text_eval import HeldOutScores

State = tuple[Tensor, Tensor]
RngStates = tuple[Tensor, Tensor]  # (batch generator, torch's global RNG)


def new_history() -> dict[str, list[float]]:
    """Empty curves, one list per :data:`HISTORY_KEYS` column."""
    return {k: [] for k in HISTORY_KEYS}


def restored_history(saved: Mapping[str, list[float]]) -> dict[str, list[float]]:
    """The curves of a checkpoint; columns it lacks (written before they existed) are NaN at its points."""
    points = len(saved.get("step", []))
    history = {k: [math.nan] * points for k in HISTORY_KEYS}
    history.update({k: list(v) for k, v in saved.items()})
    return history


@dataclass
class RunningMetrics:
    """Sums over the training batches since the last evaluation: loss x characters (nats), correct
    next-character predictions, characters."""

    loss_sum: float = 0.0
    correct: int = 0
    count: int = 0

    def add(self, loss: float, logits: Tensor, y: Tensor) -> None:
        """Count one batch: its mean ``loss``, ``logits`` (B, T, V) and targets ``y`` (B, T)."""
        self.loss_sum += loss * y.numel()
        self.correct += int((logits.detach().argmax(-1) == y).sum())
        self.count += y.numel()

    def to_list(self) -> list[float]:
        """As stored in a checkpoint: ``[loss_sum, correct, count]``."""
        return [self.loss_sum, float(self.correct), float(self.count)]

    @classmethod
    def from_list(cls, values: list[float]) -> RunningMetrics:
        return cls(float(values[0]), int(values[1]), int(values[2]))


def record_evaluation(
    history: dict[str, list[float]],
    step: int,
    running: RunningMetrics,
    held_out: HeldOutScores,
    lr: float,
    elapsed_s: float,
) -> dict[str, float]:
    """Append one point to the curves: the training averages of ``running`` (then reset by the caller), the
    held-out scores, bits per character beside every loss. Returns the point."""
    train_loss = running.loss_sum / running.count
    row = {
        "step": step,
        "train_loss": train_loss,
        "train_acc": running.correct / running.count,
        "val_loss": held_out.loss,
        "val_acc": held_out.acc,
        "lr": lr,
        "elapsed_s": elapsed_s,
        "train_bpc": nats_to_bits(train_loss),
        "val_bpc": nats_to_bits(held_out.loss),
        "val_stream_loss": held_out.stream_loss,
        "val_stream_acc": held_out.stream_acc,
        "val_stream_bpc": nats_to_bits(held_out.stream_loss),
    }
    for key, value in row.items():
        history[key].append(float(value))
    return row


@dataclass
class TextRun:
    """A run in progress: what a checkpoint holds (see the module docstring)."""

    config: TextTrainConfig
    vocab: Vocabulary
    fingerprint: str  # SHA-256 of the encoded text (TextDataset.fingerprint): resume only on the same text
    model: TextGenerationModel
    optimizer: torch.optim.Optimizer
    batches: torch.Generator  # draws the random training windows
    device: torch.device
    step: int = 0  # optimizer steps done
    elapsed_before: float = 0.0  # training seconds of earlier sessions
    history: dict[str, list[float]] = field(default_factory=new_history)
    samples: list[tuple[int, str]] = field(default_factory=list)
    running: RunningMetrics = field(default_factory=RunningMetrics)
    position: int = 0  # sequential batching: index of the next batch in the epoch
    carried: State | None = None  # sequential batching: the state the last batch ended in (detached)

    @classmethod
    def start(cls, config: TextTrainConfig, dataset: TextDataset, device: torch.device) -> TextRun:
        """A new run: torch's global RNG seeded with ``config.seed`` (initial weights, dropout), the batch
        generator too, the model on ``device`` in training mode, Adam at ``config.lr``."""
        torch.manual_seed(config.seed)
        batches = torch.Generator().manual_seed(config.seed)
        model = build_model(config, len(dataset.vocab))
        model.to(device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        return cls(config, dataset.vocab, dataset.fingerprint(), model, optimizer, batches, device)

    def restore(self, ckpt: Mapping[str, Any], path: Path, per_epoch: int | None) -> None:
        """Load a checkpoint (:func:`~gnnhw.recurrent.text_checkpoint.load_checkpoint`) into this new run.
        ``per_epoch``: batches per epoch with sequential batching, None with random batching.

        Raises:
            CheckpointError: the checkpoint was trained on another text, or its state does not fit this run.
        """
        where = f"checkpoint {str(path)!r}"
        if ckpt.get("text_sha256") != self.fingerprint or ckpt["vocab"] != self.vocab.to_string():
            raise CheckpointError(f"{where} was trained on a different text; cannot resume")
        try:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.batches.set_state(ckpt["rng"]["batches"])
            torch.set_rng_state(ckpt["rng"]["torch"])
            if self.device.type == "cuda" and "cuda" in ckpt["rng"]:
                torch.cuda.set_rng_state(ckpt["rng"]["cuda"], self.device)
        except (RuntimeError, ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f"{where} cannot be restored: {str(err).splitlines()[0]}") from None
        check_optimizer_state(self.optimizer, where)
        self.step = int(ckpt["step"])
        self.elapsed_before = float(ckpt.get("elapsed_s", 0.0))
        self.history = restored_history(ckpt.get("history", {}))
        self.samples = [(int(s), str(t)) for s, t in ckpt.get("samples", [])]
        if "running" in ckpt:  # the partial averages since the last evaluation
            self.running = RunningMetrics.from_list(ckpt["running"])
        if per_epoch is not None:
            self.position, self.carried = _restored_stream(ckpt, where, per_epoch, self.config, self.device)

    def rng_states(self) -> RngStates:
        return self.batches.get_state(), torch.get_rng_state()

    def advance_stream(self, last_state: State, per_epoch: int) -> None:
        """Sequential batching, after a step: the next batch continues the streams from ``last_state`` (its
        graph cut: truncated BPTT), or, at the end of the streams, a new epoch starts from a zero state."""
        self.position += 1
        if self.position == per_epoch:
            self.position, self.carried = 0, None
        else:
            self.carried = (last_state[0].detach(), last_state[1].detach())

    def payload(self, elapsed_s: float, rng: RngStates | None = None, sequential: bool = False) -> dict[str, Any]:
        """The checkpoint's content (header aside): tensors and plain values only. ``elapsed_s``: training time
        over all sessions; ``rng``: the RNG states to store (default: now's)."""
        batches, global_rng = rng or self.rng_states()
        cuda = {"cuda": torch.cuda.get_rng_state(self.device)} if self.device.type == "cuda" else {}
        payload: dict[str, Any] = {
            "config": asdict(self.config),
            "vocab": self.vocab.to_string(),
            "text_sha256": self.fingerprint,
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "rng": {"batches": batches, "torch": global_rng, **cuda},  # dropout on a GPU draws from the device's
            "running": self.running.to_list(),
            "history": self.history,
            "samples": [[s, t] for s, t in self.samples],
            "elapsed_s": elapsed_s,
        }
        if sequential:
            state = {} if self.carried is None else {"state": [t.detach().cpu().clone() for t in self.carried]}
            payload["stream"] = {"position": self.position, **state}
        return payload


def _restored_stream(
    ckpt: Mapping[str, Any], where: str, per_epoch: int, config: TextTrainConfig, device: torch.device
) -> tuple[int, State | None]:
    """The sequential-batching position and carried state of a checkpoint, checked against the run."""
    stream = ckpt.get("stream")
    if stream is None:
        raise CheckpointError(f"{where} has no stream position for sequential batching; it cannot be resumed")
    position = int(stream["position"])
    if position >= per_epoch:
        raise CheckpointError(f"{where}: stream position {position} is past the {per_epoch} batches of an epoch")
    if "state" not in stream:
        return position, None
    shape = (config.num_layers, config.batch_size, config.hidden_size)
    state = stream["state"]
    if len(state) != 2 or any(tuple(t.shape) != shape for t in state):
        raise CheckpointError(f"{where}: the carried state is not two tensors of shape {shape}")
    if position == 0:
        raise CheckpointError(f"{where}: a carried state at the start of an epoch (position 0)")
    return position, (state[0].to(device), state[1].to(device))
