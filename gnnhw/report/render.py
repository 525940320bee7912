"""The report's text: one section per question of the assignment, built from the commands' outputs.

Each section holds a short answer whose numbers are read from the experiments' JSON (nothing measured is
written here), the table and figure behind it, and the commands that reproduce them. :func:`to_markdown`
and :func:`to_html` render the same sections; the HTML embeds every figure (base64 PNG), so it is one
self-contained file.
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import html
import math
import re
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gnnhw._utils import plural
from gnnhw.errors import ResultsFileError
from gnnhw.jsonio import read_json
from gnnhw.report.plan import BEAM_WIDTH, PROMPT, SAMPLE_LENGTHS, TAUS, Budget, Experiment

SOLVED = 0.99  # a run "solves" a palindrome length when its test accuracy reaches this
CHANCE = 0.1  # ten digits
UNIFORM_LOSS = math.log(1 / CHANCE)  # the cross-entropy of a uniform guess over the ten digits, ln 10


@dataclasses.dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclasses.dataclass
class Section:
    """One question: ``anchor`` (``q1-3``), ``title``, the answer sentences, tables, figures
    (path relative to the report folder, caption), preformatted text blocks and the commands."""

    anchor: str
    title: str
    answer: list[str]
    tables: list[Table] = dataclasses.field(default_factory=list)
    figures: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    texts: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    commands: list[str] = dataclasses.field(default_factory=list)


def _f(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}"


def _num(x: Any) -> float:
    """A number read from JSON; ``null`` (undefined, or non-finite when written) as NaN."""
    return float("nan") if x is None else float(x)


def _and(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``: a list as a sentence writes it.

    >>> _and(["sgd"]), _and(["rmsprop", "adam"]), _and(["a", "b", "c"])
    ('sgd', 'rmsprop and adam', 'a, b and c')
    """
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _first(d: dict[str, Any], *keys: str, default: Any = None) -> Any:
    """The value of the first of ``keys`` present in ``d`` (result files may use older field names)."""
    for key in keys:
        if key in d:
            return d[key]
    return default


class _Outputs:
    """Reads what the experiments wrote in the report folder."""

    def __init__(self, folder: Path, plan: Sequence[Experiment]) -> None:
        self.folder = folder
        self.plan = {e.key: e for e in plan}

    def json(self, relative: str) -> Any:
        return read_json(self.folder / relative, what="experiment output")

    def stdout(self, key: str, step: str) -> str:
        path = self.folder / key / f"{step}.out"
        try:
            return path.read_text(encoding="utf-8")
        except OSError as err:
            raise ResultsFileError(f"cannot read {str(path)!r}: {err.strerror}; rerun 'gnnhw report'") from None

    def stdout_json(self, key: str, step: str) -> Any:
        return read_json(self.folder / key / f"{step}.out", what="experiment output")

    def commands(self, key: str, *steps: str) -> list[str]:
        exp = self.plan[key]
        return [s.shell() for s in exp.steps if not steps or s.name in steps]


# ---------------------------------------------------------------------------------------------------------------
# Part 1


def _sweep_stats(sweep: dict[str, Any]) -> dict[str, dict[int, list[float]]]:
    out: dict[str, dict[int, list[float]]] = {}
    for r in sweep["records"]:
        out.setdefault(r["model"], {}).setdefault(int(r["length"]), []).append(float(r["test_accuracy"]))
    return out


def _solved(accs: list[float]) -> int:
    return sum(a >= SOLVED for a in accs)


def _agreement(check: dict[str, Any]) -> str:
    """How a ``gnnhw bptt`` result's hand-derived gradients compare with autograd's, by its own verdict."""
    diffs = [_num(v) for v in check["max_abs_diff"].values()]
    worst = max(diffs, key=lambda d: math.inf if d != d else d)
    tolerance = _num(check.get("tolerance", 1e-10))
    agrees = check.get("agrees", worst <= tolerance)
    if agrees is True and worst <= tolerance:
        return f"equal autograd's to within {worst:.1e}"
    return f"DIFFER from autograd's by up to {worst:.1e}, more than the tolerance: the derivation or its code is wrong"


def _q1_1(o: _Outputs) -> Section:
    b = o.json("bptt/bptt.json")
    diffs = b["max_abs_diff"]
    contributions = [c for c in b["contributions"] if c > 0]
    # the step of the earliest non-zero term (t = 1's term is 0 when h_0 = 0)
    first_t = next((t for t, c in enumerate(b["contributions"], start=1) if c > 0), 1)
    mistakes = b.get("mistakes", {})
    answer = [
        f"Computed by explicit loops over the T = {b['length']} steps (no autograd), the hand-derived gradients of "
        f"the vanilla RNN {_agreement(b)} for all {len(diffs)} parameter blocks (float64; "
        f"tolerance {b.get('tolerance', 1e-10):g}).",
        "With softmax and cross-entropy on the last step, dL/dW_ph = (ŷ - y) h_T^T and dL/db_p = ŷ - y; "
        "dL/dW_hh = Σ_t δ_t h_(t-1)^T with δ_t = (1 - h_t²) ⊙ W_hh^T δ_(t+1) (δ_T = (1 - h_T²) ⊙ W_ph^T (ŷ - y)): "
        "W_hh acts at every step, so its gradient sums one term per step.",
    ]
    if len(contributions) >= 2:
        ratio = contributions[-1] / contributions[0]
        trend = (
            "so the sum is dominated by the last steps: the early terms vanish (with ‖W_hh‖ large they would grow "
            "instead: exploding)"
            if ratio > 1
            else "so the early terms are not smaller here: the product of the factors grows (exploding)"
        )
        answer.append(
            f"Each step back multiplies δ by diag(1 - h²) W_hh^T: here the term of the last step "
            f"({contributions[-1]:.2e}) is {ratio:.3g} times the earliest non-zero one's (t = {first_t}, "
            f"{contributions[0]:.2e}" + ("; t = 1's term is 0 since h_0 = 0" if first_t == 2 else "") + f"), {trend}."
        )
    if mistakes:
        shown = "; ".join(f"{m['formula']} is off by {m['relative_diff']:.2f} (relative)" for m in mistakes.values())
        answer.append(f"The usual mistakes differ measurably: {shown}.")
    lstm = o.json("bptt/bptt_lstm.json")
    cell = lstm.get("cell_grad_norms", [])
    lstm_answer = (
        f"The LSTM's hand-derived gradients (forget bias {lstm.get('forget_bias', 0):g}) {_agreement(lstm)}: its "
        "memory gradient goes back through the forget gate alone, "
        "dL/dc_t = dL/dc_(t+1) ⊙ f_(t+1) + dL/dh_t ⊙ o_t ⊙ (1 - tanh² c_t), with no matrix and no squashing "
        "derivative on that path"
    )
    cell = [_num(c) for c in cell]
    if len(cell) >= 2 and all(math.isfinite(c) for c in (cell[0], cell[-1])):
        last, first = cell[-1], cell[0]
        if last > first:
            change = f"falls from {last:.2e} at t = {len(cell)} to {first:.2e} at t = 1" + (
                f" (a factor {last / first:.3g} over {len(cell) - 1} steps)" if first > 0 else ""
            )
        elif last < first:
            change = f"grows from {last:.2e} at t = {len(cell)} to {first:.2e} at t = 1" + (
                f" (a factor {first / last:.3g} over {len(cell) - 1} steps)" if last > 0 else ""
            )
        else:
            change = f"stays {last:.2e} from t = {len(cell)} back to t = 1"
        lstm_answer += f"; ‖dL/dc_t‖ {change}"
    answer.append(lstm_answer + ".")
    tables = [
        Table(
            ["model", "parameter", "max |hand − autograd|", "max |gradient|"],
            [
                [name, k, f"{_num(v):.2e}", f"{_num(run['grad_max_abs'][k]):.3g}"]
                for name, run in (("vanilla RNN", b), ("LSTM", lstm))
                for k, v in run["max_abs_diff"].items()
            ],
            "hand-derived BPTT vs autograd, float64",
        )
    ]
    if mistakes:
        tables.append(
            Table(
                ["usual mistake", "parameter", "max |diff|", "relative"],
                [
                    [m["formula"], m["parameter"], f"{m['max_abs_diff']:.3g}", _f(m["relative_diff"])]
                    for m in mistakes.values()
                ],
                "each wrong formula against autograd",
            )
        )
    return Section(
        "q1-1",
        "Q1.1 — BPTT: dL/dW_ph and dL/dW_hh",
        answer,
        tables,
        [
            ("bptt/bptt.png", "each time step's term of dL/dW_hh (untrained RNN)"),
            ("bptt/bptt_lstm.png", "the same for the LSTM, with its memory gradient ‖dL/dc_t‖ (untrained)"),
        ],
        commands=o.commands("bptt"),
    )


def _q1_2(o: _Outputs) -> Section:
    stats = _sweep_stats(o.json("sweep/sweep.json"))
    rnn = stats.get("rnn", {})
    shortest = min(rnn)
    accs = rnn[shortest]
    b = o.json("bptt/bptt.json")
    answer = [
        "gnnhw's vanilla RNN computes h_t = tanh(W_hx x_t + W_hh h_(t-1) + b_h) from h_0 = 0 and p = W_ph h_T + b_p, "
        "with softmax and cross-entropy on the last step only (gnnhw.recurrent.models.VanillaRNN).",
        f"At the shortest length, T = {shortest}, it reaches a test accuracy of {_f(statistics.mean(accs))} "
        f"(mean of {plural(len(accs), 'seed')}; {_solved(accs)} of {len(accs)} reach {SOLVED}; chance is {CHANCE}).",
        f"Its gradients are those derived in Q1.1: hand-written BPTT matches autograd to "
        f"{max(b['max_abs_diff'].values()):.1e}.",
    ]
    table = Table(
        ["seed", "test accuracy"], [[str(i), _f(a)] for i, a in enumerate(accs)], f"vanilla RNN, T = {shortest}"
    )
    return Section("q1-2", "Q1.2 — The vanilla RNN", answer, [table], commands=o.commands("sweep"))


def _length_rows(per_length: dict[int, list[float]]) -> tuple[int | None, int | None]:
    """(longest length up to which every seed solves, first length where no seed does)."""
    ok = None
    fail = None
    for length in sorted(per_length):
        accs = per_length[length]
        if _solved(accs) == len(accs) and (ok is None or ok == _prev(per_length, length)):
            ok = length
        if fail is None and _solved(accs) == 0:
            fail = length
    return ok, fail


def _prev(per_length: dict[int, list[float]], length: int) -> int | None:
    smaller = [x for x in per_length if x < length]
    return max(smaller) if smaller else None


def _describe_model(name: str, per_length: dict[int, list[float]]) -> str:
    ok, fail = _length_rows(per_length)
    n = len(next(iter(per_length.values())))
    text = (
        f"the {name} solves every length up to T = {ok} in {'its one seed' if n == 1 else f'all {n} seeds'}"
        if ok
        else f"the {name} solves no length in every seed"
    )
    if fail is not None:
        text += f", and no seed solves T = {fail} (accuracy {_f(statistics.mean(per_length[fail]))})"
    else:
        text += f"; every length tried (up to {max(per_length)}) is solved by at least one seed"
    return text


def _bimodal(per_length: dict[int, list[float]]) -> str:
    runs = [a for accs in per_length.values() for a in accs]
    high = sum(a >= SOLVED for a in runs)
    low = sum(a <= 2 * CHANCE for a in runs)
    text = (
        f"Of its {len(runs)} runs, {high} reach {SOLVED} or more, {low} stay near chance (at most {2 * CHANCE:g}) and "
        f"{len(runs) - high - low} end in between"
    )
    if high + low == len(runs) and high and low:
        return (
            text
            + ": each seed either solves a length or fails it, so the figure shows every seed and the fraction solved."
        )
    return text + "; the figure shows every seed and the fraction of seeds solved per length."


def _raw_digit_remark(rnn: dict[int, list[float]], budget: Budget) -> str:
    """Other students' raw-digit result beside this run's, without claiming what was not measured here."""
    ok, _ = _length_rows(rnn)
    here = f"every seed up to T = {ok}" if ok else "no length in every seed"
    return (
        "Other students report the raw-digit RNN perfect up to an input length of about 13; "
        f"this run, with one-hot digits (--input one-hot) and at most {budget.sweep_steps} steps, solves {here}. "
        "Raw digits were not run here, so the two inputs are not compared."
    )


def _q1_3(o: _Outputs, budget: Budget) -> Section:
    sweep = o.json("sweep/sweep.json")
    stats = _sweep_stats(sweep)
    rnn = stats["rnn"]
    answer = [
        f"Trained for at most {budget.sweep_steps} steps (stopping early once the last 50 batches reach 0.99), "
        + _describe_model("vanilla RNN", rnn)
        + ".",
        _bimodal(rnn),
        _raw_digit_remark(rnn, budget),
    ]
    rows = [
        [str(t), _f(statistics.mean(a)), f"{_solved(a)}/{len(a)}", f"{_f(min(a))}–{_f(max(a))}"]
        for t, a in sorted(rnn.items())
    ]
    table = Table(["length T", "mean test accuracy", "seeds solved", "range"], rows, "vanilla RNN")
    return Section(
        "q1-3",
        "Q1.3 — Accuracy vs palindrome length (RNN)",
        answer,
        [table],
        [("sweep/sweep.png", "test accuracy vs length: every seed a point, and the fraction of seeds solved")],
        commands=o.commands("sweep"),
    )


def _first_step_at(run: dict[str, Any], accuracy: float) -> int | None:
    """The first logged step whose training accuracy reaches ``accuracy`` (None if none does)."""
    for step, acc in zip(run.get("curve_steps", []), run.get("train_accuracy", []), strict=False):
        if acc is not None and float(acc) >= accuracy:
            return int(step)
    return None


def _q1_4(o: _Outputs) -> Section:
    # One optimizers run per learning rate, in the plan's order.
    per_lr = [(s.name, o.json(f"optimizers/{s.name}/optimizers.json")) for s in o.plan["optimizers"].steps]
    adaptive_worse: list[str] = []  # learning rates at which RMSprop or Adam ended worse than a uniform guess
    cfg = per_lr[0][1].get("config", {})
    model = str(_first(cfg, "model", default="model"))
    model_name = "vanilla RNN" if model == "rnn" else model.upper()
    rows = []
    findings = []
    figures = []
    for name, opt in per_lr:
        lr = _num(_first(opt.get("config", {}), "lr", "learning_rate", default=None))
        figures.append((f"optimizers/{name}/optimizers.png", f"training loss and accuracy per optimizer, lr {lr:g}"))
        runs = opt["runs"]
        solved, chance, worse, between = [], [], [], []
        for opt_name, run in runs.items():
            losses = [_num(x) for x in run.get("train_loss", [])]
            loss = losses[-1] if losses else float("nan")
            acc = _num(run["test_accuracy"])
            by = _first_step_at(run, SOLVED)
            # a run that diverged may have no finite loss or accuracy: said in words, never as 'nan'
            loss_text = f"{loss:.3g}" if math.isfinite(loss) else "not finite"
            acc_text = _f(acc) if math.isfinite(acc) else "—"
            rows.append([f"{lr:g}", opt_name, acc_text, loss_text, "—" if by is None else str(by), str(run["steps"])])
            # Every run lands in exactly one group, so the sentence names each one.
            if acc >= SOLVED:
                solved.append(f"{opt_name} (training accuracy {SOLVED} by step {by})" if by is not None else opt_name)
            elif not math.isfinite(loss) or not math.isfinite(acc) or loss > 1.1 * UNIFORM_LOSS:
                # not finite, or worse than guessing uniformly
                worse.append(f"{opt_name} ({loss_text})")
                if opt_name in ("rmsprop", "adam"):
                    adaptive_worse.append(f"{lr:g}")
            elif acc <= 2 * CHANCE:
                chance.append(opt_name)
            else:
                between.append(f"{opt_name} (test accuracy {_f(acc)})")
        parts = [
            f"{_and(names)} {verb if len(names) > 1 else verb_one}"
            for names, verb, verb_one in (
                (solved, "solve the task", "solves the task"),
                (chance, "stay near chance", "stays near chance"),
                (between, "get part of the way", "gets part of the way"),
                (
                    worse,
                    f"end with a training loss above a uniform guess's (ln 10 = {UNIFORM_LOSS:.2f})",
                    f"ends with a training loss above a uniform guess's (ln 10 = {UNIFORM_LOSS:.2f})",
                ),
            )
            if names
        ]
        findings.append(f"at lr {lr:g}, " + "; ".join(parts) if parts else f"at lr {lr:g}, no run solves the task")
    length = cfg.get("length")
    steps = _first(cfg, "train_steps", "steps", default="?")
    answer = [
        f"With the same {model_name}, seed, initial weights and batches (T = {length}, {steps} steps, chance "
        f"{CHANCE}): " + "; ".join(findings) + ".",
        "Plain SGD moves each weight by lr × its gradient, so flat directions (the small gradients of a recurrent "
        "net) barely move; momentum adds up gradients that agree into a velocity (a step of up to lr / (1 − 0.9) "
        "= 10 lr) and averages out the ones that do not.",
        "RMSprop and Adam divide each weight's step by a running root mean square of its gradients, so every "
        "parameter moves by about the learning rate whatever its gradient's scale (Adam adds momentum to that)"
        + (
            "; the same normalization makes every step about lr long, too long at lr "
            f"{_and(sorted(set(adaptive_worse)))} here: each method needs its own learning rate."
            if adaptive_worse
            else "."
        ),
    ]
    return Section(
        "q1-4",
        "Q1.4 — Momentum and adaptive learning rates",
        answer,
        [
            Table(
                [
                    "lr",
                    "optimizer",
                    "test accuracy",
                    "last training loss",
                    f"training accuracy {SOLVED} by step",
                    "steps",
                ],
                rows,
            )
        ],
        figures,
        commands=o.commands("optimizers"),
    )


def _parameter_counts(hidden: int, inputs: int, classes: int) -> dict[str, int]:
    import torch

    from gnnhw.recurrent.models import build_model

    gnnhw_lstm = build_model("lstm", inputs, hidden, classes)
    torch_lstm = torch.nn.LSTM(inputs, hidden)
    return {
        "formula": 4 * (inputs * hidden + hidden * hidden + hidden),
        "output": hidden * classes + classes,
        "gnnhw": sum(p.numel() for p in gnnhw_lstm.parameters()),
        "torch_cell": sum(p.numel() for p in torch_lstm.parameters()),
    }


def _q1_5(o: _Outputs) -> Section:
    sweep = o.json("sweep/sweep.json")
    base = sweep.get("base", {})
    hidden = int(_first(base, "hidden_size", "num_hidden", default=128))
    inputs = int(_first(base, "input_size", "input_dim", default=10))
    n = _parameter_counts(hidden, inputs, 10)
    answer = [
        "The input gate i decides how much of the candidate g enters the cell, the forget gate f how much of "
        "c_(t-1) is kept, the output gate o how much of tanh(c_t) is shown as h_t. The gates use the sigmoid "
        "(a fraction in (0, 1), a soft switch); the candidate uses tanh (a value in (-1, 1) that can add or "
        "subtract from the cell, centred on 0).",
        f"With input size d = {inputs} and hidden size n = {hidden}, the four gates hold 4(dn + n² + n) = "
        f"{n['formula']:,} parameters, plus {n['output']:,} for the output layer (W_ph, b_p): "
        f"{n['formula'] + n['output']:,} in all"
        + (
            ", the number gnnhw's LSTM classifier has (counted)."
            if n["gnnhw"] == n["formula"] + n["output"]
            else f", but gnnhw's LSTM classifier has {n['gnnhw']:,} (counted)."
        ),
        f"torch.nn.LSTM keeps two bias vectors per gate (b_ih and b_hh): {n['torch_cell']:,} for the cell, "
        + (
            f"4n = {4 * hidden} more than the formula."
            if n["torch_cell"] - n["formula"] == 4 * hidden
            else f"{n['torch_cell'] - n['formula']:,} more than the formula."
        ),
    ]
    rows = [
        ["4(dn + n² + n), the gates", f"{n['formula']:,}"],
        ["output layer n·10 + 10", f"{n['output']:,}"],
        ["gnnhw LSTM classifier, counted", f"{n['gnnhw']:,}"],
        ["torch.nn.LSTM cell, counted", f"{n['torch_cell']:,}"],
    ]
    code = (
        'python -c "from gnnhw.recurrent.models import build_model; '
        f"print(sum(p.numel() for p in build_model('lstm', {inputs}, {hidden}, 10).parameters()))\""
    )
    return Section(
        "q1-5", "Q1.5 — LSTM gates and parameter count", answer, [Table(["what", "parameters"], rows)], commands=[code]
    )


def _lstm_vs_rnn(rnn: dict[int, list[float]], lstm: dict[int, list[float]]) -> str:
    common = sorted(set(rnn) & set(lstm))
    better = [t for t in common if _solved(lstm[t]) > _solved(rnn[t])]
    worse = [t for t in common if _solved(lstm[t]) < _solved(rnn[t])]
    why = (
        "The cell state's additive update, c_t = g ⊙ i + c_(t-1) ⊙ f, carries the error back through c without a "
        "squashing non-linearity at every step (Q1.7)"
    )
    if better and not worse:
        shown = ", ".join(map(str, better))
        return f"The LSTM solves more seeds at T = {shown}. {why}; Q1.7 measures how each model's gradient decays."
    if not better and not worse:
        return (
            f"At these lengths and this budget the two solve the same seeds. {why}; it can only show at longer "
            "lengths or with fewer steps than these."
        )
    return (
        f"The LSTM solves more seeds at T = {', '.join(map(str, better)) or 'none'} and fewer at "
        f"T = {', '.join(map(str, worse))}: with this few steps and seeds the comparison is not settled. {why}."
    )


def _steps_to_solve(sweep: dict[str, Any]) -> dict[str, dict[int, list[int]]]:
    """{model: {length: training steps of each run that solved it}} (runs stop early once solved)."""
    out: dict[str, dict[int, list[int]]] = {}
    for r in sweep["records"]:
        if float(r["test_accuracy"]) >= SOLVED and r.get("steps") is not None:
            out.setdefault(r["model"], {}).setdefault(int(r["length"]), []).append(int(r["steps"]))
    return out


def _q1_6(o: _Outputs, budget: Budget) -> Section:
    sweep = o.json("sweep/sweep.json")
    stats = _sweep_stats(sweep)
    steps = _steps_to_solve(sweep)
    rnn, lstm = stats.get("rnn", {}), stats.get("lstm", {})
    lengths = sorted(set(rnn) | set(lstm))
    rows = []
    for t in lengths:
        row = [str(t)]
        for per in (rnn, lstm):
            a = per.get(t)
            row.append(f"{_f(statistics.mean(a))} ({_solved(a)}/{len(a)} solved)" if a else "—")
        for model in ("rnn", "lstm"):
            solved = steps.get(model, {}).get(t)
            row.append(f"{statistics.median(solved):.0f}" if solved else "—")
        rows.append(row)
    both = [t for t in lengths if steps.get("rnn", {}).get(t) and steps.get("lstm", {}).get(t)]
    slower = [t for t in both if statistics.median(steps["lstm"][t]) > statistics.median(steps["rnn"][t])]
    answer = [
        "gnnhw's LSTM computes g = tanh(..), i, f, o = σ(..), c_t = g ⊙ i + c_(t-1) ⊙ f, h_t = tanh(c_t) ⊙ o "
        "(gnnhw.recurrent.models.LSTM; its forget bias starts at 1).",
        f"On the same palindromes and budget ({budget.sweep_steps} steps at most): "
        + _describe_model("vanilla RNN", rnn)
        + "; "
        + _describe_model("LSTM", lstm)
        + ".",
        _lstm_vs_rnn(rnn, lstm),
    ]
    if slower:
        answer.append(
            "The runs that solve a length stop early, so their steps show the speed of learning: the LSTM needed "
            "more steps than the vanilla RNN (median over the seeds that solved it) at "
            f"T = {_and([str(t) for t in slower])} "
            f"({len(slower)} of the {len(both)} lengths both solved)"
            + (
                f", so a fixed budget of {budget.sweep_steps} steps cuts the LSTM off first."
                if 2 * len(slower) > len(both)
                else "."
            )
        )
    return Section(
        "q1-6",
        "Q1.6 — LSTM vs RNN on increasing lengths",
        answer,
        [
            Table(
                ["length T", "vanilla RNN", "LSTM", "RNN: steps to solve", "LSTM: steps to solve"],
                rows,
                "mean test accuracy (seeds solving); median training steps of the runs that solved it",
            )
        ],
        [("sweep/sweep.png", "test accuracy vs length, both models")],
        commands=o.commands("sweep"),
    )


def _trained_accuracy(training: dict[str, dict[str, Any]]) -> str:
    """What the trained models of Q1.7 learned: their test accuracy, and whether it is still chance."""
    accs = {m: _num(r.get("test_accuracy")) for m, r in training.items() if r.get("test_accuracy") is not None}
    if not accs:
        return ""
    names = {"rnn": "RNN", "lstm": "LSTM"}
    shown = _and([f"{_f(a)} ({names.get(m, m)})" for m, a in accs.items()])
    if all(a <= 2 * CHANCE for a in accs.values()):
        return (
            f", with test accuracies of {shown}: {'neither model has' if len(accs) == 2 else 'no model has'} "
            f"learned this length yet (chance is {CHANCE}), "
            "so these are the gradients of models still at chance"
        )
    return f", with test accuracies of {shown}"


def _q1_7(o: _Outputs) -> Section:
    g = o.json("grads/grads_over_time.json")
    decay = g.get("decay_per_step", {})
    rows = []
    for model in g["untrained"]:
        for stage in ("untrained", "trained"):
            norms = g[stage][model]
            rows.append(
                [
                    model,
                    stage,
                    f"{norms[-1]:.3g}",
                    f"{norms[0]:.3g}",
                    f"{_num(decay.get(stage, {}).get(model)):.3g}",
                ]
            )
    d = decay.get("untrained", {})
    d_rnn, d_lstm = _num(d.get("rnn")), _num(d.get("lstm"))
    dt = decay.get("trained", {})
    training: dict[str, dict[str, Any]] = g.get("training", {})
    trained_steps = next(iter(training.values())).get("steps", "?") if training else "?"
    answer = [
        f"For one palindrome of length {g['length']}, untrained, each step back from the loss divides ‖dL/dh_t‖ by "
        f"{d_rnn:.3g} for the vanilla RNN and by {d_lstm:.3g} for the LSTM (the factor per step back: exp of the "
        "slope of a least-squares line through log ‖dL/dh_t‖ over the last 30 steps; 1 is no decay, above 1 the "
        "gradient shrinks going back)"
        + (
            ": the RNN's gradient decays geometrically and faster (a straight falling line on the log plot), so the "
            "first digits, which the answer depends on, get almost no gradient."
            if d_rnn > max(1.0, d_lstm)
            else ": here the RNN's gradient does not decay faster than the LSTM's."
        ),
        f"After {trained_steps} training steps the factors are {_num(dt.get('rnn')):.3g} (RNN) and "
        f"{_num(dt.get('lstm')):.3g} (LSTM)" + _trained_accuracy(training) + ".",
    ]
    return Section(
        "q1-7",
        "Q1.7 — Gradient magnitude over time steps",
        answer,
        [
            Table(
                ["model", "stage", "‖dL/dh‖ near the end", "‖dL/dh_1‖", "factor per step back"],
                rows,
                f"T = {g['length']}",
            )
        ],
        [("grads/grads_over_time.png", "‖dL/dh_t‖ over t, untrained and trained")],
        commands=o.commands("grads"),
    )


# ---------------------------------------------------------------------------------------------------------------
# Part 2

_STAGE = re.compile(r"^step (\d+): (.*)$")


def _stage_samples(folder: Path) -> list[tuple[int, str]]:
    path = folder / "textgen" / "run" / "samples.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        m = _STAGE.match(line)
        if m:
            try:
                out.append((int(m.group(1)), str(ast.literal_eval(m.group(2)))))
            except (ValueError, SyntaxError):
                out.append((int(m.group(1)), m.group(2)))
    return out


def _round_rows(steps: Sequence[int], most: int = 10) -> list[int]:
    """Indices of at most ``most`` rows at round steps (multiples of the smallest round stride that fits),
    the last step always included.

    >>> [s for i, s in enumerate(range(100, 5100, 100)) if i in _round_rows(range(100, 5100, 100))]
    [500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000]
    >>> _round_rows([30, 60])
    [0, 1]
    """
    steps = list(steps)
    for stride in (1, 10, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000):
        keep = [i for i, s in enumerate(steps) if s % stride == 0 or i == len(steps) - 1]
        if len(keep) <= most:
            return keep
    return sorted({round(i * (len(steps) - 1) / (most - 1)) for i in range(most)})


OTHERS_TEXT_ACCURACY = 0.64  # what other students report after OTHERS_TEXT_STEPS steps
OTHERS_TEXT_STEPS = 5000


def _others_accuracy_remark(train_acc: float, val_acc: float, step: int) -> str:
    """Other students' 0.64 beside this run's accuracies; an explanation is offered only where the numbers
    allow it (a training accuracy near 0.64 would point at what is measured; one far below it does not)."""
    text = (
        f"Other students report about {OTHERS_TEXT_ACCURACY} after {OTHERS_TEXT_STEPS:,} steps; this run is at "
        f"{_f(val_acc)} on the "
        f"held-out text after {step:,} steps"
    )
    if step != OTHERS_TEXT_STEPS:
        return text + ": trained for another number of steps than theirs, the two are not comparable."
    if train_acc != train_acc:  # no training accuracy recorded
        return text + "."
    if train_acc >= OTHERS_TEXT_ACCURACY - 0.02:
        return (
            text + f" and at {_f(train_acc)} on its training batches, so the difference is mostly which text the "
            "accuracy is measured on."
        )
    return (
        text + f" and at {_f(train_acc)} on its training batches, so measuring on training batches does not explain "
        "the gap: it lies in their model, text, split or settings, which this report does not know."
    )


def _q2_1a(o: _Outputs) -> Section:
    h = o.json("textgen/run/history.json")
    ev = o.stdout_json("textgen", "evaluate")
    hist = h["history"]
    train_acc = _num(hist["train_acc"][-1]) if hist.get("train_acc") else float("nan")
    answer = [
        f"The assignment's two-layer LSTM (128 units, windows of 30, batch 64, Adam 2e-3, clipping at 5) trained for "
        f"{h['step']:,} steps on Grimm's fairy tales (Project Gutenberg header and licence removed) reaches a "
        f"training loss of {hist['train_loss'][-1]:.3f} nats per character"
        + (f" (training accuracy {_f(train_acc)})" if train_acc == train_acc else "")
        + f"; on the held-out last 10%, read in windows of 30 from a zero state, its next-character accuracy is "
        f"{_f(h['val_acc'])} ({h['val_bpc']:.3f} bits per character).",
        f"Read as one stream (the state carried through), the held-out text costs {ev['stream']['bits_per_char']:.3f} "
        f"bits per character at accuracy {_f(ev['stream']['accuracy'])}.",
        _others_accuracy_remark(train_acc, _num(h["val_acc"]), int(h["step"])),
    ]
    steps = [int(s) for s in hist["step"]]
    columns = [("train loss", "train_loss", 3), ("train accuracy", "train_acc", 3)]
    columns += [("held-out bpc, windows", "val_bpc", 3), ("held-out accuracy, windows", "val_acc", 3)]
    columns += [("held-out bpc, one stream", "val_stream_bpc", 3), ("accuracy, one stream", "val_stream_acc", 3)]
    columns = [c for c in columns if c[1] in hist]
    rows = [
        [f"{steps[i]:,}", *(f"{_num(hist[key][i]):.{digits}f}" for _, key, digits in columns)]
        for i in _round_rows(steps)
    ]
    return Section(
        "q2-1a",
        "Q2.1a — Loss and accuracy while training",
        answer,
        [Table(["step", *(name for name, _, _ in columns)], rows)],
        [("textgen/run/curves.png", "loss, bits per character and accuracy curves")],
        commands=o.commands("textgen", "train", "evaluate"),
    )


def _greedy_lengths(greedy: dict[int, str]) -> str:
    """Shorter and longer greedy samples compared by their repeated 5-grams; the loop is said only when the
    longer sample repeats more."""
    lengths = sorted(greedy)
    repeats = {n: _repeat_fraction(greedy[n]) for n in lengths}
    shown = _and([f"{_f(repeats[n])} for {n} characters" for n in lengths])
    longest = lengths[-1]
    text = (
        f"After training, greedy samples of {_and([str(n) for n in lengths])} characters have "
        f"{_and([str(len(set(greedy[n]))) for n in lengths])} distinct characters; their repeated-5-gram "
        f"fractions are {shown}"
    )
    if len(lengths) > 1 and repeats[longest] > repeats[lengths[0]]:
        return (
            text + ": greedy decoding always picks the likeliest next character, so once it returns to a state it "
            "has been in it repeats itself, and the longer the sample, the more of it is that loop."
        )
    return text + ": at these lengths the longer sample does not repeat itself more."


def _q2_1b(o: _Outputs) -> Section:
    stages = _stage_samples(o.folder)
    greedy = {n: o.stdout("textgen", f"greedy{n}") for n in SAMPLE_LENGTHS}
    answer = [
        f"Greedy samples of {SAMPLE_LENGTHS[0]} characters were logged during training; their distinct characters: "
        + (", ".join(f"{len(set(t))} at step {s}" for s, t in stages) or "none logged")
        + ".",
        _greedy_lengths(greedy),
    ]
    texts = [(f"step {s}", t) for s, t in stages] + [(f"greedy, {n} characters", greedy[n]) for n in SAMPLE_LENGTHS]
    return Section(
        "q2-1b",
        "Q2.1b — Greedy samples during training; shorter and longer",
        answer,
        texts=texts,
        commands=o.commands("textgen", "train", *(f"greedy{n}" for n in SAMPLE_LENGTHS)),
    )


def _repeat_fraction(text: str, n: int = 5) -> float:
    grams = [text[i : i + n] for i in range(max(0, len(text) - n + 1))]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def _temperature_finding(length: int, greedy: str, samples: dict[float, str]) -> str:
    """The lowest and highest τ against greedy, by distinct characters and repeated 5-grams; 'most varied'
    and 'repeats itself most' are said only when the counts show it."""
    lo, hi = min(samples), max(samples)
    low, high = samples[lo], samples[hi]
    text = (
        f"Measured on {length}-character samples: τ = {lo:g} uses {len(set(low))} distinct characters, "
        f"τ = {hi:g} uses {len(set(high))} and greedy {len(set(greedy))}"
    )
    if len(set(low)) > max(len(set(high)), len(set(greedy))):
        text += f", so the flattest distribution (τ = {lo:g}) gives the most varied text"
    g_rep = _repeat_fraction(greedy)
    others = max(_repeat_fraction(t) for t in samples.values())
    if g_rep > others:
        return text + (
            f"; greedy repeats itself most (a repeated-5-gram fraction of {_f(g_rep)}, against at most "
            f"{_f(others)} for the sampled texts)."
        )
    return text + f"; greedy's repeated-5-gram fraction, {_f(g_rep)}, is no higher than the samples' ({_f(others)})."


def _q2_1c(o: _Outputs) -> Section:
    samples = {tau: o.stdout("textgen", f"tau{i}") for i, tau in enumerate(TAUS)}
    greedy = o.stdout("textgen", f"greedy{SAMPLE_LENGTHS[0]}")
    rows = [["greedy", "—", str(len(set(greedy))), _f(_repeat_fraction(greedy))]]
    for tau, text in samples.items():
        rows.append([f"τ = {tau:g}", f"{1 / tau:g}", str(len(set(text))), _f(_repeat_fraction(text))])
    answer = [
        "The assignment's τ multiplies the logits before the softmax: τ < 1 flattens the distribution (more "
        "random), τ > 1 sharpens it toward greedy. gnnhw's --temperature T divides them, so T = 1/τ.",
        _temperature_finding(SAMPLE_LENGTHS[0], greedy, samples),
    ]
    return Section(
        "q2-1c",
        "Q2.1c — Temperature sampling",
        answer,
        [Table(["decoding", "--temperature", "distinct characters", "repeated 5-grams"], rows)],
        texts=[("greedy", greedy)] + [(f"τ = {tau:g} (--temperature {1 / tau:g})", t) for tau, t in samples.items()],
        commands=o.commands("textgen", *(f"tau{i}" for i in range(len(TAUS)))),
    )


def _q2_bonus(o: _Outputs) -> Section:
    greedy = o.stdout("textgen", "complete")
    beam = o.stdout("textgen", "beam")
    answer = [
        f'Completing "{PROMPT}" greedily and with a beam of width {BEAM_WIDTH} ({SAMPLE_LENGTHS[0]} characters each).',
        "Beam search keeps the k likeliest continuations so far instead of one, so it can find a continuation more "
        "likely under the model than greedy's, whose every step is the locally likeliest character.",
        f"Here the two continuations {'agree' if greedy == beam else 'differ'}.",
    ]
    return Section(
        "q2-bonus",
        "Q2.1 bonus — Finishing a sentence, beam search",
        answer,
        texts=[("greedy", greedy), (f"beam {BEAM_WIDTH}", beam)],
        commands=o.commands("textgen", "complete", "beam"),
    )


# ---------------------------------------------------------------------------------------------------------------
# Part 3


def _depth_rows(depth: dict[str, Any]) -> dict[str, dict[int, dict[str, float]]]:
    out: dict[str, dict[int, dict[str, float]]] = {}
    for row in depth["rows"]:
        out.setdefault(row["variant"], {})[int(row["num_layers"])] = row
    return out


NOISE = 0.01  # accuracy differences this small between variants are not called a gain


def _remedies(plain: dict[int, dict[str, float]], others: dict[str, dict[int, dict[str, float]]]) -> str:
    """The remedies against the plain GCN at its deepest depth and against its best depth; each claim
    ('keep', 'do not', 'better than a shallow GCN') is chosen by the accuracies."""
    hi = max(plain)
    p_hi = plain[hi]["test_acc_mean"]
    at_hi = {v: rows[hi]["test_acc_mean"] for v, rows in others.items() if hi in rows}
    if not at_hi:
        return ""
    above = [v for v, a in at_hi.items() if a > p_hi + NOISE]
    below = [v for v in at_hi if v not in above]
    parts = []
    if above:
        parts.append(
            f"at {hi} layers {_and([f'{v} ({_f(at_hi[v])})' for v in above])} "
            f"{'stays' if len(above) == 1 else 'stay'} well above the plain GCN's {_f(p_hi)}"
        )
    if below:
        parts.append(
            f"{_and([f'{v} ({_f(at_hi[v])})' for v in below])} {'does' if len(below) == 1 else 'do'} not "
            f"(at {hi} layers)"
        )
    text = "Remedies: " + "; ".join(parts) + "."
    best_plain = max(plain, key=lambda d: plain[d]["test_acc_mean"])
    acc_plain = plain[best_plain]["test_acc_mean"]
    rows = [(a["test_acc_mean"], v, d) for v, per in others.items() for d, a in per.items()]
    acc, v, d = max(rows)
    if acc > acc_plain + NOISE:
        return (
            text
            + f" The best remedy, {v} at {plural(d, 'layer')} ({_f(acc)}), beats the best plain GCN ({_f(acc_plain)})."
        )
    return text + (
        f" None beats the best plain GCN ({_f(acc_plain)} at {plural(best_plain, 'layer')}) by more than {NOISE}: "
        f"the best remedy is {v} at {plural(d, 'layer')} ({_f(acc)})"
        + (", so the remedies make a deep GCN usable, not better than a shallow one." if above else ".")
    )


def _q3_1(o: _Outputs) -> Section:
    depth = o.json("depth/depth.json")
    by = _depth_rows(depth)
    variants = list(by)
    depths = sorted({d for v in by.values() for d in v})
    rows = []
    for d in depths:
        row = [str(d)]
        for v in variants:
            r = by[v].get(d)
            row.append(f"{_f(r['test_acc_mean'])} (dist {r['distance_mean']:.3g})" if r else "—")
        rows.append(row)
    plain = by.get("plain", {})
    answer = [
        "A GCN layer mixes each node's features with its neighbours' (Â H W: a degree-normalised sum over the node "
        "and its neighbours, then one shared linear map), so k layers let a node see its k-hop neighbourhood with "
        "weights shared across the graph.",
    ]
    if plain:
        lo, hi = min(plain), max(plain)
        best = max(plain, key=lambda d: plain[d]["test_acc_mean"])
        d_best, d_hi = plain[best]["distance_mean"], plain[hi]["distance_mean"]
        answer.append(
            f"Drawback: on Cora the plain GCN's test accuracy is {_f(plain[lo]['test_acc_mean'])} at "
            f"{plural(lo, 'layer')}, "
            f"best at {best} ({_f(plain[best]['test_acc_mean'])}) and {_f(plain[hi]['test_acc_mean'])} at {hi}; "
            f"the mean pairwise distance of its node embeddings is {d_best:.3g} at {best} and {d_hi:.3g} at {hi} layers"
            + (
                ": stacking layers averages the embeddings toward each other (over-smoothing)."
                if d_hi < 0.8 * d_best  # a fifth closer at least: a collapse, not noise
                else ": here the embeddings do not move closer, so this measure shows no over-smoothing at this "
                "budget; the accuracy drop has another cause (a deep stack is harder to train)."
            )
        )
    if plain:
        remedy = _remedies(plain, {v: by[v] for v in variants if v != "plain"})
        if remedy:
            answer.append(remedy)
    return Section(
        "q3-1",
        "Q3.1 — How a GCN layer uses the structure; a drawback and a remedy",
        answer,
        [Table(["layers", *variants], rows, "Cora test accuracy (mean pairwise embedding distance)")],
        [("depth/depth.png", "test accuracy and embedding distance vs depth")],
        commands=o.commands("depth"),
    )


def _matrix_table(nodes: list[str], matrix: list[list[float]], digits: int) -> Table:
    def cell(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else f"{x:.{digits}f}"

    return Table(["", *nodes], [[n, *(cell(x) for x in row)] for n, row in zip(nodes, matrix, strict=True)])


def _q3_2(o: _Outputs) -> Section:
    adj = o.stdout_json("graph", "adjacency")
    norm = o.stdout_json("graph", "normalized")
    rf = o.stdout_json("graph", "receptive_field")
    nodes = adj["nodes"]
    rows = ["".join(str(int(x)) for x in row) for row in adj["matrix"]]
    up = rf["updates"]
    answer = [
        f"(a) Ã = A + I, rows and columns {nodes[0]}..{nodes[-1]}: {' / '.join(rows)} (the table); Â = D̃^-1/2 Ã D̃^-1/2 "
        "scales each entry by the square roots of the two degrees.",
        f"(b) Information from {up['source']} reaches {up['target']} after {up['count']} updates (layers), along "
        f"{' → '.join(up['path'])}: a path of {len(up['path']) - 1} edges, one layer per edge. "
        f"The graph's diameter is {rf['diameter']}, so {rf['diameter']} layers let every node see every other.",
    ]
    sizes = rf["sizes"]
    depth_count = len(next(iter(sizes.values())))
    rf_table = Table(
        ["node", *(f"k = {k}" for k in range(depth_count))],
        [[n, *(str(s) for s in v)] for n, v in sizes.items()],
        "receptive-field size after k layers",
    )
    t_adj = _matrix_table(nodes, adj["matrix"], 0)
    t_adj.caption = "Ã = A + I"
    t_norm = _matrix_table(norm["nodes"], norm["matrix"], 3)
    t_norm.caption = "Â = D̃^-1/2 Ã D̃^-1/2"
    return Section(
        "q3-2",
        "Q3.2 — The example graph: Ã and the updates from C to E",
        answer,
        [t_adj, t_norm, rf_table],
        [
            (
                "graph/receptive_field.png",
                f"the receptive field of C after k = 0..{depth_count - 1} layers, and every "
                "node's receptive-field size against k",
            )
        ],
        commands=o.commands("graph"),
    )


def _q3_3(o: _Outputs) -> Section:
    rows = []
    for step in o.plan["planetoid"].steps:
        r = o.json(f"planetoid/{step.name}.json")
        seeds = int(r.get("seeds", len(r.get("per_seed", []))))
        std = _f(r["test_acc_std"]) if seeds > 1 else "—"  # undefined over one seed
        rows.append([r["dataset"], _f(r["test_acc_mean"]), std, str(seeds)])
    several = [int(r[3]) > 1 for r in rows]
    shown = "; ".join(
        f"{r[0]} {r[1]} ± {r[2]}" if s else f"{r[0]} {r[1]} ({r[3]} seed{'' if r[3] == '1' else 's'})"
        for r, s in zip(rows, several, strict=True)
    )
    over = " (mean ± sample std over seeds)" if any(several) else ""
    answer = [
        "GNNs suit data that is a graph of entities and relations: node classification in citation, social or "
        "co-purchase networks, molecules (graph classification), person re-identification (similarities between "
        "detections as a graph), and combinatorial problems on graphs such as the decision version of the TSP.",
        f"Measured here, semi-supervised node classification on the Planetoid citation graphs with Kipf & Welling's "
        f"two-layer GCN (20 labels per class): test accuracy {shown}{over}.",
        "Kipf & Welling report 0.815 (Cora), 0.703 (CiteSeer) and 0.790 (PubMed) after 200 epochs.",
    ]
    return Section(
        "q3-3",
        "Q3.3 — Applications of GNNs",
        answer,
        [Table(["data set", "test accuracy", "std", "seeds"], rows)],
        [(f"planetoid/{s.name}.png", f"{s.name}: loss and accuracy curves") for s in o.plan["planetoid"].steps],
        commands=o.commands("planetoid"),
    )


def _influence_finding(
    gcn: dict[str, dict[str, float]],
    influence: dict[str, dict[str, float]],
    inside: list[tuple[str, int, float]],
) -> str:
    """Depths inside the receptive field that still fail, and the first digit's influence there; 'not yet
    enough' and 'more layers raise it' are said only when the accuracies and influences show them."""
    failing = [(t, k) for t, k, _ in inside if gcn.get(t, {}).get(str(k), 1.0) < 0.9]
    first: dict[str, tuple[int, float]] = {}
    for length, k, ratio in inside:
        first.setdefault(length, (k, ratio))
    shown = "; ".join(f"{ratio:.2g} for T = {length}, k = {k}" for length, (k, ratio) in first.items())
    measure = (
        "at initialization the first digit's influence on node T's logits, relative to that of digit T − 1 "
        f"(‖∂ logits_T / ∂ x_1‖ / ‖∂ logits_T / ∂ x_(T−1)‖), is {shown}"
    )
    if not failing:
        return f"Every depth inside the receptive field reaches 0.9; {measure}."
    fails = _and([f"T = {t}, k = {k} ({_f(gcn[t][str(k)])})" for t, k in failing])
    verb = "stays" if len(failing) == 1 else "stay"
    text = f"Inside the receptive field is not yet enough: {fails} {verb} below 0.9; {measure}"
    text += ": each hop multiplies by an entry of Â, so the digit that matters arrives diluted among the nearby ones"
    deepest = {t: max(k for t2, k, _ in inside if t2 == t) for t in first}
    several = [t for t in first if deepest[t] > first[t][0]]  # lengths with more than one depth inside the field
    if several and all(influence[t][str(deepest[t])] > first[t][1] for t in several):
        return text + ", and more layers (more walks from node 1 to node T) raise it again."
    return text + "."


def _q3_4(o: _Outputs) -> Section:
    g = o.json("gnn_vs_rnn/gnn_vs_rnn.json")
    gcn = g["gcn_mean_accuracy"]
    rec = g.get("recurrent_mean_accuracy", {})
    depths = sorted({int(k) for per in gcn.values() for k in per})
    rows = []
    answer = [
        "An RNN suits ordered data (a sequence with one natural order, read step by step with one shared cell); a "
        "GNN suits relational data with no order, where each node's neighbours matter (Cora's citation graph has "
        "no first or last paper for an RNN to start from).",
    ]
    thresholds = []
    for length, per in sorted(gcn.items(), key=lambda kv: int(kv[0])):
        row = [str(length), *(_f(per[str(k)]) if str(k) in per else "—" for k in depths)]
        row += [_f(rec[m][length]) if length in rec.get(m, {}) else "—" for m in rec]
        rows.append(row)
        reached = [k for k in depths if str(k) in per and per[str(k)] >= 0.9]
        thresholds.append(
            f"T = {length}: the GCN first reaches 0.9 at k = {min(reached)} (its receptive field needs "
            f"k ≥ T − 1 = {int(length) - 1})"
            if reached
            else f"T = {length}: no depth tried (up to {max(depths)}) reaches 0.9 (its receptive field needs "
            f"k ≥ {int(length) - 1})"
        )
    answer.append(
        "On palindromes as path graphs, a GCN of depth k classifies the last node, which must see the first: "
        + "; ".join(thresholds)
        + (
            "; "
            + _and([f"the {m.upper()} reaches {_f(statistics.mean(v.values()))}" for m, v in rec.items()])
            + " (mean over lengths) with one cell shared over all steps."
            if rec
            else "."
        )
    )
    influence = g.get("gcn_mean_initial_influence_ratio", {})
    tables = [Table(["T", *(f"GCN k = {k}" for k in depths), *(m.upper() for m in rec)], rows, "mean test accuracy")]
    if influence:
        inside = [
            (length, k, per[str(k)])
            for length, per in sorted(influence.items(), key=lambda kv: int(kv[0]))
            for k in depths
            if k >= int(length) - 1 and str(k) in per
        ]
        if inside:
            answer.append(_influence_finding(gcn, influence, inside))
        tables.append(
            Table(
                ["T", *(f"k = {k}" for k in depths)],
                [
                    [length, *(f"{per[str(k)]:.2g}" if str(k) in per else "—" for k in depths)]
                    for length, per in sorted(influence.items(), key=lambda kv: int(kv[0]))
                ],
                "the first digit's influence on node T's logits at initialization, relative to digit T − 1's",
            )
        )
    answer.append(
        "The two can be combined (not measured here): a GNN over a graph whose nodes carry sequences, or an RNN "
        "whose state is updated by message passing, such as the Graph LSTM for semantic object parsing."
    )
    return Section(
        "q3-4",
        "Q3.4 — GNN vs RNN",
        answer,
        tables,
        [("gnn_vs_rnn/gnn_vs_rnn.png", "accuracy vs GCN depth k, per length T")],
        commands=o.commands("gnn_vs_rnn"),
    )


def build_sections(folder: Path, plan: Sequence[Experiment], budget: Budget) -> list[Section]:
    """Every question's section, in the assignment's order, from the outputs in ``folder``.

    Raises:
        ResultsFileError: an output is missing or unreadable (rerun ``gnnhw report`` to make it again).
    """
    o = _Outputs(folder, plan)
    builders = [
        ("Q1.1", lambda: _q1_1(o)),
        ("Q1.2", lambda: _q1_2(o)),
        ("Q1.3", lambda: _q1_3(o, budget)),
        ("Q1.4", lambda: _q1_4(o)),
        ("Q1.5", lambda: _q1_5(o)),
        ("Q1.6", lambda: _q1_6(o, budget)),
        ("Q1.7", lambda: _q1_7(o)),
        ("Q2.1a", lambda: _q2_1a(o)),
        ("Q2.1b", lambda: _q2_1b(o)),
        ("Q2.1c", lambda: _q2_1c(o)),
        ("Q2.1 bonus", lambda: _q2_bonus(o)),
        ("Q3.1", lambda: _q3_1(o)),
        ("Q3.2", lambda: _q3_2(o)),
        ("Q3.3", lambda: _q3_3(o)),
        ("Q3.4", lambda: _q3_4(o)),
    ]
    sections = []
    for question, build in builders:
        try:
            section = build()
            _check_rendered(section)
        except ResultsFileError:
            raise
        except (LookupError, TypeError, ValueError, AttributeError, ArithmeticError, StopIteration) as err:
            # what a missing field, a null, a string, an empty list or a huge number in well-formed JSON raises
            detail = str(err) or ("an empty list or mapping" if isinstance(err, StopIteration) else "no detail")
            raise ResultsFileError(
                f"the outputs behind {question} in {str(folder)!r} lack a field the report reads or hold a value it "
                f"cannot use ({type(err).__name__}: {detail}); a command's output format changed, or a file was "
                "edited: delete that experiment's folder and rerun 'gnnhw report'"
            ) from None
        sections.append(section)
    return sections


# a value that is no measurement, as Python writes it into a sentence: null, NaN, infinity, a boolean, a container
_NOT_A_NUMBER = re.compile(r"(?<![\w.])(?:None|nan|NaN|-?inf|True|False)(?![\w.])|\[\]|\{\}|\[\{|\{'")


_NO_RUNS = re.compile(r"(?<![\w.])(?:0|-\d+) (?:seeds?|runs?)\b")


def _check_rendered(section: Section) -> None:
    """Refuse a section whose text shows a value that is no measurement (``T = None``, ``accuracy nan``, a table
    cell ``inf``): an output with a null, a string or an empty container where a number is read renders without
    an error. Raises ValueError (:func:`build_sections` names the question); generated text (the preformatted
    blocks, a sample quoted in a cell) is only checked to be text."""
    cells = [c for t in section.tables for row in t.rows for c in row]
    texts = [*section.answer, *(t.caption for t in section.tables), *(h for t in section.tables for h in t.header)]
    texts += [caption for _, caption in section.figures]
    shown = [*texts, *cells, *(x for pair in section.texts for x in pair), *(f for f, _ in section.figures)]
    bad = [x for x in shown if not isinstance(x, str)]
    if bad:
        raise TypeError(f"the section would show {bad[0]!r}, not text")
    for text in texts:
        for match in _NOT_A_NUMBER.finditer(text):
            before = text[: match.start()].rstrip()
            if match.group() in ("None", "True", "False") and (not before or before[-1] in ".!?"):
                continue  # the English word opening a sentence ('None beats the best plain GCN')
            raise ValueError(f"the section would say {match.group()!r}: {text[:80]!r}")
    for cell in cells:
        if _NOT_A_NUMBER.fullmatch(cell.strip()):
            raise ValueError(f"a table cell would show {cell!r}")
    for text in texts:
        if zero := _NO_RUNS.search(text):  # a measurement is a mean over at least one run
            raise ValueError(f"the section would say {zero.group()!r}: {text[:80]!r}")


# ---------------------------------------------------------------------------------------------------------------
# Rendering


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fence_for(text: str) -> str:
    """A code fence longer than any run of backticks in ``text`` (a sample holding ``` cannot close the block)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _md_destination(path: str) -> str:
    """A link destination for ``path``: in ``<...>`` where a space or parenthesis would end a bare one."""
    return f"<{path}>" if any(c.isspace() or c in "()<>" for c in path) else path


def to_markdown(sections: Sequence[Section], header: Sequence[str]) -> str:
    """The report as Markdown; figures are linked by their path in the report folder."""
    out = ["# gnnhw report: the assignment's questions, answered by measurement", ""]
    out += [*header, ""]
    out += ["## Contents", ""] + [f"- [{s.title}](#{s.anchor})" for s in sections] + [""]
    for s in sections:
        out += [f'<a id="{s.anchor}"></a>', f"## {s.title}", "", " ".join(s.answer), ""]
        for t in s.tables:
            if t.caption:
                out += [f"*{t.caption}*", ""]
            out.append("| " + " | ".join(_md_cell(h) for h in t.header) + " |")
            out.append("|" + "---|" * len(t.header))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
            out.append("")
        for label, text in s.texts:
            fence = _fence_for(text)
            out += [f"*{label}*", "", f"{fence}text", text.rstrip("\n"), fence, ""]
        for path, caption in s.figures:
            out += [f"![{caption}]({_md_destination(str(path))})", "", f"*{caption}*", ""]
        if s.commands:
            out += ["Reproduce (in the report folder):", "", "```sh", *s.commands, "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
    "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #bbb;padding:.2rem .5rem;text-align:right}"
    "td:first-child,th:first-child{text-align:left}pre{background:#f4f4f4;padding:.5rem;overflow-x:auto}"
    "img{max-width:100%}figcaption,caption{font-style:italic;color:#444}"
)


def _png_data(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def to_html(sections: Sequence[Section], header: Sequence[str], folder: Path) -> str:
    """The report as one self-contained HTML page: every figure embedded as a base64 PNG."""
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>gnnhw report</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>gnnhw report: the assignment's questions, answered by measurement</h1>",
    ]
    out += [f"<p>{e(line)}</p>" for line in header if line]
    out.append("<h2>Contents</h2><ul>")
    out += [f'<li><a href="#{s.anchor}">{e(s.title)}</a></li>' for s in sections]
    out.append("</ul>")
    for s in sections:
        out.append(f'<section id="{s.anchor}"><h2>{e(s.title)}</h2><p>{e(" ".join(s.answer))}</p>')
        for t in s.tables:
            out.append("<table>")
            if t.caption:
                out.append(f"<caption>{e(t.caption)}</caption>")
            out.append("<tr>" + "".join(f"<th>{e(h)}</th>" for h in t.header) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in t.rows]
            out.append("</table>")
        for label, text in s.texts:
            out.append(f"<p><em>{e(label)}</em></p><pre>{e(text)}</pre>")
        for path, caption in s.figures:
            data = _png_data(folder / path)
            if data is None:
                out.append(f"<p><em>figure {e(path)} is missing</em></p>")
            else:
                out.append(
                    f'<figure><img src="{data}" alt="{e(caption)}"><figcaption>{e(caption)}</figcaption></figure>'
                )
        if s.commands:
            out.append("<p>Reproduce (in the report folder):</p><pre>" + e("\n".join(s.commands)) + "</pre>")
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
