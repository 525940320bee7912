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
from typing import Any

from gnnhw._utils import plural
from gnnhw.cli._common import add_format, path_arg, print_json
from gnnhw.graph.config import MAX_LAYERS  # torch-free: importing the CLI does not load torch

_INPUT_HELP = """\
input (exactly one):
  --example          the assignment's Figure 2: nodes A-F, edges A-B A-E A-F B-C B-D C-D D-F E-F
  --graph FILE       FILE.graphml / FILE.gml: read with networkx
                     FILE.adj: a square adjacency matrix (optional first line of node names)
                     anything else: an edge list, 'u v [weight]' per line (whitespace or commas,
                     '#' comments, blank lines skipped); node names are kept as strings

one meaning per graph (every input form, and the library, follow these rules):
  parallel edges     summed: 'a b 2' and 'a b 5' are one edge of weight 7 (as networkx and PyG)
  self-loops         Ã[i,i] is node i's own loop weight when it has one (even 0), else 1
                     (PyG's add_remaining_self_loops; in a .adj matrix a 0 entry is no edge)
  degrees            d̃_i = the weights arriving at i in Ã; a node whose non-zero arriving weights
                     sum to 0 (they cancel) or less is refused, naming the node (exit code 2)
"""

# Declared once, with the reason: a float64 carries at most 17 significant decimal digits, so more
# decimals print only rounding noise (and a huge count would build huge strings).
DECIMALS_RANGE = (0, 17)
# Above this many nodes, the size table for every node (one breadth-first search per node) is computed
# only with --all-nodes, and the diameter (one search per node of the largest component) only when no
# --max-layers is given: bounded work for a question about a few nodes of a large graph.
TABLE_NODE_LIMIT = 1_000
DIAMETER_NODE_LIMIT = 2_000
# --plot draws the whole graph once per depth k = 0..K: beyond these a figure is unreadable (and slow to draw).
PLOT_NODE_LIMIT = 200
PLOT_PANEL_LIMIT = 8
# Bytes per entry of a dense N x N matrix printed as text/json/csv: the float64 tensor (8), its Python
# float in a list (8 + 24) and its text (~8): the estimate refused when above the machine's memory.
_DENSE_BYTES_PER_ENTRY = 48


def _int_in(low: int, high: int, why: str) -> Any:
    """argparse type: an integer in [low, high]; the message gives the range and ``why``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer in [{low}, {high}], got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer in [{low}, {high}] ({why}), got {value}")
        return value

    parse.__name__ = f"integer in [{low}, {high}]"
    return parse


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
        + "\nformats: text, json, csv print the dense N x N matrix (refused, with the estimate, when it\n"
        "would not fit in this machine's memory); edges prints one 'source target weight' line per\n"
        "entry of Ã (the edge source -> target) or Â (its normalized weight), as sparse as the graph.\n"
        "\nexamples:\n  gnnhw adjacency --example\n  gnnhw adjacency --example --normalized --format json\n"
        "  gnnhw adjacency --graph edges.txt --format csv > A_tilde.csv\n"
        "  gnnhw adjacency --graph big.txt --normalized --format edges > A_hat.txt\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_input(adjacency)
    adjacency.add_argument("--normalized", action="store_true", help="print Â = D̃^-1/2 Ã D̃^-1/2 instead of Ã = A + I")
    low, high = DECIMALS_RANGE
    adjacency.add_argument(
        "--decimals",
        type=_int_in(low, high, "a float64 has at most 17 significant digits"),
        default=3,
        help=f"decimals of non-integer entries in text, {low}..{high}",  # the formatter appends the default
    )
    add_format(adjacency, ("text", "json", "csv", "edges"))
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
            "order: C -> B -> A -> E rather than C -> D -> F -> E on the example). It does only the work asked: "
            f"the diameter only when it is the default depth (no --max-layers), for a largest component of at most "
            f"{DIAMETER_NODE_LIMIT} nodes; the size table for --node, or for every node of a graph of at most "
            f"{TABLE_NODE_LIMIT} nodes (--all-nodes for more); the updates from a bidirectional search."
        ),
        epilog=_INPUT_HELP
        + "\nexamples:\n  gnnhw receptive-field --example\n  gnnhw receptive-field --example --node C --format json\n"
        "  gnnhw receptive-field --example --node C --plot receptive_field.png\n"
        "  gnnhw receptive-field --graph edges.txt --source 0 --target 5\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_input(field)
    field.add_argument("--node", help="also list this node's receptive field at each depth; sizes only for it")
    field.add_argument(
        "--max-layers",
        type=_int_in(0, MAX_LAYERS, "receptive fields stop growing at the graph's diameter"),
        default=None,
        help=f"largest depth k to report, 0..{MAX_LAYERS} (default: the diameter + 1, computed only then, "
        f"and only for a largest component of at most {DIAMETER_NODE_LIMIT} nodes)",
    )
    field.add_argument(
        "--all-nodes",
        action="store_true",
        help=f"the size table for every node even above {TABLE_NODE_LIMIT} nodes (one search per node)",
    )
    field.add_argument("--source", help="where the information starts (default: C with --example)")
    field.add_argument("--target", help="where it must arrive (default: E with --example)")
    field.add_argument(
        "--plot",
        type=path_arg,
        metavar="FILE",
        help=f"draw --node's receptive field at each depth k and every node's field size against k (PNG, PDF, "
        f"SVG); for graphs of at most {PLOT_NODE_LIMIT} nodes and {PLOT_PANEL_LIMIT} depths (default: none)",
    )
    add_format(field)
    field.set_defaults(func=_run_receptive_field)


def _add_input(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--example", action="store_true", help="the assignment's example graph (Figure 2)")
    group.add_argument("--graph", type=path_arg, metavar="FILE", help="read the graph from FILE (formats below)")
    parser.add_argument("--directed", action="store_true", help="read the --graph edge list as directed (u -> v)")


def load_graph(args: argparse.Namespace) -> Any:
    """The graph that ``--example`` / ``--graph FILE`` (and ``--directed``) ask for."""
    if args.example:
        if args.directed:
            from gnnhw.errors import ConfigError

            raise ConfigError("--directed applies only to an edge-list --graph FILE, not to --example; drop it")
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


def format_diameter(diameter: Any, graph: Any = None) -> str:
    """One sentence on the diameter (a :class:`gnnhw.graph.receptive.Diameter`) of ``graph``.

    A directed graph that is connected only when its edge directions are ignored (not strongly connected)
    has nodes whose input never reaches some others, however deep the GCN: the sentence says so when
    ``graph`` is given.
    """
    import networkx as nx

    if diameter.connected and graph is not None and graph.is_directed() and not nx.is_strongly_connected(graph):
        return (
            f"diameter {diameter.value} (over the ordered pairs where one node reaches the other); directed and not "
            f"strongly connected: some nodes never see some others, however many layers"
        )
    if diameter.connected:
        return f"diameter {diameter.value}: every node sees every other after {plural(diameter.value, 'layer')}"
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


def _check_dense_fits(graph: Any) -> None:
    """Refuse, with the estimate, a dense N x N output that would not fit in this machine's memory."""
    from gnnhw.errors import ConfigError
    from gnnhw.graph.adjacency import format_bytes, machine_memory

    n = graph.number_of_nodes()
    need, have = n * n * _DENSE_BYTES_PER_ENTRY, machine_memory()
    if need > have:
        raise ConfigError(
            f"{graph.graph.get('name') or 'the graph'} has {n} nodes: printing the dense {n} x {n} matrix needs "
            f"about {format_bytes(need)}, more than this machine's {format_bytes(have)}; use --format edges "
            "(one line per non-zero entry)"
        )


def edge_rows(graph: Any, normalized: bool) -> list[tuple[Hashable, Hashable, float]]:
    """The entries of Ã (or Â) as ``(source, target, weight)``, sorted by source then target (node order).

    For Ã: the edge ``source -> target`` with weight ``Ã[source, target]``. For Â: the same edge with its
    normalized weight ``Â[target, source]`` (PyG's convention). Never builds a dense matrix.
    """
    import torch

    from gnnhw.errors import DegreeError
    from gnnhw.graph.adjacency import add_remaining_self_loops, gcn_normalize, name_degree_error, to_edge_index

    edge_index, edge_weight, nodes = to_edge_index(graph, dtype=torch.float64)
    n = len(nodes)
    if normalized:
        try:
            source, target, weight = gcn_normalize(edge_index, edge_weight, n)
        except DegreeError as err:
            raise name_degree_error(err, nodes) from None
    else:
        source, target, weight = add_remaining_self_loops(edge_index, edge_weight, n)
    order = torch.argsort(source * max(n, 1) + target, stable=True)  # (source, target) in node order
    return [
        (nodes[i], nodes[j], w)
        for i, j, w in zip(source[order].tolist(), target[order].tolist(), weight[order].tolist(), strict=True)
    ]


# ---------------------------------------------------------------------------------------------- handlers


def _run_adjacency(args: argparse.Namespace) -> int:
    graph = load_graph(args)
    nodes = list(graph.nodes)
    if args.format == "edges":
        buffer = io.StringIO()
        for u, v, w in edge_rows(graph, args.normalized):
            buffer.write(f"{u} {v} {int(w) if float(w).is_integer() else repr(w)}\n")
        sys.stdout.write(buffer.getvalue())
        return 0
    _check_dense_fits(graph)
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
        counts = f"{plural(graph.number_of_nodes(), 'node')}, {plural(graph.number_of_edges(), kind + ' edge')}"
        print(f"{what} of {name} ({counts})")
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

    if args.plot is not None and args.node is None:
        raise ConfigError("--plot draws one node's receptive field: give --node NODE too")
    if args.plot is not None and args.max_layers is not None:
        _check_panels(args.max_layers)  # before reading the graph
    if args.plot is None:
        return _receptive_field(args)
    from gnnhw.runs import prepare_outputs

    with prepare_outputs(figures=[(args.plot, "--plot")]):  # checked and locked before any work
        return _receptive_field(args)


def _receptive_field(args: argparse.Namespace) -> int:
    from gnnhw.errors import ConfigError
    from gnnhw.graph.receptive import check_node, graph_diameter, receptive_field_sizes, updates_needed

    graph = load_graph(args)
    source, target = args.source, args.target
    if args.example:
        source = "C" if source is None else source
        target = "E" if target is None else target
    if (source is None) != (target is None):
        raise ConfigError("give both --source and --target (or neither), to count the updates between them")
    if args.node is not None:
        check_node(graph, args.node)
    n = graph.number_of_nodes()
    if args.plot is not None:
        _check_plottable(n, 0)  # the size first: before the diameter's searches, whose own refusal would mislead
    if args.node is None and n > TABLE_NODE_LIMIT and args.all_nodes is False:
        table_nodes: list[Hashable] | None = []  # bounded work: no table unless asked for
    else:
        table_nodes = [args.node] if args.node is not None else None  # None: every node
    # The diameter only when it is needed (it is the default depth): one search per node of a component.
    diameter = graph_diameter(graph, max_nodes=DIAMETER_NODE_LIMIT) if args.max_layers is None else None
    max_layers = diameter.value + 1 if diameter is not None else args.max_layers
    if args.plot is not None:
        _check_plottable(graph.number_of_nodes(), max_layers)
    updates = updates_needed(graph, source, target) if source is not None else None
    sizes = receptive_field_sizes(graph, max_layers, table_nodes) if table_nodes != [] else None
    if args.plot is not None:
        _plot_receptive_field(args.plot, graph, args.node, max_layers, diameter)

    if args.format == "json":
        print_json(
            {
                "diameter": None if diameter is None else diameter.value,
                "sizes": None if sizes is None else {str(node): series for node, series in sizes.items()},
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
    about = format_diameter(diameter, graph) if diameter is not None else "diameter not computed (given --max-layers)"
    print(f"{name}: {plural(n, 'node')}, {plural(graph.number_of_edges(), 'edge')}; {about}")
    if sizes is None:
        print(
            f"\nReceptive-field sizes: not computed for all {n} nodes (one search per node); give --node NODE, "
            "or --all-nodes"
        )
    else:
        print(f"\nReceptive-field size after k GCN layers (nodes whose input can reach the node), k = 0..{max_layers}:")
        print(format_sizes(sizes))
    if args.node is not None:
        print(f"\nReceptive field of {args.node}:")
        for line in _field_lines(graph, args.node, max_layers):
            print(f"  {line}")
    print()
    if updates is None:
        print("(give --source and --target to count the updates needed between two nodes)")
    else:
        path = " -> ".join(str(v) for v in updates.path)
        print(f"Updates needed to forward information from {source} to {target}: {updates.count} (path {path})")
    return 0


def _check_plottable(num_nodes: int, max_layers: int) -> None:
    from gnnhw.errors import ConfigError

    if num_nodes > PLOT_NODE_LIMIT:
        raise ConfigError(
            f"--plot draws the whole graph at each depth; {num_nodes} nodes are more than {PLOT_NODE_LIMIT}: "
            "leave out --plot (the sizes are printed), or plot a smaller graph"
        )
    _check_panels(max_layers)


def _check_panels(max_layers: int) -> None:
    from gnnhw.errors import ConfigError

    if max_layers + 1 > PLOT_PANEL_LIMIT:
        raise ConfigError(
            f"--plot draws one panel per depth k = 0..{max_layers}, more than {PLOT_PANEL_LIMIT}: give "
            f"--max-layers {PLOT_PANEL_LIMIT - 1} or less"
        )


def _plot_receptive_field(path: Any, graph: Any, node: Hashable, max_layers: int, diameter: Any) -> None:
    """Write ``node``'s receptive field at k = 0..max_layers and every node's field size against k to ``path``
    (the graph is small: :func:`_check_plottable`)."""
    from gnnhw.graph.receptive import receptive_field, receptive_field_sizes
    from gnnhw.plotting import save_figure
    from gnnhw.plotting.graph import plot_receptive_fields

    fields = [receptive_field(graph, node, k) for k in range(max_layers + 1)]
    sizes = receptive_field_sizes(graph, max_layers)  # every node: the graph is small
    value = None if diameter is None else diameter.value
    save_figure(plot_receptive_fields(graph, node, fields, sizes, diameter=value), path)


def _field_lines(graph: Any, node: Hashable, max_layers: int) -> list[str]:
    """``k=K: nodes`` for k = 0..max_layers from one search; once the field stops growing, one closing line."""
    import networkx as nx

    incoming = graph.reverse(copy=False) if graph.is_directed() else graph
    distance = nx.single_source_shortest_path_length(incoming, node, cutoff=max_layers)  # d(v, node) <= max_layers
    order = [v for v in graph.nodes if v in distance]
    farthest = max(distance.values())
    lines = [f"k={k}: {', '.join(str(v) for v in order if distance[v] <= k)}" for k in range(farthest + 1)]
    if max_layers > farthest:
        depths = f"k={max_layers}" if max_layers == farthest + 1 else f"k={farthest + 1}..{max_layers}"
        lines.append(f"{depths}: the same as k={farthest} (nothing farther reaches {node})")
    return lines
