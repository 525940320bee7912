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

from matplotlib.axis import Axis  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from gnnhw._utils import atomic_write_bytes  # noqa: E402
from gnnhw.errors import OutputError  # noqa: E402


def whole_number_ticks(axis: Axis) -> None:
    """Tick ``axis`` (``ax.xaxis`` or ``ax.yaxis``) at whole numbers only: time steps, node counts. At least
    one tick, so a range that holds a single integer (one step, a flat curve) is not given ticks like 0.945."""
    axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save ``fig`` to ``path`` (format from the extension) atomically and close it; return the path.

    The figure is rendered in memory and then written with :func:`gnnhw._utils.atomic_write_bytes`, so a
    full disk or an unwritable folder is one :class:`~gnnhw.errors.OutputError` naming the path, and an
    existing file is kept. Commands check the path first (:func:`gnnhw.runs.check_figure_path`).

    Raises:
        OutputError: matplotlib cannot write that format, or the file cannot be written.
    """
    import io

    import matplotlib.pyplot as plt

    path = Path(path)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=path.suffix.lstrip(".").lower() or None, dpi=dpi, bbox_inches="tight")
    except (ValueError, RuntimeError, OSError) as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise OutputError(f"cannot draw the figure {str(path)!r}: {message}") from None
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path
