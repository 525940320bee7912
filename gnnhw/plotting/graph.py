"""Figures of the graph area: receptive fields drawn on the graph, and their sizes against depth."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import networkx as nx
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec

from gnnhw._utils import plural
from gnnhw.plotting import whole_number_ticks

_FIELD = "#f28e2b"  # nodes inside the receptive field
_CENTER = "#e15759"  # the node whose receptive field is shown
_OUTSIDE = "#d9d9d9"  # nodes outside it
_MAX_LABELLED_NODES = 60  # draw node names only on graphs this small
# the size plot's other curves, each in the legend: tab10 without its red (the highlighted node's); the curves
# beyond these share one grey and one legend entry (a recycled colour would name two curves alike)
_OTHER_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_UNLABELLED = "#c8c8c8"


def graph_layout(graph: nx.Graph) -> dict[Hashable, tuple[float, float]]:
    """Deterministic node positions (Kamada-Kawai, which needs no seed); all at the origin for one node."""
    if graph.number_of_nodes() <= 1:
        return {node: (0.0, 0.0) for node in graph.nodes}
    return {node: (float(x), float(y)) for node, (x, y) in nx.kamada_kawai_layout(graph).items()}


def plot_receptive_fields(
    graph: nx.Graph,
    node: Hashable,
    fields: Sequence[set[Hashable]],
    sizes: Mapping[Hashable, Sequence[int]],
    diameter: int | None = None,
    pos: Mapping[Hashable, tuple[float, float]] | None = None,
) -> Figure:
    """Top row: ``graph`` drawn once per depth k = 0..K with ``fields[k]`` (node's receptive field after k
    layers) highlighted. Bottom: receptive-field size against depth for every node (nodes with the same
    curve share one line), with the diameter marked when given.

    Args:
        graph: the graph.
        node: the node whose receptive fields ``fields`` are.
        fields: ``fields[k]`` is the receptive field after k layers, k = 0..K.
        sizes: ``{node: [size at depth 0..K']}``, as from :func:`gnnhw.graph.receptive.receptive_field_sizes`.
        diameter: drawn as a vertical line on the size plot.
        pos: node positions; default :func:`graph_layout`.
    """
    pos = dict(pos) if pos is not None else graph_layout(graph)
    depths = len(fields)
    fig = Figure(figsize=(max(2.4 * depths, 7.0), 6.2), layout="constrained")
    grid = GridSpec(2, depths, figure=fig, height_ratios=[1.0, 1.25])
    labels = graph.number_of_nodes() <= _MAX_LABELLED_NODES
    node_size = 380 if labels else 30
    for k, field in enumerate(fields):
        ax = fig.add_subplot(grid[0, k])
        colors = [_CENTER if v == node else _FIELD if v in field else _OUTSIDE for v in graph.nodes]
        nx.draw_networkx_edges(graph, pos, ax=ax, edge_color="#9a9a9a", width=1.2)
        nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=colors, node_size=node_size, edgecolors="#444444")
        if labels:
            nx.draw_networkx_labels(graph, pos, ax=ax, font_size=9)
        ax.set_title(f"k = {k}: {plural(len(field), 'node')}", fontsize=10)
        ax.set_axis_off()
        ax.margins(0.15)

    fig.suptitle(
        f"Receptive field of {node} after k GCN layers (red: {node}; orange: the nodes whose input reaches it)",
        fontsize=11,
    )
    ax = fig.add_subplot(grid[1, :])
    curves: dict[tuple[int, ...], list[str]] = {}
    highlighted: tuple[int, ...] | None = None
    for v, series in sizes.items():
        curves.setdefault(tuple(series), []).append(str(v))
        if v == node:  # the node itself, not another whose name prints the same
            highlighted = tuple(series)
    # The highlighted node's curve first, in the top row's red: always in the legend, never a recycled colour.
    order = sorted(curves.items(), key=lambda item: item[0] != highlighted)
    others = 0
    for series, members in order:
        label = ", ".join(members) if len(members) <= 8 else f"{', '.join(members[:8])}, ... ({len(members)} nodes)"
        emphasis = series == highlighted
        shown = emphasis or others < len(_OTHER_COLORS)
        ax.plot(
            range(len(series)),
            series,
            marker="o",
            linewidth=2.4 if emphasis else 1.4,
            color=_CENTER if emphasis else _OTHER_COLORS[others] if shown else _UNLABELLED,
            label=label if shown else None,
            zorder=3 if emphasis else 2 if shown else 1,
        )
        others += 0 if emphasis else 1
    if others > len(_OTHER_COLORS):
        ax.plot([], [], color=_UNLABELLED, label=f"{plural(others - len(_OTHER_COLORS), 'more curve')} (grey)")
    if diameter is not None:
        ax.axvline(diameter, color="#555555", linestyle="--", linewidth=1, label=f"diameter = {diameter}")
    max_depth = max((len(s) for s in sizes.values()), default=1) - 1
    ax.set_xticks(range(max_depth + 1))
    whole_number_ticks(ax.yaxis)  # sizes count nodes
    ax.set_xlabel("GCN layers k")
    ax.set_ylabel("receptive-field size (nodes)")
    ax.set_title(f"Receptive-field size against depth (highlighted above: node {node})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(
        fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="node(s)", title_fontsize=8
    )  # off the curves
    return fig
