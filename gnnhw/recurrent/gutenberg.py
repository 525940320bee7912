"""Project Gutenberg's header and licence, cut off a book so that only the book's own text remains.

Every plain-text book from Project Gutenberg (https://www.gutenberg.org) wraps the text in boilerplate:
a header (title, licence summary, release date) that ends with a *start marker* line, and a trailer that
begins with an *end marker* line and runs on with the full licence (about 19,000 characters)::

    The Project Gutenberg EBook of Grimms' Fairy Tales, by The Brothers Grimm
    ...
    *** START OF THIS PROJECT GUTENBERG EBOOK GRIMMS' FAIRY TALES ***
    <the book>
    End of Project Gutenberg's Grimms' Fairy Tales, by The Brothers Grimm
    *** END OF THIS PROJECT GUTENBERG EBOOK GRIMMS' FAIRY TALES ***
    <the licence>

The markers recognised (case-insensitive, at the start of a line, any number of ``*`` and spaces before):

- start: ``*** START OF THIS PROJECT GUTENBERG EBOOK ...`` (files of about 2000-2019),
  ``*** START OF THE PROJECT GUTENBERG EBOOK ...`` (current files), ``***START OF ...`` without the space,
  the same with a title that wraps onto the next line(s) before its closing ``***``, and the 1990s
  ``*END*THE SMALL PRINT! ...`` line that closes the old header;
- after the start marker, the volunteers' credit paragraph (``Produced by ...``, ``E-text prepared by ...``,
  ``This etext was prepared by ...``, up to the next blank line) is part of the header;
- end: ``*** END OF THIS|THE PROJECT GUTENBERG EBOOK ...`` and the line before it in older files,
  ``End of [the] Project Gutenberg['s] EBook|Etext of ...`` (which may wrap onto a second line), whichever
  comes first after the start marker.

The lists of marker variants follow those collected by the ``gutenberg`` package's ``strip_headers``
(https://github.com/c-w/gutenberg, ``gutenberg/_domain_model/text.py``), restricted to the unambiguous
marker lines: its credit lines ("Produced by" ...) are taken only right after a start marker and only as a
short paragraph (at most 4 lines, then a blank line), since anywhere else they can be the book's own text.
"""

from __future__ import annotations

import re

_SPACE = r"[ \t]+"
_START = re.compile(
    rf"^[ \t]*(?:\*+[ \t]*START{_SPACE}OF(?:{_SPACE}(?:THE|THIS))?{_SPACE}PROJECT{_SPACE}GUTENBERG\b"
    r"|\*END\*[ \t]*THE[ \t]+SMALL[ \t]+PRINT)",
    re.IGNORECASE | re.MULTILINE,
)
_END = re.compile(
    rf"^[ \t]*(?:\*+[ \t]*END{_SPACE}OF(?:{_SPACE}(?:THE|THIS))?{_SPACE}PROJECT{_SPACE}GUTENBERG\b"
    rf"|END{_SPACE}OF(?:{_SPACE}(?:THE|THIS))?{_SPACE}PROJECT{_SPACE}GUTENBERG)",
    re.IGNORECASE | re.MULTILINE,
)
_CLOSING_STARS = re.compile(r"\*{3,}[ \t]*\r?$")
# the volunteers' credit that Project Gutenberg puts right after the start marker: a paragraph of at most
# _MAX_CREDIT_LINES lines ended by a blank line (without that blank line nearby, nothing is taken for a credit)
_MAX_CREDIT_LINES = 4
_CREDIT = re.compile(
    r"(?:[ \t]*\r?\n)*[ \t]*(?:(?:Produced|Prepared|Transcribed)[ \t]+by|E-?text[ \t]+prepared[ \t]+by"
    r"|This[ \t]+e-?(?:text|book)[ \t]+was[ \t]+(?:prepared|produced)[ \t]+by)\b[^\n]*\n"
    rf"(?:[^\n]*\S[^\n]*\n){{0,{_MAX_CREDIT_LINES - 1}}}?[ \t]*\r?\n",
    re.IGNORECASE,
)
_MAX_WRAPPED_LINES = 3  # a start marker whose title wraps: look this many lines on for its closing ***


def _line_end(text: str, pos: int) -> int:
    """Index just after the line that contains ``pos`` (after its newline, or ``len(text)``)."""
    newline = text.find("\n", pos)
    return len(text) if newline < 0 else newline + 1


def gutenberg_body_span(text: str) -> tuple[int, int]:
    """Where the book's own text lies: ``text[start:end]`` is what follows the start marker line and
    precedes the end marker line.

    Returns ``(0, len(text))`` when neither marker is present; with only one of them, only that side is cut.
    The span still holds the blank lines around the book; :func:`strip_gutenberg` drops them.
    """
    start = 0
    match = _START.search(text)
    if match is not None:
        start = _line_end(text, match.start())
        rest_of_line = text[match.end() : start].rstrip("\n")
        if "START" in match.group(0).upper() and not _CLOSING_STARS.search(rest_of_line):
            # "*** START OF ... ***" with a long title can wrap: then its closing *** is on a following line
            pos = start
            for _ in range(_MAX_WRAPPED_LINES):
                nxt = _line_end(text, pos)
                following = text[pos:nxt].rstrip("\n")
                if not following.strip():
                    break  # a blank line: the marker did not wrap (it just has no closing stars)
                if _CLOSING_STARS.search(following):
                    start = nxt
                    break
                pos = nxt
        credit = _CREDIT.match(text, start)
        if credit is not None:
            start = credit.end()
    end = len(text)
    match = _END.search(text, start)
    if match is not None:
        end = match.start()
    return start, end


def strip_gutenberg(text: str) -> str:
    """The text without Project Gutenberg's header and licence; ``text`` itself when it has no markers.

    Everything up to and including the start marker line is removed, and everything from the end marker
    line on (see the module docstring for the variants recognised). The blank lines that separate the book
    from the markers go too, and the result ends with one line break (``\\r\\n`` if the text uses them).

    Args:
        text: a whole book, as read from its file (str).

    Returns:
        The book's own text (str); unchanged when neither marker is present; ``""`` when the markers
        enclose nothing but blank lines.

    >>> book = (
    ...     "The Project Gutenberg eBook of Tales\\n"
    ...     "*** START OF THE PROJECT GUTENBERG EBOOK TALES ***\\n\\n"
    ...     "Once upon a time.\\n\\n"
    ...     "*** END OF THE PROJECT GUTENBERG EBOOK TALES ***\\n"
    ...     "Licence ...\\n"
    ... )
    >>> strip_gutenberg(book)
    'Once upon a time.\\n'
    >>> strip_gutenberg("No markers here.")
    'No markers here.'
    """
    start, end = gutenberg_body_span(text)
    if (start, end) == (0, len(text)):
        return text
    body = re.sub(r"\A(?:[ \t]*\r?\n)+", "", text[start:end])  # leading blank lines
    body = body.rstrip()
    if not body:
        return ""
    newline = "\r\n" if "\r\n" in text else "\n"
    return body + newline
