r"""A graph convolutional layer written from scratch, equal to PyG's ``GCNConv`` (default options).

Built from torch tensor operations only: it never calls PyG. The normalization is the pure function
:func:`gnnhw.graph.adjacency.gcn_normalize`; the aggregation :math:`\hat{A} H` is one sparse CSR matrix product
(:class:`GCNAggregate`, a custom autograd function whose gradients with respect to ``H`` *and* to the edge weights are
exact), so memory stays linear in the number of edges: no dense ``N x N`` matrix and no ``E x F`` message tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gnnhw.errors import GraphError, ShapeError, check_positive_int
from gnnhw.graph.adjacency import LoopedGraph, cached_on, gcn_norm_weights, looped_graph, quiet_sparse_warnings

_SPARSE_LAYOUTS = (torch.sparse_coo, torch.sparse_csr, torch.sparse_csc)
_INT32_MAX = 2**31 - 1


def is_sparse(tensor: Any) -> bool:
    """Whether ``tensor`` is a torch sparse tensor (COO, CSR or CSC)."""
    return isinstance(tensor, Tensor) and tensor.layout in _SPARSE_LAYOUTS


@dataclass(frozen=True)
class CSRPattern:
    """Where each of a list of ``(row, col)`` pairs goes in a CSR matrix: storage entry ``p`` is input ``perm[p]``.

    Duplicate pairs stay separate stored entries (a CSR product sums them, so no coalescing is needed). Indices are
    int32 when they fit, else int64.
    """

    num_nodes: int
    crow: Tensor  # (N + 1,)
    col: Tensor  # (nnz,)
    perm: Tensor  # (nnz,) same dtype as the indices

    @classmethod
    def build(cls, rows: Tensor, cols: Tensor, num_nodes: int) -> CSRPattern:
        index_dtype = torch.int32 if max(num_nodes, rows.numel()) <= _INT32_MAX else torch.int64
        rows = rows.to(index_dtype)
        perm = torch.argsort(rows, stable=True)  # grouped by row, input order within a row
        crow = torch.zeros(num_nodes + 1, dtype=index_dtype, device=rows.device)
        crow[1:] = torch.bincount(rows, minlength=num_nodes).cumsum(0)  # crow[i+1] - crow[i] = entries of row i
        return cls(num_nodes, crow, cols.index_select(0, perm).to(index_dtype), perm.to(index_dtype))

    def matrix(self, values: Tensor) -> Tensor:
        """The ``(N, N)`` CSR matrix with these values (given in input order)."""
        with quiet_sparse_warnings():
            return torch.sparse_csr_tensor(
                self.crow,
                self.col,
                values.index_select(0, self.perm),
                (self.num_nodes, self.num_nodes),
                check_invariants=False,
            )


def _pattern(graph: LoopedGraph, by: str) -> CSRPattern:
    """The CSR pattern of Â (``by="target"``: rows = targets) or of Â^T (``"source"``), memoized on the graph."""
    if by not in graph.extra:
        rows, cols = (graph.target, graph.source) if by == "target" else (graph.source, graph.target)
        graph.extra[by] = CSRPattern.build(rows, cols, graph.num_nodes)
    return graph.extra[by]


class GCNAggregate(torch.autograd.Function):
    r"""``out = Â H`` with ``Â[i, j] = sum of norm[k] over edges k = (j -> i)``, differentiable in ``norm`` and ``H``.

    Forward: one CSR product (rows = targets). Backward:

    .. math::
        \frac{\partial L}{\partial H} = \hat{A}^\top \frac{\partial L}{\partial \mathrm{out}}, \qquad
        \frac{\partial L}{\partial \mathrm{norm}_k} = \Big\langle \frac{\partial L}{\partial \mathrm{out}}_{t_k},
        H_{s_k} \Big\rangle

    the first a CSR product with the transpose (rows = sources), the second a sampled dense-dense product
    (``torch.sparse.sampled_addmm``) on the pattern of ``Â``, so neither builds an ``E x F`` tensor. The two CSR
    patterns (sort orders) depend only on the edge_index and are memoized with it (:func:`looped_graph`).

    Shapes:
        - **input:** norm ``(E' + N,)`` aligned with ``graph.source`` / ``graph.target``, h ``(N, F)``
        - **output:** ``(N, F)``
    """

    @staticmethod
    def forward(ctx: Any, norm: Tensor, h: Tensor, graph: LoopedGraph) -> Tensor:
        adj = _pattern(graph, "target").matrix(norm)  # Â: row = target, col = source
        ctx.graph, ctx.adj = graph, adj if ctx.needs_input_grad[0] else None  # Â's pattern: for dL/dnorm
        ctx.save_for_backward(norm, h if ctx.needs_input_grad[0] else None)  # h: only for dL/dnorm
        return adj @ h.contiguous()  # out_i = sum_{j -> i} norm_{j,i} h_j

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        norm, h = ctx.saved_tensors
        grad_norm = grad_h = None
        grad_out = grad_out.contiguous()
        if ctx.needs_input_grad[1]:
            adj_t = _pattern(ctx.graph, "source").matrix(norm)  # Â^T: row = source, col = target
            grad_h = adj_t @ grad_out  # dL/dH = Â^T dL/dout
        if ctx.needs_input_grad[0]:
            with quiet_sparse_warnings():
                sampled = torch.sparse.sampled_addmm(ctx.adj, grad_out, h.t(), beta=0.0)  # <g_{t_k}, h_{s_k}>
            perm = _pattern(ctx.graph, "target").perm
            grad_norm = torch.empty_like(norm).index_copy_(0, perm.long(), sampled.values())  # CSR order -> edge order
        return grad_norm, grad_h, None


def transpose_csr(adj: Tensor) -> Tensor:
    """``adj.T`` as a CSR matrix (torch's own transpose is CSC, whose products are slow on the CPU)."""
    n_rows, n_cols = adj.shape
    crow, col = adj.crow_indices(), adj.col_indices()
    rows = torch.repeat_interleave(torch.arange(n_rows, device=adj.device), crow.diff().long())  # (nnz,)
    perm = torch.argsort(col, stable=True)  # grouped by column, increasing row within a column
    crow_t = torch.zeros(n_cols + 1, dtype=crow.dtype, device=adj.device)
    crow_t[1:] = torch.bincount(col, minlength=n_cols).cumsum(0)
    with quiet_sparse_warnings():
        return torch.sparse_csr_tensor(
            crow_t, rows.index_select(0, perm).to(crow.dtype), adj.values().index_select(0, perm), (n_cols, n_rows)
        )


class SparseAggregate(torch.autograd.Function):
    r"""``out = Â H`` for a constant sparse CSR ``Â``; backward ``Â^T dL/dout`` with ``Â^T`` memoized with ``Â``.

    Shapes:
        - **input:** h ``(N, F)``, adj ``(N, N)`` CSR
        - **output:** ``(N, F)``
    """

    @staticmethod
    def forward(ctx: Any, h: Tensor, adj: Tensor) -> Tensor:
        ctx.adj = adj
        with quiet_sparse_warnings():
            return adj @ h.contiguous()

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, None]:
        adj = ctx.adj
        adj_t = cached_on(adj, "transpose_csr", lambda: transpose_csr(adj))
        with quiet_sparse_warnings():
            return adj_t @ grad_out.contiguous(), None


def _to_csr(adj: Tensor) -> Tensor:
    return (adj.coalesce() if adj.layout == torch.sparse_coo else adj).to_sparse_csr()


def _sparse_matmul(x: Tensor, weight: Tensor) -> Tensor:
    """``x @ weight`` for a sparse COO/CSR/CSC ``x`` (differentiable in ``weight``)."""
    if x.layout == torch.sparse_csc:
        x = x.to_sparse_csr()
    with quiet_sparse_warnings():
        return torch.sparse.mm(x, weight) if x.layout == torch.sparse_coo else x @ weight


class GCNLayer(nn.Module):
    r"""The graph convolution of Kipf & Welling (2017), from scratch; a drop-in for PyG's ``GCNConv``.

    .. math::
        X' = \hat{D}^{-1/2} \tilde{A} \hat{D}^{-1/2} X W + b, \qquad
        x'_i = W^\top \sum_{j \in \mathcal{N}(i) \cup \{i\}} \frac{e_{j,i}}{\sqrt{\hat{d}_j \hat{d}_i}} x_j + b

    with :math:`\tilde{A} = A + I` (a node that already has a self-loop keeps its weight instead of getting 1),
    :math:`\hat{d}_i = \sum_j \tilde{e}_{j,i}` (edges *arriving* at ``i``, PyG's ``source_to_target`` flow) and
    :math:`e_{j,i}` the weight of the edge ``j -> i`` (default 1). Degree 0 gives :math:`0^{-1/2} := 0`.

    It equals ``GCNConv(in_channels, out_channels, bias=bias)`` once ``conv.lin.weight = layer.weight.T`` and
    ``conv.bias = layer.bias``: same outputs and gradients (tested).

    Args:
        in_channels: size of each input feature vector.
        out_channels: size of each output feature vector.
        bias: learn an additive bias ``b`` (default ``True``).

    Shapes:
        - **input:** node features ``(N, F_in)`` (dense, or torch sparse COO/CSR),
          edge_index ``(2, E)`` or a precomputed sparse :math:`\hat{A}` ``(N, N)`` (CSR or COO, e.g. from
          ``normalized_adjacency(..., sparse=True)``; it is used as is), edge_weight ``(E,)`` *(optional)*
        - **output:** ``(N, F_out)``

    Parameters: ``weight`` ``(F_in, F_out)`` (Glorot-uniform), ``bias`` ``(F_out,)`` (zeros).
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__()
        check_positive_int("in_channels", in_channels)
        check_positive_int("out_channels", out_channels)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform ``weight`` (``U(-a, a)``, ``a = sqrt(6 / (F_in + F_out))``) and zero ``bias``, as GCNConv."""
        bound = math.sqrt(6.0 / (self.in_channels + self.out_channels))
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def _check_x(self, x: Any) -> None:
        if not isinstance(x, Tensor):
            raise ShapeError(f"x must be a torch tensor of shape (N, {self.in_channels}), got {type(x).__name__}")
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ShapeError(f"x has shape {tuple(x.shape)}; expected (N, {self.in_channels}) node features")
        if not x.is_floating_point():
            raise ShapeError(f"x has dtype {x.dtype}; expected floating point node features")

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        """``Â (x W) + b``; see the class docstring for the shapes."""
        self._check_x(x)
        num_nodes = x.shape[0]
        sparse_x = is_sparse(x)
        if is_sparse(edge_index):  # a precomputed Â
            adj = edge_index
            if edge_weight is not None:
                raise GraphError("edge_weight is only used with an edge_index; a sparse Â already holds the weights")
            if tuple(adj.shape) != (num_nodes, num_nodes):
                raise ShapeError(
                    f"x has {num_nodes} rows but the sparse Â has shape {tuple(adj.shape)}; expected "
                    f"({num_nodes}, {num_nodes})"
                )
            if adj.layout != torch.sparse_csr:  # COO/CSC -> CSR once, memoized with the input
                with quiet_sparse_warnings():
                    adj = cached_on(adj, "to_sparse_csr", lambda a=adj: _to_csr(a))
            if adj.dtype != x.dtype:
                adj = cached_on(adj, ("dtype", x.dtype), lambda a=adj: a.to(x.dtype))

            def propagate(h: Tensor) -> Tensor:
                if adj.requires_grad:  # a learnable Â: let torch differentiate in its values too
                    with quiet_sparse_warnings():
                        return adj @ h
                return SparseAggregate.apply(h, adj)  # Â H

        else:
            try:
                graph = looped_graph(edge_index, num_nodes)  # checked; self-loop structure memoized with edge_index
            except GraphError as err:
                if "valid ids" not in str(err):
                    raise
                raise GraphError(f"{err}: x has {num_nodes} rows, one per node") from None
            norm = gcn_norm_weights(graph, edge_weight, dtype=x.dtype)  # ê_{j,i} = ẽ_{j,i} / sqrt(d_j d_i)

            def propagate(h: Tensor) -> Tensor:
                return GCNAggregate.apply(norm, h, graph)  # Â H, exact gradients in H and edge_weight

        if sparse_x:
            out = propagate(_sparse_matmul(x, self.weight))  # Â (X W): X W as a sparse product
        elif self.in_channels < self.out_channels:
            out = propagate(x) @ self.weight  # (Â X) W: propagate the narrower matrix
        else:
            out = propagate(x @ self.weight)  # Â (X W)
        if self.bias is not None:
            out = out + self.bias
        return out

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, bias={self.bias is not None}"
