"""mailtext: the readable bodies, attachments and search text of a message, computed at
delivery from what anyone may send, so it must be right, lenient, and linear in its input."""

from __future__ import annotations

import time

import pytest

from elektromail import mime
from elektromail.mailtext import contents, html_to_text, index

# Hostile inputs below take milliseconds; quadratic work at their sizes takes minutes. The
# bound catches only that, never a busy machine (speed itself is measured in bench/).
QUADRATIC_GUARD = 20.0  # seconds


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p class='x'>Hello <b>Ocelot</b></p>", "Hello Ocelot"),
        ("a<script>var x = '<p>hidden</p>';</script>b", "a b"),
        ("a<STYLE type=text/css>p { color: red }</style >b", "a b"),
        ("a<script>never closed <p>hidden", "a"),
        ("fish &amp; chips&nbsp;&lt;3", "fish & chips <3"),  # NBSP is space too
        ("1 < 2 and 3 > 2", "1 2"),  # "< 2 and 3 >" reads as a tag, as a browser would
        ("trailing <unclosed", "trailing <unclosed"),
        ("", ""),
    ],
)
def test_html_to_text(markup, text):
    assert html_to_text(markup) == text


@pytest.mark.parametrize(
    "markup",
    [
        "<script>" * 40_000,
        "<style>" * 40_000 + "</style>",
        "<" * 300_000,
        "<a" * 150_000,
        "<script></script" * 20_000,
    ],
    ids=["open-scripts", "open-styles", "angles", "open-tags", "unfinished-closes"],
)
def test_html_to_text_is_linear_on_hostile_markup(markup):
    started = time.perf_counter()
    html_to_text(markup)
    assert time.perf_counter() - started < QUADRATIC_GUARD


def parsed(raw: bytes) -> tuple[bytes, mime.ParsedMessage]:
    return raw, mime.parse(raw)


def test_a_charset_name_holding_a_nul_reads_as_utf8():
    """Found by fuzzing: Python refuses such a codec name with ValueError, not LookupError;
    delivery must still store the message (it answered 451 before)."""
    raw, message = parsed(b'Content-Type: text/plain; charset="a\x00b"\r\n\r\ncaf\xc3\xa9\r\n')
    assert contents(raw, message.body).text == "café\r\n"
    assert "café" in index(raw, message).search


def test_the_index_counts_attachments_and_folds_case():
    raw, message = parsed(
        b"Subject: =?utf-8?q?Gr=C3=9C=C3=9Fe?=\r\nFrom: Ann <ann@example.org>\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/html\r\n\r\n<p>Body <i>Text</i></p>\r\n"
        b"--b\r\nContent-Type: text/plain; name=a.txt\r\n\r\nfile\r\n"
        b"--b\r\nContent-Type: image/png\r\n\r\nPNG\r\n--b--\r\n"
    )
    found = index(raw, message)
    assert found.attachments == 2
    assert found.search.split("\n") == ["grüsse", "ann <ann@example.org>", "", "", "body text"]


def test_the_search_text_of_a_huge_body_is_capped():
    from elektromail.mailtext import SEARCH_TEXT_LIMIT

    raw, message = parsed(b"Subject: big\r\n\r\n" + b"x" * (SEARCH_TEXT_LIMIT + 100))
    assert len(index(raw, message).search) <= SEARCH_TEXT_LIMIT + len("big\n\n\n\n")
