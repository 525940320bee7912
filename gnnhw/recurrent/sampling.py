r"""Generating text from a :class:`~gnnhw.recurrent.models.TextGenerationModel`.

Every function runs under ``torch.no_grad()`` in eval mode and draws its randomness from an explicit
``torch.Generator`` (or a seed), so the same seed gives the same text.

**Temperature convention.** gnnhw *divides* the logits z by the temperature T:

.. math::
    p(c) = \mathrm{softmax}(z / T)_c

so T > 1 flattens the distribution (more random), T < 1 sharpens it, and T -> 0 becomes greedy.
The assignment's formula *multiplies* the logits by τ, :math:`\mathrm{softmax}(\tau z)`, i.e. its τ is an
inverse temperature: **T = 1 / τ**. The assignment's τ = 0.5, 1, 2 are gnnhw's T = 2, 1, 0.5.

Without a prompt, generation starts from one character drawn uniformly from the vocabulary (the
assignment's choice), using the same generator.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gnnhw.errors import ConfigError, check_positive_int
from gnnhw.recurrent.models import TextGenerationModel
from gnnhw.recurrent.text import Vocabulary

State = tuple[Tensor, Tensor]


def _check_length(length: int) -> None:
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise ConfigError(f"length must be a non-negative integer, got {length!r}")


def _check_temperature(temperature: float) -> None:
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ConfigError(f"temperature must be a positive number (T > 0; T -> 0 is greedy), got {temperature!r}")


def _generator(generator: torch.Generator | None, seed: int) -> torch.Generator:
    return generator if generator is not None else torch.Generator().manual_seed(seed)


def next_char_probs(logits: Tensor, temperature: float = 1.0, top_k: int | None = None) -> Tensor:
    """softmax(z / T) over the last dimension, restricted to the ``top_k`` largest logits when given.

    Shapes:
        - ``logits``: (..., V); output: (..., V), each row summing to 1
    """
    _check_temperature(temperature)
    if top_k is not None:
        check_positive_int("top_k", top_k)
    scaled = logits.float() / temperature  # z / T  (the assignment's tau * z with tau = 1 / T)
    if top_k is not None and top_k < scaled.shape[-1]:
        kth = scaled.topk(top_k, dim=-1).values[..., -1:]  # (..., 1): the k-th largest
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    return torch.softmax(scaled, dim=-1)


def _device(model: TextGenerationModel) -> torch.device:
    return model.head.weight.device


def _start(
    model: TextGenerationModel, vocab: Vocabulary, prompt: str | None, generator: torch.Generator
) -> tuple[str, Tensor, State]:
    """Feed the prompt (or one random character); return it, the logits after its last character (V,), the state."""
    if len(vocab) != model.vocab_size:
        raise ConfigError(f"the vocabulary has {len(vocab)} characters but the model expects {model.vocab_size}")
    if prompt:
        ids = vocab.encode(prompt)  # ConfigError names characters outside the vocabulary
    else:
        ids = torch.randint(0, len(vocab), (1,), generator=generator)
        prompt = vocab.decode(ids)
    logits, state = model(ids.to(_device(model))[None])  # (1, P, V)
    return prompt, logits[0, -1], state


@torch.no_grad()
def sample(
    model: TextGenerationModel,
    vocab: Vocabulary,
    length: int,
    prompt: str | None = None,
    temperature: float = 1.0,
    greedy: bool = False,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    seed: int = 0,
) -> str:
    """Generate ``length`` characters after ``prompt``; return the prompt (or the random first character)
    followed by them.

    Args:
        greedy: take the most likely character at every step (temperature and top_k are then ignored).
        temperature: T in softmax(z / T), T > 0 (see the module docstring for the assignment's τ = 1 / T).
        top_k: sample only among the k most likely characters (None: all).
        generator / seed: the randomness (``generator`` wins; else a new one seeded with ``seed``).
    """
    _check_length(length)
    next_char_probs(torch.zeros(1), temperature, top_k)  # validates temperature and top_k before any work
    generator = _generator(generator, seed)
    was_training = model.training
    model.eval()
    try:
        prompt, logits, state = _start(model, vocab, prompt, generator)
        out: list[int] = []
        for _ in range(length):
            if greedy:
                nxt = int(logits.argmax())
            else:
                probs = next_char_probs(logits.cpu(), temperature, top_k)  # (V,)
                nxt = int(torch.multinomial(probs, 1, generator=generator))
            out.append(nxt)
            if len(out) < length:  # the logits after the last character are never used
                step_logits, state = model(torch.tensor([[nxt]], device=_device(model)), state)  # (1, 1, V)
                logits = step_logits[0, -1]
        return prompt + vocab.decode(out)
    finally:
        model.train(was_training)


def greedy(model: TextGenerationModel, vocab: Vocabulary, length: int, prompt: str | None = None, seed: int = 0) -> str:
    """:func:`sample` with ``greedy=True`` (the seed only picks the first character when there is no prompt)."""
    return sample(model, vocab, length, prompt=prompt, greedy=True, seed=seed)


def complete(
    model: TextGenerationModel,
    vocab: Vocabulary,
    prompt: str,
    length: int = 60,
    temperature: float | None = None,
    seed: int = 0,
) -> str:
    """Finish ``prompt`` with ``length`` characters: greedily, or sampled at ``temperature`` when given."""
    if not prompt:
        raise ConfigError("complete() needs a non-empty prompt")
    if temperature is None:
        return sample(model, vocab, length, prompt=prompt, greedy=True, seed=seed)
    return sample(model, vocab, length, prompt=prompt, temperature=temperature, seed=seed)


@torch.no_grad()
def beam_search(
    model: TextGenerationModel,
    vocab: Vocabulary,
    length: int,
    prompt: str | None = None,
    beam_width: int = 5,
    generator: torch.Generator | None = None,
    seed: int = 0,
) -> str:
    r"""The continuation of ``length`` characters with the highest log-probability found by beam search.

    Keeps the ``beam_width`` best partial sequences by :math:`\sum_t \log p(c_t \mid c_{<t})`; at each step every
    beam is extended by every character and the best ``beam_width`` of the ``beam_width * V`` extensions survive.
    Width 1 is greedy decoding. The generator only picks the first character when there is no prompt.
    """
    _check_length(length)
    check_positive_int("beam width", beam_width)
    generator = _generator(generator, seed)
    was_training = model.training
    model.eval()
    try:
        prompt, logits, (h, c) = _start(model, vocab, prompt, generator)
        k = min(beam_width, len(vocab))
        device = _device(model)
        # Start with k copies of the one real beam; all but the first score -inf so the first step picks
        # k different extensions of the prompt instead of k copies of the best one.
        scores = torch.full((k,), float("-inf"), device=device)
        scores[0] = 0.0
        logp = torch.log_softmax(logits.float(), dim=-1).expand(k, -1)  # (k, V)
        h, c = h.repeat(1, k, 1), c.repeat(1, k, 1)  # (L, k, H)
        seqs = torch.empty(k, 0, dtype=torch.long, device=device)
        for _ in range(length):
            total = (scores[:, None] + logp).view(-1)  # (k * V,): log p(beam) + log p(next char | beam)
            scores, flat = total.topk(k)  # (k,)
            beam, char = flat // len(vocab), flat % len(vocab)
            seqs = torch.cat([seqs[beam], char[:, None]], dim=1)  # (k, t + 1)
            step_logits, (h, c) = model(char[:, None], (h[:, beam], c[:, beam]))  # (k, 1, V)
            logp = torch.log_softmax(step_logits[:, -1].float(), dim=-1)
        return prompt + vocab.decode(seqs[0]) if length else prompt
    finally:
        model.train(was_training)
