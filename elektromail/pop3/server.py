"""The POP3 server: Twisted's `twisted.mail.pop3.POP3` subclassed for its line reader
(LineOnlyReceiver) and TimeoutMixin, with its own command handling on top, because the base
class's traps do not fit: it parses commands with `split(b" ")`, answers errors with Python
exception names, turns every LF into CRLF (so a stored CRLF would go out as CR CR LF), syncs the
mailbox synchronously, and knows nothing of STLS, SASL PLAIN/LOGIN or RESP-CODES.

A session serves the user's INBOX as it was at login (message numbers fixed for the session,
RFC 1939 §4); DELE marks, RSET unmarks, QUIT in the TRANSACTION state removes the marked
messages through the post office's expunge (the one door: selected IMAP sessions get EXPUNGE,
the web inbox its events). A maildrop lock (RFC 1939 §8) answers a second session of the same
user `-ERR [IN-USE]` (RFC 2449 §8.1.2). UIDL is Dovecot's default `pop3_uidl_format`,
`%08Xu%08Xv`: the IMAP UID and the mailbox's UIDVALIDITY in hex, stable across restarts with a
file database and consistent with IMAP. Messages flagged \\Deleted over IMAP are listed as
Dovecot lists them (the flag is IMAP's; only DELE marks for POP3).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from twisted.internet import defer
from twisted.internet.interfaces import ITLSTransport
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger
from twisted.mail import pop3

from elektromail import oauth
from elektromail.admission import Connections
from elektromail.config import Settings
from elektromail.events import Event, ServerReset, UserDeleted, session_ended_by
from elektromail.lineends import crlf
from elektromail.metrics import UNKNOWN, Metrics
from elektromail.postoffice import PostOffice
from elektromail.postoffice.routing import MailboxRef
from elektromail.store.errors import StoreUnavailable
from elektromail.tcp import quick_ack, write_now
from elektromail.tls import TLSError, TLSMaterial, tls_failed

log = Logger()

AUTHORIZATION = "AUTHORIZATION"
TRANSACTION = "TRANSACTION"
BOTH = (AUTHORIZATION, TRANSACTION)

# RFC 2449 §4: a command line is at most 255 octets; a SASL response line may be far longer
# (RFC 5034 §4 sets no limit; a bearer token runs to kilobytes), so lines up to 16 KiB (SMTP's
# limit) are read. RFC 5034 §4 tells clients to send no initial response that would make AUTH
# longer than 255 octets, but clients with Microsoft's kilobyte tokens do: AUTH may be as long
# as a response line.
MAX_COMMAND = 255
MAX_LINE = 16384
# Dovecot's default pop3_uidl_format
UIDL_FORMAT = "%08X%08X"


class Fail(Exception):
    """Answer `-ERR [code] text`."""

    def __init__(self, text: str, code: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


# --- SASL (RFC 5034): mechanisms by name, so another module adds its own ----------------------


class SaslExchange:
    """What a mechanism sees: the challenges it sends and the post office's checks."""

    def __init__(self, protocol: POP3Server) -> None:
        self._protocol = protocol
        self.postoffice = protocol.factory.postoffice
        self.settings = protocol.factory.settings

    async def challenge(self, data: bytes) -> bytes:
        """Send `+ base64(data)` and return the client's decoded answer; `*` cancels
        (RFC 5034 §4: "-ERR" then)."""
        line = await self._protocol.read_line(b"+ " + binascii.b2a_base64(data, newline=False))
        if line.strip() == b"*":
            raise Fail("AUTH cancelled")
        return decode64(line)

    async def check_password(self, name: str, password: str):
        """The UserRow when the credentials are good, else None (namespaces and auth-disabled
        mode as IMAP's LOGIN)."""
        if not possible_user_name(name):
            return None
        password = password.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return await self.postoffice.authenticate(name, password)


# A mechanism: (exchange, initial response or None) -> the UserRow, or None when it fails.
Mechanism = Callable[[SaslExchange, "bytes | None"], Awaitable[object]]


@dataclass(frozen=True)
class MechanismEntry:
    run: Mechanism
    enabled: Callable[[Settings], bool]


MECHANISMS: dict[str, MechanismEntry] = {}


def register_mechanism(
    name: str, run: Mechanism, enabled: Callable[[Settings], bool] = lambda settings: True
) -> None:
    """Offer SASL mechanism `name` in CAPA's SASL line and AUTH, when `enabled(settings)`."""
    MECHANISMS[name.upper()] = MechanismEntry(run, enabled)


async def _plain(exchange: SaslExchange, initial: bytes | None):
    response = initial if initial is not None else await exchange.challenge(b"")
    pieces = response.split(b"\0")
    if len(pieces) != 3 or not pieces[1]:
        return None
    authzid, authcid, password = (p.decode("utf-8", "surrogateescape") for p in pieces)
    if authzid and authzid != authcid:
        return None
    return await exchange.check_password(authcid, password)


async def _login(exchange: SaslExchange, initial: bytes | None):
    name = initial if initial is not None else await exchange.challenge(b"Username:")
    password = await exchange.challenge(b"Password:")
    return await exchange.check_password(
        name.decode("utf-8", "surrogateescape"), password.decode("utf-8", "surrogateescape")
    )


def _oauth(mechanism: str) -> Mechanism:
    """XOAUTH2 or OAUTHBEARER through the protocol-neutral exchange; an error challenge is sent
    as `+ base64(json)` and the client's dummy answer ends in `-ERR [AUTH]` (RFC 7628 §3.2.3)."""

    async def run(exchange: SaslExchange, initial: bytes | None):
        attempt = oauth.Exchange(mechanism, exchange.postoffice.verify_bearer, "pop3")
        response = initial if initial is not None else await exchange.challenge(b"")
        while True:
            outcome = await attempt.respond(response)
            if isinstance(outcome, oauth.Success):
                return outcome.user
            if isinstance(outcome, oauth.Failure):
                return None
            response = await exchange.challenge(outcome.data)

    return run


register_mechanism("PLAIN", _plain)
register_mechanism("LOGIN", _login)
for _name in oauth.MECHANISMS:
    register_mechanism(_name, _oauth(_name), lambda settings: oauth.enabled(settings.oauth))


def decode64(data: bytes) -> bytes:
    if data.strip() == b"=":
        return b""
    try:
        return binascii.a2b_base64(data.strip(), strict_mode=True)
    except binascii.Error:
        raise Fail("Invalid base64 data") from None


def possible_user_name(name: str) -> bool:
    """Not empty, valid UTF-8, no control characters (as IMAP's LOGIN checks)."""
    return bool(name) and not any(c < " " or c == "\x7f" or "\udc80" <= c <= "\udcff" for c in name)


# --- the maildrop ----------------------------------------------------------------------------


@dataclass
class Message:
    uid: int
    size: int  # octets RETR sends, before dot-stuffing
    deleted: bool = False


def wire_form(raw: bytes) -> bytes:
    """The stored bytes as RETR sends them: bare LFs become CRLF (POP3 lines end in CRLF,
    RFC 1939 §3); nothing else changes."""
    return crlf(raw)


def dot_stuffed(data: bytes) -> bytes:
    """RFC 1939 §3: a line beginning with "." gets another; the text ends in CRLF."""
    stuffed = data.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    if stuffed and not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed


def top_of(data: bytes, lines: int) -> bytes:
    """RFC 1939 §7 TOP: the header, the blank line, and the first `lines` lines of the body."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return data
    head, body = data[: end + 4], data[end + 4 :]
    if lines == 0 or not body:
        return head
    parts = body.split(b"\r\n")
    kept = parts[:lines]
    text = b"\r\n".join(kept)
    if len(parts) > lines:
        text += b"\r\n"
    return head + text


class POP3Server(pop3.POP3):
    """One POP3 connection."""

    MAX_LENGTH = MAX_LINE
    delimiter = b"\n"  # LineOnlyReceiver; lineReceived drops the CR: a bare LF is a line end too

    def __init__(self, factory: POP3Factory, implicit_tls: bool = False) -> None:
        self.factory = factory
        self.state = AUTHORIZATION
        self.tls = implicit_tls
        self.user = None  # UserRow once authenticated
        self.pending_user: str | None = None  # USER given, PASS awaited
        self.mailbox: MailboxRef | None = None
        self.uidvalidity = 0
        self.messages: list[Message] = []
        self._queue: deque[bytes] = deque()
        self._busy = False
        self._line_waiter: defer.Deferred[bytes] | None = None
        self._closing = False
        self._locked_key: int | None = None
        self._discard_rest = False  # STLS: the plaintext lines read with it are dropped
        self._command_name = UNKNOWN  # the running command's, for GET /metrics
        self.magic = b"<%d.%d@%s>" % (
            os.getpid(),
            time.monotonic_ns(),
            socket.gethostname().encode(),
        )

    # --- the socket's events ------------------------------------------------------------------

    def connectionMade(self) -> None:
        if hasattr(self.transport, "setTcpNoDelay"):
            self.transport.setTcpNoDelay(True)
        self.setTimeout(self.factory.settings.imap_login_timeout)
        if not self.factory.connections.admit(self):
            self._reply(b"-ERR [SYS/TEMP] Too many connections, try again later")
            self._close()
            return
        self._reply(b"+OK elektromail POP3 ready " + self.magic)

    def connectionLost(self, reason=None) -> None:
        if tls_failed(reason):
            self.factory.metrics.error("tls_handshake")
        self.setTimeout(None)
        self._closing = True
        self.factory.connections.forget(self)
        self._unlock()
        if self._line_waiter is not None:
            waiter, self._line_waiter = self._line_waiter, None
            waiter.errback(Fail("connection lost"))

    def dataReceived(self, data: bytes) -> None:
        if self._closing:
            return
        self._discard_rest = False
        super().dataReceived(data)
        self._discard_rest = False
        if self._buffer or self._line_waiter is not None:
            quick_ack(self.transport)  # the rest of a command (or a SASL answer) is awaited

    def lineLengthExceeded(self, line: bytes) -> None:
        self._reply(b"-ERR Line too long")
        self._close()

    def timeoutConnection(self) -> None:
        if self._closing:
            self.transport.abortConnection()
            return
        # RFC 1939 §3: the autologout timer closes without entering the UPDATE state.
        self._reply(b"-ERR Autologout; idle for too long")
        self._close()

    def lineReceived(self, line: bytes) -> None:
        if self._closing or self._discard_rest:
            return
        self.resetTimeout()
        if line.endswith(b"\r"):
            line = line[:-1]
        if self._line_waiter is not None:
            waiter, self._line_waiter = self._line_waiter, None
            waiter.callback(line)
            return
        self._queue.append(line)  # RFC 2449 §6.6 PIPELINING: answered in order
        self._drain()

    # --- running commands one at a time ---------------------------------------------------------

    def _drain(self) -> None:
        while self._queue and not self._busy and not self._closing:
            line = self._queue.popleft()
            d = defer.Deferred.fromCoroutine(self._run(line))
            if not d.called:
                self._busy = True
                d.addBoth(self._resume)
                return

    def _resume(self, _: object) -> None:
        self._busy = False
        self._drain()

    async def _run(self, line: bytes) -> None:
        started = time.perf_counter()
        self._command_name = UNKNOWN  # until the command is found in the table
        try:
            await self._command(line)
        except Fail as e:
            code = f"[{e.code}] " if e.code else ""
            self._reply(f"-ERR {code}{e.text}".encode())
        except StoreUnavailable as e:
            # RFC 3206 SYS/TEMP: "a problem which is likely to be temporary in nature"
            log.warn("POP3 command refused: mail store unavailable: {why}", why=e)
            self.factory.metrics.error("store_unavailable")
            self._reply(b"-ERR [SYS/TEMP] Mail store temporarily unavailable, try again later")
        except Exception:
            log.failure("POP3 command failed")
            self.factory.metrics.error("command_failed")
            self._reply(b"-ERR [SYS/TEMP] Internal error")
        self.factory.command_times.observe(self._command_name, time.perf_counter() - started)

    async def _command(self, line: bytes) -> None:
        if len(line) > MAX_COMMAND and line[:5].upper() != b"AUTH ":
            raise Fail("Command line too long")
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            raise Fail("Command is not ASCII") from None
        words = text.split(" ")
        name = words[0].upper()
        args = words[1:]
        entry = COMMANDS.get(name)
        if entry is None or not name.isalpha():
            raise Fail("Unknown command")
        handler, states = entry
        self._command_name = name
        if self.state not in states:
            raise Fail("Not allowed now" if self.state == TRANSACTION else "Log in first")
        await handler(self, args)

    def read_line(self, prompt: bytes) -> defer.Deferred[bytes]:
        """Send `prompt` and fire with the client's next line (a SASL continuation)."""
        self._line_waiter = defer.Deferred()
        self._reply(prompt)
        if self._queue:  # pipelined ahead of the prompt
            self._line_waiter, waiter = None, self._line_waiter
            waiter.callback(self._queue.popleft())
            return waiter
        return self._line_waiter

    def _reply(self, line: bytes) -> None:
        write_now(self.transport, line + b"\r\n")

    def _ok(self, text: str = "") -> None:
        self._reply(b"+OK " + text.encode() if text else b"+OK")

    def end_session(self, text: str) -> None:
        """End a logged-in session whose maildrop is gone (a reset, its user deleted): one
        `-ERR [SYS/TEMP]` line, then the connection closes without the UPDATE state, so no
        DELE of the old maildrop acts on what replaced it."""
        if self._closing:
            return
        self._reply(b"-ERR [SYS/TEMP] " + text.encode())
        self._unlock()
        self._close()

    def ended_by(self, event: Event) -> str | None:
        """Why `event` ends this session (as IMAP's sessions), or None when it does not."""
        if self.user is None or self.state != TRANSACTION:
            return None
        return session_ended_by(event, self.user.name)

    def _close(self) -> None:
        self._closing = True
        self.transport.loseConnection()
        self.setTimeout(self.factory.settings.imap_login_timeout)

    # --- AUTHORIZATION ---------------------------------------------------------------------------

    def capabilities(self) -> list[bytes]:
        caps = [b"CAPA", b"TOP", b"UIDL", b"RESP-CODES", b"AUTH-RESP-CODE", b"PIPELINING"]
        caps += [b"EXPIRE NEVER", b"IMPLEMENTATION elektromail"]
        if self.state == AUTHORIZATION:
            caps.append(b"USER")
            mechanisms = [n for n, m in MECHANISMS.items() if m.enabled(self.factory.settings)]
            if mechanisms:
                caps.append(b"SASL " + " ".join(mechanisms).encode())
            if not self.tls and self.factory.tls_available():
                caps.append(b"STLS")
        return caps

    async def do_capa(self, args: list[str]) -> None:
        if args:
            raise Fail("CAPA takes no arguments")
        self._reply(
            b"+OK Capability list follows\r\n" + b"\r\n".join(self.capabilities()) + b"\r\n."
        )

    async def do_stls(self, args: list[str]) -> None:
        if args:
            raise Fail("STLS takes no arguments")
        if self.tls:
            raise Fail("TLS is already active")
        if not ITLSTransport.providedBy(self.transport) or not self.factory.tls_available():
            raise Fail("TLS is not available")
        if self.pending_user is not None:
            raise Fail("STLS is not allowed after USER")
        self._ok("Begin TLS negotiation now")
        self.transport.startTLS(self.factory.tls.options())
        self.tls = True
        # RFC 2595 §3.1 / RFC 3207 §4.2: what the client sent after STLS in plaintext is
        # discarded, as our SMTP and IMAP STARTTLS do.
        self._queue.clear()
        self._buffer = b""
        self._discard_rest = True

    async def do_user(self, args: list[str]) -> None:
        if len(args) != 1 or not args[0]:
            raise Fail("USER takes one name")
        self.pending_user = args[0]
        self._ok("Send PASS")

    async def do_pass(self, args: list[str]) -> None:
        if self.pending_user is None:
            raise Fail("USER first")
        name, self.pending_user = self.pending_user, None
        password = " ".join(args)  # RFC 1939 §7: a password may contain spaces
        user = await SaslExchange(self).check_password(name, password)
        await self._logged_in(user)

    async def do_apop(self, args: list[str]) -> None:
        if len(args) != 2:
            raise Fail("APOP takes a name and a digest")
        name, digest = args
        user = await self._apop_user(name, digest.lower())
        await self._logged_in(user)

    async def _apop_user(self, name: str, digest: str):
        """RFC 1939 §7: digest = MD5(greeting's timestamp + password), users having plain
        passwords; with auth disabled, any digest logs in."""
        if not possible_user_name(name):
            return None
        postoffice = self.factory.postoffice
        if self.factory.settings.auth_disabled:
            return await postoffice.authenticate(name, "")
        user = await postoffice.find_user(name)
        if user is None or user.password is None:
            return None
        expected = hashlib.md5(self.magic + user.password.encode()).hexdigest()
        return user if hmac.compare_digest(expected, digest) else None

    async def do_auth(self, args: list[str]) -> None:
        if not args:  # RFC 5034 §4 leaves it open; the mechanisms are listed as Dovecot does
            mechanisms = [n for n, m in MECHANISMS.items() if m.enabled(self.factory.settings)]
            self._reply(b"+OK\r\n" + b"".join(m.encode() + b"\r\n" for m in mechanisms) + b".")
            return
        if len(args) > 2:
            raise Fail("AUTH mechanism [initial-response]")
        entry = MECHANISMS.get(args[0].upper())
        if entry is None or not entry.enabled(self.factory.settings):
            raise Fail("Unsupported authentication mechanism")
        initial = decode64(args[1].encode()) if len(args) == 2 else None
        user = await entry.run(SaslExchange(self), initial)
        await self._logged_in(user)

    async def _logged_in(self, user) -> None:
        if user is None:
            raise Fail("Authentication failed", "AUTH")
        if not self.factory.lock(user.id):
            raise Fail("Maildrop is locked by another session", "IN-USE")
        self._locked_key = user.id
        try:
            await self._open_maildrop(user)
        except Exception:
            self._unlock()
            raise
        self.user = user
        self.state = TRANSACTION
        self.setTimeout(self.factory.settings.imap_timeout)
        count, size = self._totals()
        self._ok(f"Logged in, {count} messages ({size} octets)")

    async def _open_maildrop(self, user) -> None:
        postoffice = self.factory.postoffice
        mailbox = await postoffice.find_mailbox(user, "INBOX")
        if mailbox is None:
            raise Fail("No INBOX", "SYS/PERM")
        row, listed = await postoffice.mailbox_view(mailbox.id)
        uids = [uid for uid, _flags in listed]
        rows = await postoffice.fetch_messages(row.id, uids, raw=True) if uids else []
        self.messages = [Message(m.uid, len(wire_form(m.raw or b""))) for m in rows]
        self.mailbox = MailboxRef(user.name, row.name, row.id)
        self.uidvalidity = row.uidvalidity

    def _unlock(self) -> None:
        if self._locked_key is not None:
            self.factory.unlock(self._locked_key)
            self._locked_key = None

    async def do_quit(self, args: list[str]) -> None:
        if self.state == TRANSACTION:
            await self._update()
            return
        self._ok("Bye")
        self._close()

    # --- TRANSACTION -----------------------------------------------------------------------------

    def _totals(self) -> tuple[int, int]:
        live = [m for m in self.messages if not m.deleted]
        return len(live), sum(m.size for m in live)

    def _message(self, token: str) -> tuple[int, Message]:
        """RFC 1939 §5: a message number names a message of this session not marked deleted."""
        if not token.isdigit() or len(token) > 10:
            raise Fail("Invalid message number")
        number = int(token)
        if not 1 <= number <= len(self.messages):
            raise Fail("No such message")
        message = self.messages[number - 1]
        if message.deleted:
            raise Fail("Message is deleted")
        return number, message

    async def do_stat(self, args: list[str]) -> None:
        if args:
            raise Fail("STAT takes no arguments")
        count, size = self._totals()
        self._ok(f"{count} {size}")

    async def do_list(self, args: list[str]) -> None:
        if len(args) > 1:
            raise Fail("LIST [message]")
        if args:
            number, message = self._message(args[0])
            self._ok(f"{number} {message.size}")
            return
        count, size = self._totals()
        lines = [
            b"%d %d\r\n" % (i, m.size) for i, m in enumerate(self.messages, 1) if not m.deleted
        ]
        self._reply(b"+OK %d messages (%d octets)\r\n" % (count, size) + b"".join(lines) + b".")

    def _uidl(self, message: Message) -> bytes:
        return (UIDL_FORMAT % (message.uid, self.uidvalidity)).encode()

    async def do_uidl(self, args: list[str]) -> None:
        if len(args) > 1:
            raise Fail("UIDL [message]")
        if args:
            number, message = self._message(args[0])
            self._reply(b"+OK %d %s" % (number, self._uidl(message)))
            return
        lines = [
            b"%d %s\r\n" % (i, self._uidl(m))
            for i, m in enumerate(self.messages, 1)
            if not m.deleted
        ]
        self._reply(b"+OK\r\n" + b"".join(lines) + b".")

    async def _wire(self, message: Message) -> bytes:
        assert self.mailbox is not None
        rows = await self.factory.postoffice.fetch_messages(
            self.mailbox.id, [message.uid], raw=True
        )
        if not rows or rows[0].raw is None:
            raise Fail("Message was removed by another session", "SYS/PERM")
        return wire_form(rows[0].raw)

    async def do_retr(self, args: list[str]) -> None:
        if len(args) != 1:
            raise Fail("RETR message")
        _, message = self._message(args[0])
        data = await self._wire(message)
        self.transport.write(b"+OK %d octets\r\n" % len(data) + dot_stuffed(data) + b".\r\n")

    async def do_top(self, args: list[str]) -> None:
        if len(args) != 2:
            raise Fail("TOP message lines")
        _, message = self._message(args[0])
        if not args[1].isdigit() or len(args[1]) > 10:
            raise Fail("Invalid number of lines")
        data = await self._wire(message)
        self.transport.write(b"+OK\r\n" + dot_stuffed(top_of(data, int(args[1]))) + b".\r\n")

    async def do_dele(self, args: list[str]) -> None:
        if len(args) != 1:
            raise Fail("DELE message")
        number, message = self._message(args[0])
        message.deleted = True
        self._ok(f"Message {number} deleted")

    async def do_noop(self, args: list[str]) -> None:
        if args:
            raise Fail("NOOP takes no arguments")
        self._ok()

    async def do_rset(self, args: list[str]) -> None:
        if args:
            raise Fail("RSET takes no arguments")
        for message in self.messages:
            message.deleted = False
        count, size = self._totals()
        self._ok(f"{count} messages ({size} octets)")

    async def _update(self) -> None:
        """RFC 1939 §6: the UPDATE state removes the messages marked deleted, through the post
        office's expunge (selected IMAP sessions get EXPUNGE)."""
        assert self.mailbox is not None
        uids = [m.uid for m in self.messages if m.deleted]
        self._closing = True  # nothing is read after QUIT
        try:
            if uids:
                postoffice = self.factory.postoffice
                await postoffice.store_flags(self.mailbox, uids, "add", ["\\Deleted"])
                await postoffice.expunge(self.mailbox, uids)
        except Exception as e:
            if isinstance(e, StoreUnavailable):
                log.warn("POP3 UPDATE not done: mail store unavailable: {why}", why=e)
            else:
                log.failure("POP3 UPDATE failed")
            self._reply(b"-ERR [SYS/TEMP] Some deleted messages were not removed")
        else:
            self._ok(f"Bye, {len(uids)} messages removed")
        self._unlock()
        self.transport.loseConnection()
        self.setTimeout(self.factory.settings.imap_login_timeout)


Handler = Callable[[POP3Server, list[str]], Awaitable[None]]
COMMANDS: dict[str, tuple[Handler, tuple[str, ...]]] = {
    "CAPA": (POP3Server.do_capa, BOTH),
    "STLS": (POP3Server.do_stls, (AUTHORIZATION,)),
    "USER": (POP3Server.do_user, (AUTHORIZATION,)),
    "PASS": (POP3Server.do_pass, (AUTHORIZATION,)),
    "APOP": (POP3Server.do_apop, (AUTHORIZATION,)),
    "AUTH": (POP3Server.do_auth, (AUTHORIZATION,)),
    "QUIT": (POP3Server.do_quit, BOTH),
    "STAT": (POP3Server.do_stat, (TRANSACTION,)),
    "LIST": (POP3Server.do_list, (TRANSACTION,)),
    "UIDL": (POP3Server.do_uidl, (TRANSACTION,)),
    "RETR": (POP3Server.do_retr, (TRANSACTION,)),
    "TOP": (POP3Server.do_top, (TRANSACTION,)),
    "DELE": (POP3Server.do_dele, (TRANSACTION,)),
    "NOOP": (POP3Server.do_noop, (TRANSACTION,)),
    "RSET": (POP3Server.do_rset, (TRANSACTION,)),
}


class Maildrops:
    """The maildrop locks of RFC 1939 §8, shared by the POP3 and POP3S listeners."""

    def __init__(self) -> None:
        self._held: set[int] = set()

    def lock(self, user_id: int) -> bool:
        if user_id in self._held:
            return False
        self._held.add(user_id)
        return True

    def unlock(self, user_id: int) -> None:
        self._held.discard(user_id)


class POP3Factory(ServerFactory):
    """Builds one POP3Server per connection and remembers them, to close them at stop."""

    def __init__(
        self,
        postoffice: PostOffice,
        settings: Settings,
        tls: TLSMaterial,
        maildrops: Maildrops | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.postoffice = postoffice
        self.settings = settings
        self.tls = tls
        self.maildrops = maildrops if maildrops is not None else Maildrops()
        self.implicit_tls = implicit_tls
        # GET /metrics' counters (a stand-in post office of a unit test may have none)
        self.metrics: Metrics = getattr(postoffice, "metrics", None) or Metrics()
        self.command_times = self.metrics.commands("pop3")
        self.connections: Connections[POP3Server] = Connections(
            "POP3", settings.max_connections, self.metrics
        )
        self._unsubscribe = None

    def startFactory(self) -> None:
        self._unsubscribe = self.postoffice.events.subscribe(self._event)

    def stopFactory(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _event(self, event: Event) -> None:
        if not isinstance(event, (ServerReset, UserDeleted)):
            return
        for protocol in list(self.connections):
            text = protocol.ended_by(event)
            if text is not None:
                protocol.end_session(text)

    def tls_available(self) -> bool:
        try:
            self.tls.options()
        except TLSError:
            return False
        return True

    def lock(self, user_id: int) -> bool:
        return self.maildrops.lock(user_id)

    def unlock(self, user_id: int) -> None:
        self.maildrops.unlock(user_id)

    def buildProtocol(self, addr) -> POP3Server:
        return POP3Server(self, implicit_tls=self.implicit_tls)

    def close_connections(self) -> None:
        self.connections.close_all(lambda p: p.transport.loseConnection())
