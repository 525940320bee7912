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
    (folder / RECORD).write_text(json.dumps({"format": FORMAT, "data": f"--data-root {data_root}"}))
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
