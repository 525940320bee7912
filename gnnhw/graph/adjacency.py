r"""GCN adjacency matrices: :math:`\tilde{A} = A + I` and :math:`\hat{A} = \tilde{D}^{-1/2} \tilde{A} \tilde{D}^{-1/2}`.

Notation of Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional Networks", ICLR 2017
(https://arxiv.org/abs/1609.02907, eq. 2): :math:`\tilde{A} = A + I`, :math:`\tilde{D}_{ii} = \sum_j \tilde{A}_{ij}`
its degree matrix (here counted at the target of each edge, see below), :math:`\hat{A}` the propagation matrix.

This module is the public face of four modules, each holding one part (import from here or from
:mod:`gnnhw.graph`; the names below stay importable from this module):

* :mod:`gnnhw.graph.convert`: input forms (networkx, dense, torch sparse) -> ``(edge_index, edge_weight)``;
* :mod:`gnnhw.graph.structure`: the input checks (edge_index, edge_weight, memory), the self-loop rule
  (:func:`add_remaining_self_loops`, :class:`LoopedGraph`) and its memo (:func:`cached_on`);
* :mod:`gnnhw.graph.memo`: :class:`~gnnhw.graph.memo.StructureMemo`, the content-checked per-tensor memo that
  each memoizing module owns one instance of;
* :mod:`gnnhw.graph.matrices`: the formulas, Ã (:func:`self_loop_adjacency`), the degrees of D̃
  (:func:`check_degrees`) and Â (:func:`gcn_normalize`, :func:`normalized_adjacency`).

Two conventions meet here, and each function says which one it follows:

* :func:`self_loop_adjacency` follows networkx (``nx.to_numpy_array``): ``Ã[i, j]`` is the weight of the edge
  ``i -> j``.
* :func:`normalized_adjacency` and :func:`gcn_normalize` follow PyG's ``GCNConv`` (flow ``source_to_target``):
  ``Â[i, j]`` is the normalized weight of the edge ``j -> i``, so that a GCN layer computes ``Â @ (X W) + b`` and
  the degree of a node counts the edges that *arrive* at it.

For an undirected graph both give the symmetric :math:`\tilde{D}^{-1/2} \tilde{A} \tilde{D}^{-1/2}` of the
assignment. For a directed graph ``normalized_adjacency(G) = D̃^-1/2 Ã^T D̃^-1/2`` with ``D̃ = diag(Ã^T 1)``
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

What depends only on an ``edge_index``'s structure (its check, the self-loop positions, the CSR sort orders of
:mod:`gnnhw.graph.layers`) is memoized per tensor, content-checked (:mod:`gnnhw.graph.memo`); weights and
features are never cached.
"""

from __future__ import annotations

from gnnhw.checks import format_bytes, machine_memory
from gnnhw.graph.convert import (
    GraphLike,
    dense_adjacency_tensor,
    graph_input,
    quiet_sparse_warnings,
    to_edge_index,
)
from gnnhw.graph.matrices import (
    check_degrees,
    gcn_norm_weights,
    gcn_normalize,
    name_degree_error,
    normalized_adjacency,
    self_loop_adjacency,
    symmetric_norm,
)
from gnnhw.graph.structure import (
    LoopedGraph,
    add_remaining_self_loops,
    build_looped_graph,
    cached_on,
    check_dense_size,
    check_edge_index,
    check_edge_weight,
    check_node_memory,
    check_num_nodes_fits,
    dense_size_bytes,
    looped_graph,
)

__all__ = [
    "GraphLike",
    "LoopedGraph",
    "add_remaining_self_loops",
    "build_looped_graph",
    "cached_on",
    "check_degrees",
    "check_dense_size",
    "check_edge_index",
    "check_edge_weight",
    "check_node_memory",
    "check_num_nodes_fits",
    "dense_adjacency_tensor",
    "dense_size_bytes",
    "format_bytes",
    "gcn_norm_weights",
    "gcn_normalize",
    "graph_input",
    "looped_graph",
    "machine_memory",
    "name_degree_error",
    "normalized_adjacency",
    "quiet_sparse_warnings",
    "self_loop_adjacency",
    "symmetric_norm",
    "to_edge_index",
]
