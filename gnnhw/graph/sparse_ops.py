r"""The sparse products behind :class:`~gnnhw.graph.layers.GCNLayer`, as two torch autograd functions.

What is here: :class:`CSRPattern` (a list of ``(row, col)`` pairs laid out as a CSR matrix, with its transpose),
and the two functions that close under differentiation:

* :class:`Aggregate` ``(values, H) -> out``, ``out[t_k] += values_k H[s_k]`` (the aggregation :math:`\hat{A} H`);
* :class:`EdgeDot` ``(G, H) -> e``, ``e_k = <G[t_k], H[s_k]>`` (the gradient of Aggregate in its values).

The gradients of each are the other one (or itself on the transposed pattern), so gradients of every order in
``H``, the edge values and the edge weights are exact, memory stays linear in the number of edges (no dense
``N x N`` matrix, no ``E x F`` message tensor); both are bilinear, which gives their forward-mode rule (jvp), and
both have ``torch.func`` (vmap) rules. Half types are computed in float32 inside the products (torch has no CSR
kernels for them on the CPU) and rounded back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from gnnhw.graph.convert import quiet_sparse_warnings

_INT32_MAX = 2**31 - 1


def forward_ad_possible() -> bool:
    """Whether a forward-mode (jvp) pass may follow: a dual level or a ``torch.func`` transform is active.

    Only then do the autograd functions keep their inputs for ``jvp`` (keeping ``H`` always would raise the peak
    memory of a plain training step by one ``N x F`` tensor)."""
    from torch.autograd import forward_ad

    return forward_ad._current_level >= 0 or torch._C._functorch.peek_interpreter_stack() is not None


@dataclass(eq=False)
class CSRPattern:
    """A list of ``E`` pairs ``(row_k, col_k)`` laid out as an ``(R, C)`` CSR matrix: storage entry ``p`` is pair
    ``perm[p]`` (``perm=None``: the pairs are already in CSR order).

    Duplicate pairs stay separate stored entries (a CSR product sums them). Indices are int32 when they fit, else
    int64. :meth:`t` is the transposed pattern (rows and columns swapped) over the *same* list of pairs, so one vector
    of values serves both.
    """

    num_rows: int
    rows: Tensor  # (E,) pair order
    cols: Tensor  # (E,)
    crow: Tensor  # (R + 1,)
    col: Tensor  # (E,) storage order
    perm: Tensor | None  # (E,) storage -> pair order (index dtype), or None
    num_cols: int = -1  # C; -1: square (C = R)
    _t: CSRPattern | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.num_cols < 0:
            self.num_cols = self.num_rows

    @classmethod
    def build(cls, rows: Tensor, cols: Tensor, num_rows: int, num_cols: int = -1) -> CSRPattern:
        """Pairs in any order; stored sorted by row, then column (torch's CSR invariants; duplicates adjacent)."""
        num_cols = num_rows if num_cols < 0 else num_cols
        index_dtype = _index_dtype(num_rows, num_cols, rows.numel())
        rows, cols = rows.to(index_dtype), cols.to(index_dtype)  # no copy when they already are
        perm = torch.argsort(rows.long() * num_cols + cols.long(), stable=True).to(index_dtype)
        crow = torch.zeros(num_rows + 1, dtype=index_dtype, device=rows.device)
        crow[1:] = torch.bincount(rows, minlength=num_rows).cumsum(0)  # crow[i+1] - crow[i] = entries of row i
        return cls(num_rows, rows, cols, crow, cols.index_select(0, perm), perm, num_cols)

    @classmethod
    def from_csr(cls, crow: Tensor, col: Tensor, num_rows: int, num_cols: int = -1) -> CSRPattern:
        """The pattern of a CSR matrix; its pairs are in storage order."""
        num_cols = num_rows if num_cols < 0 else num_cols
        index_dtype = _index_dtype(num_rows, num_cols, col.numel())
        counts = crow.diff().long()
        rows = torch.repeat_interleave(torch.arange(num_rows, device=crow.device), counts).to(index_dtype)
        return cls(num_rows, rows, col.to(index_dtype), crow, col, None, num_cols)

    @property
    def num_nodes(self) -> int:
        return self.num_rows

    def t(self) -> CSRPattern:
        """The transposed pattern (built once, kept with this one)."""
        if self._t is None:
            self._t = CSRPattern.build(self.cols, self.rows, self.num_cols, self.num_rows)
            self._t._t = self
        return self._t

    def matrix(self, values: Tensor) -> Tensor:
        """The ``(R, C)`` CSR matrix with these values (given in pair order)."""
        if self.perm is not None:
            values = values.index_select(0, self.perm)
        with quiet_sparse_warnings():
            return torch.sparse_csr_tensor(
                self.crow, self.col, values, (self.num_rows, self.num_cols), check_invariants=False
            )


def _index_dtype(num_rows: int, num_cols: int, num_pairs: int) -> torch.dtype:
    """int32 when every index and position fits (half the memory of int64), else int64."""
    return torch.int32 if max(num_rows, num_cols, num_pairs) <= _INT32_MAX else torch.int64


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for the half types (torch has no CSR kernels for them on the CPU), else ``dtype``."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def no_autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast off inside (the sparse products choose their dtypes themselves); a no-op when it is off."""
    if torch.is_autocast_enabled(device.type):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


def _spmm(pattern: CSRPattern, values: Tensor, h: Tensor) -> Tensor:
    """``out[rows_k] += values_k * h[cols_k]`` as one CSR product; dtype = promote(values, h), computed in float32
    or float64."""
    out_dtype = torch.promote_types(values.dtype, h.dtype)
    work = compute_dtype(out_dtype)
    with no_autocast(h.device), quiet_sparse_warnings():
        out = pattern.matrix(values.to(work)) @ h.to(work).contiguous()
    return out.to(out_dtype)


_EDGE_DOT_CHUNK = 1 << 22  # elements of the (chunk, F) gathered rows held at once


def _edge_dot(pattern: CSRPattern, g: Tensor, h: Tensor) -> Tensor:
    """``e_k = <g[rows_k], h[cols_k]>`` in pair order, gathered in chunks of edges so no ``E x F`` tensor is built.

    (``torch.sparse.sampled_addmm`` would do it in one call but fails on duplicate pairs.)"""
    out_dtype = torch.promote_types(g.dtype, h.dtype)
    work = compute_dtype(out_dtype)
    g, h = g.to(work), h.to(work)
    num = pattern.rows.numel()
    out = torch.empty(num, dtype=work, device=g.device)
    step = max(1, _EDGE_DOT_CHUNK // max(1, g.shape[1]))
    with no_autocast(h.device):
        for start in range(0, num, step):
            rows, cols = pattern.rows[start : start + step], pattern.cols[start : start + step]
            out[start : start + step] = (g.index_select(0, rows) * h.index_select(0, cols)).sum(1)
    return out.to(out_dtype)


def _save_inputs(ctx: Any, inputs: tuple) -> None:
    """What the backward and jvp of a bilinear ``op(a, b, pattern)`` need: the pattern and the input dtypes; ``b``
    only when ``a`` needs a gradient and ``a`` only when ``b`` does (each input's gradient is linear in the other
    one); both for :func:`_bilinear_jvp` only when forward-mode AD may follow (:func:`forward_ad_possible`), so a
    plain training step keeps no extra ``N x F`` tensor."""
    a, b, pattern = inputs
    ctx.pattern, ctx.dtypes = pattern, (a.dtype, b.dtype)
    ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b if ctx.needs_input_grad[0] else None)
    if forward_ad_possible():
        ctx.save_for_forward(a, b)


def _bilinear_backward(
    ctx: Any,
    grad: Tensor,
    grad_a: Callable[[Tensor, Tensor, CSRPattern], Tensor],
    grad_b: Callable[[Tensor, Tensor, CSRPattern], Tensor],
) -> tuple[Tensor | None, Tensor | None, None]:
    """Backward of a bilinear ``op(a, b, pattern)``: ``grad_a(grad, b, pattern)`` and ``grad_b(grad, a, pattern)``
    for the inputs that need them, in the inputs' dtypes (none for the pattern)."""
    a, b = ctx.saved_tensors
    da = grad_a(grad, b, ctx.pattern).to(ctx.dtypes[0]) if ctx.needs_input_grad[0] else None
    db = grad_b(grad, a, ctx.pattern).to(ctx.dtypes[1]) if ctx.needs_input_grad[1] else None
    return da, db, None


def _bilinear_jvp(op: Any, ctx: Any, tangent_a: Tensor | None, tangent_b: Tensor | None) -> Tensor | None:
    """Forward-mode rule of a function ``op(a, b, pattern)`` linear in each of ``a`` and ``b``:
    ``d op(a, b) = op(da, b) + op(a, db)`` (``a``, ``b`` saved with ``ctx.save_for_forward``)."""
    a, b = ctx.saved_tensors
    out = None
    if tangent_a is not None:
        out = op.apply(tangent_a, b, ctx.pattern)
    if tangent_b is not None:
        term = op.apply(a, tangent_b, ctx.pattern)
        out = term if out is None else out + term
    return out


def _vmap_loop(op: Any, info: Any, in_dims: tuple, a: Tensor, b: Tensor, pattern: CSRPattern) -> tuple[Tensor, int]:
    """``op(a, b, pattern)`` once per element of a ``torch.func.vmap`` batch (either input batched or both),
    stacked along dim 0."""
    a_dim, b_dim, _ = in_dims
    a_batch = a.movedim(a_dim, 0) if a_dim is not None else None
    b_batch = b.movedim(b_dim, 0) if b_dim is not None else None
    outs = [
        op.apply(a if a_batch is None else a_batch[i], b if b_batch is None else b_batch[i], pattern)
        for i in range(info.batch_size)
    ]
    return torch.stack(outs), 0


class Aggregate(torch.autograd.Function):
    r"""``out = M H`` with the sparse ``M[t_k, s_k] += values_k`` (pattern rows ``t``, columns ``s``).

    .. math::
        \frac{\partial L}{\partial H} = M^\top G, \qquad
        \frac{\partial L}{\partial \mathrm{values}_k} = \langle G_{t_k}, H_{s_k} \rangle, \qquad
        G = \frac{\partial L}{\partial \mathrm{out}}

    computed by :class:`Aggregate` on the transposed pattern and by :class:`EdgeDot`, both differentiable again
    (double backward exact). ``vmap``: a batch of ``H`` with shared values is folded into the feature dimension
    (one product); a batch of values is looped over.

    Shapes:
        - **input:** values ``(E,)``, h ``(N, F)``, pattern: a :class:`CSRPattern` of ``E`` pairs
        - **output:** ``(N, F)``, dtype ``promote(values, h)``
    """

    @staticmethod
    def forward(values: Tensor, h: Tensor, pattern: CSRPattern) -> Tensor:
        return _spmm(pattern, values, h)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        _save_inputs(ctx, inputs)

    @staticmethod
    def jvp(ctx: Any, tangent_values: Tensor | None, tangent_h: Tensor | None, _: None) -> Tensor | None:
        return _bilinear_jvp(Aggregate, ctx, tangent_values, tangent_h)  # d(M_v h) = M_dv h + M_v dh

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        return _bilinear_backward(
            ctx,
            grad_out,
            lambda g, h, pattern: EdgeDot.apply(g, h, pattern),  # dL/dvalues_k = <G[t_k], H[s_k]>
            lambda g, values, pattern: Aggregate.apply(values, g, pattern.t()),  # dL/dH = M^T G
        )

    @staticmethod
    def vmap(info: Any, in_dims: tuple, values: Tensor, h: Tensor, pattern: CSRPattern) -> tuple[Tensor, int]:
        values_dim, h_dim, _ = in_dims
        if values_dim is None:  # shared values: (N, B, F) -> (N, B*F), one product
            h = h.movedim(h_dim, 1)
            out = Aggregate.apply(values, h.reshape(h.shape[0], -1), pattern)
            return out.reshape(out.shape[0], *h.shape[1:]), 1
        return _vmap_loop(Aggregate, info, in_dims, values, h, pattern)  # a batch of values: one product each


class EdgeDot(torch.autograd.Function):
    r"""``e_k = <G[t_k], H[s_k]>`` over the pairs of a pattern (the edge-value gradient of :class:`Aggregate`).

    Backward: :math:`\partial L / \partial G = M_c H`, :math:`\partial L / \partial H = M_c^\top G` with
    :math:`M_c` the pattern carrying the incoming gradient ``c`` (both :class:`Aggregate`, so differentiable again).

    Shapes:
        - **input:** g ``(N, F)``, h ``(N, F)``, pattern of ``E`` pairs
        - **output:** ``(E,)``
    """

    @staticmethod
    def forward(g: Tensor, h: Tensor, pattern: CSRPattern) -> Tensor:
        return _edge_dot(pattern, g, h)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        _save_inputs(ctx, inputs)

    @staticmethod
    def jvp(ctx: Any, tangent_g: Tensor | None, tangent_h: Tensor | None, _: None) -> Tensor | None:
        return _bilinear_jvp(EdgeDot, ctx, tangent_g, tangent_h)

    @staticmethod
    def backward(ctx: Any, grad_e: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        return _bilinear_backward(
            ctx,
            grad_e,
            lambda c, h, pattern: Aggregate.apply(c, h, pattern),  # dL/dG = M_c H
            lambda c, g, pattern: Aggregate.apply(c, g, pattern.t()),  # dL/dH = M_c^T G
        )

    @staticmethod
    def vmap(info: Any, in_dims: tuple, g: Tensor, h: Tensor, pattern: CSRPattern) -> tuple[Tensor, int]:
        return _vmap_loop(EdgeDot, info, in_dims, g, h, pattern)


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
