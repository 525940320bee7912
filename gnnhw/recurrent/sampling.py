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

**Bounds.** At most :data:`MAX_SAMPLE_LENGTH` characters per call (20-40 minutes of CPU time for the
assignment's model; ask several times for more); temperatures in [:data:`MIN_TEMPERATURE`,
:data:`MAX_TEMPERATURE`] (below, z / T overflows float32: use greedy decoding); seeds in [0, 2^32).
:func:`iter_sample` yields the text as it is generated, so a caller can stream it. A model whose outputs are
not finite (NaN or infinite weights) raises :class:`~gnnhw.errors.NonFiniteError` instead of producing text.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import ParamSpec

import torch
from torch import Tensor

from gnnhw.checks import SEED_MAX, SEED_WHY, check_value
from gnnhw.errors import ConfigError, NonFiniteError, check_positive_int
from gnnhw.recurrent import config as _config
from gnnhw.recurrent.config import MAX_SAMPLE_LENGTH, MAX_TEMPERATURE, MIN_TEMPERATURE  # noqa: F401 - re-exported
from gnnhw.recurrent.models import TextGenerationModel
from gnnhw.recurrent.text import Vocabulary

State = tuple[Tensor, Tensor]
P = ParamSpec("P")


def _generator(generator: torch.Generator | None, seed: int) -> torch.Generator:
    if generator is not None:
        return generator
    check_value("seed", seed, int, {"min": 0, "max": SEED_MAX, "why": SEED_WHY})
    return torch.Generator().manual_seed(seed)


def check_sample_options(
    length: int, temperature: float | None = None, top_k: int | None = None, seed: int = 0
) -> None:
    """Check sampling options before any work (the CLI calls it before loading a checkpoint):
    :class:`ConfigError` naming the first bad one."""
    _config.check_sample_length(length)
    if temperature is not None:
        next_char_probs(torch.zeros(1), temperature, top_k)
    _generator(None, seed)


def _check_finite(logits: Tensor, position: int) -> None:
    """NonFiniteError when the model's output holds NaN or infinity (its weights do, or they overflowed)."""
    if not bool(torch.isfinite(logits).all()):
        raise NonFiniteError(
            f"the model's output at character {position} is not finite (NaN or infinity): its weights are not "
            "finite or overflow; retrain it, or load a checkpoint whose weights are finite"
        )


def next_char_probs(logits: Tensor, temperature: float = 1.0, top_k: int | None = None) -> Tensor:
    """softmax(z / T) over the last dimension, restricted to the ``top_k`` largest logits when given.

    Shapes:
        - ``logits``: (..., V); output: (..., V), each row summing to 1
    """
    _config.check_temperature(temperature)
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


def iter_sample(
    model: TextGenerationModel,
    vocab: Vocabulary,
    length: int,
    prompt: str | None = None,
    temperature: float = 1.0,
    greedy: bool = False,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    seed: int = 0,
) -> Iterator[str]:
    """Generate ``length`` characters after ``prompt``, yielded as they are generated: first the prompt (or the
    random first character), then each new character. :func:`sample` returns the same text as one string.

    Args:
        length: characters to generate, 0 to :data:`MAX_SAMPLE_LENGTH`.
        greedy: take the most likely character at every step (temperature is then unused; top_k is refused).
        temperature: T in softmax(z / T), T > 0 (see the module docstring for the assignment's τ = 1 / T).
        top_k: sample only among the k most likely characters (None: all).
        generator / seed: the randomness (``generator`` wins; else a new one seeded with ``seed`` in [0, 2^32)).

    The arguments are checked when it is called, before the first character; the model is in eval mode until
    the iterator is exhausted or closed.

    Raises:
        ConfigError: a bad length, temperature, top_k or seed, or a prompt with characters outside ``vocab``.
        NonFiniteError: the model's outputs are not finite (NaN weights).
    """
    _config.check_sample_length(length)
    if greedy and top_k is not None:
        raise ConfigError("top_k applies only to sampling at a temperature, not to greedy decoding; drop it")
    if not greedy:
        next_char_probs(torch.zeros(1), temperature, top_k)  # validates temperature and top_k before any work
    rng = _generator(generator, seed)

    def draw(logits: Tensor) -> int:
        """The next character's index from the logits (V,) after the text so far."""
        if greedy:
            return int(logits.argmax())
        return int(torch.multinomial(next_char_probs(logits.cpu(), temperature, top_k), 1, generator=rng))

    return _generate(model, vocab, length, prompt, draw, rng)


def _generate(
    model: TextGenerationModel,
    vocab: Vocabulary,
    length: int,
    prompt: str | None,
    draw: Callable[[Tensor], int],
    generator: torch.Generator,
) -> Iterator[str]:
    """The generator behind :func:`iter_sample`: feed the prompt, then ``length`` times pick a character with
    ``draw`` and feed it back."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            prompt, logits, state = _start(model, vocab, prompt, generator)
        _check_finite(logits, len(prompt))  # before anything is yielded: NaN weights give no output at all
        yield prompt
        for i in range(length):
            _check_finite(logits, len(prompt) + i)
            nxt = draw(logits)
            yield vocab.chars[nxt]
            if i + 1 < length:  # the logits after the last character are never used
                with torch.no_grad():
                    step_logits, state = model(torch.tensor([[nxt]], device=_device(model)), state)  # (1, 1, V)
                logits = step_logits[0, -1]
    finally:
        model.train(was_training)


def _joined(iterate: Callable[P, Iterator[str]], name: str, doc: str) -> Callable[P, str]:
    """A function taking ``iterate``'s arguments (one source: its signature) and returning its text as one
    string."""

    def joined(*args: P.args, **kwargs: P.kwargs) -> str:
        return "".join(iterate(*args, **kwargs))

    joined.__name__ = joined.__qualname__ = name
    joined.__doc__ = doc
    joined.__module__ = iterate.__module__
    setattr(joined, "__signature__", inspect.signature(iterate).replace(return_annotation="str"))  # noqa: B010
    return joined


sample = _joined(
    iter_sample,
    "sample",
    """Generate ``length`` characters after ``prompt``; return the prompt (or the random first character)
    followed by them: the text :func:`iter_sample` yields (same arguments, same checks), as one string.

    >>> import torch
    >>> from gnnhw.recurrent.models import TextGenerationModel
    >>> from gnnhw.recurrent.text import Vocabulary
    >>> vocab = Vocabulary.from_text("abc ")
    >>> _ = torch.manual_seed(0)
    >>> model = TextGenerationModel(len(vocab), hidden_size=8, num_layers=1)
    >>> text = sample(model, vocab, 5, prompt="ab", temperature=0.5, seed=1)
    >>> len(text), text[:2]
    (7, 'ab')
    >>> text == sample(model, vocab, 5, prompt="ab", temperature=0.5, seed=1)  # the same seed, the same text
    True
    """,
)


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
    on_step: Callable[[int], None] | None = None,
) -> str:
    r"""The continuation of ``length`` characters with the highest log-probability found by beam search.

    Keeps the ``beam_width`` best partial sequences by :math:`\sum_t \log p(c_t \mid c_{<t})`; at each step every
    beam is extended by every character and the best ``beam_width`` of the ``beam_width * V`` extensions survive.
    Width 1 is greedy decoding. The generator only picks the first character when there is no prompt.
    ``on_step(i)`` is called after the i-th character (e.g. to show progress).
    """
    _config.check_sample_length(length)
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
        for i in range(length):
            _check_finite(logp[0] if i == 0 else logp, len(prompt) + i)
            total = (scores[:, None] + logp).view(-1)  # (k * V,): log p(beam) + log p(next char | beam)
            scores, flat = total.topk(k)  # (k,)
            beam, char = flat // len(vocab), flat % len(vocab)
            seqs = torch.cat([seqs[beam], char[:, None]], dim=1)  # (k, t + 1)
            step_logits, (h, c) = model(char[:, None], (h[:, beam], c[:, beam]))  # (k, 1, V)
            logp = torch.log_softmax(step_logits[:, -1].float(), dim=-1)
            if on_step is not None:
                on_step(i + 1)
        return prompt + vocab.decode(seqs[0]) if length else prompt
    finally:
        model.train(was_training)
