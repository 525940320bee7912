"""Time one training step of the from-scratch LSTM classifier against the same model on torch.nn.LSTM.

A step is forward + backward + Adam update + gradient clipping, on a palindrome-shaped batch
(T = 20 time steps, batch 128, hidden 128, one-hot digits), on the CPU. Both models start from the same
weights. Prints each model's median time per step over several rounds and their ratio.

    python benchmarks/recurrent.py [--model lstm|rnn] [--steps 30] [--rounds 5] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from gnnhw.recurrent.models import TorchRecurrentClassifier, build_model


def _time_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    """Seconds per training step, averaged over ``steps`` steps (after two warm-up steps)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()

    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("lstm", "rnn"), default="lstm")
    parser.add_argument("--length", type=int, default=20, help="time steps T (default 20)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--hidden-size", "--hidden", type=int, default=128, help="hidden units (default 128)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round (default 30)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, alternating the models (default 5)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument(
        "--no-mkldnn",
        action="store_true",
        help="turn oneDNN off, so torch.nn.LSTM runs ATen's per-step loop instead of its fused oneDNN kernel",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False

    torch.manual_seed(0)
    ours = build_model(args.model, 10, args.hidden_size, 10)
    ref = TorchRecurrentClassifier.from_scratch(ours)
    x = nn.functional.one_hot(torch.randint(0, 10, (args.batch_size, args.length)), 10).float()
    y = torch.randint(0, 10, (args.batch_size,))

    times: dict[str, list[float]] = {"from-scratch": [], "torch.nn": []}
    for _ in range(args.rounds):  # alternate, so both see the same load on a shared machine
        times["from-scratch"].append(_time_steps(ours, x, y, args.steps))
        times["torch.nn"].append(_time_steps(ref, x, y, args.steps))
    ratios = [a / b for a, b in zip(times["from-scratch"], times["torch.nn"], strict=True)]

    print(
        f"{args.model}: T={args.length}, batch {args.batch_size}, hidden {args.hidden_size}, "
        f"{torch.get_num_threads()} thread(s), {args.rounds} rounds x {args.steps} steps, "
        f"oneDNN {'on' if torch.backends.mkldnn.enabled else 'off'}"
    )
    for name, values in times.items():
        print(
            f"  {name:13s} median {statistics.median(values) * 1e3:7.2f} ms/step  (rounds: "
            + ", ".join(f"{v * 1e3:.2f}" for v in values)
            + ")"
        )
    print(
        f"  ratio from-scratch / torch.nn: median {statistics.median(ratios):.2f}x "
        f"(per round: {', '.join(f'{r:.2f}' for r in ratios)})"
    )


if __name__ == "__main__":
    main()
