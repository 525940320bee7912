"""Full-batch GCN training on stochastic-block-model graphs of 10^5, 10^6 and 10^7 edges: gnnhw vs PyG, on CPU.

For each size (``--edges``; nodes = edges / 10, so the mean degree is 10; 8 classes; the graph of
:func:`gnnhw.graph.sbm.stochastic_block_model`, drawn once by this script and saved to a temporary file), two
implementations of the same 2-layer GCN (64 -> 16 -> 8, dropout 0.5, Adam, cross-entropy on the training nodes)
train full-batch:

* ``gnnhw``  gnnhw's ``GCN(impl="scratch")`` (:class:`gnnhw.graph.layers.GCNLayer`) on Â, a sparse CSR matrix
             computed once by :func:`gnnhw.graph.adjacency.normalized_adjacency` (what ``train-gcn`` does); the
             time to compute Â is reported separately as ``setup``.
* ``pyg``    ``GCN(impl="reference")``: PyG's ``GCNConv`` on ``edge_index`` (default ``cached=False``: it normalizes
             the graph in every forward pass, as ``train-gcn --impl reference`` runs it).

Both get the same dense, row-normalized features. Each (size, implementation) runs in its own fresh subprocess,
``--rounds`` times, the two implementations alternating (and the first one swapping every round), so that a busy
machine slows both alike. A child does one warm-up epoch, then ``--epochs`` timed epochs (forward + backward +
optimizer step); reported: the median seconds per epoch over every timed epoch of every round, and the child's
peak RSS (``ru_maxrss``; the largest over rounds). ``graph memory`` is that peak minus the child's RSS after its
imports, before the graph was loaded: the memory that grows with the graph (inputs, their preprocessing and
training). ``training memory`` isolates the training: the kernel's RSS high-water mark is reset
(``/proc/self/clear_refs``) once the inputs are ready, and the high-water mark over the epochs minus the RSS at
that point is reported (activations, gradients, Adam's state, temporaries; Linux only). A child killed by the
kernel (out of memory) is reported as ``OOM``. The slopes are least-squares fits of log(time) and log(memory)
against log(edges).

    python benchmarks/large_graph.py                          # 1e5 1e6 1e7 edges, figure + JSON under docs/studies/
    python benchmarks/large_graph.py --edges 1e4 1e5 --rounds 1 --epochs 2 --figure /tmp/g.png --json /tmp/g.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

IMPLS = ("gnnhw", "pyg")
FEATURES, HIDDEN, CLASSES = 64, 16, 8


def _rss_mib() -> float:
    """Current resident set size in MiB (Linux /proc; elsewhere the peak, a coarser measure)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _vm_kib(key: str) -> int | None:
    """``VmRSS`` / ``VmHWM`` of this process in KiB (Linux); ``None`` elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's RSS high-water mark (VmHWM) to the current RSS (Linux ``clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child(impl: str, path: str, epochs: int, threads: int) -> dict:
    """Train in this (fresh) process; return the measurements."""
    import torch
    import torch.nn.functional as F

    from gnnhw.graph.adjacency import normalized_adjacency
    from gnnhw.graph.data import row_normalize
    from gnnhw.graph.models import GCN

    torch.set_num_threads(threads)
    base = _rss_mib()
    blob = torch.load(path, weights_only=True)
    x = row_normalize(blob["x"])
    edge_index, y, train = blob["edge_index"], blob["y"], blob["train_mask"]
    num_nodes = x.shape[0]
    del blob
    start = time.perf_counter()
    graph = normalized_adjacency(edge_index, num_nodes=num_nodes, sparse=True) if impl == "gnnhw" else edge_index
    setup = time.perf_counter() - start
    if impl == "gnnhw":
        del edge_index
    torch.manual_seed(0)
    which = "scratch" if impl == "gnnhw" else "reference"
    model = GCN(FEATURES, HIDDEN, CLASSES, num_layers=2, dropout=0.5, impl=which)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    seconds = []
    reset = _reset_peak()
    before = _vm_kib("VmRSS")
    for epoch in range(epochs + 1):  # epoch 0: warm-up, not timed
        start = time.perf_counter()
        optimizer.zero_grad()
        out = model(x, graph)  # (N, C)
        loss = F.cross_entropy(out[train], y[train])
        loss.backward()
        optimizer.step()
        if epoch:
            seconds.append(time.perf_counter() - start)
        del out, loss
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    hwm = _vm_kib("VmHWM")
    training = (hwm - before) / 1024 if reset and hwm is not None and before is not None else float("nan")
    return {"seconds": seconds, "setup": setup, "peak_mib": peak, "base_mib": base, "training_mib": training}


def _run_child(impl: str, path: Path, epochs: int, threads: int, mmap_threshold: int | None = None) -> dict | None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    if mmap_threshold is not None:  # glibc: blocks this large are mmap-ed and returned to the OS when freed
        env["MALLOC_MMAP_THRESHOLD_"] = str(mmap_threshold)
    cmd = [sys.executable, __file__, "--child", impl, str(path), str(epochs), str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        if proc.returncode in (-9, 137) or "MemoryError" in proc.stderr or "out of memory" in proc.stderr.lower():
            return None  # out of memory
        raise RuntimeError(f"{impl} on {path.name} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(ys) against log(xs); ``None`` for fewer than two points."""
    if len(xs) < 2:
        return None
    lx, ly = [math.log(v) for v in xs], [math.log(v) for v in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum((a - mx) ** 2 for a in lx)


def _count(text: str) -> int:
    value = float(text)
    if not value.is_integer() or value < 20 or value % 2:
        raise argparse.ArgumentTypeError(f"edges must be an even whole number >= 20, got {text!r}")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=_count, nargs="+", default=[10**5, 10**6, 10**7], help="graph sizes")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per size (default: 2)")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per child (default: 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per child (default: 1)")
    parser.add_argument(
        "--malloc-mmap-threshold",
        type=int,
        default=None,
        help="set glibc's MALLOC_MMAP_THRESHOLD_ (bytes) in the children, so RSS follows the live memory "
        "instead of what the heap keeps after frees (default: glibc's own, dynamic threshold)",
    )
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "studies" / "large_graph.png")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "studies" / "large_graph.json")
    args = parser.parse_args(argv)

    import torch

    from gnnhw.graph.sbm import stochastic_block_model

    results: dict[str, dict[int, dict]] = {impl: {} for impl in IMPLS}
    with tempfile.TemporaryDirectory(prefix="gnnhw-large-graph-") as tmp:
        for edges in args.edges:
            start = time.perf_counter()
            data = stochastic_block_model(edges // 10, edges, CLASSES, seed=0, num_features=FEATURES)
            drawn = time.perf_counter() - start
            path = Path(tmp) / f"sbm-{edges}.pt"
            keys = ("x", "edge_index", "y", "train_mask")
            torch.save({k: data[k] for k in keys}, path)
            del data
            print(f"{edges:.0e} edges, {edges // 10} nodes: graph drawn in {drawn:.1f} s", file=sys.stderr, flush=True)
            runs: dict[str, list[dict | None]] = {impl: [] for impl in IMPLS}
            for r in range(args.rounds):
                for impl in IMPLS if r % 2 == 0 else IMPLS[::-1]:
                    runs[impl].append(_run_child(impl, path, args.epochs, args.threads, args.malloc_mmap_threshold))
                    last = runs[impl][-1]
                    shown = "OOM" if last is None else f"{statistics.median(last['seconds']):.3f} s/epoch"
                    print(f"  round {r + 1} {impl}: {shown}", file=sys.stderr, flush=True)
            path.unlink()
            for impl in IMPLS:
                done = [run for run in runs[impl] if run is not None]
                if len(done) < len(runs[impl]):
                    results[impl][edges] = {"oom": True}
                    continue
                seconds = [s for run in done for s in run["seconds"]]
                peak = max(run["peak_mib"] for run in done)
                base = min(run["base_mib"] for run in done)
                results[impl][edges] = {
                    "oom": False,
                    "seconds_per_epoch": statistics.median(seconds),
                    "setup_seconds": statistics.median(run["setup"] for run in done),
                    "peak_rss_mib": peak,
                    "graph_mib": peak - base,
                    "training_mib": max(run["training_mib"] for run in done),
                    "epochs_timed": len(seconds),
                }

    table = _table(results, args.edges)
    print(table)
    fits = _fits(results, args.edges)
    for impl, (ts, ms, tms) in fits.items():
        print(
            f"{impl}: slope vs log edges of log time {_fmt(ts)}, of log graph memory {_fmt(ms)}, "
            f"of log training memory {_fmt(tms)}"
        )
    payload = {
        "edges": args.edges,
        "rounds": args.rounds,
        "epochs": args.epochs,
        "threads": args.threads,
        "malloc_mmap_threshold": args.malloc_mmap_threshold,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "results": {impl: {str(e): v for e, v in by.items()} for impl, by in results.items()},
        "slopes": {impl: {"time": t, "graph_memory": m, "training_memory": tm} for impl, (t, m, tm) in fits.items()},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    _figure(results, args.edges, fits, args.figure)
    print(f"results: {args.json}; figure: {args.figure}")
    return 0


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def _fits(results: dict, edges: list[int]) -> dict[str, tuple[float | None, float | None, float | None]]:
    fits = {}
    for impl in IMPLS:
        ok = [e for e in edges if not results[impl][e]["oom"]]
        fits[impl] = (
            slope([float(e) for e in ok], [results[impl][e]["seconds_per_epoch"] for e in ok]),
            slope([float(e) for e in ok], [results[impl][e]["graph_mib"] for e in ok]),
            slope([float(e) for e in ok], [results[impl][e]["training_mib"] for e in ok]),
        )
    return fits


def _table(results: dict, edges: list[int]) -> str:
    lines = [
        "| edges | nodes | gnnhw s/epoch | pyg s/epoch | time ratio | gnnhw peak RSS | pyg peak RSS | "
        "gnnhw graph mem | pyg graph mem | graph mem ratio | gnnhw training mem | pyg training mem | "
        "training mem ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in edges:
        g, p = results["gnnhw"][e], results["pyg"][e]

        def cell(r: dict, key: str, unit: str) -> str:
            return "OOM" if r["oom"] else f"{r[key]:.3f} s" if unit == "s" else f"{r[key]:.0f} MiB"

        def ratio(key: str, g: dict = g, p: dict = p) -> str:
            return "-" if g["oom"] or p["oom"] else f"{p[key] / g[key]:.1f}x"

        lines.append(
            f"| {e:.0e} | {e // 10:.0e} | {cell(g, 'seconds_per_epoch', 's')} | {cell(p, 'seconds_per_epoch', 's')} | "
            f"{ratio('seconds_per_epoch')} | {cell(g, 'peak_rss_mib', 'm')} | {cell(p, 'peak_rss_mib', 'm')} | "
            f"{cell(g, 'graph_mib', 'm')} | {cell(p, 'graph_mib', 'm')} | {ratio('graph_mib')} | "
            f"{cell(g, 'training_mib', 'm')} | {cell(p, 'training_mib', 'm')} | {ratio('training_mib')} |"
        )
    return "\n".join(lines)


def _figure(results: dict, edges: list[int], fits: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for impl, marker in zip(IMPLS, ("o", "s"), strict=True):
        ok = [e for e in edges if not results[impl][e]["oom"]]
        t_slope, m_slope, tm_slope = fits[impl]
        axes[0].loglog(ok, [results[impl][e]["seconds_per_epoch"] for e in ok], marker=marker,
                       label=f"{impl} (slope {_fmt(t_slope)})")  # fmt: skip
        axes[1].loglog(ok, [results[impl][e]["graph_mib"] for e in ok], marker=marker,
                       label=f"{impl} (slope {_fmt(m_slope)})")  # fmt: skip
        axes[2].loglog(ok, [results[impl][e]["training_mib"] for e in ok], marker=marker,
                       label=f"{impl} (slope {_fmt(tm_slope)})")  # fmt: skip
    axes[0].set_ylabel("seconds per epoch (median)")
    axes[1].set_ylabel("peak RSS above the imports (MiB)")
    axes[2].set_ylabel("training peak above the inputs (MiB)")
    for ax in axes:
        ax.set_xlabel("edges (edge_index columns)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("Full-batch 2-layer GCN training on SBM graphs (mean degree 10), CPU")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        impl, path, epochs, threads = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        print(json.dumps(child(impl, path, epochs, threads)))
        sys.exit(0)
    sys.exit(main())
