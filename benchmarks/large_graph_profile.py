"""Per-step memory of full-batch GCN training on an SBM graph: how much RSS each epoch's step needs and keeps.

Before every epoch the kernel's RSS high-water mark is reset (``/proc/self/clear_refs``, Linux); printed: the peak
above the RSS at the epoch's start after the forward pass and after forward + backward, and the RSS the epoch
leaves behind. Shows what ``benchmarks/large_graph.py``'s "training mem" is made of (live memory vs what the
allocator keeps after frees).

    python benchmarks/large_graph_profile.py gnnhw 1e6 10
    python benchmarks/large_graph_profile.py pyg 1e6 3
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from large_graph import _reset_peak, _vm_kib  # noqa: E402

from gnnhw.graph.adjacency import normalized_adjacency  # noqa: E402
from gnnhw.graph.data import row_normalize  # noqa: E402
from gnnhw.graph.models import GCN  # noqa: E402
from gnnhw.graph.sbm import stochastic_block_model  # noqa: E402


def _mib(key: str) -> float:
    value = _vm_kib(key)
    return float("nan") if value is None else value / 1024


def main() -> None:
    impl, edges = sys.argv[1], int(float(sys.argv[2]))
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    torch.set_num_threads(1)
    data = stochastic_block_model(edges // 10, edges, 8, seed=0)
    x, edge_index, y, train = row_normalize(data.x), data.edge_index, data.y, data.train_mask
    del data
    graph = normalized_adjacency(edge_index, num_nodes=x.shape[0], sparse=True) if impl == "gnnhw" else edge_index
    model = GCN(64, 16, 8, impl="scratch" if impl == "gnnhw" else "reference")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(epochs):
        _reset_peak()
        start = _mib("VmRSS")
        optimizer.zero_grad()
        out = model(x, graph)
        forward = _mib("VmHWM") - start
        F.cross_entropy(out[train], y[train]).backward()
        both = _mib("VmHWM") - start
        optimizer.step()
        del out
        print(
            f"{impl} {edges:.0e} edges, epoch {epoch}: forward peak +{forward:.0f} MiB, forward+backward peak "
            f"+{both:.0f} MiB, kept after the epoch {_mib('VmRSS') - start:+.0f} MiB"
        )


if __name__ == "__main__":
    main()
