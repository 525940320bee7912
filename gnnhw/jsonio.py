"""JSON in and out: output that is always valid JSON, and a reader that checks what it reads.

**Non-finite numbers become ``null``.** JSON has no NaN or infinity (Python's ``json`` writes the bare tokens
``NaN``/``Infinity`` by default, which other JSON readers reject). gnnhw uses NaN for "no value" (no validation
split, a decay rate of fewer than two points), so :func:`dumps` writes every non-finite float as ``null`` and
then serialises with ``allow_nan=False`` as a guard. Training that produces non-finite *results* stops with
:class:`~gnnhw.errors.DivergedError` before anything is written, so a ``null`` never hides a diverged run.

:func:`read_json` parses strictly (``NaN``/``Infinity`` tokens are refused) and validates the result against a
:mod:`gnnhw.schema` spec, naming the file and the field.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from gnnhw._utils import special_file_kind
from gnnhw.errors import GnnhwError, ResultsFileError
from gnnhw.schema import Spec, validate


def finite_or_none(payload: Any) -> Any:
    """A copy of ``payload`` (dicts, lists, tuples, scalars) with every NaN/infinity replaced by ``None``."""
    if isinstance(payload, float):
        return payload if math.isfinite(payload) else None
    if isinstance(payload, dict):
        return {k: finite_or_none(v) for k, v in payload.items()}
    if isinstance(payload, (list, tuple)):
        return [finite_or_none(v) for v in payload]
    return payload


def dumps(payload: Any, indent: int | None = 2) -> str:
    """``payload`` as valid JSON text: non-finite floats as ``null`` (see the module docstring)."""
    return json.dumps(finite_or_none(payload), indent=indent, allow_nan=False)


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON")


def _finite_float(token: str) -> float:
    """A JSON number as a float; one too large for a float (``1e400``, which Python reads as infinity) is
    refused like ``Infinity`` (gnnhw writes no such number: :func:`dumps` turns a non-finite one into null)."""
    value = float(token)
    if not math.isfinite(value):
        raise ValueError(f"{token} is out of a float's range")
    return value


def read_json(
    path: str | os.PathLike,
    spec: Spec | None = None,
    what: str = "JSON file",
    error: type[GnnhwError] = ResultsFileError,
) -> Any:
    """Parse ``path`` as strict JSON and check it against ``spec``; ``error`` (one line naming the file and the
    field) when it is missing, unreadable, not JSON, or does not match."""
    path = Path(path)
    source = f"{what} {str(path)!r}"
    if path.is_dir():
        raise error(f"{source} is a directory, not a file")
    special = special_file_kind(path)
    if special is not None:  # a FIFO without writer blocks forever, /dev/zero never ends
        raise error(f"{source} is {special}, not a regular file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{source} does not exist") from None
    except UnicodeDecodeError:
        raise error(f"{source} is not UTF-8 text, so not a JSON file gnnhw wrote") from None
    except OSError as err:
        raise error(f"cannot read {source}: {err.strerror}") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (json.JSONDecodeError, ValueError) as err:
        raise error(f"{source} is not a readable JSON file ({err})") from None
    except RecursionError:  # '[[[[...' nested deeper than the parser's recursion limit
        raise error(f"{source} is not a JSON file gnnhw wrote (nested too deeply to parse)") from None
    if spec is not None:
        validate(data, spec, source, error)
    return data
