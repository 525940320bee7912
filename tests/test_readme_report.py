"""The README's results come from the standard report kept in docs/report/ (``gnnhw report --publish``).

A passage of the README that cites the report starts at a line linking ``docs/report/report.md#ANCHOR`` and runs
to the next heading or to a line starting ``*Beyond the report``. Every decimal number (signed, in a range or a
ratio, before a unit) and every percentage in it must be printed in the
cited sections of docs/report/report.md: a number typed by hand, or left from an older run, fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
REPORT = DOCS / "report"
CITE = re.compile(r"\]\(docs/report/report\.md#([\w-]+)\)")
END = "*Beyond the report"
# a decimal (0.999, 2.8e-17, 1.4e-6, x1.73, -0.31, 0.5-0.8, 3.2/4.1, 1022.4s) or a percentage (82%, 81.6 %) not
# part of a word, a version or a path
NUMBER = re.compile(r"(?<![A-Za-wyz0-9_.])(?:\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+|\d+(?=\s?%))(?!\.\d|\d|[eE][-+]?\d)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def _sections() -> dict[str, str]:
    """docs/report/report.md split at its ``<a id="...">`` anchors."""
    text = (REPORT / "report.md").read_text(encoding="utf-8")
    parts = re.split(r'<a id="([\w-]+)"></a>', text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _cited_passages() -> list[tuple[int, list[str], str]]:
    """(line number, cited anchors, text) of every README passage that cites the report.

    A citing line opens a passage; further citations in the same paragraph (no blank line between) add their
    sections to it, and a citation in a later paragraph opens the next passage.
    """
    passages: list[tuple[int, list[str], str]] = []
    current: tuple[int, list[str], list[str]] | None = None
    in_first_paragraph = False
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), start=1):
        anchors = CITE.findall(line)
        if current is not None and anchors and in_first_paragraph:
            current[1].extend(anchors)
            current[2].append(line)
        elif line.startswith("#") or line.startswith(END) or anchors:
            if current is not None:
                passages.append((current[0], current[1], "\n".join(current[2])))
            current = (number, anchors, [line]) if anchors else None
            in_first_paragraph = bool(anchors)
        elif current is not None:
            current[2].append(line)
            in_first_paragraph = in_first_paragraph and line.strip() != ""
    if current is not None:
        passages.append((current[0], current[1], "\n".join(current[2])))
    return passages


def test_number_pattern_takes_decimals_only():
    text = "0.999 and 2.8e-17 (x1.73), 1e-3; not T = 20, v2.13.0, out/r1.5/a, 5,000 or 0.9.1"
    assert NUMBER.findall(text) == ["0.999", "2.8e-17", "1.73", "1e-3"]


def test_number_pattern_takes_signs_ranges_ratios_units_and_percentages():
    # each of these was once invisible to the check: a wrong number written so passed
    text = "-0.31, 0.5-0.8, 3.2/4.1, 1022.4s, 1.5x, 82% and 81.6 %; not 2.8e-17's exponent, 10,5 or lr0.05/a"
    assert NUMBER.findall(text) == ["0.31", "0.5", "0.8", "3.2", "4.1", "1022.4", "1.5", "82", "81.6", "2.8e-17"]


def test_docs_report_is_a_finished_standard_report():
    record = json.loads((REPORT / "report.json").read_text(encoding="utf-8"))
    assert record["budget"] == "standard"
    for key, experiment in record["experiments"].items():
        assert experiment["steps"], key
        assert all(step["status"] == "done" for step in experiment["steps"].values()), key
    page = (REPORT / "report.md").read_text(encoding="utf-8")
    assert page.splitlines()[2].startswith("Budget: standard")
    for figure in IMAGE.findall(page):
        assert (REPORT / figure).is_file(), figure


def test_the_readme_cites_the_report_for_every_question():
    cited = {anchor for _, anchors, _ in _cited_passages() for anchor in anchors}
    assert set(_sections()) <= cited, sorted(set(_sections()) - cited)


@pytest.mark.parametrize("passage", _cited_passages(), ids=lambda p: f"README line {p[0]}")
def test_every_number_of_a_cited_passage_is_in_the_cited_sections(passage):
    line, anchors, text = passage
    sections = _sections()
    assert set(anchors) <= set(sections), (line, anchors)
    source = "\n".join(sections[a] for a in anchors)
    missing = [n for n in NUMBER.findall(text) if n not in NUMBER.findall(source)]
    assert not missing, f"README line {line}: {missing} not in docs/report/report.md#{', #'.join(anchors)}"


def test_readme_figures_exist_and_docs_figures_are_the_reports_or_a_named_study():
    readme = README.read_text(encoding="utf-8")
    for link in re.findall(r"\]\((docs/[^)\s#]+)\)", readme):
        assert (ROOT / link).exists(), link
    for png in DOCS.rglob("*.png"):
        relative = png.relative_to(DOCS)
        assert relative.parts[0] in ("report", "studies"), relative
