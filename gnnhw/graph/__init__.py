"""Graphs: Ã = A + I and Â = D^-1/2 Ã D^-1/2, a from-scratch GCN layer equal to PyG's ``GCNConv``,
the assignment's example graph, receptive fields, and node classification on Planetoid.

The names below are the public API; each is imported from its module on first use, so
``import gnnhw.graph`` stays cheap. No module is named like an exported function (the receptive-field
functions live in ``receptive.py``): importing a submodule binds its name on the package, which would
shadow a function of the same name.
"""

from __future__ import annotations

from gnnhw._lazy import lazy_exports

_EXPORTS = {
    "assignment_graph": "gnnhw.graph.examples",
    "self_loop_adjacency": "gnnhw.graph.adjacency",
    "normalized_adjacency": "gnnhw.graph.adjacency",
    "GCNLayer": "gnnhw.graph.layers",
    "to_edge_index": "gnnhw.graph.adjacency",
    "GCN": "gnnhw.graph.models",
    "receptive_field": "gnnhw.graph.receptive",
    "receptive_field_sizes": "gnnhw.graph.receptive",
    "empirical_receptive_field": "gnnhw.graph.receptive",
    "empirical_receptive_fields": "gnnhw.graph.receptive",
    "updates_needed": "gnnhw.graph.receptive",
    "graph_diameter": "gnnhw.graph.receptive",
    "read_graph": "gnnhw.graph.io",
    "load_planetoid": "gnnhw.graph.data",
    "TrainConfig": "gnnhw.graph.train",
    "TrainResult": "gnnhw.graph.train",
    "train_planetoid": "gnnhw.graph.train",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
