"""The SMTP listener: an ESMTP protocol that moves lines between the socket and the pure session
(`session.py`, `sasl.py`), hands finished messages to the post office, and its factory.

The server calls itself "localhost": `socket.getfqdn()` can block start-up on DNS, and the bind
address (often 0.0.0.0) is no name at all. Clients only show it; nothing routes by it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from twisted.internet import protocol
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress, ITCPTransport
from twisted.logger import Logger
from twisted.mail import smtp
from twisted.python.failure import Failure

from elektromail.config import Settings
from elektromail.postoffice import PostOffice
from elektromail.smtp import replies, sasl
from elektromail.smtp.replies import Reply
from elektromail.smtp.session import (
    COMMANDS,
    MAX_MESSAGE_BYTES,
    MAX_RECIPIENTS,
    DataReader,
    Envelope,
    LineBuffer,
    LineTooLong,
    Session,
    split_command,
)
from elektromail.tls import TLSMaterial

log = Logger()

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


def address_literal(address: IAddress) -> str:
    """The peer as an RFC 5321 address literal: `[127.0.0.1]`, `[IPv6:::1]`."""
    host = getattr(address, "host", None)
    if host is None:
        return str(address)
    return f"[IPv6:{host}]" if ":" in host else f"[{host}]"


class SMTPServer(smtp.ESMTP):
    """One SMTP connection.

    Subclasses Twisted's ESMTP for its place in twisted.mail (timeouts, `ctx`/`challengers`
    for STARTTLS later) but runs its own command loop: Twisted's replies lack enhanced status
    codes, its DATA adds headers, a malformed AUTH raises out of dataReceived, and it breaks
    pipelining once a command waits on a Deferred. Here each handler may return a Deferred and
    later lines wait in the buffer until it fires, so PIPELINING is safe to advertise.
    """

    factory: SMTPFactory

    def __init__(self) -> None:
        super().__init__()
        self.hostname = HOSTNAME
        self.session = Session(peer="")
        self._lines = LineBuffer()
        self._pending: Deferred[None] | None = None
        self._dispatching = False
        self._reading_paused = False
        self._closed = False
        self._reader: DataReader | None = None
        self._continuation: Callable[[bytes], Handled] | None = None

    # --- connection ---------------------------------------------------------------------

    def connectionMade(self) -> None:
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)
        self.hostname = self.factory.hostname
        self.host = self.hostname
        self.session = Session(peer=address_literal(self.transport.getPeer()))
        self.factory.connections.add(self)
        log.debug("SMTP connection from {peer}", peer=self.session.peer)
        self.reply(replies.GREETING)
        self.setTimeout(self.timeout)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self._closed = True
        self.setTimeout(None)
        self.factory.connections.discard(self)
        if self._reader is not None:
            log.info("SMTP {peer} left during DATA; message discarded", peer=self.session.peer)
        self._reader = None
        self._continuation = None

    def timeoutConnection(self) -> None:
        self.reply(replies.TIMEOUT)
        self.transport.loseConnection()

    def shut_down(self) -> None:
        """Say 421 and close: the server is stopping."""
        self.reply(replies.SHUTTING_DOWN)
        self.transport.loseConnection()

    def reply(self, reply: Reply, **values: str) -> None:
        self.transport.write(reply.render(host=self.hostname, **values))

    # --- input: lines, queued while a command waits on a Deferred -----------------------

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        self._lines.feed(data)
        self._process_lines()

    def _process_lines(self) -> None:
        if self._dispatching:  # a handler's Deferred fired at once; the loop below goes on
            return
        self._dispatching = True
        try:
            while self._pending is None and not self._closed and not self.transport.disconnecting:
                line = self._lines.next_line()
                if line is None:
                    break
                self._handle(line)
        finally:
            self._dispatching = False
        self._throttle()

    def _handle(self, line: bytes | LineTooLong) -> None:
        try:
            result = self._route(line)
        except Exception:
            log.failure("SMTP handler failed for {peer}", peer=self.session.peer)
            self._abandon_command()
            return
        if result is not None:
            self._pending = result
            result.addErrback(self._handler_failed)
            result.addBoth(self._resume)

    def _handler_failed(self, failure: Failure) -> None:
        log.failure("SMTP handler failed for {peer}", failure, peer=self.session.peer)
        self._abandon_command()

    def _abandon_command(self) -> None:
        self._continuation = None
        if self._reader is not None:  # keep reading the message so it is not run as commands
            self._reader.fail(replies.LOCAL_ERROR)
        else:
            self.reply(replies.LOCAL_ERROR)

    def _resume(self, _: object) -> None:
        self._pending = None
        self._process_lines()

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
        if self._reader is not None:
            return self._data_line(line)
        if self._continuation is not None:
            continuation, self._continuation = self._continuation, None
            return continuation(line)
        return self._command(line)

    def _line_too_long(self) -> Handled:
        if self._reader is not None:
            self._reader.fail(replies.MESSAGE_LINE_TOO_LONG)
            return None
        self._continuation = None
        self.reply(replies.LINE_TOO_LONG)
        return None

    def _command(self, line: bytes) -> Handled:
        verb, argument = split_command(line)
        if not verb:
            self.reply(replies.EMPTY_COMMAND)
            return None
        command = COMMANDS.get(verb)
        if command is None:
            self.reply(replies.UNKNOWN_COMMAND)
            return None
        refusal = command.refusal(self.session, argument)
        if refusal is not None:
            self.reply(refusal)
            return None
        handler: Callable[[bytes], Handled] = getattr(self, "smtp_" + command.verb)
        return handler(argument)

    # --- greeting and simple commands ---------------------------------------------------

    def extensions(self) -> dict[bytes, list[bytes] | None]:
        """The EHLO keywords (Twisted's shape, rendered by `listExtensions`)."""
        return {
            b"PIPELINING": None,
            b"8BITMIME": None,
            b"ENHANCEDSTATUSCODES": None,
            b"AUTH": [name.encode("ascii") for name in sasl.MECHANISMS],
        }

    def smtp_EHLO(self, argument: bytes) -> Handled:
        self._greeted(argument)
        extensions = self.listExtensions().decode("ascii")
        self.reply(replies.EHLO_OK, peer=self.session.peer, extensions=extensions)
        return None

    def smtp_HELO(self, argument: bytes) -> Handled:
        self._greeted(argument)
        self.reply(replies.HELO_OK, peer=self.session.peer)
        return None

    def _greeted(self, argument: bytes) -> None:
        self.session.helo = argument.decode("ascii", "replace")
        self.session.reset()

    def smtp_RSET(self, argument: bytes) -> Handled:
        self.session.reset()
        self.reply(replies.RESET_OK)
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
        self.transport.loseConnection()
        return None

    # --- mail transaction ---------------------------------------------------------------

    def _path(self, match: Any) -> str | None:
        """The address of a matched MAIL/RCPT path without <>, source route or quotes."""
        try:
            return str(smtp.Address(match.group("path"), self.hostname.encode("ascii")))
        except smtp.AddressError:
            return None

    def smtp_MAIL(self, argument: bytes) -> Handled:
        match = self.mail_re.match(argument)
        if match is None:
            self.reply(replies.MAIL_SYNTAX)
            return None
        sender = self._path(match)
        if sender is None:
            self.reply(replies.BAD_SENDER_ADDRESS)
            return None
        self.session.envelope.sender = sender
        self.reply(replies.SENDER_OK)
        return None

    def smtp_RCPT(self, argument: bytes) -> Handled:
        if len(self.session.envelope.recipients) >= self.factory.max_recipients:
            self.reply(replies.TOO_MANY_RECIPIENTS)
            return None
        match = self.rcpt_re.match(argument)
        if match is None:
            self.reply(replies.RCPT_SYNTAX)
            return None
        recipient = self._path(match)
        if not recipient:
            self.reply(replies.BAD_RECIPIENT_ADDRESS)
            return None
        self.session.envelope.recipients.append(recipient)
        self.reply(replies.RECIPIENT_OK)
        return None

    def smtp_DATA(self, argument: bytes) -> Handled:
        self._reader = DataReader(self.factory.max_message_bytes)
        self.reply(replies.START_DATA)
        return None

    def _data_line(self, line: bytes) -> Handled:
        assert self._reader is not None
        if not self._reader.feed(line):
            return None
        reader, self._reader = self._reader, None
        envelope = self.session.envelope
        self.session.reset()
        if reader.failure is not None:
            self.reply(reader.failure)
            return None
        return Deferred.fromCoroutine(self._deliver(envelope, reader.message()))

    async def _deliver(self, envelope: Envelope, raw: bytes) -> None:
        """Answer 250 only once the post office has stored the message."""
        try:
            await self.factory.postoffice.deliver(envelope.recipients, raw)
        except Exception:
            log.failure(
                "SMTP delivery from {sender} to {recipients} failed",
                sender=envelope.sender,
                recipients=envelope.recipients,
            )
            self.reply(replies.LOCAL_ERROR)
            return
        log.info(
            "SMTP accepted {size} bytes from {sender} for {recipients}",
            size=len(raw),
            sender=envelope.sender,
            recipients=envelope.recipients,
        )
        self.reply(replies.MESSAGE_ACCEPTED)

    # --- AUTH ---------------------------------------------------------------------------

    def smtp_AUTH(self, argument: bytes) -> Handled:
        name, _, initial = argument.partition(b" ")
        mechanism = sasl.MECHANISMS.get(name.upper().decode("ascii", "replace"))
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

    async def _authenticate(self, mechanism: str, credentials: sasl.Credentials) -> None:
        settings = self.factory.settings
        acting_as_other = credentials.authzid not in ("", credentials.username)
        user = None
        if settings.auth_disabled or not acting_as_other:
            try:
                user = await self.factory.postoffice.authenticate(
                    credentials.username, credentials.password
                )
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
        self.session.user = user.name
        self.authenticated = True
        log.info("SMTP AUTH {mechanism} as {user}", mechanism=mechanism, user=user.name)
        self.reply(replies.AUTH_OK)


class SMTPFactory(protocol.ServerFactory):
    """Builds SMTPServer connections and keeps track of them for `close_connections`."""

    protocol = SMTPServer
    noisy = False
    hostname = HOSTNAME
    max_message_bytes = MAX_MESSAGE_BYTES
    max_recipients = MAX_RECIPIENTS

    def __init__(self, postoffice: PostOffice, settings: Settings, tls: TLSMaterial) -> None:
        self.postoffice = postoffice
        self.settings = settings
        self.tls = tls  # for STARTTLS (a later issue); no ctx yet, so it is not advertised
        self.connections: set[SMTPServer] = set()

    def close_connections(self) -> None:
        """Tell every open connection 421 and close it (the server is stopping)."""
        for connection in list(self.connections):
            connection.shut_down()
