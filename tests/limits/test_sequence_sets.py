"""The widest sequence sets on a three-message mailbox: `1:4294967295`, `*:1` and the invalid
`4294967296` in FETCH, STORE, SEARCH and COPY, with and without UID. Ranges are kept as ranges,
so every answer is immediate: a BAD for a message number past EXISTS, the matching messages for
UIDs."""

from __future__ import annotations

import re
import time

import pytest

from tests.limits.conftest import USERS

USER = USERS[3]
WIDEST = b"1:4294967295"
PAST_EXISTS = b"t BAD invalid message sequence number"
TOO_BIG = re.compile(rb"t BAD invalid sequence set '[0-9:,*]+': 4294967296 is over 4294967295\r\n")


@pytest.fixture
def selected(smtp, imap):
    """A connection with USER's INBOX selected, holding exactly three messages."""
    client = imap(USER)
    answer = client.command(b"s SELECT INBOX")
    exists = int(re.search(rb"\* (\d+) EXISTS", answer).group(1))
    for number in range(exists, 3):
        reply = smtp().deliver(USER, b"Subject: m%d\r\n\r\nbody\r\n" % number)
        assert reply.startswith(b"250")
    answer = client.command(b"s SELECT INBOX")
    assert b"* 3 EXISTS" in answer
    return client


def run(client, command: bytes) -> bytes:
    started = time.monotonic()
    answer = client.command(b"t " + command)
    assert time.monotonic() - started < 5
    return answer


@pytest.mark.parametrize(
    "command",
    [
        b"FETCH " + WIDEST + b" (FLAGS)",
        b"STORE " + WIDEST + b" +FLAGS.SILENT (x)",
        b"COPY " + WIDEST + b" INBOX",
        b"MOVE " + WIDEST + b" INBOX",
    ],
    ids=["fetch", "store", "copy", "move"],
)
def test_message_numbers_past_exists_are_bad(selected, command: bytes) -> None:
    """RFC 9051 §9 (seq-number): "The server should respond with a tagged BAD response to a
    command that uses a message sequence number greater than the number of messages in the
    selected mailbox." """
    assert run(selected, command) == PAST_EXISTS + b"\r\n"


def test_search_past_exists_matches_nothing_past_exists(selected) -> None:
    """RFC 9051 §6.4.4: the `<sequence set>` key is message numbers, in UID SEARCH too; as
    Dovecot, a number past EXISTS matches nothing (an OK, not the BAD of FETCH)."""
    assert run(selected, b"SEARCH " + WIDEST) == b"* SEARCH 1 2 3\r\nt OK SEARCH completed\r\n"
    assert run(selected, b"SEARCH 4294967295") == b"* SEARCH\r\nt OK SEARCH completed\r\n"
    assert run(selected, b"UID SEARCH 4294967295").startswith(b"* SEARCH\r\nt OK")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (b"UID FETCH " + WIDEST + b" (FLAGS)", rb"(\* \d+ FETCH \(UID \d+ FLAGS \(\)\)\r\n){3}"),
        (b"FETCH *:1 (FLAGS)", rb"\* 1 FETCH \(FLAGS \(\)\)\r\n\* 2 .*\r\n\* 3 .*\r\n"),
        (b"UID STORE " + WIDEST + b" +FLAGS.SILENT (\\Answered)", rb""),
        (b"SEARCH UID " + WIDEST, rb"\* SEARCH 1 2 3\r\n"),
        (b"SEARCH *:1", rb"\* SEARCH 1 2 3\r\n"),
        (b"UID SEARCH UID " + WIDEST, rb"\* SEARCH \d+ \d+ \d+\r\n"),
    ],
    ids=["uid-fetch", "fetch-star-to-1", "uid-store", "search-uid", "search-star", "uid-search"],
)
def test_uid_ranges_and_star_select_every_message(selected, command: bytes, expected: bytes):
    """RFC 9051 §9 (seq-range): "two seq-number values and all values between these two
    regardless of order", with "*" "the largest number in use"; UIDs past the last one name
    nothing, without a BAD."""
    answer = run(selected, command)
    assert re.fullmatch(expected + rb"t OK [^\r\n]*\r\n", answer, re.S), answer


@pytest.mark.parametrize("uid", [False, True], ids=["copy", "uid-copy"])
def test_copy_of_every_message_by_star_or_uid_range(selected, uid: bool) -> None:
    """RFC 9051 §6.4.7 COPY, with RFC 4315 §3 COPYUID: three source UIDs, three new ones."""
    target = b"Copies-uid" if uid else b"Copies"
    selected.command(b"c CREATE " + target)
    command = b"UID COPY " + WIDEST if uid else b"COPY *:1"
    answer = run(selected, command + b" " + target)
    assert re.fullmatch(rb"t OK \[COPYUID \d+ \d+:\d+ 1:3\] (UID )?COPY completed\r\n", answer)


@pytest.mark.parametrize(
    "command",
    [
        b"FETCH 4294967296 (FLAGS)",
        b"UID FETCH 4294967296 (FLAGS)",
        b"STORE 1:4294967296 +FLAGS (x)",
        b"UID STORE 4294967296:* +FLAGS (x)",
        b"COPY 4294967296 INBOX",
        b"UID COPY 1,4294967296 INBOX",
    ],
    ids=["fetch", "uid-fetch", "store", "uid-store", "copy", "uid-copy"],
)
def test_number_over_32_bits_is_bad(selected, command: bytes) -> None:
    """RFC 9051 §9: number is an "Unsigned 32-bit integer (0 <= n < 4,294,967,296)"."""
    assert TOO_BIG.fullmatch(run(selected, command))


def test_search_number_over_32_bits_is_bad(selected) -> None:
    """RFC 9051 §9, as above, inside a SEARCH key."""
    for command in (b"SEARCH 4294967296", b"UID SEARCH UID 4294967296"):
        answer = run(selected, command)
        assert answer.startswith(b"t BAD invalid ")
        assert answer.endswith(b"'4294967296': 4294967296 is over 4294967295\r\n")


def test_star_in_an_empty_mailbox(selected) -> None:
    """RFC 9051 §9: a BAD for a message number past EXISTS "includes "*" if the selected mailbox
    is empty"; a UID range selects nothing there."""
    selected.command(b"c CREATE Empty")
    assert selected.command(b"e SELECT Empty").endswith(b"e OK [READ-WRITE] SELECT completed\r\n")
    assert run(selected, b"FETCH *:1 (FLAGS)").startswith(b"t BAD ")
    assert run(selected, b"UID FETCH " + WIDEST + b" (FLAGS)") == b"t OK UID FETCH completed\r\n"
