"""The SMTP listener: an ESMTP protocol that moves lines between the socket and the pure session
(`session.py`, `params.py`, `sasl.py`), owns STARTTLS, and carries out what the policy hooks
(`policy.py`: delivery rules, delivery) decide; and its factory.

The server calls itself "localhost": `socket.getfqdn()` can block start-up on DNS, and the bind
address (often 0.0.0.0) is no name at all. Clients only show it; nothing routes by it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import partial
from time import perf_counter
from typing import TypeVar

from twisted.internet import protocol
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IHalfCloseableProtocol,
    ITCPTransport,
    ITLSTransport,
)
from twisted.logger import Logger
from twisted.mail import smtp
from twisted.python.failure import Failure
from zope.interface import implementer

from elektromail import oauth
from elektromail.admission import Connections
from elektromail.config import Settings
from elektromail.metrics import UNKNOWN, Metrics
from elektromail.postoffice import PostOffice
from elektromail.smtp import params, replies, sasl
from elektromail.smtp.policy import Decision, DeliveryPolicy
from elektromail.smtp.replies import Reply
from elektromail.smtp.session import (
    VERBS,
    ChunkReader,
    Chunks,
    DataReader,
    Envelope,
    LineBuffer,
    LineTooLong,
    Session,
    split_command,
)
from elektromail.smtp.transcript import (
    LINE_TOO_LONG,
    NO_RECORDER,
    NoRecorder,
    Recorder,
    guarded,
    tls_facts,
)
from elektromail.store.errors import StoreUnavailable
from elektromail.tcp import quick_ack, write_now
from elektromail.tls import TLSMaterial, tls_failed

log = Logger()

K = TypeVar("K")
V = TypeVar("V")

HOSTNAME = "localhost"
# Stop reading from a client whose unprocessed input (pipelined behind a pending delivery or
# login) grows past this; reading resumes once the backlog is worked off.
PAUSE_READING_BYTES = 256 * 1024

_SASL_REPLIES: dict[type[sasl.SASLError], Reply] = {
    sasl.Cancelled: replies.AUTH_CANCELLED,
    sasl.BadBase64: replies.AUTH_BAD_BASE64,
    sasl.Malformed: replies.AUTH_MALFORMED,
}

Handled = Deferred[None] | None  # a handler's result: a Deferred holds back later commands

# The session of a connection refused at the greeting (too many open), which runs no command.
_UNCONNECTED = Session(peer="")
_MAIL = VERBS[b"MAIL"]
_AUTH = VERBS[b"AUTH"]


def address_literal(address: IAddress) -> str:
    """The peer as an RFC 5321 address literal: `[127.0.0.1]`, `[IPv6:::1]`."""
    host = getattr(address, "host", None)
    if host is None:
        return str(address)
    return f"[IPv6:{host}]" if ":" in host else f"[{host}]"


@implementer(IHalfCloseableProtocol)
class SMTPServer(smtp.ESMTP):
    """One SMTP connection.

    Subclasses Twisted's ESMTP for its place in twisted.mail (TimeoutMixin, `callLater`) but
    runs its own command loop: Twisted's replies lack enhanced status codes, its DATA adds
    headers, a malformed AUTH raises out of dataReceived, and it breaks pipelining once a
    command waits on a Deferred. Here each handler may return a Deferred and later lines wait
    in the buffer until it fires, so PIPELINING is safe to advertise.
    """

    factory: SMTPFactory

    def __init__(self) -> None:
        super().__init__()
        self.hostname = HOSTNAME
        self.session = _UNCONNECTED  # replaced in connectionMade, unless the connection is refused
        self._lines = LineBuffer()
        self._pending: Deferred[None] | None = None
        self._dispatching = False
        self._reading_paused = False
        self._closed = False
        self._closing = False  # said goodbye; see _close
        self._input_ended = False  # the client shut down its sending side: readConnectionLost
        self._reader: DataReader | ChunkReader | None = None
        self._read_done: Callable[[], Handled] = self._end_of_data  # what ends the reader's read
        self._continuation: Callable[[bytes], Handled] | None = None
        self._delays: set[IDelayedCall] = set()
        # The peer as an address literal, from the address the listener built this protocol
        # for (the same as getPeer's, which makes a new address object per call).
        self.peer_literal: str | None = None
        self.peer_host = ""
        self.peer_port: int | None = None
        self.recorder: Recorder | NoRecorder = NO_RECORDER
        # GET /metrics: the command whose answer waits on a Deferred, and when it started;
        # when the transaction's MAIL came
        self._timing: tuple[str, float] | None = None
        self._mail_at = 0.0

    # --- connection ---------------------------------------------------------------------

    def connectionMade(self) -> None:
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)
        self.hostname = self.host = self.factory.hostname
        self.timeout = self.factory.settings.smtp_timeout
        if not self.factory.connections.admit(self):
            # RFC 5321 §3.8: 421 instead of the greeting, then close.
            self._closed = True
            self.reply(replies.TOO_MANY_CONNECTIONS)
            self._close()
            return
        self.session = self._new_session(tls=self.factory.implicit_tls)
        if self.peer_port is None:
            self._learn_peer(self.transport.getPeer())
        if self.factory.settings.smtp_transcripts:
            self.recorder = Recorder(
                self.factory.postoffice.transcripts, self.peer_host, self.peer_port, self.session
            )
        if self.factory.implicit_tls:
            self.recorder.tls_started(self._tls_facts)
        if self.factory.postoffice.traffic.each:  # twistd writes debug lines too: ~50 us each
            log.debug("SMTP connection from {peer}", peer=self.session.peer)
        self.setTimeout(self.timeout)
        self._hold(self._carry_out(self.factory.policy.on_connect(self.session)))

    def _new_session(self, tls: bool) -> Session:
        if self.peer_literal is None:
            self.peer_literal = address_literal(self.transport.getPeer())
        return Session(
            peer=self.peer_literal, tls=tls, require_auth=self.factory.settings.require_auth
        )

    def _learn_peer(self, address: IAddress) -> None:
        self.peer_host = str(getattr(address, "host", address))
        self.peer_port = getattr(address, "port", None)

    def _tls_facts(self) -> tuple[str, str] | None:
        return tls_facts(self.transport)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        if tls_failed(reason):
            self.factory.metrics.error("tls_handshake")
        reader = self._reader
        if reader is None:
            self.recorder.closed()
        else:
            self.recorder.closed("DATA" if isinstance(reader, DataReader) else "a BDAT chunk")
        self._closed = True
        self.setTimeout(None)
        self.factory.connections.forget(self)
        if self._reader is not None or self.session.envelope.chunks is not None:
            log.info("SMTP {peer} left during the message; discarded", peer=self.session.peer)
        self._reader = None
        self._continuation = None
        for call in list(self._delays):
            call.cancel()
        self._delays.clear()

    def readConnectionLost(self) -> None:
        """The client shut down its sending side (a TCP half-close) but still reads: Exim does
        so right after pipelining QUIT behind `BDAT ... LAST`, and waits for the 250. What it
        sent is answered, then the connection closes; input that ends inside a command, a
        chunk or DATA can never be completed, and is discarded as if the client had left."""
        self._input_ended = True
        if self._pending is None:
            self._end_of_input()

    def writeConnectionLost(self) -> None:
        """Nobody reads the replies any more (the client shut down its receiving side)."""
        self.transport.loseConnection()

    def _end_of_input(self) -> None:
        if not self._closing and not self._closed:
            self._close()

    def timeoutConnection(self) -> None:
        if self._closing:
            # Still open a whole timeout after the goodbye: a TLS handshake that never ends
            # (the goodbye waits for it), or a peer that reads nothing.
            self.transport.abortConnection()
            return
        self.reply(replies.TIMEOUT)
        self._close()

    def _close(self) -> None:
        """Close once what was written is sent, and abort if that takes a whole timeout:
        loseConnection on a TLS connection whose handshake is unfinished waits for it."""
        self._closing = True
        self.transport.loseConnection()
        self.setTimeout(self.timeout)

    def shut_down(self) -> None:
        """Say 421 and close: the server is stopping."""
        self.reply(replies.SHUTTING_DOWN)
        self._close()

    def reply(self, reply: Reply, **values: str) -> None:
        if reply.code >= 400:
            self.factory.metrics.reply_refused("smtp", reply.code, reply.status)
        if values:
            wire = reply.render(host=self.hostname, **values)
        else:
            wire = self.factory.rendered(reply)
        self.recorder.server(wire)
        write_now(self.transport, wire)

    # --- input: lines, queued while a command waits on a Deferred -----------------------

    def dataReceived(self, data: bytes) -> None:
        if self._closing:  # nothing more is read after the goodbye
            return
        self.resetTimeout()
        self._lines.feed(data)
        self._process_lines()
        if self._pending is None and (self._reader is not None or len(self._lines)):
            # the rest of a line or of DATA is awaited: see tcp.quick_ack
            quick_ack(self.transport)

    def _process_lines(self) -> None:
        if self._dispatching:  # a handler's Deferred fired at once; the loop below goes on
            return
        self._dispatching = True
        try:
            while self._pending is None and not self._closed and not self.transport.disconnecting:
                if self._reader is not None:
                    if not self._reader.take(self._lines):
                        break
                    self._handle(self._read_done)
                    continue
                line = self._lines.next_line()
                if line is None:
                    break
                # `_handle(partial(self._route, line))`, spelled out: this runs for every line
                try:
                    if self._continuation is None and line.__class__ is bytes:
                        result = self._command(line)
                    else:
                        if line.__class__ is bytes:
                            self.recorder.redacted()  # a SASL response
                        else:
                            self.recorder.note(LINE_TOO_LONG)
                        result = self._route(line)
                except Exception:
                    self._handler_raised()
                    continue
                if result is not None:
                    self._hold(result)
        finally:
            self._dispatching = False
        if self._pending is not None or self._reading_paused:  # else _throttle has nothing to do
            self._throttle()

    def _handle(self, step: Callable[[], Handled]) -> None:
        try:
            result = step()
        except Exception:
            self._handler_raised()
            return
        self._hold(result)

    def _handler_raised(self) -> None:
        log.failure("SMTP handler failed for {peer}", peer=self.session.peer)
        self.factory.metrics.error("command_failed")
        self._abandon_command()

    def _hold(self, result: Handled) -> None:
        """Hold back later lines until `result` fires."""
        if result is not None:
            self._pending = result
            result.addErrback(self._handler_failed)
            result.addBoth(self._resume)

    def _handler_failed(self, failure: Failure) -> None:
        if failure.check(CancelledError) or self._closed:
            return
        log.failure("SMTP handler failed for {peer}", failure, peer=self.session.peer)
        self.factory.metrics.error("command_failed")
        self._abandon_command()

    def _abandon_command(self) -> None:
        self._continuation = None
        if self._reader is not None:  # keep reading the message so it is not run as commands
            self._reader.fail(replies.LOCAL_ERROR)
        else:
            self.reply(replies.LOCAL_ERROR)

    def _resume(self, _: object) -> None:
        self._pending = None
        timing = self._timing
        if timing is not None:
            self._timing = None
            self.factory.command_times.observe(timing[0], perf_counter() - timing[1])
        self._process_lines()
        if self._input_ended and self._pending is None:
            self._end_of_input()

    def _throttle(self) -> None:
        if self._closed:
            return
        pause = self._pending is not None and len(self._lines) > PAUSE_READING_BYTES
        if pause != self._reading_paused:
            self._reading_paused = pause
            if pause:
                self.transport.pauseProducing()
            else:
                self.transport.resumeProducing()

    def _route(self, line: bytes | LineTooLong) -> Handled:
        if isinstance(line, LineTooLong):
            return self._line_too_long()
        if self._continuation is not None:
            continuation, self._continuation = self._continuation, None
            return continuation(line)
        return self._command(line)

    def _line_too_long(self) -> Handled:
        self._continuation = None
        self.reply(replies.LINE_TOO_LONG)
        return None

    def _command(self, line: bytes) -> Handled:
        started = perf_counter()
        name, argument = split_command(line)
        verb = VERBS.get(name)
        if verb is _MAIL:  # a transaction begins with it (unless one is open), refused or not
            self.recorder.begin()
        if verb is None or verb is _AUTH:  # may carry a secret: see transcript.guarded
            self.recorder.client(guarded(line, verb is _AUTH))
        else:
            self.recorder.client(line)
        if verb is None:
            self.reply(replies.UNKNOWN_COMMAND if name else replies.EMPTY_COMMAND)
            self.factory.command_times.observe(UNKNOWN, perf_counter() - started)
            return None
        refusal = verb.refusal(self.session, argument)
        if refusal is not None:
            self.reply(refusal)
            result = None
        else:
            result = getattr(self, verb.handler)(argument)
        if result is None:
            self.factory.command_times.observe(verb.name, perf_counter() - started)
        else:  # answered when the Deferred fires: _resume observes it
            self._timing = (verb.name, started)
        return result

    # --- policy decisions: replies, delays and disconnects -------------------------------

    def _sleep(self, seconds: float) -> Deferred[None]:
        """A Deferred that fires after `seconds` on the protocol's clock (never blocks); it is
        cancelled when the connection goes."""
        d: Deferred[None] = Deferred()
        call: IDelayedCall

        def wake() -> None:
            self._delays.discard(call)
            d.callback(None)

        call = self.callLater(seconds, wake)
        self._delays.add(call)
        return d

    def _carry_out(self, decision: Decision) -> Handled:
        """Send the decision's reply, or close without one, now or after its delay."""
        if decision.delay <= 0:
            self._answer(decision)
            return None
        d = self._sleep(decision.delay)
        d.addCallback(lambda _: self._answer(decision))
        return d

    def _answer(self, decision: Decision) -> None:
        if self._closed:
            return
        if decision.reply is None:
            self._close()
        else:
            self.reply(decision.reply)

    # --- greeting and simple commands ---------------------------------------------------

    def keywords(self) -> list[str]:
        """The EHLO keywords, in the order advertised."""
        found = [
            "PIPELINING",
            f"SIZE {self.factory.max_message_bytes}",
            "8BITMIME",
            "BINARYMIME",
            "CHUNKING",
            "SMTPUTF8",
            "ENHANCEDSTATUSCODES",
            "DSN",
        ]
        if self._can_start_tls():
            found.append("STARTTLS")
        mechanisms = list(sasl.MECHANISMS)
        if oauth.enabled(self.factory.settings.oauth):
            mechanisms.extend(oauth.MECHANISMS)
        found.append("AUTH " + " ".join(mechanisms))
        return found

    def _can_start_tls(self) -> bool:
        return (
            not self.session.tls
            and self.factory.tls is not None
            and ITLSTransport.providedBy(self.transport)
        )

    def smtp_EHLO(self, argument: bytes) -> Handled:
        self._greeted(argument, esmtp=True)
        # The answer depends only on the peer's address and on whether STARTTLS is offered:
        # made once per pair, not once per connection.
        key = (self.session.peer, self._can_start_tls())
        wire = self.factory.ehlo_replies.get(key)
        if wire is None:
            extensions = "\n".join(self.keywords())
            wire = replies.EHLO_OK.render(
                host=self.hostname, peer=self.session.peer, extensions=extensions
            )
            self.factory.ehlo_replies.remember(key, wire)
        self.recorder.server(wire)
        write_now(self.transport, wire)
        return None

    def smtp_HELO(self, argument: bytes) -> Handled:
        self._greeted(argument, esmtp=False)
        # made once per peer, as EHLO's (HELO's names the peer, so `rendered` cannot keep it)
        peer = self.session.peer
        wire = self.factory.helo_replies.get(peer)
        if wire is None:
            wire = replies.HELO_OK.render(host=self.hostname, peer=peer)
            self.factory.helo_replies.remember(peer, wire)
        self.recorder.server(wire)
        write_now(self.transport, wire)
        return None

    def _greeted(self, argument: bytes, esmtp: bool) -> None:
        self.recorder.greeted()
        self.session.helo = argument.decode("ascii", "replace")
        self.session.esmtp = esmtp
        self.session.reset()

    def smtp_RSET(self, argument: bytes) -> Handled:
        self.session.reset()
        self.reply(replies.RESET_OK)
        self.recorder.abandon("the client reset the transaction (RSET)")
        return None

    def smtp_NOOP(self, argument: bytes) -> Handled:
        self.reply(replies.OK)
        return None

    def smtp_HELP(self, argument: bytes) -> Handled:
        self.reply(replies.HELP)
        return None

    def smtp_VRFY(self, argument: bytes) -> Handled:
        self.reply(replies.CANNOT_VRFY)
        return None

    def smtp_QUIT(self, argument: bytes) -> Handled:
        self.reply(replies.CLOSING)
        self.recorder.abandon("the client quit mid-transaction (QUIT)")
        self._close()
        return None

    # --- STARTTLS (RFC 3207) ------------------------------------------------------------

    def smtp_STARTTLS(self, argument: bytes) -> Handled:
        if not self._can_start_tls():
            self.reply(replies.TLS_UNAVAILABLE)
            return None
        self.reply(replies.READY_FOR_TLS)
        # Lines that came with STARTTLS were sent in plaintext and must not run as if they
        # came over TLS (CVE-2011-0411): drop them.
        self._lines = LineBuffer()
        self.transport.startTLS(self.factory.tls.options())
        # RFC 3207 §4.2: forget everything learnt before TLS, HELO and AUTH included.
        self.recorder.abandon("the client started TLS (STARTTLS)")
        self.session = self._new_session(tls=True)
        self.recorder.session = self.session
        self.recorder.tls_started(self._tls_facts)
        self.authenticated = False
        return None

    # --- mail transaction ---------------------------------------------------------------

    def smtp_MAIL(self, argument: bytes) -> Handled:
        try:
            mail = params.parse_mail(argument, self.factory.max_message_bytes)
        except params.Refused as refused:
            self.reply(refused.reply, **refused.values)
            return None
        self.session.envelope = Envelope(mail)
        self._mail_at = perf_counter()
        return self._carry_out(self.factory.policy.on_mail(self.session, mail))

    def smtp_RCPT(self, argument: bytes) -> Handled:
        envelope = self.session.envelope
        assert envelope.mail is not None
        if len(envelope.recipients) >= self.factory.max_recipients:
            self.reply(replies.TOO_MANY_RECIPIENTS)
            return None
        try:
            rcpt = params.parse_rcpt(argument, envelope.mail.smtputf8)
        except params.Refused as refused:
            self.reply(refused.reply, **refused.values)
            return None
        decision = self.factory.policy.on_rcpt(self.session, rcpt)
        if decision.recipient is not None:
            if envelope.mail.size is not None:  # SIZE= declared: a quota may refuse it now
                checked = self.factory.policy.check_room(envelope, decision, self.session.user)
                if checked is not None:
                    return checked.addCallback(self._recipient_decided, envelope)
            envelope.recipients.append(decision.recipient)
        return self._carry_out(decision)

    def _recipient_decided(self, decision: Decision, envelope: Envelope) -> Handled:
        if decision.recipient is not None:
            envelope.recipients.append(decision.recipient)
        return self._carry_out(decision)

    def smtp_DATA(self, argument: bytes) -> Handled:
        # A message line may be as long as the message may be big: applications do send
        # single-line HTML far over RFC 5321's 1000 octets, and Postfix keeps such lines.
        self._reader = DataReader(self.factory.max_message_bytes)
        self._read_done = self._end_of_data
        self.reply(replies.START_DATA)
        return None

    def _end_of_data(self) -> Handled:
        reader, self._reader = self._reader, None
        assert reader is not None
        envelope = self.session.envelope
        self.session.reset()
        recorder = self.recorder
        if reader.failure is not None:
            recorder.data(reader.octets, kept=False)
            self.reply(reader.failure)
            return None
        raw = reader.message()
        recorder.data(len(raw))
        self._deliver(envelope, raw)
        return None

    def _deliver(self, envelope: Envelope, raw: bytes) -> None:
        """Hand the message to the policy; its reply (250 once stored) waits for the store."""
        self.factory.metrics.message_received("smtp", len(raw))
        envelope.transcript = self.recorder.stored_form(
            self.factory.rendered(replies.MESSAGE_ACCEPTED)
        )
        decided = self.factory.policy.on_data(self.session, envelope, raw)
        # `_hold(decided.addCallback(self._carry_out))` in one pair of callbacks (one per
        # message): later lines wait until the decision is carried out.
        self._pending = decided
        decided.addCallbacks(self._decided, self._decision_failed)

    # --- BDAT (RFC 3030) ----------------------------------------------------------------

    def smtp_BDAT(self, argument: bytes) -> Handled:
        bdat = params.parse_bdat(argument)
        envelope = self.session.envelope
        chunks = envelope.chunks
        if envelope.mail is not None and chunks is None:
            chunks = envelope.chunks = Chunks()
        if bdat.size is None:
            # No chunk-size: whatever data came with it cannot be told from commands, so it is
            # read as commands (RFC 3030 §2: "lexicographical parsers MUST be prepared to
            # receive, process, and reject lines of arbitrary octets"); the transaction has
            # failed, as it lacks a piece.
            self._chunk_ended(chunks, replies.BDAT_SYNTAX, bdat.last)
            return None
        refusal = self._chunk_refusal(chunks, bdat.size, bdat.last, bdat.valid)
        sink = None if refusal is not None or chunks is None else chunks.data
        reader = ChunkReader(bdat.size, sink)
        self._reader = reader
        self._read_done = partial(self._end_of_chunk, reader, bdat.last, refusal)
        return None

    def _chunk_refusal(
        self, chunks: Chunks | None, size: int, last: bool, valid: bool
    ) -> Reply | None:
        """Why a chunk is refused (it is still read: RFC 3030 §2), or None to keep it."""
        if not valid:
            return replies.BDAT_SYNTAX
        if size == 0 and not last:  # checked before the state, as Postfix does
            return replies.NULL_BDAT
        if chunks is None:
            return replies.NEED_MAIL_BEFORE_BDAT
        if chunks.failure is not None:
            return replies.CHUNK_AFTER_FAILURE
        if not self.session.envelope.recipients:
            return replies.NEED_RCPT_BEFORE_BDAT
        if len(chunks.data) + size > self.factory.max_message_bytes:
            return replies.MESSAGE_TOO_BIG
        return None

    def _end_of_chunk(self, reader: ChunkReader, last: bool, refusal: Reply | None) -> Handled:
        self._reader = None
        chunks = self.session.envelope.chunks
        failure = refusal or reader.failure
        self.recorder.chunk(reader.size, kept=failure is None)
        if chunks is not None:
            chunks.octets += reader.size
        if failure is not None or not last or chunks is None:
            self._chunk_ended(chunks, failure, last, reader.size)
            return None
        envelope = self.session.envelope
        self.session.reset()
        raw = bytes(chunks.data)
        self.recorder.chunks_done(chunks.octets, kept=True)
        self._deliver(envelope, raw)
        return None

    def _chunk_ended(
        self, chunks: Chunks | None, failure: Reply | None, last: bool, size: int = 0
    ) -> None:
        """Answer a chunk that does not end a message: 250, or its failure, which fails the
        transaction; a failed transaction ends at BDAT LAST."""
        if chunks is not None and failure is not None:
            chunks.fail(failure)
        if chunks is not None and last:
            self.session.reset()
            self.recorder.chunks_done(chunks.octets, kept=False)
        if failure is None:
            self.reply(replies.CHUNK_OK, octets=str(size))
        else:
            self.reply(failure)

    def _decided(self, decision: Decision) -> None:
        try:
            carried = self._carry_out(decision)
        except Exception:
            self._decision_failed(Failure())
            return
        if carried is None:
            self._transaction_answered()
            self._resume(None)
        else:
            carried.addCallback(self._transaction_answered)
            self._hold(carried)

    def _transaction_answered(self, _: object = None) -> None:
        self.factory.metrics.transactions.observe(perf_counter() - self._mail_at)

    def _decision_failed(self, failure: Failure) -> None:
        self._handler_failed(failure)
        self._resume(None)

    # --- AUTH ---------------------------------------------------------------------------

    def smtp_AUTH(self, argument: bytes) -> Handled:
        name, _, initial = argument.partition(b" ")
        wanted = name.upper().decode("ascii", "replace")
        if wanted in oauth.MECHANISMS and oauth.enabled(self.factory.settings.oauth):
            return self._oauth_start(wanted, initial)
        mechanism = sasl.MECHANISMS.get(wanted)
        if mechanism is None:
            self.reply(replies.AUTH_UNKNOWN_MECHANISM)
            return None
        exchange = sasl.Exchange(mechanism)
        if initial.strip():
            return self._auth_step(exchange, initial)
        return self._challenge(exchange)

    def _challenge(self, exchange: sasl.Exchange) -> Handled:
        self.reply(replies.AUTH_CHALLENGE, challenge=exchange.challenge())
        self._continuation = partial(self._auth_step, exchange)
        return None

    def _auth_step(self, exchange: sasl.Exchange, line: bytes) -> Handled:
        try:
            credentials = exchange.receive(line)
        except sasl.SASLError as e:
            self.reply(_SASL_REPLIES[type(e)])
            return None
        if credentials is None:
            return self._challenge(exchange)
        return Deferred.fromCoroutine(self._authenticate(exchange.mechanism.name, credentials))

    def _oauth_start(self, mechanism: str, initial: bytes) -> Handled:
        exchange = oauth.Exchange(mechanism, self.factory.postoffice.verify_bearer, "smtp")
        if initial.strip():
            return self._oauth_step(exchange, initial)
        return self._oauth_challenge(exchange, b"")

    def _oauth_challenge(self, exchange: oauth.Exchange, data: bytes) -> Handled:
        self.reply(replies.AUTH_CHALLENGE, challenge=base64.b64encode(data).decode("ascii"))
        self._continuation = partial(self._oauth_step, exchange)
        return None

    def _oauth_step(self, exchange: oauth.Exchange, line: bytes) -> Handled:
        try:
            response = sasl.decode_response(line)
        except sasl.SASLError as e:
            self.reply(_SASL_REPLIES[type(e)])
            return None
        return Deferred.fromCoroutine(self._oauth_answer(exchange, response))

    async def _oauth_answer(self, exchange: oauth.Exchange, response: bytes) -> None:
        try:
            outcome = await exchange.respond(response)
        except StoreUnavailable as e:
            log.warn("SMTP AUTH {name} not checked: {why}", name=exchange.mechanism, why=e)
            self.reply(replies.AUTH_TEMPORARY_FAILURE)
            return
        except Exception:
            log.failure("SMTP AUTH {mechanism} check failed", mechanism=exchange.mechanism)
            self.reply(replies.AUTH_TEMPORARY_FAILURE)
            return
        if isinstance(outcome, oauth.Challenge):
            self._oauth_challenge(exchange, outcome.data)
        elif isinstance(outcome, oauth.Success):
            self._signed_in(exchange.mechanism, outcome.user)
        else:
            log.info(
                "SMTP AUTH {mechanism} refused for {username} from {peer}: {why}",
                mechanism=exchange.mechanism,
                username=exchange.user_name,
                peer=self.session.peer,
                why=outcome.reason,
            )
            self.reply(replies.AUTH_MALFORMED if outcome.malformed else replies.AUTH_FAILED)

    async def _authenticate(self, mechanism: str, credentials: sasl.Credentials) -> None:
        settings = self.factory.settings
        acting_as_other = credentials.authzid not in ("", credentials.username)
        user = None
        if settings.auth_disabled or not acting_as_other:
            try:
                user = await self.factory.postoffice.authenticate(
                    credentials.username, credentials.password
                )
            except StoreUnavailable as e:
                log.warn("SMTP AUTH {mechanism} not checked: {why}", mechanism=mechanism, why=e)
                self.reply(replies.AUTH_TEMPORARY_FAILURE)
                return
            except Exception:
                log.failure("SMTP AUTH {mechanism} check failed", mechanism=mechanism)
                self.reply(replies.AUTH_TEMPORARY_FAILURE)
                return
        if user is None:
            log.info(
                "SMTP AUTH {mechanism} refused for {username} from {peer}",
                mechanism=mechanism,
                username=credentials.username,
                peer=self.session.peer,
            )
            self.reply(replies.AUTH_FAILED)
            return
        self._signed_in(mechanism, user)

    def _signed_in(self, mechanism: str, user) -> None:
        self.session.user = user.name
        self.authenticated = True
        self.recorder.authenticated(mechanism, user.name)
        if self.factory.postoffice.traffic.each:
            log.info("SMTP AUTH {mechanism} as {user}", mechanism=mechanism, user=user.name)
        self.reply(replies.AUTH_OK)


class WireCache(dict[K, V]):
    """Replies already rendered, bounded: rule replies are made anew for each message, and
    many peers may say EHLO, so it starts over rather than grow."""

    LIMIT = 512

    def remember(self, key: K, value: V) -> None:
        if len(self) >= self.LIMIT:
            self.clear()
        self[key] = value


class SMTPFactory(protocol.ServerFactory):
    """Builds SMTPServer connections and keeps track of them for `close_connections`.
    With `implicit_tls` the listener is TLS from the first byte (SMTPS, RFC 8314), so its
    connections start as secure and offer no STARTTLS."""

    protocol = SMTPServer
    noisy = False
    hostname = HOSTNAME

    def __init__(
        self,
        postoffice: PostOffice,
        settings: Settings,
        tls: TLSMaterial | None,
        implicit_tls: bool = False,
    ) -> None:
        self.postoffice = postoffice
        self.settings = settings
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.max_message_bytes = settings.max_message_size
        self.max_recipients = settings.max_recipients
        # GET /metrics' counters (a stand-in post office of a unit test may have none)
        self.metrics: Metrics = getattr(postoffice, "metrics", None) or Metrics()
        self.command_times = self.metrics.commands("smtp")
        self.connections: Connections[SMTPServer] = Connections(
            "SMTP", settings.max_connections, self.metrics
        )
        self.policy = DeliveryPolicy(
            postoffice, self.hostname, trace_headers=settings.trace_headers
        )
        # Keyed by identity (hashing a Reply hashes its fields, on every reply sent); the entry
        # holds the Reply, so its id is not reused while cached.
        self._rendered: WireCache[int, tuple[Reply, bytes]] = WireCache()
        self.ehlo_replies: WireCache[tuple[str, bool], bytes] = WireCache()
        self.helo_replies: WireCache[str, bytes] = WireCache()

    def buildProtocol(self, addr: IAddress | None) -> SMTPServer:
        server = self.protocol()
        server.factory = self
        if addr is not None:
            server.peer_literal = address_literal(addr)
            server._learn_peer(addr)
        return server

    def rendered(self, reply: Reply) -> bytes:
        """The wire form of a reply that needs only the host name (most do), made once."""
        entry = self._rendered.get(id(reply))
        if entry is None or entry[0] is not reply:
            entry = (reply, reply.render(host=self.hostname))
            self._rendered.remember(id(reply), entry)
        return entry[1]

    def close_connections(self) -> None:
        """Tell every open connection 421 and close it (the server is stopping)."""
        self.connections.close_all(SMTPServer.shut_down)
