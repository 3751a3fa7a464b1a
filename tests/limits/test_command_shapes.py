"""Long lines and deep nesting in commands: answered by the line limit (64 KB for IMAP, 16 KB
for SMTP) and the nesting limit (100), in bounded memory and time; the connection stays usable."""

from __future__ import annotations

import time

import pytest

from tests.limits.conftest import USERS

USER = USERS[1]
MEGABYTE = 1 << 20


def still_usable(client) -> None:
    assert client.command(b"z NOOP").endswith(b"z OK NOOP completed\r\n")


@pytest.mark.parametrize(
    "head",
    [b"a APPEND INBOX ", b"a SEARCH TEXT ", b"a FETCH 1 ", b"a LOGIN "],
    ids=["append", "search", "fetch", "login"],
)
def test_one_megabyte_imap_line_is_bad_toobig(server, imap, head: bytes) -> None:
    """RFC 9051 §7.1.3 (BAD): "the tag indicates the command that caused the error"; its
    example is `* BAD Command line too long` for a line whose tag is unknown. RFC 4469's TOOBIG
    code (listed in RFC 5530 §6) says why. The line is dropped as it streams, not buffered."""
    client = imap(USER)
    base = server.reset_peak()
    client.send(head)
    for _ in range(16):
        client.send(b"x" * (MEGABYTE // 16))
    client.send(b"\r\n")
    assert client.line() == b"a BAD [TOOBIG] Line too long\r\n"
    still_usable(client)
    assert server.peak_mb() - base < 16


def test_one_megabyte_smtp_line_is_500(server, smtp) -> None:
    """RFC 5321 §4.5.3.1.4: "The maximum total length of a command line including the command
    word and the <CRLF> is 512 octets. SMTP extensions may be used to increase this limit."
    §4.5.3.1.9: "500 Line too long." (with RFC 3463's 5.5.2, syntax error)."""
    client = smtp()
    base = server.reset_peak()
    client.send(b"EHLO ")
    for _ in range(16):
        client.send(b"x" * (MEGABYTE // 16))
    assert client.command(b"") == b"500 5.5.2 Line too long\r\n"
    assert client.command(b"NOOP") == b"250 2.0.0 OK\r\n"
    assert server.peak_mb() - base < 16


def nested(depth: int, inner: bytes) -> bytes:
    return b"(" * depth + inner + b")" * depth


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        (b"a SEARCH " + nested(100_000, b"ALL"), b"a BAD [TOOBIG] Line too long\r\n"),
        (b"a FETCH 1 " + nested(100_000, b"FLAGS"), b"a BAD [TOOBIG] Line too long\r\n"),
        (b"a SEARCH " + nested(30_000, b"ALL"), b"a BAD lists nested deeper than 100\r\n"),
        (b"a FETCH 1 " + nested(30_000, b"FLAGS"), b"a BAD lists nested deeper than 100\r\n"),
        (b"a SEARCH " + nested(101, b"ALL"), b"a BAD lists nested deeper than 100\r\n"),
        (b"a SEARCH " + b"(" * 30_000, b"a BAD lists nested deeper than 100\r\n"),
    ],
    ids=[
        "search-100000",
        "fetch-100000",
        "search-30000",
        "fetch-30000",
        "search-101",
        "search-unclosed",
    ],
)
def test_deep_parentheses_are_bad(imap, command: bytes, answer: bytes) -> None:
    """RFC 9051 §7.1.3: BAD "indicates an error message from the server. When tagged, it
    reports a protocol-level error in the client's command". 100,000 levels do not fit the
    line limit; what fits stops at the nesting limit, without recursion."""
    client = imap(USER)
    assert client.command(b"s SELECT INBOX").endswith(b"s OK [READ-WRITE] SELECT completed\r\n")
    started = time.monotonic()
    assert client.command(command) == answer
    assert time.monotonic() - started < 5
    still_usable(client)


@pytest.mark.parametrize(
    ("key", "matches"),
    [
        (b"NOT " * 15_000 + b"ALL", True),
        (b"NOT " * 15_001 + b"ALL", False),
        (b"OR " * 7_000 + b" ".join([b"ALL"] * 7_001), True),
        (nested(100, b"ALL"), True),
    ],
    ids=["15000-NOTs", "15001-NOTs", "7000-ORs", "nesting-100"],
)
def test_long_search_chains_get_a_correct_answer(smtp, imap, key: bytes, matches: bool) -> None:
    """RFC 9051 §6.4.4: NOT and OR nest without limit in the grammar; chains that fit the line
    are flattened and answered, not refused and not a stack overflow."""
    client = imap(USER)
    if b"1 EXISTS" not in client.command(b"s SELECT INBOX"):
        assert smtp().deliver(USER, b"Subject: one\r\n\r\nbody\r\n").startswith(b"250")
        assert b"EXISTS" in client.command(b"s SELECT INBOX")
    answer = client.command(b"a SEARCH " + key)
    assert answer.startswith(b"* SEARCH 1\r\n" if matches else b"* SEARCH\r\n"), answer
    assert answer.endswith(b"a OK SEARCH completed\r\n")
