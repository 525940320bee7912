"""Subcommands of the palindrome experiments: ``palindrome``, ``palindrome-sweep``, ``optimizers``,
``grads-over-time``.

Every option is checked by the library (:meth:`PalindromeConfig.validate`), so a bad value gives one line
on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from gnnhw._renames import OLD_IMPL_VALUES
from gnnhw._utils import plural
from gnnhw.cli._common import (
    DeprecatedAlias,
    OneValueOrOldList,
    StoreGiven,
    add_config_option,
    add_device,
    add_format,
    add_quiet,
    add_threads,
    apply_threads,
    config_field_default,
    given_options,
    mean_std,
    note_deprecated,
    over_runs,
    path_arg,
    print_json,
    write_json,
)
from gnnhw.cli._executor import add_executor, check_executor_args
from gnnhw.cli._run import current
from gnnhw.recurrent.config import (
    NUM_DIGITS,
    ComparisonConfig,
    GradientsConfig,
    OptimizersConfig,
    PalindromeConfig,
    SweepConfig,
)

# Option -> PalindromeConfig field, for the options whose name is not the field's (errors name both).
_FIELDS = {"--steps": "train_steps", "--early-stop": "early_stop_accuracy", "--input": "input_size"}
_INPUTS = {"one-hot": NUM_DIGITS, "raw": 1}  # --input -> input_size


def _labels(parser_flags: list[str]) -> dict[str, str]:
    """Field -> how an error names it: the option, with the field's name when that differs."""
    labels = {}
    for flag in parser_flags:
        field = _FIELDS.get(flag, flag.lstrip("-").replace("-", "_"))
        labels[field] = flag if flag.lstrip("-").replace("-", "_") == field else f"{flag} ({field})"
    return labels


_LABELS = _labels(["--lr", "--hidden-size", "--steps", "--max-norm", "--early-stop", "--input"])


def _add_training_options(parser: argparse.ArgumentParser, config: type[PalindromeConfig], model: bool = True) -> None:
    """The hyper-parameters of :class:`PalindromeConfig`, each option's default read from ``config`` (the
    assignment's, or the command's own :mod:`gnnhw.recurrent.config` preset)."""
    if model:
        add_config_option(parser, "--model", config, help="rnn (vanilla RNN) or lstm")
    add_config_option(
        parser, "--steps", config, "train_steps", type=int, metavar="STEPS", help="maximum training steps"
    )
    add_config_option(parser, "--hidden-size", config, type=int, help="hidden units H")
    parser.add_argument("--hidden", action=DeprecatedAlias, new="--hidden-size", dest="hidden_size", type=int)
    add_config_option(parser, "--batch-size", config, type=int, help="palindromes per step")
    add_config_option(parser, "--lr", config, type=float, help="learning rate")
    add_config_option(parser, "--max-norm", config, type=float, help="clip the global gradient norm to this")
    parser.add_argument("--clip", action=DeprecatedAlias, new="--max-norm", dest="max_norm", type=float)
    add_config_option(
        parser,
        "--forget-bias",
        config,
        type=float,
        action=StoreGiven,
        help="LSTM only: added to the forget gates' bias at initialisation; 0 is torch's initialisation "
        "(1 lets the LSTM learn long palindromes far sooner)",
    )
    add_config_option(
        parser, "--input", config, "input_size", values=_INPUTS, help="digit encoding: one-hot vectors or the raw digit"
    )
    add_config_option(parser, "--test-size", config, type=int, help="fresh test palindromes")
    never = " (default: never)" if config_field_default(config, "early_stop_accuracy") is None else ""
    window = config_field_default(config, "early_stop_window")
    add_config_option(
        parser,
        "--early-stop",
        config,
        "early_stop_accuracy",
        type=float,
        metavar="ACC",
        help=f"stop once the mean training accuracy of the last {window} batches reaches ACC{never}",
    )
    add_device(parser)
    add_quiet(parser)
    add_threads(parser)


def _add_impl(parser: argparse.ArgumentParser, config: type[PalindromeConfig]) -> None:
    add_config_option(
        parser,
        "--impl",
        config,
        help="scratch (gnnhw's from-scratch model) or reference (the same model on torch.nn.RNN/LSTM)",
    )
    parser.add_argument("--backend", action=DeprecatedAlias, new="--impl", dest="impl", values=OLD_IMPL_VALUES)


def _add_optimizer(parser: argparse.ArgumentParser, config: type[PalindromeConfig]) -> None:
    add_config_option(parser, "--optimizer", config, help="the update rule (sgd-momentum: momentum 0.9)")


def _config(args: argparse.Namespace, config: type[PalindromeConfig] = PalindromeConfig, **overrides: Any):
    from gnnhw.errors import ConfigError

    fields: dict[str, Any] = {
        "hidden_size": args.hidden_size,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "train_steps": args.train_steps,
        "max_norm": args.max_norm,
        "input_size": _INPUTS[args.input_size],
        "test_size": args.test_size,
        "early_stop_accuracy": args.early_stop_accuracy,
        "forget_bias": args.forget_bias,
        "device": args.device,
    }
    for name in ("model", "length", "optimizer", "seed", "impl"):
        if hasattr(args, name):
            fields[name] = getattr(args, name)
    from gnnhw._utils import check_device_name

    check_device_name(args.device)  # here, not in a worker process after the output folder was made
    fields.update(overrides)
    result = config(**fields)
    result.validate(_LABELS)
    if "forget_bias" in given_options(args):  # an LSTM-only option: refused when no LSTM is trained
        models = getattr(args, "models", None) or [result.model]
        if "lstm" not in models:
            raise ConfigError(
                f"--forget-bias applies only to the LSTM, and no LSTM is trained here (models: {', '.join(models)}); "
                "drop --forget-bias"
            )
    return result


def _check_device_available(device: str) -> None:
    """ConfigError when ``--device cuda`` is asked for without CUDA: checked in the parent, before its worker
    processes start (imports torch)."""
    from gnnhw._utils import resolve_device

    resolve_device(device)


def _check_lists(base: PalindromeConfig, lists: dict[str, tuple[str, Any]]) -> None:
    """Refuse repeated values in list options (``--models rnn rnn`` would run each job twice and count it as
    two samples) and check every value against the config's declared range before any work.

    ``lists``: option -> (config field, values)."""
    import dataclasses

    from gnnhw.checks import unique

    for option, (field, given) in lists.items():
        for value in unique(option, given):
            dataclasses.replace(base, **{field: value}).validate(_LABELS)


class _SeedCount(OneValueOrOldList):
    """``--seeds N``: a count of runs (seeds --seed, --seed + 1, ...). The old form, a list of seeds
    (``--seeds 0 1 2``), is still taken as that list for one release, with a warning on stderr once the
    options are found good (:func:`_seed_list`)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        setattr(namespace, self.dest, values[0] if len(values) == 1 else list(values))
        if len(values) > 1:  # the list says its first seed: --seed as well would be silently ignored
            note_deprecated(namespace, "--seeds S1 S2 ...", "--seed FIRST --seeds COUNT", ("--seed",), None)


def _seed_list(args: argparse.Namespace) -> list[int]:
    """The seeds of a sweep: ``--seeds`` runs from ``--seed`` on (or the old form's list, as given)."""
    if isinstance(args.seeds, list):
        return args.seeds
    from gnnhw.recurrent.config import sweep_seeds

    return sweep_seeds(args.seed, args.seeds, name="--seeds")


def _warn_old_seed_list(args: argparse.Namespace) -> None:
    if isinstance(args.seeds, list):
        sys.stderr.write(
            f"{args.prog}: warning: --seeds S1 S2 ... (a list of seeds) is deprecated; use --seed FIRST --seeds COUNT\n"
        )


def _recurrent_size(config: PalindromeConfig) -> int:
    """The size of one training step for :func:`gnnhw.threads.threads_for`: batch x hidden units."""
    return config.batch_size * config.hidden_size


def _figure_last(draw: Any, path: Path) -> Path:
    """Save the figure ``draw()`` makes to ``path``, after the numbers (results before decorations)."""
    from gnnhw.plotting import save_figure

    return save_figure(draw(), path)


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
            "impl": config.impl,
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
    base = _config(args, SweepConfig, model="lstm", length=10)
    check_executor_args(args)
    seeds = _seed_list(args)
    _check_lists(base, {"--models": ("model", args.models), "--lengths": ("length", args.lengths)})
    _check_lists(base, {"--seeds": ("seed", seeds)})
    _check_device_available(args.device)
    _warn_old_seed_list(args)
    # Several worker processes: one thread each (--threads N: N each); one: as for a single run.
    workers = min(args.workers, len(args.models) * len(set(args.lengths)))
    threads = apply_threads(args, "worker" if workers > 1 else "recurrent", _recurrent_size(base))
    from gnnhw.recurrent.experiments import run_sweep
    from gnnhw.runs import prepare_outputs

    path = args.out / "sweep.json"
    figure = args.out / "sweep.png"
    total = len(args.models) * len(set(args.lengths)) * len(seeds)
    with prepare_outputs(folders=[(args.out, "--out")], files=[(path, "results")], figures=[(figure, "figure")]):
        current().note = f"the finished jobs are kept in {path}; rerun the same command to continue"
        bar = None
        if not args.quiet:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc="sweep jobs")
        try:
            result = run_sweep(
                dataclasses.replace(base, seed=seeds[0]),
                args.models,
                args.lengths,
                len(seeds) if seeds == list(range(seeds[0], seeds[0] + len(seeds))) else seeds,  # old form
                path,
                workers=args.workers,
                threads=threads,
                executor=args.executor,
                address=args.address,
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
            print(f"{plural(result.skipped, 'job')} already in {path}, {total - result.skipped} run now")
            _print_sweep_table(summary)
            print(f"results: {path}\nfigure: {figure}", flush=True)
        from gnnhw.plotting.recurrent import sweep_figure

        title = (
            f"{len(seeds)} seeds, up to {base.train_steps} steps"
            + (f", early stop at {base.early_stop_accuracy}" if base.early_stop_accuracy else "")
            + f", hidden {base.hidden_size}, {base.optimizer} lr {base.lr:g}"
        )
        _figure_last(lambda: sweep_figure(result.records, title), figure)
    return 0


def _print_sweep_table(summary: dict[str, dict[int, dict[str, float]]]) -> None:
    """The sweep's table of test accuracy per length (rows) and model (columns) from
    :meth:`~gnnhw.recurrent.experiments.SweepResult.summary`: mean ± std over a cell's seeds, its value alone
    when the cell has one seed."""
    models = list(summary)
    counts = sorted({int(s["n"]) for by_t in summary.values() for s in by_t.values()})
    if len(counts) == 1:
        print(f"test accuracy ({over_runs(counts[0])}):")
    else:  # a sweep still running (or resumed with more seeds): cells of different counts
        print(f"test accuracy (mean ± std over each cell's seeds, {counts[0]} to {counts[-1]}; one seed: no std):")
    print("T    " + "".join(f"{m:>18s}" for m in models))
    for length in sorted({t for by_t in summary.values() for t in by_t}):
        cells = []
        for m in models:
            s = summary[m].get(length)
            cells.append(mean_std(s["mean"], s["std"], int(s["n"]), ".3f").rjust(18) if s else " " * 18)
        print(f"{length:<5d}" + "".join(cells))


def _optimizers(args: argparse.Namespace) -> int:
    from gnnhw.errors import check_positive_int

    check_positive_int("--workers", args.workers)
    base = _config(args, OptimizersConfig)
    check_executor_args(args)
    _check_lists(base, {"--optimizers": ("optimizer", args.optimizers)})
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
        runs = compare_optimizers(
            base,
            args.optimizers,
            workers=args.workers,
            threads=threads,
            executor=args.executor,
            address=args.address,
        )
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
        title = f"{base.model}, T={base.length}, lr {base.lr:g}, seed {base.seed}"
        _figure_last(lambda: optimizers_figure(runs, title), figure)
    return 0


def _grads(args: argparse.Namespace) -> int:
    base = _config(args, GradientsConfig)
    _check_lists(base, {"--models": ("model", args.models)})
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
    add_config_option(p, "--length", PalindromeConfig, type=int, help="palindrome length T")
    add_config_option(p, "--seed", PalindromeConfig, type=int, help="seed of weights and data")
    _add_optimizer(p, PalindromeConfig)
    p.add_argument(
        "--out", type=path_arg, default=None, metavar="DIR", help="also write the run's JSON and curve figure here"
    )
    _add_impl(p, PalindromeConfig)
    _add_training_options(p, PalindromeConfig)
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
            "  gnnhw palindrome-sweep --lengths 5 10 15 20 --seeds 3 --steps 5000 --out out/palindrome\n"
            "  OMP_NUM_THREADS=1 gnnhw palindrome-sweep --lengths 5 10 --seed 7 --seeds 1 --steps 200 --workers 2\n"
            "  gnnhw palindrome-sweep --executor ray --address 10.0.0.1:6379 --out out/palindrome   # a Ray cluster\n"
        ),
    )
    add_config_option(p, "--models", ComparisonConfig, nargs="+", help="models")
    add_config_option(p, "--lengths", ComparisonConfig, aliases=("--length",), nargs="+", type=int)
    add_config_option(
        p, "--seed", SweepConfig, type=int, help="the first seed: runs use seeds SEED, SEED+1, ..., SEED+SEEDS-1"
    )
    add_config_option(p, "--seeds", ComparisonConfig, nargs="+", type=int, action=_SeedCount, metavar="N")
    _add_optimizer(p, SweepConfig)
    p.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, metavar="N", help="worker processes (default: all cores)"
    )
    p.add_argument(
        "--out", type=path_arg, default=Path("out/palindrome"), metavar="DIR", help="folder of sweep.json and sweep.png"
    )
    _add_impl(p, SweepConfig)
    _add_training_options(p, SweepConfig, model=False)
    add_format(p)
    add_executor(p)
    p.set_defaults(func=_sweep)

    p = subparsers.add_parser(
        "optimizers",
        help="learning curves of SGD, SGD momentum, RMSprop and Adam",
        description=(
            "Train the same model (same seed, initial weights and batches) with each optimizer at one "
            "learning rate, print each one's test accuracy, and write OUT/optimizers.json and "
            "OUT/optimizers.png (training loss and accuracy curves). The model defaults to the vanilla RNN, "
            "the README's experiment (Q1.4); --model lstm compares the optimizers on the LSTM."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw optimizers --model rnn --length 10 --steps 1000 --out out/palindrome\n"
            "  gnnhw optimizers --model rnn --length 10 --steps 1000 --lr 0.05 --optimizers sgd adam\n"
        ),
    )
    add_config_option(p, "--length", OptimizersConfig, type=int, help="palindrome length T")
    add_config_option(
        p, "--seed", OptimizersConfig, type=int, help="seed of weights and data, shared by all optimizers"
    )
    add_config_option(p, "--optimizers", ComparisonConfig, nargs="+")
    p.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        metavar="N",
        help="worker processes (default: the number of cores, at most 4)",
    )
    p.add_argument(
        "--out", type=path_arg, default=Path("out/palindrome"), metavar="DIR", help="folder of optimizers.json/.png"
    )
    _add_impl(p, OptimizersConfig)
    _add_training_options(p, OptimizersConfig)
    add_format(p)
    add_executor(p)
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
    add_config_option(p, "--length", GradientsConfig, type=int, help="palindrome length T")
    add_config_option(p, "--seed", GradientsConfig, type=int, help="seed of weights and data")
    _add_optimizer(p, GradientsConfig)
    add_config_option(p, "--models", ComparisonConfig, nargs="+", help="models to compare, rnn and/or lstm")
    p.add_argument(
        "--out",
        type=path_arg,
        default=Path("out/palindrome"),
        metavar="DIR",
        help="folder of grads_over_time.json/.png",
    )
    _add_training_options(p, GradientsConfig, model=False)
    add_format(p)
    p.set_defaults(func=_grads)
