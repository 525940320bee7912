"""The structure of a graph: input checks, the self-loop rule, and its content-checked memo.

What is here: the checks of an ``edge_index`` (:func:`check_edge_index`), of ``edge_weight``
(:func:`check_edge_weight`) and of memory before anything N-sized or N x N is allocated
(:func:`check_dense_size`, :func:`check_node_memory`); :class:`LoopedGraph`, an ``edge_index`` after PyG's
``add_remaining_self_loops`` without its weights (:func:`build_looped_graph`, memoized per tensor by
:func:`looped_graph`); and :func:`add_remaining_self_loops` with the weights carried over. The memo is this module's
own :class:`~gnnhw.graph.memo.StructureMemo` (:func:`cached_on`); weights and features are never memoized.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import Tensor

from gnnhw.checks import format_bytes, machine_memory
from gnnhw.errors import GraphError
from gnnhw.graph.memo import StructureMemo

_INT32_MAX = 2**31 - 1
_BYTES_PER_NODE = 64  # node-sized tensors of the normalization: loops (2 x int64), degree, D̃^-1/2, loop weights

T = TypeVar("T")
_MEMO = StructureMemo()  # this module's memo: the LoopedGraph of an edge_index


def default_dtype(dtype: torch.dtype | None) -> torch.dtype:
    """``dtype``, or torch's default dtype when it is None."""
    return torch.get_default_dtype() if dtype is None else dtype


def cached_on(tensor: Tensor, key: Hashable, build: Callable[[], T]) -> T:
    """``build()``, memoized in this module's :class:`~gnnhw.graph.memo.StructureMemo` for ``tensor``'s content.

    Never served for content that has changed (see :meth:`StructureMemo.get <gnnhw.graph.memo.StructureMemo.get>`).
    """
    return _MEMO.get(tensor, key, build)


def dense_size_bytes(num_nodes: int, dtype: torch.dtype | None = None) -> int:
    """Bytes of a dense ``(num_nodes, num_nodes)`` matrix of ``dtype`` (default: torch's default dtype)."""
    return num_nodes * num_nodes * torch.empty((), dtype=default_dtype(dtype)).element_size()


def check_dense_size(num_nodes: int, dtype: torch.dtype | None = None, *, what: str = "Ã or Â") -> None:
    """Raise :class:`GraphError` when a dense ``(N, N)`` matrix would not fit in this machine's memory.

    The message gives the estimate and the way out: a sparse result (``sparse=True``) or the edge list
    (:func:`to_edge_index`). Nothing is allocated.
    """
    need, have = dense_size_bytes(num_nodes, dtype), machine_memory()
    if need > have:
        raise GraphError(
            f"a dense {what} of {num_nodes} x {num_nodes} nodes ({default_dtype(dtype)}) needs {format_bytes(need)}, "
            f"more than this machine's {format_bytes(have)} of memory; use the sparse form (normalized_adjacency(..., "
            "sparse=True)) or the edge list (to_edge_index)"
        )


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
        check_node_memory(num_nodes, None)
        return num_nodes
    low, high = int(edge_index.min()), int(edge_index.max())
    given = num_nodes is not None
    if num_nodes is None:
        num_nodes = high + 1
    if low < 0 or high >= num_nodes:
        bad = low if low < 0 else high
        raise GraphError(f"edge_index holds node id {bad}; valid ids are 0..{num_nodes - 1} (num_nodes={num_nodes})")
    check_node_memory(num_nodes, None if given else high)
    return num_nodes


def check_node_memory(num_nodes: int, largest_id: int | None) -> None:
    """Refuse a node count whose node-sized tensors alone would not fit in memory (an absurd id), before allocating."""
    need, have = num_nodes * _BYTES_PER_NODE, machine_memory()
    if need > have:
        cause = (
            f"edge_index holds node id {largest_id}, so num_nodes={num_nodes}"
            if largest_id is not None
            else (f"num_nodes={num_nodes}")
        )
        raise GraphError(
            f"{cause}: its per-node tensors need {format_bytes(need)}, more than this machine's {format_bytes(have)};"
            " number the nodes 0..N-1 (torch.unique(edge_index, return_inverse=True) does)"
        )


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
    loops: bool = True  # whether the loops 0..N-1 were appended

    def weights(self, edge_weight: Tensor, fill_value: float = 1.0) -> Tensor:
        """The input weights ``(E,)`` carried to this graph ``(E' + N,)``: kept edges, then loop weights.

        A node without a self-loop in the input gets ``fill_value`` (1, or 2 for ``improved``)."""
        if not self.loops:
            return edge_weight
        if self.last_loop is None or self.keep is None:  # no self-loop in the input (both are None then)
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
