"""Graphs: Ã = A + I and Â = D̃^-1/2 Ã D̃^-1/2, a from-scratch GCN layer equal to PyG's ``GCNConv``,
the assignment's example graph, receptive fields, and node classification on Planetoid. Notation and model:
Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional Networks", ICLR 2017,
https://arxiv.org/abs/1609.02907 (D̃ is the degree matrix of Ã).

The names below are the public API; each is imported from its module on first use, so
``import gnnhw.graph`` stays cheap. No module is named like an exported function (the receptive-field
functions live in ``receptive.py``): importing a submodule binds its name on the package, which would
shadow a function of the same name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gnnhw._lazy import lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers (``as``: re-exported); tests/test_public_api.py checks
    from gnnhw.graph.adjacency import (
        normalized_adjacency as normalized_adjacency,
    )
    from gnnhw.graph.adjacency import (
        self_loop_adjacency as self_loop_adjacency,
    )
    from gnnhw.graph.adjacency import (
        to_edge_index as to_edge_index,
    )
    from gnnhw.graph.data import (
        load_planetoid as load_planetoid,
    )
    from gnnhw.graph.examples import (
        assignment_graph as assignment_graph,
    )
    from gnnhw.graph.io import (
        read_graph as read_graph,
    )
    from gnnhw.graph.layers import (
        GCNLayer as GCNLayer,
    )
    from gnnhw.graph.models import (
        GCN as GCN,
    )
    from gnnhw.graph.receptive import (
        empirical_receptive_field as empirical_receptive_field,
    )
    from gnnhw.graph.receptive import (
        empirical_receptive_fields as empirical_receptive_fields,
    )
    from gnnhw.graph.receptive import (
        graph_diameter as graph_diameter,
    )
    from gnnhw.graph.receptive import (
        receptive_field as receptive_field,
    )
    from gnnhw.graph.receptive import (
        receptive_field_sizes as receptive_field_sizes,
    )
    from gnnhw.graph.receptive import (
        updates_needed as updates_needed,
    )
    from gnnhw.graph.train import (
        TrainConfig as TrainConfig,
    )
    from gnnhw.graph.train import (
        TrainResult as TrainResult,
    )
    from gnnhw.graph.train import (
        train_planetoid as train_planetoid,
    )

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
