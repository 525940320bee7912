r"""The training loop of the character-level LSTM (and :class:`TextTrainResult`, what a run returns).

The loss is the cross-entropy of the next character averaged over the B batch windows *and* the T
time steps (the assignment's "averaged over time steps"):

.. math::
    \mathcal{L} = -\frac{1}{BT} \sum_{b=1}^{B} \sum_{t=1}^{T} \log p(c^{(b)}_{t+1} \mid c^{(b)}_{\le t})

**Batching** (``config.batching``). ``"random"`` (the assignment's): each batch is B windows of T + 1
characters at random places of the training text, each read from a zero state, so the model never learns to
use more than T characters of context. ``"sequential"`` (truncated backpropagation through time, as in
Karpathy's char-rnn, https://github.com/karpathy/char-rnn, and the "sequential partitioning" of Zhang et al.,
Dive into Deep Learning, Sec. 8.3.4.2,
https://classic.d2l.ai/chapter_recurrent-neural-networks/language-models-and-dataset.html): the training text
is cut into B contiguous streams of L = N_train // B characters (:meth:`TextDataset.streams`); step i reads
the next T characters of every stream, starting from the state the previous step ended in, detached from
its graph (so gradients flow back at most T steps while the state carries information from further back).
When the next batch would run past the end of the streams, the epoch ends: the state is reset to zero and
reading starts again at the beginning. What is never trained on: the last N_train - B * L (< B) characters
of the training text, and the last (L - 1) mod T characters of each stream (the same ones every epoch).

**Evaluation** (:mod:`gnnhw.recurrent.text_eval`): every ``eval_every`` steps the held-out part is measured
on windows from a zero state (``val_loss``, ``val_acc``, ``val_bpc``) and read as one stream
(``val_stream_loss``, ``val_stream_acc``, ``val_stream_bpc``); bits per character are the losses / ln 2.

**Checkpoints** (:mod:`gnnhw.recurrent.text_checkpoint`, the state in :mod:`gnnhw.recurrent.text_run`):
``<out>/checkpoint.pt`` is written every ``checkpoint_every`` steps, at the end, and when the run is stopped:
when ``should_stop()`` (a callback, e.g. set by the CLI's SIGINT/SIGTERM handler; this module installs no
signal handler) turns true, the current step finishes, the checkpoint is written once and
:class:`gnnhw.runs.RunStopped` is raised. A :class:`KeyboardInterrupt` raised inside the loop (a library
user's own Ctrl-C) also writes it, unless it cut an optimizer update short: then no state of that step is
saved and the last checkpoint is kept, so a checkpoint never holds half an Adam step. ``resume=True``
restores everything, so a run interrupted at step k and resumed ends with the same parameters as one that
was never interrupted, with either batching. A run whose loss or weights become non-finite raises
:class:`~gnnhw.errors.DivergedError` and never overwrites a good checkpoint.

The names that lived here before the split (``load_checkpoint``, ``model_from_checkpoint``, ``evaluate_text``,
...) are still importable from this module.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from gnnhw._utils import resolve_device
from gnnhw.checks import SEED_MAX, check_training_finite
from gnnhw.errors import CheckpointError, ConfigError
from gnnhw.recurrent.config import TextTrainConfig
from gnnhw.recurrent.metrics import nats_to_bits
from gnnhw.recurrent.models import TextGenerationModel
from gnnhw.recurrent.sampling import sample
from gnnhw.recurrent.text import TextDataset, Vocabulary
from gnnhw.recurrent.text_checkpoint import (  # noqa: F401 - CHECKPOINT_*, HISTORY_KEYS, ...: their old import path
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    CHECKPOINT_VERSION,
    DIVERGED_FIX,
    HISTORY_KEYS,
    RESUMABLE_CHANGES,
    config_of,
    load_checkpoint,
    model_from_checkpoint,
    resume_conflicts,
    save_text_checkpoint,
)
from gnnhw.recurrent.text_eval import HeldOut, evaluate, evaluate_stream, evaluate_text  # noqa: F401 - old path
from gnnhw.recurrent.text_run import RunningMetrics, TextRun, record_evaluation
from gnnhw.runs import RunStopped


@dataclass
class TextTrainResult:
    """What a run returns (and what its checkpoint holds, less the weights)."""

    model: TextGenerationModel
    vocab: Vocabulary
    config: TextTrainConfig
    step: int  # optimizer steps done
    history: dict[str, list[float]]  # every eval_every steps: the HISTORY_KEYS columns (module docstring)
    samples: list[tuple[int, str]]  # (step, greedy sample)
    elapsed_s: float  # training wall time over all sessions of the run
    checkpoint: Path | None
    val_loss: float  # validation loss and accuracy of the final model
    val_acc: float
    start_step: int = 0  # the step this session started from (step - start_step steps trained now)
    val_stream_loss: float = math.nan  # the held-out part read as one stream (state carried), final model
    val_stream_acc: float = math.nan

    @property
    def val_bpc(self) -> float:
        """Validation loss in bits per character (windows from a zero state)."""
        return nats_to_bits(self.val_loss)

    @property
    def val_stream_bpc(self) -> float:
        """Held-out bits per character, the part read as one stream."""
        return nats_to_bits(self.val_stream_loss)


def text_fingerprint(dataset: TextDataset) -> str:
    """SHA-256 of the encoded text (:meth:`TextDataset.fingerprint`)."""
    return dataset.fingerprint()


def _checkpoint_to_resume(ckpt_path: Path | None, resume: bool) -> dict[str, Any] | None:
    """The checkpoint a run continues (``resume``), or None for a new run, which must not overwrite one."""
    if resume:
        if ckpt_path is None:
            raise ConfigError("resume needs an output folder holding checkpoint.pt")
        if not ckpt_path.exists():
            raise CheckpointError(
                f"nothing to resume: {str(ckpt_path)!r} does not exist; start a new run there without "
                "resume (the CLI's --resume), or give the folder of the run to continue"
            )
        return load_checkpoint(ckpt_path)
    if ckpt_path is not None and ckpt_path.exists():
        raise ConfigError(
            f"{str(ckpt_path)!r} already exists; continue that run with resume=True (the CLI's --resume), "
            "or choose another output folder"
        )
    return None


def _result(
    run: TextRun, held_out: HeldOut, ckpt_path: Path | None, start_step: int, elapsed_s: float
) -> TextTrainResult:
    """The final model, validated (windows and stream), with what the run recorded."""
    scores = held_out.measure(run.model)
    return TextTrainResult(
        model=run.model.eval(),
        vocab=run.vocab,
        config=run.config,
        step=run.step,
        history=run.history,
        samples=run.samples,
        elapsed_s=elapsed_s,
        checkpoint=ckpt_path,
        val_loss=scores.loss,
        val_acc=scores.acc,
        start_step=start_step,
        val_stream_loss=scores.stream_loss,
        val_stream_acc=scores.stream_acc,
    )


def train_text(
    text: TextDataset | str | os.PathLike,
    config: TextTrainConfig | None = None,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    device: str | torch.device = "cpu",
    progress: bool = False,
    on_sample: Callable[[int, str], None] | None = None,
    on_step: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TextTrainResult:
    """Train a :class:`TextGenerationModel` on a text; return the model, curves and samples.

    Args:
        text: a :class:`TextDataset`, or the path of a UTF-8 text file.
        config: the run's settings (default: the assignment's). On resume the checkpoint's config is used,
            except ``steps``, which is taken from ``config`` (train further by asking for more steps).
        out_dir: where ``checkpoint.pt`` goes (None: no checkpoints, no resume).
        resume: continue from ``<out_dir>/checkpoint.pt`` (optimizer state, step, RNG states and curves).
        progress: show a tqdm progress bar on stderr.
        on_sample: called with (step, text) for each logged sample.
        on_step: called with the step number after each optimizer step (tests use it to interrupt a run).
        should_stop: polled before every step; once it returns True the run writes its checkpoint and
            raises :class:`gnnhw.runs.RunStopped` (the CLI passes its SIGINT/SIGTERM flag).

    A resumed run whose checkpoint is already at or past ``config.steps`` trains nothing and rewrites
    nothing; its result has ``step == start_step``.

    Raises:
        RunStopped: ``should_stop()`` turned true; the checkpoint (if ``out_dir``) holds the state.
        DivergedError: the loss or the weights became NaN or infinite (the last good checkpoint is kept).
        ConfigError, CheckpointError: bad settings, or a checkpoint that cannot be resumed.
        OutputError: the checkpoint cannot be written (full disk, ...); the previous one is kept.
    """
    config = config or TextTrainConfig()
    device = resolve_device(device)
    ckpt_path = Path(out_dir) / CHECKPOINT_NAME if out_dir is not None else None
    ckpt = _checkpoint_to_resume(ckpt_path, resume)
    if ckpt is not None:
        saved = config_of(ckpt)
        saved.steps = config.steps
        config = saved

    dataset = TextDataset.for_config(text, config)
    sequential = config.batching == "sequential"
    streams = dataset.streams(config.batch_size) if sequential else None  # (B, L); ConfigError: text too short
    per_epoch = dataset.batches_per_epoch(config.batch_size) if sequential else None
    run = TextRun.start(config, dataset, device)
    if ckpt is not None:
        assert ckpt_path is not None  # a checkpoint to resume comes from out_dir
        run.restore(ckpt, ckpt_path, per_epoch)
    held_out = HeldOut(dataset, config.max_val_windows)
    start_step = run.step
    if run.step >= config.steps:  # a resumed run already at (or past) its goal: nothing trained, nothing rewritten
        return _result(run, held_out, ckpt_path, start_step, run.elapsed_before)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, initial=run.step, desc="textgen", unit="step", dynamic_ncols=True)
    start = time.perf_counter()

    def elapsed() -> float:
        return run.elapsed_before + (time.perf_counter() - start)

    rng_before = None
    # Where an exception can cut the loop: "boundary" (the state is step's, complete), "forward" (the state is
    # step's, but the RNGs have advanced: rng_before holds theirs), "update" (the optimizer step may be half
    # applied: nothing of it can be saved).
    phase = "boundary"
    stopped = False
    try:
        while run.step < config.steps:
            if should_stop is not None and should_stop():
                stopped = True
                break
            phase = "forward"
            rng_before = run.rng_states()
            lr = config.lr_at(run.step)
            for group in run.optimizer.param_groups:
                group["lr"] = lr
            if streams is not None:
                x, y = dataset.stream_batch(streams, run.position)  # (B, T) each: the next T characters per stream
            else:
                x, y = dataset.batch(config.batch_size, run.batches)  # (B, T) each
            x, y = x.to(device), y.to(device)
            logits, last_state = run.model(x, run.carried)  # (B, T, V); carried is None with random batching
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())  # mean over B*T: averaged over time
            run.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(run.model.parameters(), config.max_norm)
            phase = "update"
            run.optimizer.step()
            run.step += 1
            if per_epoch is not None:
                run.advance_stream(last_state, per_epoch)
            loss_value = float(loss.detach())
            check_training_finite(run.step, loss_value, kept=ckpt_path, fix=DIVERGED_FIX)  # DivergedError: no save
            run.running.add(loss_value, logits, y)
            if run.step % config.eval_every == 0:  # only here, so a resumed run logs the same points
                row = record_evaluation(run.history, run.step, run.running, held_out.measure(run.model), lr, elapsed())
                run.running = RunningMetrics()
                if bar is not None:
                    bar.set_postfix(loss=f"{row['train_loss']:.3f}", val_acc=f"{row['val_acc']:.3f}")
            logged = _logged_sample(run)
            phase = "boundary"
            rng_before = None
            if logged is not None and on_sample is not None:
                on_sample(run.step, logged)
            if bar is not None:
                bar.update(1)
            if on_step is not None:
                on_step(run.step)
            if ckpt_path is not None and config.checkpoint_every and run.step % config.checkpoint_every == 0:
                save_text_checkpoint(ckpt_path, run.payload(elapsed(), sequential=sequential))
    except KeyboardInterrupt:
        if ckpt_path is not None and phase != "update":
            rng = rng_before if phase == "forward" else None
            save_text_checkpoint(ckpt_path, run.payload(elapsed(), rng, sequential=sequential))
        raise
    finally:
        if bar is not None:
            bar.close()
    check_training_finite(run.step, parameters=run.model.parameters(), kept=ckpt_path, fix=DIVERGED_FIX)
    elapsed_s = elapsed()
    if ckpt_path is not None:
        save_text_checkpoint(ckpt_path, run.payload(elapsed_s, sequential=sequential))
    if stopped:
        raise RunStopped(run.step, ckpt_path)
    return _result(run, held_out, ckpt_path, start_step, elapsed_s)


def _logged_sample(run: TextRun) -> str | None:
    """The greedy sample logged at this step (``sample_every`` / ``sample_at``), appended to ``run.samples``;
    None at other steps. It draws from its own generator, so logging samples never changes the training run."""
    config = run.config
    if not ((config.sample_every and run.step % config.sample_every == 0) or run.step in config.sample_at):
        return None
    seed = (config.seed + run.step) % (SEED_MAX + 1)
    logged = sample(run.model, run.vocab, config.sample_length, greedy=True, seed=seed)
    run.samples.append((run.step, logged))
    return logged
