"""Palindrome sampling: mirrored digits, inputs/targets, encodings, seeds, bad lengths."""

from __future__ import annotations

import pytest
import torch

from gnnhw.errors import ConfigError
from gnnhw.recurrent.palindrome import encode, palindrome_batch, sample_palindromes, train_test_generators


@pytest.mark.parametrize("length", [2, 3, 4, 5, 10, 11])
def test_samples_read_the_same_backwards(length):
    digits = sample_palindromes(length, 64, torch.Generator().manual_seed(0))
    assert digits.shape == (64, length)
    assert digits.dtype == torch.long
    assert torch.equal(digits, digits.flip(1))
    assert digits.min() >= 0
    assert digits.max() <= 9


def test_first_half_is_uniform_over_the_ten_digits():
    digits = sample_palindromes(5, 20_000, torch.Generator().manual_seed(1))
    counts = torch.bincount(digits[:, :3].flatten(), minlength=10).float()
    assert counts.numel() == 10
    assert (counts / counts.sum() - 0.1).abs().max() < 0.01


def test_batch_inputs_are_the_first_t_minus_1_digits_and_target_the_last():
    gen_a, gen_b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    digits = sample_palindromes(7, 16, gen_a)
    x, y = palindrome_batch(7, 16, gen_b)
    assert x.shape == (16, 6, 10)
    assert torch.equal(x.argmax(-1), digits[:, :6])
    assert torch.equal(y, digits[:, 6])
    assert torch.equal(y, digits[:, 0])  # the target is the first digit, T-1 steps back


def test_one_hot_and_raw_encodings():
    digits = torch.tensor([[0, 3, 9]])
    one_hot = encode(digits)
    assert one_hot.shape == (1, 3, 10)
    assert torch.equal(one_hot.sum(-1), torch.ones(1, 3))
    assert one_hot[0, 1, 3] == 1.0
    raw = encode(digits, input_size=1)
    assert raw.shape == (1, 3, 1)
    assert torch.equal(raw.squeeze(-1), torch.tensor([[0.0, 3.0, 9.0]]))


def test_same_seed_same_data_and_train_test_streams_differ():
    train_a, test_a = train_test_generators(5)
    train_b, _ = train_test_generators(5)
    xa, _ = palindrome_batch(9, 32, train_a)
    xb, _ = palindrome_batch(9, 32, train_b)
    xt, _ = palindrome_batch(9, 32, test_a)
    assert torch.equal(xa, xb)
    assert not torch.equal(xa, xt)


@pytest.mark.parametrize("length", [1, 0, -3, 2.5])
def test_length_below_two_is_a_config_error(length):
    with pytest.raises(ConfigError, match="length must be an integer >= 2"):
        sample_palindromes(length, 4, torch.Generator())


def test_bad_input_size_and_seed_are_config_errors():
    with pytest.raises(ConfigError, match="input_size"):
        palindrome_batch(5, 4, torch.Generator(), input_size=3)
    with pytest.raises(ConfigError, match="seed"):
        train_test_generators(-1)


def test_old_input_dim_keyword_still_works_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="input_dim= is deprecated"):
        x, _ = palindrome_batch(5, 4, torch.Generator().manual_seed(0), input_dim=1)
    assert x.shape == (4, 4, 1)
