"""Records one SMTP connection's exchange for its transcripts (elektromail.transcripts).

Every command line in and every reply out is one append of (time, direction, bytes): ingest
speed matters, so the text work waits until a transcript is stored (once per delivered message)
or read. Secrets never get in: the server records SASL responses and AUTH initial responses as
redacted, and the message data as its size. The transactions are cut out of the stream as they
end: each one gets the session's preamble (greeting, EHLO, STARTTLS, AUTH: what came before the
first MAIL), the lines since the last transaction, and its own lines.
"""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic, time

from elektromail.smtp.session import Session
from elektromail.transcripts import (
    ACCEPTED,
    CLIENT,
    DATA_DISCARDED,
    DATA_KEPT,
    MAX_LINES,
    MAX_LONG_OCTETS,
    NOTE,
    REFUSED,
    SERVER,
    SHORT_LINE,
    Entry,
    Facts,
    Ring,
    encode,
    shorten,
    text_of,
)

# Where the recorder is in a transaction: none open, MAIL's reply awaited, open, the reply
# after the data awaited. The reply a state > OPEN waits for decides the transaction.
IDLE, OPEN, MAIL_SENT, DATA_SENT = 0, 1, 2, 3

REDACTED_SASL = b"<SASL response redacted>"
# A session's log starts over (keeping its preamble) once it holds this many lines of finished
# transactions.
SEGMENT = 2000
LINE_TOO_LONG = b"<command line over the length limit, discarded>"

TLSFacts = Callable[[], "tuple[str, str] | None"]


class Recorder:
    """The lines of one connection, in one list of (time, direction, text) entries, and the
    transactions cut out of it as index ranges, fed to `ring` as they end (accepted or
    refused). The server calls `client` and `server` for every line; the rest is per
    transaction."""

    def __init__(self, ring: Ring, host: str, port: int | None, session: Session) -> None:
        self.ring = ring
        self.facts = Facts(time(), monotonic(), host, port)
        self.session = session  # the server sets a new one after STARTTLS
        self.tls: tuple[str, str] | None = None
        self.tls_source: TLSFacts | None = None  # asked once TLS is up (the handshake done)
        self.auth: tuple[str, str] | None = None
        self.dirty = False  # the facts changed (HELO, TLS, AUTH): made anew when next needed
        self.log: list[Entry] = []
        self.pre_end = -1  # where the preamble ends in the log, from the first MAIL on
        self.tx_start = 0  # where the current part (a transaction and its lead-in) begins
        self.limit = MAX_LINES  # the log's length at which the current part is full
        self.cut = 0  # lines of the current part not kept
        self.pre_cut = 0  # and of the preamble
        self.long_octets = 0  # of the current part's long lines
        self.state = IDLE
        self.size: int | None = None
        self.transactions = 0

    # --- the hot path: one append per line ---------------------------------------------------

    def client(self, line: bytes) -> None:
        log = self.log
        if len(log) < self.limit and len(line) <= SHORT_LINE:
            log.append((monotonic(), CLIENT, line))
        else:
            self._add_long(CLIENT, line)

    def server(self, data: bytes) -> None:
        log = self.log
        if len(log) < self.limit and len(data) <= SHORT_LINE:
            log.append((monotonic(), SERVER, data))
        else:
            self._add_long(SERVER, data)
        if self.state > OPEN:
            self._replied(data)

    def _add_long(self, direction: int, text: bytes) -> None:
        if len(self.log) >= self.limit or self.long_octets >= MAX_LONG_OCTETS:
            self.cut += 1
            return
        text = shorten(text)
        self.long_octets += len(text)
        self.log.append((monotonic(), direction, text))

    # --- what the server tells ---------------------------------------------------------------

    def note(self, text: bytes) -> None:
        self._add_long(NOTE, text)

    def redacted(self) -> None:
        """A SASL response line: recorded without its content."""
        self.client(REDACTED_SASL)

    def tls_started(self, source: TLSFacts) -> None:
        """TLS is (being) set up: what it negotiated is read when a transcript is made (the
        handshake is done by then). What was learnt before TLS is forgotten."""
        self.tls_source = source
        self.auth = None
        self.dirty = True

    def authenticated(self, mechanism: str, user: str) -> None:
        self.auth = (mechanism, user)
        self.dirty = True

    def greeted(self) -> None:
        """HELO or EHLO (the last client line): it ends an open transaction, and the name
        given is read from the session when next needed."""
        self.abandon("the client greeted again (HELO/EHLO)", carry_last=True)
        self.dirty = True

    def begin(self) -> None:
        """A MAIL command (about to be recorded) starts a transaction, unless one is open."""
        if self.state != IDLE:
            return
        if self.pre_end < 0:  # the first: what came before is the preamble
            self.pre_end = self.tx_start = len(self.log)
            self.pre_cut, self.cut = self.cut, 0
            self.limit = self.tx_start + MAX_LINES
            self.long_octets = 0
        # else the lines since the last transaction lead into this one
        self.state = MAIL_SENT
        self.size = None

    def data(self, octets: int, kept: bool = True) -> None:
        """The message data came (`octets` of it): its size stands in for it."""
        self.chunk(octets, kept)
        self.size = octets
        self.state = DATA_SENT

    def chunk(self, octets: int, kept: bool = True) -> None:
        """A BDAT chunk came (`octets` of it): its size stands in for it, as for DATA."""
        log = self.log
        if len(log) < self.limit:
            log.append((monotonic(), DATA_KEPT if kept else DATA_DISCARDED, octets))
        else:
            self.cut += 1

    def chunks_done(self, octets: int, kept: bool = True) -> None:
        """BDAT LAST ended the transaction's chunks (`octets` in all): the next reply decides
        it, as the reply after DATA's dot does."""
        if self.state == IDLE:
            return
        self.size = octets
        self.state = DATA_SENT

    def stored_form(self, reply: bytes) -> bytes:
        """The transcript kept with the message, ending with `reply` (the 250 the client gets
        once the message is stored; the store keeps both in one commit)."""
        log = self.log
        return encode(
            self._facts().stored(),
            self.size,
            self.pre_cut + self.cut,
            log[: self.pre_end],
            log[self.tx_start :],
            (monotonic(), SERVER, reply),
        )

    def abandon(self, why: str, carry_last: bool = False) -> None:
        """The client ended the open transaction (RSET, a new EHLO, QUIT). With `carry_last`,
        the last client line (the one that ended it) goes to what comes next."""
        if self.state == IDLE:
            return
        log = self.log
        carry = 1 if carry_last and log and log[-1][1] == CLIENT else 0
        self._end(REFUSED, self._with_last_refusal(why), carry)

    def closed(self, during: str = "") -> None:
        """The connection is gone: an open transaction is refused (`during`: what was being
        read, "DATA" or "a BDAT chunk"); a session that sent commands but began no transaction
        is kept too (a refused AUTH, say)."""
        if self.state != IDLE:
            why = "the connection closed " + (f"during {during}" if during else "mid-transaction")
            self._end(REFUSED, self._with_last_refusal(why))
        elif self.pre_end < 0 and any(entry[1] == CLIENT for entry in self.log):
            why = self._with_last_refusal("the session ended with no mail transaction")
            log = self.log
            self.ring.add((self._facts(), log, 0, 0, len(log), self.cut, None, REFUSED, why))

    # --- inside ------------------------------------------------------------------------------

    def _facts(self) -> Facts:
        """The session's facts now, TLS's learnt if it was not yet."""
        if not self.dirty:
            return self.facts
        self.dirty = False
        if self.tls_source is not None:
            source, self.tls_source = self.tls_source, None
            try:
                self.tls = source()
            except Exception:  # the facts are for show; the session goes on without them
                self.tls = None
        f, session = self.facts, self.session
        self.facts = Facts(
            f.started, f.t0, f.host, f.port, session.helo, session.esmtp, self.tls, self.auth
        )
        return self.facts

    def _replied(self, data: bytes) -> None:
        accepted = data[:1] == b"2"
        if self.state == MAIL_SENT:
            if accepted:
                self.state = OPEN
            else:
                self._end(REFUSED, _first_line(data))
        elif accepted:
            self._end(ACCEPTED, None)
        else:
            self._end(REFUSED, _first_line(data))

    def _end(self, outcome: str, reason: str | None, carry: int = 0) -> None:
        log = self.log
        end = len(log) - carry
        pre_end = self.pre_end if self.pre_end > 0 else 0
        cut = self.pre_cut + self.cut
        self.ring.add(
            (self._facts(), log, pre_end, self.tx_start, end, cut, self.size, outcome, reason)
        )
        if end - pre_end > SEGMENT:
            # a long session: go on in a new list with the preamble, so that the ring keeps
            # alive only the lines its transactions need
            self.log = log[:pre_end] + log[end:]
            end = pre_end
        self.tx_start = end
        self.limit = end + MAX_LINES
        self.cut = 0
        self.long_octets = 0
        self.state = IDLE
        self.transactions += 1

    def _with_last_refusal(self, why: str) -> str:
        log = self.log
        for i in range(len(log) - 1, self.tx_start - 1, -1):
            _, direction, text = log[i]
            if direction == SERVER and text[:1] in (b"4", b"5"):
                return f"{why}, after {_first_line(text)}"
        return why


class NoRecorder:
    """What records when transcripts are off (`--smtp-transcripts 0`): nothing."""

    session: Session | None = None

    def client(self, line: bytes) -> None:
        pass

    def server(self, data: bytes) -> None:
        pass

    def note(self, text: bytes) -> None:
        pass

    def redacted(self) -> None:
        pass

    def begin(self) -> None:
        pass

    def greeted(self) -> None:
        pass

    def abandon(self, why: str, carry_last: bool = False) -> None:
        pass

    def authenticated(self, mechanism: str, user: str) -> None:
        pass

    def tls_started(self, source: TLSFacts) -> None:
        pass

    def closed(self, during: str = "") -> None:
        pass

    def data(self, octets: int, kept: bool = True) -> None:
        pass

    def chunk(self, octets: int, kept: bool = True) -> None:
        pass

    def chunks_done(self, octets: int, kept: bool = True) -> None:
        pass

    def stored_form(self, reply: bytes) -> bytes | None:
        return None


NO_RECORDER = NoRecorder()


_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def guarded(line: bytes, auth: bool) -> bytes:
    """A command line as it may be recorded: AUTH without its initial response (whether or
    not the command is then refused), and an unknown command that looks like a base64 SASL
    response (a client still answering an exchange the server ended) without its content."""
    if auth:
        words = line.split(None, 2)
        if len(words) > 2:
            return words[0] + b" " + words[1] + b" <initial response redacted>"
        return line
    stripped = line.strip()
    if len(stripped) >= 8 and set(stripped) <= _BASE64:
        return b"<unrecognised line that looks like base64, redacted>"
    return line


def _first_line(data: bytes) -> str:
    return text_of(data.split(b"\r\n", 1)[0])


def tls_facts(transport: object) -> tuple[str, str] | None:
    """(protocol version, cipher) of a TLS connection: on the TLS protocol wrapper of a
    STARTTLS transport, or on the implicit-TLS transport itself."""
    for candidate in (transport, getattr(transport, "protocol", None)):
        connection = getattr(candidate, "_tlsConnection", None)
        if connection is not None:
            version = connection.get_protocol_version_name()
            cipher = connection.get_cipher_name()
            if version and cipher:
                return str(version), str(cipher)
    return None
