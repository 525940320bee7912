"""Subcommands of the planetoid area: ``train-gcn``, ``eval-gcn`` and ``depth-study``."""

from __future__ import annotations

import argparse
import sys

from gnnhw.checks import describe
from gnnhw.cli._common import (
    add_data_root,
    add_device,
    add_format,
    add_quiet,
    add_threads,
    apply_threads,
    non_negative_int,
    path_arg,
    positive_int,
    print_json,
    write_json,
)
from gnnhw.graph.config import DepthConfig, TrainConfig

# CLI option of each config field, so that errors name what the user typed.
_TRAIN_LABELS = {
    "dataset": "--dataset",
    "layer": "--layer",
    "hidden_channels": "--hidden",
    "num_layers": "--num-layers",
    "dropout": "--dropout",
    "lr": "--lr",
    "weight_decay": "--weight-decay",
    "epochs": "--epochs",
    "seeds": "--seeds",
    "first_seed": "--first-seed",
}
_DEPTH_LABELS = {**_TRAIN_LABELS, "depths": "--depths", "variants": "--variants"}


def _add_trust_raw_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-raw-data",
        action="store_true",
        help="accept raw Planetoid files whose SHA-256 is not the published one (they are still read with a "
        "restricted unpickler and checked); without it such files are refused",
    )


def _range(name: str) -> str:
    return describe(TrainConfig, name).split(":")[0]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train-gcn``, ``eval-gcn`` and ``depth-study``."""
    p = subparsers.add_parser(
        "train-gcn",
        help="train Kipf & Welling's GCN on Cora, CiteSeer or PubMed (public split), several seeds",
        description=(
            "Train a GCN for semi-supervised node classification on a Planetoid data set; the defaults are "
            "Kipf & Welling's recipe (2 layers, 16 hidden, dropout 0.5, Adam lr 0.01, weight decay 5e-4 on "
            "the first layer, 200 epochs, row-normalized features). Reports the test accuracy at the epoch "
            "of best validation accuracy, mean and std over seeds."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw train-gcn --dataset Cora --seeds 10\n"
            "  gnnhw train-gcn --dataset CiteSeer --layer pyg --seeds 3 --format json\n"
            "  gnnhw train-gcn --dataset Cora --seeds 3 --plot curves.png --save gcn.pt\n"
            "  gnnhw train-gcn --data-root ../shared/datasets --epochs 20   # data root: --data-root or $GNNHW_DATA\n"
        ),
    )
    p.add_argument("--dataset", default="Cora", help="Cora, CiteSeer or PubMed (default: Cora)")
    p.add_argument("--layer", default="scratch", help="scratch (gnnhw's GCNLayer) or pyg (GCNConv) (default: scratch)")
    # Plain int/float types: out-of-range values reach TrainConfig.validate, which says what was expected.
    p.add_argument("--seeds", type=int, default=1, help=f"number of runs, {_range('seeds')} (default: 1)")
    p.add_argument(
        "--first-seed", type=int, default=0, help=f"seed of the first run, {_range('first_seed')} (default: 0)"
    )
    p.add_argument("--epochs", type=int, default=200, help=f"training epochs, {_range('epochs')} (default: 200)")
    p.add_argument("--hidden", type=int, default=16, help=f"hidden channels, {_range('hidden_channels')} (default: 16)")
    p.add_argument("--num-layers", type=int, default=2, help=f"graph convolutions, {_range('num_layers')} (default: 2)")
    p.add_argument(
        "--dropout", type=float, default=0.5, help=f"dropout probability, {_range('dropout')} (default: 0.5)"
    )
    p.add_argument("--lr", type=float, default=0.01, help=f"Adam learning rate, {_range('lr')} (default: 0.01)")
    p.add_argument(
        "--weight-decay",
        type=float,
        default=5e-4,
        help=f"L2 on the first layer, {_range('weight_decay')} (default: 5e-4)",
    )
    p.add_argument("--dense-features", action="store_true", help="keep X dense (slow path, for comparison)")
    p.add_argument("--no-normalize-features", action="store_true", help="do not row-normalize X")
    p.add_argument("--save", type=path_arg, help="write the best model here (torch.load(..., weights_only=True))")
    p.add_argument("--plot", type=path_arg, help="write the loss and accuracy curves here (PNG, PDF, SVG)")
    p.add_argument("--json", type=path_arg, help="also write the full results (with per-epoch curves) here")
    add_format(p)
    add_device(p)
    add_data_root(p)
    _add_trust_raw_data(p)
    add_quiet(p)
    add_threads(p)
    p.set_defaults(func=_train_gcn)

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
            "Train GCNs of each of --depths layers on a Planetoid data set (plain, and with residual "
            "connections, PairNorm or jumping knowledge) over several seeds; report test accuracy and the "
            "mean pairwise distance of the final node embeddings (over-smoothing) against depth."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw depth-study --depths 1 2 4 8 --seeds 3 --plot depth.png --json depth.json\n"
            "  gnnhw depth-study --depths 1 2 --variants plain jk --seeds 1 --epochs 50\n"
        ),
    )
    p.add_argument("--dataset", default="Cora", help="Cora, CiteSeer or PubMed (default: Cora)")
    p.add_argument(
        "--depths", type=positive_int, nargs="+", help="depths to train, each in [1, 1024] (default: 1 2 4 6 8)"
    )
    p.add_argument(
        "--variants",
        nargs="+",
        default=None,
        help="plain, residual, pairnorm, jk (default: plain residual pairnorm jk)",
    )
    p.add_argument("--seeds", type=int, default=3, help=f"runs per depth and variant, {_range('seeds')} (default: 3)")
    p.add_argument("--epochs", type=int, default=200, help=f"training epochs, {_range('epochs')} (default: 200)")
    p.add_argument("--hidden", type=int, default=64, help=f"hidden channels, {_range('hidden_channels')} (default: 64)")
    p.add_argument(
        "--first-seed",
        type=non_negative_int,
        default=0,
        help=f"seed of the first run, {_range('first_seed')} (default: 0)",
    )
    p.add_argument("--plot", type=path_arg, help="write the figure here (PNG, PDF, SVG)")
    p.add_argument("--json", type=path_arg, help="write the results here (JSON)")
    add_format(p)
    add_device(p)
    add_data_root(p)
    _add_trust_raw_data(p)
    add_quiet(p)
    add_threads(p)
    p.set_defaults(func=_depth_study)


def _train_gcn(args: argparse.Namespace) -> int:
    if args.dense_features and args.layer == "pyg":
        from gnnhw.errors import ConfigError

        raise ConfigError(
            "--dense-features applies only to --layer scratch (the pyg layer always uses dense features); drop it"
        )
    config = TrainConfig(
        dataset=args.dataset,
        layer=args.layer,
        hidden_channels=args.hidden,
        num_layers=args.num_layers,
        dropout=args.dropout,
        lr=args.lr,
        weight_decay=args.weight_decay,
        epochs=args.epochs,
        normalize_features=not args.no_normalize_features,
        sparse_features=not args.dense_features,
        seeds=args.seeds,
        first_seed=args.first_seed,
    ).validate(_TRAIN_LABELS)  # bad options (ranges, memory) fail here, before torch or any data is loaded
    from gnnhw.cli._run import current
    from gnnhw.runs import prepare_outputs

    files = [(p, o) for p, o in ((args.save, "--save"), (args.json, "--json")) if p is not None]
    figures = [(args.plot, "--plot")] if args.plot is not None else []
    with prepare_outputs(files=files, figures=figures):  # every output checked and locked before training
        current().note = "no results were written: they are written only once the run finishes"
        apply_threads(args, "graph")  # Planetoid: at most 88,648 edges (PubMed), small work
        from gnnhw.graph.train import save_checkpoint, train_planetoid

        result = train_planetoid(
            config,
            root=args.data_root,
            device=args.device,
            progress=not args.quiet,
            trust_raw_data=args.trust_raw_data,
        )
        current().note = ""
        # Results before decorations: the table, then the files, the figure last.
        if args.format == "json":
            summary = result.to_dict()
            keys = ("dataset", "layer", "seeds", "test_acc_mean", "test_acc_std", "per_seed", "seconds_per_epoch")
            payload = {k: summary[k] for k in keys}
            payload.update({k: v for k, v in summary.items() if k not in keys and k not in ("config", "runs")})
            print_json(payload)
        else:
            _print_train_table(config, result)
        sys.stdout.flush()
        if args.save:
            save_checkpoint(result, args.save)
            if args.format != "json":
                print(f"best model (seed {result.best_seed}) saved to {args.save}", flush=True)
        if args.json:
            write_json(args.json, result.to_dict(history=True))
        if args.plot:
            from gnnhw.plotting import save_figure
            from gnnhw.plotting.planetoid import plot_training_curves

            save_figure(plot_training_curves(result), args.plot)
            if args.format != "json":
                print(f"figure saved to {args.plot}")
    return 0


def _print_train_table(config, result) -> None:  # noqa: ANN001
    print(
        f"{config.dataset}, {config.layer} layer, {len(result.runs)} seed(s), {config.epochs} epochs, {result.device}"
    )
    print(f"{'seed':>5} {'best epoch':>10} {'val acc':>8} {'test acc':>9} {'test acc (last)':>16} {'s/epoch':>9}")
    for run in result.runs:
        print(
            f"{run.seed:>5} {run.best_epoch:>10} {run.val_acc:>8.4f} {run.test_acc:>9.4f} "
            f"{run.test_acc_last:>16.4f} {run.seconds_per_epoch:>9.4f}"
        )
    print(
        f"test accuracy at best validation epoch: {100 * result.test_acc_mean:.2f} ± {100 * result.test_acc_std:.2f}"
        f" (last epoch: {100 * result.test_acc_last_mean:.2f} ± {100 * result.test_acc_last_std:.2f})"
    )
    print(
        f"seconds per epoch: {result.seconds_per_epoch:.4f}; peak memory: {result.peak_memory_mb:.0f} MiB "
        f"({result.memory_kind})"
    )


def _eval_gcn(args: argparse.Namespace) -> int:
    from gnnhw._utils import resolve_device
    from gnnhw.graph.data import load_planetoid
    from gnnhw.graph.train import evaluate, load_checkpoint, prepare_graph

    model, config, ckpt = load_checkpoint(args.checkpoint)  # schema-checked: fields, ranges, finite weights
    device = resolve_device(args.device)
    data = load_planetoid(config.dataset, args.data_root, trust_raw_data=args.trust_raw_data)
    if data.num_features != ckpt["in_channels"] or int(data.num_classes) != ckpt["out_channels"]:
        from gnnhw.errors import CheckpointError

        raise CheckpointError(
            f"checkpoint {str(args.checkpoint)!r} expects {ckpt['in_channels']} features and "
            f"{ckpt['out_channels']} classes; {config.dataset} has {data.num_features} and {data.num_classes}"
        )
    apply_threads(args, "graph", int(data.edge_index.shape[1]))
    accs = evaluate(model.to(device), prepare_graph(data, config, device))
    payload = {
        "dataset": config.dataset,
        "layer": config.layer,
        "seed": ckpt["seed"],
        **{f"{k}_acc": v for k, v in accs.items()},
    }
    if args.format == "json":
        print_json(payload)
    else:
        print(
            f"{config.dataset}, {config.layer} layer, seed {ckpt['seed']}: train {accs['train']:.4f}, "
            f"val {accs['val']:.4f}, test {accs['test']:.4f}"
        )
    return 0


def _depth_study(args: argparse.Namespace) -> int:
    config = DepthConfig(
        dataset=args.dataset,
        hidden_channels=args.hidden,
        epochs=args.epochs,
        seeds=args.seeds,
        first_seed=args.first_seed,
    )
    if args.depths:
        config.depths = tuple(args.depths)
    if args.variants:
        config.variants = tuple(args.variants)
    config.validate(_DEPTH_LABELS)  # ranges, repeated depths or variants, memory: before anything is loaded
    from gnnhw.cli._run import current
    from gnnhw.runs import prepare_outputs

    files = [(args.json, "--json")] if args.json is not None else []
    figures = [(args.plot, "--plot")] if args.plot is not None else []
    with prepare_outputs(files=files, figures=figures):  # every output checked and locked before training
        current().note = "no results were written: they are written only once the run finishes"
        apply_threads(args, "graph")  # Planetoid: at most 88,648 edges (PubMed), small work
        from gnnhw.graph.depth import run_depth_study

        result = run_depth_study(
            config,
            root=args.data_root,
            device=args.device,
            progress=not args.quiet,
            trust_raw_data=args.trust_raw_data,
        )
        current().note = ""
        # Results before decorations: the table and the JSON, the figure last.
        if args.format == "json":
            print_json(result.to_dict())
        else:
            print(
                f"{config.dataset}: test accuracy (mean ± std over {config.seeds} seeds) "
                "and embedding distance vs depth"
            )
            print(f"{'variant':>9} {'layers':>6} {'test acc':>15} {'mean pairwise dist':>19}")
            for row in result.rows:
                print(
                    f"{row.variant:>9} {row.num_layers:>6} {100 * row.test_acc_mean:>8.2f} ± "
                    f"{100 * row.test_acc_std:<5.2f} {row.distance_mean:>19.4f}"
                )
        sys.stdout.flush()
        if args.json:
            write_json(args.json, result.to_dict())
            if args.format != "json":
                print(f"results saved to {args.json}", flush=True)
        if args.plot:
            from gnnhw.plotting import save_figure
            from gnnhw.plotting.planetoid import plot_depth_study

            save_figure(plot_depth_study(result), args.plot)
            if args.format != "json":
                print(f"figure saved to {args.plot}")
    return 0
