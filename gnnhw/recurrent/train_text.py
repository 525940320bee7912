r"""Training the character-level LSTM, with checkpoints that survive interruption.

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

**Bits per character** (:mod:`gnnhw.recurrent.metrics`) are the losses divided by ln 2. The held-out part
is measured two ways at every evaluation: on consecutive windows of T characters, each from a zero state
(``val_loss``, ``val_acc``, ``val_bpc``: how random batching trains), and read as one stream with the state
carried through it (``val_stream_loss``, ``val_stream_acc``, ``val_stream_bpc``: every character predicted
from everything before it, the number comparable with compressors).

**Checkpoints.** ``<out>/checkpoint.pt`` is written every ``checkpoint_every`` steps, at the end, and when
the run is stopped: when ``should_stop()`` (a callback, e.g. set by the CLI's SIGINT/SIGTERM handler) turns
true, the current step finishes, the checkpoint is written once and :class:`gnnhw.runs.RunStopped` is raised.
A :class:`KeyboardInterrupt` raised inside the loop (a library user's own Ctrl-C) also writes it, unless
it cut an optimizer update short: then no state of that step is saved and the last checkpoint is kept, so
a checkpoint never holds half an Adam step. It is written atomically (temp file + rename), so an existing
checkpoint is never replaced by a half-written one, and it holds only tensors and plain Python values,
so ``torch.load(path, weights_only=True)`` reads it. It stores the model and optimizer state, the step,
the vocabulary (as one string), the config (as a dict), the RNG states (batch sampler and torch's global
RNG, used by dropout), with sequential batching the position in the streams and the carried state, the
curves and the logged samples. ``resume=True`` restores all of it, so a run
interrupted at step k and resumed ends with the same parameters as one that was never interrupted.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnhw._utils import atomic_torch_save, resolve_device
from gnnhw.checkpoint import check_optimizer_state, checkpoint_header
from gnnhw.checkpoint import load_checkpoint as _load_checkpoint
from gnnhw.checks import SEED_MAX, check_training_finite
from gnnhw.errors import CheckpointError, ConfigError, GnnhwError, NonFiniteError
from gnnhw.recurrent.config import TextTrainConfig
from gnnhw.recurrent.metrics import nats_to_bits
from gnnhw.recurrent.models import TextGenerationModel
from gnnhw.recurrent.sampling import sample
from gnnhw.recurrent.text import TextDataset, Vocabulary
from gnnhw.runs import RunStopped
from gnnhw.schema import ANY, Float, Int, ListOf, MapOf, Record, Spec, Str, TensorSpec

CHECKPOINT_FORMAT = "gnnhw.textgen"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"
_DIVERGED_FIX = "lower --lr or --max-norm"


@dataclass
class TextTrainResult:
    """What a run returns (and what its checkpoint holds, less the weights)."""

    model: TextGenerationModel
    vocab: Vocabulary
    config: TextTrainConfig
    step: int  # optimizer steps done
    # every eval_every steps: step, train_loss, train_acc, val_loss, val_acc, lr, elapsed_s, train_bpc, val_bpc,
    # val_stream_loss, val_stream_acc, val_stream_bpc (see the module docstring)
    history: dict[str, list[float]]
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


HISTORY_KEYS = (
    "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "elapsed_s",
    "train_bpc", "val_bpc", "val_stream_loss", "val_stream_acc", "val_stream_bpc",
)  # fmt: skip


REQUIRED_HISTORY_KEYS = HISTORY_KEYS[:7]  # in every checkpoint; the bits-per-character columns came later


def _new_history() -> dict[str, list[float]]:
    return {k: [] for k in HISTORY_KEYS}


def _restored_history(saved: Mapping[str, list[float]]) -> dict[str, list[float]]:
    """The curves of a checkpoint; keys it lacks (written before they existed) are NaN at its points."""
    points = len(saved.get("step", []))
    history = {k: [math.nan] * points for k in HISTORY_KEYS}
    history.update({k: list(v) for k, v in saved.items()})
    return history


def text_fingerprint(dataset: TextDataset) -> str:
    """SHA-256 of the encoded text, so a run is only resumed on the text it started with."""
    digest = hashlib.sha256()
    digest.update(dataset.vocab.to_string().encode("utf-8"))
    digest.update(dataset.train_data.numpy().tobytes())
    digest.update(dataset.val_data.numpy().tobytes())
    return digest.hexdigest()


@torch.no_grad()
def evaluate(model: TextGenerationModel, x: Tensor, y: Tensor, batch_size: int = 256) -> tuple[float, float]:
    """Mean next-character cross-entropy and accuracy of ``model`` on windows x, y (N, T) each."""
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


def evaluate_text(
    model: TextGenerationModel, vocab: Vocabulary, text: str, seq_length: int = 30, stateful: bool = False
) -> tuple[float, float, int]:
    """Loss, accuracy and number of predicted characters of ``model`` on ``text``.

    The text is cut into consecutive windows of ``seq_length`` + 1 characters. By default each window starts
    from a zero state, as in random-batching training (so the first characters of a window are predicted from
    little context); ``stateful=True`` reads the same characters as one stream instead
    (:func:`evaluate_stream`), so every character is predicted from everything before it. The loss is in
    nats per character; divide by ln 2 for bits per character (:func:`gnnhw.recurrent.metrics.nats_to_bits`).

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
    if not stateful:
        loss, acc = evaluate(model, x, y)
        return _finite_loss(loss), acc, y.numel()
    loss, acc = evaluate_stream(model, data)  # the same n * seq_length predicted characters
    return _finite_loss(loss), acc, y.numel()


_STREAM_CHUNK = 1024  # characters per forward call when reading a text as one stream


@torch.no_grad()
def evaluate_stream(model: TextGenerationModel, data: Tensor, chunk_length: int = _STREAM_CHUNK) -> tuple[float, float]:
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
    total_loss, correct, state = 0.0, 0, None
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


def _finite_loss(loss: float) -> float:
    if not math.isfinite(loss):
        raise NonFiniteError(
            f"the model's loss on this text is {loss} (not finite): its weights overflow on it; "
            "retrain with a lower learning rate or use another checkpoint"
        )
    return loss


# --------------------------------------------------------------------------------------------- checkpoints


def _declared_max(field: str) -> float:
    """The ``max`` that :class:`TextTrainConfig` declares for ``field``."""
    import dataclasses

    return next(f for f in dataclasses.fields(TextTrainConfig) if f.name == field).metadata["range"]["max"]


def _checkpoint_spec() -> Spec:
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
    format name and version, every required key, types, ranges, finite weights, and the config field by field.

    Raises:
        CheckpointError: one line naming the file and the bad field.
    """
    ckpt = _load_checkpoint(
        path, CHECKPOINT_FORMAT, (CHECKPOINT_VERSION,), _checkpoint_spec(), map_location, "gnnhw textgen"
    )
    source = f"checkpoint {str(Path(path))!r}"
    try:
        TextTrainConfig.from_dict(ckpt["config"], source=source)
    except ConfigError as err:
        raise CheckpointError(str(err)) from None
    _check_consistent(ckpt, source)
    return ckpt


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


def model_from_checkpoint(
    ckpt: dict[str, Any] | str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[TextGenerationModel, Vocabulary]:
    """The trained model (in eval mode) and its vocabulary, from a checkpoint dict or path.

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
        model = TextGenerationModel(len(vocab), config.hidden_size, config.num_layers, config.dropout, config.cell)
        model.load_state_dict(ckpt["model"])
    except (GnnhwError, RuntimeError, TypeError, KeyError) as err:
        reason = str(err).splitlines()[0]
        if reason.startswith(source):
            raise CheckpointError(reason) from None
        raise CheckpointError(f"{source} does not describe a valid model: {reason}") from None
    return model.to(resolve_device(device)).eval(), vocab


def _save(path: Path, state: dict[str, Any]) -> None:
    # never replace a good checkpoint by a diverged one; mention the kept one only when it exists
    check_training_finite(state["step"], parameters=state["model"].values(), kept=path, fix=_DIVERGED_FIX)
    atomic_torch_save(state, path)


#: Settings a resumed run may change: how far it goes. Every other field must match the checkpoint's.
RESUMABLE_CHANGES = ("steps",)


def resume_conflicts(saved: TextTrainConfig, requested: Mapping[str, Any]) -> list[str]:
    """The settings in ``requested`` (field name -> value asked for) that differ from the checkpoint's
    ``saved`` config, as ``"hidden_size 64 (checkpoint: 128)"``; ``steps`` may change and is left out."""
    out = []
    for name in (f.name for f in fields(saved) if f.name in requested):  # in the config's order
        if name in RESUMABLE_CHANGES:
            continue
        value, have = requested[name], getattr(saved, name)
        if name == "sample_at":
            value = sorted({int(v) for v in value})
        if value != have:
            out.append(f"{name} {value!r} (checkpoint: {have!r})")
    return out


def _restored_stream(
    ckpt: Mapping[str, Any], path: Path | None, per_epoch: int, config: TextTrainConfig, device: torch.device
) -> tuple[int, tuple[Tensor, Tensor] | None]:
    """The sequential-batching position and carried state of a checkpoint, checked against the run."""
    where = f"checkpoint {str(path)!r}"
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


# ---------------------------------------------------------------------------------------------- training


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
        ConfigError, CheckpointError: bad settings, or a checkpoint that cannot be resumed.
        OutputError: the checkpoint cannot be written (full disk, ...); the previous one is kept.
    """
    config = config or TextTrainConfig()
    device = resolve_device(device)
    ckpt_path = Path(out_dir) / CHECKPOINT_NAME if out_dir is not None else None
    ckpt: dict[str, Any] | None = None
    if resume:
        if ckpt_path is None:
            raise ConfigError("resume needs an output folder holding checkpoint.pt")
        if not ckpt_path.exists():
            raise CheckpointError(
                f"nothing to resume: {str(ckpt_path)!r} does not exist; start a new run there without "
                "resume (the CLI's --resume), or give the folder of the run to continue"
            )
        ckpt = load_checkpoint(ckpt_path)
        saved = TextTrainConfig.from_dict(ckpt["config"])
        saved.steps = config.steps
        config = saved
    elif ckpt_path is not None and ckpt_path.exists():
        raise ConfigError(
            f"{str(ckpt_path)!r} already exists; continue that run with resume=True (the CLI's --resume), "
            "or choose another output folder"
        )

    if not isinstance(text, TextDataset):
        dataset = TextDataset.from_file(text, config.seq_length, config.val_fraction, config.strip_gutenberg)
    else:
        dataset = text
        if (dataset.seq_length, dataset.val_fraction) != (config.seq_length, config.val_fraction):
            raise ConfigError("the dataset's seq_length/val_fraction differ from the config's")
    vocab = dataset.vocab
    fingerprint = text_fingerprint(dataset)
    sequential = config.batching == "sequential"
    if sequential:
        streams = dataset.streams(config.batch_size)  # (B, L); ConfigError when the text is too short
        per_epoch = dataset.batches_per_epoch(config.batch_size)
    position = 0  # sequential: index of the next batch in the epoch
    carried: tuple[Tensor, Tensor] | None = None  # sequential: the state the last batch ended in (detached)

    torch.manual_seed(config.seed)  # initial weights and dropout
    batch_gen = torch.Generator().manual_seed(config.seed)  # training windows
    model = TextGenerationModel(len(vocab), config.hidden_size, config.num_layers, config.dropout, config.cell)
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    step, elapsed_before = 0, 0.0
    history, samples = _new_history(), []
    if ckpt is not None:
        if ckpt.get("text_sha256") != fingerprint or ckpt["vocab"] != vocab.to_string():
            raise CheckpointError(f"checkpoint {str(ckpt_path)!r} was trained on a different text; cannot resume")
        try:
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            batch_gen.set_state(ckpt["rng"]["batches"])
            torch.set_rng_state(ckpt["rng"]["torch"])
            if device.type == "cuda" and "cuda" in ckpt["rng"]:
                torch.cuda.set_rng_state(ckpt["rng"]["cuda"], device)
        except (RuntimeError, ValueError, KeyError, TypeError) as err:
            raise CheckpointError(
                f"checkpoint {str(ckpt_path)!r} cannot be restored: {str(err).splitlines()[0]}"
            ) from None
        check_optimizer_state(optimizer, f"checkpoint {str(ckpt_path)!r}")
        step = int(ckpt["step"])
        elapsed_before = float(ckpt.get("elapsed_s", 0.0))
        history = _restored_history(ckpt.get("history", {}))
        samples = [(int(s), str(t)) for s, t in ckpt.get("samples", [])]
        if sequential:
            position, carried = _restored_stream(ckpt, ckpt_path, per_epoch, config, device)

    val_x, val_y = dataset.validation_windows(config.max_val_windows)
    has_val = val_x.shape[0] > 0
    # the held-out part as one stream: the same characters as the windows (capped alike)
    val_stream = dataset.val_data[: val_x.numel() + 1] if has_val else dataset.val_data[:0]

    def validate_now() -> tuple[float, float, float, float]:
        if not has_val:
            return math.nan, math.nan, math.nan, math.nan
        return (*evaluate(model, val_x, val_y), *evaluate_stream(model, val_stream))

    def cuda_rng() -> dict[str, Tensor]:  # dropout on a GPU draws from the device's generator
        return {"cuda": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {}

    def state_dict(rng_now: tuple[Tensor, Tensor] | None = None) -> dict[str, Any]:
        rng_now = rng_now or (batch_gen.get_state(), torch.get_rng_state())
        return {
            **checkpoint_header(CHECKPOINT_FORMAT, CHECKPOINT_VERSION),
            "config": asdict(config),
            "vocab": vocab.to_string(),
            "text_sha256": fingerprint,
            "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "step": step,
            "rng": {"batches": rng_now[0], "torch": rng_now[1], **cuda_rng()},
            "running": [run_loss, float(run_correct), float(run_count)],
            "history": history,
            "samples": [[s, t] for s, t in samples],
            "elapsed_s": elapsed_before + (time.perf_counter() - start),
            **stream_state(),
        }

    def stream_state() -> dict[str, Any]:
        if not sequential:
            return {}
        state = {} if carried is None else {"state": [t.detach().cpu().clone() for t in carried]}
        return {"stream": {"position": position, **state}}

    start_step = step

    def result(elapsed_s: float) -> TextTrainResult:
        """The final model, validated (windows and stream), with what the run recorded."""
        val_loss, val_acc, stream_loss, stream_acc = validate_now()
        return TextTrainResult(
            model=model.eval(),
            vocab=vocab,
            config=config,
            step=step,
            history=history,
            samples=samples,
            elapsed_s=elapsed_s,
            checkpoint=ckpt_path,
            val_loss=val_loss,
            val_acc=val_acc,
            start_step=start_step,
            val_stream_loss=stream_loss,
            val_stream_acc=stream_acc,
        )

    if step >= config.steps:  # a resumed run already at (or past) its goal: nothing trained, nothing rewritten
        return result(elapsed_before)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, initial=step, desc="textgen", unit="step", dynamic_ncols=True)
    run_loss, run_correct, run_count = 0.0, 0, 0
    if ckpt is not None and "running" in ckpt:  # the partial averages since the last evaluation
        run_loss, run_correct, run_count = float(ckpt["running"][0]), int(ckpt["running"][1]), int(ckpt["running"][2])
    start = time.perf_counter()
    rng_before: tuple[Tensor, Tensor] | None = None
    # Where an exception can cut the loop: "boundary" (the state is step's, complete), "forward" (the state is
    # step's, but the RNGs have advanced: rng_before holds theirs), "update" (the optimizer step may be half
    # applied: nothing of it can be saved).
    phase = "boundary"
    stopped = False
    try:
        while step < config.steps:
            if should_stop is not None and should_stop():
                stopped = True
                break
            phase = "forward"
            rng_before = (batch_gen.get_state(), torch.get_rng_state())
            lr = config.learning_rate_at(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            if sequential:
                x, y = dataset.stream_batch(streams, position)  # (B, T) each: the next T characters per stream
            else:
                x, y = dataset.batch(config.batch_size, batch_gen)  # (B, T) each
            x, y = x.to(device), y.to(device)
            logits, last_state = model(x, carried)  # (B, T, V); carried is None with random batching
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())  # mean over B*T: averaged over time
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_norm)
            phase = "update"
            optimizer.step()
            step += 1
            if sequential:
                position += 1
                if position == per_epoch:  # the end of the streams: start again from a zero state
                    position, carried = 0, None
                else:  # truncated BPTT: the state goes on, its graph does not
                    carried = (last_state[0].detach(), last_state[1].detach())
            loss_value = float(loss.detach())
            check_training_finite(step, loss_value, kept=ckpt_path, fix=_DIVERGED_FIX)  # DivergedError: no save
            run_loss += loss_value * y.numel()
            run_correct += int((logits.detach().argmax(-1) == y).sum())
            run_count += y.numel()
            if step % config.eval_every == 0:  # only here, so a resumed run logs the same points
                val_loss, val_acc, stream_loss, stream_acc = validate_now()
                row = {
                    "step": step,
                    "train_loss": run_loss / run_count,
                    "train_acc": run_correct / run_count,
                    "val_loss": val_loss,
                    "val_acc": val_acc,
                    "lr": lr,
                    "elapsed_s": elapsed_before + time.perf_counter() - start,
                    "train_bpc": nats_to_bits(run_loss / run_count),
                    "val_bpc": nats_to_bits(val_loss),
                    "val_stream_loss": stream_loss,
                    "val_stream_acc": stream_acc,
                    "val_stream_bpc": nats_to_bits(stream_loss),
                }
                for key, value in row.items():
                    history[key].append(float(value))
                run_loss, run_correct, run_count = 0.0, 0, 0
                if bar is not None:
                    bar.set_postfix(loss=f"{row['train_loss']:.3f}", val_acc=f"{val_acc:.3f}")
            logged = None
            if (config.sample_every and step % config.sample_every == 0) or step in config.sample_at:
                # its own generator, so logging samples never changes the training run
                logged = sample(
                    model, vocab, config.sample_length, greedy=True, seed=(config.seed + step) % (SEED_MAX + 1)
                )
                samples.append((step, logged))
            phase = "boundary"
            rng_before = None
            if logged is not None and on_sample is not None:
                on_sample(step, logged)
            if bar is not None:
                bar.update(1)
            if on_step is not None:
                on_step(step)
            if ckpt_path is not None and config.checkpoint_every and step % config.checkpoint_every == 0:
                _save(ckpt_path, state_dict())
    except KeyboardInterrupt:
        if ckpt_path is not None and phase != "update":
            _save(ckpt_path, state_dict(rng_before if phase == "forward" else None))
        raise
    finally:
        if bar is not None:
            bar.close()
    check_training_finite(step, parameters=model.parameters(), kept=ckpt_path, fix=_DIVERGED_FIX)
    final = state_dict()
    if ckpt_path is not None:
        _save(ckpt_path, final)
    if stopped:
        raise RunStopped(step, ckpt_path)
    return result(final["elapsed_s"])
