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
