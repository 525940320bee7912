"""Character-level text data: a vocabulary with a deterministic order, and random windows over a text.

The assignment's dataset built its vocabulary from ``set(text)``, whose iteration order changes from one
Python process to the next (string hashing is salted), so a saved model could not be decoded reliably.
Here the vocabulary is the *sorted* list of distinct characters, and every checkpoint stores it as one
string, so index ``i`` means the same character in every process.

A :class:`TextDataset` holds the encoded text split in two: the first ``1 - val_fraction`` of the text
for training and the rest (the end of the book) for validation (:func:`split_text`). A file read with
:func:`load_text` / :meth:`TextDataset.from_file` loses Project Gutenberg's header and licence first
(:mod:`gnnhw.recurrent.gutenberg`), so the vocabulary and the split are those of the book's own text.
Training batches are random windows of ``seq_length + 1`` characters; input and target are the window
shifted by one::

    window = c_s ... c_{s+T}          x = c_s ... c_{s+T-1}         y = c_{s+1} ... c_{s+T}

For sequential (stateful) training the training part is instead cut into B contiguous streams
(:meth:`TextDataset.streams`) read T characters at a time (:meth:`TextDataset.stream_batch`).
"""

from __future__ import annotations

import codecs
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from gnnhw.checks import check_memory, format_bytes
from gnnhw.errors import ConfigError, TextFileError  # TextFileError: also importable from here (its old home)
from gnnhw.recurrent.gutenberg import strip_gutenberg as _strip_gutenberg

if TYPE_CHECKING:
    from gnnhw.recurrent.config import TextTrainConfig


_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _guess_wide_encoding(data: bytes) -> str:
    """The likely encoding of text with NUL bytes: ASCII in UTF-16/32 puts NULs at fixed byte positions."""
    head = data[:4096]
    zeros = [sum(1 for b in head[k::4] if b == 0) for k in range(4)]
    quarter = max(1, len(head) // 4)
    if zeros[1] > 0.7 * quarter and zeros[2] > 0.7 * quarter:
        return "UTF-32LE" if zeros[3] > 0.7 * quarter else "UTF-32BE"
    if zeros[1] + zeros[3] > 0.7 * 2 * quarter:
        return "UTF-16LE"
    if zeros[0] + zeros[2] > 0.7 * 2 * quarter:
        return "UTF-16BE"
    return ""


def read_text(path: str | os.PathLike) -> str:
    """Read a UTF-8 text file, dropping a byte order mark; raise :class:`TextFileError` if unusable.

    Pipes work as well as files (``--text <(zcat book.txt.gz)``, a FIFO): the text is read once. Refused, with
    the fix in the message: a missing path or a directory; a text in UTF-16 or UTF-32 (with a byte order mark,
    or without one: detected by its NUL bytes) or any other non-UTF-8 bytes; an empty text; a file whose text
    would not fit in memory.
    """
    path = Path(path)
    if path.is_dir():
        raise TextFileError(f"text file {str(path)!r} is a directory, not a text file")
    if not path.exists():
        hint = ""
        if str(path).startswith(("/dev/fd/", "/proc/self/fd/")):
            hint = " (a process substitution <(...) that was already closed; pass it directly to this command)"
        raise TextFileError(f"text file {str(path)!r} does not exist{hint}")
    try:
        size = path.stat().st_size if path.is_file() else 0
        # ~8 bytes per character for the encoded tensor, up to 4 for the str, 1 for the bytes
        check_memory(13 * size, f"text file {str(path)!r} ({format_bytes(size)})", "use a shorter text")
        with open(path, "rb") as f:  # works for regular files, FIFOs and /dev/fd/N alike
            data = f.read()
    except ConfigError as err:
        raise TextFileError(str(err)) from None
    except OSError as err:
        raise TextFileError(f"cannot read text file {str(path)!r}: {err.strerror}") from None
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise TextFileError(
                f"text file {str(path)!r} is {name} (it starts with a {name} byte order mark), not valid UTF-8; "
                f"convert it: iconv -f {name} -t UTF-8 {str(path)!r} > converted.txt"
            )
    if b"\x00" in data:
        guess = _guess_wide_encoding(data)
        if guess:
            fix = (
                f"it looks like {guess} without a byte order mark; convert it: "
                f"iconv -f {guess} -t UTF-8 {str(path)!r} > converted.txt"
            )
        else:
            fix = "text files hold none; give a UTF-8 text file"
        raise TextFileError(f"text file {str(path)!r} contains {data.count(0)} NUL byte(s): {fix}")
    try:
        text = data.decode("utf-8-sig")  # utf-8-sig drops a leading byte order mark
    except UnicodeDecodeError as err:
        raise TextFileError(
            f"text file {str(path)!r} is not valid UTF-8 (byte {err.start}: {err.reason}); convert it to UTF-8"
        ) from None
    if not text:
        raise TextFileError(f"text file {str(path)!r} is empty")
    return text


def load_text(path: str | os.PathLike, strip_gutenberg: bool = True) -> str:
    """The text of a file as training uses it: :func:`read_text`, then (by default) without Project
    Gutenberg's header and licence (:func:`gnnhw.recurrent.gutenberg.strip_gutenberg`; a text without
    the markers is unchanged). :class:`TextFileError` if the markers enclose no text.
    """
    text = read_text(path)
    if not strip_gutenberg:
        return text
    clean = _strip_gutenberg(text)
    if not clean:
        raise TextFileError(
            f"text file {str(path)!r} has Project Gutenberg markers with no text between them; "
            f"check the file, or keep the markers (strip_gutenberg=False; CLI: --keep-gutenberg)"
        )
    return clean


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """The training part and the held-out part: the last ``int(len(text) * val_fraction)`` characters.

    The one split of the project: :class:`TextDataset` and the baselines (:mod:`gnnhw.recurrent.baselines`)
    both use it, so they see the same held-out characters. :class:`ConfigError` unless 0 <= val_fraction < 1.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    n_train = len(text) - int(len(text) * val_fraction)
    return text[:n_train], text[n_train:]


@dataclass(frozen=True)
class Vocabulary:
    """The distinct characters of a text in sorted (code point) order; index ``i`` is ``chars[i]``.

    Stored in a checkpoint as the string ``"".join(chars)`` (:meth:`to_string` / :meth:`from_string`).

    >>> vocab = Vocabulary.from_text("banana")
    >>> vocab.chars, len(vocab)
    (('a', 'b', 'n'), 3)
    >>> vocab.encode("nab")
    tensor([2, 0, 1])
    >>> vocab.decode([1, 0, 2, 0])
    'bana'
    """

    chars: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.chars:
            raise ConfigError("a vocabulary needs at least one character")
        if any(len(c) != 1 for c in self.chars) or len(set(self.chars)) != len(self.chars):
            raise ConfigError("a vocabulary must be distinct single characters")
        if list(self.chars) != sorted(self.chars):
            raise ConfigError("a vocabulary must be sorted, so its order is the same in every process")
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self.chars)})

    @classmethod
    def from_text(cls, text: Iterable[str]) -> Vocabulary:
        return cls(tuple(sorted(set(text))))

    @classmethod
    def from_string(cls, chars: str) -> Vocabulary:
        return cls(tuple(chars))

    def to_string(self) -> str:
        return "".join(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self._index  # type: ignore[attr-defined]

    def encode(self, text: str) -> Tensor:
        """Character indices of ``text`` as a long tensor (N,); :class:`ConfigError` names unknown characters."""
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        unknown = sorted({c for c in text if c not in index})
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            raise ConfigError(
                f"characters not in the model's vocabulary: {shown}; the model knows only the {len(index)} "
                "characters of the text it was trained on: leave these out or replace them"
            )
        return torch.tensor([index[c] for c in text], dtype=torch.long)

    def decode(self, indices: Iterable[int] | Tensor) -> str:
        if isinstance(indices, Tensor):
            indices = indices.tolist()
        indices = list(indices)
        bad = [i for i in indices if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(self.chars)]
        if bad:
            raise ConfigError(f"id {bad[0]!r} is not in the vocabulary's range [0, {len(self.chars)})")
        return "".join(self.chars[i] for i in indices)


class TextDataset:
    """A text encoded with its vocabulary, split into a training part and a held-out validation part.

    Args:
        text: the whole text (at least one window in each part).
        seq_length: characters per input sequence T; a window holds T + 1 characters.
        val_fraction: share of the text, taken from its end, held out for validation (0 disables it).
        vocab: the vocabulary (default: built from ``text``).

    Shapes:
        - :meth:`batch`: x and y, each (B, T), long
        - :meth:`validation_windows`: x and y, each (N, T), long
    """

    def __init__(self, text: str, seq_length: int = 30, val_fraction: float = 0.1, vocab: Vocabulary | None = None):
        if not isinstance(seq_length, int) or seq_length < 1:
            raise ConfigError(f"seq_length must be a positive integer, got {seq_length!r}")
        train_text, val_text = split_text(text, val_fraction)
        self.vocab = vocab if vocab is not None else Vocabulary.from_text(text)
        self.seq_length = seq_length
        self.val_fraction = val_fraction
        window = seq_length + 1
        n_train, n_val = len(train_text), len(val_text)
        if n_train < window or (val_fraction > 0 and n_val < window):
            raise TextFileError(
                f"the text has {len(text)} characters, too short for windows of seq_length + 1 = {window} "
                f"characters in both the training part and the {val_fraction:.0%} validation part; "
                f"use a longer text or a smaller seq_length"
            )
        data = self.vocab.encode(text)
        self.train_data = data[:n_train]  # (N_train,)
        self.val_data = data[n_train:]  # (N_val,)

    @classmethod
    def from_file(
        cls, path: str | os.PathLike, seq_length: int = 30, val_fraction: float = 0.1, strip_gutenberg: bool = True
    ) -> TextDataset:
        """The dataset of a UTF-8 file, read by :func:`load_text` (Project Gutenberg's header and licence
        removed unless ``strip_gutenberg=False``); the vocabulary and the split come from that text."""
        try:
            return cls(load_text(path, strip_gutenberg), seq_length, val_fraction)
        except TextFileError as err:
            if str(path) in str(err):
                raise
            raise TextFileError(f"text file {str(path)!r}: {err}") from None

    @classmethod
    def for_config(cls, text: TextDataset | str | os.PathLike, config: TextTrainConfig) -> TextDataset:
        """The dataset a run of ``config`` trains on: ``text`` itself when it is a :class:`TextDataset` (its
        ``seq_length`` and ``val_fraction`` must be the config's), else the file at that path read with
        :meth:`from_file` and the config's ``seq_length``, ``val_fraction`` and ``strip_gutenberg``.

        Raises:
            ConfigError: a dataset cut differently from the config.
            TextFileError: a file that cannot be used (see :func:`read_text`).
        """
        if not isinstance(text, TextDataset):
            return cls.from_file(text, config.seq_length, config.val_fraction, config.strip_gutenberg)
        if (text.seq_length, text.val_fraction) != (config.seq_length, config.val_fraction):
            raise ConfigError("the dataset's seq_length/val_fraction differ from the config's")
        return text

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the vocabulary and the encoded text, so a run is only resumed on the text it
        started with."""
        digest = hashlib.sha256()
        digest.update(self.vocab.to_string().encode("utf-8"))
        digest.update(self.train_data.numpy().tobytes())
        digest.update(self.val_data.numpy().tobytes())
        return digest.hexdigest()

    def batch(self, batch_size: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``batch_size`` random training windows: (x, y), each (B, T), y is x shifted by one character."""
        window = self.seq_length + 1
        starts = torch.randint(0, len(self.train_data) - window + 1, (batch_size,), generator=generator)  # (B,)
        windows = self.train_data[starts[:, None] + torch.arange(window)]  # (B, T + 1)
        return windows[:, :-1], windows[:, 1:]

    def streams(self, batch_size: int) -> Tensor:
        """The training text as ``batch_size`` parallel streams for sequential batching: (B, L), long.

        Row b is the b-th of B contiguous parts of the training text, ``train_data[b * L : (b + 1) * L]``
        with ``L = N_train // B``; the last ``N_train - B * L`` (< B) characters are left out. Batch i of an
        epoch is ``x = streams[:, i*T : (i+1)*T]``, ``y = streams[:, i*T + 1 : (i+1)*T + 1]``
        (:meth:`stream_batch`), so row b of batch i + 1 continues row b of batch i
        (Zhang et al., Dive into Deep Learning, Sec. 8.3.4.2 "Sequential Partitioning",
        https://classic.d2l.ai/chapter_recurrent-neural-networks/language-models-and-dataset.html; Karpathy's
        char-rnn, https://github.com/karpathy/char-rnn, ``util/CharSplitLMMinibatchLoader.lua``).

        Raises:
            ConfigError: the training text is shorter than B streams of T + 1 characters.
        """
        length = len(self.train_data) // batch_size
        if length < self.seq_length + 1:
            raise ConfigError(
                f"sequential batching needs at least batch_size x (seq_length + 1) = "
                f"{batch_size * (self.seq_length + 1)} training characters, the text has {len(self.train_data)}; "
                f"use a smaller batch size or seq_length, or random batching"
            )
        return self.train_data[: batch_size * length].view(batch_size, length)  # (B, L)

    def batches_per_epoch(self, batch_size: int) -> int:
        """How many sequential batches one pass over the streams holds: ``(L - 1) // T`` (see :meth:`streams`)."""
        return (len(self.train_data) // batch_size - 1) // self.seq_length

    def stream_batch(self, streams: Tensor, index: int) -> tuple[Tensor, Tensor]:
        """Sequential batch ``index`` (0-based within the epoch) of ``streams`` (B, L): (x, y), each (B, T)."""
        t = self.seq_length
        return streams[:, index * t : (index + 1) * t], streams[:, index * t + 1 : (index + 1) * t + 1]

    def validation_windows(self, max_windows: int | None = None) -> tuple[Tensor, Tensor]:
        """The validation text cut into consecutive windows (stride T): (x, y), each (N, T). Deterministic."""
        t = self.seq_length
        n = (len(self.val_data) - 1) // t
        if max_windows is not None:
            n = min(n, max_windows)
        x = self.val_data[: n * t].view(n, t)  # (N, T)
        y = self.val_data[1 : n * t + 1].view(n, t)  # (N, T)
        return x, y
