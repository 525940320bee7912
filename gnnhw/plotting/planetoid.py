"""Figures of the planetoid area: training curves of :func:`~gnnhw.graph.train.train_planetoid` and the
depth study of :func:`~gnnhw.graph.depth.run_depth_study`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from gnnhw.graph.depth import DepthResult
    from gnnhw.graph.train import TrainResult


def _band(ax, epochs: np.ndarray, curves: np.ndarray, label: str, color: str, scale: float = 1.0) -> None:
    mean, std = curves.mean(axis=0) * scale, curves.std(axis=0) * scale  # (epochs,)
    ax.plot(epochs, mean, color=color, label=label, lw=1.5)
    if curves.shape[0] > 1:
        ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.2, lw=0)


def plot_training_curves(result: TrainResult) -> Figure:
    """Loss (train, validation) and accuracy (train, validation, test) per epoch: mean ± std over seeds."""
    fig = Figure(figsize=(10, 3.8))
    ax_loss, ax_acc = fig.subplots(1, 2)
    history = {k: np.array([run.history[k] for run in result.runs]) for k in result.runs[0].history}  # (S, T)
    epochs = np.arange(1, history["train_loss"].shape[1] + 1)
    _band(ax_loss, epochs, history["train_loss"], "train (with dropout)", "C0")
    _band(ax_loss, epochs, history["val_loss"], "validation", "C1")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_loss.legend()
    _band(ax_acc, epochs, history["train_acc"], "train", "C0", 100)
    _band(ax_acc, epochs, history["val_acc"], "validation", "C1", 100)
    _band(ax_acc, epochs, history["test_acc"], "test", "C2", 100)
    best = [run.best_epoch for run in result.runs]
    ax_acc.axvline(float(np.median(best)), color="gray", ls="--", lw=1, label="best validation epoch (median)")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", ylim=(0, 100))
    ax_acc.legend(loc="lower right")
    cfg = result.config
    fig.suptitle(
        f"{cfg.dataset}, {cfg.impl} GCN ({cfg.num_layers} layers, hidden {cfg.hidden_channels}), "
        f"{len(result.runs)} seed(s): test {100 * result.test_acc_mean:.1f} ± {100 * result.test_acc_std:.1f}%"
    )
    return fig


def plot_depth_study(result: DepthResult) -> Figure:
    """Test accuracy (mean ± std over seeds) and mean pairwise cosine distance of the output vs depth."""
    fig = Figure(figsize=(10, 3.8))
    ax_acc, ax_dist = fig.subplots(1, 2)
    for i, variant in enumerate(result.config.variants):
        rows = sorted((r for r in result.rows if r.variant == variant), key=lambda r: r.num_layers)
        depths = [r.num_layers for r in rows]
        mean = np.array([r.test_acc_mean for r in rows]) * 100
        std = np.array([r.test_acc_std for r in rows]) * 100
        ax_acc.errorbar(depths, mean, yerr=std, marker="o", capsize=3, color=f"C{i}", label=variant)
        ax_dist.plot(depths, [r.distance_mean for r in rows], marker="o", color=f"C{i}", label=variant)
    ax_acc.set(xlabel="graph convolutions", ylabel="test accuracy (%)", title="accuracy vs depth")
    ax_dist.set(
        xlabel="graph convolutions",
        ylabel="mean pairwise cosine distance",
        title="over-smoothing: spread of the output embeddings",
        ylim=(0, None),
    )
    for ax in (ax_acc, ax_dist):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(result.config.depths), labels=[str(d) for d in sorted(result.config.depths)])
        ax.legend()
    cfg = result.config
    fig.suptitle(f"{cfg.dataset}: GCN depth study, hidden {cfg.hidden_channels}, {cfg.seeds} seed(s) per point")
    return fig
