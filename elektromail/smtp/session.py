"""The SMTP session as pure code: line splitting, the command table with its preconditions,
session and envelope state, and the DATA reader. No sockets, no reactor.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from elektromail.smtp import replies
from elektromail.smtp.replies import Reply

# RFC 5321 asks for at least 1000 octets per text line and 100 recipients; real clients send
# longer lines (Twisted allows 16384), so the limits are generous but finite.
MAX_LINE_LENGTH = 16384
MAX_RECIPIENTS = 1000
# Until the SIZE setting exists: a ceiling that keeps one message from exhausting memory.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class LineTooLong:
    """Marks a line over the limit; its bytes were discarded."""

    def __repr__(self) -> str:
        return "LINE_TOO_LONG"


LINE_TOO_LONG = LineTooLong()


class LineBuffer:
    """Splits a byte stream into CRLF-terminated lines. A line longer than `max_length` is
    reported once as LINE_TOO_LONG and dropped as it arrives, so memory stays bounded."""

    def __init__(self, max_length: int = MAX_LINE_LENGTH) -> None:
        self.max_length = max_length
        self._data = bytearray()
        self._scanned = 0  # bytes already searched for CRLF without finding one
        self._discarding = False

    def __len__(self) -> int:
        return len(self._data)

    def feed(self, data: bytes) -> None:
        self._data += data

    def next_line(self) -> bytes | LineTooLong | None:
        """The next complete line without its CRLF, LINE_TOO_LONG, or None when none is
        complete yet."""
        while True:
            end = self._data.find(b"\r\n", max(0, self._scanned - 1))
            if end < 0:
                return self._partial()
            del_to, self._scanned = end + 2, 0
            if self._discarding:
                self._discarding = False
                del self._data[:del_to]
                continue
            if end > self.max_length:
                del self._data[:del_to]
                return LINE_TOO_LONG
            line = bytes(self._data[:end])
            del self._data[:del_to]
            return line

    def _partial(self) -> LineTooLong | None:
        # A trailing CR may be the first half of a CRLF: keep it so the next feed finds it.
        keep = 1 if self._data.endswith(b"\r") else 0
        if self._discarding:
            del self._data[: len(self._data) - keep]
        elif len(self._data) - keep > self.max_length:
            del self._data[: len(self._data) - keep]
            self._discarding = True
            self._scanned = keep
            return LINE_TOO_LONG
        self._scanned = len(self._data)
        return None


@dataclass
class Envelope:
    """One mail transaction: MAIL FROM, RCPT TOs."""

    sender: str | None = None  # "" is the null reverse-path <>
    recipients: list[str] = field(default_factory=list)


@dataclass
class Session:
    """Per-connection state that outlives a transaction."""

    peer: str
    helo: str | None = None
    user: str | None = None  # the authenticated user's name
    envelope: Envelope = field(default_factory=Envelope)

    def reset(self) -> None:
        self.envelope = Envelope()


class Arguments(enum.Enum):
    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


def _no_transaction(session: Session) -> Reply | None:
    return replies.NESTED_MAIL if session.envelope.sender is not None else None


def _has_sender(session: Session) -> Reply | None:
    return replies.NEED_MAIL if session.envelope.sender is None else None


def _has_recipients(session: Session) -> Reply | None:
    if session.envelope.sender is None:
        return replies.NEED_MAIL_BEFORE_DATA
    return replies.NEED_RCPT if not session.envelope.recipients else None


def _may_authenticate(session: Session) -> Reply | None:
    if session.user is not None:
        return replies.ALREADY_AUTHENTICATED
    return replies.AUTH_IN_TRANSACTION if session.envelope.sender is not None else None


def _always(session: Session) -> Reply | None:
    return None


@dataclass(frozen=True)
class Command:
    """A row of the command table: the dispatcher checks `arguments` and `precondition`
    before the handler `smtp_<verb>` runs."""

    verb: str
    arguments: Arguments
    precondition: Callable[[Session], Reply | None] = _always
    syntax: Reply | None = None  # the answer to a wrong argument count

    def refusal(self, session: Session, argument: bytes) -> Reply | None:
        """Why the command may not run now, or None."""
        if self.arguments is Arguments.NONE and argument:
            return self.syntax or replies.NO_ARGUMENTS
        if self.arguments is Arguments.REQUIRED and not argument:
            return self.syntax or replies.ARGUMENT_REQUIRED
        return self.precondition(session)


COMMANDS: dict[bytes, Command] = {
    c.verb.encode("ascii"): c
    for c in (
        Command("EHLO", Arguments.REQUIRED, syntax=replies.EHLO_SYNTAX),
        Command("HELO", Arguments.REQUIRED, syntax=replies.HELO_SYNTAX),
        Command("MAIL", Arguments.REQUIRED, _no_transaction, replies.MAIL_SYNTAX),
        Command("RCPT", Arguments.REQUIRED, _has_sender, replies.RCPT_SYNTAX),
        Command("DATA", Arguments.NONE, _has_recipients),
        Command("RSET", Arguments.NONE),
        Command("NOOP", Arguments.OPTIONAL),
        Command("QUIT", Arguments.NONE),
        Command("HELP", Arguments.OPTIONAL),
        Command("VRFY", Arguments.REQUIRED),
        Command("AUTH", Arguments.REQUIRED, _may_authenticate, replies.AUTH_SYNTAX),
    )
}


def split_command(line: bytes) -> tuple[bytes, bytes]:
    """`b"mail  FROM:<a@b> "` -> (b"MAIL", b"FROM:<a@b>")."""
    parts = line.strip().split(None, 1)
    if not parts:
        return b"", b""
    return parts[0].upper(), (parts[1].strip() if len(parts) > 1 else b"")


class DataReader:
    """Collects DATA lines: dot-unstuffs, re-joins with CRLF, stops at the lone `.`.
    After a failure (too big, line too long) the rest is read and discarded."""

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.failure: Reply | None = None
        self._data = bytearray()

    def feed(self, line: bytes) -> bool:
        """Take one line (without CRLF); True when it was the terminating `.`."""
        if line == b".":
            return True
        if self.failure is None:
            if line.startswith(b"."):
                line = line[1:]
            if len(self._data) + len(line) + 2 > self.max_bytes:
                self.fail(replies.MESSAGE_TOO_BIG)
            else:
                self._data += line
                self._data += b"\r\n"
        return False

    def fail(self, reply: Reply) -> None:
        if self.failure is None:
            self.failure = reply
        self._data = bytearray()

    def message(self) -> bytes:
        return bytes(self._data)
