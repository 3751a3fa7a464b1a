"""One IMAP connection, sans-I/O (as h11 is for HTTP): bytes in, responses out.

`Connection` owns the command reader, the queue of pipelined commands, dispatch through the
command table, the session and every response it writes; it reaches the socket only through
the `Peer` it is given (`IMAPServer` on a real connection, a recording fake in tests).
Commands run one at a time, in order: while one waits on the store, later ones queue
(pipelining, RFC 9051 §5.5).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Protocol

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from elektromail.imap import commands  # noqa: F401  (fills the command table)
from elektromail.imap import format as fmt
from elektromail.imap.commands.append import append_total_limit
from elektromail.imap.commands.state import capability_code
from elektromail.imap.dispatch import (
    TABLE,
    Bad,
    Done,
    No,
    Services,
    check_state,
    check_writable,
    lookup_command,
)
from elektromail.imap.reader import (
    CommandReader,
    Event,
    LineTooLong,
    LiteralTooBig,
    NeedContinuation,
    ParsedCommand,
    ParseError,
    RawLine,
)
from elektromail.imap.session import Session, State
from elektromail.metrics import UNKNOWN
from elektromail.postoffice.quotas import OverQuota
from elektromail.store.errors import StoreFull, StoreUnavailable

if TYPE_CHECKING:
    from types import TracebackType

log = Logger()

MAX_QUEUED = 64  # parsed commands waiting; beyond it reading is paused
FLUSH_AT = 64 * 1024
LITERAL_GO_AHEAD = "Ready for literal data"
TOO_MANY_CONNECTIONS = "Too many connections, try again later"
AUTOLOGOUT = "Autologout; idle for too long"


class Peer(Protocol):
    """What a Connection needs from the I/O side. Every call returns at once."""

    def send(self, data: bytes) -> None:
        """Write `data` to the client, in order."""

    def pause_reading(self) -> None:
        """Stop delivering client bytes (too many commands queued)."""

    def resume_reading(self) -> None:
        """Deliver client bytes again."""

    def can_start_tls(self) -> bool:
        """Whether this connection can switch to TLS (STARTTLS)."""

    def start_tls(self) -> None:
        """Switch to TLS now: what is sent next goes encrypted; the handshake's end is
        reported with `Connection.handshake_completed()`."""

    def close(self) -> None:
        """Close once what was sent is out (and end the connection if that never happens)."""

    def set_idle_timeout(self, seconds: float) -> None:
        """From now on, end the connection (`Connection.timed_out()`) after `seconds` without
        client input."""

    def begin_paced_output(self) -> None:
        """A long answer begins: until `end_paced_output()`, call
        `Connection.pause_writing()` when the client falls behind in reading and
        `Connection.resume_writing()` when it has caught up (or is gone)."""

    def end_paced_output(self) -> None:
        """The long answer is written."""


@dataclass(frozen=True)
class Refusal:
    """A command refused while its synchronising literal was announced: answered in turn,
    with no byte of the literal read."""

    tag: str | None
    status: str
    text: str
    code: str | None = None


class CommandContext:
    """The handler's view of the connection for one command (`dispatch.Context`)."""

    def __init__(self, connection: Connection, tag: str, name: str, uid: bool) -> None:
        self._connection = connection
        self.tag = tag
        self.name = name
        self.uid = uid
        self.session = connection.session
        self.services = connection.services

    @property
    def closed(self) -> bool:
        """The connection is gone (or going): nothing written reaches the client any more,
        so a long answer may stop early."""
        return self._connection.closed or self._connection.closing

    def write(self, data: bytes) -> None:
        self._connection.write(data)

    def paced(self) -> OutputPacing:
        """A context for a long answer: inside it, `await pacing.sent()` after each piece waits
        while the client is slower than the server, so the answer never piles up in memory."""
        return OutputPacing(self._connection)

    def continuation(self, text: str = "") -> None:
        # An empty text stays empty: it is the empty challenge of AUTHENTICATE PLAIN, "+ ".
        self._connection.write(fmt.continuation(text or b""))
        self._connection.flush()

    def push(self, data: bytes) -> None:
        """Write untagged responses now, not at the end of the command (IDLE)."""
        self._connection.write(data)
        self._connection.flush()

    def read_line(self) -> defer.Deferred[bytes]:
        return self._connection.read_line()

    def start_tls(self) -> None:
        """Start TLS once the tagged OK of this command is written (RFC 9051 §6.2.1)."""
        self._connection.request_tls()

    def unsolicited(self) -> Connection:
        """The connection itself, for what outlives the command (NOTIFY's notifications)."""
        return self._connection


class OutputPacing:
    """Back-pressure for one long answer (FETCH of many bodies), through the peer: paced only
    while the answer is written, since a paused answer would otherwise keep the connection
    from ever closing. The peer is asked to pace at the answer's first flush, not before: the
    pace follows what reaches the socket, and most answers (a FETCH of one message) reach it
    only with their tagged status, after the pacing ended."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def __enter__(self) -> OutputPacing:
        self._connection._pacing = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection = self._connection
        connection._pacing = False
        if connection._paced:
            connection._paced = False
            connection.peer.end_paced_output()
        connection.resume_writing()

    def sent(self) -> defer.Deferred[None]:
        """Fires at once while the client keeps up, or once it has read enough of what was
        written (which is then sent first)."""
        return self._connection.output_sent()


class Connection:
    """See the module docstring. The I/O side calls `greet()` (or `turn_away()`), then
    `feed()` with what arrives, and `connection_lost()` at the end."""

    def __init__(self, services: Services, peer: Peer, *, tls: bool = False) -> None:
        self.services = services
        self.peer = peer
        self._times = services.metrics.commands("imap")  # GET /metrics' command latencies
        self.session = Session(services.postoffice.events)
        self.session.oauth = services.settings.oauth != "off"
        self.session.tls = tls  # the port speaks TLS from the first byte (IMAPS)
        limit = services.settings.max_message_size
        self.reader = CommandReader(max_literal=limit, max_command=append_total_limit(limit))
        self._tls_requested = False
        self._queue: deque[Event | Refusal] = deque()
        self._busy = False
        self._draining = False
        self._reading_paused = False
        self._out: list[bytes] = []
        self._out_size = 0
        self._line_waiter: defer.Deferred[bytes] | None = None
        self._writing_paused = False
        self._write_waiter: defer.Deferred[None] | None = None
        self._pacing = False  # a paced answer is being written (OutputPacing)
        self._paced = False  # ... and the peer paces it: some of it was flushed
        self._closed = False
        self._closing = False  # said goodbye, or asked to close: nothing more is read
        # Called when the last queued command is done and none runs (NOTIFY pushes then)
        self.between_commands: Callable[[], None] | None = None

    # --- what the I/O side calls ------------------------------------------------------------

    @property
    def idle_timeout(self) -> float:
        """The inactivity timeout that applies now: the login timeout until a login
        succeeded, the session timeout after (RFC 9051 §5.4); `Peer.set_idle_timeout` is
        told when it changes."""
        settings = self.services.settings
        return settings.imap_login_timeout if self.session.user is None else settings.imap_timeout

    @property
    def closed(self) -> bool:
        """Nothing is written any more: the connection is gone, or its last words are said."""
        return self._closed

    @property
    def closing(self) -> bool:
        """A goodbye was written, or the close asked for: nothing more is read."""
        return self._closing

    @property
    def awaiting_rest(self) -> bool:
        """Part of a command arrived and the rest is awaited (see tcp.quick_ack)."""
        return self.reader.mid_command

    @property
    def busy(self) -> bool:
        """A command runs (IDLE too)."""
        return self._busy

    @property
    def waiting_for_line(self) -> bool:
        """The running command waits for a client line (IDLE's DONE, a SASL response)."""
        return self._line_waiter is not None

    def send_unsolicited(self, data: bytes) -> None:
        """Untagged responses no command asked for (RFC 5465 NOTIFY): out now between
        commands and while one waits for the client, else with the running command's answer."""
        if self._closed or self._closing or not data:
            return  # nothing after the goodbye
        self.write(data)
        if not self._busy or self._line_waiter is not None:
            self.flush()

    @property
    def waiting_for_client(self) -> bool:
        """A paced answer waits for the client to read what was sent."""
        return self._write_waiter is not None

    def greet(self) -> None:
        greeting = fmt.untagged_status(fmt.OK, "elektromail ready", capability_code(self.session))
        self.peer.send(greeting)

    def turn_away(self) -> None:
        """BYE as the greeting, and close: the connection was not admitted. RFC 9051 §7.1.5:
        "the server is not willing to accept a connection from this client"; RFC 5530 §3
        UNAVAILABLE: a temporary failure."""
        self._closed = True
        self.peer.send(fmt.untagged_status(fmt.BYE, TOO_MANY_CONNECTIONS, fmt.UNAVAILABLE))
        self.close()

    def feed(self, data: bytes) -> None:
        """Bytes from the client, in any chunking."""
        if self._closing:  # nothing more is read after the goodbye
            return
        self._accept(self.reader.feed(data))

    def timed_out(self) -> None:
        """The peer's idle timer ran out: say goodbye and close."""
        self._goodbye(fmt.untagged_status(fmt.BYE, AUTOLOGOUT))

    def end_session(self, text: str) -> None:
        """BYE [UNAVAILABLE] and close, because what the session stood on is gone (a reset,
        its user deleted). A command in flight finishes unseen: nothing is written after."""
        if self._closed:
            return
        self.flush()
        self.peer.send(fmt.untagged_status(fmt.BYE, text, fmt.UNAVAILABLE))
        self._closed = True
        self.close()

    def close(self) -> None:
        """Read nothing more, and close once what was written is sent."""
        self._closing = True
        self.peer.close()

    def handshake_completed(self) -> None:
        self.session.tls = True

    def pause_writing(self) -> None:
        """The client reads slower than the answer is written: a paced answer waits."""
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiter, self._write_waiter = self._write_waiter, None
        if waiter is not None:
            waiter.callback(None)

    def connection_lost(self) -> None:
        self._closed = True
        self.resume_writing()  # a paced answer stops waiting, and sees `closed`
        self.session.logout()
        self._queue.clear()
        waiter, self._line_waiter = self._line_waiter, None
        if waiter is not None:
            waiter.errback(ConnectionError("connection lost"))

    # --- input ------------------------------------------------------------------------------

    def _accept(self, events: list[Event]) -> None:
        """Route the reader's events: literal go-aheads at once, a continuation line (or its
        being too long) to the handler waiting for it, everything else into the queue."""
        for event in events:
            if type(event) is ParsedCommand:  # most events: straight into the queue
                self._queue.append(event)
            elif isinstance(event, NeedContinuation):
                self._literal_announced(event)
            elif isinstance(event, RawLine) and self._line_waiter is not None:
                waiter, self._line_waiter = self._line_waiter, None
                waiter.callback(event.data)
            elif isinstance(event, LineTooLong) and self._line_waiter is not None:
                # the line a handler waits for (a SASL response, DONE) was too long
                waiter, self._line_waiter = self._line_waiter, None
                waiter.errback(Bad("Line too long", fmt.TOOBIG))
            else:
                self._queue.append(event)
        if len(self._queue) > MAX_QUEUED and not self._reading_paused:
            self._reading_paused = True
            self.peer.pause_reading()
        self._drain()

    def _literal_announced(self, event: NeedContinuation) -> None:
        """Say "+" to a synchronising literal, or refuse its command before a byte of it is
        sent: an APPEND over max_message_size, or (when nothing is in flight that could change
        the state) a command unknown or not valid in this state."""
        refusal = self._literal_refusal(event)
        if refusal is not None and self._reject_literal():
            self._queue.append(refusal)
        else:
            self.peer.send(fmt.continuation(LITERAL_GO_AHEAD))

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
            return Refusal(event.tag, fmt.NO, f"Message too big (limit {limit} bytes)", fmt.TOOBIG)
        if self._busy or self._queue or event.name in (None, "UID"):
            return None
        spec = TABLE.lookup(event.name)
        if spec is None:
            return Refusal(event.tag, fmt.BAD, f"Unknown command {event.name}")
        try:
            check_state(spec, self.session)
        except Bad as e:
            return Refusal(event.tag, fmt.BAD, e.text, e.code)
        return None

    def read_line(self) -> defer.Deferred[bytes]:
        """The next line the client sends, raw (a SASL response, IDLE's DONE)."""
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
                # A command straight into its coroutine: one layer less to resume after each
                # store round trip.
                if isinstance(event, ParsedCommand):
                    self._step(self._run_command(event))
                else:
                    self._step(self._handle(event))
        finally:
            self._draining = False
        if self._reading_paused and len(self._queue) < MAX_QUEUED // 2 and not self._closed:
            self._reading_paused = False
            self.peer.resume_reading()

    def _step(self, work: Coroutine[object, object, None], result: object = None) -> None:
        """Run the command's coroutine until it waits on a Deferred (a store round trip), or
        to its end. What Deferred.fromCoroutine does, without its Deferred, cancellation
        bookkeeping and contextvars copy around every command: most commands (NOOP, a FETCH
        of a message read on the reactor thread, SEARCH of flags) never wait at all."""
        try:
            if isinstance(result, Failure):  # what the awaited Deferred failed with, raised
                waiting = result.throwExceptionIntoGenerator(work)
            else:
                waiting = work.send(result)
            while not isinstance(waiting, defer.Deferred):  # a bare yield: go on, as Twisted does
                waiting = work.send(waiting)
        except StopIteration:
            self._finished(None)
        except BaseException:
            self._failed(Failure())
        else:
            waiting.addBoth(self._resume, work)

    def _resume(self, result: object, work: Coroutine[object, object, None]) -> None:
        self._step(work, result)  # the failure, if any, is the coroutine's now: not logged

    def _logged_out(self) -> bool:
        return self.session.state is State.LOGOUT

    def _finished(self, _result: object) -> None:
        self._busy = False
        if self.reader.paused and not self._queue and not self._closed:
            # The reader stops after AUTHENTICATE, IDLE and STARTTLS, which are then the last
            # queued command: it resumes when they are done, not when an earlier one is.
            self._accept(self.reader.resume())
        self._drain()
        hook = self.between_commands
        if hook is not None and not self._busy and not self._queue and not self._closed:
            hook()

    def _failed(self, failure: object) -> None:
        self._internal_error(failure)
        self._finished(None)

    def _internal_error(self, failure: object) -> None:
        log.failure("IMAP session failed", failure)
        self.services.metrics.error("command_failed")
        if not self._closed:
            self._goodbye(fmt.untagged_status(fmt.BYE, "Internal server error"))

    # --- output -----------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue response bytes; they go out at the end of the command, or in 64 KiB pieces."""
        if data:
            self._out.append(data)
            self._out_size += len(data)
            if self._out_size >= FLUSH_AT:
                self.flush()

    def flush(self) -> None:
        if self._out and not self._closed:
            if self._pacing and not self._paced:
                self._paced = True
                self.peer.begin_paced_output()
            self.peer.send(b"".join(self._out))
        self._out.clear()
        self._out_size = 0

    def output_sent(self) -> defer.Deferred[None]:
        """Fires at once while the client keeps up: what is written waits for the next flush
        (FLUSH_AT bytes, or the command's end, so that a short answer and its tagged status
        leave in one write). While a paced answer is ahead of the client, flush and fire once
        the client has caught up."""
        if not self._writing_paused or self._closed:
            return defer.succeed(None)
        self.flush()
        self._write_waiter = defer.Deferred()
        return self._write_waiter

    def _reply(self, tag: str | None, status: str, text: str, code: str | None = None) -> None:
        self.write(fmt.tagged(tag, status, text, code))

    def _goodbye(self, line: bytes) -> None:
        """Write what is pending and `line` (an untagged BYE), then close."""
        self.flush()
        self.peer.send(line)
        self.close()

    # --- events from the reader -------------------------------------------------------------

    async def _handle(self, event: Event | Refusal) -> None:
        """Anything but a command (those go to `_run_command`)."""
        if isinstance(event, ParseError):
            self._reply(event.tag, fmt.BAD, event.message)
        elif isinstance(event, LineTooLong):
            self._reply(event.tag, fmt.BAD, "Line too long", fmt.TOOBIG)
        elif isinstance(event, LiteralTooBig):
            limit = self.reader.max_literal
            if event.fatal:
                self._goodbye(fmt.untagged_status(fmt.BYE, "Literal too big", fmt.TOOBIG))
            elif event.whole_command:
                total = self.reader.max_command
                text = f"Command too big (limit {total} bytes in one command)"
                self._reply(event.tag, fmt.NO, text, fmt.TOOBIG)
            else:
                text = f"Literal too big (limit {limit} bytes)"
                self._reply(event.tag, fmt.NO, text, fmt.TOOBIG)
        elif isinstance(event, Refusal):
            self._reply(event.tag, event.status, event.text, event.code)
        elif isinstance(event, RawLine):
            self._reply(None, fmt.BAD, "Unexpected continuation data")
        self.flush()

    async def _run_command(self, parsed: ParsedCommand) -> None:
        """Run one command and write its answer; what it wrote goes out at its end (an
        exception goes to `_failed`, whose goodbye writes what is pending)."""
        started = perf_counter()
        tag = parsed.tag
        try:
            spec, name, args, uid = lookup_command(parsed.name, parsed.args)
        except Bad as e:
            self._reply(tag, fmt.BAD, e.text, e.code)
            self.flush()
            self._times.observe(UNKNOWN, perf_counter() - started)
            return
        ctx = CommandContext(self, tag, name, uid)
        before = self.session.state
        try:
            check_state(spec, self.session)
            request = args if spec.parse is None else spec.parse(ctx, args)
            check_writable(spec, self.session)
            done = await spec.handler(ctx, request) or Done()
            status, text, code = fmt.OK, done.text or f"{name} completed", done.code
        except (Bad, No) as e:
            status, text, code = (fmt.BAD if isinstance(e, Bad) else fmt.NO), e.text, e.code
        except ConnectionError:
            self.flush()
            return
        except StoreUnavailable as e:
            status, text, code = fmt.NO, *_store_failure(name, e)
            self.services.metrics.error("store_unavailable")
        except OverQuota:
            # RFC 9208 §4.3.1, for APPEND, COPY and what else adds mail; Dovecot's words
            status, text, code = fmt.NO, "Quota exceeded (mailbox for user is full)", fmt.OVERQUOTA
        except Exception:
            log.failure("IMAP command {name} failed", name=name)
            self.services.metrics.error("command_failed")
            status, text, code = fmt.NO, "Internal server error", fmt.SERVERBUG
        if self._closed:
            self.flush()
            return
        if self.session.state is not State.LOGOUT:
            settling = self.session.settled()
            if settling is not None:
                await settling
                if self._closed:
                    self.flush()
                    return
            self.write(self.session.updates(allow_expunge=spec.allows_expunge))
            if self.session.contexts:
                self.write(await self._context_updates())
        self._reply(tag, status, text, code)
        self._after(before)
        if self._tls_requested:
            self._start_tls(accepted=status == fmt.OK)
        self.flush()
        self._times.observe(name, perf_counter() - started)

    async def _context_updates(self) -> bytes:
        """The SEARCH RETURN (UPDATE) notifications the command's changes cause (RFC 5267
        §4.3); a search that fails now (the store away) is told next time instead."""
        try:
            return await self.session.context_updates()
        except StoreUnavailable:
            return b""

    def request_tls(self) -> None:
        """STARTTLS: switch once its tagged OK is written."""
        if not self.peer.can_start_tls():
            raise No("TLS is not available on this connection", fmt.UNAVAILABLE)
        self._tls_requested = True

    def _start_tls(self, *, accepted: bool) -> None:
        """After STARTTLS's tagged OK: switch the peer to TLS and drop whatever plaintext
        followed the command (no command injection, CVE-2011-0411): the client must send
        nothing until it has seen the OK, and everything after it is TLS."""
        self._tls_requested = False
        if not accepted or self._closed:
            return
        self.flush()
        self.peer.start_tls()
        dropped = self.reader.discard_buffered()
        if dropped:
            log.info("dropped {count} plaintext bytes sent after STARTTLS", count=dropped)

    def _after(self, before: State) -> None:
        state = self.session.state
        if state is State.LOGOUT:
            self.flush()
            self.close()
        elif before is State.NOT_AUTHENTICATED and state is State.AUTHENTICATED:
            self.peer.set_idle_timeout(self.idle_timeout)


def _store_failure(name: str, error: StoreUnavailable) -> tuple[str, str]:
    """The text and response code of a command the store could not carry out (RFC 5530 §3):
    OVERQUOTA when the disk or database is full (as Dovecot answers "Not enough disk space"),
    UNAVAILABLE when it is read-only or failing. Nothing was changed; the client may retry."""
    log.warn("IMAP {name} refused: mail store unavailable: {why}", name=name, why=error)
    if isinstance(error, StoreFull):
        return "Not enough disk space, try again later", fmt.OVERQUOTA
    return "Mail store temporarily unavailable, try again later", fmt.UNAVAILABLE
