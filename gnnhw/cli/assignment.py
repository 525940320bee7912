"""Subcommands that answer a derivation or comparison question of the assignment: ``bptt`` (Q1.1, BPTT by hand
checked against autograd) and ``gnn-vs-rnn`` (Q3.4, a GCN of depth k against the RNN and LSTM on palindromes).

Every bad option (an unknown model, a length <= 0, an absurd size, an output path that cannot be written) gives
one line on stderr and exit code 2, checked before any work starts.
"""

from __future__ import annotations

import argparse
from typing import Any

from gnnhw.cli._common import (
    OneValueOrOldList,
    add_config_option,
    add_format,
    add_quiet,
    add_threads,
    apply_threads,
    config_labels,
    config_values,
    note_deprecated,
    one_of,
    path_arg,
    print_json,
    write_json,
)
from gnnhw.cli._executor import add_executor, check_executor_args

_BPTT_TOLERANCE = 1e-10  # float64: hand-derived and autograd gradients must agree this closely


def _outputs(args: argparse.Namespace) -> Any:
    """The run lifecycle's output check and lock (:func:`gnnhw.runs.prepare_outputs`) for ``--json`` and ``--plot``."""
    from gnnhw.runs import prepare_outputs

    files = [] if args.json is None else [(args.json, "--json")]
    figures = [] if args.plot is None else [(args.plot, "--plot")]
    return prepare_outputs(files=files, figures=figures)


# ---------------------------------------------------------------------------------------------------------------
# bptt


def _bptt(args: argparse.Namespace) -> int:
    from gnnhw.experiments.config import BPTTConfig

    BPTTConfig(**config_values(BPTTConfig, args)).validate(args.config_labels)  # before any work, naming the options
    with _outputs(args):  # checked and locked before any work
        return _bptt_run(args)


def _bptt_run(args: argparse.Namespace) -> int:
    apply_threads(args)
    from gnnhw.recurrent.bptt import check_bptt

    check = check_bptt(
        args.model, args.length, args.hidden_size, args.batch_size, args.seed, forget_bias=args.forget_bias
    )
    payload = check.to_dict()
    payload["tolerance"] = _BPTT_TOLERANCE
    payload["agrees"] = max(check.max_abs_diff.values()) <= _BPTT_TOLERANCE
    if args.json is not None:
        write_json(args.json, payload)
    if args.format == "json":
        print_json(payload)
    else:
        _print_bptt(check, payload, args)
    if args.plot is not None:
        from gnnhw.plotting import save_figure
        from gnnhw.plotting.assignment import bptt_figure

        result = check.result
        title = (
            f"BPTT by hand, {'LSTM' if check.model == 'lstm' else 'vanilla RNN'}: T = {check.length}, hidden "
            f"{check.hidden_size}, batch {check.batch_size}, seed {check.seed}, untrained"
            + (f" (forget bias {check.forget_bias:g})" if check.model == "lstm" else "")
        )
        save_figure(
            bptt_figure(result.contributions, result.delta_norms, result.cell_grad_norms, check.model, title),
            args.plot,
        )
    if args.plot is not None and args.format != "json":
        print(f"figure: {args.plot}")
    return 0 if payload["agrees"] else 1


def _print_bptt(check: Any, payload: dict[str, Any], args: argparse.Namespace) -> None:
    name = "LSTM" if check.model == "lstm" else "vanilla RNN"
    print(
        f"BPTT by hand vs autograd: {name}, T = {check.length} steps, hidden_size {check.hidden_size}, input_size "
        f"{check.input_size} (one-hot digits), batch {check.batch_size}, seed {check.seed}, {check.dtype}"
    )
    print(f"loss {check.loss:.6f}; max |hand - autograd| per parameter (and the gradient's own max |.|):")
    width = max(len(n) for n in check.max_abs_diff)
    for param, diff in check.max_abs_diff.items():
        print(f"  {param:<{width}s}  {diff:.2e}   (gradient up to {check.grad_max_abs[param]:.2e})")
    verdict = "agree" if payload["agrees"] else "DISAGREE"
    print(f"all gradients {verdict} within {_BPTT_TOLERANCE:g}")
    if check.mistakes:
        print("the usual mistakes, against autograd (max |wrong - right|, ||wrong - right|| / ||right||):")
        for variant, m in check.mistakes.items():
            rel = "n/a (right gradient is 0)" if m["relative_diff"] is None else f"{m['relative_diff']:.3f}"
            print(f"  {variant:<17s} {m['parameter']:<{width}s}  {m['max_abs_diff']:.2e}  relative {rel}")
            print(f"  {'':<17s} {m['formula']}")
        if check.length <= 2:
            print("  (with T <= 2 'last_step_only' is right: the t = 1 term is δ_1 h_0^T = 0)")
    terms = check.result.contributions
    last = terms[-1]
    earliest = next((t for t in range(len(terms)) if terms[t] > 0), None)
    delta = "z̄_t" if check.model == "lstm" else "δ_t"
    print(f"step t's term ||{delta} h_(t-1)^T||_F of dL/dW_hh: t = T: {last:.2e}", end="")
    if earliest is not None and earliest < len(terms) - 1 and last > 0:
        print(f"; t = {earliest + 1}: {terms[earliest]:.2e} ({terms[earliest] / last:.1e} of the last term)")
    else:
        print()
    if check.result.cell_grad_norms:
        cells = check.result.cell_grad_norms
        print(f"||dL/dc_t||: t = T: {cells[-1]:.2e}; t = 1: {cells[0]:.2e}")
    if args.json is not None:
        print(f"results: {args.json}")


# ---------------------------------------------------------------------------------------------------------------
# gnn-vs-rnn


def _gnn_vs_rnn(args: argparse.Namespace) -> int:
    from gnnhw.experiments.config import GNNvsRNNConfig

    values = config_values(GNNvsRNNConfig, args)
    if values["early_stop_accuracy"] == 0:
        values["early_stop_accuracy"] = None  # --early-stop 0: never
    config = GNNvsRNNConfig(**values).validate(args.config_labels)
    check_executor_args(args)
    with _outputs(args):  # checked and locked before any work
        return _gnn_vs_rnn_run(args, config)


def _gnn_vs_rnn_run(args: argparse.Namespace, config: Any) -> int:
    apply_threads(args)
    from gnnhw.experiments.gnn_vs_rnn import run_gnn_vs_rnn

    result = run_gnn_vs_rnn(config, progress=not args.quiet, executor=args.executor, address=args.address)
    payload = result.to_dict()
    if args.json is not None:
        write_json(args.json, payload)
    if args.format == "json":
        print_json(payload)
    else:
        _print_gnn_vs_rnn(result, args)
    if args.plot is not None:
        from gnnhw.plotting import save_figure
        from gnnhw.plotting.assignment import gnn_vs_rnn_figure

        title = (
            f"palindromes as path graphs; {config.seeds} {'seed' if config.seeds == 1 else 'seeds'}, "
            f"up to {config.steps} steps"
            + (f" (early stop at {config.early_stop_accuracy})" if config.early_stop_accuracy else "")
            + f"; GCN: residual, hidden {config.gcn_hidden_channels}, digit + position features"
        )
        save_figure(gnn_vs_rnn_figure(result.gcn_accuracy(), result.recurrent_accuracy(), title), args.plot)
    if args.plot is not None and args.format != "json":
        print(f"figure: {args.plot}")
    return 0


def _mean(values: list[float] | None) -> float:
    return sum(values) / len(values) if values else float("nan")


def _print_gnn_vs_rnn(result: Any, args: argparse.Namespace) -> None:
    config = result.config
    gcn, recurrent = result.gcn_accuracy(), result.recurrent_accuracy()
    depths = list(config.depths)
    columns = [f"k={k}" for k in depths] + list(config.models)
    over = f"mean over {config.seeds} seeds" if config.seeds > 1 else "1 seed"
    print(f"test accuracy ({over}; GCN of depth k; recurrent nets), palindrome length T:")
    print("T    " + "".join(f"{c:>9s}" for c in columns) + "   k >= T-1 needed")
    for length in config.lengths:
        cells = [f"{_mean(gcn[length][k]):9.3f}" for k in depths]
        cells += [f"{_mean(recurrent[m][length]):9.3f}" for m in config.models]
        print(f"{length:<5d}" + "".join(cells) + f"   k >= {length - 1}")
    ratios = result.influence_ratio()
    print("GCN at initialisation: influence of the first digit on the last node's logits / that of digit T-1:")
    print("T    " + "".join(f"{f'k={k}':>9s}" for k in depths))
    for length in config.lengths:
        print(f"{length:<5d}" + "".join(f"{_mean(ratios.get(length, {}).get(k)):9.1e}" for k in depths))
    seconds = sum(r.seconds for r in result.runs)
    print(f"{len(result.runs)} runs, {seconds:.0f} s of training")
    if args.json is not None:
        print(f"results: {args.json}")


class _SeedCount(OneValueOrOldList):
    """``--seeds N``: a count of runs. The old form, a list of consecutive seeds (``--seeds 3 4 5``), is read as
    ``--seed 3 --seeds 3`` with a one-line warning on stderr, for one release; any other list is refused."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        if len(values) == 1:
            setattr(namespace, self.dest, values[0])
            return
        first = values[0]
        if list(values) != list(range(first, first + len(values))):
            raise argparse.ArgumentError(
                self, f"is a count of runs now (seeds --seed, --seed + 1, ...), got {' '.join(map(str, values))}"
            )
        new = f"--seed {first} --seeds {len(values)}"
        warning = f"a list of seeds after --seeds is deprecated; use {new}"
        note_deprecated(namespace, "--seeds S1 S2 ...", new, ("--seed",), warning)  # --seed too: one would win
        namespace.seed, namespace.seeds = first, len(values)


def _add_outputs(p: argparse.ArgumentParser, json_help: str, plot_help: str) -> None:
    """``--json``, ``--plot`` (both absent unless given), ``--threads`` and ``--format``."""
    p.add_argument("--json", type=path_arg, default=None, metavar="FILE", help=f"{json_help} (default: none)")
    p.add_argument("--plot", type=path_arg, default=None, metavar="FILE", help=f"{plot_help} (default: none)")
    add_threads(p)
    add_format(p)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bptt`` and ``gnn-vs-rnn``."""
    p = subparsers.add_parser(
        "bptt",
        help="BPTT by hand (Q1.1): the RNN's/LSTM's gradients in loops over time, checked against autograd",
        description=(
            "Derive the gradients of the vanilla RNN classifier (or the LSTM) by back-propagation through time, "
            "with explicit loops over the steps and no autograd, and compare them with autograd in float64: "
            "dL/dW_ph = (ŷ - y) h_T^T, dL/dW_hh = Σ_t δ_t h_(t-1)^T, ... The model is untrained (torch's "
            "initialisation from --seed) and reads a batch of palindrome digits, one-hot. For the RNN it also "
            "shows how far the usual wrong answers are from autograd, and it draws each step's term of dL/dW_hh "
            "over t: the vanishing sum. Exit code 1 if the hand-derived gradients disagree."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw bptt --model rnn --length 30 --plot bptt_rnn.png\n"
            "  gnnhw bptt --model lstm --length 30 --forget-bias 1\n"
        ),
    )
    from gnnhw.experiments.config import BPTTConfig

    add_config_option(p, "--model", BPTTConfig, help="rnn (vanilla RNN) or lstm")
    add_config_option(p, "--length", BPTTConfig, type=int, help="time steps T the model reads")
    add_config_option(p, "--hidden-size", BPTTConfig, type=int, help="hidden units")
    add_config_option(p, "--batch-size", BPTTConfig, type=int, help="sequences in the batch")
    add_config_option(p, "--seed", BPTTConfig, type=int, help="seed of the weights and the digits")
    add_config_option(
        p,
        "--forget-bias",
        BPTTConfig,
        type=float,
        help="LSTM only: added to the forget gates' bias; 0 is torch's initialisation, gnnhw's palindrome "
        "training uses 1",
    )
    _add_outputs(p, "also write the comparison as JSON here", "draw the per-step terms over t here")
    p.set_defaults(func=_bptt, config_labels=config_labels(p))

    from gnnhw.experiments.config import RECURRENT_MODELS
    from gnnhw.experiments.config import GNNvsRNNConfig as Config

    p = subparsers.add_parser(
        "gnn-vs-rnn",
        help="GNN vs RNN (Q3.4): a GCN of depth k on palindromes as path graphs, against the RNN and LSTM",
        description=(
            "Each palindrome of length T becomes a path graph of T nodes (edges between neighbours, both ways; "
            "features: the one-hot digit, zeros on the last node, plus the one-hot position). A residual GCN of k "
            "graph convolutions classifies the last node; it can only see the first digit, which the last one "
            "equals, when k >= T - 1. The vanilla RNN and the LSTM (gnnhw's palindrome training) learn from the "
            "same palindromes. Prints the test accuracy vs k per T and draws it."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw gnn-vs-rnn --lengths 5 10 --depths 1 2 4 8 12 --seeds 2 --steps 1000 "
            "--json gnn_vs_rnn.json --plot gnn_vs_rnn.png\n"
            "  gnnhw gnn-vs-rnn --lengths 5 --depths 2 4 --seed 10 --seeds 3 --gcn-lr 0.01 --models lstm\n"
        ),
    )
    add_config_option(p, "--lengths", Config, nargs="+", type=int, help="palindrome lengths T")
    add_config_option(p, "--depths", Config, nargs="+", type=int, help="GCN depths k (graph convolutions)")
    add_config_option(
        p,
        "--seeds",
        Config,
        nargs="+",
        type=int,
        action=_SeedCount,
        metavar="N",
        help="runs of every model, with seeds --seed, --seed + 1, ...; each fixes weights and data",
    )
    add_config_option(p, "--seed", Config, type=int, help="seed of the first run")
    add_config_option(p, "--steps", Config, type=int, help="training steps per run, before an early stop")
    add_config_option(
        p, "--models", Config, nargs="+", metavar=one_of(RECURRENT_MODELS), help="recurrent nets to compare with"
    )
    add_config_option(p, "--batch-size", Config, type=int, help="palindromes per step")
    add_config_option(p, "--test-size", Config, type=int, help="test palindromes per seed")
    add_config_option(
        p,
        "--hidden-channels",
        Config,
        "gcn_hidden_channels",
        type=int,
        metavar="HIDDEN_CHANNELS",
        help="GCN hidden channels",
    )
    add_config_option(p, "--gcn-lr", Config, type=float, help="GCN Adam learning rate, (0, 10]")
    add_config_option(p, "--rnn-hidden-size", Config, type=int, help="RNN / LSTM hidden units")
    add_config_option(p, "--rnn-lr", Config, type=float, help="RNN / LSTM Adam learning rate, (0, 10]")
    add_config_option(p, "--max-norm", Config, type=float, help="gradient-norm clipping, every model")
    add_config_option(
        p,
        "--early-stop",
        Config,
        "early_stop_accuracy",
        type=float,
        metavar="ACC",
        help="stop a run once its last 50 training batches average ACC; 0: never",
    )
    _add_outputs(p, "write every run as JSON here", "draw accuracy vs k here")
    add_quiet(p)
    add_executor(p)
    p.set_defaults(func=_gnn_vs_rnn, config_labels=config_labels(p))
