"""Figures a teacher would put on a slide (issue 12, item 4): every seed shown, nothing drawn outside [0, 1]
for a fraction, log loss axis on divergence, legends covering no curve, bands named, accuracies to 3 digits."""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection, PolyCollection

from gnnhw.graph.config import DepthConfig
from gnnhw.graph.depth import DepthResult, DepthRow
from gnnhw.plotting.planetoid import plot_depth_study
from gnnhw.plotting.recurrent import optimizers_figure, sweep_figure

THREE_DIGITS = re.compile(r"\d\.\d{3}\b")


def _records() -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for model in ("rnn", "lstm"):
        for length in (5, 10, 15):
            for seed in range(5):
                solved = rng.random() < (0.9 if model == "lstm" or length == 5 else 0.3)
                out.append({"model": model, "length": length, "seed": seed, "test_accuracy": 1.0 if solved else 0.1})
    return out


def _draw(fig) -> None:
    fig.canvas.draw()  # lays out (constrained layout) so legend and axes positions are final


def test_sweep_shows_every_seed_as_a_point():
    records = _records()
    fig = sweep_figure(records)
    points = sum(len(c.get_offsets()) for ax in fig.axes for c in ax.collections if isinstance(c, PathCollection))
    assert points == len(records)


def test_sweep_draws_no_band_and_nothing_outside_0_1():
    fig = sweep_figure(_records())
    for ax in fig.axes:
        assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
        for line in ax.get_lines():
            y = np.asarray(line.get_ydata(), dtype=float)
            assert ((y >= 0) & (y <= 1)).all()


def test_sweep_plots_the_fraction_of_seeds_solved():
    fig = sweep_figure(_records())
    fractions = fig.axes[1].get_lines()
    lstm = next(line for line in fractions if line.get_label().startswith("LSTM"))
    by_length: dict[int, list[float]] = {}
    for r in _records():
        if r["model"] == "lstm":
            by_length.setdefault(r["length"], []).append(r["test_accuracy"])
    expected = [sum(a >= 0.99 for a in v) / len(v) for _, v in sorted(by_length.items())]
    assert list(lstm.get_ydata()) == expected


def _runs(diverge: bool) -> dict:
    steps = list(range(10, 110, 10))
    runs = {}
    for i, name in enumerate(("sgd", "adam")):
        loss = [2.3 * 0.7 ** (k * (i + 1)) for k in range(10)]
        runs[name] = {
            "curve_steps": steps,
            "train_loss": loss,
            "train_accuracy": [0.5] * 10,
            "test_accuracy": 0.5 + i / 3,
        }
    if diverge:
        runs["sgd"]["train_loss"] = [2.3 * 3.0**k for k in range(10)]
    return runs


@pytest.mark.parametrize(("diverge", "scale"), [(True, "log"), (False, "linear")])
def test_optimizers_loss_axis_is_log_only_when_a_run_diverges(diverge, scale):
    assert optimizers_figure(_runs(diverge)).axes[0].get_yscale() == scale


def test_optimizers_a_run_that_blew_up_before_its_first_log_is_a_divergence_too():
    # RMSprop at lr 0.05 on the palindromes: first logged loss 20.7, peak 38, the others at 2.3 and below
    runs = _runs(False)
    runs["rmsprop"] = dict(runs["sgd"], train_loss=[20.7, 38.0, 15.0] + [7.0] * 7)
    assert optimizers_figure(runs).axes[0].get_yscale() == "log"


def test_optimizers_runs_on_the_same_curve_stay_apart_by_line_style():
    # SGD and SGD with momentum at lr 0.001 lie on one curve; colour alone hid one under the other
    runs = _runs(False)
    runs["sgd-momentum"] = dict(runs["sgd"])
    runs["rmsprop"] = dict(runs["adam"])
    for ax in optimizers_figure(runs).axes[:2]:
        assert len({line.get_linestyle() for line in ax.get_lines()}) == len(runs)


def test_optimizers_a_non_finite_loss_is_a_divergence_too():
    runs = _runs(False)
    runs["sgd"]["train_loss"][5:] = [None, float("inf"), None, None, None]
    assert optimizers_figure(runs).axes[0].get_yscale() == "log"


def test_optimizers_legend_covers_no_axes_and_gives_three_digits():
    fig = optimizers_figure(_runs(True))
    _draw(fig)
    assert all(ax.get_legend() is None for ax in fig.axes)
    (legend,) = fig.legends
    box = legend.get_window_extent()
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent())
    texts = [t.get_text() for t in legend.get_texts()]
    assert all(THREE_DIGITS.search(t) for t in texts)
    assert "0.833" in " ".join(texts)


def _depth(seeds: int) -> DepthResult:
    config = DepthConfig(depths=(1, 2, 4), variants=("plain", "residual"), seeds=seeds)
    rows = []
    for variant in config.variants:
        for depth in config.depths:
            acc = 0.8 if variant == "residual" or depth < 4 else 0.3  # equal at depths 1 and 2
            rows.append(DepthRow(variant, depth, [acc] * seeds, [0.5] * seeds, 0.01))
    return DepthResult(config, rows)


def test_depth_axis_is_labelled_log2():
    fig = plot_depth_study(_depth(2))
    for ax in fig.axes:
        assert ax.get_xscale() == "log"
        assert "log2" in ax.get_xlabel()


def test_depth_no_line_hides_another_where_values_are_equal():
    fig = plot_depth_study(_depth(1))
    for ax in fig.axes:
        lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 3]
        assert len(lines) == 2
        a, b = (np.c_[line.get_xdata(), line.get_ydata()] for line in lines)
        assert not np.array_equal(a, b)
        styles = {(line.get_marker(), line.get_linestyle()) for line in lines}
        assert len(styles) == 2


def test_depth_legend_names_the_error_bars_and_gives_three_digits():
    fig = plot_depth_study(_depth(3))
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("± 1 std over 3 seeds" in t for t in texts)
    assert "plain (best 0.800 at 1)" in texts


def _training(seeds: int):
    from gnnhw.graph.config import TrainConfig
    from gnnhw.graph.train import SeedResult, TrainResult

    keys = ("train_loss", "val_loss", "train_acc", "val_acc", "test_acc")
    runs = [
        SeedResult(s, 3, 0.7, 0.8 + s / 100, 0.8, 0.01, {k: [0.5 + s / 10, 0.6, 0.7] for k in keys})
        for s in range(seeds)
    ]
    return TrainResult(TrainConfig(), runs, "cpu", 1.0, "process peak RSS", 3, 2, 0, {})


@pytest.mark.parametrize("seeds", [1, 3])
def test_training_curves_name_the_shaded_band_when_there_is_one(seeds):
    from gnnhw.plotting.planetoid import plot_training_curves

    fig = plot_training_curves(_training(seeds))
    for ax in fig.axes:
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert any("shaded: ± 1 std over 3 seeds" in t for t in texts) == (seeds > 1)
        assert bool(bands) == (seeds > 1)
    texts = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert any(THREE_DIGITS.search(t) for t in texts if t.startswith("test"))


def test_training_curves_accuracy_bands_stay_inside_0_1():
    from gnnhw.graph.config import TrainConfig
    from gnnhw.graph.train import SeedResult, TrainResult
    from gnnhw.plotting.planetoid import plot_training_curves

    keys = ("train_loss", "val_loss", "train_acc", "val_acc", "test_acc")
    first, last = (0.0, 0.0, 0.06), (1.0, 1.0, 0.7)  # mean - std < 0 at the first epoch, mean + std > 1 at the last
    runs = [SeedResult(s, 3, 0.7, 0.8, 0.8, 0.01, {k: [first[s], 0.5, last[s]] for k in keys}) for s in range(3)]
    fig = plot_training_curves(TrainResult(TrainConfig(), runs, "cpu", 1.0, "process peak RSS", 3, 2, 0, {}))
    ax_acc = fig.axes[1]
    bands = [c for c in ax_acc.collections if isinstance(c, PolyCollection)]
    assert bands
    for band in bands:
        ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
        assert ys.min() >= 0.0
        assert ys.max() <= 1.0


def test_gnn_vs_rnn_legends_are_readable_and_inside_their_panels():
    from gnnhw.plotting.assignment import gnn_vs_rnn_figure

    gcn = {t: {k: [0.1, 0.1] for k in (1, 2, 4, 8, 12)} for t in (5, 7, 10)}
    recurrent = {m: {t: [0.998, 1.0] for t in (5, 7, 10)} for m in ("rnn", "lstm")}
    fig = gnn_vs_rnn_figure(gcn, recurrent)
    FigureCanvasAgg(fig).draw()  # a real canvas, so that constrained layout places the panels as saved
    for ax in fig.axes:
        legend = ax.get_legend()
        assert min(t.get_fontsize() for t in legend.get_texts()) >= 7
        box, panel = legend.get_window_extent(), ax.get_window_extent()
        assert box.x0 >= panel.x0 - 0.5
        assert box.x1 <= panel.x1 + 0.5


def test_time_step_axes_have_whole_number_ticks():
    from gnnhw.plotting.assignment import bptt_figure
    from gnnhw.plotting.recurrent import gradients_figure

    bptt = bptt_figure([0.0] + [10.0**-t for t in range(19, 0, -1)], [10.0**-t for t in range(20, 0, -1)])
    norms = {"rnn": [10.0**-t for t in range(20, 0, -1)], "lstm": [10.0**-t for t in range(20, 0, -1)]}
    grads = gradients_figure(norms, norms)
    for fig in (bptt, grads):
        FigureCanvasAgg(fig).draw()
        for ax in fig.axes:
            ticks = ax.get_xticks()
            assert len(ticks) >= 3
            assert all(float(t).is_integer() for t in ticks)


@pytest.mark.parametrize("blown", [["sgd"], ["sgd", "sgd-momentum"]])
def test_optimizers_half_the_runs_blown_up_before_their_first_log_is_a_divergence_too(blown):
    # two of four (or one of two) runs starting at 1e6: the median of the starts averaged a sane and a blown-up
    # start (5e5), so the blow-up no longer counted and the sane curves lay flat on a linear axis
    runs = _runs(False)
    if len(blown) == 2:
        runs["sgd-momentum"] = dict(runs["adam"])
        runs["rmsprop"] = dict(runs["adam"])
    for name in blown:
        runs[name] = dict(runs[name], train_loss=[1e6, 4e5] + [1e5] * 8)
    assert optimizers_figure(runs).axes[0].get_yscale() == "log"


def test_count_axes_tick_whole_numbers_also_when_their_range_holds_one():
    # one layer, one time step, a flat curve: MaxNLocator(integer=True) fell back to ticks 0.945, 0.96, ...
    import networkx as nx

    from gnnhw.plotting.assignment import bptt_figure
    from gnnhw.plotting.graph import plot_receptive_fields
    from gnnhw.plotting.recurrent import gradients_figure

    graph = nx.path_graph(["a", "b", "c"])
    flat = plot_receptive_fields(graph, "c", [{"c"}], {"a": [1], "b": [1], "c": [1]})
    axes = [(ax, "y") for ax in flat.axes if ax.get_ylabel()]
    axes += [(ax, "x") for ax in bptt_figure([0.5], [0.5]).axes + gradients_figure({"rnn": [0.5]}, {"rnn": [0.5]}).axes]
    for ax, which in axes:
        FigureCanvasAgg(ax.figure).draw()
        ticks = [t for t in (ax.get_yticks() if which == "y" else ax.get_xticks())]
        lo, hi = ax.get_ylim() if which == "y" else ax.get_xlim()
        shown = [t for t in ticks if lo <= t <= hi]
        assert shown, (which, ticks)
        assert all(float(t).is_integer() for t in shown), (which, shown)


@pytest.mark.parametrize("extra, said", [(1, "1 more curve (grey)"), (2, "2 more curves (grey)")])
def test_receptive_field_legend_counts_its_grey_curves_in_singular_and_plural(extra, said):
    import networkx as nx

    from gnnhw.plotting.graph import _OTHER_COLORS, plot_receptive_fields

    count = len(_OTHER_COLORS) + extra + 1  # the highlighted node's curve, the coloured ones, the grey ones
    graph = nx.empty_graph(count)
    sizes = {v: [1] * (v + 1) for v in range(count)}  # every node its own curve
    fig = plot_receptive_fields(graph, 0, [{0}], sizes)
    labels = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert said in labels
