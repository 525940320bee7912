"""The names the issues promise are importable from the subpackages, and are what they say."""

from __future__ import annotations

import inspect

import pytest

import gnnhw.graph
import gnnhw.recurrent


@pytest.mark.parametrize("name", gnnhw.graph.__all__)
def test_graph_exports_resolve_to_functions_or_classes(name):
    __import__(gnnhw.graph._EXPORTS[name])  # importing the submodule first must not shadow the name
    obj = getattr(gnnhw.graph, name)
    assert inspect.isfunction(obj) or inspect.isclass(obj), f"gnnhw.graph.{name} is {obj!r}"


@pytest.mark.parametrize("name", gnnhw.recurrent.__all__)
def test_recurrent_exports_resolve_to_functions_or_classes(name):
    __import__(gnnhw.recurrent._EXPORTS[name])
    obj = getattr(gnnhw.recurrent, name)
    assert inspect.isfunction(obj) or inspect.isclass(obj), f"gnnhw.recurrent.{name} is {obj!r}"


def _type_checking_imports(package: str) -> dict[str, str]:
    """``{name: module}`` of the ``if TYPE_CHECKING:`` imports in ``package``'s ``__init__.py``."""
    import ast
    import importlib

    path = importlib.import_module(package).__file__
    tree = ast.parse(open(path, encoding="utf-8").read())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), ast.dump(stmt)
                for alias in stmt.names:
                    assert alias.asname == alias.name, f"{alias.name} must be imported 'as {alias.name}' (re-export)"
                    found[alias.name] = stmt.module
    return found


@pytest.mark.parametrize("package", [gnnhw.graph, gnnhw.recurrent], ids=lambda p: p.__name__)
def test_lazy_exports_are_visible_to_type_checkers(package):
    """Every lazily exported name is also imported, from the same module, under ``if TYPE_CHECKING:``."""
    assert _type_checking_imports(package.__name__) == package._EXPORTS
