r"""A graph convolutional layer written from scratch, equal to PyG's ``GCNConv``: :class:`GCNLayer`.

Built from torch tensor operations only: it never calls PyG (only :meth:`GCNLayer.from_pyg` / :meth:`GCNLayer.to_pyg`
import it, to move weights). What is here: the layer, the preparation of its graph (an ``edge_index`` or a sparse
adjacency turned into a :class:`~gnnhw.graph.sparse_ops.CSRPattern` and the values to aggregate with, memoized
per graph tensor in this module's own :class:`~gnnhw.graph.memo.StructureMemo`), sparse node features, and
:func:`precomputed_adjacency`. The normalization is :func:`gnnhw.graph.matrices.gcn_norm_weights`; the aggregation
:math:`\hat{A} H` is one sparse CSR product, :class:`~gnnhw.graph.sparse_ops.Aggregate` (the two autograd
functions and their rules live in :mod:`gnnhw.graph.sparse_ops`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gnnhw.errors import ConfigError, DeviceError, DTypeError, GraphError, ShapeError, check_positive_int
from gnnhw.graph.convert import quiet_sparse_warnings
from gnnhw.graph.matrices import gcn_norm_weights, is_batched
from gnnhw.graph.memo import StructureMemo
from gnnhw.graph.sparse_ops import (
    Aggregate,
    CSRPattern,
    EdgeDot,
    compute_dtype,
    no_autocast,
    transpose_csr,
)
from gnnhw.graph.structure import LoopedGraph, build_looped_graph, check_edge_weight

__all__ = ["Aggregate", "CSRPattern", "EdgeDot", "GCNLayer", "is_sparse", "precomputed_adjacency", "transpose_csr"]

_SPARSE_LAYOUTS = (torch.sparse_coo, torch.sparse_csr, torch.sparse_csc)
_FLOWS = ("source_to_target", "target_to_source")
_MEMO = StructureMemo()  # this module's memo: the checked structure and CSR pattern of each graph tensor


def is_sparse(tensor: Any) -> bool:
    """Whether ``tensor`` is a torch sparse tensor (COO, CSR or CSC)."""
    return isinstance(tensor, Tensor) and tensor.layout in _SPARSE_LAYOUTS


# ----------------------------------------------------------------------------------------------------------------
# Preparing a graph: pattern + values


@dataclass(eq=False)
class _Prepared:
    pattern: CSRPattern
    values: Tensor  # (E,) in the pattern's pair order


def _edge_index_structure(edge_index: Tensor, num_nodes: int, loops: bool, flow: str) -> tuple[LoopedGraph, CSRPattern]:
    """Checked structure of an ``edge_index`` (self-loops added or not) and its CSR pattern (rows = targets)."""

    def build() -> tuple[LoopedGraph, CSRPattern]:
        index = edge_index if flow == "source_to_target" else edge_index.flip(0)  # messages go index[0] -> index[1]
        try:
            graph = build_looped_graph(index, num_nodes, add_self_loops=loops)
        except GraphError as err:
            if "valid ids" not in str(err):
                raise
            raise GraphError(f"{err}: x has {num_nodes} rows, one per node") from None
        return graph, CSRPattern.build(graph.target, graph.source, num_nodes)

    return _MEMO.get(edge_index, ("edge_index", num_nodes, loops, flow), build)


def _sparse_values(adj: Tensor) -> tuple[Tensor, Tensor]:
    """``(adj, values)`` with values in the order of the indices the pattern is built from (COO: as stored)."""
    if adj.layout == torch.sparse_coo:
        if adj.requires_grad and not adj.is_coalesced():
            adj = adj.coalesce()  # values() (differentiable) needs a coalesced tensor; duplicates are summed
        return adj, (adj.values() if adj.is_coalesced() else adj._values())
    if adj.requires_grad:
        return adj, adj.values()
    with torch._C._DisableFuncTorch():  # a constant matrix: torch.func's wrappers cannot take a CSR's values
        return adj, adj.values()


@dataclass(eq=False)
class _SparseStructure:
    """A sparse adjacency's structure: its edges (after self-loops, if added) and their CSR pattern.

    ``merge`` (``None``: every stored entry is a distinct pair) maps each stored entry to its distinct pair
    (``num_pairs`` of them, in sorted (row, column) order): duplicate entries of an uncoalesced matrix are summed
    into one edge before the self-loops are resolved, since a sparse matrix's entry is the sum of its stored ones.
    """

    graph: LoopedGraph
    pattern: CSRPattern
    merge: Tensor | None  # (nnz,) int64 stored entry -> pair, or None
    num_pairs: int

    def edge_values(self, values: Tensor) -> Tensor:
        """The stored values ``(nnz,)`` as the weights ``(E,)`` of the edges (duplicates summed; differentiable)."""
        if self.merge is None:
            return values
        return values.new_zeros(self.num_pairs).index_add(0, self.merge, values)


def _sparse_pairs(adj: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    """``(rows, cols)`` of the stored entries of a sparse ``(N, N)`` matrix, in storage order (the values' order)."""
    if adj.layout == torch.sparse_coo:
        rows, cols = adj._indices()
        return rows, cols
    if adj.layout == torch.sparse_csr:
        cols = adj.col_indices()
        rows = torch.repeat_interleave(torch.arange(num_nodes, device=cols.device), adj.crow_indices().diff().long())
        return rows, cols
    rows = adj.row_indices()  # CSC
    cols = torch.repeat_interleave(torch.arange(num_nodes, device=rows.device), adj.ccol_indices().diff().long())
    return rows, cols


def _check_sparse_ids(rows: Tensor, cols: Tensor, num_nodes: int) -> None:
    if rows.numel() and (int(rows.min()) < 0 or int(cols.min()) < 0):
        raise GraphError("the sparse adjacency holds a negative index; expected node ids 0..N-1")
    if rows.numel() and max(int(rows.max()), int(cols.max())) >= num_nodes:
        raise GraphError(f"the sparse adjacency holds an index >= its size {num_nodes}; expected ids 0..N-1")


def _sparse_structure(adj: Tensor, num_nodes: int, loops: bool) -> _SparseStructure:
    """A sparse adjacency (rows = targets, as PyG's ``adj_t``) read as the edge list it stores: entry ``[i, j]`` is
    the edge ``j -> i``. Without ``loops`` the stored entries are the edges, in storage order (a CSR product sums
    duplicates). With ``loops`` the matrix is first coalesced (duplicate entries summed into one edge), then the
    self-loops are added by the edge_index rule (:func:`~gnnhw.graph.structure.build_looped_graph`): a node with a
    stored diagonal entry keeps that weight (even 0), the others get the fill value. Memoized per tensor
    (content-checked, in this module's memo)."""

    def build() -> _SparseStructure:
        if adj.layout == torch.sparse_csr and not loops:  # already in CSR order: no sort
            pattern = CSRPattern.from_csr(adj.crow_indices(), adj.col_indices(), num_nodes)
            _check_sparse_ids(pattern.rows, pattern.cols, num_nodes)
        else:
            rows, cols = _sparse_pairs(adj, num_nodes)
            _check_sparse_ids(rows, cols, num_nodes)
            if not loops:
                pattern = CSRPattern.build(rows, cols, num_nodes)
            else:
                return _looped_sparse_structure(rows.long(), cols.long(), num_nodes)
        graph = LoopedGraph(num_nodes, pattern.rows.numel(), pattern.cols, pattern.rows, None, None, loops=False)
        return _SparseStructure(graph, pattern, None, pattern.rows.numel())

    return _MEMO.get(adj, ("sparse", num_nodes, loops), build)


def _looped_sparse_structure(rows: Tensor, cols: Tensor, num_nodes: int) -> _SparseStructure:
    """The stored pairs coalesced (duplicates merged), as an edge_index ``cols -> rows``, with the remaining loops."""
    key = rows * num_nodes + cols
    merge = None
    num_pairs = key.numel()
    if num_pairs > 1:
        ordered = bool((key[1:] > key[:-1]).all())  # coalesced (COO) or valid CSR: sorted, no duplicate
        if not ordered:
            unique, inverse = torch.unique(key, sorted=True, return_inverse=True)
            if unique.numel() < num_pairs:  # duplicates: one edge per distinct pair, in sorted order
                merge, num_pairs = inverse, unique.numel()
                rows, cols = unique // num_nodes, unique % num_nodes
    graph = build_looped_graph(torch.stack([cols, rows]), num_nodes, add_self_loops=True)
    return _SparseStructure(graph, CSRPattern.build(graph.target, graph.source, num_nodes), merge, num_pairs)


def _feature_pattern(x: Tensor) -> tuple[CSRPattern, Tensor]:
    """The pattern (rows = nodes, columns = features) and values of sparse node features."""
    num_rows, num_cols = x.shape
    if x.layout == torch.sparse_csr:
        return CSRPattern.from_csr(x.crow_indices(), x.col_indices(), num_rows, num_cols), x.values()
    if x.layout == torch.sparse_csc:
        x = x.to_sparse_coo()
    rows, cols = x._indices()
    return CSRPattern.build(rows, cols, num_rows, num_cols), (x.values() if x.is_coalesced() else x._values())


def _sparse_features_matmul(x: Tensor, weight: Tensor) -> Tensor:
    """``x @ weight`` for sparse features ``x`` (COO/CSR/CSC), differentiable in ``weight``.

    torch's sparse product in the common case; under a ``torch.func`` transform (whose vmap the sparse product's
    backward does not support) the same product through :class:`Aggregate`. Half types and autocast are computed in
    float32 (no half CSR kernels on the CPU) and rounded to ``promote(x, weight)``."""
    out_dtype = torch.promote_types(x.dtype, weight.dtype)
    work = compute_dtype(out_dtype)
    if torch._C._functorch.peek_interpreter_stack() is not None:
        with torch._C._DisableFuncTorch():
            pattern, values = _feature_pattern(x)
        return Aggregate.apply(values.to(work), weight.to(work), pattern).to(out_dtype)
    if x.layout == torch.sparse_csc:
        x = x.to_sparse_csr()
    with no_autocast(weight.device), quiet_sparse_warnings():
        x, w = x.to(work), weight.to(work)
        out = x @ w  # as GCNConv's Linear: a dense gradient for x (torch.sparse.mm's would be masked to x's pattern)
    return out.to(out_dtype)


# ----------------------------------------------------------------------------------------------------------------
# The layer

_OPTIONS = ("improved", "cached", "add_self_loops", "normalize", "flow")  # GCNConv's options, same names and meaning


def _options_of(module: nn.Module) -> dict[str, Any]:
    """The keyword options of a GCNLayer or a GCNConv (the same for both), ``bias`` included."""
    options = {name: getattr(module, name) for name in _OPTIONS}
    options["bias"] = module.bias is not None
    return options


class GCNLayer(nn.Module):
    r"""The graph convolution of Kipf & Welling, `"Semi-Supervised Classification with Graph Convolutional
    Networks" <https://arxiv.org/abs/1609.02907>`_ (ICLR 2017, eq. 2), from scratch; equal to PyG's ``GCNConv``.

    .. math::
        X' = \tilde{D}^{-1/2} \tilde{A} \tilde{D}^{-1/2} X W + b, \qquad
        x'_i = W^\top \sum_{j \in \mathcal{N}(i) \cup \{i\}} \frac{\tilde{e}_{j,i}}{\sqrt{\tilde{d}_j \tilde{d}_i}}
        x_j + b, \qquad \tilde{d}_i = \sum_j \tilde{e}_{j,i}

    :math:`\tilde{e}_{j,i}` is the weight of the edge ``j -> i`` (``edge_weight``, default 1; parallel edges
    summed) and :math:`\tilde{A} = A + cI` with ``c = 1`` (``c = 2`` if ``improved``). The loops follow PyG's
    ``add_remaining_self_loops``: a node that already has a self-loop keeps its weight (the last one if several)
    instead of getting ``c``. A sparse adjacency (entry ``adj_t[i, j]`` = weight of the edge ``j -> i``; the stored
    duplicates of an uncoalesced matrix are summed into one entry) is read as that edge list and normalized by the
    same rule as an ``edge_index``: a stored diagonal entry ``w`` (even 0) stays ``w``, the other nodes get ``c``.
    GCNConv's torch-sparse path instead *adds* ``c`` to a stored diagonal entry (``w + c``) and its ``SparseTensor``
    path replaces it (``c``); gnnhw keeps one meaning per graph, so ``layer(x, adj_t)`` equals ``layer(x,
    edge_index, edge_weight)`` of the same matrix and :func:`~gnnhw.graph.adjacency.normalized_adjacency`. On graphs
    without self-loops all of these agree. Degrees
    count the edges *arriving* at a node (``flow="source_to_target"``; ``"target_to_source"`` reverses every edge).
    :math:`0^{-1/2} := 0`, so isolated nodes give no NaN.

    Args:
        in_channels: size of each input feature vector (``F_in``).
        out_channels: size of each output feature vector (``F_out``).
        improved: loops of weight 2, :math:`\tilde{A} = A + 2I` (GCNConv's documented meaning). PyG 2.8's
            ``GCNConv`` code applies it only when ``edge_weight`` is given (without, its loops weigh 1); GCNLayer
            applies it always, so ``layer(x, ei)`` equals ``conv(x, ei, torch.ones(E))`` then.
        cached: normalize the graph of the first call and reuse it for every later call whatever graph is passed
            (GCNConv's transductive cache; cleared by :meth:`reset_parameters`). Without it the graph *structure*
            is still memoized per ``edge_index`` tensor, content-checked on every call (a few ms per two million
            edges), so a changed ``edge_index`` (in place, via ``.data``, or a refilled numpy buffer) is never
            served an old graph; edge weights are always used fresh.
        add_self_loops: add the loops while normalizing (no effect with ``normalize=False``, as in GCNConv;
            ``None`` means ``normalize``).
        normalize: add self-loops and normalize on the fly. ``False``: the graph is used as is
            (``out_i = sum_{j -> i} e_{j,i} (x W)_j``; a precomputed sparse :math:`\hat{A}` from
            ``normalized_adjacency(..., sparse=True)`` is used this way).
        bias: learn an additive bias ``b``.
        flow: ``"source_to_target"`` (default) or ``"target_to_source"`` (edge_index only), as PyG.

    Shapes:
        - **input:** x ``(N, F_in)`` dense or sparse (COO/CSR/CSC), or ``(B, N, F_in)`` (B graphs with the same
          edges, PyG's ``node_dim=-2``); edge_index ``(2, E)`` int64 or int32, or a torch sparse adjacency
          ``(N, N)`` in COO/CSR/CSC laid out as PyG's ``adj_t`` (``adj_t[i, j]`` = weight of the edge ``j -> i``);
          edge_weight ``(E,)`` *(optional; edge_index only)*
        - **output:** ``(N, F_out)`` or ``(B, N, F_out)``

    Parameters: ``weight`` ``(F_in, F_out)`` (Glorot-uniform; ``conv.lin.weight == layer.weight.T``),
    ``bias`` ``(F_out,)`` (zeros) or ``None``.

    What is proven (tests/graph/test_layers.py and tests/graph/test_gcn_conformance.py, float64 within 1e-12):
    outputs and gradients (x, weight, bias, edge_weight, sparse adjacency values) equal GCNConv's for every input
    form above; ``gradcheck`` and ``gradgradcheck`` pass (edge weights included: gradients of every order are exact);
    ``no_grad``, ``inference_mode``, float64/float32, bfloat16/float16 (computed in float32 inside the sparse product,
    rounded to the half type) and CPU autocast (output float32, as GCNConv's); forward-mode AD; ``torch.func``
    ``jacrev``, ``jacfwd``, ``hessian``, ``vmap`` over ``x`` or ``edge_weight``, ``functional_call``;
    ``torch.compile`` (same numbers; the graph preparation and the sparse product run eagerly, as graph breaks);
    ``copy.deepcopy``, ``state_dict``. CUDA uses the same code (tests skip it without a GPU).

    Non-finite features are **not** checked: NaN/inf in ``x`` propagate exactly as in GCNConv (to the rows of the
    nodes they reach); a check would cost a pass over ``x`` per call and cannot run under ``vmap``. Edge weights are
    checked (finite; no negative degree), except under ``vmap`` over ``edge_weight``.

    Raises:
        ShapeError: ``x`` not ``(N, F_in)`` / ``(B, N, F_in)`` or not floating; a sparse adjacency not ``(N, N)``.
        DTypeError: ``x``'s dtype differs from the layer's outside autocast (convert with ``x.to(layer.weight.dtype)``
            or the layer with ``layer.to(x.dtype)``; under ``torch.autocast`` mixed dtypes are allowed, as GCNConv).
        DeviceError: ``x``, the graph and the layer are not on one device.
        GraphError: a malformed ``edge_index``, node ids outside ``[0, N)``, bad edge weights or a negative degree.
        ConfigError: bad channels or an unknown ``flow``.

    Example:
        The layer is :math:`\hat{A} X W + b` with :math:`\hat{A}` =
        :func:`~gnnhw.graph.matrices.normalized_adjacency`, and equals ``GCNConv`` with the same weights:

        >>> from gnnhw.graph.adjacency import normalized_adjacency
        >>> _ = torch.manual_seed(0)
        >>> layer = GCNLayer(3, 2).double()
        >>> x = torch.randn(4, 3, dtype=torch.float64)  # 4 nodes, node 3 isolated
        >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> out = layer(x, edge_index)
        >>> out.shape
        torch.Size([4, 2])
        >>> a_hat = normalized_adjacency(edge_index, num_nodes=4, dtype=torch.float64)
        >>> torch.allclose(out, a_hat @ x @ layer.weight + layer.bias, rtol=0, atol=1e-12)
        True
        >>> torch.allclose(out, layer.to_pyg()(x, edge_index), rtol=0, atol=1e-12)
        True
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        improved: bool = False,
        cached: bool = False,
        add_self_loops: bool | None = True,
        normalize: bool = True,
        bias: bool = True,
        *,
        flow: str = "source_to_target",
    ) -> None:
        super().__init__()
        check_positive_int("in_channels", in_channels)
        check_positive_int("out_channels", out_channels)
        if flow not in _FLOWS:
            raise ConfigError(f"flow must be one of {', '.join(_FLOWS)}, got {flow!r}")
        if add_self_loops is None:
            add_self_loops = normalize
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.improved = bool(improved)
        self.cached = bool(cached)
        self.add_self_loops = bool(add_self_loops) and bool(normalize)  # GCNConv adds loops only when normalizing
        self.normalize = bool(normalize)
        self.flow = flow
        self._cached_graph: _Prepared | None = None
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform ``weight`` (``U(-a, a)``, ``a = sqrt(6 / (F_in + F_out))``) and zero ``bias``, as GCNConv;
        also clears the ``cached`` graph."""
        bound = math.sqrt(6.0 / (self.in_channels + self.out_channels))
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._cached_graph = None

    # -- conversions ------------------------------------------------------------------------------------------

    @classmethod
    def from_pyg(cls, conv: nn.Module) -> GCNLayer:
        """A GCNLayer with ``conv``'s options and bit-equal weights (same dtype and device; copies, not shared)."""
        from torch_geometric.nn import GCNConv

        if not isinstance(conv, GCNConv):
            raise ConfigError(f"from_pyg expects a torch_geometric.nn.GCNConv, got {type(conv).__name__}")
        if isinstance(conv.lin.weight, nn.parameter.UninitializedParameter):
            raise ConfigError("the GCNConv has in_channels=-1 and has not run yet; call it once or give in_channels")
        if conv.aggr != "add" or conv.node_dim not in (-2, 0):
            raise ConfigError(f"GCNLayer implements aggr='add', node_dim=-2; this GCNConv has aggr={conv.aggr!r}")
        layer = cls(conv.in_channels, conv.out_channels, **_options_of(conv))
        weight = conv.lin.weight.detach()  # (out, in)
        layer.weight = nn.Parameter(
            weight.t().clone(memory_format=torch.contiguous_format), requires_grad=conv.lin.weight.requires_grad
        )
        if conv.bias is not None:
            layer.bias = nn.Parameter(conv.bias.detach().clone(), requires_grad=conv.bias.requires_grad)
        return layer

    def to_pyg(self) -> nn.Module:
        """A ``torch_geometric.nn.GCNConv`` with this layer's options and bit-equal weights (dtype, device kept)."""
        from torch_geometric.nn import GCNConv

        conv = GCNConv(self.in_channels, self.out_channels, **_options_of(self))
        conv = conv.to(device=self.weight.device, dtype=self.weight.dtype)
        with torch.no_grad():
            conv.lin.weight.copy_(self.weight.t())
            if self.bias is not None:
                conv.bias.copy_(self.bias)
        conv.lin.weight.requires_grad_(self.weight.requires_grad)
        return conv

    # -- forward --------------------------------------------------------------------------------------------

    def _check_x(self, x: Any) -> None:
        if not isinstance(x, Tensor):
            raise ShapeError(f"x must be a torch tensor of shape (N, {self.in_channels}), got {type(x).__name__}")
        ok_dims = (2,) if is_sparse(x) else (2, 3)
        if x.dim() not in ok_dims or x.shape[-1] != self.in_channels:
            raise ShapeError(
                f"x has shape {tuple(x.shape)}; expected (N, {self.in_channels}) node features"
                + ("" if is_sparse(x) else f" or (B, N, {self.in_channels}) for B graphs with the same edges")
            )
        if not x.is_floating_point():
            raise ShapeError(f"x has dtype {x.dtype}; expected floating point node features (x.float())")
        if x.device != self.weight.device:
            raise DeviceError(
                f"x is on {x.device} but the layer's weights are on {self.weight.device}; move one with .to(device)"
            )
        if x.dtype != self.weight.dtype and not torch.is_autocast_enabled(x.device.type):
            raise DTypeError(
                f"x has dtype {x.dtype} but the layer's weights are {self.weight.dtype}; convert x with "
                f"x.to({self.weight.dtype}) or the layer with layer.to({x.dtype}) (mixed dtypes only under autocast)"
            )

    @torch.compiler.disable
    def _prepare(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int) -> _Prepared:
        """The CSR pattern (rows = targets) and the values to aggregate with (normalized unless ``normalize=False``)."""
        if self.cached and self.normalize and self._cached_graph is not None:
            return self._cached_graph  # GCNConv's cache: the first graph, whatever is passed now
        if not isinstance(edge_index, Tensor):
            raise GraphError(
                f"edge_index must be a torch tensor of shape (2, E) or a sparse (N, N) adjacency, got "
                f"{type(edge_index).__name__}"
            )
        if edge_index.device != x.device:
            raise DeviceError(
                f"edge_index is on {edge_index.device} but x is on {x.device}; move it with edge_index.to(x.device)"
            )
        if edge_weight is not None and isinstance(edge_weight, Tensor) and edge_weight.device != x.device:
            raise DeviceError(
                f"edge_weight is on {edge_weight.device} but x is on {x.device}; move it with .to(x.device)"
            )
        dtype = x.dtype
        fill = 2.0 if self.improved else 1.0
        loops = self.normalize and self.add_self_loops
        if is_sparse(edge_index):
            prepared = self._prepare_sparse(edge_index, edge_weight, num_nodes, dtype, loops, fill)
        else:
            graph, pattern = _edge_index_structure(edge_index, num_nodes, loops, self.flow)
            if self.normalize:
                values = gcn_norm_weights(graph, edge_weight, dtype=dtype, fill_value=fill)
            elif edge_weight is None:
                values = torch.ones(graph.num_edges, dtype=dtype, device=x.device)
            else:
                if not is_batched(edge_weight):
                    check_edge_weight(edge_weight, graph.num_edges)
                values = edge_weight.to(dtype)
            prepared = _Prepared(pattern, values)
        if self.cached and self.normalize:
            self._cached_graph = prepared
        return prepared

    def _prepare_sparse(
        self, adj: Tensor, edge_weight: Tensor | None, num_nodes: int, dtype: torch.dtype, loops: bool, fill: float
    ) -> _Prepared:
        if edge_weight is not None:
            raise GraphError("edge_weight is only used with an edge_index; a sparse adjacency holds its weights")
        if self.flow != "source_to_target":
            raise GraphError("flow='target_to_source' needs an edge_index; a sparse adjacency is always adj_t")
        if adj.dim() != 2 or tuple(adj.shape) != (num_nodes, num_nodes):
            raise ShapeError(
                f"x has {num_nodes} rows (nodes) but the sparse adjacency has shape {tuple(adj.shape)}; expected "
                f"({num_nodes}, {num_nodes})"
            )
        adj, values = _sparse_values(adj)
        structure = _sparse_structure(adj, num_nodes, loops)
        if not values.is_floating_point():
            values = values.to(dtype)
        if not self.normalize:
            if not is_batched(values) and not bool(torch.isfinite(values.detach()).all()):
                raise GraphError("the sparse adjacency holds NaN or infinite values; expected finite weights")
            return _Prepared(structure.pattern, values.to(dtype))
        weights = structure.edge_values(values)  # (E,): one per edge (duplicate entries summed when loops are added)
        return _Prepared(structure.pattern, gcn_norm_weights(structure.graph, weights, dtype=dtype, fill_value=fill))

    @staticmethod
    @torch.compiler.disable
    def _aggregate(prepared: _Prepared, h: Tensor) -> Tensor:
        """``Â h`` for ``h`` of shape ``(N, F)`` or ``(B, N, F)`` (folded into ``(N, B*F)``: one product)."""
        if h.dim() == 2:
            return Aggregate.apply(prepared.values, h, prepared.pattern)
        batch, n, f = h.shape
        folded = h.movedim(0, 1).reshape(n, batch * f)  # (N, B*F)
        out = Aggregate.apply(prepared.values, folded, prepared.pattern)
        return out.reshape(n, batch, -1).movedim(1, 0)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        """``Â (x W) + b``; see the class docstring for the shapes and errors."""
        self._check_x(x)
        num_nodes = x.shape[-2]
        prepared = self._prepare(x, edge_index, edge_weight, num_nodes)
        if is_sparse(x):
            out = self._aggregate(prepared, _sparse_features_matmul(x, self.weight))  # Â (X W): X W as a sparse product
        elif self.in_channels < self.out_channels:
            out = self._aggregate(prepared, x) @ self.weight  # (Â X) W: propagate the narrower matrix
        else:
            out = self._aggregate(prepared, x @ self.weight)  # Â (X W)
        if self.bias is not None:
            out = out + self.bias
        return out

    def extra_repr(self) -> str:
        options = [f"{self.in_channels}, {self.out_channels}"]
        for name, default in (("improved", False), ("cached", False), ("normalize", True)):
            if getattr(self, name) != default:
                options.append(f"{name}={getattr(self, name)}")
        if self.normalize and not self.add_self_loops:
            options.append("add_self_loops=False")
        if self.bias is None:
            options.append("bias=False")
        if self.flow != "source_to_target":
            options.append(f"flow={self.flow!r}")
        return ", ".join(options)


@contextlib.contextmanager
def precomputed_adjacency(module: nn.Module) -> Iterator[None]:
    """Within the block, every :class:`GCNLayer` in ``module`` uses its graph as given (``normalize=False``): for a
    precomputed sparse :math:`\\hat{A}` (``normalized_adjacency(..., sparse=True)``). Restores the flags after."""
    layers = [m for m in module.modules() if isinstance(m, GCNLayer)]
    saved = [m.normalize for m in layers]
    for m in layers:
        m.normalize = False
    try:
        yield
    finally:
        for m, flag in zip(layers, saved, strict=True):
            m.normalize = flag
