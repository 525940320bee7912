"""Recurrent nets: palindromes, from-scratch RNN and LSTM cells equal to ``torch.nn``, sequence
classifiers, and a character-level LSTM text generator.

The names below are the public API; each is imported from its module on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gnnhw._lazy import lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers (``as``: re-exported); tests/test_public_api.py checks
    from gnnhw.recurrent.baselines import (
        KneserNeyModel as KneserNeyModel,
    )
    from gnnhw.recurrent.baselines import (
        text_baselines as text_baselines,
    )
    from gnnhw.recurrent.cells import (
        LSTMCell as LSTMCell,
    )
    from gnnhw.recurrent.cells import (
        RNNCell as RNNCell,
    )
    from gnnhw.recurrent.gutenberg import (
        strip_gutenberg as strip_gutenberg,
    )
    from gnnhw.recurrent.metrics import (
        bits_per_char as bits_per_char,
    )
    from gnnhw.recurrent.models import (
        LSTM as LSTM,
    )
    from gnnhw.recurrent.models import (
        TextGenerationModel as TextGenerationModel,
    )
    from gnnhw.recurrent.models import (
        VanillaRNN as VanillaRNN,
    )

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
