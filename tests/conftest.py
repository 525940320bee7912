"""Shared fixtures: where the data lives, and what a missing data set does to a test."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from gnnhw._utils import DATA_ENV, data_root  # noqa: E402

REQUIRE_ENV = "GNNHW_REQUIRE_DATA"


def _require(relative: str) -> Path:
    """The data root if ``<root>/<relative>`` exists; else skip (or fail, when $GNNHW_REQUIRE_DATA is set)."""
    root = data_root()
    if (root / relative).exists():
        return root
    message = (
        f"needs {root / relative}: copy the data there or set {DATA_ENV} to a folder that has "
        f"{relative} (the project's machines have it in ../shared/datasets)"
    )
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{REQUIRE_ENV} is set but the data is missing: {message}")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tests use tiny tensors: one intra-op thread is fastest, and far faster on a busy shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def planetoid_root() -> Path:
    """The data root, holding planetoid/Cora/raw (skips or fails without it)."""
    return _require("planetoid/Cora/raw")


@pytest.fixture
def books_dir() -> Path:
    """The folder of books (skips or fails without it)."""
    return _require("books") / "books"
