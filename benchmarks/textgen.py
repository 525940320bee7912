"""Training throughput of the text generator, torch.nn.LSTM vs gnnhw's scratch LSTMCell stack, side by side.

    python benchmarks/textgen.py                      # the assignment's sizes, 30 steps per cell, 3 repeats
    python benchmarks/textgen.py --quick              # smoke test: tiny sizes, a few steps

One training step = a batch of B windows of T characters: forward, loss, backward, clipping, Adam.
Throughput = B * T * steps / wall time, in characters per second; the median over --repeats runs
(interleaved, so both cells see the same load on a shared machine) is printed with the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gnnhw._utils import data_root  # noqa: E402
from gnnhw.recurrent.models import TextGenerationModel  # noqa: E402
from gnnhw.recurrent.text import TextDataset, read_text  # noqa: E402


def _text() -> tuple[str, str]:
    book = data_root() / "books" / "book_EN_grimms_fairy_tails.txt"
    if book.is_file():
        return read_text(book), book.name
    gen = torch.Generator().manual_seed(0)  # a stand-in with the book's alphabet size, when the data is missing
    alphabet = "abcdefghijklmnopqrstuvwxyz ,.;:!?'\"-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n()"
    return "".join(alphabet[i] for i in torch.randint(0, len(alphabet), (50_000,), generator=gen)), "random text"


def chars_per_second(data: TextDataset, impl: str, steps: int, batch: int, hidden: int, layers: int) -> float:
    torch.manual_seed(0)
    model = TextGenerationModel(len(data.vocab), hidden, layers, impl=impl)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        x, y = data.batch(batch, gen)  # (B, T) each
        logits, _ = model(x)  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * data.seq_length * steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per run (default: 30)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per impl; the median is reported")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--quick", action="store_true", help="smoke test: tiny sizes, 2 steps, 1 repeat")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seq, batch, hidden, layers = (30, 64, 128, 2) if not args.quick else (10, 4, 16, 2)
    steps, repeats = (args.steps, args.repeats) if not args.quick else (2, 1)
    text, name = _text()
    data = TextDataset(text, seq_length=seq)
    rates: dict[str, list[float]] = {"reference": [], "scratch": []}
    for _ in range(repeats):
        for impl in rates:
            rates[impl].append(chars_per_second(data, impl, steps, batch, hidden, layers))
    median = {impl: statistics.median(r) for impl, r in rates.items()}
    print(
        f"text generator training on {name}: batch {batch} x seq {seq}, hidden {hidden}, {layers} layers, "
        f"{steps} steps, median of {repeats}, {args.threads} thread(s), torch {torch.__version__}"
    )
    print(f"{'impl':<10}{'chars/s (median)':>18}{'runs':>30}")
    for impl, r in rates.items():
        print(f"{impl:<10}{median[impl]:>18,.0f}{', '.join(f'{v:,.0f}' for v in r):>30}")
    print(f"reference (torch.nn.LSTM) / scratch = {median['reference'] / median['scratch']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
