r"""Kipf & Welling's GCN (https://arxiv.org/abs/1609.02907, eq. 9): one model class, a stack of graph convolutions,
from scratch (:class:`~gnnhw.graph.layers.GCNLayer`) or PyG's ``GCNConv``, plain or with a remedy against
over-smoothing.

.. math::
    H^{(0)} = X, \qquad H^{(l+1)} = \mathrm{ReLU}\big(\hat{A}\, \mathrm{dropout}(H^{(l)})\, W^{(l)} + b^{(l)}\big),
    \qquad \mathrm{logits} = \hat{A}\, \mathrm{dropout}(H^{(L-1)})\, W^{(L-1)} + b^{(L-1)}

with :math:`\hat A = \tilde D^{-1/2} \tilde A \tilde D^{-1/2}`, :math:`\tilde A = A + I` (no ReLU after the last
layer). With sparse features, dropout drops stored values (Kipf's sparse dropout). The ``variant`` option adds the
remedies of the depth study (:mod:`gnnhw.graph.depth`):

- ``"plain"``: the equations above.
- ``"residual"``: :math:`H^{(l+1)} = \mathrm{ReLU}(\hat A H^{(l)} W^{(l)} + b^{(l)}) + H^{(l)}` on every
  hidden -> hidden layer (He et al. 2016, https://arxiv.org/abs/1512.03385; Kipf & Welling, Appendix B).
- ``"pairnorm"``: :class:`PairNorm` (Zhao & Akoglu 2020, https://arxiv.org/abs/1909.12223) after every hidden
  layer.
- ``"jk"``: jumping knowledge (Xu et al. 2018, https://arxiv.org/abs/1806.03536): ``num_layers`` hidden
  convolutions, combined by an element-wise max over layers and classified by a linear layer.

:func:`copy_weights` copies the parameters between the two implementations, so they can be compared.
"""

from __future__ import annotations

import contextlib
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GCNConv

from gnnhw._renames import IMPLS, impl_value, renamed_kwargs
from gnnhw.errors import ConfigError, ShapeError, check_positive_int
from gnnhw.graph.adjacency import check_edge_index, check_edge_weight, quiet_sparse_warnings
from gnnhw.graph.config import VARIANTS
from gnnhw.graph.layers import GCNLayer, is_sparse, precomputed_adjacency


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


def dropout_any(x: Tensor, p: float, training: bool) -> Tensor:
    """Dropout on a dense tensor, or on the stored values of a sparse tensor (Kipf's sparse dropout)."""
    if is_sparse(x):
        return sparse_dropout(x, p, training)
    return F.dropout(x, p, training)


class PairNorm(nn.Module):
    r"""PairNorm (Zhao & Akoglu 2020, https://arxiv.org/abs/1909.12223), "PN" mode, without parameters.

    .. math::
        \tilde x_i = x_i - \frac1N \sum_j x_j, \qquad
        x_i' = s \, \tilde x_i \Big/ \sqrt{\tfrac1N \textstyle\sum_j \|\tilde x_j\|^2 + \epsilon}

    Shapes:
        (N, F) -> (N, F)
    """

    def __init__(self, scale: float = 1.0, eps: float = 1.0e-5) -> None:
        super().__init__()
        self.scale = scale
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        x = x - x.mean(dim=0, keepdim=True)  # x̃_i = x_i - mean_j x_j
        return self.scale * x / (x.pow(2).sum(dim=-1).mean() + self.eps).sqrt()  # s x̃_i / sqrt(mean ||x̃||^2)


class GCN(nn.Module):
    """A ``num_layers``-layer GCN for node classification; returns logits.

    Args:
        in_channels: input feature size F.
        hidden_channels: size of every hidden layer.
        out_channels: number of classes C (size of the logits).
        num_layers: number of graph convolutions (>= 1; 1 means a single ``in -> out`` layer; for ``"jk"`` all
            of them are hidden and a linear layer classifies).
        dropout: dropout probability before every layer, in ``[0, 1)``.
        impl: ``"scratch"`` for gnnhw's :class:`GCNLayer`, ``"reference"`` for ``torch_geometric.nn.GCNConv``
            (the old keyword ``layer=`` and value ``"pyg"`` still work, with a :class:`DeprecationWarning`).
        variant: ``"plain"`` (Kipf's GCN), ``"residual"``, ``"pairnorm"`` or ``"jk"`` (see the module).

    ``forward(x, edge_index, edge_weight=None)``: ``x`` dense or torch sparse (densified for ``"reference"``
    layers); the graph as ``edge_index`` (+ optional ``edge_weight``) or a precomputed sparse ``Â``
    (``normalized_adjacency(..., sparse=True)``, used as it is, without normalizing it again).

    Shapes:
        - **input:** x ``(N, in_channels)``, edge_index ``(2, E)`` or Â ``(N, N)``, edge_weight ``(E,)``
        - **output:** ``(N, out_channels)``

    Raises:
        ConfigError: an unknown ``impl`` or ``variant``, ``num_layers`` < 1, ``dropout`` outside ``[0, 1)``, or a
            size that is not a positive integer.

    >>> _ = torch.manual_seed(0)
    >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])  # the path 0 - 1 - 2
    >>> model = GCN(in_channels=4, hidden_channels=8, out_channels=2, num_layers=2).eval()
    >>> model(torch.randn(3, 4), edge_index).shape
    torch.Size([3, 2])
    >>> GCN(4, 8, 2, variant="jk").classifier
    Linear(in_features=8, out_features=2, bias=True)
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        num_layers: int = 2,
        dropout: float = 0.5,
        impl: str = "scratch",
        variant: str = "plain",
        **old: str,
    ) -> None:
        super().__init__()
        if old:  # the old keyword layer= (one release)
            moved = renamed_kwargs(old, {"layer": "impl"}, "GCN")
            unknown = sorted(set(moved) - {"impl"})
            if unknown:
                raise TypeError(f"GCN() got an unexpected keyword argument {unknown[0]!r}")
            impl = moved["impl"]
        impl = impl_value(impl, "GCN")
        if impl not in IMPLS:
            raise ConfigError(f"unknown impl {impl!r}; expected one of {', '.join(IMPLS)}")
        if variant not in VARIANTS:
            raise ConfigError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
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
        self.num_layers, self.dropout, self.impl, self.variant = num_layers, float(dropout), impl, variant
        self.classifier: nn.Linear | None = None
        if variant == "jk":
            sizes = [in_channels] + [hidden_channels] * num_layers
            self.classifier = nn.Linear(hidden_channels, out_channels)
        else:
            sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        make = GCNLayer if impl == "scratch" else GCNConv
        self.convs = nn.ModuleList(make(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.norm = PairNorm() if variant == "pairnorm" else None

    @property
    def layer(self) -> str:
        """Deprecated: :attr:`impl` (``"pyg"`` for ``"reference"``)."""
        from gnnhw._renames import warn_renamed

        warn_renamed("GCN.layer", "GCN.impl", "GCN")
        return "pyg" if self.impl == "reference" else self.impl

    def reset_parameters(self) -> None:
        for conv in self.convs:
            cast(GCNLayer, conv).reset_parameters()
        if self.classifier is not None:
            self.classifier.reset_parameters()

    def _reference_conv(self, conv: GCNConv, x: Tensor, graph: Tensor, edge_weight: Tensor | None) -> Tensor:
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
            GraphError: (``impl="reference"``; the scratch layers check their own input) a malformed
                ``edge_index``, a node id outside ``[0, N)`` for the ``N`` rows of ``x``, or bad ``edge_weight``:
                GCNConv itself would index out of range.
        """
        precomputed = is_sparse(edge_index)
        if self.impl == "reference" and not precomputed:
            check_edge_index(edge_index, x.shape[0])  # ids in [0, N): one GraphError, not a raw torch index error
            if edge_weight is not None:
                check_edge_weight(edge_weight, edge_index.shape[1])
        # A sparse graph is a precomputed Â: the scratch layers must not add self-loops and normalize it again.
        scratch_precomputed = precomputed and self.impl == "scratch"
        with precomputed_adjacency(self) if scratch_precomputed else contextlib.nullcontext():
            return self._forward(x, edge_index, edge_weight)

    def _forward(self, x: Tensor, graph: Tensor, edge_weight: Tensor | None) -> Tensor:
        hidden: list[Tensor] = []
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            h = dropout_any(x, self.dropout, self.training)  # Kipf's sparse dropout on sparse input features
            if self.impl == "scratch":
                h = conv(h, graph, edge_weight)  # Â H W + b
            else:
                h = self._reference_conv(cast(GCNConv, conv), h, graph, edge_weight)
            if i == last and self.classifier is None:
                return h  # (N, C) logits of the plain / residual / pairnorm variants
            h = h.relu()
            if self.norm is not None:
                h = self.norm(h)
            if self.variant == "residual" and i > 0:
                h = h + x  # H_{l+1} = ReLU(Â H_l W_l + b_l) + H_l (hidden -> hidden layers only)
            hidden.append(h)
            x = h
        assert self.classifier is not None  # only "jk" reaches here: every convolution is hidden
        jk = torch.stack(hidden, dim=0).max(dim=0).values  # (L, N, H) -> (N, H): element-wise max over layers
        return self.classifier(F.dropout(jk, self.dropout, self.training))  # (N, C)

    def extra_repr(self) -> str:
        return f"dropout={self.dropout}, impl={self.impl!r}, variant={self.variant!r}"


def _weight_in_out(conv: nn.Module) -> Tensor:
    """A graph convolution's weight as ``(in, out)``: ``GCNLayer.weight`` is, ``GCNConv.lin.weight`` is transposed."""
    if isinstance(conv, GCNLayer):
        return conv.weight
    return cast(GCNConv, conv).lin.weight.T


@torch.no_grad()
def copy_weights(source: GCN, target: GCN) -> None:
    """Copy every parameter from ``source`` to ``target`` (any mix of ``"scratch"`` and ``"reference"``).

    ``GCNLayer.weight`` is ``(in, out)``; ``GCNConv.lin.weight`` is ``(out, in)``: it is transposed on the way.

    Raises:
        ShapeError: the two models differ in layer sizes, in biases, or in variant.
    """
    sizes = [(c.in_channels, c.out_channels) for c in source.convs]
    if sizes != [(c.in_channels, c.out_channels) for c in target.convs]:
        raise ShapeError(
            f"the two GCNs have different layer sizes: {sizes} vs "
            f"{[(c.in_channels, c.out_channels) for c in target.convs]}"
        )
    if source.variant != target.variant:
        raise ShapeError(f"the two GCNs have different variants: {source.variant!r} vs {target.variant!r}")
    for src, dst in zip(source.convs, target.convs, strict=True):
        weight = _weight_in_out(src)  # (in, out)
        if isinstance(dst, GCNLayer):
            dst.weight.copy_(weight)
        else:
            cast(GCNConv, dst).lin.weight.copy_(weight.T)
        src_bias, dst_bias = cast(Tensor | None, src.bias), cast(Tensor | None, dst.bias)
        if (src_bias is None) != (dst_bias is None):
            raise ShapeError("one GCN has biases and the other does not")
        if dst_bias is not None and src_bias is not None:
            dst_bias.copy_(src_bias)
    if source.classifier is not None and target.classifier is not None:
        target.classifier.load_state_dict(source.classifier.state_dict())


__all__ = ["GCN", "PairNorm", "copy_weights", "dropout_any", "sparse_dropout"]
