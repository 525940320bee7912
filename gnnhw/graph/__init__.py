"""Graphs: Ã = A + I and Â = D^-1/2 Ã D^-1/2, a from-scratch GCN layer equal to PyG's ``GCNConv``,
the assignment's example graph, receptive fields, and node classification on Planetoid.

The names below are the public API; each is imported from its module on first use, so
``import gnnhw.graph`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "assignment_graph": "gnnhw.graph.examples",
    "self_loop_adjacency": "gnnhw.graph.adjacency",
    "normalized_adjacency": "gnnhw.graph.adjacency",
    "GCNLayer": "gnnhw.graph.layers",
    "GCN": "gnnhw.graph.models",
    "receptive_field": "gnnhw.graph.receptive_field",
    "empirical_receptive_field": "gnnhw.graph.receptive_field",
    "updates_needed": "gnnhw.graph.receptive_field",
    "read_graph": "gnnhw.graph.io",
    "load_planetoid": "gnnhw.graph.data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gnnhw.graph' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
