"""Subcommands of the palindrome experiments: ``palindrome``, ``palindrome-sweep``, ``optimizers``,
``grads-over-time``.

Every option is checked by the library (:meth:`PalindromeConfig.validate`), so a bad value gives one line
on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from gnnhw.cli._common import (
    add_device,
    add_format,
    add_quiet,
    add_threads,
    apply_threads,
    path_arg,
    print_json,
    write_json,
)
from gnnhw.cli._run import current

_DEFAULT_LENGTHS = [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]

# PalindromeConfig fields whose option has another name: errors name both.
_LABELS = {
    "learning_rate": "--lr (learning_rate)",
    "num_hidden": "--hidden (num_hidden)",
    "train_steps": "--steps (train_steps)",
    "max_norm": "--clip (max_norm)",
    "early_stop_accuracy": "--early-stop (early_stop_accuracy)",
}


def _add_training_options(
    parser: argparse.ArgumentParser, steps: int, model: bool = True, early_stop: float | None = None
) -> None:
    """The hyper-parameters of :class:`PalindromeConfig` (the assignment's defaults unless noted)."""
    if model:
        parser.add_argument("--model", default="lstm", help="rnn or lstm (default: lstm)")
    parser.add_argument("--steps", type=int, default=steps, help=f"maximum training steps (default: {steps})")
    parser.add_argument("--hidden", type=int, default=128, help="hidden units (default: 128)")
    parser.add_argument("--batch-size", type=int, default=128, help="palindromes per step (default: 128)")
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)")
    parser.add_argument("--clip", type=float, default=10.0, help="gradient-norm clipping (default: 10)")
    parser.add_argument(
        "--forget-bias",
        type=float,
        default=None,
        help="LSTM only: added to the forget gates' bias at initialisation; 0 is torch's initialisation "
        "(default: 1, which lets the LSTM learn long palindromes far sooner)",
    )
    parser.add_argument(
        "--input",
        choices=("one-hot", "raw"),
        default="one-hot",
        help="digit encoding: one-hot vectors or the raw digit",
    )
    parser.add_argument("--test-size", type=int, default=1000, help="fresh test palindromes (default: 1000)")
    parser.add_argument(
        "--early-stop",
        type=float,
        default=early_stop,
        metavar="ACC",
        help="stop once the mean training accuracy of the last 50 batches reaches ACC "
        f"(default: {early_stop if early_stop is not None else 'never'})",
    )
    add_device(parser)
    add_threads(parser)
    add_quiet(parser)


def _config(args: argparse.Namespace, **overrides: Any):
    from gnnhw.errors import ConfigError
    from gnnhw.recurrent.config import PalindromeConfig  # torch-free: bad options are refused before torch loads

    fields: dict[str, Any] = {
        "length": getattr(args, "length", 10),
        "num_hidden": args.hidden,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "train_steps": args.steps,
        "max_norm": args.clip,
        "input_dim": 10 if args.input == "one-hot" else 1,
        "test_size": args.test_size,
        "early_stop_accuracy": args.early_stop,
        "device": args.device,
    }
    for name in ("model", "optimizer", "seed", "backend"):
        if hasattr(args, name):
            fields[name] = getattr(args, name)
    if args.forget_bias is not None:  # an LSTM-only option: refused when no LSTM is trained
        models = getattr(args, "models", None) or [getattr(args, "model", "lstm")]
        if "lstm" not in models:
            raise ConfigError(
                f"--forget-bias applies only to the LSTM, and no LSTM is trained here (models: {', '.join(models)}); "
                "drop --forget-bias"
            )
        fields["forget_bias"] = args.forget_bias
    from gnnhw._utils import check_device_name

    check_device_name(args.device)  # here, not in a worker process after the output folder was made
    fields.update(overrides)
    config = PalindromeConfig(**fields)
    config.validate(_LABELS)
    return config


def _check_device_available(device: str) -> None:
    """ConfigError when ``--device cuda`` is asked for without CUDA: checked in the parent, before its worker
    processes start (imports torch)."""
    from gnnhw._utils import resolve_device

    resolve_device(device)


def _check_lists(args: argparse.Namespace, base, **lists: str) -> None:
    """Refuse repeated values in list options (``--seeds 0 0`` would run one job twice and count it as two
    samples) and check every value against the config's declared range before any work."""
    import dataclasses

    from gnnhw.checks import unique

    for option, name in lists.items():
        values = unique(option, getattr(args, name))
        field = {"models": "model", "lengths": "length", "seeds": "seed", "optimizers": "optimizer"}[name]
        for value in values:
            dataclasses.replace(base, **{field: value}).validate(_LABELS)


def _figure_last(draw: Any, path: Path) -> Path:
    """Save the figure ``draw()`` makes to ``path``, after the numbers (results before decorations)."""
    from gnnhw.plotting import save_figure

    return save_figure(draw(), path)


def _recurrent_size(config) -> int:
    """The size of one training step for :func:`gnnhw.threads.threads_for`: batch x hidden units."""
    return config.batch_size * config.num_hidden


def _palindrome(args: argparse.Namespace) -> int:
    config = _config(args)
    apply_threads(args, "recurrent", _recurrent_size(config))
    from gnnhw.recurrent.train import train
    from gnnhw.runs import prepare_outputs

    stem = f"palindrome_{config.model}_T{config.length}_seed{config.seed}"
    folders = [(args.out, "--out")] if args.out is not None else []
    figures = [(args.out / f"{stem}.png", "figure")] if args.out is not None else []
    with prepare_outputs(folders=folders, figures=figures):
        current().note = "no results were written: they are written only once the run finishes"
        result = train(config, progress=not args.quiet)
        current().note = ""
        summary = {
            "model": config.model,
            "length": config.length,
            "test_accuracy": result.test_accuracy,
            "steps": result.steps,
            "seconds": round(result.seconds, 3),
            "stopped_early": result.stopped_early,
            "seed": config.seed,
            "optimizer": config.optimizer,
            "final_train_accuracy": result.train_accuracy[-1],
            "backend": config.backend,
        }
        if args.format == "json":
            print_json(summary)
        else:
            print(
                f"{config.model} T={config.length} seed={config.seed}: test accuracy {result.test_accuracy:.4f} "
                f"after {result.steps} steps ({result.seconds:.1f} s)",
                flush=True,
            )
        if args.out is not None:
            from gnnhw.plotting.recurrent import optimizers_figure

            write_json(args.out / f"{stem}.json", result.to_dict())
            record = {k: getattr(result, k) for k in ("test_accuracy", "curve_steps", "train_loss", "train_accuracy")}
            _figure_last(
                lambda: optimizers_figure({config.optimizer: record}, f"{config.model}, T={config.length}"),
                args.out / f"{stem}.png",
            )
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from gnnhw.errors import check_positive_int

    # Every argument is checked before anything is imported, created or written.
    check_positive_int("--workers", args.workers)
    base = _config(args, model="lstm", length=10, seed=0)
    _check_lists(args, base, **{"--models": "models", "--lengths": "lengths", "--seeds": "seeds"})
    _check_device_available(args.device)
    # Several worker processes: one thread each (--threads N: N each); one: as for a single run.
    workers = min(args.workers, len(args.models) * len(set(args.lengths)))
    threads = apply_threads(args, "worker" if workers > 1 else "recurrent", _recurrent_size(base))
    from gnnhw.recurrent.experiments import run_sweep
    from gnnhw.runs import prepare_outputs

    path = args.out / "sweep.json"
    figure = args.out / "sweep.png"
    total = len(args.models) * len(set(args.lengths)) * len(args.seeds)
    with prepare_outputs(folders=[(args.out, "--out")], files=[(path, "results")], figures=[(figure, "figure")]):
        current().note = f"the finished jobs are kept in {path}; rerun the same command to continue"
        bar = None
        if not args.quiet:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc="sweep jobs")
        try:
            result = run_sweep(
                base,
                args.models,
                args.lengths,
                args.seeds,
                path,
                workers=args.workers,
                threads=threads,
                on_record=(lambda rec: bar.update(1)) if bar is not None else None,
            )
        finally:
            if bar is not None:
                bar.close()
        current().note = ""
        summary = result.summary()
        if args.format == "json":
            print_json(
                {
                    "results": str(path),
                    "figure": str(figure),
                    "skipped": result.skipped,
                    "summary": result.to_dict()["summary"],
                }
            )
        else:
            print(f"{result.skipped} job(s) already in {path}, {total - result.skipped} run now")
            models = list(summary)
            print("T    " + "".join(f"{m:>18s}" for m in models))
            for length in sorted({t for by_t in summary.values() for t in by_t}):
                cells = []
                for m in models:
                    s = summary[m].get(length)
                    cells.append(f"{s['mean']:.3f} ± {s['std']:.3f}".rjust(18) if s else " " * 18)
                print(f"{length:<5d}" + "".join(cells))
            print(f"results: {path}\nfigure: {figure}", flush=True)
        from gnnhw.plotting.recurrent import sweep_figure

        title = (
            f"{len(args.seeds)} seeds, up to {base.train_steps} steps"
            + (f", early stop at {base.early_stop_accuracy}" if base.early_stop_accuracy else "")
            + f", hidden {base.num_hidden}, {base.optimizer} lr {base.learning_rate:g}"
        )
        _figure_last(lambda: sweep_figure(summary, title), figure)
    return 0


def _optimizers(args: argparse.Namespace) -> int:
    from gnnhw.errors import check_positive_int

    check_positive_int("--workers", args.workers)
    base = _config(args, optimizer="adam")
    _check_lists(args, base, **{"--optimizers": "optimizers"})
    _check_device_available(args.device)
    workers = min(args.workers, len(args.optimizers))
    threads = apply_threads(args, "worker" if workers > 1 else "recurrent", _recurrent_size(base))
    from gnnhw.plotting.recurrent import optimizers_figure
    from gnnhw.recurrent.experiments import compare_optimizers
    from gnnhw.runs import prepare_outputs

    results = args.out / "optimizers.json"
    figure = args.out / "optimizers.png"
    with prepare_outputs(folders=[(args.out, "--out")], figures=[(figure, "figure")]):
        current().note = "no results were written: they are written only once the run finishes"
        runs = compare_optimizers(base, args.optimizers, workers=args.workers, threads=threads)
        current().note = ""
        table = {
            name: {
                "test_accuracy": run["test_accuracy"],
                "final_train_loss": run["train_loss"][-1],
                "steps": run["steps"],
                "seconds": round(run["seconds"], 2),
            }
            for name, run in runs.items()
        }
        if args.format == "json":
            print_json({"results": str(results), "figure": str(figure), "runs": table})
        else:
            for name, row in table.items():
                print(
                    f"{name:13s} test accuracy {row['test_accuracy']:.4f}  final training loss "
                    f"{row['final_train_loss']:.4f}  ({row['steps']} steps, {row['seconds']:.1f} s)"
                )
            print(f"results: {results}\nfigure: {figure}", flush=True)
        write_json(results, {"config": _config_dict(base), "runs": runs})
        title = f"{base.model}, T={base.length}, lr {base.learning_rate:g}, seed {base.seed}"
        _figure_last(lambda: optimizers_figure(runs, title), figure)
    return 0


def _grads(args: argparse.Namespace) -> int:
    base = _config(args)
    _check_lists(args, base, **{"--models": "models"})
    apply_threads(args, "recurrent", _recurrent_size(base))
    from gnnhw.plotting.recurrent import gradients_figure
    from gnnhw.recurrent.experiments import decay_per_step, gradients_over_time
    from gnnhw.runs import prepare_outputs

    results = args.out / "grads_over_time.json"
    figure = args.out / "grads_over_time.png"
    with prepare_outputs(folders=[(args.out, "--out")], figures=[(figure, "figure")]):
        current().note = "no results were written: they are written only once the run finishes"
        result = gradients_over_time(base, args.models, progress=not args.quiet)
        current().note = ""
        payload = result.to_dict()
        payload["config"] = _config_dict(base)
        payload["decay_per_step"] = {
            stage: {m: decay_per_step(norms) for m, norms in getattr(result, stage).items()}
            for stage in ("untrained", "trained")
        }
        if args.format == "json":
            print_json(
                {"figure": str(figure), "decay_per_step": payload["decay_per_step"], "training": result.training}
            )
        else:
            for stage in ("untrained", "trained"):
                for model, norms in getattr(result, stage).items():
                    decay = payload["decay_per_step"][stage][model]
                    shrink = (
                        f"shrinks x{decay:.3f} per step back (last {min(30, len(norms))} steps)"
                        if decay is not None
                        else "no decay rate (it needs at least 2 time steps)"
                    )
                    print(f"{stage:9s} {model:4s}: ||dL/dh_T|| {norms[-1]:.3e}, ||dL/dh_1|| {norms[0]:.3e}, {shrink}")
            for model, info in result.training.items():
                print(f"{model}: trained {info['steps']} steps, test accuracy {info['test_accuracy']:.4f}")
            print(f"results: {results}\nfigure: {figure}", flush=True)
        write_json(results, payload)
        title = f"one palindrome of length {base.length} ({base.length - 1} inputs); trained {base.train_steps} steps"
        _figure_last(lambda: gradients_figure(result.untrained, result.trained, title), figure)
    return 0


def _config_dict(config) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(config)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``palindrome``, ``palindrome-sweep``, ``optimizers`` and ``grads-over-time``."""
    p = subparsers.add_parser(
        "palindrome",
        help="train a vanilla RNN or LSTM on palindromes of one length",
        description=(
            "Train a vanilla RNN or an LSTM to predict the last digit of a palindrome of length T from the "
            "first T-1 (chance: 0.1), with the assignment's defaults, and print its test accuracy on fresh "
            "palindromes."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw palindrome --model lstm --length 10 --steps 2000 --seed 0\n"
            "  gnnhw palindrome --model rnn --length 5 --steps 500 --format json --out out/one_run\n"
        ),
    )
    p.add_argument("--length", type=int, default=10, help="palindrome length T (default: 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and data (default: 0)")
    p.add_argument("--optimizer", default="adam", help="adam, rmsprop, sgd or sgd-momentum (default: adam)")
    p.add_argument("--out", type=path_arg, default=None, help="also write the run's JSON and curve figure here")
    p.add_argument(
        "--backend",
        default="gnnhw",
        help="gnnhw (the from-scratch model) or torch (the same model on torch.nn.RNN/LSTM) (default: gnnhw)",
    )
    _add_training_options(p, steps=10_000)
    add_format(p)
    p.set_defaults(func=_palindrome)

    p = subparsers.add_parser(
        "palindrome-sweep",
        help="test accuracy vs palindrome length, RNN and LSTM, several seeds (resumable)",
        description=(
            "Train every model on every length with every seed, in parallel worker processes, and write "
            "OUT/sweep.json (after each finished job, so a stopped sweep resumes where it was) and "
            "OUT/sweep.png: test accuracy against palindrome length."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw palindrome-sweep --lengths 5 10 15 20 --seeds 0 1 2 --steps 5000 --out out/palindrome\n"
            "  OMP_NUM_THREADS=1 gnnhw palindrome-sweep --lengths 5 10 --seeds 0 --steps 200 --workers 2\n"
        ),
    )
    p.add_argument("--models", nargs="+", default=["rnn", "lstm"], help="models (default: rnn lstm)")
    p.add_argument("--lengths", "--length", nargs="+", type=int, default=_DEFAULT_LENGTHS, help="palindrome lengths")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="seeds (default: 0 1 2)")
    p.add_argument("--optimizer", default="adam", help="adam, rmsprop, sgd or sgd-momentum (default: adam)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    p.add_argument("--out", type=path_arg, default=Path("out/palindrome"), help="folder of sweep.json and sweep.png")
    _add_training_options(p, steps=10_000, model=False, early_stop=0.99)
    add_format(p)
    p.set_defaults(func=_sweep)

    p = subparsers.add_parser(
        "optimizers",
        help="learning curves of SGD, SGD momentum, RMSprop and Adam",
        description=(
            "Train the same model (same seed, initial weights and batches) with each optimizer at one "
            "learning rate, print each one's test accuracy, and write OUT/optimizers.json and "
            "OUT/optimizers.png (training loss and accuracy curves)."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw optimizers --model rnn --length 10 --steps 1000 --out out/palindrome\n"
            "  gnnhw optimizers --model rnn --length 10 --steps 1000 --lr 0.05 --optimizers sgd adam\n"
        ),
    )
    p.add_argument("--length", type=int, default=10, help="palindrome length T (default: 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and data, shared by all optimizers")
    p.add_argument(
        "--optimizers",
        nargs="+",
        default=["sgd", "sgd-momentum", "rmsprop", "adam"],
        help="optimizers to compare (sgd-momentum: momentum 0.9)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="worker processes (default: the number of cores, at most 4)",
    )
    p.add_argument("--out", type=path_arg, default=Path("out/palindrome"), help="folder of optimizers.json/.png")
    _add_training_options(p, steps=2000)
    add_format(p)
    p.set_defaults(func=_optimizers)

    p = subparsers.add_parser(
        "grads-over-time",
        help="||dL/dh_t|| over time steps, RNN vs LSTM, before/after training",
        description=(
            "For one palindrome of length T, the norm of the gradient of the loss with respect to each "
            "hidden state h_t (through all later steps), for each model untrained and after --steps "
            "training steps; prints how fast it shrinks per step back and writes "
            "OUT/grads_over_time.json and OUT/grads_over_time.png."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw grads-over-time --length 100 --steps 500 --seed 0 --out out/palindrome\n"
            "  gnnhw grads-over-time --length 30 --steps 50 --models lstm --forget-bias 0\n"
        ),
    )
    p.add_argument("--length", type=int, default=100, help="palindrome length T (default: 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and data")
    p.add_argument("--optimizer", default="adam", help="adam, rmsprop, sgd or sgd-momentum")
    p.add_argument("--models", nargs="+", default=["rnn", "lstm"], help="models to compare, rnn and/or lstm")
    p.add_argument("--out", type=path_arg, default=Path("out/palindrome"), help="folder of grads_over_time.json/.png")
    _add_training_options(p, steps=1000, model=False)
    add_format(p)
    p.set_defaults(func=_grads)
