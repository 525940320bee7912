"""Character vocabulary, text reading and the window dataset."""

from __future__ import annotations

import pytest
import torch

from gnnhw.errors import ConfigError, GnnhwError
from gnnhw.recurrent.text import TextDataset, TextFileError, Vocabulary, read_text


def test_vocabulary_is_sorted_whatever_the_order_of_the_text():
    assert Vocabulary.from_text("cabbage").chars == ("a", "b", "c", "e", "g")
    assert Vocabulary.from_text("gebacb") == Vocabulary.from_text("cabbage")


def test_vocabulary_round_trips_through_its_string_form():
    vocab = Vocabulary.from_text("Hällo, wörld!\n")
    assert Vocabulary.from_string(vocab.to_string()) == vocab
    assert vocab.decode(vocab.encode("wörld\n")) == "wörld\n"


def test_encode_gives_indices_in_sorted_order():
    vocab = Vocabulary.from_text("cab")
    assert vocab.encode("abcab").tolist() == [0, 1, 2, 0, 1]


def test_encode_names_characters_outside_the_vocabulary():
    vocab = Vocabulary.from_text("abc")
    with pytest.raises(ConfigError, match=r"'x'.*'z'"):
        vocab.encode("abzcx")


def test_unsorted_or_duplicate_vocabulary_is_rejected():
    with pytest.raises(ConfigError, match="sorted"):
        Vocabulary(("b", "a"))
    with pytest.raises(ConfigError, match="distinct"):
        Vocabulary(("a", "a"))


def test_read_text_drops_the_byte_order_mark(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfOnce upon a time")
    assert read_text(path) == "Once upon a time"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), (b"", "empty"), (b"caf\xe9 au lait", "not valid UTF-8")],
    ids=["missing", "empty", "latin-1"],
)
def test_unusable_text_files_raise_one_clear_error(tmp_path, content, message):
    path = tmp_path / "book.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TextFileError, match=message) as info:
        read_text(path)
    assert isinstance(info.value, GnnhwError)
    assert "book.txt" in str(info.value)
    assert "\n" not in str(info.value)


def test_text_shorter_than_one_window_is_rejected(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("a" * 50, encoding="utf-8")
    with pytest.raises(TextFileError, match="too short"):
        TextDataset.from_file(path, seq_length=30, val_fraction=0.1)  # 5 validation characters < 31


def test_batches_are_windows_of_the_training_part_shifted_by_one():
    text = "".join(chr(ord("a") + i % 20) for i in range(900)) + "Z" * 100  # validation part: only 'Z'
    data = TextDataset(text, seq_length=7, val_fraction=0.1)
    x, y = data.batch(32, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (32, 7)
    assert torch.equal(x[:, 1:], y[:, :-1])
    z = data.vocab.encode("Z").item()
    assert not (x == z).any()
    assert not (y == z).any()  # never reaches into the held-out text
    train_text = text[:900]
    for row_x, row_y in zip(x, y, strict=True):
        window = data.vocab.decode(row_x) + data.vocab.decode(row_y[-1:])
        assert window in train_text


def test_batches_are_reproducible_with_the_same_generator():
    data = TextDataset("abcdefghij" * 50, seq_length=5)
    a = data.batch(4, torch.Generator().manual_seed(3))
    b = data.batch(4, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0])
    assert torch.equal(a[1], b[1])


def test_validation_windows_tile_the_held_out_text():
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    data = TextDataset(text, seq_length=9, val_fraction=0.1)
    x, y = data.validation_windows()
    val = text[900:]
    assert x.shape == ((len(val) - 1) // 9, 9)
    assert data.vocab.decode(x.flatten()) == val[: x.numel()]
    assert data.vocab.decode(y.flatten()) == val[1 : x.numel() + 1]
    assert data.validation_windows(max_windows=3)[0].shape == (3, 9)


def test_the_grimm_book_reads_without_its_byte_order_mark(books_dir):
    text = read_text(books_dir / "book_EN_grimms_fairy_tails.txt")
    assert text.startswith("The Project Gutenberg")
    vocab = Vocabulary.from_text(text)
    assert "\ufeff" not in vocab
    assert "a" in vocab


def test_text_file_error_lives_in_errors_and_keeps_its_old_import_path():
    import gnnhw.errors
    import gnnhw.recurrent.text

    assert gnnhw.recurrent.text.TextFileError is gnnhw.errors.TextFileError
    assert issubclass(gnnhw.errors.TextFileError, gnnhw.errors.GnnhwError)
