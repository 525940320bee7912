r"""Bits per character: the cross-entropy of a character model in bits, the field's measure for it.

For N predicted characters with targets :math:`y_n` and logits :math:`z_n \in \mathbb{R}^V`,

.. math::
    \mathrm{bpc} = -\frac{1}{N} \sum_{n=1}^{N} \log_2 \operatorname{softmax}(z_n)_{y_n}
                 = \frac{1}{\ln 2} \cdot \Bigl(-\frac{1}{N} \sum_{n=1}^{N} \ln \operatorname{softmax}(z_n)_{y_n}\Bigr),

that is the usual cross-entropy loss (in nats) divided by :math:`\ln 2`. It is the number of bits per
character an arithmetic coder driven by the model would need for the text (Shannon's source coding
theorem), which is what makes it comparable with compressors. Used this way for character-level LSTMs by
Graves, "Generating Sequences With Recurrent Neural Networks", 2013, Sec. 3.1
(https://arxiv.org/abs/1308.0850), and by the Hutter Prize / enwik8 benchmarks.
"""

from __future__ import annotations

import math
from typing import overload

import torch.nn.functional as F
from torch import Tensor

from gnnhw.errors import ShapeError

LN2 = math.log(2.0)


@overload
def nats_to_bits(nats: float) -> float: ...
@overload
def nats_to_bits(nats: Tensor) -> Tensor: ...
def nats_to_bits(nats: float | Tensor) -> float | Tensor:
    """A cross-entropy in nats (natural log) as bits: ``nats / ln 2``.

    >>> nats_to_bits(math.log(4.0))  # a uniform guess among 4 characters: 2 bits each
    2.0
    """
    return nats / LN2


def bits_per_char(logits: Tensor, targets: Tensor) -> Tensor:
    r"""Mean cross-entropy of the next character in bits: :math:`-\frac{1}{N}\sum_n \log_2 p(y_n)`.

    Args:
        logits: unnormalised scores, (..., V) floating point: (N, V) or (B, T, V).
        targets: the characters that came, as vocabulary indices, (...) long: (N,) or (B, T).

    Returns:
        A 0-dimensional tensor in bits per character, of the logits' dtype (differentiable).

    Raises:
        ShapeError: if ``targets.shape`` is not ``logits.shape[:-1]``, if there are no characters, or if a
            target is outside ``[0, V)``.

    >>> import torch
    >>> bits_per_char(torch.zeros(3, 8), torch.tensor([0, 5, 7]))  # uniform over 8 characters: 3 bits
    tensor(3.)
    """
    if logits.dim() < 1 or tuple(targets.shape) != tuple(logits.shape[:-1]):
        raise ShapeError(
            f"bits_per_char needs logits (..., V) and targets (...) of the same leading shape; "
            f"got logits {tuple(logits.shape)} and targets {tuple(targets.shape)}"
        )
    if targets.numel() == 0:
        raise ShapeError(f"bits_per_char needs at least one character; got targets {tuple(targets.shape)}")
    vocab_size = logits.shape[-1]
    low, high = int(targets.min()), int(targets.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ShapeError(f"target index {bad} is outside the vocabulary [0, {vocab_size}) of the logits")
    nats = F.cross_entropy(logits.reshape(-1, vocab_size), targets.reshape(-1))  # mean over all N characters
    return nats / LN2
