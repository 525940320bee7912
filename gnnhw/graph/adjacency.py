r"""GCN adjacency matrices: :math:`\tilde{A} = A + I` and :math:`\hat{A} = \tilde{D}^{-1/2} \tilde{A} \tilde{D}^{-1/2}`.

Two conventions meet here, and each function says which one it follows:

* :func:`self_loop_adjacency` follows networkx (``nx.to_numpy_array``): ``Ã[i, j]`` is the weight of the edge
  ``i -> j``.
* :func:`normalized_adjacency` and :func:`gcn_normalize` follow PyG's ``GCNConv`` (flow ``source_to_target``):
  ``Â[i, j]`` is the normalized weight of the edge ``j -> i``, so that a GCN layer computes ``Â @ (X W) + b`` and
  the degree of a node counts the edges that *arrive* at it.

For an undirected graph both give the symmetric :math:`\tilde{D}^{-1/2} \tilde{A} \tilde{D}^{-1/2}` of the
assignment. For a directed graph ``normalized_adjacency(G) = D^-1/2 Ã^T D^-1/2`` with ``D = diag(Ã^T 1)``
(column sums of ``Ã``, i.e. in-degrees plus the self-loop).

**One meaning per graph.** Every input form (a networkx Graph, DiGraph or MultiGraph; a graph file read by
:func:`gnnhw.graph.io.read_graph`; a dense matrix; an ``edge_index`` with ``edge_weight``) means the same graph
under these rules, applied alike by :func:`to_edge_index`, :func:`self_loop_adjacency`,
:func:`normalized_adjacency`, ``GCNLayer`` and the CLI (the rules of PyG's ``gcn_norm``, so ``GCNConv`` agrees):

1. *Parallel edges are summed*: ``A[i, j]`` is the sum of the weights (default 1) of all edges ``i -> j``, as
   networkx's ``to_numpy_array`` and PyG's ``gcn_norm`` (a scatter-add) do. An undirected edge is both
   directions; an undirected self-loop is one loop. Weights that cancel leave an edge of weight 0.
2. *Self-loops* (PyG's ``add_remaining_self_loops``): ``Ã = A`` off the diagonal; ``Ã[i, i]`` is the weight of
   node ``i``'s own self-loop when it has one, *even a weight of 0*, and 1 when it has none; never ``w + 1``.
   A dense matrix cannot state a zero-weight edge, so there a loop exists where ``A[i, i] != 0``; a torch
   sparse matrix's stored entries are its edges (a stored 0 is a zero-weight edge, as in an ``edge_index``).
   An ``edge_index`` that lists one node's self-loop several times is the one case the forms cannot share (every
   other form has summed them into one loop already): there :func:`normalized_adjacency`,
   :func:`self_loop_adjacency` and ``GCNLayer`` keep the *last* one listed, as ``GCNConv`` does on small graphs on
   the CPU (on large ones its indexed assignment keeps an unspecified one, and can differ between two calls).
3. *Degrees*: :math:`\tilde{d}_i = \sum_j \tilde{A}_{j,i}`, the weights arriving at ``i``, its own loop
   included. A node at which no non-zero weight arrives (a lone zero-weight loop; no edge at all without
   self-loops) is isolated: :math:`\tilde{d}_i = 0` and :math:`0^{-1/2} := 0`, as in PyG, so its row and column
   of :math:`\hat{A}` are 0. A node at which non-zero weights arrive and sum to exactly 0 (they cancel) or to less
   than 0 has no :math:`\tilde{d}_i^{-1/2}`: :class:`~gnnhw.errors.DegreeError`, naming the node by its label
   where the input has labels (PyG would return that node as isolated, or NaN).

Memory is checked before it is allocated: a dense ``(N, N)`` result, or an ``edge_index`` whose largest id
implies more nodes than the machine's memory could hold, raises :class:`~gnnhw.errors.GraphError` instead.

What depends only on an ``edge_index``'s structure (its check, the self-loop positions, and the CSR sort orders
:mod:`gnnhw.graph.layers` adds) is memoized per tensor by :func:`cached_on`: computed on first use, dropped with the
tensor, rebuilt whenever its content differs from a private copy (so no write, tracked by torch or not, can make it
serve another graph). Weights and features are never cached.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import warnings
import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import torch
from torch import Tensor

from gnnhw.errors import DegreeError, GraphError, NodeNotFoundError

_INT32_MAX = 2**31 - 1
GraphLike = Any  # a networkx graph, or a square dense adjacency (torch tensor, numpy array, nested lists)


# ----------------------------------------------------------------------------------------------------------------
# Conversions


@contextlib.contextmanager
def quiet_sparse_warnings() -> Any:
    """Silence torch's "sparse CSR support is in beta" / "invariant checks disabled" warnings (they are noise here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Ss]parse.*", category=UserWarning)
        yield


def _dtype(dtype: torch.dtype | None) -> torch.dtype:
    return torch.get_default_dtype() if dtype is None else dtype


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
    dtype = _dtype(dtype)
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


def machine_memory() -> int | None:
    """Bytes of physical memory of this machine, or None where the operating system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(size: float) -> str:
    """``size`` bytes in the largest binary unit that keeps it >= 1 (``"8.0 TiB"``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    raise AssertionError("unreachable")


def dense_size_bytes(num_nodes: int, dtype: torch.dtype | None = None) -> int:
    """Bytes of a dense ``(num_nodes, num_nodes)`` matrix of ``dtype`` (default: torch's default dtype)."""
    return num_nodes * num_nodes * torch.empty((), dtype=_dtype(dtype)).element_size()


def check_dense_size(num_nodes: int, dtype: torch.dtype | None = None, *, what: str = "Ã or Â") -> None:
    """Raise :class:`GraphError` when a dense ``(N, N)`` matrix would not fit in this machine's memory.

    The message gives the estimate and the way out: a sparse result (``sparse=True``) or the edge list
    (:func:`to_edge_index`). Nothing is allocated.
    """
    need, have = dense_size_bytes(num_nodes, dtype), machine_memory()
    if have is not None and need > have:
        raise GraphError(
            f"a dense {what} of {num_nodes} x {num_nodes} nodes ({_dtype(dtype)}) needs {format_bytes(need)}, more "
            f"than this machine's {format_bytes(have)} of memory; use the sparse form (normalized_adjacency(..., "
            "sparse=True)) or the edge list (to_edge_index)"
        )


_BYTES_PER_NODE = 64  # node-sized tensors of the normalization: loops (2 x int64), degree, D^-1/2, loop weights


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
    every node has at most one self-loop; an edge (or loop) of weight 0 is kept (see the module's rules).
    With a ``nodelist`` the rows follow its order and edges to nodes outside it are dropped (the induced subgraph,
    again as networkx). A square dense adjacency is also accepted: ``A[i, j] != 0`` is the edge ``i -> j``, nodes
    are ``0..N-1``; a torch sparse one (COO, CSR, CSC) too, read from its stored entries without densifying it.

    Shapes:
        - **output:** edge_index ``(2, E)`` (int64), edge_weight ``(E,)`` (float), nodes: list of length ``N``

    Raises:
        GraphError: a non-numeric or non-finite weight, a non-square or non-numeric matrix.
        NodeNotFoundError: ``nodelist`` names a node the graph does not have.
    """
    dtype = _dtype(dtype)
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
    _check_node_memory(n, None)
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


def _graph_input(
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
            dtype = edge_weight.dtype if edge_weight is not None else _dtype(None)
        return source, edge_weight, n, None, dtype
    if edge_weight is not None or num_nodes is not None:
        raise GraphError("edge_weight and num_nodes are only accepted with an edge_index, not with a graph")
    dtype = _dtype(dtype)
    edge_index, weight, nodes = to_edge_index(source, nodelist, dtype=dtype)
    return edge_index, weight, len(nodes), nodes, dtype


def self_loop_adjacency(
    graph_or_edge_index: GraphLike | Tensor,
    edge_weight: Tensor | None = None,
    num_nodes: int | None = None,
    *,
    nodelist: Sequence[Hashable] | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    r"""The dense adjacency with self-loops :math:`\tilde{A}` in networkx's convention: ``Ã[i, j]`` = weight of i -> j.

    The module's rules: parallel edges summed; ``Ã[i, i]`` is node ``i``'s own self-loop weight when it has one
    (even 0), else 1 (PyG's ``add_remaining_self_loops``, so ``Ã = A + I`` only for a graph without self-loops);
    for an ``edge_index`` listing one node's loop several times, the last one. Symmetric for an undirected graph.
    :func:`normalized_adjacency` is :math:`\tilde{D}^{-1/2} \tilde{A}^T \tilde{D}^{-1/2}` of exactly this
    matrix, :math:`\tilde{D} = \mathrm{diag}(\tilde{A}^T 1)`.

    Args:
        graph_or_edge_index: a networkx graph (directed or not, multigraphs summed); an integer ``edge_index``
            tensor of shape ``(2, E)`` (a torch integer tensor with 2 rows is always read as edge_index); or a
            square adjacency matrix (dense torch tensor, numpy array, nested lists, or torch sparse; a non-zero
            diagonal entry is a self-loop).
        edge_weight: weights of the edges of ``edge_index`` (default ones). Only with ``edge_index``.
        num_nodes: number of nodes of ``edge_index`` (default: largest id + 1).
        nodelist: order of the rows and columns (default: the graph's node order). Only for networkx graphs.
        dtype: floating dtype of the result (default: ``edge_weight``'s, else torch's default dtype).

    Shapes:
        - **output:** ``(N, N)``

    Raises:
        GraphError: non-square or non-numeric matrix, non-finite or non-numeric weights, a malformed edge_index,
            or a matrix too large for this machine's memory.
        NodeNotFoundError: ``nodelist`` names a node the graph does not have.
    """
    edge_index, edge_weight, n, _, dtype = _graph_input(graph_or_edge_index, edge_weight, num_nodes, nodelist, dtype)
    check_dense_size(n, dtype, what="Ã")
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.shape[1], dtype=dtype, device=edge_index.device)
    source, target, weight = add_remaining_self_loops(edge_index, edge_weight.to(dtype), n)  # rule 2
    a = weight.new_zeros(n, n)
    return a.index_put((source, target), weight, accumulate=True)  # Ã[i, j] += w(i -> j); rule 1: summed


# ----------------------------------------------------------------------------------------------------------------
# Normalization


def check_edge_index(edge_index: Any, num_nodes: int | None = None) -> int:
    """Check that ``edge_index`` is a ``(2, E)`` integer tensor with ids in ``[0, num_nodes)``; return ``num_nodes``.

    Without ``num_nodes`` it is inferred as ``max id + 1`` (0 for no edges). Raises :class:`GraphError`.
    """
    if not isinstance(edge_index, Tensor):
        raise GraphError(f"edge_index must be a torch tensor of shape (2, E), got {type(edge_index).__name__}")
    if edge_index.is_floating_point() or edge_index.is_complex() or edge_index.dtype == torch.bool:
        raise GraphError(f"edge_index has dtype {edge_index.dtype}; expected an integer tensor (torch.long)")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise GraphError(f"edge_index has shape {tuple(edge_index.shape)}; expected (2, E)")
    if num_nodes is not None and (isinstance(num_nodes, bool) or not isinstance(num_nodes, int) or num_nodes < 0):
        raise GraphError(f"num_nodes must be a non-negative integer, got {num_nodes!r}")
    if edge_index.numel() == 0:
        num_nodes = 0 if num_nodes is None else num_nodes
        _check_node_memory(num_nodes, None)
        return num_nodes
    low, high = int(edge_index.min()), int(edge_index.max())
    given = num_nodes is not None
    if num_nodes is None:
        num_nodes = high + 1
    if low < 0 or high >= num_nodes:
        bad = low if low < 0 else high
        raise GraphError(f"edge_index holds node id {bad}; valid ids are 0..{num_nodes - 1} (num_nodes={num_nodes})")
    _check_node_memory(num_nodes, None if given else high)
    return num_nodes


def _check_node_memory(num_nodes: int, largest_id: int | None) -> None:
    """Refuse a node count whose node-sized tensors alone would not fit in memory (an absurd id), before allocating."""
    need, have = num_nodes * _BYTES_PER_NODE, machine_memory()
    if have is not None and need > have:
        cause = (
            f"edge_index holds node id {largest_id}, so num_nodes={num_nodes}"
            if largest_id is not None
            else (f"num_nodes={num_nodes}")
        )
        raise GraphError(
            f"{cause}: its per-node tensors need {format_bytes(need)}, more than this machine's {format_bytes(have)};"
            " number the nodes 0..N-1 (torch.unique(edge_index, return_inverse=True) does)"
        )


def check_degrees(degree: Tensor, target: Tensor, weight: Tensor) -> None:
    r"""Rule 3 of the module: raise :class:`DegreeError` for a node whose non-zero arriving weights sum to <= 0.

    ``degree[i]`` is :math:`\tilde{d}_i`, the sum of the weights ``weight[k]`` of the edges with
    ``target[k] == i``. A node at which no non-zero weight arrives has degree 0 and is isolated (PyG's
    :math:`0^{-1/2} := 0`); a node at which non-zero weights arrive and sum to 0 (they cancel) or less has no
    :math:`\tilde{d}_i^{-1/2}`. The message names the node by its index; :func:`name_degree_error` renames it by
    its label. Costs one comparison when every degree is > 0.
    """
    deg = degree.detach()
    if not bool((deg <= 0).any()):
        return
    arriving = torch.zeros(deg.shape[0], dtype=torch.long, device=deg.device)
    arriving = arriving.index_add(0, target.long(), (weight.detach() != 0).long())  # non-zero weights arriving
    bad = ((deg < 0) | ((deg == 0) & (arriving > 0))).nonzero()
    if bad.numel() > 0:
        index = int(bad[0])
        raise DegreeError(_degree_message(str(index), float(deg[index])), index, float(deg[index]))


def _degree_message(node: str, degree: float) -> str:
    relation = "< 0" if degree < 0 else "= 0 (the weights arriving at it cancel)"
    return (
        f"node {node} has degree {degree:g} {relation}: D̃^-1/2, and so Â, is undefined for it; give it edge "
        "weights with a positive sum (a self-loop of positive weight will do)"
    )


def name_degree_error(err: DegreeError, labels: Sequence[Hashable]) -> DegreeError:
    """The same :class:`DegreeError` with the node named by ``labels[err.index]`` instead of its index."""
    return DegreeError(_degree_message(repr(labels[err.index]), err.degree), err.index, err.degree)


def check_edge_weight(edge_weight: Any, num_edges: int) -> None:
    """Check that ``edge_weight`` is a finite floating ``(E,)`` tensor. Raises :class:`GraphError`."""
    if not isinstance(edge_weight, Tensor):
        raise GraphError(f"edge_weight must be a torch tensor of shape (E,), got {type(edge_weight).__name__}")
    if not edge_weight.is_floating_point():
        raise GraphError(f"edge_weight has dtype {edge_weight.dtype}; expected a floating tensor")
    if edge_weight.shape != (num_edges,):
        raise GraphError(f"edge_weight has shape {tuple(edge_weight.shape)}; expected ({num_edges},), one per edge")
    if not torch.isfinite(edge_weight).all():
        raise GraphError("edge_weight holds NaN or infinite values; expected finite weights")


@dataclass(eq=False)
class _Memo:
    ref: weakref.ref  # the tensor the values were built from
    snapshot: tuple[Tensor, ...]  # a copy of its content (its index tensors if sparse), checked on every use
    store: dict  # key -> value


_CACHE: dict[int, _Memo] = {}  # id(tensor) -> what was built from it


def _structure_parts(tensor: Tensor) -> tuple[Tensor, ...]:
    """The tensors that define ``tensor``'s structure: itself if dense, its index tensors if sparse."""
    if tensor.layout == torch.sparse_coo:
        return (tensor._indices(),)
    if tensor.layout == torch.sparse_csr:
        return (tensor.crow_indices(), tensor.col_indices())
    if tensor.layout == torch.sparse_csc:
        return (tensor.ccol_indices(), tensor.row_indices())
    return (tensor,)


_CHUNK = 1 << 18  # columns compared at once when the snapshot is stored narrower than the tensor


def _snapshot(part: Tensor) -> Tensor:
    """A private copy of ``part``; int64 values that fit in int32 are stored as int32 (half the memory)."""
    part = part.detach()
    if part.dtype == torch.int64 and part.numel() > 0:
        low, high = int(part.min()), int(part.max())
        if -(2**31) <= low and high <= _INT32_MAX:
            return part.to(torch.int32)
    return part.clone()


def _equal(snap: Tensor, part: Tensor) -> bool:
    if snap.shape != part.shape or snap.device != part.device:
        return False
    if snap.dtype == part.dtype:
        return torch.equal(snap, part)
    if part.dtype != torch.int64 or snap.dtype != torch.int32:
        return False
    if part.dim() == 0:
        return torch.equal(snap.to(part.dtype), part)
    # Exact: the narrow snapshot is widened (never the tensor narrowed), a chunk at a time (small temporaries).
    width = part.shape[-1]
    return all(
        torch.equal(snap[..., start : start + _CHUNK].to(part.dtype), part[..., start : start + _CHUNK])
        for start in range(0, width, _CHUNK)
    )


def _same_content(snapshot: tuple[Tensor, ...], parts: tuple[Tensor, ...]) -> bool:
    return len(snapshot) == len(parts) and all(_equal(a, b) for a, b in zip(snapshot, parts, strict=True))


def _forget(ident: int, ref: weakref.ref) -> None:
    memo = _CACHE.get(ident)
    if memo is not None and memo.ref is ref:
        del _CACHE[ident]


def cached_on(tensor: Tensor, key: Hashable, build: Callable[[], Any]) -> Any:
    """``build()``, memoized for ``tensor``'s current content; never served for content that has changed.

    Every call compares ``tensor`` with a private copy taken when the memo was filled (``torch.equal``: one pass
    over the edge_index, a few ms for two million edges); any difference (in-place writes, writes through
    ``.data``, a refilled numpy buffer behind ``torch.from_numpy``, which torch's version counter does not see)
    drops every value built from it. For a sparse tensor its index tensors are compared (values are never cached).
    Entries live as long as the tensor (a weak reference drops them); nothing is attached to the tensor itself.
    Works inside ``torch.inference_mode`` (the copy and the values are built as ordinary tensors). Used for what
    depends only on a graph's structure (self-loop positions, CSR sort orders), never on weights or features.
    """
    ident = id(tensor)
    memo = _CACHE.get(ident)
    # Integer structure only: outside torch.func's wrappers (which cannot take a sparse tensor's indices).
    with torch._C._DisableFuncTorch():
        parts = _structure_parts(tensor)
        if memo is None or memo.ref() is not tensor or not _same_content(memo.snapshot, parts):
            with torch.inference_mode(False):
                snapshot = tuple(_snapshot(part) for part in parts)
            ref = weakref.ref(tensor, lambda ref, ident=ident: _forget(ident, ref))
            memo = _Memo(ref, snapshot, {})
            _CACHE[ident] = memo
        if key not in memo.store:
            with torch.inference_mode(False):  # ordinary tensors, usable later with autograd
                memo.store[key] = build()
    return memo.store[key]


@dataclass(eq=False)
class LoopedGraph:
    """An ``edge_index`` after :func:`add_remaining_self_loops`, without weights: what depends on the structure only.

    ``source[k] -> target[k]`` for the ``E'`` edges that are not self-loops, then the loops ``0..N-1``. ``keep``
    (positions of those ``E'`` edges in the input, ``None`` when there was no self-loop) and ``last_loop`` (position
    of each node's last self-loop in the input, -1 if none) tell how to carry the input's weights over.
    With ``loops=False`` (``add_self_loops=False``) the graph is the input's edges as they are.
    """

    num_nodes: int  # N
    num_edges: int  # E, edges of the input edge_index (self-loops included)
    source: Tensor  # (E' + N,) int32 when N and E fit (half the memory of int64), else int64
    target: Tensor  # (E' + N,) same dtype as source
    keep: Tensor | None  # (E',) int64, or None: every input edge is kept
    last_loop: Tensor | None  # (N,) int64, or None: the input has no self-loop
    extra: dict = field(default_factory=dict)  # derived structure (CSR orders), filled by gnnhw.graph.layers
    loops: bool = True  # whether the loops 0..N-1 were appended

    def weights(self, edge_weight: Tensor, fill_value: float = 1.0) -> Tensor:
        """The input weights ``(E,)`` carried to this graph ``(E' + N,)``: kept edges, then loop weights.

        A node without a self-loop in the input gets ``fill_value`` (1, or 2 for ``improved``)."""
        if not self.loops:
            return edge_weight
        if self.last_loop is None:
            return torch.cat([edge_weight, edge_weight.new_full((self.num_nodes,), fill_value)])
        # The last self-loop of each node wins (as PyG's index_put on the CPU), gathered so its gradient is exact.
        existing = edge_weight[self.last_loop.clamp(min=0)]
        loop_weight = torch.where(self.last_loop >= 0, existing, torch.full_like(existing, fill_value))
        return torch.cat([edge_weight.index_select(0, self.keep), loop_weight])


def _available_memory() -> int:
    """Bytes of memory the machine has available now (Linux), or a generous guess elsewhere."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 40


def check_num_nodes_fits(num_nodes: int, what: str, bytes_per_node: int = 64) -> None:
    """Raise :class:`GraphError` when ``num_nodes`` nodes would need more memory than the machine has.

    ``bytes_per_node`` is the caller's estimate (the edge_index path needs a few index and weight vectors of
    length N, ~64 bytes per node). Guards against absurd node ids (an id of 1e12 implies 1e12 nodes)."""
    need = num_nodes * bytes_per_node
    have = _available_memory()
    if need > have:
        raise GraphError(
            f"{what} implies {num_nodes} nodes, which needs ~{need / 2**30:.3g} GiB (available: "
            f"{have / 2**30:.3g} GiB); relabel the nodes 0..N-1 or pass num_nodes"
        )


def build_looped_graph(edge_index: Tensor, num_nodes: int | None = None, *, add_self_loops: bool = True) -> LoopedGraph:
    """:func:`looped_graph` without the memo (checks ``edge_index``, builds its structure)."""
    n = check_edge_index(edge_index, num_nodes)
    if num_nodes is None:
        check_num_nodes_fits(n, f"edge_index's largest node id {n - 1}")
    index_dtype = torch.int32 if edge_index.shape[1] + n <= _INT32_MAX else torch.long
    src, dst = edge_index[0].to(index_dtype), edge_index[1].to(index_dtype)
    if not add_self_loops:
        return LoopedGraph(n, src.numel(), src, dst, None, None, loops=False)
    loops = torch.arange(n, dtype=index_dtype, device=edge_index.device)
    is_loop = src == dst
    if not bool(is_loop.any()):  # the common case: nothing to remove
        return LoopedGraph(n, src.numel(), torch.cat([src, loops]), torch.cat([dst, loops]), None, None)
    loop_pos = is_loop.nonzero().squeeze(1)  # positions of the existing self-loops
    last = torch.full((n,), -1, dtype=torch.long, device=edge_index.device)
    # last[i] = position of node i's last self-loop, -1 if none
    last = last.scatter_reduce(0, src[loop_pos].long(), loop_pos, reduce="amax")
    keep = (~is_loop).nonzero().squeeze(1)  # positions of the other edges
    source = torch.cat([src.index_select(0, keep), loops])
    return LoopedGraph(n, src.numel(), source, torch.cat([dst.index_select(0, keep), loops]), keep, last)


def looped_graph(edge_index: Tensor, num_nodes: int | None = None, *, add_self_loops: bool = True) -> LoopedGraph:
    """Check ``edge_index`` and add the remaining self-loops (structure only); memoized on ``edge_index``.

    With ``add_self_loops=False`` the edges are taken as they are. The memo is content-checked
    (:func:`cached_on`), so a changed ``edge_index`` is never served an old structure.

    Raises :class:`GraphError` for a malformed ``edge_index``, ids outside ``[0, num_nodes)``, or (without
    ``num_nodes``) a largest id so large that the nodes it implies would not fit in memory.
    """
    if not isinstance(edge_index, Tensor) or edge_index.layout != torch.strided:
        check_edge_index(edge_index, num_nodes)  # raises the GraphError
    return cached_on(
        edge_index,
        ("looped_graph", num_nodes, add_self_loops),
        lambda: build_looped_graph(edge_index, num_nodes, add_self_loops=add_self_loops),
    )


def add_remaining_self_loops(
    edge_index: Tensor, edge_weight: Tensor, num_nodes: int, fill_value: float = 1.0
) -> tuple[Tensor, Tensor, Tensor]:
    """Replace self-loops by one loop per node: weight ``fill_value`` (1), or the node's existing loop weight.

    Same result (and edge order) as ``torch_geometric.utils.add_remaining_self_loops``: the non-loop edges in their
    order, then the loops ``0..N-1``. If a node has several self-loops, the last one is kept. Differentiable with
    respect to ``edge_weight`` (exactly: only the kept loop's weight gets a gradient).

    Shapes:
        - **input:** edge_index ``(2, E)``, edge_weight ``(E,)``
        - **output:** source ``(E' + N,)``, target ``(E' + N,)``, weight ``(E' + N,)`` (E' = non-loop edges)
    """
    graph = looped_graph(edge_index, num_nodes)
    return graph.source.long(), graph.target.long(), graph.weights(edge_weight, fill_value)


def _is_batched(tensor: Tensor) -> bool:
    """Whether ``tensor`` is batched by ``torch.func.vmap`` at any level (then its values cannot be branched on),
    also when another transform wraps it (``vmap(grad(f))``: a grad-tracking tensor around a batched one)."""
    functorch = torch._C._functorch
    while True:
        if functorch.is_batchedtensor(tensor):
            return True
        if not functorch.is_gradtrackingtensor(tensor):
            return False
        tensor = functorch.get_unwrapped(tensor)


def gcn_norm_weights(
    graph: LoopedGraph,
    edge_weight: Tensor | None = None,
    *,
    dtype: torch.dtype | None = None,
    fill_value: float = 1.0,
) -> Tensor:
    r"""The normalized weight of every edge of ``graph``: :math:`\hat{e}_{j,i} = \tilde{e}_{j,i} / \sqrt{\hat{d}_j
    \hat{d}_i}`, :math:`\hat{d}_i = \sum_j \tilde{e}_{j,i}` (degree at the target), :math:`0^{-1/2} := 0`.

    ``edge_weight`` are the weights of the *input* edge_index (default ones); nodes without a self-loop get a loop
    of weight ``fill_value`` (2 is GCNConv's ``improved``). Raises :class:`GraphError` for non-finite weights,
    :class:`~gnnhw.errors.DegreeError` for a degree <= 0 (rule 3 of the module; both unchecked when ``edge_weight``
    is batched by ``torch.func.vmap``: such a degree then gives NaN or infinity, as in PyG).

    Shapes:
        - **input:** edge_weight ``(E,)`` *(optional)*
        - **output:** ``(E' + N,)``, aligned with ``graph.source`` / ``graph.target``
    """
    if edge_weight is None:
        if fill_value == 1.0 or not graph.loops:  # every edge and loop weighs 1
            weight = torch.ones(graph.source.numel(), dtype=_dtype(dtype), device=graph.source.device)
        else:
            weight = graph.weights(
                torch.ones(graph.num_edges, dtype=_dtype(dtype), device=graph.source.device), fill_value
            )
        checked = True
    else:
        checked = not _is_batched(edge_weight)
        if checked:
            check_edge_weight(edge_weight, graph.num_edges)
        elif edge_weight.shape != (graph.num_edges,):
            raise GraphError(f"edge_weight has shape {tuple(edge_weight.shape)}; expected ({graph.num_edges},)")
        weight = graph.weights(edge_weight if dtype is None else edge_weight.to(dtype), fill_value)
    return symmetric_norm(weight, graph.source, graph.target, graph.num_nodes, check=checked)


def symmetric_norm(weight: Tensor, source: Tensor, target: Tensor, num_nodes: int, *, check: bool = True) -> Tensor:
    r""":math:`\hat{e}_k = d_{s_k}^{-1/2} w_k d_{t_k}^{-1/2}` with :math:`d_i = \sum_{k: t_k = i} w_k` (degree at the
    target) and :math:`0^{-1/2} := 0`. Raises :class:`~gnnhw.errors.DegreeError` (if ``check``) for a node whose
    non-zero arriving weights sum to <= 0 (rule 3 of the module).

    Shapes: weight, source, target ``(E,)`` -> ``(E,)``.
    """
    deg = weight.new_zeros(num_nodes).index_add(0, target, weight)  # d_i = sum_j ẽ_{j,i}
    if check:
        check_degrees(deg, target, weight)  # the module's rule 3: non-zero weights summing to <= 0 refused
    deg_inv_sqrt = deg.pow(-0.5)
    deg_inv_sqrt = deg_inv_sqrt.masked_fill(torch.isinf(deg_inv_sqrt), 0.0)  # 0^-1/2 := 0 (isolated nodes)
    # ê_{j,i} = d_j^-1/2 ẽ_{j,i} d_i^-1/2
    return deg_inv_sqrt.index_select(0, source) * weight * deg_inv_sqrt.index_select(0, target)


def gcn_normalize(
    edge_index: Tensor,
    edge_weight: Tensor | None = None,
    num_nodes: int | None = None,
    *,
    dtype: torch.dtype | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Self-loops and symmetric normalization of an ``edge_index``, as PyG's ``gcn_norm`` (no dense matrix).

    .. math::
        \hat{e}_{j,i} = \frac{\tilde{e}_{j,i}}{\sqrt{\hat{d}_j \hat{d}_i}}, \qquad
        \hat{d}_i = \sum_{j} \tilde{e}_{j,i}

    where :math:`\tilde{e}` are the weights after :func:`add_remaining_self_loops` and the degree of node ``i``
    sums the edges that arrive at ``i``. :math:`0^{-1/2} := 0`.

    Returns ``(source, target, norm)``: the edge ``source[k] -> target[k]`` carries ``norm[k]``; the GCN
    aggregation is ``out[target[k]] += norm[k] * h[source[k]]``.

    Shapes:
        - **input:** edge_index ``(2, E)``, edge_weight ``(E,)`` *(optional, default ones)*
        - **output:** three tensors of shape ``(E' + N,)``, E' = number of edges that are not self-loops

    Raises:
        GraphError: malformed edge_index or ids outside ``[0, num_nodes)``, non-finite weights, or weights that
            make a degree negative (then :math:`\hat{A}` is undefined).
    """
    graph = looped_graph(edge_index, num_nodes)
    return graph.source.long(), graph.target.long(), gcn_norm_weights(graph, edge_weight, dtype=dtype)


def normalized_adjacency(
    graph_or_edge_index: GraphLike | Tensor,
    edge_weight: Tensor | None = None,
    num_nodes: int | None = None,
    *,
    nodelist: Sequence[Hashable] | None = None,
    sparse: bool = False,
    dtype: torch.dtype | None = None,
) -> Tensor:
    r"""The GCN propagation matrix :math:`\hat{A} = \tilde{D}^{-1/2} \tilde{A} \tilde{D}^{-1/2}` in PyG's convention.

    It is exactly the matrix ``M`` with ``GCNConv(x, edge_index, edge_weight) == M @ (x @ W) + b``:
    ``M[i, j]`` is the normalized weight of the edge ``j -> i`` (degrees counted at the target), under the module's
    rules (parallel edges summed, self-loops by the ``add_remaining_self_loops`` rule, degrees <= 0 refused). So
    ``M = D̃^-1/2 Ã^T D̃^-1/2`` with ``Ã`` = :func:`self_loop_adjacency` of the same input and
    ``D̃ = diag(Ã^T 1)``; for an undirected graph ``M`` is symmetric and equals ``D̃^-1/2 Ã D̃^-1/2``.

    Args:
        graph_or_edge_index: a networkx graph; or an integer ``edge_index`` tensor of shape ``(2, E)`` (a torch
            integer tensor with 2 rows is always read as edge_index); or a square dense adjacency matrix
            (``A[i, j]`` = weight of ``i -> j``).
        edge_weight: weights of the edges of ``edge_index`` (default ones). Only with ``edge_index``.
        num_nodes: number of nodes of ``edge_index`` (default: largest id + 1).
        nodelist: row/column order for a networkx graph (default: the graph's node order).
        sparse: return a ``torch.sparse_csr`` tensor instead of a dense one.
        dtype: floating dtype (default: ``edge_weight``'s, else torch's default dtype).

    Shapes:
        - **output:** ``(N, N)``, dense or sparse CSR

    Raises:
        GraphError: malformed input, ids out of range (or so large that N-sized tensors would not fit in memory),
            non-finite weights, or a dense result too large for this machine's memory.
        DegreeError: a node whose non-zero arriving weights sum to 0 or less (named by its label for a networkx
            graph).
        NodeNotFoundError: ``nodelist`` names a node the graph does not have.
    """
    edge_index, edge_weight, n, labels, dtype = _graph_input(
        graph_or_edge_index, edge_weight, num_nodes, nodelist, dtype
    )
    if not sparse:
        check_dense_size(n, dtype, what="Â")
    try:
        src, dst, norm = gcn_normalize(edge_index, edge_weight, n, dtype=dtype)
    except DegreeError as err:
        if labels is None:
            raise
        raise name_degree_error(err, labels) from None
    if sparse:
        index = torch.stack([dst, src])  # (2, E'+N): M[i, j] for the edge j -> i
        with quiet_sparse_warnings():
            return torch.sparse_coo_tensor(index, norm, (n, n)).coalesce().to_sparse_csr()  # coalesce sums duplicates
    m = norm.new_zeros(n, n)
    return m.index_put((dst, src), norm, accumulate=True)  # M[i, j] += ê_{j,i}; parallel edges summed
