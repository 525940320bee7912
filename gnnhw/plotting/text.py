"""Figures for the character-level text generator."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from gnnhw.recurrent.metrics import nats_to_bits


def plot_text_curves(history: Mapping[str, Sequence[float]], title: str = "") -> Figure:
    """Bits per character (left) and next-character accuracy (right) against the step.

    ``history`` is :attr:`gnnhw.recurrent.train_text.TextTrainResult.history`: lists ``step``, ``train_loss``,
    ``val_loss``, ``train_acc``, ``val_acc`` and, when present, ``val_stream_loss`` / ``val_stream_acc`` (the
    held-out part read as one stream). Training values are averages over the steps since the last point;
    bits per character are the losses (nats) divided by ln 2.
    """
    fig = Figure(figsize=(10, 3.8))
    ax_bpc, ax_acc = fig.subplots(1, 2)
    steps = list(history["step"])
    lines = [("train", "training"), ("val", "held out, windows from a zero state")]
    if any(math.isfinite(v) for v in history.get("val_stream_loss", [])):
        lines.append(("val_stream", "held out, one stream (state carried)"))
    for prefix, label in lines:
        ax_bpc.plot(steps, [nats_to_bits(v) for v in history[f"{prefix}_loss"]], label=label)
        ax_acc.plot(steps, history[f"{prefix}_acc"], label=label)
    for ax, label in ((ax_bpc, "bits per character"), (ax_acc, "next-character accuracy")):
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
