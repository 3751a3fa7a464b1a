"""Mailbox names and LIST/STATUS arguments as the commands see them (pure): `args`,
`commands.status.parse_items`, `commands.listing.parse_list`."""

from __future__ import annotations

import pytest

from elektromail.imap import args
from elektromail.imap import format as fmt
from elektromail.imap.commands.listing import parse_list
from elektromail.imap.commands.status import parse_items
from elektromail.imap.dispatch import Bad, No
from elektromail.imap.session import Dialect
from elektromail.imap.tokens import Atom, Literal8String, LiteralString, String

REV1, REV2, UTF8 = Dialect(), Dialect(rev2=True), Dialect(utf8=True)


@pytest.mark.parametrize(
    ("token", "dialect", "name"),
    [
        (Atom("inbox"), REV1, "INBOX"),
        (Atom("InBoX/Kid"), REV1, "INBOX/Kid"),
        (Atom("inboxes"), REV1, "inboxes"),
        (Atom("Entw&APw-rfe"), REV1, "Entwürfe"),
        (String("Entwürfe".encode()), REV2, "Entwürfe"),
        (String("Entwürfe".encode()), UTF8, "Entwürfe"),
        (String(b"&AOQ-"), REV2, "&AOQ-"),  # UTF-8 names are taken literally
        (LiteralString("a\u0308".encode()), REV2, "ä"),  # NFC
        (Atom("a&Awg-"), REV1, "ä"),  # NFC after modified UTF-7 too
    ],
)
def test_mailbox_name_is_canonical(token, dialect, name):
    assert args.mailbox_name(token, dialect) == name


@pytest.mark.parametrize(
    ("token", "dialect"),
    [
        (String(b"\xff"), REV2),
        ([Atom("a")], REV1),
    ],
)
def test_mailbox_name_bad_encoding_is_bad(token, dialect):
    with pytest.raises(Bad):
        args.mailbox_name(token, dialect)


@pytest.mark.parametrize("token", [String("ä".encode()), Atom("&AOQ"), Atom("&AGEAYgBj-")])
def test_a_name_that_is_not_modified_utf7_in_rev1_is_no_cannot(token):
    """A valid astring, so not BAD (RFC 3501 §9): NO [CANNOT] as Dovecot's "Mailbox name is not
    valid mUTF-7"."""
    with pytest.raises(No) as raised:
        args.mailbox_name(token, REV1)
    assert raised.value.code == fmt.CANNOT
    assert str(raised.value) == "Mailbox name is not valid mUTF-7"


def test_new_mailbox_name_strips_one_trailing_delimiter():
    assert args.new_mailbox_name("a/b/") == "a/b"
    for bad in ("a//", "/", "", "a/../", "~x/"):
        with pytest.raises(No) as caught:
            args.new_mailbox_name(bad)
        assert caught.value.code == "CANNOT"


def test_list_pattern():
    assert args.list_pattern(Atom("&AOQ-*"), REV1, "pattern") == "ä*"
    assert args.list_pattern(Atom("&Jjo"), REV1, "pattern") is None  # matches nothing
    assert args.list_pattern(String("ä%".encode()), REV2, "pattern") == "ä%"
    with pytest.raises(Bad):
        args.list_pattern(String("ä".encode()), REV1, "pattern")


def test_format_mailbox_per_dialect():
    assert args.format_mailbox("Entwürfe", REV1) == b"Entw&APw-rfe"
    assert args.format_mailbox("Entwürfe", REV2) == '"Entwürfe"'.encode()
    assert args.format_mailbox("a b", REV1) == b'"a b"'
    assert args.format_mailbox("NIL", REV1) == b'"NIL"'


def test_status_items_are_ordered_and_deduplicated():
    items = [Atom("size"), Atom("MESSAGES"), Atom("messages"), Atom("RECENT")]
    assert parse_items(items, REV1) == ("MESSAGES", "RECENT", "SIZE")


@pytest.mark.parametrize(
    ("token", "dialect"),
    [
        ([], REV1),
        (Atom("MESSAGES"), REV1),
        ([Atom("BOGUS")], REV1),
        ([Atom("RECENT")], REV2),
        ([String(b"MESSAGES")], REV1),
    ],
)
def test_status_items_bad(token, dialect):
    with pytest.raises(Bad):
        parse_items(token, dialect)


def test_parse_list_options():
    tokens = [
        [Atom("subscribed"), Atom("RecursiveMatch")],
        String(b""),
        [String(b"INBOX"), Atom("S*")],
        Atom("return"),
        [Atom("children"), Atom("STATUS"), [Atom("UNSEEN")]],
    ]
    options, reference, patterns = parse_list(tokens, REV1)
    assert options.extended and options.selection.subscribed and options.selection.recursive
    assert options.subscribed and options.children and not options.special_use
    assert options.status == ("UNSEEN",)
    assert (reference, patterns) == (b"", [b"INBOX", "S*"])


def test_parse_list_basic_form_is_not_extended():
    options, _reference, patterns = parse_list([String(b""), Atom("*")], REV1)
    assert not options.extended and patterns == ["*"]


@pytest.mark.parametrize("what", ["user name", "mailbox name", "reference"])
def test_a_literal8_is_no_astring(what):
    """RFC 3516 §7 adds literal8 to APPEND's message only ("append =/ ... literal8"); an
    astring is atom / string (RFC 9051 §9), so ~{N} elsewhere is BAD, as Dovecot answers."""
    with pytest.raises(Bad, match="literal8 not allowed here"):
        args.astring(Literal8String(b"INBOX"), what)
