"""Hostile message shapes delivered over SMTP and fetched over IMAP: deep nesting, ten thousand
parts, a 10 MB header. The parser caps what it must (nesting), stores every byte, and FETCH
(and the HTTP listing) answer with bounded size, time and memory."""

from __future__ import annotations

import re
import time
import urllib.request

import pytest

from tests.limits.conftest import USERS

USER = USERS[2]
MEGABYTE = 1 << 20


@pytest.fixture
def mailbox(smtp, imap):
    """deliver(message) stores a message for USER over SMTP and returns (client, sequence
    number), the client logged in with INBOX selected."""
    client = imap(USER)

    def deliver(message: bytes) -> tuple[object, int]:
        assert smtp().deliver(USER, message).startswith(b"250 2.0.0")
        exists = re.findall(rb"\* (\d+) EXISTS", client.command(b"s SELECT INBOX"))
        return client, int(exists[-1])

    return deliver


def fetch(client, number: int, items: bytes) -> bytes:
    answer = client.command(b"f FETCH %d %s" % (number, items))
    assert answer.endswith(b"f OK FETCH completed\r\n"), answer[-200:]
    return answer


def literal(answer: bytes, label: bytes) -> bytes:
    """The literal following `label` in a FETCH answer."""
    match = re.search(re.escape(label) + rb" \{(\d+)\}\r\n", answer)
    assert match is not None, answer[:300]
    return answer[match.end() : match.end() + int(match.group(1))]


def depth_of(data: bytes) -> int:
    """The deepest parenthesis nesting (the structures here hold no literals or parentheses
    inside strings)."""
    depth = deepest = 0
    for byte in data:
        depth += (byte == 0x28) - (byte == 0x29)
        deepest = max(deepest, depth)
    return deepest


def nested_multiparts(levels: int) -> bytes:
    head = b"From: a@example.com\r\nSubject: deep\r\n"
    body = b"Content-Type: text/plain\r\n\r\ninnermost\r\n"
    for level in reversed(range(levels)):
        boundary = b"b%d" % level
        body = (
            b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n'
            b"--" + boundary + b"\r\n" + body + b"\r\n--" + boundary + b"--\r\n"
        )
    return head + body


def nested_messages(levels: int) -> bytes:
    message = b"Subject: innermost\r\n\r\ntext\r\n"
    for level in reversed(range(levels)):
        message = b"Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n" % level + message
    return b"From: a@example.com\r\n" + message


@pytest.mark.parametrize(
    "message",
    [nested_multiparts(100), nested_messages(100)],
    ids=["100-multiparts", "100-message-rfc822"],
)
def test_deep_nesting_is_capped_and_every_byte_kept(server, mailbox, message: bytes) -> None:
    """RFC 9051 §6.4.5: BODYSTRUCTURE "is computed by the server by parsing the [MIME-IMB]
    header fields", and RFC 2046 §5.1.1 designs boundaries for the case "that deeply-nested
    multipart structuring is ever desired" without setting a depth. The parser stops at 64
    levels (deeper parts become opaque leaves; Dovecot stops at 100), so the answer stays
    bounded, while BODY[] (§6.4.5) is still every byte."""
    base = server.reset_peak()
    client, number = mailbox(message)
    answer = fetch(client, number, b"(RFC822.SIZE BODYSTRUCTURE BODY)")
    assert b"RFC822.SIZE %d " % len(message) in answer
    assert 64 <= depth_of(answer) <= 2 * 64 + 10
    assert len(answer) < 64 * 1024
    assert literal(fetch(client, number, b"BODY.PEEK[]"), b"BODY[]") == message
    deep = b".".join([b"1"] * 100)
    fetch(client, number, b"BODY.PEEK[" + deep + b"]")
    assert server.peak_mb() - base < 32  # measured: 1 MB


def many_parts(count: int) -> bytes:
    parts = b"".join(
        b"--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % number
        for number in range(1, count + 1)
    )
    return (
        b"From: a@example.com\r\nSubject: parts\r\n"
        b'Content-Type: multipart/mixed; boundary="p"\r\n\r\n' + parts + b"--p--\r\n"
    )


def test_ten_thousand_parts_are_all_described(server, mailbox) -> None:
    """RFC 9051 §7.5.2: a multipart's BODYSTRUCTURE lists every part; §6.4.5: BODY[n] is part
    n, and a part that does not exist is an empty string (as Dovecot answers)."""
    message = many_parts(10_000)
    base = server.reset_peak()
    client, number = mailbox(message)
    started = time.monotonic()
    structure = fetch(client, number, b"BODYSTRUCTURE")
    assert structure.count(b'("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" ') == 10_000
    assert len(structure) < 2 * MEGABYTE
    last = fetch(client, number, b"(BODY.PEEK[10000] BODY.PEEK[10001])")
    assert b"BODY[10000] {10}\r\npart 10000" in last
    assert b"BODY[10001] {0}\r\n)" in last  # the empty string, as Dovecot spells it
    assert time.monotonic() - started < 10
    assert server.peak_mb() - base < 100  # measured: 19 MB


@pytest.mark.parametrize("field", [b"X-Big", b"Subject"], ids=["x-header", "subject"])
def test_ten_megabyte_header_is_stored_and_fetched_in_bounded_memory(
    server, mailbox, field: bytes
) -> None:
    """RFC 5321 §4.5.3.1.6 sets no limit on a text line's length that the server must enforce
    below its message size limit (RFC 1870), so a 10 MB header field under the 50 MB limit is
    accepted. FETCH ENVELOPE (RFC 9051 §7.5.2) and HEADER.FIELDS (§6.4.5) answer with what
    they name: the big field only where it is asked for; so does the control API's listing
    (GET /messages shows the subject, not other fields)."""
    big = b"a" * (10 * MEGABYTE)
    message = (
        b"From: a@example.com\r\nTo: b@example.com\r\n"
        + field
        + b": "
        + big
        + b"\r\n"
        + (b"Subject: small\r\n" if field != b"Subject" else b"")
        + b"\r\nbody\r\n"
    )
    base = server.reset_peak()
    client, number = mailbox(message)
    small = fetch(client, number, b"(RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM TO)] FLAGS)")
    assert len(small) < 4096 and b"RFC822.SIZE %d " % len(message) in small
    envelope = fetch(client, number, b"ENVELOPE")
    assert (len(envelope) > len(big)) == (field == b"Subject")
    header = literal(fetch(client, number, b"BODY.PEEK[HEADER]"), b"BODY[HEADER]")
    assert header == message[: message.index(b"\r\n\r\n") + 4]
    search = client.command(b"a SEARCH HEADER " + field + b' "aaaab"')
    assert search.endswith(b"a OK SEARCH completed\r\n") and b"* SEARCH\r\n" in search
    url = f"http://127.0.0.1:{server.http_port}/messages?user={USER}"
    with urllib.request.urlopen(url, timeout=20) as response:
        listing = response.read()
    assert response.status == 200 and len(listing) < 2 * len(message) + 65536
    assert server.peak_mb() - base < 320  # measured: 80 MB (X-Big), 153 MB (Subject)
