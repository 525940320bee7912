"""Figures of the assignment's derivation and comparison commands: BPTT's per-step terms, GNN vs RNN accuracy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

_MODEL_LABELS = {"rnn": "vanilla RNN", "lstm": "LSTM"}
_MODEL_STYLES = {"rnn": ":", "lstm": "-."}


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
    """Test accuracy vs GCN depth k, one line per palindrome length T (the mean over seeds; each seed a point), a
    vertical marker at k = T - 1 (the depth at which the last node first sees the first digit), and the recurrent
    nets' mean accuracy at each T as horizontal lines in the same colour.

    ``gcn`` is {T: {k: [accuracy per seed]}}, ``recurrent`` {model: {T: [accuracy per seed]}}
    (:meth:`gnnhw.experiments.gnn_vs_rnn.GNNvsRNNResult.gcn_accuracy` / ``recurrent_accuracy``).
    """
    import matplotlib as mpl

    fig = Figure(figsize=(7.2, 4.4), layout="constrained")
    ax = fig.subplots()
    colors = mpl.colormaps["tab10"]
    all_depths = sorted({k for by_k in gcn.values() for k in by_k})
    for i, length in enumerate(sorted(gcn)):
        color = colors(i % 10)
        by_k = gcn[length]
        depths = sorted(by_k)
        means = [sum(by_k[k]) / len(by_k[k]) for k in depths]
        ax.plot(depths, means, "o-", color=color, linewidth=2, label=f"GCN, T = {length} (mean over seeds)")
        for k in depths:
            ax.scatter([k] * len(by_k[k]), by_k[k], color=color, s=14, alpha=0.45, zorder=3)
        ax.axvline(length - 1, color=color, linestyle="--", linewidth=1, label=f"k = T - 1 = {length - 1}")
        for model, by_t in recurrent.items():
            if length in by_t:
                accs = by_t[length]
                mean = sum(accs) / len(accs)
                ax.axhline(
                    mean,
                    color=color,
                    linestyle=_MODEL_STYLES.get(model, "-"),
                    linewidth=1.2,
                    alpha=0.8,
                    label=f"{_MODEL_LABELS.get(model, model)}, T = {length}: {mean:.3f}",
                )
    ax.axhline(0.1, color="gray", linestyle=(0, (1, 3)), linewidth=1, label="chance (0.1)")
    ax.set_xticks(all_depths)
    ax.set_xlabel("GCN depth k (graph convolutions)")
    ax.set_ylabel("test accuracy (last digit)")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_title(title or "Palindrome as a path graph: the GCN needs k ≥ T - 1, the RNN shares one cell", fontsize=9)
    return fig
