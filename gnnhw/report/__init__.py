"""``gnnhw report``: every question of the assignment answered by a command, in one report.

:func:`make_report` runs each experiment as the ``gnnhw`` command a user would type (in a subprocess,
writing into ``DIR/<experiment>/``), reads the commands' JSON output and writes ``DIR/report.md`` and a
self-contained ``DIR/report.html``: per question, a short answer built from the measured numbers, the table
or figure behind it and the exact command that reproduces it. It is resumable: experiments recorded in
``DIR/report.json`` with the same settings are reused; a folder holding a report made with other settings is
refused unless ``replace`` (then only the differing experiments are rerun).

Budgets (:data:`gnnhw.report.plan.BUDGETS`): ``quick`` (minutes; CI), ``standard`` (under an hour on 2 CPU
cores), ``full`` (the assignment's settings).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from pathlib import Path

from gnnhw import __version__
from gnnhw._utils import atomic_write_text
from gnnhw.errors import DataNotFoundError
from gnnhw.report.plan import BUDGETS, TEXT_FILE, Budget, CommandOptions, Experiment, budget, build_plan
from gnnhw.report.publish import check_publish_dir, publish_lock, publish_under_lock
from gnnhw.report.render import Section, build_sections, to_html, to_markdown
from gnnhw.report.runner import Progress, Records, check_folder, run_experiments

__all__ = ["BUDGETS", "Budget", "CommandOptions", "Experiment", "ReportResult", "Section", "make_report", "build_plan"]


@dataclasses.dataclass
class ReportResult:
    """What :func:`make_report` did: the files written, the seconds per experiment (0.0: reused), the wall
    time of the call, and the sections (one per question)."""

    markdown: Path
    html: Path
    seconds: dict[str, float]
    wall_seconds: float
    sections: list[Section]


def _quiet(_: str) -> None:
    pass


def make_report(
    out: str | os.PathLike,
    budget_name: str,
    options: CommandOptions,
    data_root: str | os.PathLike,
    *,
    replace: bool = False,
    jobs: int = 1,
    progress: Progress = _quiet,
    publish_to: str | os.PathLike | None = None,
) -> ReportResult:
    """Run (or reuse) every experiment at ``budget_name`` in ``out`` and write the report there.

    Args:
        out: the report folder (created; locked while the report runs).
        budget_name: ``"quick"``, ``"standard"`` or ``"full"``.
        options: which options each gnnhw command accepts (the CLI passes its parser's answer).
        data_root: the data folder (its ``books/`` holds the text of Part 2; the Planetoid commands read
            ``$GNNHW_DATA`` themselves).
        replace: rerun the experiments recorded in ``out`` with other settings instead of refusing.
        jobs: experiments run at the same time (each one's commands in order).
        progress: called with one line per command started and experiment finished.
        publish_to: also replace this folder with a copy of ``report.md``, ``report.json`` and the figures
            (:func:`gnnhw.report.publish.publish`; checked before any work).

    Raises:
        ConfigError: an unknown budget.
        DataNotFoundError: ``data_root`` lacks the book of Part 2 (checked before any work).
        OutputError: ``out`` is a file, not writable, locked by another command, not a report folder, or a
            report made with other settings (without ``replace``); or ``publish_to`` cannot receive the copy
            (:func:`gnnhw.report.publish.check_publish_dir`); checked before any work.
        ExperimentError: a command failed (finished steps stay recorded; rerun to resume).
        ResultsFileError: an output the report reads is missing or malformed.
    """
    from gnnhw.runs import check_output_dir, prepare_outputs

    choice: Budget = budget(budget_name)
    folder = Path(out)
    data_root = os.path.abspath(data_root)  # the commands run in the report folder, not here
    started = time.monotonic()
    text = Path(data_root) / TEXT_FILE
    if not text.is_file():  # before any work: Part 2's commands would fail only after the others have run
        raise DataNotFoundError(
            f"the book of Part 2, {str(text)!r}, does not exist; give --data-root (or $GNNHW_DATA) the data folder "
            f"that holds {TEXT_FILE}"
        )
    plan = build_plan(choice, options, Path(data_root))
    check_output_dir(folder, "--out")
    check_folder(folder, plan, choice, replace)  # read only: a refused folder gets not even a lock file
    if publish_to is not None:
        publish_to = check_publish_dir(publish_to, folder)  # replaced whole at the end (built beside, swapped in)
    with (
        prepare_outputs(folders=[(folder, "--out")]),
        publish_lock(publish_to) if publish_to is not None else contextlib.nullcontext(),
    ):
        records: Records
        records, rerun = check_folder(folder, plan, choice, replace)  # again, under the lock
        seconds = run_experiments(folder, plan, records, rerun, choice.name, jobs=jobs, progress=progress)
        sections = build_sections(folder, plan, choice)
        shown = dict.fromkeys(figure for section in sections for figure, _ in section.figures)  # in order, once
        records.set("figures", list(shown))  # what --publish copies
        wall = time.monotonic() - started
        ran = sum(seconds.values())
        header = [
            f"Budget: {choice.name} ({choice.why}). gnnhw {__version__}.",
            (
                f"This call rendered the page again from the recorded outputs (all {len(plan)} experiments reused, "
                f"{wall:.0f} s); the measurements are those of the runs timed on the next line."
                if all(v == 0.0 for v in seconds.values())
                else f"This call took {wall:.0f} s of wall time ({ran:.0f} s summed over the experiments run now, "
                f"{sum(1 for v in seconds.values() if v == 0.0)} of {len(plan)} experiments reused)."
            ),
            "Recorded wall time of each experiment's commands when they ran: "
            + ", ".join(f"{e.key} {records.step_seconds(e.key):.0f} s" for e in plan)
            + ".",
            "Each section answers one question of the assignment from the numbers measured by the commands shown "
            "under it; they ran in this folder (paths are relative to it) with OMP_NUM_THREADS=1 unless set.",
        ]
        markdown = folder / "report.md"
        page = folder / "report.html"
        atomic_write_text(markdown, to_markdown(sections, header))
        atomic_write_text(page, to_html(sections, header, folder))
        if publish_to is not None:
            publish_under_lock(folder, Path(publish_to), data_root)
    return ReportResult(markdown, page, seconds, wall, sections)
