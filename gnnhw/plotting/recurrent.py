"""Figures of the palindrome experiments (accuracy vs length, optimizer curves, gradients over time)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

_LABELS = {"rnn": "vanilla RNN", "lstm": "LSTM"}
_COLORS = {"rnn": "tab:blue", "lstm": "tab:orange"}


def sweep_figure(summary: Mapping[str, Mapping[int, Mapping[str, float]]], title: str = "") -> Figure:
    """Mean test accuracy vs palindrome length per model, with a ± one standard deviation band.

    ``summary`` is :meth:`gnnhw.recurrent.experiments.SweepResult.summary`: {model: {T: {"mean", "std", "n"}}}.
    """
    fig = Figure(figsize=(6, 3.8))
    ax = fig.subplots()
    for model, by_length in summary.items():
        lengths = sorted(by_length)
        mean = [by_length[t]["mean"] for t in lengths]
        std = [by_length[t]["std"] for t in lengths]
        color = _COLORS.get(model)
        ax.plot(lengths, mean, "o-", color=color, label=_LABELS.get(model, model), markersize=4)
        ax.fill_between(
            lengths,
            [m - s for m, s in zip(mean, std, strict=True)],
            [m + s for m, s in zip(mean, std, strict=True)],
            color=color,
            alpha=0.2,
            linewidth=0,
        )
    ax.axhline(0.1, color="gray", linestyle=":", linewidth=1, label="chance (0.1)")
    ax.set_xlabel("palindrome length T")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def optimizers_figure(runs: Mapping[str, Mapping[str, Any]], title: str = "") -> Figure:
    """Training loss and accuracy vs step, one line per optimizer (records of ``compare_optimizers``)."""
    fig = Figure(figsize=(9, 3.6))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for name, run in runs.items():
        label = f"{name} (test {run['test_accuracy']:.2f})"
        ax_loss.plot(run["curve_steps"], run["train_loss"], label=label)
        ax_acc.plot(run["curve_steps"], run["train_accuracy"], label=label)
    ax_loss.set_ylabel("training loss")
    ax_acc.set_ylabel("training accuracy")
    ax_acc.set_ylim(0, 1.05)
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def gradients_figure(
    untrained: Mapping[str, list[float]], trained: Mapping[str, list[float]], title: str = ""
) -> Figure:
    """||dL/dh_t|| vs time step t on a log scale: one panel untrained, one after training."""
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, norms_by_model, stage in ((axes[0], untrained, "untrained"), (axes[1], trained, "after training")):
        for model, norms in norms_by_model.items():
            ax.semilogy(range(1, len(norms) + 1), norms, color=_COLORS.get(model), label=_LABELS.get(model, model))
        ax.set_title(stage, fontsize=9)
        ax.set_xlabel("time step t")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    axes[0].set_ylabel(r"$\|\partial L / \partial h_t\|$")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
