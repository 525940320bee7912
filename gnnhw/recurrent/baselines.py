r"""Yardsticks for a character model: bits per held-out character of classical models and compressors.

All baselines see the same split as training (:func:`gnnhw.recurrent.text.split_text`: the last
``val_fraction`` of the text is held out) and report **bits per held-out character**:

- **unigram**: character frequencies of the training part with add-alpha smoothing over the vocabulary
  of the whole text, :math:`p(c) = (n_c + \alpha) / (N + \alpha V)`;
- **n-gram**: an interpolated Kneser-Ney model of order ``n`` of the training part
  (:class:`KneserNeyModel`), reading the held-out part with the preceding ``n - 1`` characters as context;
- **compressors** zlib (level 9), bz2 (level 9), xz (preset 9 | extreme) and PPMd (variant I, order 8,
  from the optional ``pyppmd`` package: ``pip install gnnhw[ppmd]``), as their *conditional* size: the
  extra bytes the held-out part costs once the compressor has read the training part,

  .. math::
      \mathrm{bpc} = 8 \cdot \frac{|C(\mathrm{train} \Vert \mathrm{held\ out})| - |C(\mathrm{train})|}
                                {\text{held-out characters}}

  on the UTF-8 bytes. Unlike the two models, compressors also adapt to the held-out text as they read it.

The models' bits are exact: :math:`-\sum \log_2 p(c_i \mid \text{context})` over the held-out characters,
with every conditional distribution normalised over the whole vocabulary (tested to sum to 1).
"""

from __future__ import annotations

import bz2
import lzma
import math
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gnnhw.errors import ConfigError, TextFileError, check_positive_int
from gnnhw.recurrent.config import MAX_NGRAM_ORDER, PPMD_ORDERS, BaselineConfig
from gnnhw.recurrent.text import Vocabulary, split_text

MAX_ORDER = MAX_NGRAM_ORDER  # counts of a 1.3 MB book take 0.5 GB at order 5 and 1.8 GB at order 8
DEFAULT_ORDER: int = BaselineConfig.order  # the dataclass field's default: one source for the CLI and here
DEFAULT_PPMD_ORDER: int = BaselineConfig.ppmd_order
PPMD_MEMORY = 64 << 20  # bytes of model memory for PPMd (a 1.3 MB book at order 8 fits without restarts)
PPMD_MISSING = "pyppmd is not installed (pip install gnnhw[ppmd])"


# ------------------------------------------------------------------------------------------------ unigram


def unigram_bits(train: str, held_out: str, vocab: Vocabulary, alpha: float = 1.0) -> float:
    r"""Total bits of ``held_out`` under the add-alpha unigram model of ``train``.

    :math:`p(c) = (n_c + \alpha) / (N + \alpha V)`, where :math:`n_c` counts ``c`` in ``train``,
    :math:`N` = len(train) and :math:`V` = len(vocab) (Laplace's rule of succession for alpha = 1;
    Jurafsky & Martin, *Speech and Language Processing*, 3rd ed. draft, Sec. 3.6.1,
    https://web.stanford.edu/~jurafsky/slp3/3.pdf).

    Raises:
        ConfigError: alpha <= 0, or a character of ``train`` or ``held_out`` outside ``vocab``.
    """
    if not alpha > 0:
        raise ConfigError(f"alpha must be positive, got {alpha!r}")
    _check_in_vocab(train + held_out, vocab)
    counts = Counter(train)
    denominator = len(train) + alpha * len(vocab)
    return math.fsum(-math.log2((counts[c] + alpha) / denominator) for c in held_out)


# ---------------------------------------------------------------------------------- interpolated Kneser-Ney


class KneserNeyModel:
    r"""Interpolated Kneser-Ney character n-gram model, normalised over a fixed vocabulary.

    For a context :math:`h` of :math:`k - 1` characters and a character :math:`w`, with :math:`h'` the
    context without its first character,

    .. math::
        p_k(w \mid h) = \frac{\max(c_k(hw) - D_k, 0) + D_k \, N_{1+}(h\,\bullet) \, p_{k-1}(w \mid h')}
                             {\sum_v c_k(hv)},
        \qquad p_0(w) = \frac{1}{V},

    and :math:`p_k(w \mid h) = p_{k-1}(w \mid h')` when :math:`h` has no counts. The counts :math:`c_k`
    are the raw counts of the training part for the highest order :math:`k = n`, and *continuation counts*
    :math:`N_{1+}(\bullet\, g)` (the number of distinct characters seen before :math:`g`) for the lower
    orders; :math:`N_{1+}(h\,\bullet)` is the number of distinct :math:`w` with :math:`c_k(hw) > 0`.
    One discount per order, :math:`D_k = n_1 / (n_1 + 2 n_2)` from the numbers of k-grams with count 1
    and 2 (0.5 when there are no count-1 k-grams, so the uniform floor always keeps some mass and every
    character of the vocabulary gets a positive probability). Since :math:`0 < D_k \le 1 \le c_k(hw)` for
    every seen :math:`hw`, each :math:`p_k(\cdot \mid h)` sums to 1.

    Source: Chen & Goodman, "An Empirical Study of Smoothing Techniques for Language Modeling", Computer
    Speech & Language 13(4), 1999, Sec. 2.7 (Kneser-Ney) and 3 (the interpolated form and the discount
    estimate), https://doi.org/10.1006/csla.1999.0128; also Jurafsky & Martin, *Speech and Language
    Processing*, 3rd ed. draft, Sec. 3.7 (https://web.stanford.edu/~jurafsky/slp3/3.pdf).

    Args:
        train: the training text.
        vocab: the characters probabilities are spread over (all of ``train``'s characters must be in it).
        order: n, the length of the longest n-gram (context of n - 1 characters), 1 to ``MAX_ORDER``.

    Raises:
        ConfigError: an order outside 1 to ``MAX_ORDER``, an empty ``train``, or a character outside ``vocab``.
    """

    def __init__(self, train: str, vocab: Vocabulary, order: int = DEFAULT_ORDER):
        check_positive_int("order", order)
        if order > MAX_ORDER:
            raise ConfigError(f"order must be at most {MAX_ORDER} (counts grow with it), got {order}")
        if not train:
            raise ConfigError("the n-gram model needs a non-empty training text")
        _check_in_vocab(train, vocab)
        self.order = order
        self.vocab = vocab
        # counts[k]: k-gram -> c_k (raw counts for k = order, continuation counts below it)
        self.counts: list[dict[str, int]] = [{} for _ in range(order + 1)]
        self.counts[order] = dict(Counter(train[i : i + order] for i in range(len(train) - order + 1)))
        distinct = set(self.counts[order])  # every distinct (k+1)-gram of train, for k = order - 1 down to 1
        for k in range(order - 1, 0, -1):
            # N1+(. g): each distinct (k+1)-gram x g adds one to its suffix g
            self.counts[k] = dict(Counter(g[1:] for g in distinct))
            # the distinct k-grams: those preceded by a character, and the one the text starts with
            distinct = set(self.counts[k]) | ({train[:k]} if len(train) >= k else set())
        self.totals: list[dict[str, int]] = [{} for _ in range(order + 1)]  # context -> sum_v c_k(h v)
        self.types: list[dict[str, int]] = [{} for _ in range(order + 1)]  # context -> N1+(h .)
        self.discounts: list[float] = [0.0] * (order + 1)
        for k in range(1, order + 1):
            totals: dict[str, int] = {}
            types: dict[str, int] = {}
            for gram, count in self.counts[k].items():
                h = gram[:-1]
                totals[h] = totals.get(h, 0) + count
                types[h] = types.get(h, 0) + 1
            self.totals[k], self.types[k] = totals, types
            of_count = Counter(self.counts[k].values())
            n1, n2 = of_count[1], of_count[2]
            self.discounts[k] = n1 / (n1 + 2 * n2) if n1 > 0 else 0.5

    def prob(self, context: str, char: str) -> float:
        """p(char | the last order - 1 characters of context); a shorter context uses the orders it allows."""
        return self._prob(context[max(0, len(context) - self.order + 1) :] if self.order > 1 else "", char)

    def _prob(self, h: str, w: str) -> float:
        p = 1.0 / len(self.vocab)  # p_0: uniform over the vocabulary
        for k in range(1, len(h) + 2):  # from the unigram level up to the full context
            ctx = h[len(h) - k + 1 :]
            total = self.totals[k].get(ctx, 0)
            if total == 0:
                continue  # unseen context: p_k = p_{k-1}
            d = self.discounts[k]
            count = self.counts[k].get(ctx + w, 0)
            p = (max(count - d, 0.0) + d * self.types[k][ctx] * p) / total
        return p

    def distribution(self, context: str) -> list[float]:
        """p(v | context) for every character v of the vocabulary, in vocabulary order (sums to 1)."""
        return [self.prob(context, v) for v in self.vocab.chars]

    def bits(self, text: str, start: int = 0) -> float:
        """Total bits, -sum log2 p(text[i] | text[i-n+1:i]), of the characters ``text[start:]``.

        The characters before ``start`` serve only as context (pass train + held-out and len(train)).

        Raises:
            ConfigError: a character of ``text[start:]`` outside the vocabulary.
        """
        _check_in_vocab(text[start:], self.vocab)
        n = self.order
        return math.fsum(-math.log2(self._prob(text[max(0, i - n + 1) : i], text[i])) for i in range(start, len(text)))


# ---------------------------------------------------------------------------------------------- compressors


def _ppmd(order: int) -> Callable[[bytes], bytes] | None:
    try:
        import pyppmd
    except ImportError:
        return None
    return lambda data: pyppmd.compress(data, max_order=order, mem_size=PPMD_MEMORY, variant="I")


def compressors(ppmd_order: int = DEFAULT_PPMD_ORDER) -> dict[str, Callable[[bytes], bytes] | None]:
    """Name -> compress function of the compressor baselines (None: PPMd without ``pyppmd`` installed)."""
    low, high = PPMD_ORDERS
    if not isinstance(ppmd_order, int) or isinstance(ppmd_order, bool) or not low <= ppmd_order <= high:
        raise ConfigError(f"the PPMd order must be an integer from {low} to {high}, got {ppmd_order!r}")
    return {
        "zlib -9": lambda data: zlib.compress(data, 9),
        "bz2 -9": lambda data: bz2.compress(data, 9),
        "xz -9e": lambda data: lzma.compress(data, format=lzma.FORMAT_XZ, preset=9 | lzma.PRESET_EXTREME),
        f"PPMd var. I, order {ppmd_order}": _ppmd(ppmd_order),
    }


def conditional_compressed_bits(compress: Callable[[bytes], bytes], train: str, held_out: str) -> int:
    """Bits the held-out part adds to the compressed training part: 8 (|C(train + held_out)| - |C(train)|)."""
    return 8 * (len(compress((train + held_out).encode("utf-8"))) - len(compress(train.encode("utf-8"))))


# -------------------------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Baseline:
    """One row of the table: ``bits_per_char`` per held-out character, or None with a ``note`` why not."""

    name: str
    kind: str  # "model" or "compressor"
    bits_per_char: float | None
    note: str = ""


@dataclass(frozen=True)
class BaselineReport:
    """The baselines of one text and split."""

    train_chars: int
    held_out_chars: int
    vocab_size: int
    val_fraction: float
    order: int
    baselines: list[Baseline] = field(default_factory=list)


def text_baselines(
    text: str,
    val_fraction: float = 0.1,
    order: int = DEFAULT_ORDER,
    ppmd_order: int = DEFAULT_PPMD_ORDER,
    alpha: float = 1.0,
) -> BaselineReport:
    """Every baseline of ``text`` (already cleaned, e.g. by :func:`gnnhw.recurrent.text.load_text`).

    Args:
        text: the whole text; its last ``val_fraction`` is held out (:func:`split_text`, as in training).
        val_fraction: held-out share, in (0, 1).
        order: n of the Kneser-Ney n-gram model (1 to ``MAX_ORDER``).
        ppmd_order: PPMd's model order (2 to 64).
        alpha: add-alpha smoothing of the unigram model.

    Returns:
        A :class:`BaselineReport`; its rows are unigram, n-gram, zlib, bz2, xz, PPMd (PPMd's bits are None,
        with a note, when ``pyppmd`` is not installed).

    Raises:
        ConfigError: a bad order, ppmd_order, alpha or val_fraction.
        TextFileError: a text too short to hold out at least one character.
    """
    check_positive_int("order", order)
    if order > MAX_ORDER:
        raise ConfigError(f"order must be at most {MAX_ORDER} (counts grow with it), got {order}")
    table = compressors(ppmd_order)
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1) for baselines, got {val_fraction!r}")
    train, held_out = split_text(text, val_fraction)
    if not held_out or not train:
        minimum = math.ceil(1 / val_fraction)
        raise TextFileError(
            f"the text has {len(text)} characters, too short to hold out its last {val_fraction:.0%}: "
            f"the baselines need at least {minimum} characters; use a longer text"
        )
    vocab = Vocabulary.from_text(text)
    n = len(held_out)
    rows = [
        Baseline(f"unigram (add-{alpha:g})", "model", unigram_bits(train, held_out, vocab, alpha) / n),
        Baseline(
            f"{order}-gram, interpolated Kneser-Ney",
            "model",
            KneserNeyModel(train, vocab, order).bits(train + held_out, start=len(train)) / n,
        ),
    ]
    for name, compress in table.items():
        if compress is None:
            rows.append(Baseline(name, "compressor", None, PPMD_MISSING))
        else:
            rows.append(Baseline(name, "compressor", conditional_compressed_bits(compress, train, held_out) / n))
    return BaselineReport(len(train), n, len(vocab), val_fraction, order, rows)


def _check_in_vocab(text: Sequence[str], vocab: Vocabulary) -> None:
    unknown = sorted({c for c in set(text) if c not in vocab})
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise ConfigError(f"characters not in the vocabulary: {shown}")
