"""RFC 5322 address lists as IMAP address structures, and written back for SEARCH
(mime/addresses.py)."""

from __future__ import annotations

import time

import pytest

from elektromail.mime import (
    Address,
    parse,
    parse_addresses,
    write_addresses,
)
from tests.mime.messages import (
    GROUP_END,
    QUADRATIC_GUARD,
    N,
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
        ("j@x.org (John Doe)", [Address("John Doe", None, "j", "x.org")]),
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
    # A leading comment forces the tokenizer and names no one (a trailing one would be the last
    # address's name); the result must not depend on the path taken.
    assert parse_addresses(simple) == parse_addresses("(comment) " + simple)


@pytest.mark.parametrize(
    "garbage",
    ["<<<>>>@@@,,;;::", '"unterminated', "(unterminated comment", "a@b\\", "::;;", "\\", "]["],
)
def test_address_garbage_never_raises(garbage):
    raw = crlf(f"From: {garbage}\nTo: {garbage}\n\nx")
    env = parse(raw).envelope
    assert env.from_ == env.sender == env.reply_to


# -- a comment as the display name ------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("user@domain (Real Name)", [Address("Real Name", None, "user", "domain")]),
        # the last comment inside the address wins, wherever it stands
        ("user (c1) @ domain (c2)", [Address("c2", None, "user", "domain")]),
        ("user@domain (c1) (c2)", [Address("c2", None, "user", "domain")]),
        ("user (only here)@domain", [Address("only here", None, "user", "domain")]),
        # nested comments and quoted-pairs: the comment's text, as Dovecot reads it
        ("a@b (nested (comment) here)", [Address("nested (comment) here", None, "a", "b")]),
        (r"a@b (with \) escaped)", [Address("with ) escaped", None, "a", "b")]),
        ("a@b (  spaced\t out  )", [Address("spaced out", None, "a", "b")]),
        ("a@b (=?utf-8?q?J=C3=B6rg?=)", [Address("=?utf-8?q?J=C3=B6rg?=", None, "a", "b")]),
        # no name: an empty, blank or unclosed comment, or one before the address
        ("a@b ()", [Address(None, None, "a", "b")]),
        ("a@b ( )", [Address(None, None, "a", "b")]),
        ("a@b (unclosed", [Address(None, None, "a", "b")]),
        ("(before) a@b", [Address(None, None, "a", "b")]),
        # a phrase or angle brackets: the comment is only a comment
        ("Name (cmt) <a@b>", [Address("Name", None, "a", "b")]),
        ("<a@b> (after)", [Address(None, None, "a", "b")]),
        ("<user (comment)@ (comment) domain.org>", [Address(None, None, "user", "domain.org")]),
        # each address of a list, and of a group, its own
        (
            "a@b (one), c@d, e@f (three)",
            [
                Address("one", None, "a", "b"),
                Address(None, None, "c", "d"),
                Address("three", None, "e", "f"),
            ],
        ),
        (
            "group: a@b (cmt);, c@d",
            [
                Address(None, None, "group", None),
                Address("cmt", None, "a", "b"),
                GROUP_END,
                Address(None, None, "c", "d"),
            ],
        ),
        # junk after the domain ends the address: a comment after the junk names no one
        ("a@b junk (late)", [Address(None, None, "a", "b")]),
        ("bare (Name)", [Address("Name", None, "bare", None)]),
    ],
)
def test_an_address_without_a_phrase_takes_its_last_comment_as_name(header, expected):
    """RFC 5322 §3.4: "Some legacy implementations used the simple form where the addr-spec
    appears without the angle brackets, but included the name of the recipient in parentheses
    as a comment following the addr-spec." Dovecot and c-client show that comment as the
    display name, and so does the ENVELOPE here."""
    assert parse_addresses(header) == expected


def test_quoted_display_names_have_their_white_space_tidied():
    """Dovecot's ENVELOPE writes a display name with each run of white space as one space."""
    assert parse_addresses('"Tab\tName"   <a@b>') == [Address("Tab Name", None, "a", "b")]
    assert parse_addresses('"  Lead and trail  " <a@b>') == [
        Address("Lead and trail", None, "a", "b")
    ]


# -- back to text, for SEARCH -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "written"),
    [
        ("user@domain.org", "<user@domain.org>"),
        ("RealFrom <user@domain.org>", "RealFrom <user@domain.org>"),
        ("<user (comment)@ (comment) domain.org>", "<user@domain.org>"),
        ("user@domain.org (RealFrom)", "RealFrom <user@domain.org>"),
        ("Real Name <a@b>", '"Real Name" <a@b>'),
        ("John Q. Public <j@x>", '"John Q. Public" <j@x>'),
        (r'"Jo \"JJ\" Doe" <j@x>', r'"Jo \"JJ\" Doe" <j@x>'),
        # Dovecot also escapes the "'", so its SEARCH FROM "o'brien" misses this one
        ('"O\'Brien, Pat" <p@x>', '"O\'Brien, Pat" <p@x>'),
        ("=?utf-8?q?J=C3=B6rg_X?= <j@x>", "=?utf-8?q?J=C3=B6rg_X?= <j@x>"),
        ("Zoë Ünal <z@x>", '"Zoë Ünal" <z@x>'),
        ("Zoë <z@x>", "Zoë <z@x>"),
        ("<@r1.example,@r2.example:j@x>", "<@r1.example,@r2.example:j@x>"),
        ('"a b"@c', '<"a b"@c>'),
        ("a@b, c@d", "<a@b>, <c@d>"),
        (
            "g: a@b, B <c@d>;, g2: e@f;",
            "g: <a@b>, B <c@d>;, g2: <e@f>;",
        ),
        ("undisclosed-recipients:;", "undisclosed-recipients:;"),
        ('"": a@b;', '"": <a@b>;'),
        ("Some Team:;", '"Some Team":;'),
        ("bare", "<bare>"),
        ("<>", ""),
    ],
)
def test_written_addresses_are_the_form_search_reads(header, written):
    """The normal form Dovecot's SEARCH FROM/TO/CC/BCC match against (message_address_write):
    comments and folding gone, names quoted when they are not one atom."""
    assert write_addresses(parse_addresses(header)) == written


def test_written_addresses_of_nothing_are_empty():
    assert write_addresses(None) == write_addresses(()) == ""


# These take milliseconds; quadratic work at their sizes takes minutes (see tests/mime/messages).
HOSTILE_ADDRESSES = {
    "long-list": ", ".join(f"N{i} <u{i}@x.org> (c{i})" for i in range(N // 5)),
    "nested-comments": "a@b " + "(" * N + "x" + ")" * N,
    "unclosed-comments": "a@b " + "(" * N,
    "many-comments": "a@b " + "(c)" * N,
    "comments-in-local-part": "a(c)." * (N // 2) + "@b",
    "groups": "g:a@b;," * (N // 5),
    "bare-words-then-a-group": "x, " * (N // 5) + "g:;",
    "routes": "<" + "@a," * (N // 5),
    "quoted-pairs": '"a\\' * N,
}


@pytest.mark.parametrize("name", HOSTILE_ADDRESSES)
def test_hostile_address_lists_parse_and_write_in_linear_time(name):
    started = time.perf_counter()
    addresses = parse_addresses(HOSTILE_ADDRESSES[name])
    assert isinstance(write_addresses(addresses), str)
    assert time.perf_counter() - started < QUADRATIC_GUARD


def test_many_address_fields_merge_in_linear_time():
    """Dovecot's envelope holds the addresses of every To: field; so does this one, and a
    header of many such fields must not cost their number squared."""
    count = N // 5
    raw = b"".join(b"To: u%d@x.org (n)\r\n" % i for i in range(count)) + b"\r\nbody"
    started = time.perf_counter()
    to = parse(raw).envelope.to
    assert to is not None and len(to) == count
    assert to[-1] == Address("n", None, f"u{count - 1}", "x.org")
    assert time.perf_counter() - started < QUADRATIC_GUARD
