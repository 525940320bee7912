"""Figures for the character-level text generator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure


def plot_text_curves(history: Mapping[str, Sequence[float]], title: str = "") -> Figure:
    """Loss (left) and next-character accuracy (right) against the step, training and validation.

    ``history`` is :attr:`gnnhw.recurrent.train_text.TextTrainResult.history`: lists ``step``, ``train_loss``,
    ``val_loss``, ``train_acc``, ``val_acc`` (training values are averages over the steps since the last point).
    """
    fig = Figure(figsize=(10, 3.8))
    ax_loss, ax_acc = fig.subplots(1, 2)
    steps = list(history["step"])
    for ax, key, label in ((ax_loss, "loss", "cross-entropy (nats/char)"), (ax_acc, "acc", "next-character accuracy")):
        ax.plot(steps, history[f"train_{key}"], label="training")
        ax.plot(steps, history[f"val_{key}"], label="validation")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
