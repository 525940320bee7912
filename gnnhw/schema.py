"""One schema check for everything gnnhw reads back (checkpoints, ``sweep.json``, JSON results).

A schema is built from a few constructors: :func:`Int`, :func:`Float`, :func:`Str`, :func:`Bool`,
:func:`ListOf`, :func:`MapOf`, :func:`Record` (required and optional keys), :func:`TensorSpec` and
:data:`ANY`. :func:`validate` walks a loaded value against it and raises the caller's error class (a
:class:`~gnnhw.errors.GnnhwError`) with one line naming the file and the field path, e.g.
``checkpoint 'run/checkpoint.pt': config.hidden_size must be an integer, got str 'abc'``.

Floats must be finite unless the spec says otherwise; tensors can be required finite (weights) and of a
dtype family.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gnnhw.errors import GnnhwError


@dataclass(frozen=True)
class Spec:
    kind: str  # "int", "float", "str", "bool", "list", "map", "record", "tensor", "any"
    min: float | None = None
    max: float | None = None
    finite: bool = True  # floats / float tensors
    nullable: bool = False
    choices: tuple[Any, ...] | None = None
    items: Spec | None = None  # list items, map values
    required: Mapping[str, Spec] = field(default_factory=dict)
    optional: Mapping[str, Spec] = field(default_factory=dict)
    dtype: str | None = None  # tensors: "float", "int", "uint8" or None (any)
    min_len: int = 0


ANY = Spec("any")


def Int(min: float | None = None, max: float | None = None, nullable: bool = False) -> Spec:  # noqa: A002, N802
    return Spec("int", min=min, max=max, nullable=nullable)


def Float(  # noqa: N802
    min: float | None = None,  # noqa: A002
    max: float | None = None,  # noqa: A002
    finite: bool = True,
    nullable: bool = False,
) -> Spec:
    return Spec("float", min=min, max=max, finite=finite, nullable=nullable)


def Str(choices: tuple[str, ...] | None = None, nullable: bool = False, min_len: int = 0) -> Spec:  # noqa: N802
    return Spec("str", choices=choices, nullable=nullable, min_len=min_len)


def Bool(nullable: bool = False) -> Spec:  # noqa: N802
    return Spec("bool", nullable=nullable)


def ListOf(items: Spec, min_len: int = 0, nullable: bool = False) -> Spec:  # noqa: N802
    return Spec("list", items=items, min_len=min_len, nullable=nullable)


def MapOf(values: Spec, nullable: bool = False) -> Spec:  # noqa: N802
    """A dict with string keys whose values all match ``values``."""
    return Spec("map", items=values, nullable=nullable)


def Record(  # noqa: N802
    required: Mapping[str, Spec] | None = None, optional: Mapping[str, Spec] | None = None, nullable: bool = False
) -> Spec:
    """A dict that must hold every key of ``required``; keys of ``optional`` are checked when present; other
    keys are allowed (files from newer versions may add some)."""
    return Spec("record", required=dict(required or {}), optional=dict(optional or {}), nullable=nullable)


def TensorSpec(finite: bool = True, dtype: str | None = None) -> Spec:  # noqa: N802
    """A :class:`torch.Tensor`; ``finite``: every element finite (float tensors); ``dtype``: "float", "int",
    "uint8" or None."""
    return Spec("tensor", finite=finite, dtype=dtype)


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def validate(value: Any, spec: Spec, source: str, error: type[GnnhwError], where: str = "") -> None:
    """Raise ``error(f"{source}: {where} ...")`` unless ``value`` matches ``spec``.

    ``source`` names the file (e.g. ``"checkpoint 'out/checkpoint.pt'"``), ``where`` the field path.
    """

    def fail(message: str) -> None:
        raise error(f"{source}: {where or 'the file'} {message}")

    if value is None:
        if spec.nullable or spec.kind == "any":
            return
        fail("is missing a value (null)")
    kind = spec.kind
    if kind == "any":
        return
    if kind == "bool":
        if not isinstance(value, bool):
            fail(f"must be true or false, got {_describe(value)}")
        return
    if kind in ("int", "float"):
        ok = isinstance(value, int) if kind == "int" else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok:
            fail(f"must be {'an integer' if kind == 'int' else 'a number'}, got {_describe(value)}")
        if kind == "float" and spec.finite and not math.isfinite(value):
            fail(f"must be a finite number, got {value!r}")
        if spec.min is not None and value < spec.min:
            fail(f"must be >= {spec.min:g}, got {value!r}")
        if spec.max is not None and value > spec.max:
            fail(f"must be <= {spec.max:g}, got {value!r}")
        return
    if kind == "str":
        if not isinstance(value, str):
            fail(f"must be a string, got {_describe(value)}")
        if spec.choices is not None and value not in spec.choices:
            fail(f"must be one of {', '.join(spec.choices)}, got {value[:60]!r}")
        if len(value) < spec.min_len:
            fail(f"must have at least {spec.min_len} character(s), got {value[:60]!r}")
        return
    if kind == "list":
        if not isinstance(value, (list, tuple)):
            fail(f"must be a list, got {_describe(value)}")
        if len(value) < spec.min_len:
            fail(f"must have at least {spec.min_len} item(s), got {len(value)}")
        assert spec.items is not None
        for i, item in enumerate(value):
            validate(item, spec.items, source, error, f"{where}[{i}]")
        return
    if kind in ("map", "record"):
        if not isinstance(value, dict):
            fail(f"must be a mapping, got {_describe(value)}")
        if kind == "map":
            assert spec.items is not None
            for key, item in value.items():
                if not isinstance(key, str):
                    fail(f"has a key that is not a string: {_describe(key)}")
                validate(item, spec.items, source, error, f"{where}.{key}" if where else key)
            return
        missing = [k for k in spec.required if k not in value]
        if missing:
            fail(f"lacks the required key(s) {', '.join(missing)}")
        for key, sub in {**spec.optional, **spec.required}.items():
            if key in value:
                validate(value[key], sub, source, error, f"{where}.{key}" if where else key)
        return
    if kind == "tensor":
        import torch

        if not isinstance(value, torch.Tensor):
            fail(f"must be a tensor, got {_describe(value)}")
        if spec.dtype == "float" and not value.is_floating_point():
            fail(f"must be a floating-point tensor, got {value.dtype}")
        if spec.dtype == "int" and (value.is_floating_point() or value.is_complex() or value.dtype == torch.bool):
            fail(f"must be an integer tensor, got {value.dtype}")
        if spec.dtype == "uint8" and value.dtype != torch.uint8:
            fail(f"must be a uint8 tensor, got {value.dtype}")
        if spec.finite and (value.is_floating_point() or value.is_complex()) and not bool(torch.isfinite(value).all()):
            bad = int((~torch.isfinite(value)).sum())
            fail(f"holds {bad} non-finite value(s) (NaN or infinity); the file is corrupt or its run diverged")
        return
    raise AssertionError(f"unknown spec kind {kind!r}")
