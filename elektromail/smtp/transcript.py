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
    NOTE,
    REFUSED,
    SERVER,
    Facts,
    Part,
    Ring,
    Transcript,
    encode,
    text_of,
)

# Where the recorder is in a transaction: none open, MAIL's reply awaited, open, the reply
# after the data awaited. The reply a state > OPEN waits for decides the transaction.
IDLE, OPEN, MAIL_SENT, DATA_SENT = 0, 1, 2, 3

REDACTED_SASL = b"<SASL response redacted>"
LINE_TOO_LONG = b"<command line over the length limit, discarded>"

TLSFacts = Callable[[], "tuple[str, str] | None"]


class Recorder:
    """The lines of one connection, and the transactions made of them, fed to `ring` as they
    end (accepted or refused). `add(direction, text)` is the current part's: the server calls
    it for client lines, `server` for its replies."""

    def __init__(self, ring: Ring, host: str, port: int | None, session: Session) -> None:
        self.ring = ring
        self.facts = Facts(time(), monotonic(), host, port)
        self.session = session  # the server sets a new one after STARTTLS
        self.tls: tuple[str, str] | None = None
        self.tls_source: TLSFacts | None = None  # asked once TLS is up (the handshake done)
        self.auth: tuple[str, str] | None = None
        self.preamble: Part | None = None  # what came before the first MAIL, once it came
        self._use(Part())  # where lines go now: the open transaction's, or the ones between
        self.state = IDLE
        self.size: int | None = None
        self.transactions = 0
        self._facts_json: tuple[Facts, bytes] | None = None  # the facts and their JSON
        self._merged: tuple | None = None  # what stored_form made, for the ring's copy

    def _use(self, part: Part) -> None:
        self.part = part
        self.add = part.add

    # --- the hot path: one append per line ---------------------------------------------------

    def server(self, data: bytes) -> None:
        self.add(SERVER, data)
        if self.state > OPEN:
            self._replied(data)

    # --- what the server tells ---------------------------------------------------------------

    def note(self, text: bytes) -> None:
        self.add(NOTE, text)

    def redacted(self) -> None:
        """A SASL response line: recorded without its content."""
        self.add(CLIENT, REDACTED_SASL)

    def redact_last(self, text: bytes) -> None:
        """Replace the last client line (an AUTH command with an initial response)."""
        part = self.part
        for i in range(len(part.dirs) - 1, -1, -1):
            if part.dirs[i] == CLIENT:
                part.octets += len(text) - len(part.texts[i])
                part.texts[i] = text
                return

    def tls_started(self, source: TLSFacts) -> None:
        """TLS is (being) set up: what it negotiated is read when a transcript is made (the
        handshake is done by then). What was learnt before TLS is forgotten."""
        self.tls_source = source
        self.auth = None

    def authenticated(self, mechanism: str, user: str) -> None:
        self.auth = (mechanism, user)

    def begin(self) -> None:
        """A MAIL command (about to be recorded) starts a transaction, unless one is open."""
        if self.state != IDLE:
            return
        if self.preamble is None:
            self.preamble = self.part
            self._use(Part())
        # else the lines since the last transaction lead into this one
        self.state = MAIL_SENT
        self.size = None

    def data(self, octets: int, kept: bool = True) -> None:
        """The message data came (`octets` of it): its size stands in for it."""
        if kept:
            self.add(NOTE, b"<%d octets of message data>" % octets)
        else:
            self.add(NOTE, b"<%d octets of message data, discarded>" % octets)
        self.size = octets
        self.state = DATA_SENT

    def stored_form(self, reply: bytes) -> bytes:
        """The transcript kept with the message, ending with `reply` (the 250 the client gets
        once the message is stored; the store keeps both in one commit)."""
        part, preamble = self.part, self.preamble
        if preamble is None or not preamble.texts:
            texts, times, dirs = [*part.texts, reply], part.times[:], part.dirs + b"\x01"
        else:
            texts = preamble.texts + part.texts
            texts.append(reply)
            times = preamble.times + part.times
            dirs = preamble.dirs + part.dirs + b"\x01"
        times.append(monotonic())
        cut = part.cut + (preamble.cut if preamble is not None else 0)
        # the ring's copy reuses these lists, with the reply's real time (see _end)
        self._merged = (texts, times, dirs, cut, len(part.texts))
        return encode(self._facts_encoded(), texts, times, dirs, self.size, cut)

    def abandon(self, why: str, carry_last: bool = False) -> None:
        """The client ended the open transaction (RSET, a new EHLO, QUIT). With `carry_last`,
        the last client line (the one that ended it) goes to what comes next."""
        if self.state == IDLE:
            return
        carried = self.part.pop() if carry_last else None
        self._end(REFUSED, self._with_last_refusal(why))
        if carried is not None:
            self.part.put(carried)

    def closed(self, during_data: bool) -> None:
        """The connection is gone: an open transaction is refused; a session that sent
        commands but began no transaction is kept too (a refused AUTH, say)."""
        if self.state != IDLE:
            why = "the connection closed " + ("during DATA" if during_data else "mid-transaction")
            self._end(REFUSED, self._with_last_refusal(why))
        elif self.preamble is None and CLIENT in self.part.dirs:
            why = self._with_last_refusal("the session ended with no mail transaction")
            part = self.part
            self.ring.add(
                Transcript(
                    self._facts(),
                    part.texts,
                    part.times,
                    part.dirs,
                    part.cut,
                    None,
                    REFUSED,
                    why,
                )
            )

    # --- inside ------------------------------------------------------------------------------

    def _facts(self) -> Facts:
        """The session's facts now, TLS's learnt if it was not yet."""
        if self.tls_source is not None:
            source, self.tls_source = self.tls_source, None
            try:
                self.tls = source()
            except Exception:  # the facts are for show; the session goes on without them
                self.tls = None
        f, session = self.facts, self.session
        if (
            f.helo is not session.helo
            or f.esmtp is not session.esmtp
            or f.tls is not self.tls
            or f.auth is not self.auth
        ):
            f = self.facts = Facts(
                f.started, f.t0, f.host, f.port, session.helo, session.esmtp, self.tls, self.auth
            )
        return f

    def _facts_encoded(self) -> bytes:
        facts = self._facts()
        cached = self._facts_json
        if cached is None or cached[0] is not facts:
            cached = self._facts_json = (facts, facts.to_json())
        return cached[1]

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

    def _end(self, outcome: str, reason: str | None) -> None:
        part, preamble = self.part, self.preamble
        merged, self._merged = self._merged, None
        if merged is not None and outcome == ACCEPTED and len(part.texts) == merged[4] + 1:
            texts, times, dirs, cut, _ = merged  # stored_form's, and the reply as sent
            times[-1] = part.times[-1]
        elif preamble is None or preamble is part or not preamble.texts:
            texts, times, dirs, cut = part.texts, part.times, part.dirs, part.cut
        else:
            texts = preamble.texts + part.texts
            times = preamble.times + part.times
            dirs = preamble.dirs + part.dirs
            cut = preamble.cut + part.cut
        self.ring.add(
            Transcript(self._facts(), texts, times, dirs, cut, self.size, outcome, reason)
        )
        self._use(Part())
        self.state = IDLE
        self.transactions += 1

    def _with_last_refusal(self, why: str) -> str:
        part = self.part
        for i in range(len(part.dirs) - 1, -1, -1):
            text = part.texts[i]
            if part.dirs[i] == SERVER and text[:1] in (b"4", b"5"):
                return f"{why}, after {_first_line(text)}"
        return why


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
