"""Recurrent nets: palindromes, from-scratch RNN and LSTM cells equal to ``torch.nn``, sequence
classifiers, and a character-level LSTM text generator.

The names below are the public API; each is imported from its module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RNNCell": "gnnhw.recurrent.cells",
    "LSTMCell": "gnnhw.recurrent.cells",
    "VanillaRNN": "gnnhw.recurrent.models",
    "LSTM": "gnnhw.recurrent.models",
    "TextGenerationModel": "gnnhw.recurrent.models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gnnhw.recurrent' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
