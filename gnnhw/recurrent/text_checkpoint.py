"""The textgen checkpoint file: what it holds, reading it back as untrusted input, writing it, and the model in it.

``<out>/checkpoint.pt`` (:data:`CHECKPOINT_NAME`) is written with :func:`gnnhw.checkpoint.save_checkpoint`
(header ``{"format": "gnnhw.textgen", "version": 2}``, atomic) and read with
:func:`gnnhw.checkpoint.load_checkpoint` (``weights_only``, header, schema). It holds tensors and plain values
only: the model and optimizer state, the step, the vocabulary (one string), the config (a dict), the RNG states
(batch sampler, torch's global RNG, the GPU's), the running sums since the last evaluation, the curves, the
logged samples, the training wall time, the text's SHA-256, and with sequential batching the position in the
streams and the carried state (:meth:`gnnhw.recurrent.text_run.TextRun.payload` builds it).

**Versions.** Version 1 (gnnhw before the one vocabulary of issue 11) stored the config with ``cell``
("torch" / "scratch") and ``learning_rate``; version 2 stores ``impl`` ("reference" / "scratch") and ``lr``.
Both are read; :func:`load_checkpoint` returns the config under today's names
(:meth:`TextTrainConfig.from_dict`), so an old checkpoint loads, samples, evaluates and resumes bit for bit.
An older gnnhw refuses a version 2 file in one line instead of silently ignoring the renamed fields.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from gnnhw._renames import renamed_keys
from gnnhw._utils import resolve_device
from gnnhw.checkpoint import load_checkpoint as _load_checkpoint
from gnnhw.checkpoint import save_checkpoint
from gnnhw.checks import check_training_finite
from gnnhw.errors import CheckpointError, ConfigError, GnnhwError
from gnnhw.recurrent.config import TEXT_RENAMES, TextTrainConfig
from gnnhw.recurrent.models import TextGenerationModel
from gnnhw.recurrent.text import Vocabulary
from gnnhw.schema import ANY, Float, Int, ListOf, MapOf, Record, Spec, Str, TensorSpec

CHECKPOINT_FORMAT = "gnnhw.textgen"
CHECKPOINT_VERSION = 2
CHECKPOINT_VERSIONS = (1, 2)  # what this gnnhw reads (see the module docstring)
CHECKPOINT_NAME = "checkpoint.pt"
DIVERGED_FIX = "lower --lr or --max-norm"

HISTORY_KEYS = (
    "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "elapsed_s",
    "train_bpc", "val_bpc", "val_stream_loss", "val_stream_acc", "val_stream_bpc",
)  # fmt: skip
"""The curves: one point every ``eval_every`` steps (:func:`gnnhw.recurrent.text_run.record_evaluation`)."""

REQUIRED_HISTORY_KEYS = HISTORY_KEYS[:7]  # in every checkpoint; the bits-per-character columns came later

RESUMABLE_CHANGES = ("steps",)
"""Settings a resumed run may change: how far it goes. Every other field must match the checkpoint's."""


def _declared_max(field: str) -> float:
    """The ``max`` that :class:`TextTrainConfig` declares for ``field``."""
    return next(f for f in dataclasses.fields(TextTrainConfig) if f.name == field).metadata["range"]["max"]


def checkpoint_spec() -> Spec:
    """The schema of a textgen checkpoint (what :func:`load_checkpoint` accepts); the config is checked field
    by field against :class:`TextTrainConfig`'s declared ranges."""
    return Record(
        {
            "config": MapOf(ANY),
            "vocab": Str(min_len=1),
            "model": MapOf(TensorSpec(finite=True, dtype="float")),
            "optimizer": Record({"state": ANY, "param_groups": ListOf(ANY)}),
            "step": Int(min=0, max=_declared_max("steps")),  # a run never goes past the largest --steps
            "rng": Record(
                {"batches": TensorSpec(dtype="uint8"), "torch": TensorSpec(dtype="uint8")},
                {"cuda": TensorSpec(dtype="uint8")},
            ),
        },
        {
            "text_sha256": Str(),
            "running": ListOf(Float(min=0), min_len=3),
            "history": MapOf(ListOf(Float(finite=False))),
            "samples": ListOf(ListOf(ANY, min_len=2)),
            "elapsed_s": Float(min=0),
            # sequential batching: the next batch's index in the epoch, and the carried (h, c) unless it is zero
            "stream": Record({"position": Int(min=0)}, {"state": ListOf(TensorSpec(dtype="float"), min_len=2)}),
        },
    )


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a textgen checkpoint as untrusted input (:func:`gnnhw.checkpoint.load_checkpoint`): weights only,
    format name and version (1 or 2), every required key, types, ranges, finite weights, and the config field by
    field. The returned ``ckpt["config"]`` uses today's field names, whichever version wrote it.

    Raises:
        CheckpointError: one line naming the file and the bad field.
    """
    ckpt = _load_checkpoint(
        path, CHECKPOINT_FORMAT, CHECKPOINT_VERSIONS, checkpoint_spec(), map_location, "gnnhw textgen"
    )
    source = f"checkpoint {str(Path(path))!r}"
    ckpt["config"] = renamed_keys(ckpt["config"], TEXT_RENAMES, impl_key="cell")
    config_of(ckpt, source)
    _check_consistent(ckpt, source)
    return ckpt


def config_of(ckpt: Mapping[str, Any], source: str = "checkpoint") -> TextTrainConfig:
    """The run's config stored in ``ckpt`` (old field names translated). :class:`CheckpointError` names the
    field when a value is bad."""
    try:
        return TextTrainConfig.from_dict(ckpt["config"], source=source)
    except ConfigError as err:
        raise CheckpointError(str(err)) from None


def _check_consistent(ckpt: dict[str, Any], source: str) -> None:
    """What a per-field schema cannot say: the history's columns have one length each, samples are
    ``(step, text)`` pairs."""
    history = ckpt.get("history")
    if history is not None:
        missing = [k for k in REQUIRED_HISTORY_KEYS if k not in history]  # later columns: NaN when restored
        if missing:
            raise CheckpointError(f"{source}: history lacks the column(s) {', '.join(missing)}")
        lengths = {k: len(v) for k, v in history.items()}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{k} {n}" for k, n in lengths.items())
            raise CheckpointError(f"{source}: history columns have different lengths ({listed})")
    for i, item in enumerate(ckpt.get("samples", [])):
        ok = len(item) == 2 and isinstance(item[1], str) and isinstance(item[0], int) and not isinstance(item[0], bool)
        if not ok or item[0] < 0:
            raise CheckpointError(f"{source}: samples[{i}] must be a [step, text] pair, got {item!r:.60}")


def build_model(config: TextTrainConfig, vocab_size: int) -> TextGenerationModel:
    """The untrained model a config describes (its weights drawn from torch's global RNG)."""
    return TextGenerationModel(vocab_size, config.hidden_size, config.num_layers, config.dropout, config.impl)


def model_from_checkpoint(
    ckpt: dict[str, Any] | str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[TextGenerationModel, Vocabulary]:
    """The trained model (in eval mode) and its vocabulary, from a checkpoint dict (as :func:`load_checkpoint`
    returns it) or path.

    Raises :class:`CheckpointError` when the checkpoint is unusable (see :func:`load_checkpoint`), when its
    weights do not fit its config, or when the model would not fit in memory.
    """
    source = "checkpoint"
    if not isinstance(ckpt, dict):
        source = f"checkpoint {str(Path(ckpt))!r}"
        ckpt = load_checkpoint(ckpt)
    try:
        vocab = Vocabulary.from_string(ckpt["vocab"])
        config = TextTrainConfig.from_dict(ckpt["config"], source=source)
        config.validate(vocab_size=len(vocab))
        model = build_model(config, len(vocab))
        model.load_state_dict(ckpt["model"])
    except (GnnhwError, RuntimeError, TypeError, KeyError) as err:
        reason = str(err).splitlines()[0]
        if reason.startswith(source):
            raise CheckpointError(reason) from None
        raise CheckpointError(f"{source} does not describe a valid model: {reason}") from None
    return model.to(resolve_device(device)).eval(), vocab


def save_text_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (:meth:`TextRun.payload`) to ``path`` with the textgen header, atomically.

    Raises:
        DivergedError: the weights are not finite (a good checkpoint is never replaced by a diverged one; the
            message names the kept one when it exists).
        OutputError: the file cannot be written; the previous one stays.
    """
    check_training_finite(payload["step"], parameters=payload["model"].values(), kept=path, fix=DIVERGED_FIX)
    save_checkpoint(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, payload)


def resume_conflicts(saved: TextTrainConfig, requested: Mapping[str, Any]) -> list[str]:
    """The settings in ``requested`` (field name -> value asked for) that differ from the checkpoint's
    ``saved`` config, as ``"hidden_size 64 (checkpoint: 128)"``; ``steps`` may change and is left out."""
    out = []
    for name in (f.name for f in dataclasses.fields(saved) if f.name in requested):  # in the config's order
        if name in RESUMABLE_CHANGES:
            continue
        value, have = requested[name], getattr(saved, name)
        if name == "sample_at":
            value = sorted({int(v) for v in value})
        if value != have:
            out.append(f"{name} {value!r} (checkpoint: {have!r})")
    return out
