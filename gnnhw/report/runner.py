"""Running the report's experiments in a report folder, resumably.

The folder holds ``report.json`` (the budget and, per experiment, its settings and which steps finished),
one sub-folder per experiment with what its commands wrote (``<step>.out`` is a step's standard output,
``<step>.err`` its standard error), and at the end ``report.md`` and ``report.html``.

An experiment whose recorded settings equal the planned ones is reused (its finished steps are not run
again); one recorded with other settings is a conflict: the folder is left as it is unless ``replace`` is
given, and then only the differing experiments are rerun.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from gnnhw._utils import TEMP_MARK, atomic_write_text, describe_os_error
from gnnhw.errors import ExperimentError, OutputError, ResultsFileError
from gnnhw.jsonio import dumps, read_json
from gnnhw.report.plan import Budget, Experiment, Step
from gnnhw.runs import LOCK_NAME

RECORD = "report.json"
FORMAT = "gnnhw-report/1"
REPORT_FILES = ("report.md", "report.html")
Progress = Callable[[str], None]
GNNHW = (sys.executable, "-m", "gnnhw")  # every step runs as 'python -m gnnhw ARGS' with this interpreter


def _quiet(_: str) -> None:
    pass


class Records:
    """``DIR/report.json``: the budget and each experiment's settings and finished steps (thread-safe)."""

    def __init__(self, folder: Path, data: dict[str, Any]) -> None:
        self.folder = folder
        self.data = data
        self._lock = threading.Lock()

    @classmethod
    def read(cls, folder: Path) -> Records | None:
        """The records of ``folder``, or None when it holds no report.json.

        Raises:
            ResultsFileError: report.json is not one gnnhw wrote.
        """
        path = folder / RECORD
        if not path.exists():
            return None
        data = read_json(path, what="report record")
        ok = (
            isinstance(data, dict)
            and data.get("format") == FORMAT
            and isinstance(data.get("experiments"), dict)
            and all(isinstance(v, dict) for v in data["experiments"].values())
        )
        if not ok:
            raise ResultsFileError(
                f"report record {str(path)!r} is not one 'gnnhw report' wrote (format {FORMAT}); give another --out"
            )
        return cls(folder, data)

    def experiment(self, key: str) -> dict[str, Any] | None:
        return self.data["experiments"].get(key)

    def matches(self, exp: Experiment) -> bool:
        record = self.experiment(exp.key)
        return record is not None and record.get("settings") == exp.settings()

    def step_done(self, exp: Experiment, step: Step) -> bool:
        record = self.experiment(exp.key)
        if record is None or record.get("settings") != exp.settings():
            return False
        done = record.get("steps", {}).get(step.name, {}).get("status") == "done"
        return done and all((self.folder / p).exists() for p in step.outputs)

    def start(self, exp: Experiment) -> None:
        with self._lock:
            if not self.matches(exp):
                self.data["experiments"][exp.key] = {
                    "title": exp.title,
                    "hash": exp.settings_hash(),
                    "settings": exp.settings(),
                    "commands": [s.shell() for s in exp.steps],
                    "steps": {},
                }
            self._save()

    def finish_step(self, exp: Experiment, step: Step, seconds: float) -> None:
        with self._lock:
            record = self.data["experiments"][exp.key]
            record["steps"][step.name] = {"status": "done", "seconds": round(seconds, 3)}
            self._save()

    def step_seconds(self, key: str) -> float:
        """The wall seconds of experiment ``key``'s finished steps, as recorded when they ran (0.0 if none)."""
        record = self.experiment(key) or {}
        return sum(float(step.get("seconds", 0.0)) for step in record.get("steps", {}).values())

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self.data[key] = value
            self._save()

    def _save(self) -> None:
        atomic_write_text(self.folder / RECORD, dumps(self.data) + "\n")


def _foreign_entries(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name != LOCK_NAME and TEMP_MARK not in p.name)


def check_folder(folder: Path, plan: list[Experiment], choice: Budget, replace: bool) -> tuple[Records, list[str]]:
    """Read (or start) the records of ``folder`` and decide what to rerun; refuse a conflict.

    Returns the records and the keys of experiments recorded with other settings (to be rerun; only with
    ``replace``). Nothing is written when this raises.

    Raises:
        OutputError: ``folder`` holds files but no report record (not a report folder), or a report made with
            other settings and ``replace`` is false.
        ResultsFileError: its report.json is unreadable or not one gnnhw wrote.
    """
    records = Records.read(folder)
    if records is None:
        foreign = _foreign_entries(folder)
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise OutputError(
                f"--out {str(folder)!r} is not empty ({shown}) and holds no {RECORD}, so it is not a report "
                "folder; give a new or empty folder (nothing was changed)"
            )
        return Records(folder, {"format": FORMAT, "budget": choice.name, "experiments": {}}), []
    differing = [e.key for e in plan if records.experiment(e.key) is not None and not records.matches(e)]
    if differing and not replace:
        matching = [e.key for e in plan if records.matches(e)]
        raise OutputError(
            f"--out {str(folder)!r} holds a report made with other settings (budget "
            f"{records.data.get('budget')!r}; differing: {', '.join(differing)}; matching: "
            f"{', '.join(matching) or 'none'}); nothing was changed: give another --out, or add --replace to "
            "rerun the differing experiments and reuse the matching ones"
        )
    return records, differing


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def child_env() -> dict[str, str]:
    """The environment of every step: this one, with one torch thread per process unless set
    (``OMP_NUM_THREADS=1``; several steps may run at once)."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


class _Runner:
    def __init__(self, folder: Path, records: Records, progress: Progress, launcher: Sequence[str]) -> None:
        self.launcher = list(launcher)
        self.folder = folder
        self.records = records
        self.progress = progress
        self.procs: set[subprocess.Popen[bytes]] = set()
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run_experiment(self, exp: Experiment, label: str) -> tuple[str, float, int]:
        """Run the steps of ``exp`` not yet done; (key, seconds, steps run)."""
        self.records.start(exp)
        (self.folder / exp.key).mkdir(exist_ok=True)
        started = time.monotonic()
        ran = 0
        for step in exp.steps:
            if self.stopping.is_set():
                break
            if self.records.step_done(exp, step):
                continue
            self.progress(f"{label} {exp.key}: {step.shell()}")
            seconds = self.run_step(exp, step)
            self.records.finish_step(exp, step, seconds)
            ran += 1
        return exp.key, time.monotonic() - started, ran

    def run_step(self, exp: Experiment, step: Step) -> float:
        for output in step.outputs:
            _remove(self.folder / output)
        out_path = self.folder / exp.key / f"{step.name}.out"
        err_path = self.folder / exp.key / f"{step.name}.err"
        start = time.monotonic()
        try:
            out_file, err_file = open(out_path, "wb"), open(err_path, "wb")  # noqa: SIM115 - closed below
        except OSError as error:
            raise OutputError(f"cannot write in {str(out_path.parent)!r}: {describe_os_error(error)}") from None
        with out_file as out, err_file as err:
            proc = subprocess.Popen(
                [*self.launcher, *step.argv],
                cwd=self.folder,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=child_env(),
            )
            with self.lock:
                self.procs.add(proc)
            if self.stopping.is_set():  # stop_all ran between the check in run_experiment and Popen
                proc.terminate()
            try:
                code = proc.wait()
            finally:
                with self.lock:
                    self.procs.discard(proc)
        seconds = time.monotonic() - start
        if code != 0:
            if self.stopping.is_set():
                raise ExperimentError(f"'{step.shell()}' stopped")
            lines = err_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            last = lines[-1] if lines else "no message"
            raise ExperimentError(
                f"'{step.shell()}' (in {str(self.folder)!r}) failed with exit code {code}: {last} "
                f"(all of its stderr: {str(err_path)!r}); rerun 'gnnhw report' to resume"
            )
        return seconds

    def stop_all(self) -> None:
        self.stopping.set()
        with self.lock:
            procs = list(self.procs)
        for proc in procs:
            with contextlib.suppress(OSError):
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def _terminating(runner: _Runner) -> Iterator[None]:
    try:
        yield
    finally:
        runner.stop_all()


def run_experiments(
    folder: Path,
    plan: list[Experiment],
    records: Records,
    rerun: list[str],
    budget_name: str,
    jobs: int = 1,
    progress: Progress = _quiet,
    launcher: Sequence[str] = GNNHW,
) -> dict[str, float]:
    """Run every experiment of ``plan`` whose steps are not all done, ``jobs`` experiments at a time.

    The outputs of the experiments in ``rerun`` (recorded with other settings) are removed first. Returns
    each experiment's wall seconds in this call (0.0 when reused). ``launcher`` is the program the steps'
    arguments are given to (``python -m gnnhw`` of this interpreter).

    Raises:
        ExperimentError: a command failed (the others running are stopped; finished steps stay recorded).
    """
    for key in rerun:
        _remove(folder / key)
        records.data["experiments"].pop(key, None)
    records.set("budget", budget_name)  # written before any step runs: from now on the folder is a report folder
    seconds: dict[str, float] = {}
    todo = []
    for index, exp in enumerate(plan, 1):
        label = f"[{index}/{len(plan)}]"
        if all(records.step_done(exp, s) for s in exp.steps):
            progress(f"{label} {exp.key}: reused (settings {exp.settings_hash()} match)")
            seconds[exp.key] = 0.0
        else:
            todo.append((exp, label))
    runner = _Runner(folder, records, progress, launcher)
    with _terminating(runner), concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(runner.run_experiment, exp, label): label for exp, label in todo}
        try:
            for future in concurrent.futures.as_completed(futures):
                key, took, ran = future.result()
                seconds[key] = took
                progress(f"{futures[future]} {key}: done in {took:.1f} s ({ran} commands)")
        except BaseException:
            runner.stop_all()
            for future in futures:
                future.cancel()
            raise
    return seconds
