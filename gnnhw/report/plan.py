"""What ``gnnhw report`` runs: the budgets, the experiments and the exact ``gnnhw`` command of each step.

Every number of the report comes from a command a user could type. The commands are built here, in one
place, with today's option names (issue #11's vocabulary: ``--seeds N`` a count with ``--seed`` the first
seed, ``--max-norm``, ``--impl``); a logical option ``"eval_every"`` is the flag ``--eval-every``. Whether
a command has each option is asked of a :class:`CommandOptions` (the CLI answers from its parser), so a
renamed option is one clear error before anything runs, and this module parses nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from gnnhw.checks import bounded
from gnnhw.errors import ConfigError


class CommandOptions(Protocol):
    """Which options a ``gnnhw`` (sub)command accepts; the CLI answers from its argument parser."""

    def accepts(self, command: Sequence[str], flag: str) -> bool:
        """True when ``gnnhw COMMAND... FLAG`` is a visible (not deprecated) option."""
        ...


@dataclasses.dataclass(frozen=True)
class Step:
    """One ``gnnhw`` command of an experiment, run in the report folder.

    Attributes:
        name: short name, unique within its experiment (``"train"``); its stdout goes to ``<name>.out``.
        argv: the arguments after ``gnnhw``; paths are relative to the report folder.
        outputs: files and folders (relative to the report folder) the command writes, removed before
            the step is rerun.
    """

    name: str
    argv: tuple[str, ...]
    outputs: tuple[str, ...] = ()

    def shell(self) -> str:
        """The command as a user types it in the report folder, quoted for a POSIX shell.

        >>> Step("complete", ("textgen", "sample", "--prompt", "Sleeping beauty is")).shell()
        "gnnhw textgen sample --prompt 'Sleeping beauty is'"
        """
        import shlex

        return "gnnhw " + " ".join(shlex.quote(a) for a in self.argv)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A group of steps run in order in ``DIR/<key>/``, reused as a whole when its settings match."""

    key: str
    title: str
    steps: tuple[Step, ...]

    def settings(self) -> list[list[str]]:
        return [[s.name, *s.argv] for s in self.steps]

    def settings_hash(self) -> str:
        """First 12 hex digits of the SHA-256 of the steps' names and arguments (canonical JSON).

        >>> a = Experiment("graph", "t", (Step("adjacency", ("adjacency", "--example")),))
        >>> b = Experiment("graph", "another title", (Step("adjacency", ("adjacency", "--example")),))
        >>> a.settings_hash() == b.settings_hash(), len(a.settings_hash())
        (True, 12)
        """
        text = json.dumps(self.settings(), separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclasses.dataclass(frozen=True)
class Budget:
    """The settings of one budget; each field is used by one experiment (see :func:`build_plan`)."""

    name: str
    why: str
    bptt_length: int
    sweep_models: tuple[str, ...]
    sweep_lengths: tuple[int, ...]
    sweep_seeds: int
    sweep_steps: int
    optimizers_model: str
    optimizers_lrs: tuple[float, ...]
    optimizers_length: int
    optimizers_steps: int
    grads_length: int
    grads_steps: int
    text_steps: int
    text_eval_every: int
    text_sample_at: tuple[int, ...]
    gcn_datasets: tuple[str, ...]
    gcn_seeds: int
    gcn_epochs: int
    depth_depths: tuple[int, ...]
    depth_variants: tuple[str, ...]
    depth_seeds: int
    depth_epochs: int
    gvr_lengths: tuple[int, ...]
    gvr_depths: tuple[int, ...]
    gvr_seeds: int
    gvr_steps: int
    workers: int


BUDGETS: dict[str, Budget] = {
    "quick": Budget(
        name="quick",
        why="a few minutes on 2 CPU cores; checks that every command runs and the report is whole (CI)",
        bptt_length=20,
        sweep_models=("rnn", "lstm"),
        sweep_lengths=(5, 10),
        sweep_seeds=1,
        sweep_steps=300,
        optimizers_model="rnn",
        optimizers_lrs=(1e-3,),
        optimizers_length=5,
        optimizers_steps=150,
        grads_length=100,
        grads_steps=5,
        text_steps=60,
        text_eval_every=30,
        text_sample_at=(1, 30, 60),
        gcn_datasets=("Cora",),
        gcn_seeds=1,
        gcn_epochs=50,
        depth_depths=(1, 2, 4, 8),
        depth_variants=("plain", "residual"),
        depth_seeds=1,
        depth_epochs=30,
        gvr_lengths=(5,),
        gvr_depths=(1, 2, 4),
        gvr_seeds=1,
        gvr_steps=200,
        workers=1,
    ),
    "standard": Budget(
        name="standard",
        why="26 minutes measured on 2 shared CPU cores; 5 seeds per length up to 30, shorter training",
        bptt_length=30,
        sweep_models=("rnn", "lstm"),
        sweep_lengths=(5, 10, 15, 20, 25, 30),
        sweep_seeds=5,
        sweep_steps=2000,
        optimizers_model="rnn",
        optimizers_lrs=(1e-3, 0.05),
        optimizers_length=10,
        optimizers_steps=1000,
        grads_length=100,
        grads_steps=500,
        text_steps=5000,
        text_eval_every=100,
        text_sample_at=(1, 100, 500, 1000, 2000, 5000),
        gcn_datasets=("Cora", "CiteSeer", "PubMed"),
        gcn_seeds=10,
        gcn_epochs=200,
        depth_depths=(1, 2, 4, 8, 16),
        depth_variants=("plain", "residual", "pairnorm", "jk"),
        depth_seeds=3,
        depth_epochs=200,
        gvr_lengths=(5, 7, 10),
        gvr_depths=(1, 2, 4, 6, 8, 12),
        gvr_seeds=2,
        gvr_steps=1000,
        workers=2,
    ),
    "full": Budget(
        name="full",
        why="the assignment's settings: 10,000 steps, every length from 5 to 50, 5 seeds (hours)",
        bptt_length=100,
        sweep_models=("rnn", "lstm"),
        sweep_lengths=(5, 10, 15, 20, 25, 30, 35, 40, 45, 50),
        sweep_seeds=5,
        sweep_steps=10000,
        optimizers_model="rnn",
        optimizers_lrs=(1e-3, 0.05),
        optimizers_length=10,
        optimizers_steps=2000,
        grads_length=100,
        grads_steps=1000,
        text_steps=5000,
        text_eval_every=100,
        text_sample_at=(1, 100, 500, 1000, 2000, 5000),
        gcn_datasets=("Cora", "CiteSeer", "PubMed"),
        gcn_seeds=10,
        gcn_epochs=200,
        depth_depths=(1, 2, 4, 8, 16, 32),
        depth_variants=("plain", "residual", "pairnorm", "jk"),
        depth_seeds=5,
        depth_epochs=200,
        gvr_lengths=(5, 7, 10),
        gvr_depths=(1, 2, 4, 6, 8, 12),
        gvr_seeds=3,
        gvr_steps=1000,
        workers=2,
    ),
}


@dataclasses.dataclass
class ReportConfig:
    """The defaults and ranges of ``gnnhw report``'s experiment settings."""

    budget: str = bounded("standard", choices=tuple(BUDGETS), why="how long to train (see below)")


TEXT_FILE = "books/book_EN_grimms_fairy_tails.txt"  # under the data root
PROMPT = "Sleeping beauty is"
# The assignment's tau multiplies the logits; gnnhw's --temperature T divides them, so T = 1 / tau.
TAUS = (0.5, 1.0, 2.0)
BEAM_WIDTH = 5
SAMPLE_LENGTHS = (30, 100)  # greedy samples of the trained model: the assignment's length and a longer one


def optimizers_step(lr: float) -> str:
    """The name of the optimizers step (and its folder under ``optimizers/``) at learning rate ``lr``.

    >>> optimizers_step(1e-3), optimizers_step(0.05)
    ('lr0.001', 'lr0.05')
    """
    return f"lr{lr:g}"


def budget(name: str) -> Budget:
    """The budget called ``name``. Raises ConfigError naming the known budgets.

    >>> budget("full").sweep_steps
    10000
    >>> budget("fast")
    Traceback (most recent call last):
    gnnhw.errors.ConfigError: unknown budget 'fast'; use one of quick, standard, full
    """
    try:
        return BUDGETS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown budget {name!r}; use one of {', '.join(BUDGETS)}") from None


class _Command:
    """Builds one command's arguments; every option is checked to exist on the command (:class:`CommandOptions`)."""

    def __init__(self, options: CommandOptions, *command: str) -> None:
        self.options = options
        self.command = command
        self.argv: list[str] = list(command)

    def flag(self, logical: str) -> str:
        name = "--" + logical.replace("_", "-")
        if not self.options.accepts(self.command, name):
            raise ConfigError(
                f"'gnnhw {' '.join(self.command)}' has no option {name}; update gnnhw.report.plan to the "
                "command's option name"
            )
        return name

    def opt(self, logical: str, *values: object) -> _Command:
        self.argv.append(self.flag(logical))
        self.argv.extend(str(v) for v in values)
        return self

    def switch(self, logical: str) -> _Command:
        return self.opt(logical)

    def seeds(self, first: int, count: int) -> _Command:
        """``--seeds COUNT --seed FIRST``: ``count`` runs, seeds ``first``, ``first + 1``, ..."""
        return self.opt("seeds", count).opt("seed", first)

    def step(self, name: str, *outputs: str) -> Step:
        return Step(name, tuple(self.argv), tuple(outputs))


def build_plan(choice: Budget, options: CommandOptions, data_root: Path) -> list[Experiment]:
    """Every experiment of the report at budget ``choice``, in the assignment's order.

    Paths in the commands are relative to the report folder (each experiment writes in ``<key>/``),
    except the data: ``--data-root data_root`` and the text ``data_root / TEXT_FILE``.

    Raises:
        ConfigError: a command has no option of the name the plan uses.
    """
    b = choice
    o = options
    text = str(Path(data_root) / TEXT_FILE)
    exps: list[Experiment] = []

    def c(*command: str) -> _Command:
        return _Command(o, *command)

    exps.append(
        Experiment(
            "bptt",
            "BPTT by hand against autograd",
            (
                c("bptt")
                .opt("model", "rnn")
                .opt("length", b.bptt_length)
                .opt("seed", 0)
                .opt("json", "bptt/bptt.json")
                .opt("plot", "bptt/bptt.png")
                .opt("format", "json")
                .step("bptt", "bptt/bptt.json", "bptt/bptt.png"),
                c("bptt")
                .opt("model", "lstm")
                .opt("length", b.bptt_length)
                .opt("forget_bias", 1)
                .opt("seed", 0)
                .opt("json", "bptt/bptt_lstm.json")
                .opt("plot", "bptt/bptt_lstm.png")
                .opt("format", "json")
                .step("lstm", "bptt/bptt_lstm.json", "bptt/bptt_lstm.png"),
            ),
        )
    )
    exps.append(
        Experiment(
            "sweep",
            "Accuracy vs palindrome length, RNN and LSTM",
            (
                c("palindrome-sweep")
                .opt("models", *b.sweep_models)
                .opt("lengths", *b.sweep_lengths)
                .seeds(0, b.sweep_seeds)
                .opt("steps", b.sweep_steps)
                .opt("workers", b.workers)
                .opt("out", "sweep")
                .opt("format", "json")
                .switch("quiet")
                .step("sweep", "sweep/sweep.json", "sweep/sweep.png"),
            ),
        )
    )
    exps.append(
        Experiment(
            "optimizers",
            "SGD, momentum, RMSprop and Adam",
            tuple(
                c("optimizers")
                .opt("model", b.optimizers_model)
                .opt("length", b.optimizers_length)
                .opt("steps", b.optimizers_steps)
                .opt("lr", f"{lr:g}")
                .opt("seed", 0)
                .opt("workers", b.workers)
                .opt("out", f"optimizers/{optimizers_step(lr)}")
                .opt("format", "json")
                .switch("quiet")
                .step(
                    optimizers_step(lr),
                    f"optimizers/{optimizers_step(lr)}/optimizers.json",
                    f"optimizers/{optimizers_step(lr)}/optimizers.png",
                )
                for lr in b.optimizers_lrs
            ),
        )
    )
    exps.append(
        Experiment(
            "grads",
            "Gradient norm over time steps",
            (
                c("grads-over-time")
                .opt("length", b.grads_length)
                .opt("steps", b.grads_steps)
                .opt("seed", 0)
                .opt("out", "grads")
                .opt("format", "json")
                .switch("quiet")
                .step("grads", "grads/grads_over_time.json", "grads/grads_over_time.png"),
            ),
        )
    )
    sample_at = ",".join(str(s) for s in b.text_sample_at)
    text_steps = [
        c("textgen", "train")
        .opt("text", text)
        .opt("steps", b.text_steps)
        .opt("eval_every", b.text_eval_every)
        .opt("sample_at", sample_at)
        .opt("seed", 0)
        .opt("out", "textgen/run")
        .switch("quiet")
        .step("train", "textgen/run"),
        c("textgen", "evaluate")
        .opt("checkpoint", "textgen/run/checkpoint.pt")
        .opt("text", text)
        .opt("start", 0.9)
        .opt("format", "json")
        .step("evaluate"),
    ]
    for length in SAMPLE_LENGTHS:
        text_steps.append(
            c("textgen", "sample")
            .opt("checkpoint", "textgen/run/checkpoint.pt")
            .opt("length", length)
            .switch("greedy")
            .opt("seed", 0)
            .switch("quiet")
            .step(f"greedy{length}")
        )
    for index, tau in enumerate(TAUS):
        text_steps.append(
            c("textgen", "sample")
            .opt("checkpoint", "textgen/run/checkpoint.pt")
            .opt("length", SAMPLE_LENGTHS[0])
            .opt("temperature", f"{1 / tau:g}")
            .opt("seed", 0)
            .switch("quiet")
            .step(f"tau{index}")
        )
    text_steps.append(
        c("textgen", "sample")
        .opt("checkpoint", "textgen/run/checkpoint.pt")
        .opt("prompt", PROMPT)
        .opt("length", SAMPLE_LENGTHS[0])
        .switch("greedy")
        .switch("quiet")
        .step("complete")
    )
    text_steps.append(
        c("textgen", "sample")
        .opt("checkpoint", "textgen/run/checkpoint.pt")
        .opt("prompt", PROMPT)
        .opt("length", SAMPLE_LENGTHS[0])
        .opt("beam", BEAM_WIDTH)
        .switch("quiet")
        .step("beam")
    )
    exps.append(Experiment("textgen", "Character-level LSTM on Grimm's fairy tales", tuple(text_steps)))
    exps.append(
        Experiment(
            "graph",
            "The example graph: Ã, Â and receptive fields",
            (
                c("adjacency").switch("example").opt("format", "json").step("adjacency"),
                c("adjacency").switch("example").switch("normalized").opt("format", "json").step("normalized"),
                c("receptive-field")
                .switch("example")
                .opt("source", "C")
                .opt("target", "E")
                .opt("format", "json")
                .step("receptive_field"),
                c("receptive-field")
                .switch("example")
                .opt("node", "C")
                .opt("plot", "graph/receptive_field.png")
                .opt("format", "json")
                .step("figure", "graph/receptive_field.png"),
            ),
        )
    )
    exps.append(
        Experiment(
            "planetoid",
            "GCN on the Planetoid citation graphs",
            tuple(
                c("train-gcn")
                .opt("dataset", name)
                .opt("data_root", data_root)
                .seeds(0, b.gcn_seeds)
                .opt("epochs", b.gcn_epochs)
                .opt("json", f"planetoid/{name}.json")
                .opt("plot", f"planetoid/{name}.png")
                .opt("format", "json")
                .opt("threads", 1)
                .switch("quiet")
                .step(name, f"planetoid/{name}.json", f"planetoid/{name}.png")
                for name in b.gcn_datasets
            ),
        )
    )
    exps.append(
        Experiment(
            "depth",
            "GCN depth: over-smoothing and its remedies",
            (
                c("depth-study")
                .opt("dataset", "Cora")
                .opt("data_root", data_root)
                .opt("depths", *b.depth_depths)
                .opt("variants", *b.depth_variants)
                .seeds(0, b.depth_seeds)
                .opt("epochs", b.depth_epochs)
                .opt("json", "depth/depth.json")
                .opt("plot", "depth/depth.png")
                .opt("format", "json")
                .opt("threads", 1)
                .switch("quiet")
                .step("depth", "depth/depth.json", "depth/depth.png"),
            ),
        )
    )
    exps.append(
        Experiment(
            "gnn_vs_rnn",
            "GCN of depth k vs RNN and LSTM on palindromes",
            (
                c("gnn-vs-rnn")
                .opt("lengths", *b.gvr_lengths)
                .opt("depths", *b.gvr_depths)
                .seeds(0, b.gvr_seeds)
                .opt("steps", b.gvr_steps)
                .opt("json", "gnn_vs_rnn/gnn_vs_rnn.json")
                .opt("plot", "gnn_vs_rnn/gnn_vs_rnn.png")
                .opt("format", "json")
                .opt("threads", 1)
                .switch("quiet")
                .step("gnn_vs_rnn", "gnn_vs_rnn/gnn_vs_rnn.json", "gnn_vs_rnn/gnn_vs_rnn.png"),
            ),
        )
    )
    return exps
