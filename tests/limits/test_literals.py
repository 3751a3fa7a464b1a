"""2 GB literal announcements: answered by the literal limit (max_message_size, 50 MB by
default), never by reading or buffering the bytes, in APPEND and in any other command."""

from __future__ import annotations

import re

import pytest

from tests.limits.conftest import USERS

USER = USERS[0]
TWO_GB = 2**31
MEGABYTE = 1 << 20
TOOBIG = re.compile(rb"a NO \[TOOBIG\] Literal too big \(limit \d+ bytes\)\r\n\Z")


def still_usable(client) -> None:
    assert client.command(b"z NOOP").endswith(b"z OK NOOP completed\r\n")


@pytest.mark.parametrize(
    ("login", "command"),
    [
        (True, b"a APPEND INBOX {%d}" % TWO_GB),
        (True, b"a APPEND INBOX (\\Seen) ~{%d}" % TWO_GB),
        (False, b"a LOGIN {%d}" % TWO_GB),
        (True, b"a SELECT {%d}" % TWO_GB),
        (True, b"a CREATE ~{%d}" % TWO_GB),
        (True, b"a APPEND INBOX {%d}" % (10**40)),
    ],
    ids=["append", "append-literal8", "login", "select", "create-literal8", "40-digits"],
)
def test_synchronizing_literal_over_the_limit_is_refused_before_it_is_sent(
    imap, login: bool, command: bytes
) -> None:
    """RFC 9051 §2.2.1: "If, instead, the server detected an error in the command, it sends a
    BAD completion response with a tag matching the command (as described below) to reject the
    command and prevent the client from sending any more of the command." The server answers
    NO with TOOBIG (RFC 7888 §5, defined by RFC 4469, listed in RFC 5530 §6) instead of "+"."""
    client = imap(USER if login else None)
    answer = client.command(command)
    assert TOOBIG.match(answer), answer
    still_usable(client)


@pytest.mark.parametrize(
    ("announcement", "streamed"),
    [
        (b"APPEND INBOX {%d+}" % TWO_GB, TWO_GB),
        (b"APPEND INBOX ~{%d+}" % TWO_GB, 64 * MEGABYTE),
        (b"SEARCH TEXT {%d+}" % TWO_GB, 64 * MEGABYTE),
    ],
    ids=["append-all-2GB", "append-literal8-64MB", "search-64MB"],
)
def test_non_synchronizing_literal_is_refused_at_once_and_discarded_in_bounded_memory(
    server, imap, announcement: bytes, streamed: int
) -> None:
    """RFC 7888 §4: a server may "Read the number of bytes specified in the
    non-synchronizing literal and reject the command that included the literal anyway. (The
    server is allowed to send the tagged BAD/NO response before reading the whole
    non-synchronizing literal.)" The NO comes before a byte of the literal is sent; the bytes
    are dropped as they stream, not kept, and once all 2 GB are read the command line goes on
    and the next command is answered (~1 s on loopback)."""
    client = imap(USER)
    assert client.command(b"s SELECT INBOX").endswith(b"s OK [READ-WRITE] SELECT completed\r\n")
    client.send(b"a " + announcement + b"\r\n")
    assert TOOBIG.match(client.line())
    base = server.reset_peak()
    chunk = b"x" * (4 * MEGABYTE)
    for _ in range(streamed // len(chunk)):
        client.send(chunk)
    other = imap(USER)  # the server answers others while it discards
    still_usable(other)
    assert server.peak_mb() - base < 32  # measured: 0 MB
    if streamed == TWO_GB:
        client.send(b" more\r\n")
        still_usable(client)


@pytest.mark.parametrize(
    "announcement",
    [b"{%d+}" % (TWO_GB + 1), b"~{%d+}" % 2**32, b"{" + b"9" * 100 + b"+}"],
    ids=["2GB-plus-1", "4GB-literal8", "100-digits"],
)
def test_literal_over_the_discard_limit_ends_the_connection(imap, announcement: bytes) -> None:
    """RFC 7888 §4, the other choice: "Send an untagged BYE response explaining the reason for
    rejecting the literal ... and close the connection." RFC 7888 §5: "If responding with an
    untagged BYE response, it SHOULD include the TOOBIG response code." Past 2 GiB, reading
    the bytes only to drop them is not worth the time."""
    client = imap(USER)
    client.send(b"a APPEND INBOX " + announcement + b"\r\n")
    assert client.line() == b"* BYE [TOOBIG] Literal too big\r\n"
    assert client.line() == b""
