"""Baselines in bits per held-out character: unigram, Kneser-Ney n-grams and conditional compressed sizes."""

from __future__ import annotations

import math
import random
import sys
from collections import Counter

import pytest

from gnnhw.errors import ConfigError, GnnhwError
from gnnhw.recurrent.baselines import (
    KneserNeyModel,
    conditional_compressed_bits,
    text_baselines,
    unigram_bits,
)
from gnnhw.recurrent.text import TextDataset, TextFileError, Vocabulary, split_text


def _tales(n_sentences: int = 120, seed: int = 0) -> str:
    """Structured text: random sentences from a small grammar (so n-grams help, but nothing is certain)."""
    rng = random.Random(seed)
    who = ["the king", "the queen", "a poor miller", "the little tailor", "an old woman", "the frog"]
    did = ["went to", "looked at", "ran into", "sang in", "slept by", "called from"]
    where = ["the forest", "the castle", "the well", "the golden garden", "the dark mill"]
    lines = [f"{rng.choice(who)} {rng.choice(did)} {rng.choice(where)}." for _ in range(n_sentences)]
    return "\n".join(line.capitalize() for line in lines) + "\n"


# ------------------------------------------------------------------------------------------------ unigram


def test_unigram_bits_by_hand():
    # vocabulary a, b, c; train "aab": p(a) = (2 + 1) / (3 + 3) = 1/2, p(b) = (1 + 1) / 6 = 1/3
    vocab = Vocabulary.from_text("abc")
    assert abs(unigram_bits("aab", "ab", vocab) - (1.0 + math.log2(3.0))) <= 1e-12
    # alpha = 0.5: p(c) = 0.5 / (3 + 1.5) = 1/9
    assert abs(unigram_bits("aab", "c", vocab, alpha=0.5) - math.log2(9.0)) <= 1e-12


def test_unigram_rejects_bad_alpha_and_foreign_characters():
    vocab = Vocabulary.from_text("ab")
    with pytest.raises(ConfigError, match="alpha"):
        unigram_bits("ab", "a", vocab, alpha=0.0)
    with pytest.raises(ConfigError, match="'z'"):
        unigram_bits("ab", "z", vocab)


# ---------------------------------------------------------------------------------------------- Kneser-Ney


def _reference_kn(train: str, vocab: Vocabulary, order: int):
    """Interpolated Kneser-Ney straight from its definition, counting over every substring (slow, clear)."""
    substrings = {k: Counter(train[i : i + k] for i in range(len(train) - k + 1)) for k in range(1, order + 1)}

    def c(k: int, gram: str) -> int:
        if k == order:
            return substrings[k][gram]
        return sum(1 for g in substrings[k + 1] if g[1:] == gram)  # N1+(. gram)

    def discount(k: int) -> float:
        grams = {g: c(k, g) for g in substrings[k]}
        n1 = sum(1 for v in grams.values() if v == 1)
        n2 = sum(1 for v in grams.values() if v == 2)
        return n1 / (n1 + 2 * n2) if n1 > 0 else 0.5

    discounts = {k: discount(k) for k in range(1, order + 1)}

    def p(k: int, h: str, w: str) -> float:
        if k == 0:
            return 1.0 / len(vocab)
        seen = {v: c(k, h + v) for v in vocab.chars}
        total = sum(seen.values())
        if total == 0:
            return p(k - 1, h[1:], w)
        types = sum(1 for v in seen.values() if v > 0)
        d = discounts[k]
        return (max(seen[w] - d, 0.0) + d * types * p(k - 1, h[1:], w)) / total

    return lambda context, w: p(min(order, len(context) + 1), context[max(0, len(context) - order + 1) :], w)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_equals_its_definition(order):
    train = "zyabracadabra cabaret barca"  # "zy" and "zya" occur once, at the very start (no left neighbour)
    vocab = Vocabulary.from_text(train + "xq")  # x and q never occur in the training text
    model = KneserNeyModel(train, vocab, order)
    reference = _reference_kn(train, vocab, order)
    contexts = ["", "a", "y", "zy", "ab", "abr", "rac", "qqq", "xa", "a c", "bra", "ca"]
    for context in contexts:
        for w in vocab.chars:
            assert abs(model.prob(context, w) - reference(context, w)) <= 1e-12, (context, w)


def test_kneser_ney_by_hand():
    # order 2 on "abab": counts ab 2, ba 1 -> D2 = 1 / (1 + 2) = 1/3; continuation counts a 1, b 1 -> D1 = 1,
    # so the unigram level is uniform, 1/3; p(b | a) = (2 - 1/3 + 1/3 * 1 * 1/3) / 2 = 8/9
    vocab = Vocabulary.from_text("abc")
    model = KneserNeyModel("abab", vocab, 2)
    assert abs(model.prob("a", "b") - 8 / 9) <= 1e-12
    assert abs(model.prob("a", "c") - 1 / 18) <= 1e-12
    assert abs(model.prob("b", "a") - 7 / 9) <= 1e-12
    assert abs(model.prob("c", "a") - 1 / 3) <= 1e-12  # unseen context: the lower order


@pytest.mark.parametrize("order", [1, 2, 3, 5, 8])
def test_every_kneser_ney_distribution_sums_to_one(order):
    text = _tales(60)
    train, held_out = split_text(text, 0.1)
    vocab = Vocabulary.from_text(text + "#Q")  # characters the model never saw still get probability
    model = KneserNeyModel(train, vocab, order)
    whole = train + held_out
    contexts = [whole[max(0, i - order + 1) : i] for i in range(len(train), len(whole))]
    contexts += ["", "#", "QQQQQQQ", "zzzz", "king", " the "]
    for context in contexts:
        dist = model.distribution(context)
        assert abs(math.fsum(dist) - 1.0) <= 1e-12, context
        assert min(dist) > 0.0, context


def test_kneser_ney_bits_sum_minus_log2_of_each_held_out_character():
    text = _tales(40)
    train, held_out = split_text(text, 0.1)
    vocab = Vocabulary.from_text(text)
    model = KneserNeyModel(train, vocab, 4)
    whole = train + held_out
    expected = math.fsum(-math.log2(model.prob(whole[:i], whole[i])) for i in range(len(train), len(whole)))
    assert abs(model.bits(whole, start=len(train)) - expected) <= 1e-9


@pytest.mark.parametrize("order", [0, -1, 9, 2.5, True])
def test_kneser_ney_rejects_bad_orders(order):
    with pytest.raises(ConfigError, match="order"):
        KneserNeyModel("abc", Vocabulary.from_text("abc"), order)


# ---------------------------------------------------------------------------------------------- compressors


def test_conditional_compressed_size_of_a_non_compressor_is_eight_bits_per_byte():
    assert conditional_compressed_bits(lambda data: data, "hello ", "world") == 8 * 5
    assert conditional_compressed_bits(lambda data: data, "hello ", "wörld") == 8 * 6  # ö is two UTF-8 bytes


# -------------------------------------------------------------------------------------------------- report


def test_every_baseline_is_between_0_and_8_bits_and_ngrams_beat_unigram():
    text = _tales(300)
    report = text_baselines(text, order=4)
    bits = {b.name: b.bits_per_char for b in report.baselines}
    assert len(bits) == 6, bits
    assert all(b.note == "" for b in report.baselines), bits
    for name, value in bits.items():
        assert value is not None, (name, value)
        assert 0.0 < value < 8.0, (name, value)
    assert bits["4-gram, interpolated Kneser-Ney"] < bits["unigram (add-1)"]


def test_baselines_use_the_training_split():
    text = _tales(100)
    report = text_baselines(text)
    data = TextDataset(text, seq_length=30)
    assert (report.train_chars, report.held_out_chars) == (len(data.train_data), len(data.val_data))
    assert report.vocab_size == len(data.vocab)


def test_ppmd_row_says_why_when_pyppmd_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyppmd", None)  # makes `import pyppmd` raise ImportError
    report = text_baselines(_tales(50))
    ppmd = [b for b in report.baselines if b.name.startswith("PPMd")]
    assert len(ppmd) == 1
    assert ppmd[0].bits_per_char is None
    assert "pip install gnnhw[ppmd]" in ppmd[0].note
    assert all(b.bits_per_char is not None for b in report.baselines if not b.name.startswith("PPMd"))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"order": 0}, ConfigError, "order"),
        ({"order": 9}, ConfigError, "at most 8"),
        ({"ppmd_order": 1}, ConfigError, "PPMd order"),
        ({"alpha": -1.0}, ConfigError, "alpha"),
        ({"val_fraction": 0.0}, ConfigError, "val_fraction"),
    ],
)
def test_bad_settings_raise_one_clear_error(kwargs, error, message):
    with pytest.raises(error, match=message) as info:
        text_baselines(_tales(20), **kwargs)
    assert "\n" not in str(info.value)


def test_a_text_too_short_to_hold_out_a_character_is_refused():
    with pytest.raises(TextFileError, match="at least 10 characters") as info:
        text_baselines("only nine")
    assert isinstance(info.value, GnnhwError)
