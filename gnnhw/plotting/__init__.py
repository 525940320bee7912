"""Matplotlib figures. Only the CLI and the examples call these; the library itself never plots.

One module per area (``graph``, ``planetoid``, ``recurrent``, ``text``); each function takes results
(dataclasses, tensors, dicts) and returns a :class:`matplotlib.figure.Figure`. :func:`save_figure`
writes one atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

if not os.environ.get("DISPLAY") and "MPLBACKEND" not in os.environ:
    matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from gnnhw._utils import atomic_path  # noqa: E402


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save ``fig`` to ``path`` (format from the extension) atomically and close it; return the path."""
    import matplotlib.pyplot as plt

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path
