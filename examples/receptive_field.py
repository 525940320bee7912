"""Receptive fields of a GCN on the assignment's example graph (Figure 2), or on a graph from a file.

Prints Ã = A + I and Â = D̃^-1/2 Ã D̃^-1/2 with labelled rows and columns, the size of every node's
receptive field after k = 0..--max-layers layers (it stops growing at the diameter), the updates needed
to forward information from --source to --target with a shortest path, and checks the chosen node's
receptive fields against autograd on a random GCN. Writes receptive_field.png and receptive_field.json
to --out.

    python examples/receptive_field.py                          # the assignment's graph, node C
    python examples/receptive_field.py --node A --max-layers 3
    python examples/receptive_field.py --graph edges.txt --node 0 --source 0 --target 7
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

from gnnhw.cli._common import non_negative_int, path_arg, write_json
from gnnhw.cli.graph import format_diameter, format_matrix, format_sizes, matrix_values
from gnnhw.errors import GnnhwError
from gnnhw.graph.adjacency import normalized_adjacency, self_loop_adjacency
from gnnhw.graph.examples import assignment_graph
from gnnhw.graph.io import read_graph
from gnnhw.graph.receptive import (
    check_node,
    empirical_receptive_fields,
    graph_diameter,
    receptive_field,
    receptive_field_sizes,
    updates_needed,
)
from gnnhw.plotting import save_figure
from gnnhw.plotting.graph import plot_receptive_fields
from gnnhw.runs import prepare_outputs


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--node", default="C", help="node whose receptive field is drawn (default: C)")
    parser.add_argument("--max-layers", type=non_negative_int, default=4, help="largest depth k (default: 4)")
    parser.add_argument(
        "--graph", type=path_arg, help="read the graph from FILE instead (edge list, .graphml, .gml, .adj)"
    )
    parser.add_argument("--source", default="C", help="count updates from this node (default: C)")
    parser.add_argument("--target", default="E", help="... to this node (default: E)")
    parser.add_argument("--out", type=path_arg, default=Path("out/receptive_field"), help="output folder")
    return parser.parse_args(argv)


def dense(matrix: Tensor) -> list[list[float]]:
    """A dense or sparse matrix as nested lists."""
    return (matrix.to_dense() if matrix.is_sparse else matrix).tolist()


def run(args: argparse.Namespace) -> int:
    with prepare_outputs(folders=[(args.out, "--out")]):  # checked and locked before the work
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    graph = assignment_graph() if args.graph is None else read_graph(args.graph)
    check_node(graph, args.node)
    nodes = list(graph.nodes)
    a_tilde = dense(self_loop_adjacency(graph, nodelist=nodes))
    a_hat = dense(normalized_adjacency(graph, nodelist=nodes))
    diameter = graph_diameter(graph)
    sizes = receptive_field_sizes(graph, args.max_layers)
    fields = [receptive_field(graph, args.node, k) for k in range(args.max_layers + 1)]
    measured = empirical_receptive_fields(graph, args.node, args.max_layers)
    updates = updates_needed(graph, args.source, args.target)

    name = graph.graph.get("name", "graph")
    print(f"Graph: {name}, {len(nodes)} nodes, {graph.number_of_edges()} edges")
    print("\nÃ = A + I:")
    print(format_matrix(nodes, a_tilde))
    print("\nÂ = D̃^-1/2 Ã D̃^-1/2:")
    print(format_matrix(nodes, a_hat, decimals=3))
    print(f"\nReceptive-field size after k GCN layers, k = 0..{args.max_layers} ({format_diameter(diameter, graph)}):")
    print(format_sizes(sizes))
    print(f"\nReceptive field of {args.node}:")
    for k, field in enumerate(fields):
        print(f"  k={k}: {', '.join(str(v) for v in nodes if v in field)}")
    agree = all(a == b for a, b in zip(fields, measured, strict=True))
    print(
        "  hop count and autograd (gradients through the first k layers of a random GCN) "
        + ("agree at every depth" if agree else "DISAGREE (a bug: please report it)")
    )
    path = " -> ".join(str(v) for v in updates.path)
    print(f"\nUpdates needed to forward information from {args.source} to {args.target}: {updates.count} (path {path})")

    payload = {
        "graph": name,
        "nodes": [str(v) for v in nodes],
        "self_loop_adjacency": matrix_values(a_tilde),
        "normalized_adjacency": matrix_values(a_hat),
        "diameter": diameter.value,
        "connected": diameter.connected,
        "node": str(args.node),
        "receptive_field": [[str(v) for v in nodes if v in field] for field in fields],
        "autograd_agrees": agree,
        "sizes": {str(v): series for v, series in sizes.items()},
        "updates": {
            "source": str(args.source),
            "target": str(args.target),
            "count": updates.count,
            "path": [str(v) for v in updates.path],
        },
    }
    write_json(args.out / "receptive_field.json", payload)  # results before decorations: the figure last
    figure = plot_receptive_fields(graph, args.node, fields, sizes, diameter=diameter.value)
    png = save_figure(figure, args.out / "receptive_field.png")
    print(f"\nWrote {png} and {args.out / 'receptive_field.json'}")
    return 0 if agree else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except GnnhwError as err:
        print(f"receptive_field.py: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
