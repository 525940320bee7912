"""Time each main command's step with ``--threads auto``, 1 thread and every core, on a quiet machine and
with a competing CPU-bound process, alternating in one run.

The steps (forward + backward + optimizer update, on the CPU):

- ``palindrome``: the from-scratch LSTM classifier, batch 128, 128 hidden units, T = 10 (9 inputs), Adam;
- ``cora``: one epoch of Kipf's 2-layer GCN (16 hidden) with gnnhw's layer on Cora, Adam;
- ``textgen``: the 2 x 128 ``torch.nn.LSTM`` language model, batch 64 x 30 characters, 80 characters;
- ``large-graph``: one epoch of the same GCN on a random graph of 10^5 nodes and 10^6 edges, 64 features.

"auto" is what :func:`gnnhw.threads.threads_for` picks for the step (the commands' ``--threads auto``),
asked afresh in each condition of each round, as a command starting then would (for large work it looks at
the idle cores). The competitor is a Python process spinning on one core, started and stopped by this
script; "quiet" means no competitor of ours (other users of the machine are not under its control: see the
load average printed).
Every round times every (condition, step, setting) once, in that order, so slow drifts of the machine's load
hit all settings alike; the table gives the median seconds per step over the rounds and auto / best.

    python benchmarks/threads.py [--rounds 5] [--steps 3] [--only palindrome cora ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

from gnnhw.threads import threads_for, usable_cores

Step = Callable[[], None]


def _palindrome() -> tuple[Step, str, int]:
    from gnnhw.recurrent.models import build_model
    from gnnhw.recurrent.palindrome import palindrome_batch

    torch.manual_seed(0)
    model = build_model("lstm", 10, 128, 10, 1.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = palindrome_batch(10, 128, torch.Generator().manual_seed(0))

    def step() -> None:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()

    return step, "recurrent", 128 * 128


def _gcn_step(x: torch.Tensor, adj: torch.Tensor, y: torch.Tensor, classes: int) -> Step:
    from gnnhw.graph.models import GCN

    torch.manual_seed(0)
    model = GCN(x.shape[1], 16, classes, num_layers=2, dropout=0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def step() -> None:
        model.train()
        loss = nn.functional.cross_entropy(model(x, adj), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _cora() -> tuple[Step, str, int]:
    from gnnhw.graph.config import TrainConfig
    from gnnhw.graph.data import load_planetoid
    from gnnhw.graph.train import prepare_graph

    data = load_planetoid("Cora")
    graph = prepare_graph(data, TrainConfig())
    return _gcn_step(graph.x, graph.adj, graph.y, graph.num_classes), "graph", int(data.edge_index.shape[1])


def _large_graph(nodes: int = 100_000, edges: int = 1_000_000) -> tuple[Step, str, int]:
    from gnnhw.graph.adjacency import normalized_adjacency

    gen = torch.Generator().manual_seed(0)
    edge_index = torch.randint(0, nodes, (2, edges), generator=gen)
    adj = normalized_adjacency(edge_index, num_nodes=nodes, sparse=True)
    x = torch.randn(nodes, 64, generator=gen)
    y = torch.randint(0, 8, (nodes,), generator=gen)
    return _gcn_step(x, adj, y, 8), "graph", edges


def _textgen() -> tuple[Step, str, int]:
    from gnnhw.recurrent.models import TextGenerationModel

    torch.manual_seed(0)
    model = TextGenerationModel(80, 128, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    ids = torch.randint(0, 80, (64, 31), generator=torch.Generator().manual_seed(0))

    def step() -> None:
        logits, _ = model(ids[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, 80), ids[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()

    return step, "recurrent", 64 * 128


WORKLOADS: dict[str, Callable[[], tuple[Step, str, int]]] = {
    "palindrome": _palindrome,
    "cora": _cora,
    "textgen": _textgen,
    "large-graph": _large_graph,
}


def _seconds_per_step(step: Step, threads: int, steps: int) -> float:
    torch.set_num_threads(threads)
    step()  # warm-up at this thread count
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def _competitor() -> subprocess.Popen:
    """A CPU-bound process on one core (pure Python spin: no threads of its own)."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds, alternating everything (default 5)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per measurement (default 3)")
    parser.add_argument("--only", nargs="+", choices=tuple(WORKLOADS), default=list(WORKLOADS))
    args = parser.parse_args()
    cores = usable_cores()
    steps = {name: WORKLOADS[name]() for name in args.only}
    autos: dict[tuple[str, str], list[int]] = {}
    settings = {"auto": None, "1": 1, "all": cores}
    times: dict[tuple[str, str, str], list[float]] = {}
    print(f"{cores} usable cores; load average before: {os.getloadavg()[0]:.2f}", flush=True)
    for round_ in range(args.rounds):
        for condition in ("quiet", "busy"):
            competitor = _competitor() if condition == "busy" else None
            try:
                if competitor is not None:
                    time.sleep(0.2)  # let it start spinning
                for name, (step, kind, size) in steps.items():
                    auto = threads_for(kind, size)
                    autos.setdefault((name, condition), []).append(auto)
                    for setting, count in settings.items():
                        seconds = _seconds_per_step(step, count if count is not None else auto, args.steps)
                        times.setdefault((name, condition, setting), []).append(seconds)
            finally:
                if competitor is not None:
                    competitor.kill()
                    competitor.wait()
        print(f"round {round_ + 1}/{args.rounds} done; load average {os.getloadavg()[0]:.2f}", flush=True)
    print()
    print("| step | condition | auto (threads) | 1 thread | all cores | auto / best | auto's count is the best's |")
    print("|---|---|---|---|---|---|---|")
    for name in steps:
        for condition in ("quiet", "busy"):
            med = {s: statistics.median(times[(name, condition, s)]) for s in settings}
            best = min(med["1"], med["all"])
            picked = sorted(set(autos[(name, condition)]))
            best_count = 1 if med["1"] <= med["all"] else cores
            same = "yes" if picked == [best_count] else "no"
            print(
                f"| {name} | {condition} | {med['auto'] * 1e3:.1f} ms ({'/'.join(map(str, picked))}) | "
                f"{med['1'] * 1e3:.1f} ms | {med['all'] * 1e3:.1f} ms | {med['auto'] / best:.2f} | {same} |"
            )


if __name__ == "__main__":
    main()
