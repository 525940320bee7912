"""Bits per character: cross-entropy in bits, checked against torch and against a hand computation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gnnhw.errors import GnnhwError, ShapeError
from gnnhw.recurrent.metrics import bits_per_char, nats_to_bits


def test_bits_per_char_is_cross_entropy_over_ln2_for_batches_of_sequences():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 7, 11, generator=gen, dtype=torch.float64)  # (B, T, V)
    targets = torch.randint(0, 11, (4, 7), generator=gen)  # (B, T)
    expected = F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1)) / math.log(2)
    got = bits_per_char(logits, targets)
    assert got.dim() == 0
    assert got.dtype == torch.float64
    assert abs(float(got) - float(expected)) <= 1e-12


def test_bits_per_char_by_hand():
    # p = softmax([0, ln 3]) = (1/4, 3/4): the characters 1, 0 cost -log2(3/4) and -log2(1/4) = 2 bits
    logits = torch.tensor([[0.0, math.log(3.0)], [0.0, math.log(3.0)]], dtype=torch.float64)  # (N, V)
    targets = torch.tensor([1, 0])
    expected = (-math.log2(3 / 4) + 2.0) / 2
    assert abs(float(bits_per_char(logits, targets)) - expected) <= 1e-12


def test_uniform_logits_cost_log2_of_the_vocabulary_size():
    logits = torch.zeros(5, 80, dtype=torch.float64)
    assert abs(float(bits_per_char(logits, torch.arange(5))) - math.log2(80)) <= 1e-12


def test_bits_per_char_is_differentiable():
    logits = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    bits_per_char(logits, torch.tensor([0, 4, 2])).backward()
    assert logits.grad is not None
    assert torch.isfinite(logits.grad).all()


def test_nats_to_bits():
    assert nats_to_bits(math.log(2.0)) == 1.0
    assert abs(nats_to_bits(1.9880) - 1.9880 / math.log(2)) <= 1e-15


@pytest.mark.parametrize(
    ("logits", "targets", "message"),
    [
        (torch.zeros(3, 5), torch.zeros(4, dtype=torch.long), "same leading shape"),
        (torch.zeros(0, 5), torch.zeros(0, dtype=torch.long), "at least one character"),
        (torch.zeros(2, 5), torch.tensor([0, 5]), "index 5 is outside"),
        (torch.zeros(2, 5), torch.tensor([-1, 0]), "index -1 is outside"),
    ],
    ids=["shape", "empty", "too-large", "negative"],
)
def test_bad_inputs_raise_one_clear_error(logits, targets, message):
    with pytest.raises(ShapeError, match=message) as info:
        bits_per_char(logits, targets)
    assert isinstance(info.value, GnnhwError)
    assert "\n" not in str(info.value)
