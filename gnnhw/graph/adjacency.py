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

Self-loops follow PyG's ``add_remaining_self_loops``: every node gets a loop of weight 1, *unless it already has
one*, in which case its existing loop (with its own weight) is kept instead of adding 1. If a node has several
self-loops in an ``edge_index``, the last one is kept, as PyG does on the CPU (PyG then gives *every* one of them
the kept loop's gradient; here only the kept one gets it, which is the true gradient). Other parallel edges
are summed. A node whose degree is 0 gets :math:`0^{-1/2} := 0` (as PyG), so isolated nodes never produce NaN.

What depends only on an ``edge_index``'s structure (its check, the self-loop positions, and the CSR sort orders
:mod:`gnnhw.graph.layers` adds) is memoized per tensor by :func:`cached_on`: computed on first use, dropped with the
tensor, rebuilt whenever its content differs from a private copy (so no write, tracked by torch or not, can make it
serve another graph). Weights and features are never cached.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import warnings
import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import torch
from torch import Tensor

from gnnhw.errors import GraphError, NodeNotFoundError

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

    Raises :class:`GraphError` when it is not a finite, real, square 2-D matrix.
    """
    dtype = _dtype(dtype)
    if isinstance(adjacency, Tensor):
        if adjacency.is_sparse or adjacency.layout != torch.strided:
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
    Parallel edges of a multigraph are merged into one edge with the summed weight (as ``nx.to_numpy_array``).
    With a ``nodelist`` the rows follow its order and edges to nodes outside it are dropped (the induced subgraph,
    again as networkx). A square dense adjacency is also accepted: ``A[i, j] != 0`` is the edge ``i -> j``, nodes
    are ``0..N-1``.

    Shapes:
        - **output:** edge_index ``(2, E)`` (int64), edge_weight ``(E,)`` (float), nodes: list of length ``N``
    """
    dtype = _dtype(dtype)
    if not isinstance(graph, nx.Graph):
        if nodelist is not None:
            raise GraphError("nodelist is only accepted with a networkx graph, not with a dense adjacency matrix")
        a = dense_adjacency_tensor(graph, dtype=dtype)
        index = a.nonzero().t().contiguous()  # (2, E): row = source, col = target
        return index, a[index[0], index[1]], list(range(a.shape[0]))

    nodes = _resolve_nodelist(graph, nodelist)
    position = {node: i for i, node in enumerate(nodes)}
    weights: dict[tuple[int, int], float] = {}
    for u, v, data in graph.edges(data=True):
        if u not in position or v not in position:
            continue
        key = (position[u], position[v])
        weights[key] = weights.get(key, 0.0) + _edge_weight_value(u, v, data)  # multigraph: parallel edges summed
    pairs = list(weights)
    values = [weights[p] for p in pairs]
    if not graph.is_directed():
        reverse = [(i, j) for (i, j) in pairs if i != j]
        values += [weights[p] for p in reverse]
        pairs += [(j, i) for (i, j) in reverse]
    edge_index = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).t().contiguous()  # (2, E)
    return edge_index, torch.tensor(values, dtype=dtype), nodes


def self_loop_adjacency(
    graph: GraphLike,
    nodelist: Sequence[Hashable] | None = None,
    *,
    dtype: torch.dtype | None = None,
) -> Tensor:
    r"""The dense adjacency with self-loops :math:`\tilde{A} = A + I`, in networkx's convention.

    ``Ã[i, j]`` is the weight of the edge ``nodelist[i] -> nodelist[j]`` (attribute ``"weight"``, default 1;
    symmetric for an undirected graph). Every node gets a self-loop of weight 1, except a node that already has one:
    it keeps its existing loop weight instead (PyG's ``add_remaining_self_loops`` rule), so ``Ã[i, i]`` is never
    ``w + 1``. For a dense input a self-loop exists where ``A[i, i] != 0``.

    Args:
        graph: a networkx graph (directed or not, multigraphs summed), or a square dense adjacency matrix
            (torch tensor, numpy array or nested lists).
        nodelist: order of the rows and columns (default: the graph's node order). Only for networkx graphs.
        dtype: floating dtype of the result (default: torch's default dtype).

    Shapes:
        - **output:** ``(N, N)``

    Raises:
        GraphError: non-square or non-numeric matrix, non-finite or non-numeric weights.
        NodeNotFoundError: ``nodelist`` names a node the graph does not have.
    """
    dtype = _dtype(dtype)
    if isinstance(graph, nx.Graph):
        edge_index, edge_weight, nodes = to_edge_index(graph, nodelist, dtype=dtype)
        n = len(nodes)
        a = torch.zeros(n, n, dtype=dtype)
        a.index_put_((edge_index[0], edge_index[1]), edge_weight, accumulate=True)
    else:
        if nodelist is not None:
            raise GraphError("nodelist is only accepted with a networkx graph, not with a dense adjacency matrix")
        a = dense_adjacency_tensor(graph, dtype=dtype).clone()
    diag = a.diagonal()  # a view: writing it writes Ã
    diag.copy_(torch.where(diag != 0, diag, torch.ones_like(diag)))  # Ã_ii = existing loop weight, else 1
    return a


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
        return 0 if num_nodes is None else num_nodes
    low, high = int(edge_index.min()), int(edge_index.max())
    if num_nodes is None:
        num_nodes = high + 1
    if low < 0 or high >= num_nodes:
        bad = low if low < 0 else high
        raise GraphError(f"edge_index holds node id {bad}; valid ids are 0..{num_nodes - 1} (num_nodes={num_nodes})")
    return num_nodes


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


def _same_content(snapshot: tuple[Tensor, ...], parts: tuple[Tensor, ...]) -> bool:
    return len(snapshot) == len(parts) and all(
        a.shape == b.shape and a.dtype == b.dtype and a.device == b.device and torch.equal(a, b)
        for a, b in zip(snapshot, parts, strict=True)
    )


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
                snapshot = tuple(part.detach().clone() for part in parts)
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
    """Whether ``tensor`` is batched by ``torch.func.vmap`` (then its values cannot be branched on)."""
    return torch._C._functorch.is_batchedtensor(tensor)


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
    of weight ``fill_value`` (2 is GCNConv's ``improved``). Raises :class:`GraphError` for non-finite weights or a
    negative degree (both unchecked when ``edge_weight`` is batched by ``torch.func.vmap``: a negative degree
    then gives NaN, as in PyG).

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
    target) and :math:`0^{-1/2} := 0`. Raises :class:`GraphError` for a negative degree (if ``check``).

    Shapes: weight, source, target ``(E,)`` -> ``(E,)``.
    """
    deg = weight.new_zeros(num_nodes).index_add(0, target, weight)  # d_i = sum_j ẽ_{j,i}
    if check and bool((deg.detach() < 0).any()):
        node = int((deg.detach() < 0).nonzero()[0])
        raise GraphError(
            f"node {node} has degree {float(deg[node]):g} < 0 with these edge weights; D^-1/2 is undefined"
        )
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
    ``M[i, j]`` is the normalized weight of the edge ``j -> i`` (degrees counted at the target), self-loops added
    by the ``add_remaining_self_loops`` rule, parallel edges summed. For an undirected graph ``M`` is symmetric and
    equals :math:`\tilde{D}^{-1/2} \tilde{A} \tilde{D}^{-1/2}` with :math:`\tilde{A}` = :func:`self_loop_adjacency`.

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
        GraphError: malformed input, ids out of range, non-finite weights or a negative degree.
        NodeNotFoundError: ``nodelist`` names a node the graph does not have.
    """
    source = graph_or_edge_index
    is_edge_index = (
        isinstance(source, Tensor)
        and source.dim() == 2
        and source.shape[0] == 2
        and not source.is_floating_point()
        and source.dtype != torch.bool
        and not source.is_sparse
    )
    if is_edge_index:
        if nodelist is not None:
            raise GraphError("nodelist is only accepted with a networkx graph, not with edge_index")
        edge_index = source
    else:
        if edge_weight is not None or num_nodes is not None:
            raise GraphError("edge_weight and num_nodes are only accepted with an edge_index, not with a graph")
        edge_index, edge_weight, nodes = to_edge_index(source, nodelist, dtype=dtype)
        num_nodes = len(nodes)
    if dtype is None and edge_weight is not None:
        dtype = edge_weight.dtype
    src, dst, norm = gcn_normalize(edge_index, edge_weight, num_nodes, dtype=dtype)
    n = looped_graph(edge_index, num_nodes).num_nodes
    if sparse:
        index = torch.stack([dst, src])  # (2, E'+N): M[i, j] for the edge j -> i
        with quiet_sparse_warnings():
            return torch.sparse_coo_tensor(index, norm, (n, n)).coalesce().to_sparse_csr()  # coalesce sums duplicates
    m = norm.new_zeros(n, n)
    return m.index_put((dst, src), norm, accumulate=True)  # M[i, j] += ê_{j,i}; parallel edges summed
