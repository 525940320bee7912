"""``gnnhw textgen``: train a character-level LSTM on a text file, sample from a checkpoint, evaluate it, and
measure classical baselines on the same split.

gnnhw textgen train --text FILE --steps N --out DIR [--resume] [--impl reference|scratch] [--batching ...]
gnnhw textgen sample --checkpoint PATH [--prompt TEXT] [--length N] [--temperature T | --greedy | --beam K]
gnnhw textgen evaluate --checkpoint PATH --text FILE [--start F] [--end F] [--stateful]
gnnhw textgen baselines --text FILE [--order N] [--format text|json] [--json PATH]

Every option that is a field of :class:`~gnnhw.recurrent.config.TextTrainConfig` (or of ``SampleConfig`` /
``BaselineConfig``) takes its default and range from there (:func:`gnnhw.cli._common.add_config_option`).
The library does the work (:mod:`gnnhw.recurrent.train_text`, :mod:`~gnnhw.recurrent.text_checkpoint`,
:mod:`~gnnhw.recurrent.text_eval`, :mod:`~gnnhw.recurrent.sampling`, :mod:`~gnnhw.recurrent.baselines`); this
module parses, prints, writes the output files and turns SIGINT/SIGTERM into the library's ``should_stop``.
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any

from gnnhw._renames import IMPLS
from gnnhw.cli._common import (
    DeprecatedAlias,
    StoreGiven,
    add_config_option,
    add_device,
    add_format,
    add_quiet,
    add_threads,
    apply_threads,
    given_options,
    non_negative_int,
    path_arg,
    positive_int,
    print_json,
    write_json,
)
from gnnhw.recurrent.config import (  # torch-free: the defaults and ranges of every option below
    BATCHINGS,
    MAX_NGRAM_ORDER,
    PPMD_ORDERS,
    BaselineConfig,
    EvaluateConfig,
    SampleConfig,
    TextTrainConfig,
)

_D = TextTrainConfig()  # the defaults, for the descriptions
_OLD_CELLS = {"torch": "reference"}  # --cell torch (before issue 11) is --impl reference


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    return value


def _int_list(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated step numbers, got {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``textgen`` with its subcommands ``train``, ``sample`` and ``evaluate``."""
    parser = subparsers.add_parser(
        "textgen",
        help="character-level LSTM text generation (train, sample, evaluate, baselines)",
        description=(
            "Train a character-level LSTM on any UTF-8 text, then sample from it and evaluate it. "
            "Run 'gnnhw textgen SUBCOMMAND --help' for a subcommand's options."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw textgen train --text BOOK.txt --steps 5000 --out runs/book\n"
            '  gnnhw textgen sample --checkpoint runs/book/checkpoint.pt --prompt "Once upon" --length 80\n'
            "  gnnhw textgen evaluate --checkpoint runs/book/checkpoint.pt --text BOOK.txt --start 0.9\n"
            "  gnnhw textgen baselines --text BOOK.txt\n"
        ),
    )
    sub = parser.add_subparsers(dest="textgen_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])

    train = sub.add_parser(
        "train",
        help="train on a text file, with checkpoints and resume",
        description=(
            f"Train a character-level LSTM (the assignment's defaults: seq {_D.seq_length}, batch {_D.batch_size}, "
            f"Adam {_D.lr:g}, clip {_D.max_norm:g}, {_D.num_layers} layers of {_D.hidden_size}). "
            "Writes DIR/checkpoint.pt (every --checkpoint-every steps, at the end, on Ctrl-C), "
            "DIR/history.json, DIR/samples.txt and DIR/curves.png."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw textgen train --text BOOK.txt --steps 5000 --out runs/book   # Ctrl-C: checkpoint, exit 130\n"
            "  gnnhw textgen train --text BOOK.txt --steps 10000 --out runs/book --resume\n"
            "  gnnhw textgen train --text BOOK.txt --steps 200 --out runs/quick --eval-every 50 --threads 1\n"
        ),
    )
    train.add_argument("--text", type=path_arg, required=True, metavar="FILE", help="UTF-8 text file to learn")
    option = functools.partial(add_config_option, train, config=TextTrainConfig, action=StoreGiven)
    option("--steps", type=positive_int)
    train.add_argument("--out", type=path_arg, required=True, metavar="DIR", help="output folder (one run per folder)")
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue from DIR/checkpoint.pt up to --steps (the run's other settings come from the checkpoint)",
    )
    option("--impl", choices=IMPLS)
    train.add_argument(
        "--cell", action=DeprecatedAlias, new="--impl", dest="impl", choices=("torch", "scratch"), values=_OLD_CELLS
    )
    option("--seq-length", type=positive_int)
    option("--batch-size", type=positive_int)
    option("--hidden-size", type=positive_int)
    option("--num-layers", type=positive_int)
    option("--dropout", type=float)
    option("--lr", type=float)
    option("--max-norm", type=float)
    option("--lr-decay", type=float)
    option("--lr-decay-every", type=positive_int)
    option("--eval-every", type=positive_int)
    option("--checkpoint-every", type=non_negative_int)
    option("--sample-every", type=non_negative_int)
    option(
        "--sample-at",
        type=_int_list,
        metavar="S1,S2,...",
        help="comma-separated steps to log a sample at (default: none)",
    )
    option("--sample-length", type=positive_int)
    option(
        "--batching",
        choices=BATCHINGS,
        help="random: B random windows, each from a zero state (the assignment's); sequential: the text "
        "as B parallel streams, the state carried from batch to batch (truncated BPTT, as char-rnn)",
    )
    option("--seed", type=int)
    _add_keep_gutenberg(train, given=True)
    add_threads(train)
    add_device(train)
    add_quiet(train)
    train.set_defaults(func=_train)

    smp = sub.add_parser(
        "sample",
        help="generate text from a checkpoint",
        description=(
            "Generate text from a checkpoint; the text goes to stdout. Temperature T divides the logits "
            "(higher is more random); the assignment's tau multiplies them, so T = 1 / tau."
        ),
        epilog=(
            "examples:\n"
            '  gnnhw textgen sample --checkpoint runs/book/checkpoint.pt --prompt "Sleeping beauty is" --length 80\n'
            "  gnnhw textgen sample --checkpoint runs/book/checkpoint.pt --temperature 0.5 --top-k 10 --seed 1\n"
            '  gnnhw textgen sample --checkpoint runs/book/checkpoint.pt --prompt "The king" --beam 5\n'
        ),
    )
    smp.add_argument(
        "--checkpoint",
        type=path_arg,
        required=True,
        metavar="FILE",
        help="checkpoint.pt written by 'gnnhw textgen train'",
    )
    smp.add_argument("--prompt", default=None, metavar="TEXT", help="text to complete (default: one random character)")
    add_config_option(
        smp,
        "--length",
        SampleConfig,
        type=non_negative_int,
        help="characters to generate, at most 1,000,000; printed as they are generated",
    )
    mode = smp.add_mutually_exclusive_group()
    mode.add_argument("--temperature", type=_float, default=None, metavar="T", help="sample at temperature T > 0")
    mode.add_argument("--greedy", action="store_true", help="most likely character each step (the default)")
    mode.add_argument("--beam", type=positive_int, default=None, metavar="K", help="beam search with width K")
    smp.add_argument(
        "--top-k",
        type=positive_int,
        default=None,
        metavar="K",
        help="with --temperature only: sample among the K likeliest (default: all characters)",
    )
    smp.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed in [0, 2^32) of --temperature sampling, and of the random first character when there is no "
        "--prompt (default: 0)",
    )
    add_device(smp)
    add_threads(smp)
    add_quiet(smp)
    smp.set_defaults(func=_sample)

    ev = sub.add_parser(
        "evaluate",
        help="next-character loss, bits per character and accuracy of a checkpoint on (part of) a text",
        description=(
            "Loss (nats per character), bits per character (loss / ln 2) and next-character accuracy of a "
            "checkpoint on a text file, or on a part of it, read two ways: consecutive windows of --seq-length "
            "characters each from a zero state (as random-batching training sees text), and the same characters "
            "as one stream with the state carried through (every character predicted from all before it; "
            "comparable with compressors). Project Gutenberg's header and licence are stripped first (as in "
            "training), unless --keep-gutenberg."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw textgen evaluate --checkpoint runs/book/checkpoint.pt --text BOOK.txt --start 0.9\n"
            "  gnnhw textgen evaluate --checkpoint runs/book/checkpoint.pt --text BOOK.txt --end 0.9 --stateful\n"
        ),
    )
    ev.add_argument(
        "--checkpoint",
        type=path_arg,
        required=True,
        metavar="FILE",
        help="checkpoint.pt written by 'gnnhw textgen train'",
    )
    ev.add_argument(
        "--text",
        type=path_arg,
        required=True,
        metavar="FILE",
        help="UTF-8 text file (usually the one it was trained on)",
    )
    add_config_option(ev, "--start", EvaluateConfig, type=float)
    add_config_option(ev, "--end", EvaluateConfig, type=float)
    ev.add_argument("--seq-length", type=positive_int, default=None, help="window length (default: the run's)")
    ev.add_argument("--stateful", action="store_true", help="report only the stream reading (default: both readings)")
    _add_keep_gutenberg(ev)
    add_format(ev)
    add_device(ev)
    add_threads(ev)
    ev.set_defaults(func=_evaluate)

    base = sub.add_parser(
        "baselines",
        help="bits per held-out character of n-gram models and compressors (zlib, bz2, xz, PPMd)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Yardsticks for a character model, in bits per held-out character on the split training uses\n"
            "(the last 10% of the text, after Project Gutenberg's header and licence are stripped): a unigram\n"
            "model (add-1) and an interpolated Kneser-Ney n-gram model of the training part, and the\n"
            "conditional compressed size of zlib -9, bz2 -9, xz -9e and PPMd (8 x (|C(train + held-out)| -\n"
            "|C(train)|) / held-out characters). PPMd needs the optional pyppmd package\n"
            "(pip install gnnhw[ppmd]); without it its row says so."
        ),
        epilog=(
            "examples:\n"
            "  gnnhw textgen baselines --text books/book_EN_grimms_fairy_tails.txt --order 5 --json out/base.json\n"
        ),
    )
    base.add_argument("--text", type=path_arg, required=True, metavar="FILE", help="UTF-8 text file")
    add_config_option(
        base, "--order", BaselineConfig, type=int, help=f"n of the Kneser-Ney n-gram model, 1 to {MAX_NGRAM_ORDER}"
    )
    add_config_option(
        base, "--ppmd-order", BaselineConfig, type=int, help="PPMd model order, {} to {}".format(*PPMD_ORDERS)
    )
    _add_keep_gutenberg(base)
    add_format(base)
    base.add_argument("--json", type=path_arg, default=None, metavar="FILE", help="also write the table as JSON")
    base.set_defaults(func=_baselines)


class _StoreTrueGiven(StoreGiven):
    """``store_true`` that is remembered as given (so ``--resume`` can compare it with the checkpoint's)."""

    def __init__(self, option_strings, dest, **kwargs):  # noqa: ANN001
        super().__init__(option_strings, dest, nargs=0, default=False, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        super().__call__(parser, namespace, True, option_string)


def _add_keep_gutenberg(parser: argparse.ArgumentParser, given: bool = False) -> None:
    parser.add_argument(
        "--keep-gutenberg",
        action=_StoreTrueGiven if given else "store_true",
        help="keep Project Gutenberg's header and licence (default: strip them when their markers are present)",
    )


def _baselines(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from gnnhw.recurrent.baselines import text_baselines
    from gnnhw.recurrent.text import load_text
    from gnnhw.runs import prepare_outputs

    outputs = [] if args.json is None else [(args.json, "--json")]
    with prepare_outputs(files=outputs):  # checked and locked before the work
        text = load_text(args.text, strip_gutenberg=not args.keep_gutenberg)
        report = text_baselines(text, order=args.order, ppmd_order=args.ppmd_order)
        payload = {"text": str(args.text), "strip_gutenberg": not args.keep_gutenberg, **asdict(report)}
        if args.json is not None:
            write_json(args.json, payload)
    if args.format == "json":
        print_json(payload)
        return 0
    cleaned = "Project Gutenberg header and licence kept" if args.keep_gutenberg else "Gutenberg parts stripped"
    print(
        f"{args.text.name} ({cleaned}): {report.train_chars:,} training characters, "
        f"{report.held_out_chars:,} held out (the last {report.val_fraction:.0%}), vocabulary {report.vocab_size}"
    )
    width = max(len(b.name) for b in report.baselines)
    print(f"{'baseline':<{width}}  bits per held-out character")
    for b in report.baselines:
        value = f"{b.bits_per_char:.4f}" if b.bits_per_char is not None else f"n/a: {b.note}"
        print(f"{b.name:<{width}}  {value}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from gnnhw.errors import ConfigError

    if not 0.0 <= args.start < args.end <= 1.0:
        raise ConfigError(f"expected 0 <= --start < --end <= 1, got --start {args.start} --end {args.end}")
    from gnnhw.recurrent.text import load_text
    from gnnhw.recurrent.text_checkpoint import load_checkpoint, model_from_checkpoint
    from gnnhw.recurrent.text_eval import evaluate_text

    ckpt = load_checkpoint(args.checkpoint)
    model, vocab = model_from_checkpoint(ckpt, device=args.device)
    apply_threads(args, "recurrent", model.hidden_size)  # (batches of windows: small steps)
    text = load_text(args.text, strip_gutenberg=not args.keep_gutenberg)
    part = text[int(len(text) * args.start) : int(len(text) * args.end)]
    from gnnhw.recurrent.metrics import nats_to_bits

    seq_length = args.seq_length or int(ckpt["config"]["seq_length"])
    readings = {}
    for name, stateful in (("windows", False), ("stream", True)):
        if args.stateful and not stateful:
            continue
        loss, acc, count = evaluate_text(model, vocab, part, seq_length, stateful=stateful)
        readings[name] = {"characters": count, "loss": loss, "bits_per_char": nats_to_bits(loss), "accuracy": acc}
    if args.format == "json":
        print_json(
            {
                "checkpoint": str(args.checkpoint),
                "text": str(args.text),
                "strip_gutenberg": not args.keep_gutenberg,
                "start": args.start,
                "end": args.end,
                "seq_length": seq_length,
                **readings,
            }
        )
        return 0
    for name, r in readings.items():
        mode = "stateful" if name == "stream" else f"windows of {seq_length}"
        print(
            f"{args.text.name} [{args.start:g}, {args.end:g}) {mode}: {r['characters']} characters, "
            f"loss {r['loss']:.4f}, bpc {r['bits_per_char']:.4f}, accuracy {r['accuracy']:.4f}"
        )
    return 0


def _config_fields(args: argparse.Namespace) -> dict[str, Any]:
    """textgen train's options that are :class:`TextTrainConfig` fields (their dest is the field's name,
    :func:`add_config_option`), with their values; ``--keep-gutenberg`` is the field ``strip_gutenberg``."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(TextTrainConfig)}
    values = {name: value for name, value in vars(args).items() if name in fields}
    values["strip_gutenberg"] = not args.keep_gutenberg
    return values


def _option(field: str) -> str:
    """The option of a config field: ``hidden_size`` -> ``--hidden-size``."""
    return "--keep-gutenberg" if field == "strip_gutenberg" else "--" + field.replace("_", "-")


def _conflict_text(conflict: str) -> str:
    """``"hidden_size 64 (checkpoint: 128)"`` as the option the user typed: ``"--hidden-size 64 (...)"``."""
    field, rest = conflict.split(" ", 1)
    if field == "strip_gutenberg":  # only ever given as --keep-gutenberg, so the checkpoint strips them
        return "--keep-gutenberg (the checkpoint's run strips Project Gutenberg's header and licence)"
    return f"{_option(field)} {rest}"


def _refuse_inapplicable_train_options(args: argparse.Namespace) -> None:
    """ConfigError for a train option that would be silently without effect (or repeated)."""
    from gnnhw.errors import ConfigError

    given = given_options(args)
    if "dropout" in given and args.dropout > 0 and args.num_layers == 1:  # torch.nn.LSTM only warns
        raise ConfigError(
            f"--dropout {args.dropout:g} acts between LSTM layers, and --num-layers 1 has none; "
            "drop --dropout or use --num-layers 2 or more"
        )
    if "lr_decay_every" in given and args.lr_decay == 1.0:
        raise ConfigError("--lr-decay-every applies only with a --lr-decay below 1; give --lr-decay or drop it")
    if "sample_length" in given and args.sample_every == 0 and not args.sample_at:
        raise ConfigError("--sample-length applies only to logged samples; give --sample-every or --sample-at")
    seen: set[int] = set()
    for step in args.sample_at:
        if step in seen:
            raise ConfigError(f"--sample-at repeats {step}; give each step once")
        seen.add(step)
        if step > args.steps:
            raise ConfigError(f"--sample-at {step} is past --steps {args.steps}, so it is never reached; drop it")


def _train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from gnnhw.recurrent.config import TextTrainConfig  # torch-free: bad options are refused before torch loads

    _refuse_inapplicable_train_options(args)
    config = TextTrainConfig(**_config_fields(args))
    from gnnhw.cli._run import current
    from gnnhw.runs import RunStopped, prepare_outputs

    stop = current()
    with prepare_outputs(folders=[(args.out, "--out")], figures=[(args.out / "curves.png", "figure")]):
        apply_threads(args, "recurrent", config.batch_size * config.hidden_size)
        from gnnhw._utils import atomic_write_text
        from gnnhw.errors import ConfigError
        from gnnhw.recurrent.text_checkpoint import CHECKPOINT_NAME, load_checkpoint, resume_conflicts
        from gnnhw.recurrent.train_text import train_text

        checkpoint = args.out / CHECKPOINT_NAME
        if args.resume:
            if not checkpoint.exists():
                raise ConfigError(
                    f"nothing to resume: {str(checkpoint)!r} does not exist; drop --resume to start a new run "
                    "there, or give --out the folder of the run to continue"
                )
            ckpt = load_checkpoint(checkpoint)
            saved = TextTrainConfig.from_dict(ckpt["config"])
            values = _config_fields(args)
            given = {field: values[field] for field in given_options(args) if field in values}
            if "keep_gutenberg" in given_options(args):
                given["strip_gutenberg"] = False
            conflicts = resume_conflicts(saved, given)
            if conflicts:
                options = ", ".join(_conflict_text(c) for c in conflicts)
                raise ConfigError(
                    f"--resume continues the run in {str(checkpoint)!r} with its own settings; these options "
                    f"differ from it: {options}. Drop them, or start a new run in another --out"
                )
            if int(ckpt["step"]) >= args.steps:
                print(
                    f"{checkpoint} is already at step {int(ckpt['step'])}, at or past --steps {args.steps}: "
                    "nothing to train (ask for more --steps to continue it)"
                )
                return 0
            del ckpt

        def on_sample(step: int, text: str) -> None:
            print(f"step {step}: {text!r}", flush=True)

        stop.note = "nothing saved yet"
        try:
            with stop.deferred():
                result = train_text(
                    args.text,
                    config,
                    args.out,
                    resume=args.resume,
                    device=args.device,
                    progress=not args.quiet,
                    on_sample=on_sample,
                    should_stop=stop.should_stop,
                )
                stop.note = f"the run finished: checkpoint at step {result.step} in {result.checkpoint}"
        except RunStopped as stopped:
            raise stop.interrupted(
                f"checkpoint at step {stopped.step} written to {stopped.checkpoint}; "
                "continue with the same command and --resume"
            ) from None
        hist = result.history
        # Results before decorations: the numbers and the JSON first, the figure last.
        print(
            f"step {result.step}: val loss {result.val_loss:.4f} acc {result.val_acc:.4f} "
            f"bpc {result.val_bpc:.4f} (windows of {result.config.seq_length} from a zero state); "
            f"held-out stream bpc {result.val_stream_bpc:.4f} acc {result.val_stream_acc:.4f}; "
            f"{result.elapsed_s:.1f} s training time in total"
        )
        print(f"checkpoint: {result.checkpoint}", flush=True)
        write_json(
            args.out / "history.json",
            {
                "config": asdict(result.config),
                "step": result.step,
                "elapsed_s": result.elapsed_s,
                "val_loss": result.val_loss,
                "val_acc": result.val_acc,
                "val_bpc": result.val_bpc,
                "val_stream_loss": result.val_stream_loss,
                "val_stream_acc": result.val_stream_acc,
                "val_stream_bpc": result.val_stream_bpc,
                "history": hist,
            },
        )
        lines = [f"step {s}: {t!r}" for s, t in result.samples]
        atomic_write_text(args.out / "samples.txt", "\n".join(lines) + ("\n" if lines else ""))
        if hist["step"]:
            from gnnhw.plotting import save_figure
            from gnnhw.plotting.text import plot_text_curves

            title = f"{args.text.name}, impl={result.config.impl}, batching={result.config.batching}"
            save_figure(plot_text_curves(hist, title=title), args.out / "curves.png")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from gnnhw.checks import SEED_MAX, SEED_WHY, check_value
    from gnnhw.errors import ConfigError
    from gnnhw.recurrent.config import check_sample_length, check_temperature

    if args.top_k is not None and args.temperature is None:
        mode = "--beam" if args.beam is not None else "greedy decoding (--greedy, the default)"
        raise ConfigError(f"--top-k applies only to sampling with --temperature, not to {mode}; drop --top-k")
    check_sample_length(args.length)  # all before torch is imported or anything is loaded
    if args.temperature is not None:
        check_temperature(args.temperature)
    if args.seed is not None and args.prompt and args.temperature is None:
        mode = "--beam" if args.beam is not None else "greedy decoding"
        raise ConfigError(
            f"--seed has no effect with {mode} after a --prompt (it only draws a random first character "
            "without one); drop --seed"
        )
    args.seed = 0 if args.seed is None else args.seed
    check_value("--seed", args.seed, int, {"min": 0, "max": SEED_MAX, "why": SEED_WHY})
    from gnnhw.recurrent.sampling import beam_search, iter_sample
    from gnnhw.recurrent.text_checkpoint import model_from_checkpoint

    model, vocab = model_from_checkpoint(args.checkpoint, device=args.device)
    apply_threads(args, "recurrent", (args.beam or 1) * model.hidden_size)  # one character (or beam) per step
    bar = None
    if not args.quiet and args.length >= _PROGRESS_FROM:
        from tqdm.auto import tqdm

        bar = tqdm(total=args.length, desc="sample", unit="char", leave=False, dynamic_ncols=True)
    try:
        if args.beam is not None:  # the best sequence is only known at the end: progress, then the text
            text = beam_search(
                model,
                vocab,
                args.length,
                prompt=args.prompt,
                beam_width=args.beam,
                seed=args.seed,
                on_step=(lambda i: bar.update(1)) if bar is not None else None,
            )
            return _write_stream(iter([text, "\n"]))
        return _write_stream(_with_newline(_counted(_chunks(args, model, vocab, iter_sample), bar)))
    finally:
        if bar is not None:
            bar.close()


def _chunks(args: argparse.Namespace, model, vocab, iter_sample):
    if args.temperature is not None:
        return iter_sample(
            model, vocab, args.length, args.prompt, temperature=args.temperature, top_k=args.top_k, seed=args.seed
        )
    return iter_sample(model, vocab, args.length, args.prompt, greedy=True, seed=args.seed)


_PROGRESS_FROM = 10_000  # lengths from which `textgen sample` shows a progress bar (unless --quiet)


def _counted(chunks, bar):
    """The chunks, advancing ``bar`` by each generated character (the first chunk is the prompt)."""
    for i, chunk in enumerate(chunks):
        yield chunk
        if bar is not None and i > 0:
            bar.update(len(chunk))


def _with_newline(chunks):
    yield from chunks
    yield "\n"


def _write_stream(chunks) -> int:
    """Write the text to stdout as it is generated (flushed at least every 256 characters and at each newline);
    a reader that goes away (``| head``) ends generation quietly."""
    import os

    out = sys.stdout
    pending = 0
    try:
        for chunk in chunks:
            out.write(chunk)
            pending += len(chunk)
            if pending >= 256 or "\n" in chunk:
                out.flush()
                pending = 0
        out.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)  # so the interpreter's final flush does not fail again
        os.dup2(devnull, out.fileno())
    return 0
