"""The SMTP session as pure code: line splitting, the verb table with its preconditions,
session and envelope state, the DATA reader and the BDAT chunk reader (RFC 3030). No sockets,
no reactor.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from elektromail.rules import Rule
from elektromail.smtp import replies
from elektromail.smtp.params import MailArguments, RcptArguments
from elektromail.smtp.replies import Reply

# RFC 5321 asks for at least 512 octets per command line; real clients send longer ones (Twisted
# allows 16384), so the limit is generous but finite. Message lines are only limited by the
# message size: applications do send single-line HTML far over RFC 5321's 1000 octets.
MAX_LINE_LENGTH = 16384


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
        self.skipped = 0  # octets the last `take_raw(keep=False)` dropped

    def __len__(self) -> int:
        return len(self._data)

    def feed(self, data: bytes) -> None:
        self._data += data

    def next_line(self) -> bytes | LineTooLong | None:
        """The next complete line without its CRLF, LINE_TOO_LONG, or None when none is
        complete yet."""
        while True:
            # from the last CR scanned (`max(0, scanned - 1)`, spelled out: the builtin costs
            # more than the find of a short line)
            scanned = self._scanned
            end = self._data.find(b"\r\n", scanned - 1 if scanned else 0)
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

    def take_raw(self, count: int, keep: bool = True) -> bytes:
        """For a BDAT chunk: up to `count` octets from the front, whatever they are (no line
        ends looked for, no dots). With `keep` false they are dropped and b"" is returned."""
        data = self._data
        self._scanned = 0
        if not keep:
            taken = min(count, len(data))
            del data[:taken]
            self.skipped = taken
            return b""
        piece = bytes(data[:count])
        del data[:count]
        return piece

    def take_data(self, max_line: int) -> tuple[bytes, bool, bool]:
        """For DATA, whole lines at once: (the complete lines at the front, dot-stuffed and with
        their CRLFs; whether the end-of-data line `.` followed them (it is consumed); whether a
        line longer than `max_line` was dropped). An incomplete last line stays buffered."""
        data = self._data
        # What an earlier call left is one incomplete line: no CRLF in it but for a CR at its
        # end. Searching from there keeps a long line linear, not quadratic, in its length.
        start = self._scanned - 1 if self._scanned else 0
        self._scanned = 0
        overflow = False
        if self._discarding:  # inside an over-long line: drop it up to its CRLF
            end = data.find(b"\r\n")
            if end < 0:
                del data[: len(data) - (1 if data.endswith(b"\r") else 0)]
                return b"", False, False
            del data[: end + 2]
            self._discarding = False
            start = 0
        if data.startswith(b".\r\n"):
            del data[:3]
            return b"", True, False
        end = data.find(b"\r\n.\r\n", start)
        if end >= 0:
            chunk = bytes(data[: end + 2])
            del data[: end + 5]
            return chunk, True, False
        last = data.rfind(b"\r\n", start)
        last = 0 if last < 0 else last + 2  # the end of the last complete line
        chunk = bytes(data[:last])
        del data[:last]
        if len(data) > max_line + 1:  # +1: the CR of a CRLF still to come
            del data[: len(data) - (1 if data.endswith(b"\r") else 0)]
            self._discarding = overflow = True
        else:
            self._scanned = len(data)
        return chunk, False, overflow


@dataclass(frozen=True, slots=True)
class Recipient:
    """One accepted RCPT TO: its arguments and the delivery rule that decides its fate."""

    arguments: RcptArguments
    rule: Rule | None = None

    @property
    def address(self) -> str:
        return self.arguments.recipient


@dataclass
class Chunks:
    """The BDAT chunks of one transaction so far. Once one fails (too big, out of sequence,
    malformed) the transaction has failed: `failure` says why, nothing more is kept, and later
    chunks are read and discarded until BDAT LAST or RSET (RFC 3030 §2, as Postfix does)."""

    data: bytearray = field(default_factory=bytearray)
    octets: int = 0  # received, kept or not
    failure: Reply | None = None

    def fail(self, reply: Reply) -> None:
        if self.failure is None:
            self.failure = reply
        self.data = bytearray()


@dataclass
class Envelope:
    """One mail transaction: MAIL FROM with its parameters, the accepted RCPT TOs."""

    mail: MailArguments | None = None
    recipients: list[Recipient] = field(default_factory=list)
    transcript: bytes | None = None  # the stored form of its SMTP transcript, once DATA is in
    chunks: Chunks | None = None  # from the first BDAT on (RFC 3030 §2)

    @property
    def sender(self) -> str | None:
        """The reverse-path ("" for <>), or None before MAIL."""
        return None if self.mail is None else self.mail.sender

    @property
    def addresses(self) -> list[str]:
        return [r.address for r in self.recipients]


@dataclass
class Session:
    """Per-connection state that outlives a transaction."""

    peer: str
    tls: bool = False  # STARTTLS done, or the implicit-TLS port
    require_auth: bool = False  # the setting: MAIL only after AUTH
    helo: str | None = None
    esmtp: bool = False  # greeted with EHLO rather than HELO
    user: str | None = None  # the authenticated user's name
    envelope: Envelope = field(default_factory=Envelope)

    def reset(self) -> None:
        self.envelope = Envelope()


class Arguments(enum.Enum):
    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


def _may_mail(session: Session) -> Reply | None:
    if session.envelope.sender is not None:
        return replies.NESTED_MAIL
    return replies.AUTH_REQUIRED if session.require_auth and session.user is None else None


def _no_tls(session: Session) -> Reply | None:
    return replies.TLS_ACTIVE if session.tls else None


def _has_sender(session: Session) -> Reply | None:
    return replies.NEED_MAIL if session.envelope.sender is None else None


def _has_recipients(session: Session) -> Reply | None:
    if session.envelope.sender is None:
        return replies.NEED_MAIL_BEFORE_DATA
    return replies.NEED_RCPT if not session.envelope.recipients else None


def _may_data(session: Session) -> Reply | None:
    envelope = session.envelope
    if envelope.chunks is not None:  # RFC 3030 §2: no DATA and BDAT in one transaction
        return replies.DATA_AFTER_BDAT
    refusal = _has_recipients(session)
    if refusal is None and envelope.mail is not None and envelope.mail.body == "BINARYMIME":
        return replies.BINARYMIME_NEEDS_BDAT  # RFC 3030 §3
    return refusal


def _may_authenticate(session: Session) -> Reply | None:
    if session.user is not None:
        return replies.ALREADY_AUTHENTICATED
    return replies.AUTH_IN_TRANSACTION if session.envelope.sender is not None else None


def _always(session: Session) -> Reply | None:
    return None


@dataclass(frozen=True)
class Verb:
    """A row of the verb table: the dispatcher checks `arguments` and `precondition`
    before the handler `smtp_<name>` runs."""

    name: str
    arguments: Arguments
    precondition: Callable[[Session], Reply | None] = _always
    syntax: Reply | None = None  # the answer to a wrong argument count
    handler: str = field(init=False)  # "smtp_<name>", made once rather than per command

    def __post_init__(self) -> None:
        object.__setattr__(self, "handler", "smtp_" + self.name)

    def refusal(self, session: Session, argument: bytes) -> Reply | None:
        """Why the command may not run now, or None."""
        if self.arguments is Arguments.NONE and argument:
            return self.syntax or replies.NO_ARGUMENTS
        if self.arguments is Arguments.REQUIRED and not argument:
            return self.syntax or replies.ARGUMENT_REQUIRED
        return self.precondition(session)


VERBS: dict[bytes, Verb] = {
    v.name.encode("ascii"): v
    for v in (
        Verb("EHLO", Arguments.REQUIRED, syntax=replies.EHLO_SYNTAX),
        Verb("HELO", Arguments.REQUIRED, syntax=replies.HELO_SYNTAX),
        Verb("MAIL", Arguments.REQUIRED, _may_mail, replies.MAIL_SYNTAX),
        Verb("RCPT", Arguments.REQUIRED, _has_sender, replies.RCPT_SYNTAX),
        Verb("DATA", Arguments.NONE, _may_data),
        # BDAT checks its own arguments and state: its chunk is read even when it is refused
        Verb("BDAT", Arguments.OPTIONAL),
        Verb("RSET", Arguments.NONE),
        Verb("NOOP", Arguments.OPTIONAL),
        Verb("QUIT", Arguments.NONE),
        Verb("HELP", Arguments.OPTIONAL),
        Verb("VRFY", Arguments.REQUIRED),
        Verb("AUTH", Arguments.REQUIRED, _may_authenticate, replies.AUTH_SYNTAX),
        Verb("STARTTLS", Arguments.NONE, _no_tls),
    )
}


def split_command(line: bytes) -> tuple[bytes, bytes]:
    """`b"mail  FROM:<a@b> "` -> (b"MAIL", b"FROM:<a@b>")."""
    parts = line.strip().split(None, 1)
    if not parts:
        return b"", b""
    return parts[0].upper(), (parts[1].strip() if len(parts) > 1 else b"")


class DataReader:
    """Collects the message after DATA from a LineBuffer: dot-unstuffs (RFC 5321 §4.5.2) and
    stops at the lone `.`. After a failure (too big) the rest is read and discarded as it
    streams, so memory stays bounded."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.failure: Reply | None = None
        self.octets = 0  # of message data received, kept or not
        self._data = bytearray()

    def take(self, buffer: LineBuffer) -> bool:
        """Take what the buffer holds of the message; True once the terminating `.` is read."""
        chunk, done, overflow = buffer.take_data(self.max_bytes)
        if overflow:
            self.fail(replies.MESSAGE_TOO_BIG)
        self.octets += len(chunk)
        if chunk and self.failure is None:
            if chunk.startswith(b"."):
                chunk = chunk[1:]
            chunk = chunk.replace(b"\r\n.", b"\r\n")
            if len(self._data) + len(chunk) > self.max_bytes:
                self.fail(replies.MESSAGE_TOO_BIG)
            else:
                self._data += chunk
        return done

    def fail(self, reply: Reply) -> None:
        if self.failure is None:
            self.failure = reply
        self._data = bytearray()

    def message(self) -> bytes:
        return bytes(self._data)


class ChunkReader:
    """Reads one BDAT chunk, exactly `size` octets, from a LineBuffer into `sink` (the
    transaction's chunks), or drops them as they stream when `sink` is None (a refused chunk:
    RFC 3030 §2, the data is read and discarded before the reply)."""

    def __init__(self, size: int, sink: bytearray | None) -> None:
        self.size = size
        self.remaining = size
        self.sink = sink
        self.failure: Reply | None = None

    def take(self, buffer: LineBuffer) -> bool:
        """Take what the buffer holds of the chunk; True once all of it is read."""
        if self.remaining:
            if self.sink is None:
                buffer.take_raw(self.remaining, keep=False)
                self.remaining -= buffer.skipped
            else:
                piece = buffer.take_raw(self.remaining)
                self.remaining -= len(piece)
                self.sink += piece
        return not self.remaining

    def fail(self, reply: Reply) -> None:
        if self.failure is None:
            self.failure = reply
        self.sink = None
