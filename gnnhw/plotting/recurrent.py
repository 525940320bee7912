"""Figures of the palindrome experiments (accuracy vs length, optimizer curves, gradients over time)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from gnnhw.plotting import whole_number_ticks

_LABELS = {"rnn": "vanilla RNN", "lstm": "LSTM"}
_COLORS = {"rnn": "tab:blue", "lstm": "tab:orange"}


def sweep_figure(records: Sequence[Mapping[str, Any]], title: str = "", solved: float = 0.99) -> Figure:
    """Test accuracy vs palindrome length: every seed a point (left), the fraction of seeds solved (right).

    A seed either learns a length or stays near chance, so a mean ± std band would leave [0, 1] and hide
    that; the right panel counts the seeds whose test accuracy reaches ``solved``.

    ``records`` are :attr:`gnnhw.recurrent.experiments.SweepResult.records`: dicts with ``model``,
    ``length`` and ``test_accuracy`` (one per model, length and seed).
    """
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    ax_acc, ax_frac = fig.subplots(1, 2, sharex=True)
    groups: dict[str, dict[int, list[float]]] = {}
    for rec in records:
        groups.setdefault(str(rec["model"]), {}).setdefault(int(rec["length"]), []).append(float(rec["test_accuracy"]))
    models = sorted(groups)
    lengths = sorted({t for by_t in groups.values() for t in by_t})
    step = min((b - a for a, b in zip(lengths, lengths[1:], strict=False)), default=1)
    for i, model in enumerate(models):
        by_t = groups[model]
        color = _COLORS.get(model, f"C{i}")
        shift = (i - (len(models) - 1) / 2) * 0.12 * step  # side by side, so no model's points hide another's
        seeds = max(len(v) for v in by_t.values())
        xs, ys = [], []
        for t, accs in sorted(by_t.items()):
            for j, acc in enumerate(accs):  # a small spread per seed, so equal accuracies stay visible
                xs.append(t + shift + (j - (len(accs) - 1) / 2) * 0.03 * step)
                ys.append(acc)
        label = f"{_LABELS.get(model, model)}: each seed ({seeds} per length)"
        ax_acc.scatter(xs, ys, s=16, alpha=0.7, color=color, marker="o" if i % 2 == 0 else "s", label=label)
        fractions = [sum(a >= solved for a in by_t[t]) / len(by_t[t]) for t in sorted(by_t)]
        ax_frac.plot(
            [t + shift for t in sorted(by_t)],
            fractions,
            "o-" if i % 2 == 0 else "s--",
            color=color,
            label=f"{_LABELS.get(model, model)}: fraction of seeds solved",
        )
    ax_acc.axhline(0.1, color="gray", linestyle=":", linewidth=1, label="chance (0.1)")
    ax_acc.set(xlabel="palindrome length T", ylabel="test accuracy", ylim=(-0.03, 1.03), title="every seed")
    ax_frac.set(
        xlabel="palindrome length T",
        ylabel=f"fraction of seeds with accuracy ≥ {solved:g}",
        ylim=(-0.03, 1.03),
        title="fraction of seeds solved",
    )
    for ax in (ax_acc, ax_frac):
        ax.set_xticks(lengths)
        ax.grid(alpha=0.3)
    handles, labels = ax_acc.get_legend_handles_labels()
    more_handles, more_labels = ax_frac.get_legend_handles_labels()
    fig.legend(  # below the panels: a legend inside would cover the points near chance or near 1
        handles + more_handles, labels + more_labels, loc="outside lower center", ncols=3, fontsize=8
    )
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def _loss_values(run: Mapping[str, Any]) -> list[float]:
    """The run's training losses, a diverged (None / non-finite) entry as NaN (not drawn)."""
    return [float(v) if v is not None and math.isfinite(float(v)) else math.nan for v in run["train_loss"]]


_LINESTYLES = ("-", "--", ":", "-.")


def optimizers_figure(runs: Mapping[str, Mapping[str, Any]], title: str = "") -> Figure:
    """Training loss and accuracy vs step, one line per optimizer (records of ``compare_optimizers``).

    The loss axis is logarithmic when a run diverges (its loss rises above 3 times the runs' median starting
    loss, or becomes non-finite), so the other curves are not flattened against the axis. The median, not the
    highest start: a run that blows up before its first logged step starts high itself; the lower median (a start
    measured, never the mean of a sane and a blown-up one), so one of two runs, or two of four, blown up count.
    Each run has its own line style, so a curve lying on another stays visible. The legend sits below the panels,
    covering no curve; it gives each optimizer's test accuracy to three digits.
    """
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    losses = {name: _loss_values(run) for name, run in runs.items()}
    finite = [v for vals in losses.values() for v in vals if not math.isnan(v)]
    starts = [vals[0] for vals in losses.values() if vals and not math.isnan(vals[0])]
    diverged = any(math.isnan(v) for vals in losses.values() for v in vals) or (
        bool(finite) and bool(starts) and max(finite) > 3 * statistics.median_low(starts)
    )
    for i, (name, run) in enumerate(runs.items()):
        label = f"{name} (test accuracy {run['test_accuracy']:.3f})"
        style = _LINESTYLES[i % len(_LINESTYLES)]  # two runs on the same curve both stay visible
        ax_loss.plot(run["curve_steps"], losses[name], label=label, linestyle=style, linewidth=1.6)
        ax_acc.plot(run["curve_steps"], run["train_accuracy"], label=label, linestyle=style, linewidth=1.6)
    if diverged and finite and min(finite) > 0:
        ax_loss.set_yscale("log")
        ax_loss.set_ylabel("training loss (log scale: a run diverged)")
    else:
        ax_loss.set_ylabel("training loss")
    ax_acc.set_ylabel("training accuracy")
    ax_acc.set_ylim(0, 1.05)
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("step")
        ax.grid(alpha=0.3, which="both")
    handles, labels = ax_acc.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)), fontsize=8)
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
        whole_number_ticks(ax.xaxis)  # time steps
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    axes[0].set_ylabel(r"$\|\partial L / \partial h_t\|$")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
