"""gnnhw's default GCN run against PyG's reference recipe (examples/gcn.py), in the same process.

Both train Kipf & Welling's 2-layer GCN (hidden 16, dropout 0.5, Adam lr 0.01, weight decay 5e-4 on the
first layer, row-normalized features) for 200 epochs on the public split, evaluating after every epoch
and reporting the test accuracy at the epoch of best validation accuracy. They differ in how:

- reference (PyG's ``examples/gcn.py``): dense features, ``GCNConv(normalize=True)`` on ``edge_index``
  (the graph is normalized in every forward pass), dense dropout.
- gnnhw (``train_planetoid(TrainConfig())``): sparse features with dropout on their stored values,
  Â computed once, gnnhw's ``GCNLayer``.

A run is timed from the loaded ``Data`` (feature normalization, model and Â set-up included) to the end
of the last epoch. Runs alternate between the two, ``--repeats`` times; medians are printed.

    python benchmarks/planetoid.py --dataset Cora --repeats 5 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch_geometric.data import Data
from torch_geometric.nn import GCNConv
from torch_geometric.transforms import NormalizeFeatures

from gnnhw._utils import seed_everything
from gnnhw.graph.data import load_planetoid
from gnnhw.graph.train import TrainConfig, train_planetoid


class ReferenceGCN(torch.nn.Module):
    """The model of PyG's examples/gcn.py."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = GCNConv(in_channels, hidden_channels)
        self.conv2 = GCNConv(hidden_channels, out_channels)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        x = F.dropout(x, p=0.5, training=self.training)
        x = self.conv1(x, edge_index).relu()
        x = F.dropout(x, p=0.5, training=self.training)
        return self.conv2(x, edge_index)


def reference_run(data: Data, epochs: int, seed: int) -> tuple[float, float]:
    """PyG's examples/gcn.py training loop; returns (seconds, test accuracy at best validation accuracy)."""
    start = time.perf_counter()
    seed_everything(seed)
    data = NormalizeFeatures()(data.clone())
    model = ReferenceGCN(data.num_features, 16, int(data.num_classes))
    optimizer = torch.optim.Adam(
        [
            dict(params=model.conv1.parameters(), weight_decay=5e-4),  # weight decay on the first layer only
            dict(params=model.conv2.parameters(), weight_decay=0),
        ],
        lr=0.01,
    )
    best_val = test_acc = 0.0
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        out = model(data.x, data.edge_index)
        F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            pred = model(data.x, data.edge_index).argmax(dim=-1)
        accs = [float((pred[m] == data.y[m]).float().mean()) for m in (data.train_mask, data.val_mask, data.test_mask)]
        if accs[1] > best_val:
            best_val, test_acc = accs[1], accs[2]
    return time.perf_counter() - start, test_acc


def gnnhw_run(data: Data, epochs: int, seed: int) -> tuple[float, float]:
    """gnnhw's default recipe; returns (seconds, test accuracy at best validation epoch)."""
    start = time.perf_counter()
    result = train_planetoid(TrainConfig(dataset=data.name, epochs=epochs, seed=seed), data=data)
    return time.perf_counter() - start, result.runs[0].test_acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="Cora", help="Cora, CiteSeer or PubMed (default: Cora)")
    parser.add_argument("--epochs", type=int, default=200, help="epochs per run (default: 200)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (default: 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first run (default: 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--data-root", default=None, help="data root (default: $GNNHW_DATA, else datasets/)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_planetoid(args.dataset, args.data_root)
    gnnhw_run(data, 5, args.seed)  # warm-up (lazy imports, allocator)
    reference_run(data, 5, args.seed)

    times: dict[str, list[float]] = {"reference": [], "gnnhw": []}
    accs: dict[str, list[float]] = {"reference": [], "gnnhw": []}
    for i in range(args.repeats):
        for name, run in (("reference", reference_run), ("gnnhw", gnnhw_run)):
            seconds, acc = run(data, args.epochs, args.seed + i)
            times[name].append(seconds)
            accs[name].append(acc)
            print(f"repeat {i + 1}: {name:>9} {seconds:7.2f} s  test acc {acc:.4f}", flush=True)

    print(f"\n{data.name}, {args.epochs} epochs, {torch.get_num_threads()} thread(s), medians of {args.repeats} runs")
    for name in times:
        med = statistics.median(times[name])
        print(
            f"{name:>9}: {med:7.2f} s per run ({1000 * med / args.epochs:6.2f} ms/epoch), "
            f"test acc {100 * statistics.fmean(accs[name]):.2f}% (mean over runs)"
        )
    ratio = statistics.median(times["reference"]) / statistics.median(times["gnnhw"])
    print(f"gnnhw is {ratio:.1f}x faster than PyG's reference recipe")


if __name__ == "__main__":
    main()
