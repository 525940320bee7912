"""docs/architecture.md is the map a newcomer reads first: it must name every module of the package, and
name no module that is gone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def _modules() -> list[Path]:
    return sorted(p for p in (ROOT / "gnnhw").rglob("*.py") if p.name not in ("__init__.py", "__main__.py"))


def _section(package: str) -> str:
    """The doc's text about ``package`` (its section, or the whole doc for the shared top-level modules)."""
    heading = {
        "graph": "## The graph area",
        "recurrent": "## The recurrent area",
        "cli": "## The command line",
        "experiments": "## Experiments across areas",
        "plotting": "",
        "report": "",
    }.get(package, "")
    if not heading:
        return DOC
    start = DOC.index(heading)
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else None]


def test_every_module_is_on_the_map():
    missing = []
    for path in _modules():
        rel = path.relative_to(ROOT / "gnnhw")
        package = rel.parts[0] if len(rel.parts) > 1 else ""
        if package in ("plotting", "report"):
            continue  # described as a whole
        if f"`{path.name}`" not in _section(package):
            missing.append(str(rel))
    assert missing == []


def test_no_module_on_the_map_is_gone():
    names = {p.name for p in _modules()} | {"__init__.py"}
    mentioned = set(re.findall(r"`([a-z_]+\.py)`", DOC))
    assert mentioned - names == set()
