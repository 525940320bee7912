"""Palindromes of digits, the assignment's first recurrent task.

A palindrome of length T is ceil(T/2) uniformly random digits 0-9 followed by their mirror image, e.g.
T = 5: ``3 8 1 8 3``, T = 4: ``3 8 8 3``. The network reads the first T - 1 digits and predicts the last,
which equals the first: to solve the task it must carry the first digit across T - 1 steps.

Inputs are one-hot (``input_size=10``, the default) or the raw digit values as a single float feature
(``input_size=1``, the course skeleton's choice). Every sample comes from an explicit
:class:`torch.Generator`, so a seed fixes the data; :func:`train_test_generators` gives the training
stream and the test set two independent generators.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gnnhw._renames import accept_renamed
from gnnhw.checks import SEED_MAX, SEED_WHY, check_value
from gnnhw.errors import ConfigError, check_positive_int
from gnnhw.recurrent.config import INPUT_SIZES, NUM_DIGITS, SIZE_RENAMES  # noqa: F401 - re-exported


def check_length(length: int) -> None:
    """Raise :class:`ConfigError` unless ``length`` is an integer >= 2 (one input digit, one target)."""
    if not isinstance(length, int) or isinstance(length, bool) or length < 2:
        raise ConfigError(f"palindrome length must be an integer >= 2 (T-1 input digits and 1 target), got {length!r}")


def sample_palindromes(length: int, num: int, generator: torch.Generator) -> Tensor:
    """``num`` random palindromes of ``length`` digits.

    The first ceil(T/2) digits are uniform on 0-9; the rest mirror them.

    Shapes:
        - output: (num, T), dtype long, values in 0..9

    Example:
        >>> import torch
        >>> digits = sample_palindromes(5, 2, torch.Generator().manual_seed(0))
        >>> digits.shape
        torch.Size([2, 5])
        >>> torch.equal(digits, digits.flip(1))  # each row reads the same backwards
        True
    """
    check_length(length)
    check_positive_int("number of palindromes", num)
    half = torch.randint(0, NUM_DIGITS, (num, (length + 1) // 2), generator=generator)  # (N, ceil(T/2))
    mirror = half[:, : length // 2].flip(1)  # (N, floor(T/2)): the first half, reversed
    return torch.cat([half, mirror], dim=1)  # (N, T)


@accept_renamed(SIZE_RENAMES)
def encode(digits: Tensor, input_size: int = NUM_DIGITS) -> Tensor:
    """Digits (N, L) -> network input (N, L, input_size): one-hot for 10, the raw float value for 1.

    The input has torch's default dtype (float32 unless ``torch.set_default_dtype`` says otherwise), the dtype
    the models' parameters are created in, so a float64 run is float64 throughout.

    Raises :class:`ConfigError` for another ``input_size`` (the old keyword ``input_dim`` still works, warned).
    """
    dtype = torch.get_default_dtype()
    if input_size == NUM_DIGITS:
        return torch.nn.functional.one_hot(digits, NUM_DIGITS).to(dtype)  # (N, L, 10)
    if input_size == 1:
        return digits.to(dtype).unsqueeze(-1)  # (N, L, 1)
    raise ConfigError(f"input_size must be 10 (one-hot digits) or 1 (raw digit values), got {input_size!r}")


@accept_renamed(SIZE_RENAMES)
def palindrome_batch(
    length: int, batch_size: int, generator: torch.Generator, input_size: int = NUM_DIGITS
) -> tuple[Tensor, Tensor]:
    """A batch for the task: the first T-1 digits as input, the last digit as the target.

    Shapes:
        - inputs: (batch_size, T - 1, input_size), float
        - targets: (batch_size,), long, values in 0..9

    Raises :class:`ConfigError` for a length below 2, a batch size below 1 or an unknown ``input_size``.

    Example:
        >>> import torch
        >>> x, y = palindrome_batch(5, 3, torch.Generator().manual_seed(0))
        >>> x.shape, y.shape  # 3 palindromes: 4 one-hot input digits, 1 target digit
        (torch.Size([3, 4, 10]), torch.Size([3]))
        >>> bool((x[:, 0].argmax(-1) == y).all())  # the last digit repeats the first
        True
    """
    digits = sample_palindromes(length, batch_size, generator)  # (B, T)
    return encode(digits[:, :-1], input_size), digits[:, -1]


def train_test_generators(seed: int) -> tuple[torch.Generator, torch.Generator]:
    """Two independent generators derived from ``seed``: one for training batches, one for the test set.

    The test stream uses seed ``2 * seed + 1`` and the training stream ``2 * seed``, so no two seeds share
    a stream and the test set never repeats the training batches' random draws. (For short palindromes the
    *set* of distinct palindromes is small, 10^ceil(T/2), so test palindromes can still occur in training.)
    """
    check_value("seed", seed, int, {"min": 0, "max": SEED_MAX, "why": SEED_WHY})
    return torch.Generator().manual_seed(2 * seed), torch.Generator().manual_seed(2 * seed + 1)
