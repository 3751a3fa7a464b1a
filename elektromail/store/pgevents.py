"""Events across processes and hosts that share one PostgreSQL store: LISTEN/NOTIFY.

Each process keeps one connection of its own (not the store's) on which it LISTENs to the
channel `elektromail_events`. Every event its hub publishes (elektromail/events.py) is sent on
that channel with NOTIFY, after the store's transaction has committed (the post office
publishes only then), so nothing is announced that another process could not read yet. Every
other process hears it and publishes it again in its own hub: a change made by another
process's session is an ordinary unsolicited change there (origin None), and a MessageAdded is
marked `remote`, so that what happens once per message (webhooks, retention) happens only in
the process that stored it. The sender does not hear its own notifications back: PostgreSQL
names the backend that sent each one, and that is this connection's.

The connection is libpq's, non-blocking, and its socket is watched by the reactor (an
IReadWriteDescriptor): a notification is read when it arrives, with no thread and no polling.

A NOTIFY payload holds at most 8000 bytes. A larger event (a FlagsChanged or an expunge of
thousands of UIDs) is cut into parts of PART characters, all sent in one simple query, which
PostgreSQL runs as one transaction: the parts arrive together, in order, and never
interleaved with another sender's, so the receiver joins them by sender and number. Parts
rather than a table of payloads: nothing to clean up, no schema change, and a transaction's
notifications are delivered atomically anyway. Every payload starts with a fresh number, since
PostgreSQL folds identical payloads of one transaction into one.

Payload: `e1 <number> <part> <parts> <json>`; anything else on the channel (another client's
NOTIFY, garbage) is ignored with a warning.

When the connection is lost, one warning is logged and it is made again with a backoff (0.5 s
doubling to 30 s); events published meanwhile wait (up to MAX_WAITING) and go out once it is
back. Then every local consumer is told EventsMissed (selected IMAP views read their mailbox
again) and so is every other process, which may have missed this one's.
"""

from __future__ import annotations

import itertools
import json
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import defer, threads
from twisted.internet.interfaces import IReadWriteDescriptor
from twisted.logger import Logger
from zope.interface import implementer

from elektromail.events import (
    Event,
    Events,
    EventsMissed,
    FlagsChanged,
    MailboxNameChanged,
    MessageAdded,
    MessagesExpunged,
    ServerReset,
    SubscriptionChanged,
    UserDeleted,
)

log = Logger()

CHANNEL = "elektromail_events"
VERSION = "e1"
PART = 7900  # characters of JSON per payload (ASCII), below NOTIFY's 8000 bytes with the header
MAX_PARTS = 4096  # about 32 MB: an event larger than that is not sent (logged)
MAX_WAITING = 100_000  # events kept while the connection is away; older ones are dropped
MAX_QUERY = 1 << 20  # characters per query of NOTIFYs: a burst goes out in several
RETRY_FIRST = 0.5
RETRY_MOST = 30.0
DRAIN_SECONDS = 2.0  # at stop, how long events not yet sent may take to go
WARN_EVERY = 1.0  # seconds between warnings about ignored notifications


# --- the payload ------------------------------------------------------------------------------


def encode(event: Event) -> dict[str, Any] | None:
    """The JSON object for `event` (None: an event that does not cross processes)."""
    if isinstance(event, MessageAdded):
        return {
            "t": "added",
            "user": event.user,
            "mailbox": event.mailbox,
            "mailbox_id": event.mailbox_id,
            "uid": event.uid,
            "flags": list(event.flags),
            "source": event.source,
        }
    if isinstance(event, FlagsChanged):
        return {
            "t": "flags",
            "user": event.user,
            "mailbox": event.mailbox,
            "mailbox_id": event.mailbox_id,
            "changes": [[uid, list(flags)] for uid, flags in event.changes],
            "modseqs": list(event.modseqs),
        }
    if isinstance(event, MessagesExpunged):
        return {
            "t": "expunged",
            "user": event.user,
            "mailbox": event.mailbox,
            "mailbox_id": event.mailbox_id,
            "uids": list(event.uids),
        }
    if isinstance(event, MailboxNameChanged):
        return {
            "t": "name",
            "user": event.user,
            "name": event.name,
            "exists": event.exists,
            "old_name": event.old_name,
        }
    if isinstance(event, SubscriptionChanged):
        return {
            "t": "subscription",
            "user": event.user,
            "name": event.name,
            "subscribed": event.subscribed,
        }
    if isinstance(event, UserDeleted):
        return {"t": "user_deleted", "user": event.user}
    if isinstance(event, ServerReset):
        return {"t": "reset", "users": None if event.users is None else sorted(event.users)}
    return None


class BadPayload(ValueError):
    pass


def _str(obj: dict, key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise BadPayload(f"{key}: not a string")
    return value


def _int(obj: dict, key: str) -> int:
    return _number(obj.get(key), key)


def _number(value: object, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 63:
        raise BadPayload(f"{key}: not a number")
    return value


def _bool(obj: dict, key: str) -> bool:
    value = obj.get(key)
    if not isinstance(value, bool):
        raise BadPayload(f"{key}: not true or false")
    return value


def _strs(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadPayload(f"{key}: not a list of strings")
    return tuple(value)


def _numbers(value: object, key: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise BadPayload(f"{key}: not a list")
    return tuple(_number(v, key) for v in value)


def decode(obj: object) -> Event | EventsMissed:
    """The event of a JSON object `encode` made; BadPayload for anything else."""
    if not isinstance(obj, dict):
        raise BadPayload("not an object")
    kind = obj.get("t")
    if kind == "added":
        return MessageAdded(
            _str(obj, "user"),
            _str(obj, "mailbox"),
            _int(obj, "mailbox_id"),
            _int(obj, "uid"),
            _strs(obj.get("flags"), "flags"),
            _str(obj, "source"),
            remote=True,
        )
    if kind == "flags":
        changes = obj.get("changes")
        if not isinstance(changes, list) or not all(
            isinstance(c, list) and len(c) == 2 for c in changes
        ):
            raise BadPayload("changes: not a list of [uid, flags]")
        modseqs = _numbers(obj.get("modseqs"), "modseqs")
        if modseqs and len(modseqs) != len(changes):
            raise BadPayload("modseqs: not one per change")
        return FlagsChanged(
            _str(obj, "user"),
            _str(obj, "mailbox"),
            _int(obj, "mailbox_id"),
            tuple((_number(uid, "uid"), _strs(flags, "flags")) for uid, flags in changes),
            None,
            modseqs,
        )
    if kind == "expunged":
        return MessagesExpunged(
            _str(obj, "user"),
            _str(obj, "mailbox"),
            _int(obj, "mailbox_id"),
            _numbers(obj.get("uids"), "uids"),
        )
    if kind == "name":
        old = obj.get("old_name")
        if old is not None and not isinstance(old, str):
            raise BadPayload("old_name: not a string")
        return MailboxNameChanged(_str(obj, "user"), _str(obj, "name"), _bool(obj, "exists"), old)
    if kind == "subscription":
        return SubscriptionChanged(_str(obj, "user"), _str(obj, "name"), _bool(obj, "subscribed"))
    if kind == "user_deleted":
        return UserDeleted(_str(obj, "user"))
    if kind == "reset":
        users = obj.get("users")
        return ServerReset(None if users is None else frozenset(_strs(users, "users")))
    if kind == "missed":
        return EventsMissed()
    raise BadPayload(f"unknown kind {kind!r}")


def payloads(obj: dict[str, Any], number: int) -> list[str]:
    """The NOTIFY payloads that carry `obj`: `e1 <number> <part> <parts> <json part>`."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=True)
    parts = [text[i : i + PART] for i in range(0, len(text), PART)] or [""]
    return [f"{VERSION} {number} {i} {len(parts)} {part}" for i, part in enumerate(parts)]


@dataclass
class _Joining:
    """The parts heard so far of one sender's event."""

    number: int
    parts: int
    texts: list[str] = field(default_factory=list)


def _quote(text: str) -> str:
    """An escape string constant: read the same whatever standard_conforming_strings says
    (JSON has backslashes: a flag's, an escaped quote)."""
    return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


# --- the connection ---------------------------------------------------------------------------


def _open(conninfo: str):
    """In a thread: libpq's connection, LISTENing, made non-blocking for the reactor."""
    from psycopg import pq

    conn = pq.PGconn.connect(conninfo.encode())
    if conn.status != pq.ConnStatus.OK:
        detail = " ".join(conn.get_error_message().split())
        conn.finish()
        raise ConnectionError(detail)
    result = conn.exec_(f"LISTEN {CHANNEL}".encode())
    if result.status != pq.ExecStatus.COMMAND_OK:
        detail = " ".join(conn.get_error_message().split())
        conn.finish()
        raise ConnectionError(detail)
    conn.nonblocking = 1
    return conn


def conninfo_of(url: str) -> str:
    """The store's URL with a connect timeout and TCP keepalives, so that a database host
    that vanishes is noticed."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(
        url, connect_timeout=10, keepalives=1, keepalives_idle=10, keepalives_interval=5
    )


@implementer(IReadWriteDescriptor)
class ClusterEvents:
    """The bridge between this process's hub and the channel (see the module's text).
    `on_remote` is called with each event heard from another process before it is published
    here (the post office forgets what it makes stale)."""

    def __init__(
        self,
        url: str,
        events: Events,
        reactor,
        on_remote: Callable[[Event | EventsMissed], None] | None = None,
        open_connection: Callable[[str], Any] | None = None,
    ) -> None:
        self.conninfo = conninfo_of(url)
        self.events = events
        self.reactor = reactor
        self.on_remote = on_remote
        self._open_connection = open_connection  # None: _open (tests: one that fails)
        self._conn = None
        # A duplicate of the connection's socket, which the reactor watches: libpq closes its
        # own when the server goes away, before the reactor could be told to stop watching it.
        self._fd = -1
        self._waiting: deque[list[str]] = deque()  # each event's payloads, not sent yet
        self._in_flight = False
        self._writing = False
        self._send_soon = False
        self._republishing = False
        self._numbers = itertools.count(1)
        self._joining: dict[int, _Joining] = {}
        self._retry_delay = RETRY_FIRST
        self._retry_call = None
        self._connecting: defer.Deferred | None = None
        self._stopped = False
        self._lost = False  # the warning was logged: the next connection tells of missed events
        self._drained: list[defer.Deferred] = []
        self._on_connect: list[defer.Deferred] = []
        self._warned_at = float("-inf")
        self._unwarned = 0
        self.sent = 0  # events sent
        self.heard = 0  # events heard from other processes
        self.ignored = 0  # notifications on the channel that were not ours
        self.dropped = 0  # events not sent: too many waited while the connection was away
        self._unsubscribe = events.subscribe(self._on_local)
        events.shared = True

    # --- start and stop -------------------------------------------------------------------

    def start(self) -> defer.Deferred:
        """Connect and LISTEN; fires once the first attempt is over (a failed one is retried
        in the background, with a warning)."""
        return self._connect()

    async def stop(self) -> None:
        """Send what waits (for DRAIN_SECONDS at most), then close."""
        self._stopped = True
        self._unsubscribe()
        if self._retry_call is not None and self._retry_call.active():
            self._retry_call.cancel()
        if self._conn is not None and (self._waiting or self._in_flight):
            drained: defer.Deferred = defer.Deferred()
            self._drained.append(drained)
            timer = self.reactor.callLater(DRAIN_SECONDS, drained.callback, None)
            await drained
            if timer.active():
                timer.cancel()
        if self._connecting is not None:
            await self._connecting
        self._close()

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def when_connected(self) -> defer.Deferred:
        """Fires once the connection is there (at once when it is)."""
        if self._conn is not None:
            return defer.succeed(None)
        d: defer.Deferred = defer.Deferred()
        self._on_connect.append(d)
        return d

    # --- connecting ------------------------------------------------------------------------

    def _connect(self) -> defer.Deferred:
        self._retry_call = None
        d = threads.deferToThreadPool(
            self.reactor,
            self.reactor.getThreadPool(),
            self._open_connection or _open,
            self.conninfo,
        )
        self._connecting = d
        d.addCallbacks(self._connected, self._failed)
        return d

    def _connected(self, conn) -> None:
        self._connecting = None
        if self._stopped:
            conn.finish()
            return
        self._conn = conn
        self._fd = os.dup(conn.socket)
        self._retry_delay = RETRY_FIRST
        self.reactor.addReader(self)
        if self._lost:
            self._lost = False
            log.info("events: connected to PostgreSQL again; views read their mailboxes again")
            # this process may have missed others' events, and they this one's
            self._waiting.appendleft(payloads({"t": "missed"}, next(self._numbers)))
            self._publish_here(EventsMissed())
        self._send_waiting()
        waiting, self._on_connect = self._on_connect, []
        for d in waiting:
            d.callback(None)

    def _failed(self, failure) -> None:
        self._connecting = None
        if self._stopped:
            return
        if not self._lost:
            self._lost = True
            log.warn(
                "events: cannot connect to PostgreSQL to hear other processes ({reason});"
                " trying again",
                reason=failure.getErrorMessage(),
            )
        self._retry_later()

    def _retry_later(self) -> None:
        delay, self._retry_delay = self._retry_delay, min(self._retry_delay * 2, RETRY_MOST)
        self._retry_call = self.reactor.callLater(delay, self._connect)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        self.reactor.removeReader(self)
        if self._writing:
            self.reactor.removeWriter(self)
            self._writing = False
        os.close(self._fd)
        self._fd = -1
        self._in_flight = False
        conn.finish()
        self._joining.clear()
        self._drain_done()

    def _connection_lost(self, reason: str) -> None:
        self._close()
        if self._stopped:
            return
        if not self._lost:
            self._lost = True
            log.warn(
                "events: lost the PostgreSQL connection that hears other processes ({reason});"
                " reconnecting",
                reason=reason,
            )
        self._retry_later()

    # --- IReadWriteDescriptor ----------------------------------------------------------------

    def fileno(self) -> int:
        return self._fd

    def logPrefix(self) -> str:
        return "pgevents"

    def connectionLost(self, reason) -> None:
        if self._conn is not None:
            self._connection_lost(reason.getErrorMessage())

    def doRead(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            conn.consume_input()
            self._take_results(conn)
            while (heard := conn.notifies()) is not None:
                self._heard(heard.be_pid, heard.relname, heard.extra)
                if self._conn is not conn:
                    return
        except Exception as e:  # psycopg.OperationalError: the server went away
            self._connection_lost(" ".join(str(e).split()) or type(e).__name__)
            return
        self._send_waiting()

    def doWrite(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            more = conn.flush()
        except Exception as e:
            self._connection_lost(" ".join(str(e).split()) or type(e).__name__)
            return
        if not more and self._writing:
            self.reactor.removeWriter(self)
            self._writing = False

    # --- sending ---------------------------------------------------------------------------

    def _on_local(self, event: Event) -> None:
        if self._republishing:
            return  # heard from another process: not sent back
        obj = encode(event)
        if obj is None:
            return
        parts = payloads(obj, next(self._numbers))
        if len(parts) > MAX_PARTS:
            log.warn(
                "events: {kind} too large to send to other processes ({size} parts)",
                kind=type(event).__name__,
                size=len(parts),
            )
            return
        if len(self._waiting) >= MAX_WAITING:
            self._waiting.popleft()
            self.dropped += 1
        self._waiting.append(parts)
        self.sent += 1
        if self._conn is not None and not self._in_flight and not self._send_soon:
            # at the end of the reactor turn: a burst of events goes in one query
            self._send_soon = True
            self.reactor.callLater(0, self._send_waiting)

    def _send_waiting(self) -> None:
        self._send_soon = False
        conn = self._conn
        if conn is None or self._in_flight:
            return
        if not self._waiting:
            self._drain_done()
            return
        statements: list[str] = []
        size = 0
        while self._waiting and (size < MAX_QUERY or not statements):
            for payload in self._waiting.popleft():
                statement = f"NOTIFY {CHANNEL}, {_quote(payload)};"
                statements.append(statement)
                size += len(statement)
        try:
            conn.send_query("".join(statements).encode())
            self._in_flight = True
            if conn.flush() and not self._writing:
                self._writing = True
                self.reactor.addWriter(self)
        except Exception as e:
            self._connection_lost(" ".join(str(e).split()) or type(e).__name__)

    def _take_results(self, conn) -> None:
        from psycopg import pq

        while self._in_flight and not conn.is_busy():
            result = conn.get_result()
            if result is None:
                self._in_flight = False
                break
            if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
                message = (result.error_message or b"").decode(errors="replace")
                log.warn("events: NOTIFY failed: {reason}", reason=" ".join(message.split()))

    def _drain_done(self) -> None:
        if not self._waiting and not self._in_flight:
            drained, self._drained = self._drained, []
            for d in drained:
                if not d.called:
                    d.callback(None)

    # --- hearing ---------------------------------------------------------------------------

    def _heard(self, sender: int, channel: bytes, extra: bytes) -> None:
        conn = self._conn
        if conn is not None and sender == conn.backend_pid:
            return  # this process's own
        try:
            text = extra.decode("ascii")
            version, number, part, parts, rest = text.split(" ", 4)
            if version != VERSION:
                raise BadPayload("not elektromail's")
            number, part, parts = int(number), int(part), int(parts)
            if not (0 <= part < parts <= MAX_PARTS):
                raise BadPayload("bad part numbers")
        except (UnicodeDecodeError, ValueError) as e:
            self._ignore(sender, str(e) or "malformed")
            return
        joining = self._joining.get(sender)
        if part == 0:
            if joining is not None:
                self._ignore(sender, "an event cut short")
            joining = self._joining[sender] = _Joining(number, parts)
        elif (
            joining is None
            or joining.number != number
            or joining.parts != parts
            or len(joining.texts) != part
        ):
            self._joining.pop(sender, None)
            self._ignore(sender, "a part out of order")
            return
        joining.texts.append(rest)
        if len(joining.texts) < parts:
            return
        del self._joining[sender]
        try:
            event = decode(json.loads("".join(joining.texts)))
        except (ValueError, RecursionError) as e:  # json's errors and BadPayload
            self._ignore(sender, str(e) or "malformed")
            return
        self.heard += 1
        self._publish_here(event, remote=True)

    def _publish_here(self, event: Event | EventsMissed, remote: bool = False) -> None:
        if remote and self.on_remote is not None:
            try:
                self.on_remote(event)
            except Exception:
                log.failure("events: handling a remote {event!r} failed", event=event)
        self._republishing = True
        try:
            self.events.publish(event)
        finally:
            self._republishing = False

    def _ignore(self, sender: int, why: str) -> None:
        self.ignored += 1
        now = self.reactor.seconds()
        if now - self._warned_at < WARN_EVERY:
            self._unwarned += 1
            return
        self._warned_at = now
        unwarned, self._unwarned = self._unwarned, 0
        log.warn(
            "events: ignored a notification on {channel} from backend {pid}: {why}"
            " ({unwarned} more ignored since the last warning)",
            channel=CHANNEL,
            pid=sender,
            why=why[:200],
            unwarned=unwarned,
        )
