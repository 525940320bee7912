r"""The GCN matrices of Kipf & Welling: :math:`\tilde{A} = A + I`, its degrees :math:`\tilde{D}`, and
:math:`\hat{A} = \tilde{D}^{-1/2} \tilde{A} \tilde{D}^{-1/2}`.

Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional Networks", ICLR 2017,
https://arxiv.org/abs/1609.02907 (eq. 2 and section 2.1). What is here: :func:`self_loop_adjacency` (Ã, dense);
the degree rule (:func:`check_degrees`, :func:`name_degree_error`); the per-edge normalization
(:func:`gcn_norm_weights`, :func:`symmetric_norm`, :func:`gcn_normalize`, as PyG's ``gcn_norm``); and
:func:`normalized_adjacency` (Â, dense or sparse CSR). The rules shared by every input form are listed in
:mod:`gnnhw.graph.adjacency`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch
from torch import Tensor

from gnnhw.errors import DegreeError, GraphError
from gnnhw.graph.convert import GraphLike, graph_input, quiet_sparse_warnings
from gnnhw.graph.structure import (
    LoopedGraph,
    add_remaining_self_loops,
    check_dense_size,
    check_edge_weight,
    default_dtype,
    looped_graph,
)


def self_loop_adjacency(
    graph_or_edge_index: GraphLike | Tensor,
    edge_weight: Tensor | None = None,
    num_nodes: int | None = None,
    *,
    nodelist: Sequence[Hashable] | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    r"""The dense adjacency with self-loops :math:`\tilde{A}` in networkx's convention: ``Ã[i, j]`` = weight of i -> j.

    The rules of :mod:`gnnhw.graph.adjacency`: parallel edges summed; ``Ã[i, i]`` is node ``i``'s own self-loop
    weight when it has one (even 0), else 1 (PyG's ``add_remaining_self_loops``, so ``Ã = A + I`` only for a graph
    without self-loops); for an ``edge_index`` listing one node's loop several times, the last one. Symmetric for an
    undirected graph.
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

    Example:
        The path 0 - 1 - 2 (undirected: Ã = A + I, symmetric), then one directed edge 0 -> 1 as an edge_index:

        >>> import networkx as nx
        >>> self_loop_adjacency(nx.path_graph(3))
        tensor([[1., 1., 0.],
                [1., 1., 1.],
                [0., 1., 1.]])
        >>> self_loop_adjacency(torch.tensor([[0], [1]]))  # Ã[0, 1] = weight of 0 -> 1
        tensor([[1., 1.],
                [0., 1.]])
    """
    edge_index, edge_weight, n, _, dtype = graph_input(graph_or_edge_index, edge_weight, num_nodes, nodelist, dtype)
    check_dense_size(n, dtype, what="Ã")
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.shape[1], dtype=dtype, device=edge_index.device)
    source, target, weight = add_remaining_self_loops(edge_index, edge_weight.to(dtype), n)  # rule 2
    a = weight.new_zeros(n, n)
    return a.index_put((source, target), weight, accumulate=True)  # Ã[i, j] += w(i -> j); rule 1: summed


def check_degrees(degree: Tensor, target: Tensor, weight: Tensor) -> None:
    r"""Raise :class:`DegreeError` for a node whose non-zero arriving weights sum to <= 0 (rule 3 of
    :mod:`gnnhw.graph.adjacency`).

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


def is_batched(tensor: Tensor) -> bool:
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
    r"""The normalized weight of every edge of ``graph``: :math:`\hat{e}_{j,i} = \tilde{e}_{j,i} / \sqrt{\tilde{d}_j
    \tilde{d}_i}`, :math:`\tilde{d}_i = \sum_j \tilde{e}_{j,i}` (degree at the target), :math:`0^{-1/2} := 0`.

    ``edge_weight`` are the weights of the *input* edge_index (default ones); nodes without a self-loop get a loop
    of weight ``fill_value`` (2 is GCNConv's ``improved``). Raises :class:`GraphError` for non-finite weights,
    :class:`~gnnhw.errors.DegreeError` for a degree <= 0 (rule 3 of :mod:`gnnhw.graph.adjacency`; both unchecked
    when ``edge_weight`` is batched by ``torch.func.vmap``: such a degree then gives NaN or infinity, as in PyG).

    Shapes:
        - **input:** edge_weight ``(E,)`` *(optional)*
        - **output:** ``(E' + N,)``, aligned with ``graph.source`` / ``graph.target``
    """
    if edge_weight is None:
        if fill_value == 1.0 or not graph.loops:  # every edge and loop weighs 1
            weight = torch.ones(graph.source.numel(), dtype=default_dtype(dtype), device=graph.source.device)
        else:
            weight = graph.weights(
                torch.ones(graph.num_edges, dtype=default_dtype(dtype), device=graph.source.device), fill_value
            )
        checked = True
    else:
        checked = not is_batched(edge_weight)
        if checked:
            check_edge_weight(edge_weight, graph.num_edges)
        elif edge_weight.shape != (graph.num_edges,):
            raise GraphError(f"edge_weight has shape {tuple(edge_weight.shape)}; expected ({graph.num_edges},)")
        weight = graph.weights(edge_weight if dtype is None else edge_weight.to(dtype), fill_value)
    return symmetric_norm(weight, graph.source, graph.target, graph.num_nodes, check=checked)


def symmetric_norm(weight: Tensor, source: Tensor, target: Tensor, num_nodes: int, *, check: bool = True) -> Tensor:
    r""":math:`\hat{e}_k = \tilde{d}_{s_k}^{-1/2} w_k \tilde{d}_{t_k}^{-1/2}` with
    :math:`\tilde{d}_i = \sum_{k: t_k = i} w_k` (the degree of Ã at the target, D̃_ii; ``weight`` holds Ã's
    entries, self-loops included) and :math:`0^{-1/2} := 0`. Raises :class:`~gnnhw.errors.DegreeError` (if
    ``check``) for a node whose non-zero arriving weights sum to <= 0 (rule 3 of :mod:`gnnhw.graph.adjacency`).

    Shapes: weight, source, target ``(E,)`` -> ``(E,)``.
    """
    deg = weight.new_zeros(num_nodes).index_add(0, target, weight)  # d̃_i = sum_j ẽ_{j,i}
    if check:
        check_degrees(deg, target, weight)  # rule 3 of gnnhw.graph.adjacency: non-zero weights summing to <= 0 refused
    deg_inv_sqrt = deg.pow(-0.5)
    deg_inv_sqrt = deg_inv_sqrt.masked_fill(torch.isinf(deg_inv_sqrt), 0.0)  # 0^-1/2 := 0 (isolated nodes)
    # ê_{j,i} = d̃_j^-1/2 ẽ_{j,i} d̃_i^-1/2
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
        \hat{e}_{j,i} = \frac{\tilde{e}_{j,i}}{\sqrt{\tilde{d}_j \tilde{d}_i}}, \qquad
        \tilde{d}_i = \sum_{j} \tilde{e}_{j,i}

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
    ``M[i, j]`` is the normalized weight of the edge ``j -> i`` (degrees counted at the target), under the rules of
    :mod:`gnnhw.graph.adjacency` (parallel edges summed, self-loops by the ``add_remaining_self_loops`` rule,
    degrees <= 0 refused). So
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

    Example:
        The path 0 - 1 - 2 has degrees :math:`\tilde{d} = (2, 3, 2)` (loops included), so
        :math:`\hat{A}_{01} = 1/\sqrt{2 \cdot 3} \approx 0.4082` and :math:`\hat{A}_{11} = 1/3`:

        >>> import networkx as nx
        >>> normalized_adjacency(nx.path_graph(3))
        tensor([[0.5000, 0.4082, 0.0000],
                [0.4082, 0.3333, 0.4082],
                [0.0000, 0.4082, 0.5000]])

        The same formula written out, in float64:

        >>> a_tilde = self_loop_adjacency(nx.path_graph(3), dtype=torch.float64)
        >>> d_inv_sqrt = torch.diag(a_tilde.sum(0).pow(-0.5))  # D̃^-1/2, D̃ = diag(Ã^T 1)
        >>> a_hat = normalized_adjacency(nx.path_graph(3), dtype=torch.float64)
        >>> torch.allclose(a_hat, d_inv_sqrt @ a_tilde.T @ d_inv_sqrt, rtol=0, atol=1e-15)
        True

        A directed edge 0 -> 1 reaches node 1 (row 1, PyG's convention); node 0 only has its loop:

        >>> normalized_adjacency(torch.tensor([[0], [1]]))
        tensor([[1.0000, 0.0000],
                [0.7071, 0.5000]])
    """
    edge_index, edge_weight, n, labels, dtype = graph_input(
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
