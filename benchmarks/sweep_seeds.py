"""Wall time of the palindrome sweep with its seeds trained together (one batched ensemble per (model, length),
the default) against one job per seed (before), on the same grid, alternating in one run.

Each measurement runs :func:`gnnhw.recurrent.experiments.run_sweep` from scratch (a fresh results file) with
``--workers`` worker processes of one thread each, as ``gnnhw palindrome-sweep`` does (``--workers 1``: in
this process, on one thread); the table gives each
way's median wall time over the rounds and their ratio. Both ways write the same records (the tests check it
in float64).

    python benchmarks/sweep_seeds.py [--rounds 3] [--steps 150] [--lengths 5 10] [--seeds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

from gnnhw.recurrent.config import PalindromeConfig
from gnnhw.recurrent.experiments import run_sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds, alternating the two ways (default 3)")
    parser.add_argument("--steps", type=int, default=150, help="most training steps per run (default 150)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[5, 10])
    parser.add_argument("--models", nargs="+", default=["rnn", "lstm"])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per (model, length): 0 .. N-1 (default 3)")
    parser.add_argument("--hidden-size", "--hidden", type=int, default=128, help="hidden units (default 128)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    base = dataclasses.replace(
        PalindromeConfig(),
        train_steps=args.steps,
        hidden_size=args.hidden_size,
        early_stop_accuracy=0.99,  # the sweep command's default
        device=args.device,
    )
    seeds = list(range(args.seeds))
    if args.workers == 1:  # the sweep then trains in this process: one thread, as `--threads auto` gives it
        import torch

        torch.set_num_threads(1)
    grid = f"{args.models} x lengths {args.lengths} x {args.seeds} seeds, up to {args.steps} steps"
    print(f"grid: {grid}; {args.workers} workers; load average {os.getloadavg()[0]:.2f}", flush=True)
    times: dict[str, list[float]] = {"separate": [], "together": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for way in ("separate", "together"):
                path = Path(tmp) / f"{way}{round_}.json"
                start = time.perf_counter()
                run_sweep(
                    base, args.models, args.lengths, seeds, path, workers=args.workers, batch_seeds=way == "together"
                )
                times[way].append(time.perf_counter() - start)
                print(f"round {round_ + 1} {way}: {times[way][-1]:.1f} s", flush=True)
    separate, together = (statistics.median(times[w]) for w in ("separate", "together"))
    print(
        f"\nmedian wall time: one job per seed {separate:.1f} s, seeds together {together:.1f} s; "
        f"speed-up {separate / together:.2f}x; load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
