"""Copy a finished report's page, record and figures into another folder: ``gnnhw report --publish DIR``.

The copy is what a repository keeps under ``docs/``: ``report.md``, ``report.json`` (the commands, their
recorded run times and the figures the page shows, as the renderer listed them) and those figures, at the same
relative paths, so the page's links work there; never the experiments' other outputs (checkpoints, logs). The
data folder's path in the commands becomes
``$GNNHW_DATA``, so the page reads the same on every machine. The folder is replaced as a whole (built beside
it, then swapped in): a reader never finds half of an old and half of a new report.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import AbstractContextManager
from pathlib import Path

from gnnhw.errors import OutputError, ResultsFileError
from gnnhw.report.runner import FORMAT, RECORD

PAGE = "report.md"


def figures_of(record: object) -> list[str]:
    """The figures a report page shows, as ``gnnhw report`` listed them in its record (``"figures"``): relative
    paths inside the report folder.

    >>> figures_of({"figures": ["bptt/bptt.png", "sweep/sweep.png"]})
    ['bptt/bptt.png', 'sweep/sweep.png']

    Raises:
        ResultsFileError: the record lists no figures (a report of an older gnnhw: rerun it), or a path that is
            absolute, leaves the folder, names no file, is the page or the record, or is the folder of another
            figure (copying it would replace the page, the record or that figure).
    """
    figures = record.get("figures") if isinstance(record, dict) else None
    if not isinstance(figures, list) or not all(isinstance(f, str) for f in figures):
        raise ResultsFileError("the report record lists no figures; rerun 'gnnhw report' to write it again")
    names = {Path(f).as_posix() for f in figures}
    for figure in figures:
        path = Path(figure)
        if path.is_absolute() or ".." in path.parts:
            raise ResultsFileError(f"the report record lists the figure {figure!r}, outside the report folder")
        if not path.parts or path.as_posix() in (PAGE, RECORD) or any(p.as_posix() in names for p in path.parents):
            raise ResultsFileError(
                f"the report record lists the figure {figure!r}, which is no figure's path (the folder itself, the "
                "page, the record or another figure's folder); rerun 'gnnhw report' to write it again"
            )
    return figures


def _shown_on_page(folder: Path) -> list[str]:
    """The figures the page of a copy published before the record listed them shows: the relative targets of its
    image links (``![...](path)``), as that gnnhw found them."""
    try:
        page = (folder / PAGE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    targets = (t.strip("<>") for t in re.findall(r"!\[[^\]]*\]\(([^)\s]+|<[^>]*>)\)", page))
    return [t for t in targets if not Path(t).is_absolute() and ".." not in Path(t).parts and Path(t).parts]


def _is_published(folder: Path) -> bool:
    """Whether ``folder`` holds a copy :func:`publish` made and nothing else: its page, its record and the
    figures its page shows (a report's own folder, with checkpoints and logs, or a folder a user added files to,
    is not one: replacing it would delete them)."""
    from gnnhw.jsonio import read_json

    if not (folder / PAGE).is_file() or not (folder / RECORD).is_file():
        return False
    try:
        data = read_json(folder / RECORD, what="report record")
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return False
        listed = figures_of(data) if "figures" in data else _shown_on_page(folder)  # before the record listed them
        shown = {PAGE, RECORD, *(Path(f).as_posix() for f in listed)}
    except ResultsFileError:
        return False
    above = {parent.as_posix() for f in shown for parent in Path(f).parents if parent != Path(".")}
    for entry in folder.rglob("*"):
        name = entry.relative_to(folder).as_posix()
        if entry.is_symlink() or not (name in shown and entry.is_file() or name in above and entry.is_dir()):
            return False
    return True


def check_publish_dir(dest: str | os.PathLike, report_folder: str | os.PathLike) -> Path:
    """Check, before any work, that ``dest`` can receive a copy of the report in ``report_folder``.

    Raises:
        OutputError: ``dest`` is a file or not writable, is the report folder or inside it (or holds it), or
            is a folder that holds other files than a report copied there before.

    Returns:
        ``dest`` as an absolute path, symbolic links resolved.
    """
    from gnnhw.runs import check_output_dir

    # the real path: '.' or 'x/..' have no name to swap in, and a link (docs/report -> ../site/report) is
    # kept, its target replaced (swapping the link itself would leave the target stale and the link aside)
    dest = Path(os.path.realpath(check_output_dir(dest, "--publish")))
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


_ENV = "$GNNHW_DATA"


def _under(arg: str, root: str) -> str | None:
    """The rest of ``arg`` after the data folder ``root`` ('' for the folder itself), or None if outside it."""
    if arg == root:
        return ""
    prefix = root if root.endswith("/") else root + "/"
    return "/" + arg[len(prefix) :] if arg.startswith(prefix) else None


def _portable_arg(arg: str, root: str) -> str:
    """One argument (not shell text): a path in the data folder written ``$GNNHW_DATA/...``."""
    rest = _under(arg, root)
    return arg if rest is None else _ENV + rest


def _portable_line(line: str, root: str) -> str:
    r"""One shell command line: each argument that is a path in the data folder written ``$GNNHW_DATA/...``,
    quoted so that the shell still expands the variable, in double quotes where the data folder's own path
    needs quoting (a line the shell cannot split is kept as it is).

    >>> _portable_line("gnnhw x --text '/my data/books/a b.txt' --data-root '/my data' --y /my", "/my data")
    'gnnhw x --text "$GNNHW_DATA"\'/books/a b.txt\' --data-root "$GNNHW_DATA" --y /my'
    """
    import shlex

    try:
        words = shlex.split(line)
    except ValueError:
        return line
    rests = [_under(w, root) for w in words]
    if all(r is None for r in rests):
        return line
    out = []
    for word, rest in zip(words, rests, strict=True):
        if rest is None:
            out.append(shlex.quote(word))
        elif shlex.quote(root) != root:  # "$GNNHW_DATA": its value has spaces here, it may elsewhere
            out.append(f'"{_ENV}"' + (shlex.quote(rest) if rest else ""))
        elif rest == "" or shlex.quote(rest) == rest:
            out.append(_ENV + rest)
        else:
            out.append(_ENV + shlex.quote(rest))
    return " ".join(out)


def _portable(markdown: str, data_root: Path | None) -> str:
    r"""``markdown`` with the data folder's path, where a command in a ``sh`` block names it, written
    ``$GNNHW_DATA`` (prose is never touched: a data folder such as ``/data`` or ``data`` is also a word).

    >>> _portable("data\n```sh\ngnnhw t --text /data/books/a.txt --data-root /data --x /database\n```\n", Path("/data"))
    'data\n```sh\ngnnhw t --text $GNNHW_DATA/books/a.txt --data-root $GNNHW_DATA --x /database\n```\n'
    """
    if data_root is None:
        return markdown
    root, lines, shell = str(data_root), markdown.split("\n"), False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            shell = not shell and line.strip() == "```sh"
        elif shell:
            lines[i] = _portable_line(line, root)
    return "\n".join(lines)


def _portable_record(record: object, data_root: Path | None) -> object:
    """The report record (parsed JSON) with the data folder written ``$GNNHW_DATA``: in each argument of the
    commands' settings (lists of arguments) and in every other text as a shell line (``commands``)."""
    if data_root is None:
        return record
    root = str(data_root)
    if isinstance(record, dict):
        return {k: _portable_record(v, data_root) for k, v in record.items()}
    if isinstance(record, list):
        if all(isinstance(v, str) for v in record) and not all(v.startswith("gnnhw ") for v in record):
            return [_portable_arg(v, root) for v in record]  # one command's arguments
        return [_portable_record(v, data_root) for v in record]
    if isinstance(record, str):
        return _portable_line(record, root)
    return record


def publish(report_folder: str | os.PathLike, dest: str | os.PathLike, data_root: str | os.PathLike | None) -> Path:
    """Replace ``dest`` with ``report.md``, ``report.json`` and the figures of the report in ``report_folder``.

    The copy is built beside ``dest`` (``.NAME.publishing-PID``) and swapped in under a lock on ``dest``;
    the temporaries of a publish that was killed are removed first (a previous copy it had moved aside,
    ``.NAME.replaced-PID``, is put back if ``dest`` is missing). Interrupted or failed, ``dest`` is the old
    copy or the new one, whole.

    Args:
        report_folder: a folder ``gnnhw report`` finished (its ``report.md`` written).
        dest: the folder to replace (checked by :func:`check_publish_dir`).
        data_root: the data folder the commands name; written ``$GNNHW_DATA`` in the copied page.

    Returns:
        ``dest`` as an absolute path.

    Raises:
        ResultsFileError: the record lists a figure the report folder lacks, a path outside it or a link out of
            it, or a path that is not a figure's (:func:`figures_of`).
        OutputError: see :func:`check_publish_dir`; or the copy could not be written (a full disk ...).
        OutputLockedError: another command is publishing to ``dest``.
    """
    from gnnhw.runs import OutputLock

    checked = check_publish_dir(dest, report_folder)
    with OutputLock(checked, folder=False, label="--publish"):
        return publish_under_lock(report_folder, checked, data_root)


def publish_lock(dest: str | os.PathLike) -> AbstractContextManager[object]:
    """The lock :func:`publish` takes on ``dest``, for a caller that holds it from before its work starts
    (then calls :func:`publish_under_lock`)."""
    from gnnhw.runs import OutputLock

    return OutputLock(Path(os.path.realpath(dest)), folder=False, label="--publish")


def _clean_stale(dest: Path) -> None:
    """Under the lock on ``dest``: remove what killed publishes left beside it, restoring a moved-aside copy."""
    pattern = re.compile(rf"\.{re.escape(dest.name)}\.(publishing|replaced)-\d+")
    for entry in sorted(dest.parent.iterdir()):
        match = pattern.fullmatch(entry.name)
        if match is None or not entry.is_dir() or entry.is_symlink():
            continue
        if match.group(1) == "replaced" and not dest.exists() and _is_published(entry):
            entry.rename(dest)  # the previous copy, moved aside by a publish killed before the swap
        else:
            shutil.rmtree(entry, ignore_errors=True)


def publish_under_lock(report_folder: str | os.PathLike, dest: Path, data_root: str | os.PathLike | None) -> Path:
    """:func:`publish`, for a caller that holds :func:`publish_lock` on ``dest`` (``gnnhw report`` takes it
    before its experiments start, so that two reports never publish to one folder)."""
    from gnnhw._utils import describe_os_error
    from gnnhw.jsonio import dumps, read_json

    source, dest = Path(report_folder), check_publish_dir(dest, report_folder)
    page = (source / PAGE).read_text(encoding="utf-8")
    raw = read_json(source / RECORD, what="report record")
    figures = figures_of(raw)
    inside = Path(os.path.realpath(source))
    for figure in figures:
        if not (source / figure).is_file():
            raise ResultsFileError(
                f"the page in {str(source)!r} shows {figure!r}, which is not there; rerun 'gnnhw report' there"
            )
        if inside not in Path(os.path.realpath(source / figure)).parents:
            raise ResultsFileError(
                f"the figure {figure!r} in {str(source)!r} is a link to a file outside the report folder, which "
                "would be published with it; rerun 'gnnhw report' there to draw it again"
            )
    root = _root(data_root)
    # the figures are paths inside the report folder, never command arguments: kept as listed (as copied)
    record = {k: v if k == "figures" else _portable_record(v, root) for k, v in raw.items()}
    new = dest.parent / f".{dest.name}.publishing-{os.getpid()}"
    old = dest.parent / f".{dest.name}.replaced-{os.getpid()}"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _clean_stale(dest)
        check_publish_dir(dest, report_folder)  # again: a restored copy, or files added meanwhile
        try:
            new.mkdir()
            (new / PAGE).write_text(_portable(page, root), encoding="utf-8")
            (new / RECORD).write_text(dumps(record) + "\n", encoding="utf-8")
            for figure in figures:
                (new / figure).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / figure, new / figure)
            try:
                if dest.exists():
                    dest.rename(old)
                new.rename(dest)
            except BaseException:
                if old.exists() and not dest.exists():
                    old.rename(dest)  # the previous copy back, whole (also when a signal lands between the renames)
                raise
        finally:
            shutil.rmtree(new, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as err:
        raise OutputError(
            f"--publish {str(dest)!r}: cannot write the copy ({describe_os_error(err)}); the report in "
            f"{str(source)!r} is complete, and {str(dest)!r} is as it was: free space or fix permissions, then "
            "rerun the same command"
        ) from None
    return dest


def _root(data_root: str | os.PathLike | None) -> Path | None:
    return None if data_root is None else Path(data_root)
