"""The IMAP protocol class: a thin adapter between a socket and the pure core.

It subclasses Twisted's IMAP4Server for its place in the Twisted ecosystem (and TimeoutMixin),
but none of that class's parser or dispatcher runs: bytes go to `parser.CommandReader`,
commands to the table in `dispatch`, and responses come back as bytes. Commands run one at a
time, in order: while one waits on the store, later ones queue (pipelining, RFC 9051 §5.5).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from twisted.internet import defer
from twisted.internet.interfaces import IHandshakeListener, IPushProducer, ITLSTransport
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger
from twisted.mail import imap4
from zope.interface import implementer

from elektromail.admission import Connections
from elektromail.config import Settings
from elektromail.events import Event, Events, ServerReset, UserDeleted
from elektromail.imap import commands  # noqa: F401  (fills the command table)
from elektromail.imap.commands.state import capability_code
from elektromail.imap.dispatch import TABLE, Bad, Command, Done, No, check_state
from elektromail.imap.format import OVERQUOTA, TOOBIG, UNAVAILABLE
from elektromail.imap.reader import (
    CommandReader,
    LineTooLong,
    LiteralTooBig,
    NeedContinuation,
    ParsedCommand,
    ParseError,
    RawLine,
)
from elektromail.imap.session import Session, State
from elektromail.imap.tokens import Atom
from elektromail.postoffice import PostOffice
from elektromail.store import Store
from elektromail.store.errors import StoreFull, StoreUnavailable
from elektromail.tls import TLSMaterial

log = Logger()

MAX_QUEUED = 64  # parsed commands waiting; beyond it the socket is paused
FLUSH_AT = 64 * 1024
CONTINUE = b"+ Ready for literal data\r\n"
TOO_MANY_CONNECTIONS = b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n"


@dataclass(frozen=True)
class Refusal:
    """A command refused while its synchronising literal was announced: answered in turn,
    with no byte of the literal read."""

    tag: str | None
    status: str
    text: str
    code: str | None = None


@dataclass(frozen=True)
class Services:
    """What command handlers may use."""

    postoffice: PostOffice
    store: Store
    events: Events
    settings: Settings
    tls: TLSMaterial


class CommandContext:
    """The handler's view of the connection for one command."""

    def __init__(self, protocol: IMAPServer, tag: str, name: str, uid: bool) -> None:
        self._protocol = protocol
        self.tag = tag
        self.name = name
        self.uid = uid
        self.session = protocol.session
        self.services = protocol.services

    @property
    def closed(self) -> bool:
        """The connection is gone (or going): nothing written reaches the client any more,
        so a long answer may stop early."""
        return self._protocol.closed or self._protocol.closing

    def write(self, data: bytes) -> None:
        self._protocol.queue_output(data)

    def paced(self) -> OutputPacing:
        """A context for a long answer: inside it, `await pacing.sent()` after each piece waits
        while the client is slower than the server, so the answer never piles up in memory."""
        return OutputPacing(self._protocol)

    def continuation(self, text: str = "") -> None:
        self._protocol.queue_output(b"+ " + text.encode() + b"\r\n")
        self._protocol.flush()

    def push(self, data: bytes) -> None:
        """Write untagged responses now, not at the end of the command (IDLE)."""
        self._protocol.queue_output(data)
        self._protocol.flush()

    def read_line(self) -> defer.Deferred[bytes]:
        return self._protocol.read_line()

    def start_tls(self) -> None:
        """Start TLS once the tagged OK of this command is written (RFC 9051 §6.2.1)."""
        if not ITLSTransport.providedBy(self._protocol.transport):
            raise No("TLS is not available on this connection", UNAVAILABLE)
        self._protocol.tls_requested = True


@implementer(IPushProducer)
class OutputPacing:
    """Back-pressure for one long answer (FETCH of many bodies): registered with the transport
    as a streaming producer, which pauses it when its write buffer is full and resumes it when
    the buffer has drained. Registered only while the answer is written: a paused producer
    would otherwise keep loseConnection from ever closing the connection."""

    def __init__(self, protocol: IMAPServer) -> None:
        self._protocol = protocol
        self._paused = False
        self._waiter: defer.Deferred[None] | None = None

    def __enter__(self) -> OutputPacing:
        transport = self._protocol.transport
        if transport.producer is None:  # nothing else paces this connection now
            transport.registerProducer(self, True)
        return self

    def __exit__(self, *exc_info) -> None:
        transport = self._protocol.transport
        if transport.producer is self:
            transport.unregisterProducer()
        self.resumeProducing()

    def sent(self) -> defer.Deferred[None]:
        """Flush what was written; fires at once, or when the client has read enough."""
        self._protocol.flush()
        if not self._paused or self._protocol.closed:
            return defer.succeed(None)
        self._waiter = defer.Deferred()
        return self._waiter

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.callback(None)

    def stopProducing(self) -> None:  # the connection is gone: never leave the answer waiting
        self.resumeProducing()


@implementer(IHandshakeListener)
class IMAPServer(imap4.IMAP4Server):
    def __init__(self, services: Services, implicit_tls: bool = False) -> None:
        super().__init__()
        self.services = services
        self.session = Session(services.events)
        self.session.tls = implicit_tls
        self.reader = CommandReader(max_literal=services.settings.max_message_size)
        self.tls_requested = False
        self._queue: deque = deque()
        self._busy = False
        self._draining = False
        self._paused = False
        self._out: list[bytes] = []
        self._out_size = 0
        self._line_waiter: defer.Deferred[bytes] | None = None
        self._closed = False
        self._closing = False  # said goodbye; see close_after_output

    # --- connection -------------------------------------------------------------------------

    def connectionMade(self) -> None:
        if hasattr(self.transport, "setTcpNoDelay"):
            self.transport.setTcpNoDelay(True)
        self.setTimeout(self.services.settings.imap_login_timeout)
        if not self.factory.admit(self):
            # RFC 9051 §7.1.5: BYE as the greeting, "the server is not willing to accept a
            # connection from this client"; RFC 5530 §3 UNAVAILABLE: a temporary failure.
            self._closed = True
            self.transport.write(TOO_MANY_CONNECTIONS)
            self.close_after_output()
            return
        greeting = f"* OK [{capability_code(self.session)}] elektromail ready\r\n"
        self.transport.write(greeting.encode())

    def connectionLost(self, reason=None) -> None:
        self._closed = True
        self.setTimeout(None)
        if getattr(self.transport, "producer", None) is not None:
            self.transport.producer.stopProducing()  # a paced answer stops waiting
        self.factory.connections.forget(self)
        self.session.logout()
        self._queue.clear()
        waiter, self._line_waiter = self._line_waiter, None
        if waiter is not None:
            waiter.errback(ConnectionError("connection lost"))

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def closing(self) -> bool:
        """A goodbye was written: nothing more will be."""
        return self._closing

    def handshakeCompleted(self) -> None:
        self.session.tls = True

    def end_session(self, text: str) -> None:
        """BYE [UNAVAILABLE] and close, because what the session stood on is gone (a reset,
        its user deleted). A command in flight finishes unseen: nothing is written after."""
        if self._closed:
            return
        self.flush()
        self.transport.write(f"* BYE [{UNAVAILABLE}] {text}\r\n".encode())
        self._closed = True
        self.close_after_output()

    def timeoutConnection(self) -> None:
        if self._closing:
            # Still open a whole timeout after the goodbye: a TLS handshake that never ends
            # (the goodbye waits for it), or a peer that reads nothing.
            self.transport.abortConnection()
            return
        self.transport.write(b"* BYE Autologout; idle for too long\r\n")
        self.close_after_output()

    def close_after_output(self) -> None:
        """Close once what was written is sent, and abort if that takes a whole timeout:
        loseConnection on a TLS connection whose handshake is unfinished waits for it."""
        self._closing = True
        self.transport.loseConnection()
        self.setTimeout(self.timeOut or self.services.settings.imap_login_timeout)

    # --- input ------------------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        if self._closing:  # nothing more is read after the goodbye
            return
        self.resetTimeout()
        self._accept(self.reader.feed(data))

    def _accept(self, events: list) -> None:
        """Route the reader's events: literal go-aheads at once, a continuation line (or its
        being too long) to the handler waiting for it, everything else into the queue."""
        for event in events:
            if isinstance(event, NeedContinuation):
                self._literal_announced(event)
            elif isinstance(event, RawLine) and self._line_waiter is not None:
                waiter, self._line_waiter = self._line_waiter, None
                waiter.callback(event.data)
            elif isinstance(event, LineTooLong) and self._line_waiter is not None:
                # the line a handler waits for (a SASL response, DONE) was too long
                waiter, self._line_waiter = self._line_waiter, None
                waiter.errback(Bad("Line too long", TOOBIG))
            else:
                self._queue.append(event)
        if len(self._queue) > MAX_QUEUED and not self._paused:
            self._paused = True
            self.transport.pauseProducing()
        self._drain()

    def _literal_announced(self, event: NeedContinuation) -> None:
        """Say "+" to a synchronising literal, or refuse its command before a byte of it is
        sent: an APPEND over max_message_size, or (when nothing is in flight that could change
        the state) a command unknown or not valid in this state."""
        refusal = self._literal_refusal(event)
        if refusal is not None and self._reject_literal():
            self._queue.append(refusal)
        else:
            self.transport.write(CONTINUE)

    def _reject_literal(self) -> bool:
        try:
            self.reader.reject_literal()
        except RuntimeError:  # the client sent the literal without waiting: run the command
            return False
        return True

    def _literal_refusal(self, event: NeedContinuation) -> Refusal | None:
        limit = self.services.settings.max_message_size
        # The reader's max_literal is the same limit today; this keeps APPEND to the message
        # limit should the reader's limit for other commands ever differ.
        if event.name == "APPEND" and event.size > limit:
            return Refusal(event.tag, "NO", f"Message too big (limit {limit} bytes)", TOOBIG)
        if self._busy or self._queue or event.name in (None, "UID"):
            return None
        spec = TABLE.lookup(event.name)
        if spec is None:
            return Refusal(event.tag, "BAD", f"Unknown command {event.name}")
        try:
            check_state(spec, self.session)
        except Bad as e:
            return Refusal(event.tag, "BAD", e.text, e.code)
        return None

    def read_line(self) -> defer.Deferred[bytes]:
        waiter = self._line_waiter = defer.Deferred()
        self._accept(self.reader.expect_raw_line())
        return waiter

    def _drain(self) -> None:
        if self._draining:
            return
        self._draining = True
        try:
            while self._queue and not self._busy and not self._closed and not self._logged_out():
                event = self._queue.popleft()
                self._busy = True
                d = defer.Deferred.fromCoroutine(self._handle(event))
                d.addErrback(self._internal_error)
                d.addBoth(self._finished)
        finally:
            self._draining = False
        if self._paused and len(self._queue) < MAX_QUEUED // 2 and not self._closed:
            self._paused = False
            self.transport.resumeProducing()

    def _logged_out(self) -> bool:
        return self.session.state is State.LOGOUT

    def _finished(self, _result) -> None:
        self._busy = False
        if self.reader.paused and not self._queue and not self._closed:
            # The reader stops after AUTHENTICATE, IDLE and STARTTLS, which are then the last
            # queued command: it resumes when they are done, not when an earlier one is.
            self._accept(self.reader.resume())
        self._drain()

    def _internal_error(self, failure) -> None:
        log.failure("IMAP session failed", failure)
        if not self._closed:
            self.transport.write(b"* BYE Internal server error\r\n")
            self.close_after_output()

    # --- output -----------------------------------------------------------------------------

    def queue_output(self, data: bytes) -> None:
        if data:
            self._out.append(data)
            self._out_size += len(data)
            if self._out_size >= FLUSH_AT:
                self.flush()

    def flush(self) -> None:
        if self._out and not self._closed:
            self.transport.write(b"".join(self._out))
        self._out.clear()
        self._out_size = 0

    # --- events from the reader -------------------------------------------------------------

    async def _handle(self, event) -> None:
        if isinstance(event, ParsedCommand):
            await self._run_command(event)
        elif isinstance(event, ParseError):
            self._reply(event.tag, "BAD", event.message)
        elif isinstance(event, LineTooLong):
            self._reply(event.tag, "BAD", "Line too long", TOOBIG)
        elif isinstance(event, LiteralTooBig):
            limit = self.reader.max_literal
            if event.fatal:
                self.flush()
                self.transport.write(b"* BYE [TOOBIG] Literal too big\r\n")
                self.close_after_output()
            else:
                self._reply(event.tag, "NO", f"Literal too big (limit {limit} bytes)", TOOBIG)
        elif isinstance(event, Refusal):
            self._reply(event.tag, event.status, event.text, event.code)
        elif isinstance(event, RawLine):
            self._reply(None, "BAD", "Unexpected continuation data")
        self.flush()

    def _reply(self, tag: str | None, status: str, text: str, code: str | None = None) -> None:
        code_part = f"[{code}] " if code else ""
        self.queue_output(f"{tag or '*'} {status} {code_part}{text}\r\n".encode())

    async def _run_command(self, parsed: ParsedCommand) -> None:
        tag = parsed.tag
        try:
            spec, name, args, uid = self._lookup(parsed)
        except Bad as e:
            self._reply(tag, "BAD", e.text, e.code)
            return
        ctx = CommandContext(self, tag, name, uid)
        before = self.session.state
        try:
            check_state(spec, self.session)
            done = await spec.handler(ctx, args) or Done()
            status, text, code = "OK", done.text or f"{name} completed", done.code
        except (Bad, No) as e:
            status, text, code = ("BAD" if isinstance(e, Bad) else "NO"), e.text, e.code
        except ConnectionError:
            return
        except StoreUnavailable as e:
            status, text, code = "NO", *_store_failure(name, e)
        except Exception:
            log.failure("IMAP command {name} failed", name=name)
            status, text, code = "NO", "Internal server error", "SERVERBUG"
        if self._closed:
            return
        if self.session.state is not State.LOGOUT:
            self.queue_output(self.session.updates(allow_expunge=spec.allows_expunge))
        self._reply(tag, status, text, code)
        self._after(before)
        if self.tls_requested:
            self._start_tls(status == "OK")

    def _start_tls(self, accepted: bool) -> None:
        """After STARTTLS's tagged OK: switch the transport to TLS and drop whatever plaintext
        followed the command (no command injection, CVE-2011-0411): the client must send
        nothing until it has seen the OK, and everything after it is TLS."""
        self.tls_requested = False
        if not accepted or self._closed:
            return
        self.flush()
        self.transport.startTLS(self.services.tls.options())
        dropped = self.reader.discard_buffered()
        if dropped:
            log.info("dropped {count} plaintext bytes sent after STARTTLS", count=dropped)

    def _lookup(self, parsed: ParsedCommand) -> tuple[Command, str, list, bool]:
        name, args = parsed.name, parsed.args
        if name == "UID":
            if not args or not isinstance(args[0], Atom):
                raise Bad("UID needs a command")
            sub = args[0].upper()
            spec = TABLE.lookup(sub)
            if spec is None or not spec.uid:
                raise Bad(f"Unknown command UID {sub}")
            return spec, f"UID {sub}", list(args[1:]), True
        spec = TABLE.lookup(name)
        if spec is None:
            raise Bad(f"Unknown command {name}")
        return spec, name, list(args), False

    def _after(self, before: State) -> None:
        state = self.session.state
        if state is State.LOGOUT:
            self.flush()
            self.close_after_output()
        elif before is State.NOT_AUTHENTICATED and state is State.AUTHENTICATED:
            self.setTimeout(self.services.settings.imap_timeout)


def _store_failure(name: str, error: StoreUnavailable) -> tuple[str, str]:
    """The text and response code of a command the store could not carry out (RFC 5530 §3):
    OVERQUOTA when the disk or database is full (as Dovecot answers "Not enough disk space"),
    UNAVAILABLE when it is read-only or failing. Nothing was changed; the client may retry."""
    log.warn("IMAP {name} refused: mail store unavailable: {why}", name=name, why=error)
    if isinstance(error, StoreFull):
        return "Not enough disk space, try again later", OVERQUOTA
    return "Mail store temporarily unavailable, try again later", UNAVAILABLE


class IMAPFactory(ServerFactory):
    """Builds one IMAPServer per connection and remembers them, to close them at stop."""

    def __init__(
        self,
        postoffice: PostOffice,
        settings: Settings,
        tls: TLSMaterial,
        implicit_tls: bool = False,
    ) -> None:
        self.services = Services(postoffice, postoffice.store, postoffice.events, settings, tls)
        self.implicit_tls = implicit_tls  # the port speaks TLS from the first byte (IMAPS)
        self.connections: Connections[IMAPServer] = Connections("IMAP", settings.max_connections)
        self._unsubscribe = None

    def admit(self, protocol: IMAPServer) -> bool:
        """Count a new connection in, unless max_connections are open already."""
        return self.connections.admit(protocol)

    def startFactory(self) -> None:
        self._unsubscribe = self.services.events.subscribe(self._event)

    def stopFactory(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _event(self, event: Event) -> None:
        """End the sessions a reset or a deleted user leaves without ground."""
        if not isinstance(event, (ServerReset, UserDeleted)):
            return
        for protocol in list(self.connections):
            text = protocol.session.ended_by(event)
            if text is not None:
                protocol.end_session(text)

    def buildProtocol(self, addr) -> IMAPServer:
        protocol = IMAPServer(self.services, implicit_tls=self.implicit_tls)
        protocol.factory = self
        return protocol

    def close_connections(self) -> None:
        self.connections.close_all(IMAPServer.close_after_output)
