"""FETCH of UID, FLAGS, MODSEQ and RFC822.SIZE only (a sync client's `FETCH 1:* (FLAGS)`,
RFC 9051 §6.4.5, RFC 7162 §3.1.4.1) is written from one line template per item list: the same
bytes the general path writes for the same items."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from elektromail.testing import MailServer
from tests.imap.test_session_commands import LOGGED_IN
from tests.imap.wire import ImapWire

MESSAGE = b"Subject: s%d\r\n\r\nbody %d\r\n"


@pytest.fixture
def wire() -> Iterator[ImapWire]:
    """Three messages in INBOX, the second \\Seen $Work, the third \\Flagged, read through a
    rev1 session that selected INBOX read-write after they came (so they are \\Recent)."""
    with MailServer(users="user:pass", smtp_port=None) as mail:
        client = ImapWire(mail.imap_port)
        assert LOGGED_IN.match(client.login())
        for i, flags in enumerate((b"", b"(\\Seen $Work) ", b"(\\Flagged) "), start=1):
            body = MESSAGE % (i, i)
            client.command(b"a APPEND INBOX %b{%d+}\r\n%b" % (flags, len(body), body))
        assert b"s OK" in client.command(b"s SELECT INBOX")
        yield client
        client.close()


def items_of(answer: bytes) -> dict[int, bytes]:
    """seq -> the parenthesized items of each `* seq FETCH (...)` line."""
    return {int(n): items for n, items in re.findall(rb"\* (\d+) FETCH \((.*)\)\r\n", answer)}


@pytest.mark.parametrize(
    "items",
    [b"FLAGS", b"UID FLAGS", b"FLAGS MODSEQ", b"RFC822.SIZE UID FLAGS MODSEQ", b"UID"],
)
def test_a_plain_item_list_answers_as_the_general_path_does(wire, items):
    plain = wire.command(b"f FETCH 1:* (%b)" % items)
    assert plain.endswith(b"f OK FETCH completed\r\n")
    # with INTERNALDATE the general path answers; but for that item, the same line
    general = wire.command(b"g FETCH 1:* (%b INTERNALDATE)" % items)
    without = {
        n: re.sub(rb' INTERNALDATE "[^"]*"', b"", line) for n, line in items_of(general).items()
    }
    assert items_of(plain) == without
    assert len(without) == 3


def test_flags_carry_recent_and_uid_fetch_names_the_uid_first(wire):
    """RFC 3501 §2.3.2: \\Recent shows in this session's FLAGS; RFC 9051 §6.4.8: UID FETCH
    answers carry the UID."""
    answer = wire.command(b"u UID FETCH 2:3 (FLAGS RFC822.SIZE)")
    assert answer.startswith(
        b"* 2 FETCH (UID 2 FLAGS (\\Seen \\Recent $Work) RFC822.SIZE 23)\r\n"
        b"* 3 FETCH (UID 3 FLAGS (\\Flagged \\Recent) RFC822.SIZE 23)\r\n"
    )


@pytest.mark.parametrize(
    "items", [b"(UID FOO)", b"FOO", b"(UID ALL)"], ids=["list", "atom", "macro"]
)
def test_invalid_items_are_bad_every_time(wire, items) -> None:
    """Plans are kept by the items' tokens; a list that makes none is refused each time it
    comes, and the same items spelled in another case make the same answer."""
    for _ in range(2):
        assert re.match(rb"f BAD invalid FETCH items: ", wire.command(b"f FETCH 1 " + items))
    upper = wire.command(b"f FETCH 2 (UID RFC822.SIZE FLAGS)")
    assert wire.command(b"f FETCH 2 (uid rfc822.size Flags)") == upper
