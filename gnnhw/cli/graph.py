"""Subcommands of the graph area: ``gnnhw adjacency`` and ``gnnhw receptive-field``.

Both read a graph from ``--example`` (the assignment's Figure 2) or ``--graph FILE`` (an edge list,
GraphML, GML or ``.adj`` adjacency matrix; see :mod:`gnnhw.graph.io`). The text formatters here
(:func:`format_matrix`, :func:`format_sizes`) are also used by ``examples/receptive_field.py``.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import textwrap
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gnnhw.cli._common import add_format, non_negative_int, print_json

_INPUT_HELP = """\
input (exactly one):
  --example          the assignment's Figure 2: nodes A-F, edges A-B A-E A-F B-C B-D C-D D-F E-F
  --graph FILE       FILE.graphml / FILE.gml: read with networkx
                     FILE.adj: a square adjacency matrix (optional first line of node names)
                     anything else: an edge list, 'u v [weight]' per line (whitespace or commas,
                     '#' comments, blank lines skipped); node names are kept as strings
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``adjacency`` and ``receptive-field``."""
    adjacency = subparsers.add_parser(
        "adjacency",
        help="print a graph's adjacency matrix with self-loops (Ã = A + I) or normalized (Â)",
        description=textwrap.fill(
            "Print the adjacency matrix with self-loops, Ã = A + I, of a graph; with --normalized, the GCN's "
            "propagation matrix Â = D̃^-1/2 Ã D̃^-1/2 (D̃ = the degree matrix of Ã). Rows and columns follow "
            "the graph's node order."
        ),
        epilog=_INPUT_HELP
        + "\nexamples:\n  gnnhw adjacency --example\n  gnnhw adjacency --example --normalized --format json\n"
        "  gnnhw adjacency --graph edges.txt --format csv > A_tilde.csv\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_input(adjacency)
    adjacency.add_argument("--normalized", action="store_true", help="print Â = D̃^-1/2 Ã D̃^-1/2 instead of Ã = A + I")
    adjacency.add_argument(
        "--decimals", type=non_negative_int, default=3, help="decimals of non-integer entries in text (default: 3)"
    )
    add_format(adjacency, ("text", "json", "csv"))
    adjacency.set_defaults(func=_run_adjacency)

    field = subparsers.add_parser(
        "receptive-field",
        help="receptive-field sizes per GCN depth, the diameter, and the updates needed from one node to another",
        description=textwrap.fill(
            "After k GCN layers, a node's output depends on the inputs of the nodes within k hops of it (its "
            "receptive field; along edge direction for directed graphs). This prints the size of every node's "
            "receptive field for k = 0..--max-layers, the graph's diameter (the depth after which every node "
            "sees its whole component), and the number of updates (layers) needed to forward information "
            "from --source to --target, with a shortest path (when several are shortest, the first in node "
            "order: C -> B -> A -> E rather than C -> D -> F -> E on the example)."
        ),
        epilog=_INPUT_HELP
        + "\nexamples:\n  gnnhw receptive-field --example\n  gnnhw receptive-field --example --node C --format json\n"
        "  gnnhw receptive-field --graph edges.txt --source 0 --target 5\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_input(field)
    field.add_argument("--node", help="also list this node's receptive field at each depth; JSON sizes only for it")
    field.add_argument(
        "--max-layers",
        type=non_negative_int,
        default=None,
        help="largest depth k to report (default: the diameter + 1)",
    )
    field.add_argument("--source", help="where the information starts (default: C with --example)")
    field.add_argument("--target", help="where it must arrive (default: E with --example)")
    add_format(field)
    field.set_defaults(func=_run_receptive_field)


def _add_input(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--example", action="store_true", help="the assignment's example graph (Figure 2)")
    group.add_argument("--graph", type=Path, metavar="FILE", help="read the graph from FILE (formats below)")
    parser.add_argument("--directed", action="store_true", help="read an edge-list FILE as directed (u -> v)")


def load_graph(args: argparse.Namespace) -> Any:
    """The graph that ``--example`` / ``--graph FILE`` (and ``--directed``) ask for."""
    if args.example:
        from gnnhw.graph.examples import assignment_graph

        return assignment_graph()
    from gnnhw.graph.io import read_graph

    return read_graph(args.graph, directed=args.directed)


# ---------------------------------------------------------------------------------------------- formatting


def _is_integral(matrix: Sequence[Sequence[float]]) -> bool:
    return all(float(value).is_integer() for row in matrix for value in row)


def matrix_values(matrix: Sequence[Sequence[float]]) -> list[list[float | int]]:
    """The entries as Python numbers: ints when every entry is a whole number (Ã), else floats (Â)."""
    if _is_integral(matrix):
        return [[int(value) for value in row] for row in matrix]
    return [[float(value) for value in row] for row in matrix]


def format_matrix(nodes: Sequence[Hashable], matrix: Sequence[Sequence[float]], decimals: int = 3) -> str:
    """A matrix with labelled rows and columns.

    When every entry is a whole number (Ã) they print as integers; otherwise (Â) with ``decimals`` decimals,
    exact zeros as ``0`` so the sparsity pattern stands out.
    """
    names = [str(node) for node in nodes]
    values = matrix_values(matrix)
    cells = [[str(v) if isinstance(v, int) else "0" if v == 0 else f"{v:.{decimals}f}" for v in row] for row in values]
    width = max([len(c) for row in cells for c in row] + [len(n) for n in names] + [1])
    label = max((len(n) for n in names), default=1)
    lines = [" " * label + "".join(f" {n:>{width}}" for n in names)]
    for name, row in zip(names, cells, strict=True):
        lines.append(f"{name:<{label}}" + "".join(f" {c:>{width}}" for c in row))
    return "\n".join(lines)


def format_sizes(sizes: Mapping[Hashable, Sequence[int]]) -> str:
    """A table: one row per node, one column per depth k."""
    names = [str(node) for node in sizes]
    depths = max((len(s) for s in sizes.values()), default=0)
    headers = [f"k={k}" for k in range(depths)]
    label = max([len(n) for n in names] + [4])
    width = max([len(h) for h in headers] + [len(str(v)) for s in sizes.values() for v in s] + [1])
    lines = [f"{'node':<{label}}" + "".join(f" {h:>{width}}" for h in headers)]
    for name, series in zip(names, sizes.values(), strict=True):
        lines.append(f"{name:<{label}}" + "".join(f" {v:>{width}}" for v in series))
    return "\n".join(lines)


def format_diameter(diameter: Any) -> str:
    """One sentence on the diameter (a :class:`gnnhw.graph.receptive.Diameter`)."""
    if diameter.connected:
        return f"diameter {diameter.value}: every node sees every other after {diameter.value} layer(s)"
    return (
        f"the graph is not connected: diameter {diameter.value} is that of its largest component "
        f"({diameter.component_size} of {diameter.num_nodes} nodes)"
    )


def _matrix(graph: Any, normalized: bool) -> list[list[float]]:
    import torch

    from gnnhw.graph.adjacency import normalized_adjacency, self_loop_adjacency

    nodes = list(graph.nodes)
    build = normalized_adjacency if normalized else self_loop_adjacency
    matrix = build(graph, nodelist=nodes, dtype=torch.float64)
    if matrix.is_sparse:
        matrix = matrix.to_dense()
    return matrix.tolist()


# ---------------------------------------------------------------------------------------------- handlers


def _run_adjacency(args: argparse.Namespace) -> int:
    graph = load_graph(args)
    nodes = list(graph.nodes)
    matrix = _matrix(graph, args.normalized)
    if args.format == "json":
        print_json({"nodes": [str(n) for n in nodes], "matrix": matrix_values(matrix)})
    elif args.format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["", *map(str, nodes)])
        for node, row in zip(nodes, matrix_values(matrix), strict=True):
            writer.writerow([str(node), *row])
        sys.stdout.write(buffer.getvalue())
    else:
        name = graph.graph.get("name") or "graph"
        what = "Â = D̃^-1/2 Ã D̃^-1/2" if args.normalized else "Ã = A + I"
        kind = "directed" if graph.is_directed() else "undirected"
        print(f"{what} of {name} ({graph.number_of_nodes()} nodes, {graph.number_of_edges()} {kind} edges)")
        if graph.is_directed():
            print(
                "(directed: row i, column j holds the normalized weight of the edge j -> i, as in PyG)"
                if args.normalized
                else "(directed: row i, column j holds the weight of the edge i -> j)"
            )
        print(format_matrix(nodes, matrix, args.decimals))
    return 0


def _run_receptive_field(args: argparse.Namespace) -> int:
    from gnnhw.errors import ConfigError
    from gnnhw.graph.receptive import (
        check_node,
        graph_diameter,
        receptive_field,
        receptive_field_sizes,
        updates_needed,
    )

    graph = load_graph(args)
    source, target = args.source, args.target
    if args.example:
        source = "C" if source is None else source
        target = "E" if target is None else target
    if (source is None) != (target is None):
        raise ConfigError("give both --source and --target (or neither), to count the updates between them")
    if args.node is not None:
        check_node(graph, args.node)
    diameter = graph_diameter(graph)
    max_layers = diameter.value + 1 if args.max_layers is None else args.max_layers
    updates = updates_needed(graph, source, target) if source is not None else None
    sizes = receptive_field_sizes(graph, max_layers)
    if args.node is not None:
        sizes = {args.node: sizes[args.node]}

    if args.format == "json":
        print_json(
            {
                "diameter": diameter.value,
                "sizes": {str(node): series for node, series in sizes.items()},
                "updates": None
                if updates is None
                else {
                    "source": str(source),
                    "target": str(target),
                    "count": updates.count,
                    "path": [str(v) for v in updates.path],
                },
            }
        )
        return 0

    name = graph.graph.get("name") or "graph"
    print(f"{name}: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges; {format_diameter(diameter)}")
    print(f"\nReceptive-field size after k GCN layers (nodes whose input can reach the node), k = 0..{max_layers}:")
    print(format_sizes(sizes))
    if args.node is not None:
        print(f"\nReceptive field of {args.node}:")
        order = list(graph.nodes)
        for k in range(max_layers + 1):
            field = receptive_field(graph, args.node, k)
            print(f"  k={k}: {', '.join(str(v) for v in order if v in field)}")
    print()
    if updates is None:
        print("(give --source and --target to count the updates needed between two nodes)")
    else:
        path = " -> ".join(str(v) for v in updates.path)
        print(f"Updates needed to forward information from {source} to {target}: {updates.count} (path {path})")
    return 0
