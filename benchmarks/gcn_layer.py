"""Forward + backward time and peak memory: gnnhw's GCNLayer against PyG's GCNConv, on CPU.

Configurations (same weights, same graph, loss = sum of the outputs, parameters require gradients, x does not):

* ``gnnhw edge_index``    GCNLayer(x, edge_index): normalizes on the fly, one CSR product (custom autograd)
* ``gnnhw Â (CSR)``       GCNLayer(normalize=False)(x, Â), Â = normalized_adjacency(..., sparse=True) precomputed
* ``pyg edge_index``      GCNConv(x, edge_index): gcn_norm + gather/scatter message passing
* ``pyg adj_t (CSR)``     GCNConv(x, adj_t): adj_t a torch.sparse CSR adjacency (rows = targets), normalized on the
                          fly by gcn_norm (PyG 2.8 accepts torch.sparse tensors; torch_sparse is not installed)
* ``pyg Â (CSR)``         GCNConv(normalize=False)(x, Â): the same precomputed Â as gnnhw's, only spmm

Time: every configuration runs in a fresh subprocess (default allocator): one first step (reported as "first",
it includes lazy initialisation and gnnhw's memoized graph structure), then the median of ``--repeats`` steps.

Peak memory: a second fresh subprocess per configuration, with ``MALLOC_MMAP_THRESHOLD_`` fixed so glibc returns
large freed blocks to the OS and RSS follows the live memory. After building the inputs and one first step, the
child resets the kernel's RSS high-water mark (``/proc/self/clear_refs``, Linux) and reports ``VmHWM - VmRSS`` over
two more steps: the extra resident memory a forward+backward step needs (activations, gradients, temporaries).
"kept" is the RSS the first step left behind (parameter gradients, gnnhw's memoized structure, caches).
The inputs themselves (features, edge_index, a precomputed Â or adj_t) are built before and not counted.

    python benchmarks/gcn_layer.py                # Cora-sized (2708 nodes, 1433 -> 16) and 100k nodes / 2M edges
    python benchmarks/gcn_layer.py --quick        # tiny graphs, a smoke test
    python benchmarks/gcn_layer.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

CONFIGS = ("gnnhw edge_index", "gnnhw Â (CSR)", "pyg edge_index", "pyg adj_t (CSR)", "pyg Â (CSR)")


@dataclass(frozen=True)
class Case:
    name: str
    num_nodes: int
    num_pairs: int  # random undirected pairs; the graph has both directions: 2 * num_pairs directed edges
    in_channels: int
    out_channels: int


CASES = {
    "cora": Case("cora-sized", 2708, 5278, 1433, 16),
    "large": Case("100k nodes", 100_000, 1_000_000, 64, 64),
}
QUICK_CASES = {
    "cora": Case("tiny", 60, 150, 12, 4),
    "large": Case("small", 500, 2_000, 16, 16),
}


def make_graph(case: Case, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random undirected graph without self-loops (both directions stored) and dense features."""
    gen = torch.Generator().manual_seed(seed)
    pairs = torch.randint(0, case.num_nodes, (2, case.num_pairs), generator=gen)
    pairs = pairs[:, pairs[0] != pairs[1]]
    edge_index = torch.cat([pairs, pairs.flip(0)], dim=1)  # (2, E)
    x = torch.randn(case.num_nodes, case.in_channels, generator=gen)
    return x, edge_index


def make_step(config: str, case: Case, seed: int = 0) -> tuple[Callable[[], torch.Tensor], torch.nn.Module]:
    """The inputs and module of one configuration; returns (step, module), step() runs forward+backward."""
    import warnings

    from torch_geometric.nn import GCNConv

    from gnnhw.graph.adjacency import normalized_adjacency
    from gnnhw.graph.layers import GCNLayer

    warnings.filterwarnings("ignore", message=r".*[Ss]parse.*")
    x, edge_index = make_graph(case, seed)
    n = case.num_nodes
    torch.manual_seed(seed)
    layer = GCNLayer(case.in_channels, case.out_channels, normalize=config != "gnnhw Â (CSR)")  # Â: used as is
    if config.startswith("gnnhw"):
        module: torch.nn.Module = layer
        graph = (
            edge_index if config == "gnnhw edge_index" else normalized_adjacency(edge_index, num_nodes=n, sparse=True)
        )
    else:
        module = GCNConv(case.in_channels, case.out_channels, normalize=config != "pyg Â (CSR)")
        with torch.no_grad():
            module.lin.weight.copy_(layer.weight.T)  # same weights as gnnhw's layer
        if config == "pyg edge_index":
            graph = edge_index
        elif config == "pyg adj_t (CSR)":
            values = torch.ones(edge_index.shape[1])
            adj_t = torch.sparse_coo_tensor(edge_index.flip(0), values, (n, n))  # rows = targets
            graph = adj_t.coalesce().to_sparse_csr()
        else:
            graph = normalized_adjacency(edge_index, num_nodes=n, sparse=True)

    def step() -> torch.Tensor:
        module.zero_grad(set_to_none=True)
        out = module(x, graph)
        out.sum().backward()
        return out.detach()

    return step, module


def _status() -> dict[str, int]:
    """Current and peak resident memory in kB (Linux /proc; elsewhere both are ru_maxrss, a coarser measure)."""
    status = Path("/proc/self/status")
    if not status.exists():
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1)
        return {"VmRSS": peak, "VmHWM": peak}
    text = status.read_text()
    return {key: int(re.search(rf"{key}:\s+(\d+)", text).group(1)) for key in ("VmRSS", "VmHWM")}


def run_child(config: str, case: Case, repeats: int, threads: int | None = None) -> dict:
    """Time ``repeats`` forward+backward steps and measure their peak extra RSS (in this process)."""
    if threads:
        torch.set_num_threads(threads)
    step, _ = make_step(config, case)
    before = _status()["VmRSS"]
    start = time.perf_counter()
    step()  # first step: lazy initialisation (MKL, PyG's templates) and gnnhw's memoized graph structure
    first_s = time.perf_counter() - start
    kept_kb = _status()["VmRSS"] - before  # what stays after it: gradients, memoized structure, caches
    clear_refs = Path("/proc/self/clear_refs")
    if clear_refs.exists():
        clear_refs.write_text("5")  # reset VmHWM to the current RSS
    base = _status()["VmRSS"]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak_kb = _status()["VmHWM"] - base
    return {
        "median_s": statistics.median(times),
        "times_s": times,
        "first_s": first_s,
        "peak_mib": peak_kb / 1024,
        "kept_mib": kept_kb / 1024,
    }


def check_agreement(case: Case, atol: float = 1e-4) -> float:
    """Run every configuration once on ``case``; assert equal outputs and weight gradients; return the max diff."""
    results = []
    for config in CONFIGS:
        step, module = make_step(config, case)
        out = step()
        grad = module.weight.grad if hasattr(module, "weight") else module.lin.weight.grad.T
        results.append((out, grad))
    worst = 0.0
    for out, grad in results[1:]:
        worst = max(worst, float((out - results[0][0]).abs().max()), float((grad - results[0][1]).abs().max()))
    if worst > atol:
        raise AssertionError(f"configurations disagree on {case.name}: max difference {worst:g} > {atol:g}")
    return worst


@dataclass
class Row:
    case: str
    config: str
    median_ms: float  # median forward+backward time after the first step
    peak_mib: float  # peak extra resident memory during those steps
    first_ms: float  # the first (cold) step, which builds any memoized structure
    kept_mib: float  # resident memory the first step left behind (gradients, memoized structure)


def _child(case: Case, config: str, repeats: int, threads: int, fixed_mmap: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    if fixed_mmap:
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"  # large blocks always mmapped, returned to the OS when freed
    cmd = [sys.executable, __file__, "--child", config, "--case", json.dumps(asdict(case))]
    cmd += ["--repeats", str(repeats), "--threads", str(threads)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{config} on {case.name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(case_key: str, case: Case, config: str, repeats: int, threads: int, subprocesses: bool = True) -> Row:
    """One configuration: time in a fresh process with the default allocator, memory in another fresh process
    with large blocks always mmapped (so RSS follows live memory; that slows every step, so it is not timed).
    Without ``subprocesses`` both come from one run in this process (smoke tests; memory less exact)."""
    if subprocesses:
        timed = _child(case, config, repeats, threads, fixed_mmap=False)
        memory = _child(case, config, 2, threads, fixed_mmap=True)
    else:
        timed = memory = run_child(config, case, repeats, threads)
    return Row(
        case_key, config, 1e3 * timed["median_s"], memory["peak_mib"], 1e3 * timed["first_s"], memory["kept_mib"]
    )


def table(rows: list[Row], cases: dict[str, Case]) -> str:
    lines = []
    for key, case in cases.items():
        mine = [r for r in rows if r.case == key]
        ref = next(r for r in mine if r.config == "gnnhw edge_index")
        edges = 2 * case.num_pairs
        lines.append(
            f"\n{case.name}: {case.num_nodes} nodes, ~{edges} directed edges, {case.in_channels} -> "
            f"{case.out_channels} channels; forward+backward, median; ratios = peer / gnnhw edge_index"
        )
        header = f"{'configuration':20s} {'time ms':>9s} {'peak MiB':>9s} {'time ratio':>10s} {'mem ratio':>9s}"
        lines.append(header + f" {'first ms':>9s} {'kept MiB':>9s}")
        for r in mine:
            mem_ratio = r.peak_mib / ref.peak_mib if ref.peak_mib > 0 else float("nan")
            lines.append(
                f"{r.config:20s} {r.median_ms:9.1f} {r.peak_mib:9.1f} {r.median_ms / ref.median_ms:10.2f} "
                f"{mem_ratio:9.2f} {r.first_ms:9.1f} {r.kept_mib:9.1f}"
            )
        best_pyg = min((r for r in mine if r.config.startswith("pyg")), key=lambda r: r.median_ms)
        best_mine = min((r for r in mine if r.config.startswith("gnnhw")), key=lambda r: r.median_ms)
        pyg_edge = next(r for r in mine if r.config == "pyg edge_index")
        lines.append(
            f"gnnhw edge_index / fastest PyG ({best_pyg.config}): {ref.median_ms / best_pyg.median_ms:.2f}; "
            f"fastest gnnhw ({best_mine.config}) / fastest PyG: {best_mine.median_ms / best_pyg.median_ms:.2f}; "
            f"speed-up over pyg edge_index: {pyg_edge.median_ms / ref.median_ms:.2f}x"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed steps per configuration (median reported)")
    parser.add_argument("--quick", action="store_true", help="tiny graphs: a smoke test")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument(
        "--no-subprocess", action="store_true", help="run in this process (fast smoke test; peak memory less exact)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.child:
        print(json.dumps(run_child(args.child, Case(**json.loads(args.case)), args.repeats, args.threads)))
        return 0
    if args.threads < 1:
        parser.error("--threads must be >= 1")

    cases = QUICK_CASES if args.quick else CASES
    sub = not args.no_subprocess
    worst = check_agreement(QUICK_CASES["cora"])  # the five configurations compute the same thing
    print(f"all configurations agree on a tiny graph (outputs and weight gradients, max difference {worst:.1e})")
    rows = [
        measure(key, case, config, args.repeats, args.threads, sub) for key, case in cases.items() for config in CONFIGS
    ]
    where = "each configuration in a fresh process" if sub else "all in one process"
    print(f"torch {torch.__version__}, {args.threads} thread(s), CPU, {args.repeats} repeats; {where}")
    print(table(rows, cases))
    if args.json:
        from gnnhw._utils import atomic_write_text

        payload = {
            "threads": args.threads,
            "repeats": args.repeats,
            "subprocess": sub,
            "cases": {k: asdict(c) for k, c in cases.items()},
        }
        payload["rows"] = [asdict(r) for r in rows]
        atomic_write_text(args.json, json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
