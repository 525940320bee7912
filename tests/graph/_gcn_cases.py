"""Seeded random graph families and input forms for the GCNLayer-vs-GCNConv conformance tests.

A *family* is a small graph (``num_nodes <= 12``) with positive float64 edge weights, built from a fixed seed so
every run sees the same graphs. A *form* is one way of handing that graph (and the node features) to a layer:
an ``edge_index`` (int64, int32, a non-contiguous view), ``edge_index`` + ``edge_weight``, a torch sparse adjacency
laid out as PyG's ``adj_t`` (rows = targets) in COO / CSR / CSC, sparse node features, or batched static features
``(B, N, F)``.

The reference is PyG's ``GCNConv`` called on the same graph as an ``edge_index``: the int64 ``edge_index`` (with the
same weights) for the edge_index forms, and for the sparse forms the *coalesced* edge list of the very matrix the
layer gets (:meth:`Graph.coalesced`: duplicate entries summed, ``adj_t[i, j]`` is the edge ``j -> i``, in the
matrix's row-major order) with its values as edge weights. That holds every sparse form to gnnhw's one meaning per
graph (issue #8, item 7): an existing self-loop keeps its weight, as ``add_remaining_self_loops`` does for an
edge_index. GCNConv's own sparse paths differ from it on graphs with self-loops (its torch-sparse path adds 1, or 2
if ``improved``, to a stored diagonal entry; its SparseTensor path replaces it); on graphs without self-loops they
agree, which test_gcn_conformance.py checks directly as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

FAMILIES = (
    "directed",
    "undirected",
    "weighted",
    "duplicates",
    "self_loops",
    "isolated",
    "no_edges",
    "single_node",
)

# Forms of the graph input; each uses dense (N, F) features unless its name says otherwise.
GRAPH_FORMS = ("ei64", "ei32", "ei64_view", "ei_w", "coo", "csr", "csc")
X_FORMS = ("x_coo", "x_csr", "batched")  # with edge_index + edge_weight
FORMS = GRAPH_FORMS + X_FORMS
SPARSE_ADJ_FORMS = ("coo", "csr", "csc")
WEIGHTED_FORMS = ("ei_w", "x_coo", "x_csr", "batched")  # forms that pass an edge_weight tensor
SPARSE_X_FORMS = ("x_coo", "x_csr")
BATCH = 2  # B of the batched form


@dataclass(frozen=True)
class Graph:
    """A graph of one family: ``edge_index`` ``(2, E)`` int64 (row 0 = sources), ``edge_weight`` ``(E,)`` float64."""

    name: str
    num_nodes: int
    edge_index: Tensor
    edge_weight: Tensor

    def adj_t(self, layout: torch.layout, dtype: torch.dtype = torch.float64) -> Tensor:
        """The ``(N, N)`` sparse matrix with ``adj_t[target, source] = weight`` (PyG's ``adj_t``).

        COO is left uncoalesced (duplicate edges stay separate entries, which a sparse product sums); CSR and CSC
        come from the coalesced matrix (duplicates summed).
        """
        n = self.num_nodes
        coo = torch.sparse_coo_tensor(self.edge_index.flip(0), self.edge_weight.to(dtype), (n, n))
        if layout == torch.sparse_coo:
            return coo
        coo = coo.coalesce()
        return coo.to_sparse_csr() if layout == torch.sparse_csr else coo.to_sparse_csc()

    def coalesced(self, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
        """``(edge_index, edge_weight)`` of the coalesced adj_t: one edge per distinct ``(source, target)`` pair with
        the summed weight, ordered by (target, source), i.e. in the storage order of the coalesced COO / CSR."""
        adj = self.adj_t(torch.sparse_coo, dtype).coalesce()
        return adj.indices().flip(0).contiguous(), adj.values()

    def differentiable_edges(self) -> Tensor:
        """Mask ``(E,)`` of the edges whose weight the output is differentiable in.

        An edge into a node whose degree (with its self-loop) is exactly 0 sits where ``deg^-1/2`` jumps from 0
        (PyG's convention for degree 0) to infinity: no derivative exists there (GCNConv's autograd gives NaN).
        Such edges are left out of gradient comparisons and held constant in gradcheck.
        """
        n, (src, dst), w = self.num_nodes, self.edge_index, self.edge_weight
        has_loop = torch.zeros(n, dtype=torch.bool)
        has_loop[src[src == dst]] = True
        deg = torch.zeros(n, dtype=w.dtype).index_add_(0, dst, w)
        deg = deg + (~has_loop).to(w.dtype)  # a node without a loop gets one of weight 1
        return deg[dst] != 0


def _gen(name: str, seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(1000 * seed + FAMILIES.index(name))


def _pairs(gen: torch.Generator, nodes: list[int], count: int) -> Tensor:
    """``count`` distinct ordered pairs ``(i, j)``, ``i != j``, of the given nodes, as ``(2, count)``."""
    idx = torch.tensor(nodes)
    all_pairs = torch.cartesian_prod(idx, idx)
    all_pairs = all_pairs[all_pairs[:, 0] != all_pairs[:, 1]]
    pick = torch.randperm(len(all_pairs), generator=gen)[:count]
    return all_pairs[pick].t().contiguous()


def _weights(gen: torch.Generator, count: int, low: float = 0.5, high: float = 2.0) -> Tensor:
    return low + (high - low) * torch.rand(count, generator=gen, dtype=torch.float64)


def family(name: str, seed: int = 0) -> Graph:
    """The seeded graph of family ``name`` (one of :data:`FAMILIES`)."""
    gen = _gen(name, seed)
    if name == "directed":
        n = 8
        ei = _pairs(gen, list(range(n)), 14)
        w = _weights(gen, ei.shape[1])
    elif name == "undirected":
        n = 8
        one_way = _pairs(gen, list(range(n)), 16)
        one_way = one_way[:, one_way[0] < one_way[1]]  # each unordered pair once
        w1 = _weights(gen, one_way.shape[1])
        ei, w = torch.cat([one_way, one_way.flip(0)], 1), torch.cat([w1, w1])
    elif name == "weighted":  # weights over almost three decades
        n = 9
        ei = _pairs(gen, list(range(n)), 16)
        w = torch.exp(torch.empty(ei.shape[1], dtype=torch.float64).uniform_(-3.0, 3.0, generator=gen))
    elif name == "duplicates":  # parallel edges with different weights, one pair three times, one in both directions
        n = 7
        base = _pairs(gen, list(range(n)), 9)
        repeat = torch.cat([base[:, :4], base[:, :1], base[:, 2:3].flip(0)], 1)
        ei = torch.cat([base, repeat], 1)
        ei = ei[:, torch.randperm(ei.shape[1], generator=gen)]  # duplicates not adjacent
        w = _weights(gen, ei.shape[1])
    elif name == "self_loops":
        # loops of weight != 1 on 0, 3, 5; a zero-weight loop on 6 (which has other in-edges) and on 7 (which has
        # none, so its degree is 0 and it is isolated)
        n = 8
        ei = _pairs(gen, list(range(7)), 12)
        ei = ei[:, ei[1] != 7]
        loops = torch.tensor([[0, 3, 5, 6, 7], [0, 3, 5, 6, 7]])
        if not bool((ei[1] == 6).any()):
            ei = torch.cat([ei, torch.tensor([[1], [6]])], 1)
        w_edges = _weights(gen, ei.shape[1])
        w_loops = torch.cat([_weights(gen, 3, 0.2, 3.0), torch.zeros(2, dtype=torch.float64)])
        order = torch.randperm(ei.shape[1] + 5, generator=gen)  # loops mixed in among the edges
        ei, w = torch.cat([ei, loops], 1)[:, order], torch.cat([w_edges, w_loops])[order]
    elif name == "isolated":  # 3, 8, 9, 10 and 11 (the highest id) have no edges at all
        n = 12
        ei = _pairs(gen, [0, 1, 2, 4, 5, 6, 7], 12)
        w = _weights(gen, ei.shape[1])
    elif name == "no_edges":
        n = 5
        ei, w = torch.empty(2, 0, dtype=torch.long), torch.empty(0, dtype=torch.float64)
    elif name == "single_node":
        n = 1
        ei, w = torch.empty(2, 0, dtype=torch.long), torch.empty(0, dtype=torch.float64)
    else:
        raise KeyError(name)
    return Graph(name, n, ei.long().contiguous(), w)


@dataclass
class Inputs:
    """The layer's arguments ``(x, graph, edge_weight)`` and GCNConv's ``(x_dense, ref_graph, ref_weight)``."""

    x: Tensor
    graph: Tensor
    edge_weight: Tensor | None
    x_dense: Tensor
    ref_graph: Tensor
    ref_weight: Tensor | None


def make_inputs(g: Graph, form: str, x: Tensor) -> Inputs:
    """The layer's and GCNConv's arguments for ``form``, from dense ``x`` ``(N, F)`` (``(B, N, F)`` for "batched").

    The edge weights take ``x``'s dtype.
    """
    dtype = x.dtype
    w = g.edge_weight.to(dtype)
    ei = g.edge_index
    if form in ("ei64", "ei32", "ei64_view"):
        if form == "ei32":
            graph = ei.int()
        elif form == "ei64_view":
            graph = ei.t().contiguous().t()  # the same values as a non-contiguous (strided) view
        else:
            graph = ei.clone()
        return Inputs(x, graph, None, x, ei, None)
    if form in SPARSE_ADJ_FORMS:
        layout = {"coo": torch.sparse_coo, "csr": torch.sparse_csr, "csc": torch.sparse_csc}[form]
        ref_index, ref_weight = g.coalesced(dtype)  # the same matrix as an edge list (see the module docstring)
        return Inputs(x, g.adj_t(layout, dtype), None, x, ref_index, ref_weight)
    if form in ("ei_w", "batched"):
        return Inputs(x, ei.clone(), w.clone(), x, ei, w.clone())
    if form == "x_coo":
        return Inputs(x.to_sparse(), ei.clone(), w.clone(), x, ei, w.clone())
    if form == "x_csr":
        return Inputs(x.to_sparse_csr(), ei.clone(), w.clone(), x, ei, w.clone())
    raise KeyError(form)


def features(g: Graph, form: str, in_channels: int, dtype: torch.dtype, seed: int = 0) -> Tensor:
    """Seeded dense features: ``(N, F)``, or ``(B, N, F)`` for the batched form; sparse forms get some zeros."""
    gen = torch.Generator().manual_seed(seed + 7)
    shape = (BATCH, g.num_nodes, in_channels) if form == "batched" else (g.num_nodes, in_channels)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    if form in SPARSE_X_FORMS:
        x = x * (torch.rand(shape, generator=gen, dtype=torch.float64) < 0.6)
    return x.to(dtype)


def dense_norm_adj(
    g: Graph,
    edge_weight: Tensor | None,
    *,
    improved: bool = False,
    add_self_loops: bool = True,
    ref_graph: Tensor | None = None,
) -> Tensor:
    """GCNConv's Â as a dense float64 ``(N, N)`` matrix (``Â[target, source]``), from PyG's own ``gcn_norm``.

    Of ``g``'s edge_index with ``edge_weight``, or of the edge_index ``ref_graph`` (with ``edge_weight``) when given,
    or of the sparse ``ref_graph`` (an adj_t, through GCNConv's sparse path) when that is given.
    """
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    if ref_graph is not None and ref_graph.layout != torch.strided:
        adj, _ = gcn_norm(ref_graph.double(), None, g.num_nodes, improved, add_self_loops, "source_to_target")
        return adj.to_dense()
    w = None if edge_weight is None else edge_weight.detach().double()
    index = g.edge_index if ref_graph is None else ref_graph.long()
    ei, norm = gcn_norm(index, w, g.num_nodes, improved, add_self_loops, "source_to_target", torch.float64)
    adj = torch.zeros(g.num_nodes, g.num_nodes, dtype=torch.float64)
    return adj.index_put_((ei[1], ei[0]), norm, accumulate=True)
