"""Graph input forms converted to PyG's ``(edge_index, edge_weight)``: networkx graphs, dense and sparse matrices.

What is here: :func:`to_edge_index` (a networkx Graph, DiGraph or MultiGraph, a dense matrix as a torch tensor,
numpy array or nested lists, or a torch sparse COO/CSR/CSC matrix -> ``(edge_index, edge_weight, nodes)``),
:func:`dense_adjacency_tensor` (check and convert a dense matrix), ``graph_input`` (any form, an ``edge_index``
included, checked and converted for the functions of :mod:`gnnhw.graph.matrices`) and
:func:`quiet_sparse_warnings`. The rules that make every form mean the same graph (parallel edges summed, ...)
are listed in :mod:`gnnhw.graph.adjacency`.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import warnings
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import networkx as nx
import numpy as np
import torch
from torch import Tensor

from gnnhw.errors import GraphError, NodeNotFoundError
from gnnhw.graph.structure import (
    check_dense_size,
    check_edge_index,
    check_edge_weight,
    check_node_memory,
    default_dtype,
)

GraphLike = Any  # a networkx graph, or a square dense adjacency (torch tensor, numpy array, nested lists)


@contextlib.contextmanager
def quiet_sparse_warnings() -> Iterator[None]:
    """Silence torch's "sparse CSR support is in beta" / "invariant checks disabled" warnings (they are noise here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Ss]parse.*", category=UserWarning)
        yield


def _resolve_nodelist(graph: nx.Graph, nodelist: Sequence[Hashable] | None) -> list[Hashable]:
    if nodelist is None:
        return list(graph.nodes)
    nodes = list(nodelist)
    missing = [n for n in nodes if n not in graph]
    if missing:
        raise NodeNotFoundError(f"nodelist names {missing[0]!r}, which is not a node of the graph")
    if len(set(nodes)) != len(nodes):
        seen: set[Hashable] = set()
        dup = next(n for n in nodes if n in seen or seen.add(n))  # type: ignore[func-returns-value]
        raise GraphError(f"nodelist names node {dup!r} more than once")
    return nodes


def _edge_weight_value(u: Hashable, v: Hashable, data: dict) -> float:
    value = data.get("weight", 1.0)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise GraphError(f"edge ({u!r}, {v!r}) has weight {value!r}; expected a real number")
    value = float(value)
    if not math.isfinite(value):
        raise GraphError(f"edge ({u!r}, {v!r}) has weight {value}; expected a finite number")
    return value


def dense_adjacency_tensor(adjacency: Any, *, dtype: torch.dtype | None = None) -> Tensor:
    """Check and convert a square dense adjacency (torch tensor, numpy array or nested lists) to a float tensor.

    Raises :class:`GraphError` when it is not a finite, real, square 2-D matrix, or when a sparse one would not
    fit in memory once dense.
    """
    dtype = default_dtype(dtype)
    if isinstance(adjacency, Tensor):
        if adjacency.is_sparse or adjacency.layout != torch.strided:
            if adjacency.dim() == 2:
                check_dense_size(adjacency.shape[0], dtype, what="copy of the sparse adjacency")
            adjacency = adjacency.to_dense()
        if adjacency.is_complex() or not (
            adjacency.is_floating_point() or adjacency.dtype.is_signed or adjacency.dtype in (torch.uint8, torch.bool)
        ):
            raise GraphError(f"adjacency matrix has dtype {adjacency.dtype}; expected real numbers")
        a = adjacency.detach().to(dtype)
    else:
        try:
            arr = np.asarray(adjacency)
        except (ValueError, TypeError) as err:  # ragged nested lists
            raise GraphError(f"adjacency matrix is not a rectangular array of numbers ({err})") from None
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise GraphError(f"adjacency matrix holds {arr.dtype} values; expected real numbers")
        a = torch.as_tensor(arr.astype(np.float64)).to(dtype)
    if a.dim() != 2 or a.shape[0] != a.shape[1]:
        raise GraphError(f"adjacency matrix has shape {tuple(a.shape)}; expected a square (N, N) matrix")
    if not torch.isfinite(a).all():
        raise GraphError("adjacency matrix holds NaN or infinite entries; expected finite weights")
    return a


def to_edge_index(
    graph: GraphLike,
    nodelist: Sequence[Hashable] | None = None,
    *,
    dtype: torch.dtype | None = None,
) -> tuple[Tensor, Tensor, list[Hashable]]:
    """Turn a graph into ``(edge_index, edge_weight, nodes)`` in PyG's format.

    ``edge_index[:, k] = (i, j)`` is the edge ``nodes[i] -> nodes[j]`` with weight ``edge_weight[k]`` (attribute
    ``"weight"``, default 1). An undirected edge gives both directions; an undirected self-loop gives one entry.
    Parallel edges of a multigraph are merged into one edge with the summed weight (as ``nx.to_numpy_array``), so
    every node has at most one self-loop; an edge (or loop) of weight 0 is kept (see the rules in
    :mod:`gnnhw.graph.adjacency`).
    With a ``nodelist`` the rows follow its order and edges to nodes outside it are dropped (the induced subgraph,
    again as networkx). A square dense adjacency is also accepted: ``A[i, j] != 0`` is the edge ``i -> j``, nodes
    are ``0..N-1``; a torch sparse one (COO, CSR, CSC) too, read from its stored entries without densifying it.

    Shapes:
        - **output:** edge_index ``(2, E)`` (int64), edge_weight ``(E,)`` (float), nodes: list of length ``N``

    Raises:
        GraphError: a non-numeric or non-finite weight, a non-square or non-numeric matrix.
        NodeNotFoundError: ``nodelist`` names a node the graph does not have.

    Example:
        An undirected edge is both directions; parallel edges are one edge with the summed weight:

        >>> import networkx as nx
        >>> edge_index, edge_weight, nodes = to_edge_index(nx.Graph([("a", "b")]))
        >>> edge_index
        tensor([[0, 1],
                [1, 0]])
        >>> edge_weight
        tensor([1., 1.])
        >>> nodes
        ['a', 'b']
        >>> multi = nx.MultiDiGraph([("a", "b", {"weight": 2.0}), ("a", "b", {"weight": 5.0})])
        >>> to_edge_index(multi)
        (tensor([[0],
                [1]]), tensor([7.]), ['a', 'b'])
    """
    dtype = default_dtype(dtype)
    if not isinstance(graph, nx.Graph):
        if nodelist is not None:
            raise GraphError("nodelist is only accepted with a networkx graph, not with a dense adjacency matrix")
        if isinstance(graph, Tensor) and graph.layout != torch.strided and graph.dim() == 2:
            return _sparse_to_edge_index(graph, dtype)
        a = dense_adjacency_tensor(graph, dtype=dtype)
        index = a.nonzero().t().contiguous()  # (2, E): row = source, col = target
        return index, a[index[0], index[1]], list(range(a.shape[0]))

    nodes = _resolve_nodelist(graph, nodelist)
    position = {node: i for i, node in enumerate(nodes)}
    weights: dict[tuple[int, int], float] = {}
    for u, v, data in graph.edges(data=True):
        if u not in position or v not in position:
            continue
        i, j = position[u], position[v]
        key = (i, j) if graph.is_directed() or i <= j else (j, i)  # undirected: one key per pair
        weights[key] = weights.get(key, 0.0) + _edge_weight_value(u, v, data)  # rule 1: parallel edges summed
    pairs = list(weights)
    values = [weights[p] for p in pairs]
    if not graph.is_directed():
        reverse = [(i, j) for (i, j) in pairs if i != j]
        values += [weights[p] for p in reverse]
        pairs += [(j, i) for (i, j) in reverse]
    edge_index = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).t().contiguous()  # (2, E)
    return edge_index, torch.tensor(values, dtype=dtype), nodes


def _sparse_to_edge_index(adjacency: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor, list[Hashable]]:
    """A torch sparse (COO/CSR/CSC) adjacency as an edge list, never densified: duplicate entries summed.

    Every stored entry is an edge, a stored 0 included (a zero-weight edge, as in an ``edge_index``; a sparse
    matrix can state one, unlike a dense matrix), so ``GCNLayer`` given the same sparse matrix agrees."""
    if adjacency.shape[0] != adjacency.shape[1]:
        raise GraphError(f"adjacency matrix has shape {tuple(adjacency.shape)}; expected a square (N, N) matrix")
    if adjacency.is_complex() or not (adjacency.is_floating_point() or adjacency.dtype.is_signed):
        raise GraphError(f"adjacency matrix has dtype {adjacency.dtype}; expected real numbers")
    n = adjacency.shape[0]
    check_node_memory(n, None)
    coo = adjacency.detach().to_sparse_coo().coalesce()  # rule 1: duplicate entries summed
    values = coo.values().to(dtype)
    if not torch.isfinite(values).all():
        raise GraphError("adjacency matrix holds NaN or infinite entries; expected finite weights")
    return coo.indices().contiguous(), values, list(range(n))  # stored entries are edges, zeros included


def _is_edge_index(source: Any) -> bool:
    """A torch integer tensor with 2 rows is read as an ``edge_index`` (never as a dense 2 x 2 matrix)."""
    return (
        isinstance(source, Tensor)
        and source.dim() == 2
        and source.shape[0] == 2
        and not source.is_floating_point()
        and not source.is_complex()
        and source.dtype != torch.bool
        and source.layout == torch.strided
    )


def graph_input(
    source: Any,
    edge_weight: Tensor | None,
    num_nodes: int | None,
    nodelist: Sequence[Hashable] | None,
    dtype: torch.dtype | None,
) -> tuple[Tensor, Tensor | None, int, list[Hashable] | None, torch.dtype]:
    """Any input form -> ``(edge_index, edge_weight, num_nodes, node labels or None, dtype)``, checked."""
    if _is_edge_index(source):
        if nodelist is not None:
            raise GraphError("nodelist is only accepted with a networkx graph, not with edge_index")
        n = check_edge_index(source, num_nodes)
        if edge_weight is not None:
            check_edge_weight(edge_weight, source.shape[1])
        if dtype is None:
            dtype = edge_weight.dtype if edge_weight is not None else default_dtype(None)
        return source, edge_weight, n, None, dtype
    if edge_weight is not None or num_nodes is not None:
        raise GraphError("edge_weight and num_nodes are only accepted with an edge_index, not with a graph")
    dtype = default_dtype(dtype)
    edge_index, weight, nodes = to_edge_index(source, nodelist, dtype=dtype)
    return edge_index, weight, len(nodes), nodes, dtype
