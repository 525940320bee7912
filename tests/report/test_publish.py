"""``gnnhw report --publish DIR``: the page, the record and the figures it shows, swapped in whole; refusals first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gnnhw.cli import main
from gnnhw.errors import OutputError, ResultsFileError
from gnnhw.report.publish import check_publish_dir, publish
from gnnhw.report.runner import FORMAT, RECORD

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 16


def _report(folder: Path, data_root: str = "/data/root", figures: tuple[str, ...] = ("a/one.png", "b/two.png")) -> Path:
    folder.mkdir(parents=True)
    page = "# report\n" + "".join(f"![figure {i}]({f})\n" for i, f in enumerate(figures))
    page += f"```sh\ngnnhw textgen train --text {data_root}/books/x.txt --out textgen/run\n"
    page += f"gnnhw train-gcn --data-root {data_root} --seeds 2\n```\n"
    (folder / "report.md").write_text(page)
    record = {"format": FORMAT, "data": f"--data-root {data_root}", "figures": list(figures)}
    (folder / RECORD).write_text(json.dumps(record))
    for figure in figures:
        (folder / figure).parent.mkdir(parents=True, exist_ok=True)
        (folder / figure).write_bytes(PNG)
    (folder / "textgen" / "run").mkdir(parents=True)
    (folder / "textgen" / "run" / "checkpoint.pt").write_bytes(b"weights")  # never copied
    return folder


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_publish_copies_the_page_record_and_shown_figures_only(tmp_path: Path):
    report = _report(tmp_path / "out")
    dest = publish(report, tmp_path / "docs" / "report", "/data/root")
    assert _files(dest) == {"report.md", RECORD, "a/one.png", "b/two.png"}
    page = (dest / "report.md").read_text()
    assert "--text $GNNHW_DATA/books/x.txt" in page and "--data-root $GNNHW_DATA --seeds" in page
    assert "/data/root" not in page and "/data/root" not in (dest / RECORD).read_text()
    assert (dest / "a/one.png").read_bytes() == PNG


def test_publish_again_replaces_the_whole_copy(tmp_path: Path):
    dest = tmp_path / "docs"
    publish(_report(tmp_path / "first"), dest, None)
    publish(_report(tmp_path / "second", figures=("c/three.png",)), dest, None)
    assert _files(dest) == {"report.md", RECORD, "c/three.png"}  # the old figures are gone, not left beside
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_a_figure_missing_from_the_report_is_refused_and_the_old_copy_kept(tmp_path: Path):
    dest = tmp_path / "docs"
    publish(_report(tmp_path / "first"), dest, None)
    broken = _report(tmp_path / "second", figures=("gone.png",))
    (broken / "gone.png").unlink()
    with pytest.raises(ResultsFileError, match="gone.png"):
        publish(broken, dest, None)
    assert _files(dest) == {"report.md", RECORD, "a/one.png", "b/two.png"}


@pytest.mark.parametrize("where", ["same", "inside", "above"])
def test_the_report_folder_itself_inside_or_above_is_refused(tmp_path: Path, where: str):
    report = _report(tmp_path / "out")
    dest = {"same": report, "inside": report / "docs", "above": tmp_path}[where]
    with pytest.raises(OutputError, match="--publish"):
        check_publish_dir(dest, report)


def test_a_folder_of_other_files_is_refused_and_kept(tmp_path: Path):
    dest = tmp_path / "docs"
    dest.mkdir()
    (dest / "architecture.md").write_text("keep me")
    with pytest.raises(OutputError, match="other files"):
        publish(_report(tmp_path / "out"), dest, None)
    assert _files(dest) == {"architecture.md"}


def test_cli_refuses_a_bad_publish_folder_before_any_work(tmp_path: Path, capsys):
    books = tmp_path / "data" / "books"
    books.mkdir(parents=True)
    (books / "book_EN_grimms_fairy_tails.txt").write_text("once upon a time")
    dest = tmp_path / "docs"
    dest.mkdir()
    (dest / "notes.md").write_text("keep me")
    out = tmp_path / "out"
    code = main(
        [
            "report",
            "--out",
            str(out),
            "--budget",
            "quick",
            "--data-root",
            str(tmp_path / "data"),
            "--publish",
            str(dest),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--publish" in err[0], err
    assert not out.exists()  # nothing ran
    assert _files(dest) == {"notes.md"}


# --- faults found by fault injection (breaker2) --------------------------------------------------------------


def test_another_reports_own_folder_is_refused_and_kept(tmp_path: Path):
    """A report folder has report.md and report.json too, but also checkpoints: it is not an earlier copy."""
    other = _report(tmp_path / "other")  # holds textgen/run/checkpoint.pt
    with pytest.raises(OutputError, match="other files"):
        publish(_report(tmp_path / "out"), other, None)
    assert (other / "textgen" / "run" / "checkpoint.pt").read_bytes() == b"weights"


@pytest.mark.parametrize("added", ["notes.md", "a/extra.png", ".git/HEAD", "empty_folder/"])
def test_an_earlier_copy_with_files_added_is_refused_and_kept(tmp_path: Path, added: str):
    dest = publish(_report(tmp_path / "first"), tmp_path / "docs", None)
    (dest / added.rstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    if added.endswith("/"):
        (dest / added).mkdir()
    else:
        (dest / added).write_text("keep me")
    with pytest.raises(OutputError, match="other files"):
        publish(_report(tmp_path / "second"), dest, None)
    assert (dest / added.rstrip("/")).exists()


@pytest.mark.parametrize("spelling", [".", "./docs/../docs/.", "out/../docs"])
def test_a_folder_spelled_with_dots_is_published_to(tmp_path: Path, monkeypatch, spelling: str):
    report = _report(tmp_path / "out")
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path / "docs")
    if spelling != ".":
        monkeypatch.chdir(tmp_path)
    publish(report, spelling, None)
    assert _files(tmp_path / "docs") == {"report.md", RECORD, "a/one.png", "b/two.png"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("root", ["data", "/data", "/"])
def test_prose_naming_the_data_folder_is_not_rewritten(tmp_path: Path, root: str):
    report = _report(tmp_path / "out", data_root=root.rstrip("/"))
    prose = "GNNs suit data that is a graph; see /data and /usr/share.\n"
    (report / "report.md").write_text(prose + (report / "report.md").read_text())
    page = (publish(report, tmp_path / "docs", root) / "report.md").read_text()
    assert page.startswith(prose)
    assert "--text $GNNHW_DATA/books/x.txt" in page


def test_a_data_folder_with_accents_leaves_the_record_too(tmp_path: Path):
    import shlex

    root = str(tmp_path / "données")
    report = _report(tmp_path / "out", data_root=root)
    command = f"gnnhw textgen train --text {root}/books/x.txt"
    settings = [["run", "textgen", "train", "--text", f"{root}/books/x.txt"]]
    record = {"format": FORMAT, "commands": [command], "settings": settings, "figures": ["a/one.png", "b/two.png"]}
    (report / RECORD).write_text(json.dumps(record))
    published = (publish(report, tmp_path / "docs", root) / RECORD).read_text(encoding="utf-8")
    (line,) = json.loads(published)["commands"]
    assert shlex.split(line) == ["gnnhw", "textgen", "train", "--text", "$GNNHW_DATA/books/x.txt"]  # as typed
    assert json.loads(published)["settings"] == [["run", "textgen", "train", "--text", "$GNNHW_DATA/books/x.txt"]]
    assert "donn" not in published


def test_a_data_folder_with_spaces_still_expands_in_the_shell(tmp_path: Path):
    import shlex
    import subprocess

    root = tmp_path / "my data (1)"
    (root / "books").mkdir(parents=True)
    command = f"gnnhw t --text {shlex.quote(str(root / 'books' / 'a b.txt'))} --data-root {shlex.quote(str(root))}"
    report = _report(tmp_path / "out", data_root="/nowhere")
    (report / "report.md").write_text(f"```sh\n{command}\n```\n")
    line = (publish(report, tmp_path / "docs", root) / "report.md").read_text().splitlines()[1]
    assert str(root) not in line
    shown = subprocess.run(
        ["bash", "-c", "printf '%s\\n' " + line.removeprefix("gnnhw t ")],
        env={"GNNHW_DATA": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert shown == ["--text", str(root / "books" / "a b.txt"), "--data-root", str(root)]


def test_figures_with_spaces_and_parentheses_are_copied(tmp_path: Path):
    from gnnhw.report.render import Section, to_markdown

    names = ["my fig.png", "fig(1).png"]
    report = _report(tmp_path / "out", figures=tuple(names))
    section = Section("q", "Q", ["answer"], figures=[(name, name) for name in names])
    (report / "report.md").write_text(to_markdown([section], []))
    dest = publish(report, tmp_path / "docs", None)
    assert _files(dest) == {"report.md", RECORD, *names}


@pytest.mark.parametrize("figures", [None, "a.png", ["/etc/passwd"], ["../out/x.png"]])
def test_a_record_without_a_list_of_figures_inside_the_folder_is_refused(tmp_path: Path, figures):
    report = _report(tmp_path / "out")
    record = json.loads((report / RECORD).read_text())
    record["figures"] = figures
    (report / RECORD).write_text(json.dumps(record))
    with pytest.raises(ResultsFileError, match="figure"):
        publish(report, tmp_path / "docs", None)
    assert not (tmp_path / "docs").exists()


def test_a_relative_data_root_reaches_the_commands_as_an_absolute_path(tmp_path: Path, monkeypatch):
    """The commands run in the report folder: a data root relative to the caller's folder would miss there."""
    import gnnhw.report as report_module
    from gnnhw.cli.report import _ParserOptions

    books = tmp_path / "data" / "books"
    books.mkdir(parents=True)
    (books / "book_EN_grimms_fairy_tails.txt").write_text("once upon a time")
    seen: list[str] = []

    class Stop(Exception):
        pass

    def run_experiments(folder, plan, *args, **kwargs):
        seen.extend(" ".join(step.argv) for exp in plan for step in exp.steps)
        raise Stop

    monkeypatch.setattr(report_module, "run_experiments", run_experiments)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Stop):
        report_module.make_report(tmp_path / "out", "quick", _ParserOptions(), "data")
    assert any(f"--text {books}/book_EN_grimms_fairy_tails.txt" in line for line in seen)
    assert any(f"--data-root {tmp_path / 'data'} " in line for line in seen)
    assert not any(" data/" in line or "--data-root data " in line for line in seen)


def test_a_signal_between_the_two_renames_puts_the_old_copy_back(tmp_path: Path, monkeypatch):
    dest = publish(_report(tmp_path / "first"), tmp_path / "docs", None)
    real_rename = Path.rename

    def rename_then_interrupt(self: Path, target):
        result = real_rename(self, target)
        if self == dest:  # the old copy moved aside: the signal lands before the new one is swapped in
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(Path, "rename", rename_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        publish(_report(tmp_path / "second", figures=("c/three.png",)), dest, None)
    monkeypatch.undo()
    assert _files(dest) == {"report.md", RECORD, "a/one.png", "b/two.png"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_leftovers_of_a_killed_publish_are_cleaned_and_a_moved_aside_copy_restored(tmp_path: Path):
    first = publish(_report(tmp_path / "first"), tmp_path / "docs", None)
    first.rename(tmp_path / ".docs.replaced-999999999")  # killed between its two renames
    (tmp_path / ".docs.publishing-999999999" / "a").mkdir(parents=True)  # killed while copying
    (tmp_path / ".other.publishing-999999999").mkdir()  # another folder's: not ours to touch
    dest = publish(_report(tmp_path / "second", figures=("c/three.png",)), tmp_path / "docs", None)
    assert _files(dest) == {"report.md", RECORD, "c/three.png"}
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".other.publishing-999999999"]


def test_a_folder_another_command_publishes_to_is_refused_in_one_line(tmp_path: Path):
    import fcntl

    from gnnhw.errors import OutputLockedError
    from gnnhw.runs import _lock_file_for

    dest = tmp_path / "docs"
    lock = _lock_file_for(dest, folder=False)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what another process publishing there holds
        with pytest.raises(OutputLockedError, match="--publish"):
            publish(_report(tmp_path / "out"), dest, None)
    assert not dest.exists()


def test_a_copy_that_cannot_be_written_is_one_error_and_the_old_copy_kept(tmp_path: Path, monkeypatch):
    import shutil

    dest = publish(_report(tmp_path / "first"), tmp_path / "docs", None)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", full)
    with pytest.raises(OutputError, match="No space left on device"):
        publish(_report(tmp_path / "second"), dest, None)
    monkeypatch.undo()
    assert _files(dest) == {"report.md", RECORD, "a/one.png", "b/two.png"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_report_publishing_where_another_publishes_is_refused_before_any_work(tmp_path: Path, monkeypatch):
    import fcntl

    import gnnhw.report as report_module
    from gnnhw.cli.report import _ParserOptions
    from gnnhw.errors import OutputLockedError
    from gnnhw.runs import _lock_file_for

    books = tmp_path / "data" / "books"
    books.mkdir(parents=True)
    (books / "book_EN_grimms_fairy_tails.txt").write_text("once upon a time")
    ran: list[str] = []
    monkeypatch.setattr(report_module, "run_experiments", lambda *a, **k: ran.append("ran"))
    dest = tmp_path / "docs"
    lock = _lock_file_for(dest, folder=False)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(OutputLockedError, match="--publish"):
            report_module.make_report(
                tmp_path / "out",
                "quick",
                _ParserOptions(),
                tmp_path / "data",
                publish_to=tmp_path / "x" / ".." / "docs",
            )
    assert ran == []


def test_a_link_to_an_earlier_copy_is_kept_and_its_target_replaced(tmp_path: Path):
    site = publish(_report(tmp_path / "first"), tmp_path / "site" / "report", None)
    (tmp_path / "docs").symlink_to(site)
    publish(_report(tmp_path / "second", figures=("c/three.png",)), tmp_path / "docs", None)
    assert (tmp_path / "docs").is_symlink()
    assert _files(site) == {"report.md", RECORD, "c/three.png"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert [p.name for p in (tmp_path / "site").iterdir() if p.name.startswith(".")] == []


def test_the_figures_are_those_the_renderer_listed_not_image_syntax_on_the_page(tmp_path: Path):
    """A generated sample or a command's output may hold ![..](..): shown as text, it names no file to copy."""
    report = _report(tmp_path / "out")
    page = (report / "report.md").read_text()
    (report / "report.md").write_text(page + "```text\n![the wolf](said (to) her)\n```\n![x](y.png)\n")
    dest = publish(report, tmp_path / "docs", None)
    assert _files(dest) == {"report.md", RECORD, "a/one.png", "b/two.png"}


@pytest.mark.parametrize(
    "figures",
    [["report.md"], [RECORD], ["./report.md"], ["a/one.png", "a/one.png/x.png"], [""], ["."], ["a/one.png", 3]],
)
def test_a_figure_entry_that_would_overwrite_the_page_or_another_figure_is_refused(tmp_path: Path, figures):
    report = _report(tmp_path / "out", figures=("a/one.png",))
    (report / "report.md").write_text("# report\n")  # the page, which a figure named 'report.md' would replace
    record = json.loads((report / RECORD).read_text())
    record["figures"] = figures
    (report / RECORD).write_text(json.dumps(record))
    dest = publish(_report(tmp_path / "first"), tmp_path / "docs", None)
    before = {name: (dest / name).read_bytes() for name in _files(dest)}
    with pytest.raises(ResultsFileError, match="figure"):
        publish(report, dest, None)
    assert {name: (dest / name).read_bytes() for name in _files(dest)} == before


def test_a_figure_that_is_a_link_out_of_the_report_folder_is_refused(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not a figure")
    report = _report(tmp_path / "out", figures=("a/one.png",))
    (report / "a" / "one.png").unlink()
    (report / "a" / "one.png").symlink_to(secret)
    with pytest.raises(ResultsFileError, match="outside"):
        publish(report, tmp_path / "docs", None)
    assert not (tmp_path / "docs").exists()


def test_a_figure_path_that_starts_like_the_data_folder_is_kept_in_the_record(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    report = _report(tmp_path / "out", figures=("data/one.png",))
    dest = publish(report, tmp_path / "docs", "data")
    assert json.loads((dest / RECORD).read_text())["figures"] == ["data/one.png"]
    publish(report, dest, "data")  # the copy is still recognised as one, so it can be replaced
    assert _files(dest) == {"report.md", RECORD, "data/one.png"}


def test_a_copy_published_before_the_record_listed_its_figures_is_replaced(tmp_path: Path):
    dest = publish(_report(tmp_path / "first"), tmp_path / "docs", None)
    record = json.loads((dest / RECORD).read_text())
    del record["figures"]  # as gnnhw wrote it before: the figures were those the page shows
    (dest / RECORD).write_text(json.dumps(record))
    publish(_report(tmp_path / "second", figures=("c/three.png",)), dest, None)
    assert _files(dest) == {"report.md", RECORD, "c/three.png"}


def test_an_earlier_copy_without_a_figure_list_holding_a_file_its_page_does_not_show_is_kept(tmp_path: Path):
    dest = publish(_report(tmp_path / "first"), tmp_path / "docs", None)
    record = json.loads((dest / RECORD).read_text())
    del record["figures"]
    (dest / RECORD).write_text(json.dumps(record))
    (dest / "notes.png").write_bytes(PNG)
    with pytest.raises(OutputError, match="other files"):
        publish(_report(tmp_path / "second", figures=("c/three.png",)), dest, None)
    assert (dest / "notes.png").is_file()
