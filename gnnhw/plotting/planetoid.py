"""Figures of the planetoid area: training curves of :func:`~gnnhw.graph.train.train_planetoid` and the
depth study of :func:`~gnnhw.graph.depth.run_depth_study`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from gnnhw.graph.depth import DepthResult
    from gnnhw.graph.train import TrainResult


def _band(
    ax,
    epochs: np.ndarray,
    curves: np.ndarray,
    label: str,
    color: str,
    scale: float = 1.0,
    limits: tuple[float, float] = (0.0, np.inf),
) -> None:
    """The mean over seeds as a line and ± 1 std as a band, the band cut to ``limits`` (an accuracy's
    (0, 1), a loss's (0, inf)) so that it never shows a value the quantity cannot take."""
    mean, std = curves.mean(axis=0) * scale, curves.std(axis=0) * scale  # (epochs,)
    ax.plot(epochs, mean, color=color, label=label, lw=1.5)
    if curves.shape[0] > 1:
        low, high = limits
        ax.fill_between(
            epochs, np.clip(mean - std, low, high), np.clip(mean + std, low, high), color=color, alpha=0.2, lw=0
        )


def _band_legend(ax, seeds: int, loc: str) -> None:
    """The axes' legend, with one entry saying what the shaded bands are (when there are any)."""
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    if seeds > 1:
        handles.append(Patch(color="gray", alpha=0.3, lw=0))
        labels.append(f"shaded: ± 1 std over {seeds} seeds")
    ax.legend(handles, labels, loc=loc, fontsize=8)


def plot_training_curves(result: TrainResult) -> Figure:
    """Loss (train, validation) and accuracy (train, validation, test) per epoch: mean ± std over seeds (the
    shaded bands, named in the legend); the test accuracy at the best validation epoch to three digits."""
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    history = {k: np.array([run.history[k] for run in result.runs]) for k in result.runs[0].history}  # (S, T)
    epochs = np.arange(1, history["train_loss"].shape[1] + 1)
    seeds = len(result.runs)
    _band(ax_loss, epochs, history["train_loss"], "train (with dropout)", "C0")
    _band(ax_loss, epochs, history["val_loss"], "validation", "C1")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    _band_legend(ax_loss, seeds, "upper right")
    fraction = (0.0, 1.0)
    _band(ax_acc, epochs, history["train_acc"], "train", "C0", limits=fraction)
    _band(ax_acc, epochs, history["val_acc"], "validation", "C1", limits=fraction)
    test_label = f"test ({result.test_acc_mean:.3f} at the best validation epoch)"
    _band(ax_acc, epochs, history["test_acc"], test_label, "C2", limits=fraction)
    best = [run.best_epoch for run in result.runs]
    ax_acc.axvline(float(np.median(best)), color="gray", ls="--", lw=1, label="best validation epoch (median)")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))  # a line at 1 stays whole
    _band_legend(ax_acc, seeds, "lower right")
    cfg = result.config
    fig.suptitle(
        f"{cfg.dataset}, {cfg.impl} GCN ({cfg.num_layers} layers, hidden {cfg.hidden_channels}), "
        + (
            f"{seeds} seeds: test accuracy {result.test_acc_mean:.3f} ± {result.test_acc_std:.3f}"
            if seeds > 1
            else f"1 seed: test accuracy {result.test_acc_mean:.3f}"
        )
    )
    return fig


_MARKERS = ("o", "s", "^", "D", "v", "P")
_STYLES = ("-", "--", "-.", ":")


def plot_depth_study(result: DepthResult) -> Figure:
    """Test accuracy (mean, error bars ± std over seeds) and mean pairwise cosine distance of the output vs depth.

    The depth axis is log2 (labelled so); each variant has its own marker and line style and a small offset
    along the axis, so that equal values (all variants agree at depth 1) do not hide one another. The legend
    gives each variant's best mean accuracy to three digits.
    """
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax_acc, ax_dist = fig.subplots(1, 2)
    variants = list(result.config.variants)
    seeds = result.config.seeds
    for i, variant in enumerate(variants):
        rows = sorted((r for r in result.rows if r.variant == variant), key=lambda r: r.num_layers)
        if not rows:
            continue
        offset = 2 ** ((i - (len(variants) - 1) / 2) * 0.05)  # a multiplicative nudge: equal on a log2 axis
        depths = [r.num_layers * offset for r in rows]
        mean = np.array([r.test_acc_mean for r in rows])
        std = np.array([r.test_acc_std for r in rows])
        best = max(rows, key=lambda r: r.test_acc_mean)
        style = {"marker": _MARKERS[i % len(_MARKERS)], "ls": _STYLES[i % len(_STYLES)], "color": f"C{i}"}
        ax_acc.errorbar(
            depths,
            mean,
            yerr=std if seeds > 1 else None,
            capsize=3,
            label=f"{variant} (best {best.test_acc_mean:.3f} at {best.num_layers})",
            **style,
        )
        ax_dist.plot(depths, [r.distance_mean for r in rows], label=variant, **style)
    ax_acc.set(xlabel="graph convolutions (log2 scale)", ylabel="test accuracy", title="accuracy vs depth")
    ax_dist.set(
        xlabel="graph convolutions (log2 scale)",
        ylabel="mean pairwise cosine distance",
        title="over-smoothing: spread of the output embeddings",
        ylim=(0, None),
    )
    for ax in (ax_acc, ax_dist):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(result.config.depths), labels=[str(d) for d in sorted(result.config.depths)])
        ax.grid(alpha=0.3)
    handles, labels = ax_acc.get_legend_handles_labels()
    if seeds > 1:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="gray", marker="|", ls="none", markersize=12))
        labels.append(f"error bars: ± 1 std over {seeds} seeds")
    ax_acc.legend(handles, labels, fontsize=8)
    ax_dist.legend(fontsize=8)
    cfg = result.config
    fig.suptitle(
        f"{cfg.dataset}: GCN depth study, hidden {cfg.hidden_channels}, "
        f"{cfg.seeds} {'seed' if cfg.seeds == 1 else 'seeds'} per point"
    )
    return fig
