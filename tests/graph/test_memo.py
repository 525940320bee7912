"""The content-checked structure memo (gnnhw.graph.memo) and who owns which memo."""

from __future__ import annotations

import gc

import numpy as np
import torch

from gnnhw.graph import layers, structure
from gnnhw.graph.layers import GCNLayer
from gnnhw.graph.memo import StructureMemo


def test_value_is_built_once_per_content():
    memo = StructureMemo()
    builds = []
    edge_index = torch.tensor([[0, 1], [1, 0]])
    first = memo.get(edge_index, "key", lambda: builds.append(1) or len(builds))
    again = memo.get(edge_index, "key", lambda: builds.append(1) or len(builds))
    assert first == 1
    assert again == 1
    assert len(builds) == 1


def test_untracked_write_through_a_numpy_buffer_rebuilds():
    memo = StructureMemo()
    buffer = np.array([[0, 1], [1, 2]])
    edge_index = torch.from_numpy(buffer)  # shares the buffer: torch's version counter misses writes to it
    assert memo.get(edge_index, "max", lambda: int(edge_index.max())) == 2
    buffer[1, 1] = 5
    assert memo.get(edge_index, "max", lambda: int(edge_index.max())) == 5


def test_sparse_tensor_is_keyed_on_its_indices_not_its_values():
    memo = StructureMemo()
    adj = torch.sparse_coo_tensor(torch.tensor([[0, 1], [1, 0]]), torch.tensor([1.0, 2.0]), (2, 2)).coalesce()
    builds = []
    memo.get(adj, "k", lambda: builds.append(1))
    adj.values().mul_(3.0)  # weights change, structure does not
    memo.get(adj, "k", lambda: builds.append(1))
    assert len(builds) == 1


def test_entries_are_dropped_with_their_tensor():
    memo = StructureMemo()
    edge_index = torch.tensor([[0], [1]])
    memo.get(edge_index, "k", lambda: 1)
    ident = id(edge_index)
    assert ident in memo._entries
    del edge_index
    gc.collect()
    assert ident not in memo._entries


def test_the_layer_fills_only_its_own_memo():
    """layers.py keeps its CSR patterns in its own StructureMemo, not in structure.py's."""
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 0]])
    GCNLayer(2, 2)(torch.randn(3, 2), edge_index)
    assert id(edge_index) in layers._MEMO._entries
    assert id(edge_index) not in structure._MEMO._entries
