"""Names that changed, kept working for one release with a :class:`DeprecationWarning`.

gnnhw speaks one vocabulary, the field's own: torch's ``input_size``, ``hidden_size``, ``num_layers`` and ``lr``;
PyG's ``x``, ``edge_index``, ``in_channels``; and one switch between gnnhw's from-scratch code and the reference
library, ``impl="scratch" | "reference"`` (``--impl`` on the command line). Older names that users may have typed
(``input_dim``, ``num_hidden``, ``learning_rate``, ``backend="gnnhw"``, ``cell="torch"``, ``layer="pyg"``, ...)
are translated here, once, and warned about; ``CHANGELOG.md`` lists them all.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

IMPLS = ("scratch", "reference")
"""The values of ``impl``: ``"scratch"`` is gnnhw's own code, ``"reference"`` the library it is tested against
(``torch.nn`` for recurrent cells, PyG's ``GCNConv`` for graph layers)."""

IMPL_WHY = "scratch: gnnhw's own code; reference: the library it is checked against (torch.nn / PyG)"

OLD_IMPL_VALUES = {"gnnhw": "scratch", "torch": "reference", "pyg": "reference"}
"""The old values of the three old switches (``backend``, ``cell``, ``layer``) and what they mean now."""


def warn_renamed(old: str, new: str, where: str) -> None:
    """Warn once per call site that ``old`` is now ``new`` (a :class:`DeprecationWarning` naming ``where``)."""
    warnings.warn(
        f"{where}: {old!s} is deprecated and will be removed in the next release; use {new!s}",
        DeprecationWarning,
        stacklevel=3,
    )


def renamed_kwargs(kwargs: dict[str, Any], renames: Mapping[str, str], where: str) -> dict[str, Any]:
    """``kwargs`` with every old keyword of ``renames`` (old -> new) moved to its new name, with a warning.

    Raises :class:`TypeError` (as Python does for a repeated keyword) when both the old and the new name are
    given.
    """
    out = dict(kwargs)
    for old, new in renames.items():
        if old in out:
            if new in out:
                raise TypeError(f"{where}: got both {old!r} (deprecated) and {new!r}; give only {new!r}")
            warn_renamed(f"{old}=", f"{new}=", where)
            out[new] = out.pop(old)
    return out


def impl_value(value: Any, where: str, old_name: str = "impl") -> Any:
    """``value`` of an ``impl`` switch, with an old value (``"gnnhw"``, ``"torch"``, ``"pyg"``) translated and
    warned about. Anything else is returned as it is, for the caller's range check to refuse."""
    if isinstance(value, str) and value in OLD_IMPL_VALUES:
        new = OLD_IMPL_VALUES[value]
        warn_renamed(f"{old_name}={value!r}", f"impl={new!r}", where)
        return new
    return value
