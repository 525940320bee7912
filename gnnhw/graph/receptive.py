"""Receptive fields of a GCN: which nodes' inputs can reach a node's output after k layers.

One GCN layer (Kipf & Welling, ICLR 2017, eq. 2: https://arxiv.org/abs/1609.02907),
H^(l+1) = σ(Â H^(l) W^(l)) with Â = D̃^-1/2 Ã D̃^-1/2 and Ã = A + I, mixes each node's
features with those of its neighbours (and, through the self-loop in Ã, its own). Â's non-zero pattern
is Ã's, so after k layers node i depends on x_j exactly when (Ã^k)_ij ≠ 0, i.e. when there is a walk of
length ≤ k from j to i: when j is within k hops of i. Two ways of computing that set are given and
tested to agree:

- :func:`receptive_field`: hop-based, from breadth-first search (networkx).
- :func:`empirical_receptive_field`: measured, from the gradient of a real k-layer GCN built from
  :class:`gnnhw.graph.layers.GCNLayer`.

So information needs as many layers ("updates") as there are edges on the shortest path from source to
target (:func:`updates_needed`), and a GCN needs as many layers as the graph's diameter before every node
sees every other (:func:`graph_diameter`; the sizes from :func:`receptive_field_sizes` stop growing there).

Directed graphs: messages flow along an edge's direction, source -> target (as in PyG), so the receptive
field of ``node`` holds the nodes with a directed path *into* ``node``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import NamedTuple

import networkx as nx
import torch

from gnnhw.errors import ConfigError, GraphError, NodeNotFoundError, NoPathError
from gnnhw.graph.config import MAX_LAYERS  # (torch-free, so the CLI's help needs no torch)

_MAX_LISTED = 20  # how many node names an unknown-node message lists


class UpdatePath(NamedTuple):
    """How many GCN updates carry information from a source to a target, and along which path."""

    # number of layers (= edges on ``path``). It shadows tuple.count on purpose: ``.count`` is the public name
    # (the CLI's JSON key), and the result still compares and unpacks as ``(count, path)``.
    count: int  # type: ignore[assignment]
    path: list[Hashable]  # source, ..., target: one shortest path


class Diameter(NamedTuple):
    """The diameter of a graph, or of its largest component when it is not connected."""

    value: int  # longest shortest-path length (in edges) within the component
    connected: bool  # True when the component is the whole graph
    component_size: int  # number of nodes of the component measured
    num_nodes: int  # number of nodes of the whole graph


def check_node(graph: nx.Graph, node: Hashable) -> None:
    """Raise :class:`NodeNotFoundError` naming the known nodes when ``node`` is not in ``graph``."""
    try:
        present = node in graph
    except TypeError:  # unhashable
        present = False
    if not present:
        known = [str(n) for n in list(graph.nodes)[:_MAX_LISTED]]
        more = f", ... ({graph.number_of_nodes()} in all)" if graph.number_of_nodes() > _MAX_LISTED else ""
        raise NodeNotFoundError(f"node {node!r} is not in the graph; known nodes: {', '.join(known)}{more}")


def _check_layers(num_layers: int, name: str = "num_layers") -> None:
    if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 0:
        raise ConfigError(f"{name} must be a non-negative integer, got {num_layers!r}")
    if num_layers > MAX_LAYERS:
        raise ConfigError(
            f"{name} must be at most {MAX_LAYERS} (receptive fields stop growing at the graph's diameter), "
            f"got {num_layers}"
        )


def _incoming(graph: nx.Graph) -> nx.Graph:
    """The graph whose out-going paths are ``graph``'s in-coming ones (a view; itself when undirected)."""
    return graph.reverse(copy=False) if graph.is_directed() else graph


def receptive_field(graph: nx.Graph, node: Hashable, num_layers: int) -> set[Hashable]:
    """The nodes whose input features can influence ``node``'s output after ``num_layers`` GCN layers.

    That is every j within ``num_layers`` hops of ``node`` (for a directed graph: with a directed path of
    at most ``num_layers`` edges from j to ``node``), ``node`` itself included:
    ``{j : d(j, node) <= num_layers}``. Edge weights are ignored: every edge of ``graph`` counts, whatever its
    weight. This is the receptive field of the graph's structure, which a GCN with positive weights realises
    (:func:`empirical_receptive_field`); zero or cancelling weights (see :mod:`gnnhw.graph.adjacency`) can only
    make a real GCN see less.

    Args:
        graph: a :class:`networkx.Graph` or :class:`networkx.DiGraph`.
        node: a node of ``graph``.
        num_layers: k >= 0; k = 0 gives ``{node}``.

    Raises:
        NodeNotFoundError: ``node`` is not in the graph.
        ConfigError: ``num_layers`` is negative or not an integer.

    Example:
        In the assignment's graph (:func:`~gnnhw.graph.examples.assignment_graph`) C's neighbours are B and D:

        >>> from gnnhw.graph.examples import assignment_graph
        >>> sorted(receptive_field(assignment_graph(), "C", 1))
        ['B', 'C', 'D']
    """
    check_node(graph, node)
    _check_layers(num_layers)
    return set(nx.single_source_shortest_path_length(_incoming(graph), node, cutoff=num_layers))


def receptive_field_sizes(
    graph: nx.Graph, max_layers: int, nodes: Iterable[Hashable] | None = None
) -> dict[Hashable, list[int]]:
    """``{node: [|receptive field| after 0, 1, ..., max_layers layers]}`` for ``nodes`` (default: every node).

    Equal to ``len(receptive_field(graph, node, k))`` for each k, from one breadth-first search per node asked
    for (cut off at ``max_layers`` hops), so asking for a few nodes of a large graph costs a few searches.
    Keys follow ``nodes``' order (default: graph order).

    Raises:
        NodeNotFoundError: a node of ``nodes`` is not in the graph.
        ConfigError: ``max_layers`` is negative, not an integer, or above :data:`MAX_LAYERS`.

    Example:
        C, then B and D, then A and F (neighbours of B and D), then E:

        >>> from gnnhw.graph.examples import assignment_graph
        >>> receptive_field_sizes(assignment_graph(), 3, nodes=["C"])
        {'C': [1, 3, 5, 6]}
    """
    _check_layers(max_layers, "max_layers")
    if nodes is None:
        wanted = list(graph.nodes)
    else:
        wanted = list(nodes)
        for node in wanted:
            check_node(graph, node)
    incoming = _incoming(graph)
    sizes: dict[Hashable, list[int]] = {}
    for node in wanted:
        counts = [0] * (max_layers + 1)  # counts[d] = number of nodes at distance exactly d
        for distance in nx.single_source_shortest_path_length(incoming, node, cutoff=max_layers).values():
            counts[distance] += 1
        running, cumulative = 0, []
        for count in counts:
            running += count
            cumulative.append(running)
        sizes[node] = cumulative
    return sizes


@torch.no_grad()
def _positive_(tensor: torch.Tensor, generator: torch.Generator) -> None:
    """Fill ``tensor`` in place with values drawn uniformly from [0.5, 1.5)."""
    tensor.copy_(torch.rand(tensor.shape, generator=generator, dtype=tensor.dtype) + 0.5)


def empirical_receptive_field(graph: nx.Graph, node: Hashable, num_layers: int, seed: int = 0) -> set[Hashable]:
    """The receptive field of ``node`` measured by autograd on a random ``num_layers``-layer GCN.

    Builds H^(0) = X, H^(l+1) = ReLU(Â H^(l) W^(l) + b^(l)) from :class:`~gnnhw.graph.layers.GCNLayer`
    (4 channels per layer), takes y = sum of ``node``'s output row, and returns
    ``{j : ∂y/∂x_j ≠ 0}`` (x_j is node j's input row).

    The network is chosen so that no dependency can vanish by accident: the inputs X, every weight W^(l)
    and every bias b^(l) are drawn from U[0.5, 1.5), strictly positive, and the graph's edges enter with
    weight 1, so Â ≥ 0 with Â_ij > 0 exactly on the edges and self-loops. Then every pre-activation is a
    sum of positive terms, so ReLU is never dead (its derivative is 1 everywhere), and ∂y/∂x_j is a sum
    over walks j -> node of products of positive numbers: positive when such a walk of length ≤ k exists
    (the self-loops let shorter walks wait), exactly 0 otherwise. Nothing can cancel. It is computed in
    float64, so no product underflows on graphs of any sensible size.

    The measured set therefore equals :func:`receptive_field`'s; tests check it on many graphs, so this
    function also checks that :class:`GCNLayer` propagates along edges in the documented direction
    (source -> target).

    Args:
        graph: a :class:`networkx.Graph` or :class:`networkx.DiGraph` (edge weights are ignored).
        node: a node of ``graph``.
        num_layers: k >= 0; k = 0 gives ``{node}`` (y is then node's own input).
        seed: seeds the random inputs and parameters.

    Example:
        >>> from gnnhw.graph.examples import assignment_graph
        >>> graph = assignment_graph()
        >>> empirical_receptive_field(graph, "C", 2) == receptive_field(graph, "C", 2)
        True
    """
    _check_layers(num_layers)
    return empirical_receptive_fields(graph, node, num_layers, seed)[num_layers]


def empirical_receptive_fields(graph: nx.Graph, node: Hashable, max_layers: int, seed: int = 0) -> list[set[Hashable]]:
    """:func:`empirical_receptive_field` for every depth k = 0..``max_layers``, from one forward pass.

    Element k is measured on the first k layers of one random ``max_layers``-layer GCN. Those are exactly
    the layers ``empirical_receptive_field(graph, node, k, seed)`` builds (the parameters are drawn layer
    by layer from the same seeded generator), so element k equals that call's result.
    """
    from gnnhw.graph.adjacency import to_edge_index
    from gnnhw.graph.layers import GCNLayer

    check_node(graph, node)
    _check_layers(max_layers, "max_layers")
    unweighted: nx.Graph = nx.DiGraph() if graph.is_directed() else nx.Graph()
    unweighted.add_nodes_from(graph.nodes)
    unweighted.add_edges_from(graph.edges)
    edge_index, _, nodes = to_edge_index(unweighted)
    index = {name: i for i, name in enumerate(nodes)}
    if set(index) != set(graph.nodes):
        raise GraphError("to_edge_index returned a node list that differs from the graph's nodes")

    channels = 4
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(len(nodes), channels, generator=generator, dtype=torch.float64) + 0.5  # (N, C), all > 0
    x.requires_grad_(True)
    outputs = [x]  # outputs[k] = H^(k), (N, C)
    for _ in range(max_layers):
        layer = GCNLayer(channels, channels).to(torch.float64)
        for param in layer.parameters():
            _positive_(param, generator)
        outputs.append(torch.relu(layer(outputs[-1], edge_index)))  # ReLU is the identity here: all entries > 0
    fields = []
    for h in outputs:
        (grad,) = torch.autograd.grad(h[index[node]].sum(), x, retain_graph=True)  # (N, C): ∂y/∂X
        reached = (grad != 0).any(dim=1)  # (N,)
        fields.append({nodes[i] for i in torch.nonzero(reached).flatten().tolist()})
    return fields


def updates_needed(graph: nx.Graph, source: Hashable, target: Hashable) -> UpdatePath:
    """How many GCN updates (layers) it takes before ``source``'s input reaches ``target``'s output.

    One layer moves information one edge (along the edge's direction in a directed graph), so the count
    is the length of a shortest path from ``source`` to ``target``; 0 when they are the same node.

    When several paths are shortest, the one returned is the first in graph order: at each step it moves to
    the neighbour that comes first in ``graph.nodes`` among those still on a shortest path (for the
    assignment's graph, C -> E gives C, B, A, E rather than C, D, F, E, since B comes before D).

    Raises:
        NodeNotFoundError: ``source`` or ``target`` is not in the graph.
        NoPathError: no path leads from ``source`` to ``target``.

    Example:
        >>> from gnnhw.graph.examples import assignment_graph
        >>> updates_needed(assignment_graph(), "C", "E")
        UpdatePath(count=3, path=['C', 'B', 'A', 'E'])
    """
    check_node(graph, source)
    check_node(graph, target)
    try:  # bounded work: a bidirectional search finds the distance d, then only nodes within d of target are seen
        distance = len(nx.bidirectional_shortest_path(graph, source, target)) - 1
    except nx.NetworkXNoPath:
        raise NoPathError(
            f"no path from {source!r} to {target!r}: information from {source!r} never reaches {target!r}, "
            "however many layers"
        ) from None
    to_target = nx.single_source_shortest_path_length(_incoming(graph), target, cutoff=distance)  # d(v, target)
    order = {name: i for i, name in enumerate(graph.nodes)}
    successors = graph.successors if graph.is_directed() else graph.neighbors
    path = [source]
    while path[-1] != target:
        remaining = to_target[path[-1]]
        step = min((v for v in successors(path[-1]) if to_target.get(v) == remaining - 1), key=order.__getitem__)
        path.append(step)
    return UpdatePath(count=len(path) - 1, path=path)


def graph_diameter(graph: nx.Graph, max_nodes: int | None = None) -> Diameter:
    """The diameter of ``graph``, or of its largest (weakly) connected component if it is not connected.

    The diameter is the longest shortest-path length between two nodes of the component; for a directed
    graph, the longest over the ordered pairs (u, v) where v can be reached from u. For a connected
    undirected graph this is :func:`networkx.diameter`. When several components are largest, the one
    holding the earliest node (in graph order) is measured. A graph with no nodes raises GraphError.

    It takes one breadth-first search per node of the component (time ~ N * (N + E)); ``max_nodes`` bounds that
    work: a component of more nodes raises :class:`GraphError` before any search.

    Example:
        >>> from gnnhw.graph.examples import assignment_graph
        >>> graph_diameter(assignment_graph())
        Diameter(value=3, connected=True, component_size=6, num_nodes=6)
    """
    if graph.number_of_nodes() == 0:
        raise GraphError("the graph has no nodes, so it has no diameter")
    components = nx.weakly_connected_components(graph) if graph.is_directed() else nx.connected_components(graph)
    order = {name: i for i, name in enumerate(graph.nodes)}
    largest = max(components, key=lambda c: (len(c), -min(order[n] for n in c)))
    if max_nodes is not None and len(largest) > max_nodes:
        raise GraphError(
            f"the diameter of a component of {len(largest)} nodes takes {len(largest)} breadth-first searches "
            f"(more than the {max_nodes} allowed here); give the depth you need instead (--max-layers in the CLI)"
        )
    sub = graph.subgraph(largest)
    value = max(max(lengths.values()) for _, lengths in nx.all_pairs_shortest_path_length(sub))
    n = graph.number_of_nodes()
    return Diameter(value=value, connected=len(largest) == n, component_size=len(largest), num_nodes=n)
