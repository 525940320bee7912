"""``gnnhw textgen``: train a character-level LSTM on a text file, and sample from a checkpoint.

gnnhw textgen train --text FILE --steps N --out DIR [--resume]
gnnhw textgen sample --checkpoint PATH [--prompt TEXT] [--length N] [--temperature T | --greedy | --beam K]
"""

from __future__ import annotations

import argparse
import sys

from gnnhw.cli._common import (
    StoreGiven,
    add_device,
    add_quiet,
    add_threads,
    apply_threads,
    given_options,
    non_negative_int,
    path_arg,
    positive_int,
    write_json,
)


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
    """Add ``textgen`` with its subcommands ``train`` and ``sample``."""
    parser = subparsers.add_parser(
        "textgen",
        help="character-level LSTM text generation (train, sample)",
        description="Train a character-level LSTM on any UTF-8 text, then sample from it.",
    )
    sub = parser.add_subparsers(dest="textgen_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])

    train = sub.add_parser(
        "train",
        help="train on a text file, with checkpoints and resume",
        description=(
            "Train a character-level LSTM (the assignment's defaults: seq 30, batch 64, Adam 2e-3, clip 5, "
            "2 layers of 128). Writes DIR/checkpoint.pt (every --checkpoint-every steps, at the end, on Ctrl-C), "
            "DIR/history.json, DIR/samples.txt and DIR/curves.png."
        ),
    )
    train.add_argument("--text", type=path_arg, required=True, help="UTF-8 text file to learn")
    train.add_argument("--steps", type=positive_int, default=5000, help="total optimizer steps (default: 5000)")
    train.add_argument("--out", type=path_arg, required=True, help="output folder")
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue from DIR/checkpoint.pt up to --steps (the run's other settings come from the checkpoint)",
    )
    train.add_argument(
        "--cell", choices=("torch", "scratch"), default="torch", help="LSTM implementation", action=StoreGiven
    )
    train.add_argument("--seq-length", type=positive_int, default=30, action=StoreGiven)
    train.add_argument("--batch-size", type=positive_int, default=64, action=StoreGiven)
    train.add_argument("--hidden-size", type=positive_int, default=128, action=StoreGiven)
    train.add_argument("--num-layers", type=positive_int, default=2, action=StoreGiven)
    train.add_argument("--dropout", type=float, default=0.0, action=StoreGiven)
    train.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default: 2e-3)", action=StoreGiven)
    train.add_argument(
        "--max-norm", type=float, default=5.0, help="gradient clipping norm (default: 5)", action=StoreGiven
    )
    train.add_argument(
        "--lr-decay", type=float, default=1.0, help="lr factor every --lr-decay-every steps", action=StoreGiven
    )
    train.add_argument("--lr-decay-every", type=positive_int, default=1000, action=StoreGiven)
    train.add_argument(
        "--eval-every", type=positive_int, default=100, help="steps between evaluations", action=StoreGiven
    )
    train.add_argument("--checkpoint-every", type=non_negative_int, default=500, action=StoreGiven)
    train.add_argument(
        "--sample-every", type=non_negative_int, default=0, help="steps between logged samples", action=StoreGiven
    )
    train.add_argument(
        "--sample-at", type=_int_list, default=[], help="comma-separated steps to log a sample at", action=StoreGiven
    )
    train.add_argument("--sample-length", type=positive_int, default=30, action=StoreGiven)
    train.add_argument("--seed", type=int, default=0, action=StoreGiven)
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
    )
    smp.add_argument("--checkpoint", type=path_arg, required=True)
    smp.add_argument("--prompt", default=None, help="text to complete (default: one random character)")
    smp.add_argument(
        "--length",
        type=non_negative_int,
        default=30,
        help="characters to generate, at most 1,000,000 (default: 30); printed as they are generated",
    )
    mode = smp.add_mutually_exclusive_group()
    mode.add_argument("--temperature", type=_float, default=None, help="sample at temperature T > 0")
    mode.add_argument("--greedy", action="store_true", help="most likely character each step (the default)")
    mode.add_argument("--beam", type=positive_int, default=None, metavar="K", help="beam search with width K")
    smp.add_argument(
        "--top-k", type=positive_int, default=None, help="with --temperature only: sample among the k likeliest"
    )
    smp.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed in [0, 2^32) of --temperature sampling, and of the random first character when there is no "
        "--prompt (default: 0)",
    )
    add_device(smp)
    add_quiet(smp)
    smp.set_defaults(func=_sample)

    ev = sub.add_parser(
        "evaluate",
        help="next-character loss and accuracy of a checkpoint on (part of) a text",
        description="Loss and accuracy of a checkpoint on consecutive windows of a text file, or of a part of it.",
    )
    ev.add_argument("--checkpoint", type=path_arg, required=True)
    ev.add_argument("--text", type=path_arg, required=True)
    ev.add_argument("--start", type=float, default=0.0, help="start of the part, as a fraction of the text")
    ev.add_argument("--end", type=float, default=1.0, help="end of the part, as a fraction of the text")
    ev.add_argument("--seq-length", type=positive_int, default=None, help="window length (default: the run's)")
    ev.add_argument(
        "--stateful", action="store_true", help="carry the state across windows (default: zero state per window)"
    )
    add_device(ev)
    ev.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from gnnhw.errors import ConfigError

    if not 0.0 <= args.start < args.end <= 1.0:
        raise ConfigError(f"expected 0 <= --start < --end <= 1, got --start {args.start} --end {args.end}")
    from gnnhw.recurrent.text import read_text
    from gnnhw.recurrent.train_text import evaluate_text, load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    model, vocab = model_from_checkpoint(ckpt, device=args.device)
    text = read_text(args.text)
    part = text[int(len(text) * args.start) : int(len(text) * args.end)]
    seq_length = args.seq_length or int(ckpt["config"]["seq_length"])
    loss, acc, count = evaluate_text(model, vocab, part, seq_length, stateful=args.stateful)
    mode = "stateful" if args.stateful else f"windows of {seq_length}"
    print(
        f"{args.text.name} [{args.start:g}, {args.end:g}) {mode}: {count} characters, loss {loss:.4f}, "
        f"accuracy {acc:.4f}"
    )
    return 0


# textgen train's options -> TextTrainConfig fields
_CONFIG_FIELDS = {
    "steps": "steps",
    "seq_length": "seq_length",
    "batch_size": "batch_size",
    "hidden_size": "hidden_size",
    "num_layers": "num_layers",
    "dropout": "dropout",
    "cell": "cell",
    "lr": "learning_rate",
    "max_norm": "max_norm",
    "lr_decay": "lr_decay",
    "lr_decay_every": "lr_decay_every",
    "eval_every": "eval_every",
    "checkpoint_every": "checkpoint_every",
    "sample_every": "sample_every",
    "sample_at": "sample_at",
    "sample_length": "sample_length",
    "seed": "seed",
}


def _option(field: str) -> str:
    dest = next(d for d, f in _CONFIG_FIELDS.items() if f == field)
    return "--" + dest.replace("_", "-")


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
    config = TextTrainConfig(**{field: getattr(args, dest) for dest, field in _CONFIG_FIELDS.items()})
    from gnnhw.cli._run import current
    from gnnhw.runs import RunStopped, prepare_outputs

    stop = current()
    with prepare_outputs(folders=[(args.out, "--out")], figures=[(args.out / "curves.png", "figure")]):
        apply_threads(args)
        from gnnhw._utils import atomic_write_text
        from gnnhw.errors import ConfigError
        from gnnhw.recurrent.train_text import CHECKPOINT_NAME, load_checkpoint, resume_conflicts, train_text

        checkpoint = args.out / CHECKPOINT_NAME
        if args.resume:
            ckpt = load_checkpoint(checkpoint)
            saved = TextTrainConfig.from_dict(ckpt["config"])
            given = {_CONFIG_FIELDS[d]: getattr(args, d) for d in given_options(args) if d in _CONFIG_FIELDS}
            conflicts = resume_conflicts(saved, given)
            if conflicts:
                options = ", ".join(f"{_option(c.split()[0])} {c.split(' ', 1)[1]}" for c in conflicts)
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
            f"step {result.step}: val loss {result.val_loss:.4f} acc {result.val_acc:.4f}, "
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
                "history": hist,
            },
        )
        lines = [f"step {s}: {t!r}" for s, t in result.samples]
        atomic_write_text(args.out / "samples.txt", "\n".join(lines) + ("\n" if lines else ""))
        if hist["step"]:
            from gnnhw.plotting import save_figure
            from gnnhw.plotting.text import plot_text_curves

            title = f"{args.text.name}, cell={result.config.cell}"
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
    from gnnhw.recurrent.train_text import model_from_checkpoint

    model, vocab = model_from_checkpoint(args.checkpoint, device=args.device)
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
