"""Copy a finished report's page, record and figures into another folder: ``gnnhw report --publish DIR``.

The copy is what a repository keeps under ``docs/``: ``report.md``, ``report.json`` (the commands and their
recorded run times) and every figure ``report.md`` shows, at the same relative paths, so its links work there;
never the experiments' other outputs (checkpoints, logs). The data folder's path in the commands becomes
``$GNNHW_DATA``, so the page reads the same on every machine. The folder is replaced as a whole (built beside
it, then swapped in): a reader never finds half of an old and half of a new report.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from gnnhw.errors import OutputError, ResultsFileError
from gnnhw.report.runner import FORMAT, RECORD

PAGE = "report.md"
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def figures_of(markdown: str) -> list[str]:
    """The relative paths of the images a report page shows, in order, each once.

    >>> figures_of("![a](bptt/bptt.png) text ![b](sweep/sweep.png) ![a again](bptt/bptt.png)")
    ['bptt/bptt.png', 'sweep/sweep.png']
    """
    seen: dict[str, None] = {}
    for path in _IMAGE.findall(markdown):
        seen.setdefault(path, None)
    return list(seen)


def _is_published(folder: Path) -> bool:
    from gnnhw.jsonio import read_json

    if not (folder / PAGE).is_file() or not (folder / RECORD).is_file():
        return False
    try:
        data = read_json(folder / RECORD, what="report record")
    except ResultsFileError:
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def check_publish_dir(dest: str | os.PathLike, report_folder: str | os.PathLike) -> Path:
    """Check, before any work, that ``dest`` can receive a copy of the report in ``report_folder``.

    Raises:
        OutputError: ``dest`` is a file or not writable, is the report folder or inside it (or holds it), or
            is a folder that holds other files than a report copied there before.
    """
    from gnnhw.runs import check_output_dir

    dest = check_output_dir(dest, "--publish")
    here, there = Path(os.path.realpath(report_folder)), Path(os.path.realpath(dest))
    if here == there or here in there.parents or there in here.parents:
        raise OutputError(
            f"--publish {str(dest)!r} is the report folder, inside it or above it; give a folder of its own "
            "(such as docs/report)"
        )
    if dest.is_dir() and any(dest.iterdir()) and not _is_published(dest):
        raise OutputError(
            f"--publish {str(dest)!r} holds other files than a published report, which would be replaced; give a "
            "new or empty folder"
        )
    return dest


def _portable(markdown: str, data_root: Path | None) -> str:
    """``markdown`` with the data folder's path, where it stands as a whole path, written ``$GNNHW_DATA``.

    >>> _portable("--text /data/books/a.txt --data-root /data --x /database", Path("/data"))
    '--text $GNNHW_DATA/books/a.txt --data-root $GNNHW_DATA --x /database'
    """
    if data_root is None:
        return markdown
    root = re.escape(str(data_root).rstrip("/"))
    return re.sub(rf"(?<![\w/.-]){root}(?![\w.-])", "$GNNHW_DATA", markdown)


def publish(report_folder: str | os.PathLike, dest: str | os.PathLike, data_root: str | os.PathLike | None) -> Path:
    """Replace ``dest`` with ``report.md``, ``report.json`` and the figures of the report in ``report_folder``.

    Args:
        report_folder: a folder ``gnnhw report`` finished (its ``report.md`` written).
        dest: the folder to replace (checked by :func:`check_publish_dir`).
        data_root: the data folder the commands name; written ``$GNNHW_DATA`` in the copied page.

    Returns:
        ``dest``.

    Raises:
        ResultsFileError: the page names a figure the report folder lacks, or a path outside it.
        OutputError: see :func:`check_publish_dir`.
    """
    source, dest = Path(report_folder), check_publish_dir(dest, report_folder)
    page = (source / PAGE).read_text(encoding="utf-8")
    figures = figures_of(page)
    for figure in figures:
        path = Path(figure)
        if path.is_absolute() or ".." in path.parts or not (source / path).is_file():
            raise ResultsFileError(
                f"{str(source / PAGE)!r} shows {figure!r}, which is not a file inside the report folder; rerun "
                "'gnnhw report' there"
            )
    dest.parent.mkdir(parents=True, exist_ok=True)
    new = dest.parent / f".{dest.name}.publishing-{os.getpid()}"
    old = dest.parent / f".{dest.name}.replaced-{os.getpid()}"
    root = None if data_root is None else Path(data_root)
    shutil.rmtree(new, ignore_errors=True)
    try:
        new.mkdir()
        (new / PAGE).write_text(_portable(page, root), encoding="utf-8")
        record = (source / RECORD).read_text(encoding="utf-8")
        (new / RECORD).write_text(_portable(record, root), encoding="utf-8")
        for figure in figures:
            (new / figure).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / figure, new / figure)
        if dest.exists():
            dest.rename(old)
        try:
            new.rename(dest)
        except BaseException:
            if old.exists() and not dest.exists():
                old.rename(dest)  # the previous copy back, whole
            raise
    finally:
        shutil.rmtree(new, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return dest
