"""FETCH of what needs only a message's top-level header, before the message is parsed: mail
is stored unparsed and parsed at idle time or by its first reader (store/pending.py), and
ENVELOPE (RFC 9051 §7.5.2) and the sections of the whole message (BODY[HEADER.FIELDS (...)],
BODY[HEADER], BODY[TEXT], §6.4.5) are answered from the header alone. Every byte must be what
the same FETCH sends once the message is parsed, for hostile headers too."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from elektromail import mime
from elektromail.imap.format import render_fetch_data
from elektromail.testing import MailServer
from tests.imap.test_session_commands import LOGGED_IN
from tests.imap.wire import ImapWire
from tests.mime.test_parse_envelope import HEADERS

# APPEND takes no NUL outside literal8 and no empty message; a smaller huge header does
MESSAGES = {
    name: raw for name, raw in HEADERS.items() if name not in ("nul-bytes", "empty", "huge-header")
}
MESSAGES["big-header"] = b"".join(b"X-F%d: %b\r\n" % (i, b"v" * 60) for i in range(3000)) + (
    b"From: late@example.com\r\nSubject: =?utf-8?q?sp=C3=A4t?=\r\n\r\nbody\r\n"
)
RAWS = list(MESSAGES.values())
ITEMS = [
    b"UID ENVELOPE",
    b"UID FLAGS RFC822.SIZE ENVELOPE",
    b"BODY.PEEK[HEADER.FIELDS (From To Subject Date Message-ID)]",
    b"BODY.PEEK[HEADER.FIELDS.NOT (X-Pad Received)]",
    b"BODY.PEEK[HEADER] BODY.PEEK[TEXT]<0.40>",
    b"RFC822.HEADER INTERNALDATE",
]


@pytest.fixture
def wire() -> Iterator[ImapWire]:
    with MailServer(users="user:pass", smtp_port=None) as mail:
        client = ImapWire(mail.imap_port)
        assert LOGGED_IN.match(client.login())
        for raw in RAWS:
            answer = client.command(b"a APPEND INBOX {%d+}\r\n%b" % (len(raw), raw))
            assert b"a OK" in answer, answer
        assert b"s OK" in client.command(b"s EXAMINE INBOX")
        yield client
        client.close()


def test_envelope_before_the_parse_is_the_envelope_of_the_parse(wire):
    before = wire.command(b"f FETCH 1:* (UID ENVELOPE)")
    expected = b"".join(
        b"* %d FETCH (UID %d ENVELOPE %b)\r\n" % (n, n, render_fetch_data(mime.parse(raw))[0])
        for n, raw in enumerate(RAWS, 1)
    )
    assert before == expected + b"f OK FETCH completed\r\n"
    whole = wire.command(b"g FETCH 1:* (BODYSTRUCTURE)")  # needs, and makes, the whole parse
    assert whole.endswith(b"g OK FETCH completed\r\n")
    assert wire.command(b"f FETCH 1:* (UID ENVELOPE)") == before


@pytest.mark.parametrize("items", ITEMS)
def test_header_items_answer_the_same_bytes_before_and_after_the_parse(wire, items):
    before = wire.command(b"f FETCH 1:* (%b)" % items)
    assert before.endswith(b"f OK FETCH completed\r\n")
    assert len(re.findall(rb"^\* \d+ FETCH", before, re.M)) >= len(RAWS)
    wire.command(b"g FETCH 1:* (BODYSTRUCTURE)")
    assert wire.command(b"f FETCH 1:* (%b)" % items) == before
    # the same items beside one that needs the structure (the parse's path), less its value
    both = wire.command(b"h FETCH 1:* (%b BINARY.SIZE[1])" % items)
    stripped = re.sub(rb" BINARY\.SIZE\[1\] \d+\)\r\n", b")\r\n", both)
    assert stripped == before.replace(b"f OK", b"h OK")
