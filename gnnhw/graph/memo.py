"""A content-checked memo of what is built from a tensor's structure (:class:`StructureMemo`).

Each module that memoizes owns its own :class:`StructureMemo` instance (``gnnhw.graph.structure`` for the self-loop
structure of an ``edge_index``, ``gnnhw.graph.layers`` for its CSR patterns); no module fills another's. Values are
built on first use, dropped with the tensor (a weak reference), and rebuilt whenever the tensor's content differs
from a private copy taken when they were built, so no write, tracked by torch's version counter or not (``.data``,
a refilled numpy buffer behind ``torch.from_numpy``), can make a memo serve another graph. Only structure (integer
indices) is memoized, never weights or features.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import Tensor

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_CHUNK = 1 << 18  # columns compared at once when the snapshot is stored narrower than the tensor

T = TypeVar("T")


@dataclass(eq=False)
class _Entry:
    ref: weakref.ref  # the tensor the values were built from
    snapshot: tuple[Tensor, ...]  # a copy of its content (its index tensors if sparse), checked on every use
    store: dict  # key -> value


def _structure_parts(tensor: Tensor) -> tuple[Tensor, ...]:
    """The tensors that define ``tensor``'s structure: itself if dense, its index tensors if sparse."""
    if tensor.layout == torch.sparse_coo:
        return (tensor._indices(),)
    if tensor.layout == torch.sparse_csr:
        return (tensor.crow_indices(), tensor.col_indices())
    if tensor.layout == torch.sparse_csc:
        return (tensor.ccol_indices(), tensor.row_indices())
    return (tensor,)


def _snapshot(part: Tensor) -> Tensor:
    """A private copy of ``part``; int64 values that fit in int32 are stored as int32 (half the memory)."""
    part = part.detach()
    if part.dtype == torch.int64 and part.numel() > 0:
        low, high = int(part.min()), int(part.max())
        if _INT32_MIN <= low and high <= _INT32_MAX:
            return part.to(torch.int32)
    return part.clone()


def _equal(snap: Tensor, part: Tensor) -> bool:
    """Whether ``part`` still equals its snapshot, exactly (a narrow snapshot is widened, never ``part`` narrowed)."""
    if snap.shape != part.shape or snap.device != part.device:
        return False
    if snap.dtype == part.dtype:
        return torch.equal(snap, part)
    if part.dtype != torch.int64 or snap.dtype != torch.int32:
        return False
    if part.dim() == 0:
        return torch.equal(snap.to(part.dtype), part)
    width = part.shape[-1]  # a chunk at a time: small temporaries
    return all(
        torch.equal(snap[..., start : start + _CHUNK].to(part.dtype), part[..., start : start + _CHUNK])
        for start in range(0, width, _CHUNK)
    )


def _same_content(snapshot: tuple[Tensor, ...], parts: tuple[Tensor, ...]) -> bool:
    return len(snapshot) == len(parts) and all(_equal(a, b) for a, b in zip(snapshot, parts, strict=True))


class StructureMemo:
    """Values built from a tensor's structure, memoized per tensor and per key, content-checked on every use.

    :meth:`get` compares the tensor with a private copy taken when its values were built (``torch.equal``: one
    pass over an edge_index, a few ms for two million edges); any difference drops every value built from it. For
    a sparse tensor its index tensors are compared (its values are never part of the structure). Entries live as
    long as the tensor; nothing is attached to the tensor itself. Works inside ``torch.inference_mode`` (the copy
    and the values are built as ordinary tensors) and under ``torch.func`` transforms (structure is integer data,
    built outside their wrappers).
    """

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}  # id(tensor) -> what was built from it

    def get(self, tensor: Tensor, key: Hashable, build: Callable[[], T]) -> T:
        """``build()``, memoized for ``tensor``'s current content under ``key``; never served for changed content."""
        ident = id(tensor)
        entry = self._entries.get(ident)
        with torch._C._DisableFuncTorch():  # integer structure only: torch.func's wrappers cannot take sparse indices
            parts = _structure_parts(tensor)
            if entry is None or entry.ref() is not tensor or not _same_content(entry.snapshot, parts):
                with torch.inference_mode(False):
                    snapshot = tuple(_snapshot(part) for part in parts)
                ref = weakref.ref(tensor, self._forgetter(ident))
                entry = _Entry(ref, snapshot, {})
                self._entries[ident] = entry
            if key not in entry.store:
                with torch.inference_mode(False):  # ordinary tensors, usable later with autograd
                    entry.store[key] = build()
        return entry.store[key]

    def _forgetter(self, ident: int) -> Callable[[weakref.ref], None]:
        """The weak reference's callback: drops the entry of ``id(tensor) == ident`` when that tensor is freed."""

        def forget(ref: weakref.ref) -> None:
            entry = self._entries.get(ident)
            if entry is not None and entry.ref is ref:  # not a newer tensor that reused the id
                del self._entries[ident]

        return forget
