"""RFC 5322 address lists as IMAP address structures (mime/addresses.py)."""

from __future__ import annotations

import pytest

from elektromail.mime import (
    Address,
    parse,
    parse_addresses,
)
from tests.mime.messages import (
    GROUP_END,
    crlf,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a@b.example", [Address(None, None, "a", "b.example")]),
        ("John Doe <j@x.org>", [Address("John Doe", None, "j", "x.org")]),
        ("John Q. Public <jqp@x.org>", [Address("John Q. Public", None, "jqp", "x.org")]),
        ('"Doe, John" <j@x.org>', [Address("Doe, John", None, "j", "x.org")]),
        (r'"Jo \"JJ\" Doe" <j@x>', [Address('Jo "JJ" Doe', None, "j", "x")]),
        ('"Jo" Doe <j@x>', [Address("Jo Doe", None, "j", "x")]),
        ('"" <j@x>', [Address(None, None, "j", "x")]),
        ("<j@x>", [Address(None, None, "j", "x")]),
        ("j@x.org (John Doe)", [Address(None, None, "j", "x.org")]),
        ("John (the (nested) man) Doe <j@x>", [Address("John Doe", None, "j", "x")]),
        ("<@r1.example,@r2.example:j@x>", [Address(None, "@r1.example,@r2.example", "j", "x")]),
        ('"john doe"@x.org', [Address(None, None, '"john doe"', "x.org")]),
        ("a@[192.0.2.1]", [Address(None, None, "a", "[192.0.2.1]")]),
        ("=?utf-8?q?Jos=C3=A9?= <j@x>", [Address("=?utf-8?q?Jos=C3=A9?=", None, "j", "x")]),
        ("Zoë Ünal <z@x>", [Address("Zoë Ünal", None, "z", "x")]),
        ("No\xa0Break <n@x>", [Address("No\xa0Break", None, "n", "x")]),
        ('"No\xa0Break" <n@x> (slow path)', [Address("No\xa0Break", None, "n", "x")]),
        ("bare", [Address(None, None, "bare", None)]),
        ("a@", [Address(None, None, "a", None)]),
        ("<>", [Address(None, None, "", None)]),
        ("Name <a@b", [Address("Name", None, "a", "b")]),
        ("a@b, , c@d,", [Address(None, None, "a", "b"), Address(None, None, "c", "d")]),
        ("a@b junk, c@d", [Address(None, None, "a", "b"), Address(None, None, "c", "d")]),
        (
            "undisclosed-recipients:;",
            [Address(None, None, "undisclosed-recipients", None), GROUP_END],
        ),
        (
            "Team: a@x, B <b@y>;, c@z",
            [
                Address(None, None, "Team", None),
                Address(None, None, "a", "x"),
                Address("B", None, "b", "y"),
                GROUP_END,
                Address(None, None, "c", "z"),
            ],
        ),
        (
            "Open: a@x",
            [Address(None, None, "Open", None), Address(None, None, "a", "x"), GROUP_END],
        ),
    ],
)
def test_address_list_parsing(header, expected):
    assert parse_addresses(header) == expected


@pytest.mark.parametrize(
    "simple",
    ["a@b.example", "John Doe <j@x.org>", "A <a@x>, b@y, C D <c@z>", "  a@b  ,  Q <q@r>  "],
)
def test_address_fast_path_agrees_with_the_full_parser(simple):
    # A trailing comment forces the tokenizer; the result must not depend on the path taken.
    assert parse_addresses(simple) == parse_addresses(simple + " (comment)")


@pytest.mark.parametrize(
    "garbage",
    ["<<<>>>@@@,,;;::", '"unterminated', "(unterminated comment", "a@b\\", "::;;", "\\", "]["],
)
def test_address_garbage_never_raises(garbage):
    raw = crlf(f"From: {garbage}\nTo: {garbage}\n\nx")
    env = parse(raw).envelope
    assert env.from_ == env.sender == env.reply_to
