"""Names that changed, kept working for one release with a :class:`DeprecationWarning`.

gnnhw speaks one vocabulary, the field's own: torch's ``input_size``, ``hidden_size``, ``num_layers`` and ``lr``;
PyG's ``x``, ``edge_index``, ``in_channels``; and one switch between gnnhw's from-scratch code and the reference
library, ``impl="scratch" | "reference"`` (``--impl`` on the command line). Older names that users may have typed
(``input_dim``, ``num_hidden``, ``learning_rate``, ``backend="gnnhw"``, ``cell="torch"``, ``layer="pyg"``, ...)
are translated here, once, and warned about; ``CHANGELOG.md`` lists them all.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

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


def translate_impl(old_key: str, value: Any, where: str) -> Any:
    """The ``impl`` value meant by an old switch ``old_key=value`` (``cell="torch"`` -> ``"reference"``), with one
    warning naming both the old keyword and the new one. A value of neither set is returned for the range check."""
    new = OLD_IMPL_VALUES.get(value, value) if isinstance(value, str) else value
    shown = f"impl={new!r}" if isinstance(new, str) and new in IMPLS else "impl="
    warn_renamed(f"{old_key}={value!r}", shown, where)
    return new


def accept_renamed(renames: Mapping[str, str], impl_key: str | None = None) -> Callable[[T], T]:
    """Decorator: a class (its ``__init__``, a dataclass's generated one included) or a function also takes the
    old keywords of ``renames`` (old -> new), for one release, with a :class:`DeprecationWarning` each.
    ``impl_key`` names the old switch (``"cell"``, ``"backend"``, ...) whose values are translated too
    (:data:`OLD_IMPL_VALUES`). The signature shown by ``help()`` and :func:`inspect.signature` stays the new one.

    Raises :class:`TypeError` when an old keyword and its new name are both given.

    >>> import warnings
    >>> @accept_renamed({"num_hidden": "hidden_size"})
    ... def width(hidden_size: int) -> int:
    ...     return hidden_size
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     width(num_hidden=8), caught[0].category.__name__
    (8, 'DeprecationWarning')
    """

    def decorate(target: T) -> T:
        is_class = isinstance(target, type)
        wrapped: Any = target.__init__ if is_class else target  # type: ignore[misc]
        where = getattr(target, "__qualname__", str(target))

        @functools.wraps(wrapped)
        def call(*args: Any, **kwargs: Any) -> Any:
            if impl_key is not None and impl_key in kwargs:
                new = renames[impl_key]
                if new in kwargs:
                    raise TypeError(f"{where}: got both {impl_key!r} (deprecated) and {new!r}; give only {new!r}")
                kwargs[new] = translate_impl(impl_key, kwargs.pop(impl_key), where)
            return wrapped(*args, **renamed_kwargs(kwargs, renames, where))

        if is_class:
            target.__init__ = call  # type: ignore[misc]  # replacing the generated __init__ is the point
            return target
        return call  # type: ignore[return-value]  # functools.wraps: same signature as target

    return decorate


def renamed_keys(values: Mapping[str, Any], renames: Mapping[str, str], impl_key: str | None = None) -> dict[str, Any]:
    """``values`` (a config read from a file written by an older gnnhw) with its old keys under their new names,
    silently: old files are valid input, not a user's typing. ``impl_key``'s values are translated too.
    A key present under both names keeps the new one (the old one is dropped)."""
    out = dict(values)
    for old, new in renames.items():
        if old not in out:
            continue
        value = out.pop(old)
        if new in out:
            continue
        if old == impl_key and isinstance(value, str):
            value = OLD_IMPL_VALUES.get(value, value)
        out[new] = value
    return out


def upgraded_keys(values: Mapping[str, Any], renames: Mapping[str, str], impl_key: str) -> dict[str, Any]:
    """:func:`renamed_keys` for a config read from a file, and an ``impl`` key that holds an old value
    (``"gnnhw"``, ``"torch"``, ``"pyg"``) translated too: the one upgrade of results files and checkpoints."""
    out = renamed_keys(values, renames, impl_key)
    impl = renames[impl_key]
    if isinstance(out.get(impl), str):
        out[impl] = OLD_IMPL_VALUES.get(out[impl], out[impl])
    return out
