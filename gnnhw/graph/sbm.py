r"""A seeded stochastic-block-model (SBM) graph for node classification at any size, up to 10^7 edges and more.

``gnnhw train-gcn --dataset sbm:NODES:EDGES[:CLASSES]`` trains on it. The model (Holland, Laskey & Leinhardt
1983, https://doi.org/10.1016/0378-8733(83)90021-7): the nodes fall into ``CLASSES`` blocks of (nearly) equal
size, node ``i`` in block :math:`\lfloor i C / N \rfloor`; the class of a node is its block. An undirected edge is
drawn by picking its first end uniformly at random, then, with probability ``intra_fraction``, the other end
uniformly in the same block, else uniformly in one of the other blocks (so the graph is homophilous: about
``intra_fraction`` of the edges join nodes of one class, against ``1 / CLASSES`` by chance). Self-loops and
repeated pairs are dropped and drawing goes on until exactly ``EDGES / 2`` distinct pairs remain, taken at random
(not by id) from the distinct pairs drawn. ``edge_index`` holds each pair in both directions, so ``EDGES`` is
PyG's ``num_edges`` (columns of ``edge_index``) and must be even.

Features are a weak class signal, sparse and binary like Planetoid's bag of words: each node has
``words_per_node`` draws from ``num_features`` words; each draw comes, with probability ``feature_signal``, from
the words of its class (a contiguous slice of the vocabulary), else from the whole vocabulary.

The split is random: 10% of the nodes train, 10% validate, the rest test.

Everything is drawn with one seeded ``torch.Generator`` in a few vectorized passes (no Python loop over nodes or
edges): 10^6 nodes and 10^7 edges take seconds and about 1 GiB.

This module's spec functions (:func:`parse_sbm`, :func:`is_sbm`, :func:`sbm_size`) import neither torch nor PyG,
so a bad size is refused in milliseconds; :func:`stochastic_block_model` and :func:`load_dataset` import torch.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, NamedTuple

from gnnhw.errors import ConfigError

if TYPE_CHECKING:
    from torch_geometric.data import Data

PREFIX = "sbm:"
DEFAULT_CLASSES = 8
NUM_FEATURES = 64  # vocabulary of the bag-of-words features
WORDS_PER_NODE = 8  # draws per node (repeated words count once)
INTRA_FRACTION = 0.7  # share of edge draws inside the first end's block (homophily; chance is 1 / CLASSES)
FEATURE_SIGNAL = 0.25  # share of word draws from the node's class's words
TRAIN_FRACTION = 0.1
VAL_FRACTION = 0.1
MIN_NODES = 10  # 10% train and 10% validation: at least one node each
MAX_NODES = 2**31 - 1  # node ids and CSR offsets stay within int32 ranges of sparse kernels
MAX_CLASSES = 65_536  # as a checkpoint's out_channels
MAX_EDGES = 2**40  # far beyond any machine's memory; the memory check refuses much less
SPEC_TEXT = "sbm:NODES:EDGES[:CLASSES], e.g. sbm:1000000:10000000:8 or sbm:1e6:1e7"
GENERATION_BYTES_PER_EDGE = 64  # peak temporaries of the sampling (pair keys, unique, both directions)


class SBMSpec(NamedTuple):
    """The sizes of an SBM data set: ``num_edges`` counts ``edge_index`` columns (both directions)."""

    num_nodes: int
    num_edges: int
    num_classes: int

    def name(self) -> str:
        """The canonical data set name, ``sbm:NODES:EDGES:CLASSES``."""
        return f"{PREFIX}{self.num_nodes}:{self.num_edges}:{self.num_classes}"


def is_sbm(name: object) -> bool:
    """Whether ``name`` asks for an SBM graph (starts with ``sbm:``, any case)."""
    return isinstance(name, str) and name[: len(PREFIX)].lower() == PREFIX


_INT = re.compile(r"^[0-9][0-9_]*$")
_SCI = re.compile(r"^([0-9]+(?:\.[0-9]+)?)[eE]\+?([0-9]{1,3})$")


def _parse_count(field: str, text: str, spec: str) -> int:
    """``"1000000"``, ``"1_000_000"`` or ``"1e6"`` -> 1000000; :class:`ConfigError` for anything else."""
    text = text.strip()
    if _INT.match(text) and not text.endswith("_"):
        return int(text.replace("_", ""))
    match = _SCI.match(text)
    if match:
        mantissa, exponent = match.groups()
        whole, _, frac = mantissa.partition(".")
        if int(exponent) >= len(frac.rstrip("0")):  # an exact integer such as 1e6 or 2.5e3
            digits = whole + frac
            return int(digits) * 10 ** (int(exponent) - len(frac))
    raise ConfigError(
        f"dataset {spec!r:.80}: {field} must be a non-negative whole number (like 1000000 or 1e6), got {text!r:.40}; "
        f"expected {SPEC_TEXT}"
    )


def parse_sbm(name: str) -> SBMSpec:
    """Parse and check ``sbm:NODES:EDGES[:CLASSES]`` (counts as ``1000000``, ``1_000_000`` or ``1e6``).

    Raises:
        ConfigError: a malformed spec or a size out of range, in one line naming the value and the fix: NODES in
            [10, 2^31 - 1], CLASSES in [2, min(NODES, 65536)], EDGES even and at most half of the N(N-1)
            directed pairs (SBM graphs here are sparse; more than N(N-1) is impossible).

    >>> parse_sbm("sbm:1e6:1e7")
    SBMSpec(num_nodes=1000000, num_edges=10000000, num_classes=8)
    >>> parse_sbm("SBM:100:400:3").name()
    'sbm:100:400:3'
    """
    if not is_sbm(name):
        raise ConfigError(f"dataset {name!r:.80} is not an SBM spec; expected {SPEC_TEXT}")
    parts = name[len(PREFIX) :].split(":")
    if len(parts) not in (2, 3):
        raise ConfigError(f"dataset {name!r:.80} has {len(parts)} field(s) after 'sbm:'; expected {SPEC_TEXT}")
    nodes = _parse_count("NODES", parts[0], name)
    edges = _parse_count("EDGES", parts[1], name)
    classes = _parse_count("CLASSES", parts[2], name) if len(parts) == 3 else DEFAULT_CLASSES
    if not MIN_NODES <= nodes <= MAX_NODES:
        raise ConfigError(
            f"dataset {name!r:.80}: NODES must be in [{MIN_NODES}, {MAX_NODES}] (10% train and 10% validation "
            f"need a node each; node ids must fit sparse kernels' int32 offsets), got {nodes}"
        )
    if not 2 <= classes <= min(nodes, MAX_CLASSES):
        raise ConfigError(
            f"dataset {name!r:.80}: CLASSES must be in [2, {min(nodes, MAX_CLASSES)}] (one block per class, "
            f"at most one per node), got {classes}"
        )
    possible = nodes * (nodes - 1)  # directed pairs without self-loops
    if edges > possible:
        raise ConfigError(
            f"dataset {name!r:.80}: {edges} edges are more than possible: {nodes} nodes have {possible} "
            "directed pairs without self-loops; use fewer EDGES or more NODES"
        )
    if edges > possible // 2 or edges > MAX_EDGES:
        raise ConfigError(
            f"dataset {name!r:.80}: {edges} edges fill more than half of the {possible} possible directed pairs "
            f"(at most {min(possible // 2 // 2 * 2, MAX_EDGES)}); SBM graphs here are sparse: use fewer EDGES"
        )
    if edges % 2:
        raise ConfigError(
            f"dataset {name!r:.80}: EDGES must be even (each undirected edge is stored in both directions, "
            f"as PyG counts num_edges), got {edges}; use {edges - 1} or {edges + 1}"
        )
    return SBMSpec(nodes, edges, classes)


def sbm_size(spec: SBMSpec) -> tuple[int, int, int, int]:
    """(nodes, features, classes, edges) of the data set ``spec`` describes."""
    return spec.num_nodes, NUM_FEATURES, spec.num_classes, spec.num_edges


def generation_bytes(spec: SBMSpec) -> int:
    """Estimated peak bytes of drawing the graph (edges, features, labels and masks)."""
    return GENERATION_BYTES_PER_EDGE * spec.num_edges + (4 * NUM_FEATURES + 64) * spec.num_nodes


def _block_starts(num_nodes: int, num_classes: int) -> Any:
    import torch

    blocks = torch.arange(num_classes + 1, dtype=torch.int64)
    return (blocks * num_nodes + num_classes - 1) // num_classes  # ceil(b N / C): node i is in block floor(i C / N)


def _draw_pairs(
    count: int, num_nodes: int, num_classes: int, intra_fraction: float, gen: Any
) -> tuple[Any, Any]:  # (count,) int64 each
    import torch

    starts = _block_starts(num_nodes, num_classes)
    sizes = starts[1:] - starts[:-1]  # (C,)
    src = torch.randint(num_nodes, (count,), generator=gen)
    block = src * num_classes // num_nodes  # (count,) block of the first end
    inter = torch.rand(count, generator=gen) >= intra_fraction
    shift = 1 + (torch.rand(count, generator=gen) * (num_classes - 1)).long().clamp_(max=num_classes - 2)
    block = torch.where(inter, (block + shift) % num_classes, block)  # another block, uniformly
    offset = (torch.rand(count, generator=gen, dtype=torch.float64) * sizes[block]).long()
    dst = starts[block] + torch.minimum(offset, sizes[block] - 1)
    return src, dst


def stochastic_block_model(
    num_nodes: int,
    num_edges: int,
    num_classes: int = DEFAULT_CLASSES,
    *,
    seed: int = 0,
    num_features: int = NUM_FEATURES,
    words_per_node: int = WORDS_PER_NODE,
    intra_fraction: float = INTRA_FRACTION,
    feature_signal: float = FEATURE_SIGNAL,
) -> Data:
    """Draw the SBM graph described in the module docstring; the same arguments give the same graph.

    Args:
        num_nodes, num_edges, num_classes: sizes as in ``sbm:NODES:EDGES:CLASSES`` (checked by :func:`parse_sbm`).
        seed: seed of the one ``torch.Generator`` every draw uses.
        num_features, words_per_node, feature_signal: the bag-of-words features (see the module docstring).
        intra_fraction: probability that an edge draw stays in its first end's block.

    Returns:
        a :class:`~torch_geometric.data.Data` like :func:`~gnnhw.graph.data.load_planetoid`'s, plus ``name`` and
        ``num_classes``.

    Shapes:
        ``x``: (N, num_features) float32 of 0/1; ``edge_index``: (2, num_edges) int64, symmetric, no self-loops
        or repeated pairs, sorted by (row, col); ``y``: (N,) int64 in [0, C); masks: (N,) bool, disjoint.

    Raises:
        ConfigError: sizes out of range (see :func:`parse_sbm`), or a probability outside [0, 1].

    >>> data = stochastic_block_model(100, 400, 4, seed=1)
    >>> data.num_nodes, data.num_edges, int(data.y.max()) + 1
    (100, 400, 4)
    """
    import torch
    from torch_geometric.data import Data

    spec = parse_sbm(f"{PREFIX}{num_nodes}:{num_edges}:{num_classes}")
    for label, p in (("intra_fraction", intra_fraction), ("feature_signal", feature_signal)):
        if not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ConfigError(f"{label} must be a probability in [0, 1], got {p!r:.40}")
    for label, v in (("num_features", num_features), ("words_per_node", words_per_node)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 1_000_000:
            raise ConfigError(f"{label} must be an integer in [1, 1000000], got {v!r:.40}")
    n, c = spec.num_nodes, spec.num_classes
    gen = torch.Generator().manual_seed(int(seed))

    # Edges: draw pairs, keep the distinct undirected ones (key = min * N + max), until there are enough.
    wanted = spec.num_edges // 2
    keys = torch.empty(0, dtype=torch.int64)
    for _ in range(1000):
        if keys.numel() >= wanted:
            break
        need = wanted - keys.numel()
        src, dst = _draw_pairs(need + need // 8 + 64, n, c, intra_fraction, gen)
        keep = src != dst  # no self-loops
        src, dst = src[keep], dst[keep]
        fresh = torch.minimum(src, dst) * n + torch.maximum(src, dst)
        keys = torch.unique(torch.cat([keys, fresh]))  # sorted, distinct
    else:  # pragma: no cover - parse_sbm keeps the graph at most half full, where each round finds new pairs
        raise ConfigError(f"could not draw {wanted} distinct pairs for {spec.name()}; use fewer EDGES")
    if keys.numel() > wanted:  # a random subset, not the smallest ids
        keys = keys[torch.randperm(keys.numel(), generator=gen)[:wanted]].sort().values
    low, high = keys // n, keys % n
    row = torch.cat([low, high])  # both directions
    col = torch.cat([high, low])
    order = torch.argsort(row * n + col)
    edge_index = torch.stack([row[order], col[order]])  # (2, E)

    # Labels: the blocks. Features: words_per_node draws each, from the class's words with prob. feature_signal.
    starts = _block_starts(n, c)
    y = torch.bucketize(torch.arange(n), starts[1:], right=True)  # (N,) node i -> floor(i C / N)
    f = num_features
    word_lo = y * f // c  # the class's words: [y F / C, (y + 1) F / C), at least one word
    word_count = torch.clamp((y + 1) * f // c - word_lo, min=1)
    own = (torch.rand(n, words_per_node, generator=gen, dtype=torch.float64) * word_count[:, None]).long()
    own = torch.minimum(word_lo[:, None] + own, torch.tensor(f - 1))
    anyword = torch.randint(f, (n, words_per_node), generator=gen)
    from_class = torch.rand(n, words_per_node, generator=gen) < feature_signal
    words = torch.where(from_class, own, anyword)  # (N, words_per_node)
    x = torch.zeros(n, f)
    x.scatter_(1, words, 1.0)  # repeated words count once

    # Split: a random permutation, 10% / 10% / 80%.
    perm = torch.randperm(n, generator=gen)
    n_train, n_val = max(1, int(n * TRAIN_FRACTION)), max(1, int(n * VAL_FRACTION))
    masks = []
    for lo, hi in ((0, n_train), (n_train, n_train + n_val), (n_train + n_val, n)):
        mask = torch.zeros(n, dtype=torch.bool)
        mask[perm[lo:hi]] = True
        masks.append(mask)
    data = Data(x=x, edge_index=edge_index, y=y, train_mask=masks[0], val_mask=masks[1], test_mask=masks[2])
    data.name = spec.name()
    data.num_classes = c
    return data


def load_dataset(
    name: str, root: str | os.PathLike | None = None, *, trust_raw_data: bool = False, seed: int = 0
) -> Data:
    """An SBM graph for ``sbm:...`` names (drawn with ``seed``), else :func:`~gnnhw.graph.data.load_planetoid`.

    Raises: what :func:`parse_sbm` or :func:`~gnnhw.graph.data.load_planetoid` raise.
    """
    if is_sbm(name):
        spec = parse_sbm(name)
        return stochastic_block_model(spec.num_nodes, spec.num_edges, spec.num_classes, seed=seed)
    from gnnhw.graph.data import load_planetoid

    return load_planetoid(name, root, trust_raw_data=trust_raw_data)
