"""Recurrent nets: palindromes, from-scratch RNN and LSTM cells equal to ``torch.nn``, sequence
classifiers, and a character-level LSTM text generator.

The names below are the public API; each is imported from its module on first use.
"""

from __future__ import annotations

from gnnhw._lazy import lazy_exports

_EXPORTS = {
    "RNNCell": "gnnhw.recurrent.cells",
    "LSTMCell": "gnnhw.recurrent.cells",
    "VanillaRNN": "gnnhw.recurrent.models",
    "LSTM": "gnnhw.recurrent.models",
    "TextGenerationModel": "gnnhw.recurrent.models",
    "strip_gutenberg": "gnnhw.recurrent.gutenberg",
    "bits_per_char": "gnnhw.recurrent.metrics",
    "KneserNeyModel": "gnnhw.recurrent.baselines",
    "text_baselines": "gnnhw.recurrent.baselines",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
