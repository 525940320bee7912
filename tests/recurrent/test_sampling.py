"""Greedy, temperature, top-k, completion and beam search."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from gnnhw.errors import ConfigError
from gnnhw.recurrent.models import TextGenerationModel
from gnnhw.recurrent.sampling import beam_search, complete, greedy, next_char_probs, sample
from gnnhw.recurrent.text import Vocabulary

VOCAB = Vocabulary.from_text("abcdefgh .")


@pytest.fixture
def model() -> TextGenerationModel:
    torch.manual_seed(0)
    m = TextGenerationModel(len(VOCAB), hidden_size=16, num_layers=2)
    with torch.no_grad():
        m.head.weight.mul_(8)  # sharper distributions, so greedy paths are well separated
    return m.eval()


def _log_prob(model: TextGenerationModel, text: str, prompt: str) -> float:
    """log p(text[len(prompt):] | prompt), recomputed from scratch on the whole sequence."""
    ids = VOCAB.encode(text)
    with torch.no_grad():
        logp = torch.log_softmax(model(ids[None, :-1])[0][0], dim=-1)  # (N - 1, V)
    return sum(float(logp[t - 1, ids[t]]) for t in range(len(prompt), len(ids)))


def test_greedy_picks_the_argmax_of_the_whole_prefix_at_every_step(model):
    out = greedy(model, VOCAB, 12, prompt="abc")
    assert out.startswith("abc")
    assert len(out) == 15
    for t in range(3, len(out)):  # reference: no state carried, the whole prefix fed each time
        with torch.no_grad():
            logits = model(VOCAB.encode(out[:t])[None])[0][0, -1]
        assert VOCAB.chars[int(logits.argmax())] == out[t]


def test_sampling_is_reproducible_with_a_seed_and_varies_across_seeds(model):
    a = sample(model, VOCAB, 40, temperature=2.0, seed=1)
    assert a == sample(model, VOCAB, 40, temperature=2.0, seed=1)
    assert len({sample(model, VOCAB, 40, temperature=2.0, seed=s) for s in range(4)}) > 1
    assert len(a) == 41  # the random first character + 40


def test_tiny_temperature_and_top_1_are_greedy(model):
    ref = greedy(model, VOCAB, 20, prompt="ab")
    assert sample(model, VOCAB, 20, prompt="ab", temperature=1e-4, seed=5) == ref
    assert sample(model, VOCAB, 20, prompt="ab", temperature=3.0, top_k=1, seed=5) == ref


def test_temperature_divides_the_logits_and_equals_the_assignments_inverse_tau():
    z = torch.tensor([2.0, 1.0, -1.0, 0.5])
    for temperature in (0.5, 1.0, 2.0):
        expected = torch.exp(z / temperature) / torch.exp(z / temperature).sum()
        torch.testing.assert_close(next_char_probs(z, temperature), expected)
        tau = 1 / temperature  # the assignment's softmax(tau * z)
        torch.testing.assert_close(next_char_probs(z, temperature), torch.softmax(tau * z, -1))
    # higher temperature: flatter distribution (more entropy)
    entropy = [float(-(p * p.log()).sum()) for p in (next_char_probs(z, t) for t in (0.5, 1.0, 2.0))]
    assert entropy[0] < entropy[1] < entropy[2]


def test_top_k_keeps_only_the_k_likeliest():
    z = torch.tensor([2.0, 1.0, -1.0, 0.5])
    p = next_char_probs(z, 1.0, top_k=2)
    assert p[2] == 0
    assert p[3] == 0
    torch.testing.assert_close(p[:2], torch.softmax(z[:2], -1))


def test_sampling_frequencies_follow_the_tempered_distribution(model):
    with torch.no_grad():
        logits = model(VOCAB.encode("ab")[None])[0][0, -1]
    expected = next_char_probs(logits, 2.0)
    gen = torch.Generator().manual_seed(0)
    counts = torch.zeros(len(VOCAB))
    for _ in range(400):
        counts[VOCAB.encode(sample(model, VOCAB, 1, prompt="ab", temperature=2.0, generator=gen)[-1])] += 1
    assert (counts / 400 - expected).abs().max() < 0.08  # 400 draws: standard error <= 0.025


def test_complete_continues_the_prompt(model):
    out = complete(model, VOCAB, "abc d", length=10)
    assert out.startswith("abc d")
    assert len(out) == 15
    assert out == greedy(model, VOCAB, 10, prompt="abc d")


def test_beam_of_width_one_is_greedy(model):
    assert beam_search(model, VOCAB, 15, prompt="ab", beam_width=1) == greedy(model, VOCAB, 15, prompt="ab")


def test_beam_search_is_exact_when_the_beam_holds_every_prefix():
    torch.manual_seed(1)
    vocab = Vocabulary.from_text("abc")
    m = TextGenerationModel(3, hidden_size=6, num_layers=1).eval()
    with torch.no_grad():
        m.head.weight.mul_(5)
    best = max(
        ("".join(s) for s in itertools.product("abc", repeat=3)),
        key=lambda s: _log_prob_vocab(m, vocab, "b" + s, 1),
    )
    assert beam_search(m, vocab, 3, prompt="b", beam_width=9) == "b" + best


def _log_prob_vocab(model, vocab, text, n_prompt):
    ids = vocab.encode(text)
    with torch.no_grad():
        logp = torch.log_softmax(model(ids[None, :-1])[0][0], dim=-1)
    return sum(float(logp[t - 1, ids[t]]) for t in range(n_prompt, len(ids)))


def test_beam_search_finds_a_sequence_at_least_as_likely_as_greedy(model):
    g = greedy(model, VOCAB, 20, prompt="a.")
    b = beam_search(model, VOCAB, 20, prompt="a.", beam_width=5)
    assert len(b) == len(g)
    assert _log_prob(model, b, "a.") >= _log_prob(model, g, "a.") - 1e-5


def test_sampling_leaves_the_models_mode_and_gradients_alone(model):
    model.train()
    out = sample(model, VOCAB, 5, seed=0)
    assert model.training
    assert len(out) == 6
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("temperature", [0.0, -1.0, math.nan, math.inf])
def test_non_positive_temperature_is_rejected(model, temperature):
    with pytest.raises(ConfigError, match="temperature"):
        sample(model, VOCAB, 5, temperature=temperature)


def test_prompt_characters_outside_the_vocabulary_are_named(model):
    with pytest.raises(ConfigError, match=r"'Q'.*'z'"):
        sample(model, VOCAB, 5, prompt="abzQ")
    with pytest.raises(ConfigError, match="'z'"):
        beam_search(model, VOCAB, 5, prompt="z")


def test_bad_beam_width_and_top_k_are_rejected(model):
    with pytest.raises(ConfigError, match="beam width"):
        beam_search(model, VOCAB, 5, beam_width=0)
    with pytest.raises(ConfigError, match="top_k"):
        sample(model, VOCAB, 5, top_k=0)
