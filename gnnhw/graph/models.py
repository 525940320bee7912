r"""Kipf & Welling's GCN: a stack of graph convolutions, from scratch (:class:`GCNLayer`) or PyG's ``GCNConv``.

.. math::
    H^{(0)} = X, \qquad H^{(l+1)} = \mathrm{ReLU}\big(\hat{A}\, \mathrm{dropout}(H^{(l)})\, W^{(l)} + b^{(l)}\big),
    \qquad \mathrm{logits} = \hat{A}\, \mathrm{dropout}(H^{(L-1)})\, W^{(L-1)} + b^{(L-1)}

(no ReLU after the last layer). With sparse features, dropout drops stored values (Kipf's sparse dropout).
:func:`copy_weights` copies the parameters between the two variants, so they can be compared.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GCNConv

from gnnhw.errors import ConfigError, ShapeError, check_positive_int
from gnnhw.graph.adjacency import check_edge_index, check_edge_weight, quiet_sparse_warnings
from gnnhw.graph.layers import GCNLayer, is_sparse, precomputed_adjacency

LAYERS = ("scratch", "pyg")


def sparse_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Dropout on the stored values of a sparse COO/CSR matrix (kept ones scaled by ``1 / (1 - p)``)."""
    if not training or p == 0.0:
        return x
    with quiet_sparse_warnings():
        if x.layout == torch.sparse_coo:
            x = x.coalesce()
            return torch.sparse_coo_tensor(x.indices(), F.dropout(x.values(), p, True), x.shape, is_coalesced=True)
        if x.layout == torch.sparse_csc:
            x = x.to_sparse_csr()
        values = F.dropout(x.values(), p, True)
        return torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(), values, x.shape)


class GCN(nn.Module):
    """A ``num_layers``-layer GCN for node classification; returns logits.

    Args:
        in_channels: input feature size.
        hidden_channels: size of every hidden layer.
        out_channels: number of classes (size of the logits).
        num_layers: number of graph convolutions (>= 1; 1 means a single ``in -> out`` layer).
        dropout: dropout probability before every layer, in ``[0, 1)``.
        layer: ``"scratch"`` for :class:`GCNLayer`, ``"pyg"`` for ``torch_geometric.nn.GCNConv``.

    ``forward(x, edge_index_or_sparse_adj, edge_weight=None)``: ``x`` dense or torch sparse (densified for
    ``"pyg"`` layers); the graph as ``edge_index`` (+ optional ``edge_weight``) or a precomputed sparse ``Â``
    (``normalized_adjacency(..., sparse=True)``; ``GCNConv`` then uses it without normalizing again).

    Shapes:
        - **input:** x ``(N, in_channels)``, edge_index ``(2, E)`` or Â ``(N, N)``, edge_weight ``(E,)``
        - **output:** ``(N, out_channels)``
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        num_layers: int = 2,
        dropout: float = 0.5,
        layer: str = "scratch",
    ) -> None:
        super().__init__()
        if layer not in LAYERS:
            raise ConfigError(f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}")
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ConfigError(f"num_layers must be an integer >= 1, got {num_layers!r}")
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout!r}")
        for name, value in (
            ("in_channels", in_channels),
            ("hidden_channels", hidden_channels),
            ("out_channels", out_channels),
        ):
            check_positive_int(name, value)
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_layers, self.dropout, self.layer = num_layers, float(dropout), layer
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        make = GCNLayer if layer == "scratch" else GCNConv
        self.convs = nn.ModuleList(make(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()

    def _conv(self, conv: nn.Module, x: Tensor, graph: Tensor, edge_weight: Tensor | None) -> Tensor:
        if self.layer == "scratch":
            if not is_sparse(graph):
                return conv(x, graph, edge_weight)
            with precomputed_adjacency(conv):  # a precomputed Â: used as is, not normalized again
                return conv(x, graph, edge_weight)
        if is_sparse(x):
            x = x.to_dense()  # GCNConv's Linear takes dense features
        if not is_sparse(graph):
            return conv(x, graph, edge_weight)
        if tuple(graph.shape) != (x.shape[0], x.shape[0]):
            raise ShapeError(f"x has {x.shape[0]} rows but the sparse Â has shape {tuple(graph.shape)}")
        conv.normalize = False  # a precomputed Â: GCNConv must not add self-loops and normalize it again
        try:
            with quiet_sparse_warnings():
                return conv(x, graph.to_sparse_csr() if graph.layout != torch.sparse_csr else graph)
        finally:
            conv.normalize = True

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        """Logits ``(N, out_channels)``; see the class docstring.

        Raises:
            GraphError: (``layer="pyg"``; the scratch layers check their own input) a malformed ``edge_index``,
                a node id outside ``[0, N)`` for the ``N`` rows of ``x``, or bad ``edge_weight``: GCNConv itself
                would index out of range.
        """
        if self.layer == "pyg" and not is_sparse(edge_index):
            check_edge_index(edge_index, x.shape[0])  # ids in [0, N): one GraphError, not a raw torch index error
            if edge_weight is not None:
                check_edge_weight(edge_weight, edge_index.shape[1])
        for i, conv in enumerate(self.convs):
            if is_sparse(x):
                x = sparse_dropout(x, self.dropout, self.training)  # Kipf's sparse dropout on the input features
            else:
                x = F.dropout(x, self.dropout, self.training)
            x = self._conv(conv, x, edge_index, edge_weight)  # Â H W + b
            if i < self.num_layers - 1:
                x = F.relu(x)
        return x

    def extra_repr(self) -> str:
        return f"dropout={self.dropout}, layer={self.layer!r}"


@torch.no_grad()
def copy_weights(source: GCN, target: GCN) -> None:
    """Copy every layer's weight and bias from ``source`` to ``target`` (any mix of ``scratch`` and ``pyg``).

    ``GCNLayer.weight`` is ``(in, out)``; ``GCNConv.lin.weight`` is ``(out, in)``: it is transposed on the way.
    """
    sizes = [(c.in_channels, c.out_channels) for c in source.convs]
    if sizes != [(c.in_channels, c.out_channels) for c in target.convs]:
        raise ShapeError(
            f"the two GCNs have different layer sizes: {sizes} vs "
            f"{[(c.in_channels, c.out_channels) for c in target.convs]}"
        )
    for src, dst in zip(source.convs, target.convs, strict=True):
        weight = src.weight if isinstance(src, GCNLayer) else src.lin.weight.T  # (in, out)
        if isinstance(dst, GCNLayer):
            dst.weight.copy_(weight)
        else:
            dst.lin.weight.copy_(weight.T)
        if (src.bias is None) != (dst.bias is None):
            raise ShapeError("one GCN has biases and the other does not")
        if dst.bias is not None:
            dst.bias.copy_(src.bias)
