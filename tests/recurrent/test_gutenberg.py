"""Project Gutenberg's header and licence are cut off; a text without the markers is left alone."""

from __future__ import annotations

import pytest

from gnnhw.recurrent.gutenberg import gutenberg_body_span, strip_gutenberg
from gnnhw.recurrent.text import TextDataset, TextFileError, load_text, split_text

BODY = "Once upon a time there was a king.\n\n    The king had three daughters.\nThe end."
HEADER = (
    "The Project Gutenberg EBook of Tales, by Somebody\n\nThis eBook is for the use of anyone anywhere at no cost\n"
    "\nTitle: Tales\n\nCharacter set encoding: UTF-8\n\n"
)
LICENCE = (
    "\n\n***** This file should be named 1-0.txt *****\n\nSection 1. General Terms of Use\n"
    "*** START: FULL LICENSE ***\n"
)


def _book(start: str, end: str, before_end: str = "") -> str:
    return f"{HEADER}{start}\n\n\n{BODY}\n\n\n{before_end}{end}{LICENCE}"


START_MARKERS = [
    "*** START OF THIS PROJECT GUTENBERG EBOOK TALES ***",
    "*** START OF THE PROJECT GUTENBERG EBOOK TALES ***",
    "***START OF THE PROJECT GUTENBERG EBOOK TALES***",
    "*** start of the project gutenberg ebook tales ***",
    "  *** START OF THIS PROJECT GUTENBERG EBOOK TALES ***",
    "*** START OF THE PROJECT GUTENBERG EBOOK TALES OF THE BROTHERS\nGRIMM, AND OTHERS ***",
    "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*",
]
END_MARKERS = [
    "*** END OF THIS PROJECT GUTENBERG EBOOK TALES ***",
    "*** END OF THE PROJECT GUTENBERG EBOOK TALES ***",
    "***END OF THE PROJECT GUTENBERG EBOOK TALES***",
    "*** end of the project gutenberg ebook tales ***",
    "End of the Project Gutenberg EBook of Tales, by\nSomebody",
    "End of Project Gutenberg’s Tales, by Somebody",
    "End of this Project Gutenberg Etext of Tales",
]


@pytest.mark.parametrize("start", START_MARKERS)
@pytest.mark.parametrize("end", END_MARKERS)
def test_header_and_licence_are_stripped_for_every_marker_variant(start, end):
    assert strip_gutenberg(_book(start, end)) == BODY + "\n"


def test_the_end_of_line_before_the_end_marker_goes_with_the_licence():
    book = _book(
        "*** START OF THIS PROJECT GUTENBERG EBOOK TALES ***",
        "*** END OF THIS PROJECT GUTENBERG EBOOK TALES ***",
        before_end="End of Project Gutenberg's Tales, by Somebody\n\n",
    )
    assert strip_gutenberg(book) == BODY + "\n"


def test_the_volunteers_credit_after_the_start_marker_goes_with_the_header():
    credit = "Produced by Jane Doe and the Online Distributed\nProofreading Team at http://www.pgdp.net\n\n\n"
    book = _book(
        "*** START OF THE PROJECT GUTENBERG EBOOK TALES ***\n" + credit, "*** END OF THE PROJECT GUTENBERG EBOOK ***"
    )
    assert strip_gutenberg(book) == BODY + "\n"


def test_text_without_markers_is_returned_unchanged():
    text = (
        "He read the start of the Project Gutenberg eBook aloud.\n  *** not a marker ***\n"
        "Produced by the king's own printer.\nEnd of story."
    )
    assert strip_gutenberg(text) == text
    assert gutenberg_body_span(text) == (0, len(text))


def test_markers_in_the_middle_of_a_line_are_not_markers():
    text = "He said: *** START OF THE PROJECT GUTENBERG EBOOK *** and then\nshe said: *** END OF THE PROJECT GUTENBERG"
    assert strip_gutenberg(text) == text


def test_only_a_start_marker_strips_only_the_header():
    book = f"{HEADER}*** START OF THE PROJECT GUTENBERG EBOOK TALES ***\n\n{BODY}\n"
    assert strip_gutenberg(book) == BODY + "\n"


def test_only_an_end_marker_strips_only_the_licence():
    book = f"{BODY}\n\n*** END OF THE PROJECT GUTENBERG EBOOK TALES ***{LICENCE}"
    assert strip_gutenberg(book) == BODY + "\n"


def test_windows_line_endings_are_kept():
    book = _book(
        "*** START OF THE PROJECT GUTENBERG EBOOK TALES ***", "*** END OF THE PROJECT GUTENBERG EBOOK TALES ***"
    )
    crlf = book.replace("\n", "\r\n")
    assert strip_gutenberg(crlf) == BODY.replace("\n", "\r\n") + "\r\n"


def test_an_end_marker_before_the_start_marker_is_not_the_end():
    book = f"*** END OF THE PROJECT GUTENBERG EBOOK X ***\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\n{BODY}\n"
    assert strip_gutenberg(book) == BODY + "\n"


def test_markers_around_nothing_give_an_empty_text_and_load_text_refuses_it(tmp_path):
    book = _book("*** START OF THE PROJECT GUTENBERG EBOOK ***", "*** END OF THE PROJECT GUTENBERG EBOOK ***")
    empty = book.replace(BODY, "   \n")
    assert strip_gutenberg(empty) == ""
    path = tmp_path / "empty.txt"
    path.write_text(empty, encoding="utf-8")
    with pytest.raises(TextFileError, match="no text between them") as info:
        load_text(path)
    assert "empty.txt" in str(info.value)
    assert "\n" not in str(info.value)
    assert load_text(path, strip_gutenberg=False) == empty


@pytest.fixture
def book_file(tmp_path):
    body = "".join(f"Tale {i}: the king had {i} daughters and a golden ball.\n" for i in range(40))
    text = _book("*** START OF THE PROJECT GUTENBERG EBOOK TALES ***", "*** END OF THE PROJECT GUTENBERG EBOOK ***")
    path = tmp_path / "tales.txt"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace(BODY, body.rstrip("\n")).encode("utf-8"))
    return path, body


def test_load_text_strips_by_default_and_keeps_on_request(book_file):
    path, body = book_file
    assert load_text(path) == body
    kept = load_text(path, strip_gutenberg=False)
    assert kept.startswith("The Project Gutenberg EBook")
    assert kept.endswith("*** START: FULL LICENSE ***\n")


def test_dataset_vocabulary_and_split_come_from_the_clean_text(book_file):
    path, body = book_file
    data = TextDataset.from_file(path, seq_length=10, val_fraction=0.1)
    train, held_out = split_text(body, 0.1)
    assert data.vocab.decode(data.train_data) == train
    assert data.vocab.decode(data.val_data) == held_out
    assert "*" not in data.vocab
    assert "*" in TextDataset.from_file(path, 10, 0.1, strip_gutenberg=False).vocab


def test_split_text_holds_out_the_last_fraction():
    assert split_text("abcdefghij" * 3, 0.1) == ("abcdefghij" * 2 + "abcdefg", "hij")
    assert split_text("abc", 0.0) == ("abc", "")


def test_every_shipped_book_loses_all_of_project_gutenbergs_text(books_dir):
    books = sorted(books_dir.glob("*.txt"))
    assert books
    for path in books:
        raw = load_text(path, strip_gutenberg=False)
        clean = load_text(path)
        assert "gutenberg" in raw.lower(), path.name
        assert "gutenberg" not in clean.lower(), path.name
        assert 0.95 * len(raw) < len(clean) < len(raw), path.name  # the licence is about 19,000 characters
        assert clean in raw, path.name  # nothing inside the book is changed


def test_a_credit_line_without_a_paragraph_break_soon_after_is_kept():
    start = "*** START OF THE PROJECT GUTENBERG EBOOK TALES ***"
    body = "Produced by the king's printer,\nthis book\nhas\nno\nblank line\nfor a long while."
    book = f"{start}\n{body}\n\n*** END OF THE PROJECT GUTENBERG EBOOK TALES ***\n"
    assert strip_gutenberg(book) == body + "\n"
