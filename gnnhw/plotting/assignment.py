"""Figures of the assignment's derivation and comparison commands: BPTT's per-step terms, GNN vs RNN accuracy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from gnnhw.plotting import whole_number_ticks

_MODEL_LABELS = {"rnn": "vanilla RNN", "lstm": "LSTM"}
_SHORT_LABELS = {"rnn": "RNN", "lstm": "LSTM"}


def bptt_figure(
    contributions: Sequence[float],
    delta_norms: Sequence[float],
    cell_grad_norms: Sequence[float] = (),
    model: str = "rnn",
    title: str = "",
) -> Figure:
    r"""Step t's term of dL/dW_hh, :math:`\|\delta_t h_{t-1}^\top\|_F`, and :math:`\|\delta_t\|` over t (log y axis);
    for the LSTM also :math:`\|\partial L/\partial c_t\|`. Zero values (t = 1, where h_0 = 0) are left out of the log
    plot and said so in the legend.
    """
    fig = Figure(figsize=(6.4, 3.9), layout="constrained")
    ax = fig.subplots()
    steps = range(1, len(contributions) + 1)

    def positive(values: Sequence[float]) -> tuple[list[int], list[float]]:
        kept = [(t, v) for t, v in zip(steps, values, strict=True) if v > 0]
        return [t for t, _ in kept], [v for _, v in kept]

    name = "z̄_t" if model == "lstm" else "δ_t"
    t_c, v_c = positive(contributions)
    skipped = len(contributions) - len(t_c)
    note = f" ({skipped} zero term{'s' if skipped != 1 else ''} not drawn)" if skipped else ""
    ax.semilogy(t_c, v_c, "o-", markersize=3, color="tab:blue", label=f"‖{name} h_(t-1)^T‖_F: step t's term{note}")
    t_d, v_d = positive(delta_norms)
    ax.semilogy(t_d, v_d, "s--", markersize=3, color="tab:orange", label=f"‖{name}‖ = ‖dL/d(pre-activation at t)‖")
    if cell_grad_norms:
        t_m, v_m = positive(cell_grad_norms)
        ax.semilogy(t_m, v_m, "^-.", markersize=3, color="tab:green", label="‖dL/dc_t‖ (memory path)")
    ax.set_xlabel("time step t (the loss is at step T, on the right)")
    whole_number_ticks(ax.xaxis)  # time steps: no tick at 2.5
    ax.set_ylabel("Frobenius norm (log scale)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title or f"BPTT, {_MODEL_LABELS.get(model, model)}: dL/dW_hh = Σ_t of these terms", fontsize=9)
    return fig


def gnn_vs_rnn_figure(
    gcn: Mapping[int, Mapping[int, Sequence[float]]],
    recurrent: Mapping[str, Mapping[int, Sequence[float]]],
    title: str = "",
) -> Figure:
    """Left: test accuracy vs GCN depth k, one line per palindrome length T (the mean over seeds; each seed a faint
    point), a dashed vertical marker at k = T - 1 (the depth at which the last node first sees the first digit).
    Right: the recurrent nets at each T (mean as a large marker, seeds as faint points), side by side so that no
    point hides another.

    ``gcn`` is {T: {k: [accuracy per seed]}}, ``recurrent`` {model: {T: [accuracy per seed]}}
    (:meth:`gnnhw.experiments.gnn_vs_rnn.GNNvsRNNResult.gcn_accuracy` / ``recurrent_accuracy``).
    """
    import matplotlib as mpl

    fig = Figure(figsize=(9.0, 4.4), layout="constrained")
    ax, ax_rec = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 1]})
    colors = mpl.colormaps["tab10"]
    lengths = sorted(gcn)
    all_depths = sorted({k for by_k in gcn.values() for k in by_k})
    for i, length in enumerate(lengths):
        color = colors(i % 10)
        by_k = gcn[length]
        depths = sorted(by_k)
        means = [sum(by_k[k]) / len(by_k[k]) for k in depths]
        best = max(means)
        shift = (i - (len(lengths) - 1) / 2) * 0.06  # a small x offset per T, so lines at chance do not hide each other
        xs = [k + shift for k in depths]
        ax.plot(xs, means, "o-", color=color, linewidth=2, label=f"GCN, T = {length} (best mean {best:.3f})")
        for x, k in zip(xs, depths, strict=True):
            ax.scatter([x] * len(by_k[k]), by_k[k], color=color, s=14, alpha=0.4, zorder=3)
        ax.axvline(length - 1, color=color, linestyle="--", linewidth=1, label=f"k = T - 1 = {length - 1}")
    ax.axhline(0.1, color="gray", linestyle=(0, (1, 3)), linewidth=1, label="chance (0.1)")
    ax.set_xticks(all_depths)
    ax.set_xlabel("GCN depth k (graph convolutions)")
    ax.set_ylabel("test accuracy (last digit)")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center right")

    models = list(recurrent)
    offsets = [(i - (len(lengths) - 1) / 2) * 0.18 for i in range(len(lengths))]
    for i, length in enumerate(lengths):
        color = colors(i % 10)
        parts = []
        for j, model in enumerate(models):
            accs = recurrent[model].get(length)
            if not accs:
                continue
            mean = sum(accs) / len(accs)
            x = j + offsets[i]
            ax_rec.scatter([x] * len(accs), accs, color=color, s=14, alpha=0.4, zorder=3)
            ax_rec.scatter([x], [mean], color=color, s=50, marker="D", zorder=4)
            parts.append(f"{_SHORT_LABELS.get(model, model)} {mean:.3f}")  # short: the legend fits the narrow panel
        ax_rec.scatter([], [], color=color, marker="D", label=f"T = {length}: " + ", ".join(parts))
    ax_rec.axhline(0.1, color="gray", linestyle=(0, (1, 3)), linewidth=1)
    ax_rec.set_xticks(range(len(models)), [_MODEL_LABELS.get(m, m) for m in models])
    ax_rec.set_xlim(-0.6, len(models) - 0.4)
    ax_rec.grid(alpha=0.3, axis="y")
    ax_rec.set_title("recurrent nets (one cell, T - 1 steps)", fontsize=8)
    ax_rec.legend(fontsize=7, loc="lower center")  # 6 points is unreadable once the figure is on a slide
    fig.suptitle(title or "Palindrome as a path graph: the GCN needs k ≥ T - 1, the RNN shares one cell", fontsize=9)
    return fig
