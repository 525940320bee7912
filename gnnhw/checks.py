"""Ranges declared once, beside each config field, and one check that enforces them.

A config dataclass declares each field with :func:`bounded` instead of a bare default::

    @dataclass
    class Config:
        hidden_size: int = bounded(128, min=1, max=65_536, why="hidden units per layer")
        lr: float = bounded(1e-3, min=0, min_open=True, max=10.0, why="Adam step size; larger only diverges")

and :func:`check_config` checks every field of an instance against its declaration: the type (``bool`` is not
accepted as an ``int``; an ``int`` is accepted as a ``float``), finiteness of floats, the range, the choices.
The first bad field raises :class:`~gnnhw.errors.ConfigError`, one line naming the field (or the CLI option it
came from, via ``labels``), the bad value, the allowed range and why. The CLI validates its options through the
same declarations before any work, so library and CLI enforce the same ranges; :func:`describe` renders a
declaration as text (for help or docs).

Also here: :data:`SEED_MAX` (the seed range every RNG gnnhw feeds accepts), :func:`machine_memory` and
:func:`check_memory` (refuse a size whose estimated memory exceeds the machine's, before allocating anything).
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypedDict

from gnnhw.errors import ConfigError

SEED_MAX = 2**32 - 1
"""Largest seed: numpy's legacy RNG accepts [0, 2^32); torch's and Python's accept more; the palindrome task
derives ``2 * seed + 1`` (still < 2^33 < 2^63, torch's signed 64-bit limit)."""

SEED_WHY = "seeds feed numpy, Python and torch RNGs; [0, 2^32) is what all of them accept"


class Range(TypedDict, total=False):
    """The keyword arguments of :func:`bounded` other than the default, typed, so that a range shared by
    several fields can be declared once and unpacked: ``lr: float = bounded(0.01, **LR)``."""

    min: float | None
    max: float | None
    min_open: bool
    max_open: bool
    choices: tuple[Any, ...] | None
    why: str


LR: Range = {"min": 0, "min_open": True, "max": 10.0, "why": "optimizer step size; larger steps only diverge"}
"""The one declared range of every learning rate (``lr``) in gnnhw: (0, 10]. Adam's step on a weight is about
``lr`` whatever the gradient, so a step above 10 only throws the weights away; 0 would not train."""

SEED: Range = {"min": 0, "max": SEED_MAX, "why": SEED_WHY}
"""The declared range of a seed (the first seed of ``seeds`` runs included)."""

_MISSING = dataclasses.MISSING


def bounded(
    default: Any = _MISSING,
    *,
    min: float | None = None,  # noqa: A002 - the natural name in a declaration
    max: float | None = None,  # noqa: A002
    min_open: bool = False,
    max_open: bool = False,
    choices: tuple[Any, ...] | None = None,
    why: str = "",
    default_factory: Callable[[], Any] | Any = _MISSING,
) -> Any:
    """A :func:`dataclasses.field` carrying its valid range: ``[min, max]`` (``min_open``/``max_open`` make an
    end exclusive), or ``choices``, and ``why`` (a short reason shown in errors and ``--help``).

    For list fields the range applies to each element.
    """
    meta = {"min": min, "max": max, "min_open": min_open, "max_open": max_open, "choices": choices, "why": why}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata={"range": meta})
    return dataclasses.field(default=default, metadata={"range": meta})


def _range_text(meta: Mapping[str, Any]) -> str:
    if meta.get("choices") is not None:
        return "one of " + ", ".join(repr(c) for c in meta["choices"])
    lo, hi = meta.get("min"), meta.get("max")
    if lo is None and hi is None:
        return "any value"
    left = "-inf" if lo is None else _num(lo)
    right = "inf" if hi is None else _num(hi)
    opening = "(" if meta.get("min_open") or lo is None else "["
    closing = ")" if meta.get("max_open") or hi is None else "]"
    return f"{opening}{left}, {right}{closing}"


def _num(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def describe(cls: type, name: str) -> str:
    """The declared range of field ``name`` of dataclass ``cls`` and why, e.g. ``"[1, 65536]: hidden units"``
    (for ``--help``)."""
    meta = _meta(cls, name)
    text = _range_text(meta)
    return f"{text}: {meta['why']}" if meta.get("why") else text


def _meta(cls: type, name: str) -> dict[str, Any]:
    for f in dataclasses.fields(cls):
        if f.name == name:
            return dict(f.metadata.get("range", {}))
    raise KeyError(name)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _split_optional(tp: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        nullable = len(args) != len(typing.get_args(tp))
        return (args[0] if len(args) == 1 else Any), nullable
    return tp, False


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def check_value(name: str, value: Any, tp: Any, meta: Mapping[str, Any] | None = None) -> None:
    """Check one value against type ``tp`` (int, float, bool, str, ``X | None``, ``list[X]``) and a range
    declaration ``meta`` (as made by :func:`bounded`); :class:`ConfigError` naming ``name`` otherwise."""
    meta = meta or {}
    tp, nullable = _split_optional(tp)
    if value is None:
        if nullable:
            return
        raise ConfigError(f"{name} must be {_kind(tp)}, got None")
    if typing.get_origin(tp) is list:
        (item_tp,) = typing.get_args(tp) or (Any,)
        if not isinstance(value, list):
            raise ConfigError(f"{name} must be a list, got {type(value).__name__} {value!r:.80}")
        for i, item in enumerate(value):
            check_value(f"{name}[{i}]", item, item_tp, meta)
        return
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r:.80}")
        return
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be an integer, got {type(value).__name__} {value!r:.80}")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, got {type(value).__name__} {value!r:.80}")
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
    elif tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, got {type(value).__name__} {value!r:.80}")
    elif tp is not Any and isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{name} must be {_type_name(tp)}, got {type(value).__name__} {value!r:.80}")
    _check_range(name, value, meta)


def _kind(tp: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, _type_name(tp))


def _check_range(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    choices = meta.get("choices")
    if choices is not None:
        if value not in choices:
            raise ConfigError(f"unknown {name} {value!r:.80}; expected one of {', '.join(map(str, choices))}")
        return
    lo, hi = meta.get("min"), meta.get("max")
    too_low = lo is not None and (value <= lo if meta.get("min_open") else value < lo)
    too_high = hi is not None and (value >= hi if meta.get("max_open") else value > hi)
    if too_low or too_high:
        why = f" ({meta['why']})" if meta.get("why") else ""
        shown = f"{value:g}" if isinstance(value, float) else f"{value!r:.80}"
        raise ConfigError(f"{name} must be in {_range_text(meta)}{why}, got {shown}")


def check_config(config: Any, labels: Mapping[str, str] | None = None, skip: Iterable[str] = ()) -> None:
    """Check every field of dataclass instance ``config`` against its type and its :func:`bounded` range.

    ``labels`` maps field names to the names the user typed (e.g. ``{"learning_rate": "--lr"}``), so the
    error names the option; ``skip`` names fields the caller checks itself (e.g. tuples, checked per element).
    Raises :class:`ConfigError` for the first bad field.
    """
    labels = labels or {}
    hints = _hints(type(config))
    skipped = set(skip)
    for f in dataclasses.fields(config):
        if f.name in skipped:
            continue
        check_value(labels.get(f.name, f.name), getattr(config, f.name), hints[f.name], f.metadata.get("range"))


def config_from_dict(cls: type, values: Any, source: str) -> Any:
    """Build dataclass ``cls`` from a dict read from a file, checking every field; missing fields take their
    defaults (files written before a field existed), unknown ones are ignored. Errors name ``source`` and the
    field (``ConfigError``; callers re-raise as their file's error class)."""
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: config must be a mapping, got {type(values).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in values:
            check_value(f"{source}: config.{f.name}", values[f.name], hints[f.name], f.metadata.get("range"))
    try:
        return cls(**{k: v for k, v in values.items() if k in known})
    except ConfigError as err:
        raise ConfigError(f"{source}: config: {err}") from None


# ------------------------------------------------------------------------------------------------- memory


def machine_memory() -> int:
    """Bytes of physical memory of this machine (capped by the address-space limit when one is set).

    Standard library only: ``os.sysconf`` where available, else a generous 1 TiB (the check then only stops
    absurd sizes).
    """
    total = 1 << 40
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
            total = min(total, soft)
    except (ImportError, ValueError, OSError):
        pass
    return int(total)


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_memory(estimate: float, what: str, fix: str, available: int | None = None) -> None:
    """Raise :class:`ConfigError` when ``estimate`` bytes exceed the machine's memory (:func:`machine_memory`).

    ``what`` names the thing being sized (e.g. ``"an LSTM of hidden_size 65536 x 100 layers"``); ``fix`` says
    what to change. Call it before allocating, so an absurd size is refused in milliseconds, not after minutes.
    """
    available = machine_memory() if available is None else available
    if estimate > available:
        raise ConfigError(
            f"{what} needs about {format_bytes(estimate)} of memory, more than this machine's "
            f"{format_bytes(available)}; {fix}"
        )


# ------------------------------------------------------------------------------------------ list arguments


def unique(name: str, values: list[Any]) -> list[Any]:
    """``values`` if they are distinct; else :class:`ConfigError` naming the repeated ones (a repeated seed or
    model would run the same job twice and count it as two samples)."""
    seen: set[Any] = set()
    repeated = []
    for v in values:
        if v in seen and v not in repeated:
            repeated.append(v)
        seen.add(v)
    if repeated:
        raise ConfigError(f"{name} repeats {', '.join(map(str, repeated))}; each value runs once, give each one once")
    return list(values)


# ------------------------------------------------------------------------------------------ divergence


def check_training_finite(
    step: int,
    loss: float | None = None,
    parameters: Iterable[Any] | None = None,
    fix: str = "lower the learning rate",
    kept: str | os.PathLike | None = None,
    run: str = "",
) -> None:
    """Raise :class:`~gnnhw.errors.DivergedError` when ``loss`` or any of ``parameters`` (tensors) is
    non-finite at training step ``step``.

    ``run`` names the run in the message (e.g. ``"lstm T=10 seed=0"``).
    ``kept``: the path of the last good checkpoint, mentioned only when that file exists. Call it every step
    for the loss (a float the loop has anyway) and at least before anything is evaluated or saved for the
    weights; a diverged model's accuracy is never reported.
    """
    from gnnhw.errors import DivergedError

    what = None
    if loss is not None and not math.isfinite(loss):
        what = f"the loss is {loss}"
    elif parameters is not None:
        import torch

        for p in parameters:
            if not bool(torch.isfinite(p.detach()).all()):
                what = "the weights hold NaN or infinity"
                break
    if what is None:
        return
    tail = ""
    if kept is not None and os.path.isfile(kept):
        tail = f"; the last good checkpoint {str(kept)!r} is kept"
    who = f"training ({run})" if run else "training"
    raise DivergedError(f"{who} diverged at step {step}: {what}, so no result is reported{tail}; {fix}")


# ------------------------------------------------------------------------------------------ index tensors


def check_index_tensor(name: str, x: Any, size: int, device: Any = None) -> None:
    """Raise a :class:`~gnnhw.errors.GnnhwError` unless ``x`` is an integer tensor of ids in [0, ``size``) on
    ``device`` (when given): the checks torch would otherwise fail with a raw RuntimeError (or, on a GPU, a
    device-side assert). Costs one min/max reduction.

    Raises:
        ShapeError: not a tensor, or not of an integer dtype.
        ConfigError: ids out of range; a tensor on another device than the model's.
    """
    import torch

    from gnnhw.errors import ShapeError

    if not isinstance(x, torch.Tensor):
        raise ShapeError(f"{name} must be a tensor of integer ids, got {type(x).__name__}")
    if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
        raise ShapeError(f"{name} must hold integer ids (torch.long), got dtype {x.dtype}")
    if device is not None and x.device != torch.device(device):
        raise ConfigError(f"{name} is on {x.device} but the model is on {device}; move it with .to({str(device)!r})")
    if x.numel():
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi >= size:
            bad = lo if lo < 0 else hi
            raise ConfigError(f"{name} holds the id {bad}, outside [0, {size}) (the vocabulary has {size} entries)")
