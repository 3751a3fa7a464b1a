"""CATENATE (RFC 4469): APPEND of a message put together from literals and IMAP URLs (RFC 5092)
to messages of the same user, alone and in a MULTIAPPEND (RFC 3502), over loopback sockets."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from elektromail.testing import MailServer
from tests.imap import test_append
from tests.imap.test_append import CONTINUE, stored, uidvalidity
from tests.imap.test_session_commands import LOGGED_IN, still_usable
from tests.imap.wire import ImapWire

HEADER = b"From: foo@example.com\r\nSubject: original\r\n\r\n"
ORIGINAL = HEADER + b"Hello world body\r\n"
MULTIPART = (
    b"From: bar@example.com\r\n"
    b"Subject: parts\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n'
    b"\r\n"
    b"--b\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"first part\r\n"
    b"--b\r\n"
    b"Content-Type: text/html\r\n"
    b"\r\n"
    b"<p>second</p>\r\n"
    b"--b--\r\n"
)


mail = test_append.mail  # the fixture: a server with max_message_size=LIMIT


@pytest.fixture
def wire(mail: MailServer) -> Iterator[ImapWire]:
    """Logged in as user, with ORIGINAL (UID 1) and MULTIPART (UID 2) in INBOX and a mailbox
    Composed to append to."""
    client = ImapWire(mail.imap_port)
    assert LOGGED_IN.match(client.login())
    for message in (ORIGINAL, MULTIPART):
        assert b"OK [APPENDUID" in client.command(b"p APPEND INBOX " + nonsync(message))
    # RFC 8474 §4.1: CREATE's OK carries the new mailbox's MAILBOXID
    created = client.command(b"p CREATE Composed")
    assert re.fullmatch(rb"p OK \[MAILBOXID \(F[0-9a-f]{24}\)\] CREATE completed\r\n", created)
    yield client
    client.close()


def nonsync(message: bytes) -> bytes:
    return b"{%d+}\r\n" % len(message) + message


def text(data: bytes) -> bytes:
    return b"TEXT " + nonsync(data)


def catenate(wire: ImapWire, *parts: bytes, mailbox: bytes = b"Composed") -> bytes:
    return wire.command(b"a APPEND " + mailbox + b" CATENATE (" + b" ".join(parts) + b")")


def composed(mail: MailServer) -> list[bytes]:
    return [row.raw for row in stored(mail, "Composed")]


def appended(mail: MailServer, uids: str, mailbox: str = "Composed") -> bytes:
    validity = uidvalidity(mail, mailbox)
    return b"a OK [APPENDUID %d %s] APPEND completed\r\n" % (validity, uids.encode())


def test_capability_lists_catenate(wire):
    """RFC 4469 §2: 'A server that supports this extension indicates this with a capability
    name of "CATENATE"'."""
    assert b" CATENATE " in wire.command(b"c CAPABILITY")


def test_capability_lists_url_partial(wire):
    """RFC 5550 §5: a server whose URLs take the ;PARTIAL= component (RFC 5092 §3.4) says so
    with URL-PARTIAL; Dovecot advertises it beside CATENATE."""
    assert b" URL-PARTIAL" in wire.command(b"c CAPABILITY")


def test_text_parts_are_stored_as_concatenated(mail, wire):
    """RFC 4469 §3: "The APPEND command concatenates all the message parts and appends the
    new message"; the bytes exactly as sent."""
    answer = catenate(wire, text(b"From: a@example.com\r\n"), text(b"\r\nbody\n"))
    assert answer == appended(mail, "1")
    assert composed(mail) == [b"From: a@example.com\r\n\r\nbody\n"]


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (b'"/INBOX/;UID=1"', ORIGINAL),
        (b'"/INBOX/;UID=1/;SECTION=HEADER"', HEADER),
        (b'"/inbox/;uid=1/;section=text"', b"Hello world body\r\n"),
        (b'"/INBOX/;UID=2/;SECTION=2"', b"<p>second</p>"),
        (b'"/INBOX/;UID=2/;SECTION=1.MIME"', b"Content-Type: text/plain\r\n\r\n"),
        (
            b'"/INBOX/;UID=2/;SECTION=HEADER.FIELDS%20(SUBJECT)"',
            b"Subject: parts\r\n\r\n",
        ),
        (b'"/INBOX/;UID=1/;PARTIAL=6.3"', b"foo"),
        (b'"/INBOX/;UID=1/;SECTION=TEXT/;PARTIAL=6"', b"world body\r\n"),
        (b'"imap://user@localhost/INBOX/;UID=1/;SECTION=HEADER"', HEADER),
        (b"{13+}\r\n/INBOX/;UID=1", ORIGINAL),
    ],
    ids=[
        "whole-message",
        "header",
        "text-lower-case",
        "part",
        "part-mime",
        "header-fields",
        "partial",
        "section-partial",
        "imap-url-of-this-user",
        "url-as-literal",
    ],
)
def test_a_url_part_is_what_fetch_body_section_returns(mail, wire, url, data):
    """RFC 4469 §3: "the server copies octets, unchanged, from the URL"; the part a SECTION
    names is the one FETCH BODY[section] returns (RFC 5092 §3: ;SECTION= is a BODY[] section;
    ;PARTIAL= is RFC 5550's URL-PARTIAL)."""
    assert catenate(wire, b"URL " + url, text(b"!")) == appended(mail, "1")
    assert composed(mail) == [data + b"!"]


def test_a_url_with_the_right_uidvalidity(mail, wire):
    url = b'URL "/INBOX;UIDVALIDITY=%d/;UID=1"' % uidvalidity(mail, "INBOX")
    assert catenate(wire, url) == appended(mail, "1")
    assert composed(mail) == [ORIGINAL]


def test_a_relative_url_is_relative_to_the_selected_mailbox(mail, wire):
    """RFC 4469 §3: "relative URLs ... the base URL is ... the currently selected mailbox"."""
    wire.command(b"s SELECT INBOX")
    assert catenate(wire, b'URL ";UID=2/;SECTION=1"', text(b"\r\n")) == appended(mail, "1")
    assert composed(mail) == [b"first part\r\n"]


def test_the_message_is_parsed_like_any_appended_one(mail, wire):
    catenate(wire, b'URL "/INBOX/;UID=1/;SECTION=HEADER"', text(b"new body\r\n"))
    wire.command(b"s SELECT Composed")
    answer = wire.command(b"f FETCH 1 (ENVELOPE RFC822.SIZE)")
    assert b'"original"' in answer
    assert b"RFC822.SIZE %d" % (len(HEADER) + 10) in answer


def test_synchronising_text_literals_each_get_a_continuation(mail, wire):
    wire.send(b'a APPEND Composed (\\Seen) CATENATE (URL "/INBOX/;UID=1" TEXT {3}\r\n')
    assert wire.line() == CONTINUE
    wire.send(b"abc TEXT {3}\r\n")
    assert wire.line() == CONTINUE
    wire.send(b"xyz)\r\n")
    assert wire.until(b"a") == appended(mail, "1")
    [row] = stored(mail, "Composed")
    assert (row.raw, row.flags) == (ORIGINAL + b"abcxyz", ("\\Seen",))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (b"/INBOX;UIDVALIDITY=12345/;UID=1", b"Invalid UIDVALIDITY"),
        (b"/INBOX/;UID=99", b"Message not found"),
        (b"/INBOX/;UID=1/;SECTION=5", b"Message part not found"),
        (b"/INBOX/;UID=2/;SECTION=1.2.3", b"Message part not found"),
        (b"/INBOX/;UID=1/;SECTION=BOGUS", b"Invalid section: invalid section 'BOGUS' in SECTION"),
        (b"/Nowhere/;UID=1", b"Mailbox does not exist: Nowhere"),
        (b";UID=1", b"Mailbox-relative IMAP URL, but no mailbox selected"),
        (b"imap://alice@localhost/INBOX/;UID=1", b"Invalid IMAP URL: not this user's message"),
        (b"/INBOX/;UID=1;URLAUTH=anonymous:internal:0123", b"URLAUTH is not supported"),
        (b"http://example.com/", b"Invalid IMAP URL"),
    ],
    ids=[
        "bad-uidvalidity",
        "no-such-uid",
        "section-out-of-range",
        "deep-section-out-of-range",
        "bad-section",
        "no-such-mailbox",
        "relative-without-selection",
        "another-user",
        "urlauth",
        "other-scheme",
    ],
)
def test_a_url_that_does_not_resolve_is_badurl_and_stores_nothing(mail, wire, url, reason):
    """RFC 4469 §4.1: "the server ... MUST return the BADURL response code" with the URL;
    the whole APPEND fails (nothing of it is appended)."""
    answer = catenate(wire, text(b"Subject: x\r\n\r\n"), b'URL "' + url + b'"', text(b"end"))
    assert answer == b"a NO [BADURL " + url + b"] " + reason + b"\r\n"
    still_usable(wire)
    assert composed(mail) == []


def test_another_users_message_is_never_reached(mail, wire):
    """A URL names the session user's mailboxes only, whatever the path."""
    alice = ImapWire(mail.imap_port)
    alice.login(b"alice", b"wonder")
    alice.command(b"p APPEND INBOX " + nonsync(b"Subject: alice's secret\r\n\r\nsecret\r\n"))
    alice.close()
    assert catenate(wire, b'URL "/INBOX/;UID=3"') == (
        b"a NO [BADURL /INBOX/;UID=3] Message not found\r\n"
    )


@pytest.mark.parametrize(
    ("arguments", "answer"),
    [
        (b"CATENATE ()", b"a BAD Empty CATENATE list\r\n"),
        (b"CATENATE", b"a BAD CATENATE needs a parenthesized list\r\n"),
        (b"CATENATE URL", b"a BAD CATENATE needs a parenthesized list\r\n"),
        (b"CATENATE (TEXT)", b"a BAD CATENATE parts are TEXT literal or URL url\r\n"),
        (b'CATENATE (TEXT "quoted")', b"a BAD CATENATE TEXT needs a literal\r\n"),
        (b"CATENATE (URL (x))", b"a BAD CATENATE URL needs a string\r\n"),
        (b"CATENATE (FOO {1+}\r\nx)", b"a BAD CATENATE parts are TEXT literal or URL url\r\n"),
        (b"CATENATE (TEXT {3+}\r\nabc", b"a BAD unbalanced parentheses: missing ')'\r\n"),
        (b"CATENATE (TEXT {0+}\r\n)", b"a NO Can't save a zero byte message\r\n"),
        (
            b'CATENATE (URL "/INBOX/;UID=1") extra',
            b"a BAD unexpected arguments after the message\r\n",
        ),
    ],
    ids=[
        "empty",
        "no-list",
        "atom-not-list",
        "text-without-literal",
        "text-quoted",
        "url-list",
        "unknown-part",
        "unterminated",
        "zero-bytes",
        "trailing-atom",
    ],
)
def test_a_malformed_catenate_is_refused_and_stores_nothing(mail, wire, arguments, answer):
    """RFC 4469 §5: "CATENATE" SP "(" cat-part *(SP cat-part) ")"; Dovecot's BAD for an empty
    list; its NO for a message of zero bytes."""
    assert wire.command(b"a APPEND Composed " + arguments) == answer
    still_usable(wire)
    assert composed(mail) == []


def test_a_composed_message_over_the_limit_is_toobig(mail, wire):
    """RFC 4469 §4.2: "the server MUST return the TOOBIG response code" when the resulting
    message is over its limit (max_message_size)."""
    big = b"Subject: big\r\n\r\n" + b"x" * 1200 + b"\r\n"
    assert b"OK [APPENDUID" in wire.command(b"p APPEND INBOX " + nonsync(big))
    answer = catenate(wire, b'URL "/INBOX/;UID=3"', b'URL "/INBOX/;UID=3"')
    assert answer == b"a NO [TOOBIG] Composed message grows too big (limit 2000 bytes)\r\n"
    assert composed(mail) == []


def test_catenate_to_a_missing_mailbox_is_trycreate_even_with_a_bad_url(mail, wire):
    """As Dovecot (imaptest's catenate script): the mailbox is checked before the URLs."""
    url = b'URL "/INBOX;UIDVALIDITY=12345/;UID=1"'
    answer = catenate(wire, text(b"hdr: 1\r\n"), url, mailbox=b"Nowhere")
    assert answer == b"a NO [TRYCREATE] Mailbox does not exist\r\n"


def test_catenate_before_login_is_refused(mail):
    client = ImapWire(mail.imap_port)
    assert client.command(b'a APPEND INBOX CATENATE (URL "/INBOX/;UID=1")') == (
        b"a BAD APPEND not allowed before authentication\r\n"
    )
    client.close()


# --- with MULTIAPPEND (RFC 3502) ------------------------------------------------------------------


def test_catenates_and_literals_in_one_multiappend(mail, wire):
    """RFC 4469 §3: CATENATE "extends the APPEND command ... (including the MULTIAPPEND
    extension)"; one APPENDUID for them all."""
    answer = wire.command(
        b'a APPEND Composed CATENATE (URL "/INBOX/;UID=1/;SECTION=HEADER" TEXT {5+}\r\nbody1)'
        b' (\\Answered) CATENATE (URL "/INBOX/;UID=2")'
        b" " + nonsync(b"Subject: plain\r\n\r\nplain\r\n")
    )
    assert answer == appended(mail, "1:3")
    rows = stored(mail, "Composed")
    assert [row.raw for row in rows] == [
        HEADER + b"body1",
        MULTIPART,
        b"Subject: plain\r\n\r\nplain\r\n",
    ]
    assert rows[1].flags == ("\\Answered",)


def test_a_bad_url_in_the_second_message_stores_neither(mail, wire):
    """RFC 3502 §6.3.11: if one cannot be appended, none is."""
    answer = wire.command(
        b'a APPEND Composed CATENATE (URL "/INBOX/;UID=1")'
        b' CATENATE (URL "/INBOX/;UID=1/;SECTION=9" TEXT {5+}\r\nhello)'
    )
    assert answer == b"a NO [BADURL /INBOX/;UID=1/;SECTION=9] Message part not found\r\n"
    assert composed(mail) == []


def test_a_literal8_text_part_is_stored_as_a_binary_append_is(mail, wire):
    """RFC 3516 §4.4 as for a plain literal8 APPEND: a part labelled binary is kept as base64,
    so no NUL is stored; the bytes around it stay as sent."""
    body = (
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n\x00\x01\x02\r\n"
    )
    answer = catenate(wire, b"TEXT ~{%d+}\r\n" % len(body) + body)
    assert answer == appended(mail, "1")
    [raw] = composed(mail)
    assert b"\x00" not in raw and raw.startswith(b"Content-Type: application/octet-stream\r\n")
