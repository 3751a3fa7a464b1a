"""The pure session parts: line splitting with limits, DATA reading, the command table."""

from __future__ import annotations

import pytest

from elektromail.smtp import replies
from elektromail.smtp.params import MailArguments, RcptArguments
from elektromail.smtp.session import (
    LINE_TOO_LONG,
    VERBS,
    DataReader,
    Envelope,
    LineBuffer,
    Recipient,
    Session,
    split_command,
)


def drain(buffer: LineBuffer) -> list[object]:
    out = []
    while (line := buffer.next_line()) is not None:
        out.append(line)
    return out


def feed_bytewise(buffer: LineBuffer, data: bytes) -> list[object]:
    out = []
    for i in range(len(data)):
        buffer.feed(data[i : i + 1])
        out.extend(drain(buffer))
    return out


# --- LineBuffer ------------------------------------------------------------------------------


def test_lines_split_on_crlf_only() -> None:
    buffer = LineBuffer()
    buffer.feed(b"one\r\ntwo\nstill two\r\n\r\nrest")
    assert drain(buffer) == [b"one", b"two\nstill two", b""]
    assert len(buffer) == 4


def test_lines_fed_one_byte_at_a_time() -> None:
    data = b"EHLO x\r\nMAIL FROM:<a@b>\r\n\r\n.\r\n"
    assert feed_bytewise(LineBuffer(), data) == [b"EHLO x", b"MAIL FROM:<a@b>", b"", b"."]


def test_line_at_the_limit_is_a_line() -> None:
    buffer = LineBuffer(max_length=10)
    assert feed_bytewise(buffer, b"x" * 10 + b"\r\nok\r\n") == [b"x" * 10, b"ok"]


def test_complete_line_over_the_limit_is_reported_once() -> None:
    buffer = LineBuffer(max_length=10)
    buffer.feed(b"x" * 11 + b"\r\nok\r\n")
    assert drain(buffer) == [LINE_TOO_LONG, b"ok"]


def test_unterminated_line_over_the_limit_is_discarded_as_it_arrives() -> None:
    buffer = LineBuffer(max_length=10)
    seen = []
    for _ in range(1000):
        buffer.feed(b"y" * 7)
        seen.extend(drain(buffer))
        assert len(buffer) <= 11
    buffer.feed(b"\r\nok\r\n")
    assert [*seen, *drain(buffer)] == [LINE_TOO_LONG, b"ok"]


def test_crlf_split_across_feeds_while_discarding() -> None:
    buffer = LineBuffer(max_length=4)
    assert feed_bytewise(buffer, b"123456789\r\nab\r\n") == [LINE_TOO_LONG, b"ab"]


# --- DataReader ------------------------------------------------------------------------------


def read_message(data: bytes, max_bytes: int = 1000, step: int | None = None) -> DataReader:
    """Feed `data` (all at once, or `step` bytes at a time) until the reader sees the dot."""
    reader, buffer = DataReader(max_bytes), LineBuffer()
    step = step or len(data) or 1
    for i in range(0, len(data), step):
        buffer.feed(data[i : i + step])
        if reader.take(buffer):
            return reader
    raise AssertionError("no terminating dot")


@pytest.mark.parametrize("step", [None, 1, 2, 3, 7], ids=["whole", "1", "2", "3", "7"])
def test_data_is_unstuffed_with_crlfs_kept_however_it_arrives(step: int | None) -> None:
    data = b"Subject: x\r\n\r\n..dot\r\n.\r\n.\r\nafter\r\n"
    reader = read_message(data, step=step)
    assert reader.failure is None
    assert reader.message() == b"Subject: x\r\n\r\n.dot\r\n"


@pytest.mark.parametrize("step", [None, 1, 4])
def test_dot_lines_are_unstuffed_at_the_start_middle_and_end(step: int | None) -> None:
    data = b"..first\r\nmid\r\n...two\r\n.x\r\n..\r\n.\r\n"
    assert read_message(data, step=step).message() == b".first\r\nmid\r\n..two\r\nx\r\n.\r\n"


def test_the_dot_ends_the_message_only_as_a_whole_line() -> None:
    data = b"a.\r\n .\r\n.a\r\nx\n.\r\n.\r\n"
    assert read_message(data, step=1).message() == b"a.\r\n .\r\na\r\nx\n.\r\n"


def test_lines_after_the_dot_stay_in_the_buffer() -> None:
    reader, buffer = DataReader(1000), LineBuffer()
    buffer.feed(b"body\r\n.\r\nQUIT\r\n")
    assert reader.take(buffer)
    assert buffer.next_line() == b"QUIT"


def test_empty_message() -> None:
    assert read_message(b".\r\n").message() == b""


def test_message_over_max_bytes_fails_and_is_dropped() -> None:
    reader = read_message(b"x" * 6 + b"\r\n" + b"y" * 6 + b"\r\n.\r\n", max_bytes=10)
    assert reader.failure == replies.MESSAGE_TOO_BIG
    assert reader.message() == b""


def test_a_message_over_the_limit_is_discarded_as_it_streams() -> None:
    reader, buffer = DataReader(1000), LineBuffer()
    for _ in range(100):
        buffer.feed(b"z" * 98 + b"\r\n")
        assert not reader.take(buffer)
        assert reader.message() == b"" or len(reader.message()) <= 1000
        assert len(buffer) == 0
    assert reader.failure == replies.MESSAGE_TOO_BIG and reader.message() == b""


def test_message_exactly_max_bytes_is_kept() -> None:
    assert read_message(b"x" * 8 + b"\r\n.\r\n", max_bytes=10).message() == b"x" * 8 + b"\r\n"


def test_a_line_longer_than_the_message_limit_is_discarded_as_it_streams() -> None:
    reader, buffer = DataReader(100), LineBuffer()
    for _ in range(1000):
        buffer.feed(b"z" * 64)
        assert not reader.take(buffer)
        assert len(buffer) <= 102
    buffer.feed(b"\r\nmore\r\n.\r\nNOOP\r\n")
    assert reader.take(buffer)
    assert reader.failure == replies.MESSAGE_TOO_BIG
    assert buffer.next_line() == b"NOOP"


def test_first_failure_wins() -> None:
    reader, buffer = DataReader(10), LineBuffer()
    reader.fail(replies.LOCAL_ERROR)
    buffer.feed(b"z" * 20 + b"\r\n")
    reader.take(buffer)
    assert reader.failure == replies.LOCAL_ERROR


# --- commands --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"mail FROM:<a@b>", (b"MAIL", b"FROM:<a@b>")),
        (b"  NOOP   hello there  ", (b"NOOP", b"hello there")),
        (b"QUIT", (b"QUIT", b"")),
        (b"   ", (b"", b"")),
    ],
    ids=["lower", "spaces", "bare", "blank"],
)
def test_split_command(line: bytes, expected: tuple[bytes, bytes]) -> None:
    assert split_command(line) == expected


IN_TRANSACTION = Envelope(MailArguments("a@b"))
WITH_RECIPIENT = Envelope(MailArguments("a@b"), [Recipient(RcptArguments("c@d"))])


@pytest.mark.parametrize(
    ("verb", "argument", "envelope", "user", "expected"),
    [
        (b"RCPT", b"TO:<c@d>", Envelope(), None, replies.NEED_MAIL),
        (b"DATA", b"", Envelope(), None, replies.NEED_MAIL_BEFORE_DATA),
        (b"DATA", b"", IN_TRANSACTION, None, replies.NEED_RCPT),
        (b"DATA", b"", WITH_RECIPIENT, None, None),
        (b"DATA", b"now", WITH_RECIPIENT, None, replies.NO_ARGUMENTS),
        (b"MAIL", b"FROM:<a@b>", IN_TRANSACTION, None, replies.NESTED_MAIL),
        (b"MAIL", b"", Envelope(), None, replies.MAIL_SYNTAX),
        (b"EHLO", b"", Envelope(), None, replies.EHLO_SYNTAX),
        (b"AUTH", b"PLAIN", Envelope(), "user", replies.ALREADY_AUTHENTICATED),
        (b"AUTH", b"PLAIN", IN_TRANSACTION, None, replies.AUTH_IN_TRANSACTION),
        (b"STARTTLS", b"", Envelope(), None, None),
        (b"STARTTLS", b"now", Envelope(), None, replies.NO_ARGUMENTS),
        (b"RSET", b"", WITH_RECIPIENT, None, None),
        (b"NOOP", b"anything", Envelope(), None, None),
    ],
    ids=[
        "rcpt-before-mail",
        "data-before-mail",
        "data-before-rcpt",
        "data-ok",
        "data-argument",
        "nested-mail",
        "mail-no-argument",
        "ehlo-no-hostname",
        "auth-twice",
        "auth-in-transaction",
        "starttls",
        "starttls-argument",
        "rset-anytime",
        "noop-argument",
    ],
)
def test_command_table_refusals(verb, argument, envelope, user, expected) -> None:
    session = Session(peer="[127.0.0.1]", user=user, envelope=envelope)
    assert VERBS[verb].refusal(session, argument) == expected


@pytest.mark.parametrize(
    ("require_auth", "user", "expected"),
    [(False, None, None), (True, None, replies.AUTH_REQUIRED), (True, "user", None)],
    ids=["not-required", "required", "authenticated"],
)
def test_mail_needs_auth_when_the_setting_asks(require_auth, user, expected) -> None:
    session = Session(peer="[127.0.0.1]", require_auth=require_auth, user=user)
    assert VERBS[b"MAIL"].refusal(session, b"FROM:<a@b>") == expected


def test_starttls_is_refused_once_tls_is_on() -> None:
    session = Session(peer="[127.0.0.1]", tls=True)
    assert VERBS[b"STARTTLS"].refusal(session, b"") == replies.TLS_ACTIVE
