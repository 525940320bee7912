"""Subcommands of the planetoid area: ``train-gcn``, ``eval-gcn`` and ``depth-study``.

Every option with a config field (:class:`~gnnhw.graph.config.TrainConfig`, :class:`~gnnhw.graph.config.DepthConfig`)
takes its default and help from the field (:func:`gnnhw.cli._common.add_config_option`); the two training commands
share their options and their run (outputs checked and locked, train, print, save, draw) in one piece each.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gnnhw._utils import plural
from gnnhw.checks import describe
from gnnhw.cli._common import (
    DeprecatedAlias,
    add_config_option,
    add_data_root,
    add_device,
    add_format,
    add_quiet,
    add_threads,
    apply_threads,
    config_labels,
    config_values,
    mean_std,
    one_of,
    over_runs,
    path_arg,
    positive_int,
    print_json,
    write_json,
)
from gnnhw.cli._executor import add_executor, check_executor_args
from gnnhw.graph.config import VARIANTS, DepthConfig, TrainConfig, canonical_dataset, dataset_size

OLD_IMPL_VALUES = {"pyg": "reference", "scratch": "scratch"}  # --layer's values as --impl's


def _add_trust_raw_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-raw-data",
        action="store_true",
        help="accept raw Planetoid files whose SHA-256 is not the published one (they are still read with a "
        "restricted unpickler and checked); without it such files are refused",
    )


def _with_range(config: type, field: str, text: str) -> str:
    """``text`` followed by the field's declared range, e.g. ``"hidden channels, [1, 65536]"``."""
    return f"{text}, {describe(config, field).split(':')[0]}"


def _add_training_options(p: argparse.ArgumentParser, config: type) -> None:
    """The options train-gcn and depth-study share, each from ``config``'s field of the same name."""
    add_config_option(
        p,
        "--dataset",
        config,
        help="Cora, CiteSeer, PubMed (any case) or sbm:NODES:EDGES[:CLASSES] (a seeded stochastic-block-model "
        "graph, EDGES counting both directions, e.g. sbm:1e6:1e7)",
    )
    add_config_option(
        p, "--hidden-channels", config, type=int, help=_with_range(config, "hidden_channels", "hidden channels")
    )
    add_config_option(p, "--dropout", config, type=float, help=_with_range(config, "dropout", "dropout probability"))
    add_config_option(p, "--lr", config, type=float, help=_with_range(config, "lr", "Adam learning rate"))
    add_config_option(
        p, "--weight-decay", config, type=float, help=_with_range(config, "weight_decay", "L2 on the first layer")
    )
    add_config_option(p, "--epochs", config, type=int, help=_with_range(config, "epochs", "training epochs"))
    # Plain int/float types: out-of-range values reach Config.validate, which says what was expected.
    add_config_option(
        p,
        "--seeds",
        config,
        type=int,
        metavar="N",
        help=_with_range(config, "seeds", "number of runs, seeds --seed, --seed + 1, ..."),
    )
    add_config_option(p, "--seed", config, type=int, help=_with_range(config, "seed", "seed of the first run"))
    p.add_argument("--hidden", action=DeprecatedAlias, new="--hidden-channels", dest="hidden_channels", type=int)
    p.add_argument("--first-seed", action=DeprecatedAlias, new="--seed", dest="seed", type=int)
    p.add_argument("--plot", type=path_arg, metavar="FILE", help="write the figure here (PNG, PDF, SVG)")
    p.add_argument("--json", type=path_arg, metavar="FILE", help="also write the full results here (JSON)")
    add_format(p)
    add_device(p)
    add_data_root(p)
    _add_trust_raw_data(p)
    add_quiet(p)
    add_threads(p)


def _config_from_args(config: type, args: argparse.Namespace) -> Any:
    """``config`` built from the options of its fields, validated naming those options (before any work)."""
    return config(**config_values(config, args)).validate(args.config_labels)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train-gcn``, ``eval-gcn`` and ``depth-study``."""
    p = subparsers.add_parser(
        "train-gcn",
        help="train Kipf & Welling's GCN on Cora, CiteSeer, PubMed (public split) or an SBM graph, several seeds",
        description=(
            "Train a GCN for semi-supervised node classification on a Planetoid data set (or a seeded "
            "stochastic-block-model graph, --dataset sbm:...); the defaults are "
            "Kipf & Welling's recipe (2 layers, 16 hidden, dropout 0.5, Adam lr 0.01, weight decay 5e-4 on "
            "the first layer, 200 epochs, row-normalized features). Reports the test accuracy at the epoch "
            "of best validation accuracy, mean and std over seeds."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw train-gcn --dataset Cora --seeds 10\n"
            "  gnnhw train-gcn --dataset CiteSeer --impl reference --seeds 3 --seed 100 --format json\n"
            "  gnnhw train-gcn --dataset sbm:1e6:1e7:8 --epochs 50   # a stochastic-block-model graph, 10^7 edges\n"
            "  gnnhw train-gcn --dataset Cora --seeds 3 --plot curves.png --save gcn.pt\n"
            "  gnnhw train-gcn --data-root ../shared/datasets --epochs 20   # data root: --data-root or $GNNHW_DATA\n"
        ),
    )
    add_config_option(p, "--impl", TrainConfig, help="scratch (gnnhw's GCNLayer) or reference (PyG's GCNConv)")
    p.add_argument("--layer", action=DeprecatedAlias, new="--impl", dest="impl", values=OLD_IMPL_VALUES)
    add_config_option(
        p,
        "--variant",
        TrainConfig,
        help="plain (Kipf's GCN), or a remedy against over-smoothing: residual, pairnorm, jk",
    )
    add_config_option(
        p, "--num-layers", TrainConfig, type=int, help=_with_range(TrainConfig, "num_layers", "graph convolutions")
    )
    _add_training_options(p, TrainConfig)
    add_config_option(
        p, "--dense-features", TrainConfig, "sparse_features", action="store_false",
        help="keep X dense (slow path, for comparison)",
    )  # fmt: skip
    add_config_option(
        p, "--no-normalize-features", TrainConfig, "normalize_features", action="store_false",
        help="do not row-normalize X",
    )  # fmt: skip
    p.add_argument(
        "--save", type=path_arg, metavar="FILE", help="write the best model here (torch.load(..., weights_only=True))"
    )
    add_executor(p)
    p.set_defaults(func=_train_gcn, config_labels=config_labels(p))

    p = subparsers.add_parser(
        "eval-gcn",
        help="evaluate a checkpoint written by 'train-gcn --save' on its data set",
        description=(
            "Load a checkpoint written by 'gnnhw train-gcn --save', rebuild its model, and print its train, "
            "validation and test accuracies on the data set it was trained on."
        ),
        epilog=(
            "examples:\n  gnnhw eval-gcn gcn.pt\n  gnnhw eval-gcn gcn.pt --format json --data-root ../shared/datasets\n"
        ),
    )
    p.add_argument("checkpoint", type=path_arg, help="file written by 'gnnhw train-gcn --save'")
    add_format(p)
    add_device(p)
    add_data_root(p)
    _add_trust_raw_data(p)
    add_threads(p)
    p.set_defaults(func=_eval_gcn)

    p = subparsers.add_parser(
        "depth-study",
        help="test accuracy and over-smoothing vs number of GCN layers, plain and with remedies",
        description=(
            "Train GCNs of each of --depths layers (plain, and with residual connections, PairNorm or jumping "
            "knowledge) on a Planetoid data set or an SBM graph over several seeds; report test accuracy and the "
            "mean pairwise distance of the final node embeddings (over-smoothing) against depth."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw depth-study --depths 1 2 4 8 --seeds 3 --plot depth.png --json depth.json\n"
            "  gnnhw depth-study --depths 1 2 --variants plain jk --seeds 1 --epochs 50 --lr 0.005\n"
        ),
    )
    add_config_option(
        p,
        "--depths",
        DepthConfig,
        type=positive_int,
        nargs="+",
        help="numbers of graph convolutions, each in [1, 1024]",
    )
    add_config_option(
        p,
        "--variants",
        DepthConfig,
        nargs="+",
        metavar=one_of(VARIANTS),
        help="plain and the remedies to train: " + ", ".join(VARIANTS),
    )
    _add_training_options(p, DepthConfig)
    add_executor(p)
    p.set_defaults(func=_depth_study, config_labels=config_labels(p))


def _run_and_report(
    args: argparse.Namespace,
    files: list[tuple[Path | None, str]],
    train: Callable[[], Any],
    report: Callable[[Any], None],
    figure: Callable[[Any], Any],
) -> int:
    """The run of a training command: every output checked and locked, ``train()``, then the results before the
    decorations: ``report(result)`` (table or JSON, and the files), the figure of ``figure(result)`` last."""
    from gnnhw.cli._run import current
    from gnnhw.runs import prepare_outputs

    outputs = [(path, option) for path, option in files if path is not None]
    figures = [(args.plot, "--plot")] if args.plot is not None else []
    with prepare_outputs(files=outputs, figures=figures):  # every output checked and locked before training
        current().note = "no results were written: they are written only once the run finishes"
        # Planetoid (at most 88,648 edges) is small work: one thread; a large sbm: graph may use idle cores
        apply_threads(args, "graph", dataset_size(canonical_dataset(args.dataset)).edges)
        result = train()
        current().note = ""
        report(result)
        sys.stdout.flush()
        if args.plot:
            from gnnhw.plotting import save_figure

            save_figure(figure(result), args.plot)
            if args.format != "json":
                print(f"figure saved to {args.plot}")
    return 0


def _run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments that ``train_planetoid`` and ``run_depth_study`` take from the command line alike."""
    return {
        "root": args.data_root,
        "device": args.device,
        "progress": not args.quiet,
        "trust_raw_data": args.trust_raw_data,
        "executor": args.executor,
        "address": args.address,
    }


def _train_gcn(args: argparse.Namespace) -> int:
    if not args.sparse_features and args.impl != "scratch":
        from gnnhw.errors import ConfigError

        raise ConfigError(
            "--dense-features applies only to --impl scratch (the reference layers always use dense features); drop it"
        )
    config = _config_from_args(TrainConfig, args)  # ranges, memory: before torch or any data is loaded
    check_executor_args(args)

    def train() -> Any:
        from gnnhw.graph.train import train_planetoid

        return train_planetoid(config, **_run_options(args))

    def report(result: Any) -> None:
        if args.format == "json":
            summary = result.to_dict()
            keys = ("dataset", "impl", "seeds", "test_acc_mean", "test_acc_std", "per_seed", "seconds_per_epoch")
            payload = {k: summary[k] for k in keys}
            payload.update({k: v for k, v in summary.items() if k not in keys and k not in ("config", "runs")})
            print_json(payload)
        else:
            _print_train_table(config, result)
        sys.stdout.flush()
        if args.save:
            from gnnhw.graph.train import save_checkpoint

            save_checkpoint(result, args.save)
            if args.format != "json":
                print(f"best model (seed {result.best_seed}) saved to {args.save}", flush=True)
        if args.json:
            write_json(args.json, result.to_dict(history=True))

    def figure(result: Any) -> Any:
        from gnnhw.plotting.planetoid import plot_training_curves

        return plot_training_curves(result)

    return _run_and_report(args, [(args.save, "--save"), (args.json, "--json")], train, report, figure)


def _print_train_table(config, result) -> None:  # noqa: ANN001
    print(
        f"{config.dataset}, {config.impl} layers, {plural(len(result.runs), 'seed')}, {config.epochs} epochs, "
        f"{result.device}"
    )
    print(f"{'seed':>5} {'best epoch':>10} {'val acc':>8} {'test acc':>9} {'test acc (last)':>16} {'s/epoch':>9}")
    for run in result.runs:
        print(
            f"{run.seed:>5} {run.best_epoch:>10} {run.val_acc:>8.4f} {run.test_acc:>9.4f} "
            f"{run.test_acc_last:>16.4f} {run.seconds_per_epoch:>9.4f}"
        )
    runs = len(result.runs)
    best = mean_std(100 * result.test_acc_mean, 100 * result.test_acc_std, runs)
    last = mean_std(100 * result.test_acc_last_mean, 100 * result.test_acc_last_std, runs)
    print(f"test accuracy at best validation epoch: {best} (last epoch: {last}); {over_runs(runs)}")
    print(
        f"seconds per epoch: {result.seconds_per_epoch:.4f}; peak memory: {result.peak_memory_mb:.0f} MiB "
        f"({result.memory_kind})"
    )


def _eval_gcn(args: argparse.Namespace) -> int:
    from gnnhw._utils import resolve_device
    from gnnhw.graph.data import prepare_graph
    from gnnhw.graph.sbm import load_dataset
    from gnnhw.graph.train import evaluate, load_checkpoint

    model, config, ckpt = load_checkpoint(args.checkpoint)  # schema-checked: fields, ranges, finite weights
    device = resolve_device(args.device)
    data = load_dataset(config.dataset, args.data_root, trust_raw_data=args.trust_raw_data)
    apply_threads(args, "graph", int(data.edge_index.shape[1]))
    if data.num_features != ckpt["in_channels"] or int(data.num_classes) != ckpt["out_channels"]:
        from gnnhw.errors import CheckpointError

        raise CheckpointError(
            f"checkpoint {str(args.checkpoint)!r} expects {ckpt['in_channels']} features and "
            f"{ckpt['out_channels']} classes; {config.dataset} has {data.num_features} and {data.num_classes}"
        )
    accs = evaluate(model.to(device), prepare_graph(data, config, device))
    payload = {
        "dataset": config.dataset,
        "impl": config.impl,
        "seed": ckpt["seed"],
        **{f"{k}_acc": v for k, v in accs.items()},
    }
    if args.format == "json":
        print_json(payload)
    else:
        print(
            f"{config.dataset}, {config.impl} layers, seed {ckpt['seed']}: train {accs['train']:.4f}, "
            f"val {accs['val']:.4f}, test {accs['test']:.4f}"
        )
    return 0


def _print_depth_table(config, result) -> None:  # noqa: ANN001
    """The depth study's table: test accuracy (mean ± std over seeds; the value alone for one seed) and the mean
    pairwise distance of the embeddings, per variant and depth."""
    runs = max((len(row.test_acc) for row in result.rows), default=config.seeds)
    print(f"{config.dataset}: test accuracy ({over_runs(runs)}) and embedding distance vs depth")
    print(f"{'variant':>9} {'layers':>6} {'test acc':>15} {'mean pairwise dist':>19}")
    for row in result.rows:
        acc = mean_std(100 * row.test_acc_mean, 100 * row.test_acc_std, len(row.test_acc))
        print(f"{row.variant:>9} {row.num_layers:>6} {acc:>15} {row.distance_mean:>19.4f}")


def _depth_study(args: argparse.Namespace) -> int:
    config = _config_from_args(DepthConfig, args)  # ranges, repeated depths or variants, memory: before any work
    check_executor_args(args)

    def train() -> Any:
        from gnnhw.graph.depth import run_depth_study

        return run_depth_study(config, **_run_options(args))

    def report(result: Any) -> None:
        if args.format == "json":
            print_json(result.to_dict())
        else:
            _print_depth_table(config, result)
        sys.stdout.flush()
        if args.json:
            write_json(args.json, result.to_dict())
            if args.format != "json":
                print(f"results saved to {args.json}", flush=True)

    def figure(result: Any) -> Any:
        from gnnhw.plotting.planetoid import plot_depth_study

        return plot_depth_study(result)

    return _run_and_report(args, [(args.json, "--json")], train, report, figure)
