"""The assignment's palindrome experiments, as functions that return results.

- :func:`run_sweep`: test accuracy vs palindrome length for several models and seeds. The independent
  (model, length, seed) jobs run in parallel worker processes (:mod:`gnnhw.recurrent.workers`); each finished
  job is written to a results file at once (atomically), and a rerun with the same settings skips the jobs
  already there.
- :func:`compare_optimizers`: learning curves of SGD, SGD with momentum, RMSprop and Adam on one length.
- :func:`gradients_over_time`: ||dL/dh_t|| for every time step t of one palindrome, for a model.
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gnnhw._utils import atomic_write_text
from gnnhw.checks import SEED_MAX, check_value
from gnnhw.errors import ConfigError, DivergedError, ResultsFileError, check_positive_int
from gnnhw.jsonio import dumps, read_json
from gnnhw.recurrent.config import palindrome_fields_from_file, sweep_seeds
from gnnhw.recurrent.ensemble import seed_record
from gnnhw.recurrent.models import LSTM, MODELS, VanillaRNN
from gnnhw.recurrent.palindrome import palindrome_batch, train_test_generators
from gnnhw.recurrent.train import OPTIMIZERS, PalindromeConfig, PalindromeResult, build, train
from gnnhw.recurrent.workers import run_configs
from gnnhw.runs import OutputLock, check_output_file, clean_stale_temporaries
from gnnhw.schema import ANY, Bool, Float, Int, ListOf, MapOf, Record, Spec, Str

SWEEP_FORMAT = "gnnhw-palindrome-sweep/1"
_CONFIG_TYPES = typing.get_type_hints(PalindromeConfig)


def _job_key(model: str, length: int, seed: int) -> str:
    return f"{model}/T={length}/seed={seed}"


def _run_job(config: PalindromeConfig) -> dict[str, Any]:
    """Train one configuration (in a worker process); return a JSON-ready record."""
    return seed_record(train(config))


@dataclass
class SweepResult:
    """The records of a sweep (one per (model, length, seed) job) and their mean ± std per (model, length)."""

    records: list[dict[str, Any]]
    base: dict[str, Any]  # the shared config fields (model, length and seed left out)
    skipped: int  # jobs found finished in the results file and not rerun

    def summary(self) -> dict[str, dict[int, dict[str, float]]]:
        """{model: {length: {"mean", "std", "n"}}} of the test accuracy (std: sample std, 0 for one seed)."""
        groups: dict[str, dict[int, list[float]]] = {}
        for rec in self.records:
            groups.setdefault(rec["model"], {}).setdefault(rec["length"], []).append(rec["test_accuracy"])
        return {
            model: {
                length: {
                    "mean": statistics.fmean(accs),
                    "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                    "n": len(accs),
                }
                for length, accs in sorted(by_length.items())
            }
            for model, by_length in sorted(groups.items())
        }

    def to_dict(self) -> dict[str, Any]:
        summary = {m: {str(t): s for t, s in by_t.items()} for m, by_t in self.summary().items()}
        return {"format": SWEEP_FORMAT, "base": self.base, "records": self.records, "summary": summary}


def _base_fields(config: PalindromeConfig) -> dict[str, Any]:
    fields = dataclasses.asdict(config)
    for name in ("model", "length", "seed", "device"):
        fields.pop(name)
    return fields


class SweepFileError(ResultsFileError, ConfigError):
    """A ``sweep.json`` that cannot be resumed from: unreadable, not gnnhw's format, or a field of the wrong
    type or range (the message names the file and the field)."""


def _sweep_spec() -> Spec:
    """The schema of ``sweep.json`` (:data:`SWEEP_FORMAT`): what :func:`_load_sweep` accepts."""
    record = Record(
        {
            "model": Str(choices=tuple(sorted(MODELS))),
            "length": Int(min=2),
            "seed": Int(min=0, max=SEED_MAX),
            "test_accuracy": Float(0.0, 1.0),
        },
        {
            "steps": Int(min=0),
            "stopped_early": Bool(),
            "seconds": Float(min=0.0),
            "final_train_accuracy": Float(0.0, 1.0),
        },
    )
    return Record({"format": Str(choices=(SWEEP_FORMAT,)), "records": ListOf(record)}, {"base": MapOf(ANY)})


def _load_sweep(path: Path, base: dict[str, Any]) -> list[dict[str, Any]]:
    """The records already in ``path`` (none if it does not exist); :class:`SweepFileError` if the file is
    not a valid sweep file (naming the field), or :class:`ConfigError` if its settings differ."""
    if not path.exists():
        return []
    data = read_json(path, _sweep_spec(), what="sweep file", error=SweepFileError)
    seen: dict[str, int] = {}
    for i, rec in enumerate(data["records"]):  # two results for one job would both count in mean and n
        key = _job_key(rec["model"], rec["length"], rec["seed"])
        if key in seen:
            raise SweepFileError(
                f"sweep file {str(path)!r}: records[{i}] repeats the job of records[{seen[key]}] "
                f"({rec['model']}, T={rec['length']}, seed {rec['seed']}); the file was edited or merged by hand"
            )
        seen[key] = i
    # Fields added to PalindromeConfig after the file was written count as their defaults; fields written under
    # their old names (num_hidden, learning_rate, input_dim, backend="gnnhw"|"torch") are read as the new ones.
    stored = {**_base_fields(PalindromeConfig()), **palindrome_fields_from_file(data.get("base", {}))}
    for name in _base_fields(PalindromeConfig()):
        meta = next(f for f in dataclasses.fields(PalindromeConfig) if f.name == name).metadata.get("range")
        try:
            check_value(f"base.{name}", stored[name], _CONFIG_TYPES[name], meta)
        except ConfigError as err:
            raise SweepFileError(f"sweep file {str(path)!r}: {err}") from None
    if stored != base:
        changed = sorted(k for k in base if stored.get(k) != base[k])
        raise ConfigError(
            f"cannot resume from {path}: it was made with other settings ({', '.join(changed)}); "
            "use another output folder or the same settings"
        )
    return list(data["records"])


def run_sweep(
    base: PalindromeConfig,
    models: Sequence[str],
    lengths: Sequence[int],
    seeds: int | Sequence[int],
    results_path: str | os.PathLike,
    workers: int | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    executor: str = "local",
    address: str | None = None,
    threads: int = 1,
    batch_seeds: bool = True,
) -> SweepResult:
    """Test accuracy for every (model, length, seed), resumable through ``results_path`` (JSON).

    ``seeds`` is the number of runs per (model, length), with seeds ``base.seed, base.seed + 1, ...``
    (:func:`sweep_seeds`; a list of seeds, the old form, still works with a DeprecationWarning).
    ``base`` gives every other hyper-parameter. Jobs already recorded in ``results_path`` (written by an
    earlier run with the same ``base``) are skipped; each new job is added to the file, atomically, as soon
    as it finishes, so an interrupted sweep loses at most the jobs in flight. ``workers`` defaults to the
    number of CPU cores, each with ``threads`` torch threads. ``on_record(record)`` is called after each new
    job (e.g. to advance a progress bar). With ``batch_seeds`` (the default) the seeds of one (model, length)
    train together as one batched ensemble (:func:`gnnhw.recurrent.ensemble.train_seeds`: the same results as
    separate runs, within rounding), and their records are written when the last of them finishes; without,
    each seed is a job of its own. ``executor`` / ``address``: where the jobs run (:mod:`gnnhw.executors`:
    ``"local"`` worker processes, or ``"ray"``); either way this process alone writes the results file, so
    resuming works across executors.

    Every argument is checked before anything is written. The results file is locked for the sweep
    (:class:`gnnhw.runs.OutputLock`), so a second sweep on the same file is refused instead of losing jobs.

    Raises:
        ConfigError: a bad argument, or a results file made with other settings.
        OutputError: the results file cannot be written; OutputLockedError: another sweep is writing it.
        ExecutorError: an unknown executor, Ray not installed, or its cluster unreachable.
    """
    from gnnhw.executors import check_executor

    check_executor(executor, address)
    if not models or not lengths or (not isinstance(seeds, int) and not seeds):
        raise ConfigError("a sweep needs at least one model, one length and one seed")
    seed_list = sweep_seeds(base.seed, seeds)
    workers = workers if workers is not None else os.cpu_count() or 1
    check_positive_int("workers", workers)
    # Length-major order: an interrupted sweep has both models' results for its shorter lengths.
    configs = [
        dataclasses.replace(base, model=m, length=t, seed=s)
        for t in sorted(set(lengths))
        for m in models
        for s in seed_list
    ]
    for config in configs:
        config.validate()
    path = check_output_file(results_path)
    with OutputLock(path, folder=False):
        clean_stale_temporaries(path.parent)
        return _run_sweep_locked(base, configs, path, workers, on_record, threads, batch_seeds, executor, address)


def _run_seed_group(configs: tuple[PalindromeConfig, ...]) -> list[dict[str, Any]]:
    """Train the seeds of one (model, length) together (in a worker process); return their records."""
    from gnnhw.recurrent.ensemble import train_seeds

    return [seed_record(result) for result in train_seeds(configs)]


def _run_sweep_locked(
    base: PalindromeConfig,
    configs: list[PalindromeConfig],
    path: Path,
    workers: int,
    on_record: Callable[[dict[str, Any]], None] | None,
    threads: int = 1,
    batch_seeds: bool = True,
    executor: str = "local",
    address: str | None = None,
) -> SweepResult:
    fields = _base_fields(base)
    records = _load_sweep(path, fields)
    done = {_job_key(r["model"], r["length"], r["seed"]) for r in records}
    todo = [c for c in configs if _job_key(c.model, c.length, c.seed) not in done]
    wanted = {_job_key(c.model, c.length, c.seed) for c in configs}
    result = SweepResult(records=records, base=fields, skipped=len(configs) - len(todo))

    def save() -> None:
        atomic_write_text(path, dumps(result.to_dict()) + "\n")

    def on_done(config: PalindromeConfig, record: dict[str, Any]) -> None:
        records.append(record)
        records.sort(key=lambda r: (r["model"], r["length"], r["seed"]))
        save()
        if on_record is not None:
            on_record(record)

    if batch_seeds:  # one job per (model, length): its seeds as one ensemble
        groups: dict[tuple[str, int], list[PalindromeConfig]] = {}
        for config in todo:
            groups.setdefault((config.model, config.length), []).append(config)

        def on_group_done(group: tuple[PalindromeConfig, ...], group_records: list[dict[str, Any]]) -> None:
            for config, record in zip(group, group_records, strict=True):
                on_done(config, record)

        jobs = [tuple(group) for group in groups.values()]
        run_configs(jobs, workers, on_group_done, _run_seed_group, threads=threads, executor=executor, address=address)
    else:
        # (the file is first written when a job finishes; on_done runs here, whichever executor ran the job)
        run_configs(todo, workers, on_done, _run_job, threads=threads, executor=executor, address=address)
    # The file keeps every finished job; the returned result holds only the ones asked for now.
    return SweepResult(
        records=[r for r in records if _job_key(r["model"], r["length"], r["seed"]) in wanted],
        base=fields,
        skipped=result.skipped,
    )


def _run_curve_job(config: PalindromeConfig) -> dict[str, Any]:
    """Train one configuration (in a worker process); return its record with the learning curve."""
    record = train(config).to_dict()
    record.pop("config")
    return record


def compare_optimizers(
    base: PalindromeConfig,
    optimizers: Sequence[str] = OPTIMIZERS,
    workers: int = 1,
    executor: str = "local",
    address: str | None = None,
    threads: int = 1,
) -> dict[str, dict[str, Any]]:
    """Train ``base`` once per optimizer (same seed, data and initial weights); return each run's record
    with its learning curve: {optimizer: {"test_accuracy", "steps", "seconds", "curve_steps",
    "train_loss", "train_accuracy"}}. ``executor`` / ``address``: as :func:`run_sweep`."""
    for name in optimizers:
        if name not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")
    if not optimizers:
        raise ConfigError("compare_optimizers needs at least one optimizer")
    configs = [dataclasses.replace(base, optimizer=name) for name in optimizers]
    for config in configs:
        config.validate()
    out: dict[str, dict[str, Any]] = {}

    def on_done(config: PalindromeConfig, record: dict[str, Any]) -> None:
        out[config.optimizer] = record

    run_configs(configs, workers, on_done, job=_run_curve_job, threads=threads, executor=executor, address=address)
    return {name: out[name] for name in optimizers}


@torch.no_grad()
def _one_palindrome(length: int, seed: int, input_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    _, test_gen = train_test_generators(seed)
    return palindrome_batch(length, 1, test_gen, input_size)


def gradient_norms(model: VanillaRNN | LSTM, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """||dL/dh_t|| for t = 1 ... T (T = x.shape[1]) of the cross-entropy L of ``model`` on (x, y).

    dL/dh_t is the total derivative through every later step, computed by autograd on the unrolled
    model (:meth:`forward_with_states`); with a batch, the norm is over the batch's gradients together.
    """
    logits, states = model.forward_with_states(x)
    loss = nn.functional.cross_entropy(logits, y)
    grads = torch.autograd.grad(loss, states)
    norms = [float(g.norm()) for g in grads]
    if not all(math.isfinite(v) for v in norms):
        raise DivergedError(
            "the gradient norms ||dL/dh_t|| are not finite (the model's weights or the loss overflowed); "
            "lower the learning rate or the palindrome length"
        )
    return norms


@dataclass
class GradientsOverTime:
    """||dL/dh_t|| for t = 1 ... T-1 on one palindrome, per model, before and after training."""

    length: int
    untrained: dict[str, list[float]]  # {model: norms}
    trained: dict[str, list[float]]  # {model: norms}
    training: dict[str, dict[str, Any]]  # {model: {"steps", "test_accuracy", "seconds"}}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def decay_per_step(norms: Sequence[float], last: int = 30) -> float | None:
    """The mean factor by which ||dL/dh_t|| shrinks per step back from the end, over the last ``last``
    steps: exp(slope) of a least-squares line through log ||dL/dh_t||; 1 means no decay.

    ``None`` when it is not defined: fewer than two positive norms (e.g. a palindrome of length 2 has one
    hidden state). JSON output writes it as ``null``.
    """
    values = [math.log(v) for v in list(norms)[-last:] if v > 0 and math.isfinite(v)]
    n = len(values)
    if n < 2:
        return None
    xs = range(n)
    mean_x, mean_y = (n - 1) / 2, statistics.fmean(values)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, values, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    return math.exp(slope)  # log-norm rises by `slope` per step towards the end


def gradients_over_time(
    base: PalindromeConfig, models: Sequence[str] = ("rnn", "lstm"), progress: bool = False
) -> GradientsOverTime:
    """For each model: ||dL/dh_t|| on one palindrome of ``base.length`` (from the test stream of
    ``base.seed``) at initialization, then again after training with ``base``.

    Raises :class:`ConfigError` unless ``base.impl == "scratch"``: the hidden state of every step is read from
    gnnhw's own models (:meth:`~gnnhw.recurrent.models.VanillaRNN.forward_with_states`).
    """
    if base.impl != "scratch":
        raise ConfigError(f"gradients_over_time needs impl='scratch' (gnnhw's models), got impl={base.impl!r}")
    x, y = _one_palindrome(base.length, base.seed, base.input_size)
    out = GradientsOverTime(length=base.length, untrained={}, trained={}, training={})
    for name in models:
        config = dataclasses.replace(base, model=name)
        model = build(config)
        assert isinstance(model, VanillaRNN | LSTM)  # impl="scratch"
        out.untrained[name] = gradient_norms(model, x, y)
        result: PalindromeResult = train(config, progress=progress)
        trained = result.model
        assert isinstance(trained, VanillaRNN | LSTM)
        out.trained[name] = gradient_norms(trained.cpu(), x, y)
        out.training[name] = {
            "steps": result.steps,
            "test_accuracy": result.test_accuracy,
            "seconds": result.seconds,
        }
    return out
