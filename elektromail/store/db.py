"""The store: the only place that speaks SQL. Every public method returns a Deferred.

One adbapi connection (cp_min = cp_max = 1) on one thread of its own (lane.py): with
":memory:" each pool thread would otherwise get its own empty database, and SQLite serialises
writers anyway. Each method is one interaction, so one transaction: it commits before the
Deferred fires.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from elektromail.flags import normalize_flags
from elektromail.mailtext import index_from_json
from elektromail.store.arrivals import NEXT_MESSAGE_ID
from elektromail.store.dialect import (
    DELIVER_ONE,
    GROUP_LOCK,
    NO_LIMIT,
    POSTGRESQL,
    SQLITE,
    dialect_of,
    is_postgresql_url,
)
from elektromail.store.errors import (
    MailboxExists,
    MailboxHasChildren,
    MailboxIntoItself,
    NoSuchMailbox,
    StoreError,
    StoreUnavailable,
    UserExists,
    conflict,
    unavailable,
)
from elektromail.store.ids import NEW_EMAILID
from elektromail.store.lane import StorePool
from elektromail.store.mailboxes import (
    _MAILBOX_COLS,
    MailboxCounts,
    MailboxListing,
    MailboxRow,
    Renamed,
    _create_mailbox,
    _create_mailbox_path,
    _delete_mailbox,
    _ensure_mailboxes,
    _get_mailbox,
    _list_mailboxes,
    _mailbox,
    _mailbox_listing,
    _mailbox_status,
    _rename_mailbox,
    _subscribe,
    _unsubscribe,
)
from elektromail.store.memory import release_freed_memory
from elektromail.store.modseq import next_modseq
from elektromail.store.pending import (
    WAITING,
    any_unparsed,
    parse_bodies,
    parse_for,
    parse_in_memory,
    parse_some,
    render_envelopes,
)
from elektromail.store.rows import PreparedMessage, Render, Rendered, RenderEnvelope
from elektromail.store.schema import prepare_connection, prepare_postgresql
from elektromail.store.searchindex import index_search_fields

# Re-exported: callers import these from db (or from the package).
__all__ = [
    "MailboxCounts",
    "MailboxExists",
    "MailboxHasChildren",
    "MailboxIntoItself",
    "MailboxListing",
    "MailboxRow",
    "MessageRow",
    "NoSuchMailbox",
    "PreparedMessage",
    "Renamed",
    "Rendered",
    "Store",
    "StoreError",
    "UserExists",
    "UserRow",
]


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    name: str
    password: str | None
    email: str | None
    seeded: bool


class MessageRow(NamedTuple):
    """One message as FETCH sees it; `raw`/`structure` are None unless asked for. A named
    tuple, not a frozen dataclass: FETCH builds one per message, and `_make` builds it at C
    speed where the frozen dataclass set each of its 11 fields through object.__setattr__."""

    uid: int
    flags: tuple[str, ...]
    internal_date: float
    tz_minutes: int
    size: int
    structure: str | None = None
    raw: bytes | None = None
    # IMAP renderings made at delivery (None when not asked for or stored before schema 3)
    envelope: bytes | None = None
    bodystructure: bytes | None = None
    body: bytes | None = None
    modseq: int = 0  # RFC 7162: the mod-sequence of the message's last change


# STORE's answer: (uid, flags now, modseq) of each message that exists and was not refused, and
# the UIDs UNCHANGEDSINCE refused (RFC 7162 §3.1.3's MODIFIED).
FlagsStored = tuple[list[tuple[int, tuple[str, ...], int]], list[int]]


@dataclass(slots=True)
class _RecentWrite:
    """A first-recent UID waiting to be written, and who waits for it."""

    uid: int
    done: list[Deferred[None]]


def _flags_from_db(text: str) -> tuple[str, ...]:
    return tuple(text.split()) if text else ()


def _user(row: Sequence[Any]) -> UserRow:
    return UserRow(row[0], row[1], row[2], row[3], bool(row[4]))


_USER_COLS = "id, name, password, email, seeded"

log = Logger()

# sqlite3 binds int, float, str and bytearray parameters directly, but asks its adapter registry
# about any other (bytes, None), and on a miss looks for an __adapt__ on its protocol type:
# a failed type attribute lookup whose AttributeError is formatted and dropped, ~4,000
# instructions per parameter, two or more per stored message (its bytes, its transcript).
# An adapter for bytes found in the registry makes that a dict lookup; `bytes(b)` is b itself.
# (Registering one for bytes, unlike int, float, str or bytearray, keeps the fast path of
# those.)
sqlite3.register_adapter(bytes, bytes)

# The idle-time parse of stored but unparsed bodies (pending.py) starts once no such body has
# been stored for IDLE_SECONDS, and goes at most BACKFILL_BATCH bodies and BACKFILL_SECONDS of
# parsing an interaction, and a batch makes way for other work given to the store thread: mail
# arriving and commands asked meanwhile wait for one body's parse (25 bodies of 4 KB are ~15 ms
# of parsing, and a SELECT or FETCH waited for them all).
IDLE_SECONDS = 0.25
BACKFILL_BATCH = 25
BACKFILL_SECONDS = 0.004
# While the database cannot work (a PostgreSQL server away), the idle-time parse tries again
# this often.
BACKFILL_RETRY_SECONDS = 5.0
# An EXPUNGE frees a few pages; malloc_trim costs ~0.2 ms of the reactor's time. After a small
# delete the heap is given back at most this often (and once more after the last one).
RELEASE_EVERY = 1.0
# FETCH of at most this many messages reads on the reactor thread when it can (Store._read)
READ_HERE_UIDS = 16


class Store:
    """Users, mailboxes and messages in one SQLite database."""

    def __init__(self, path: str | None = None, clock: IReactorTime | None = None) -> None:
        self.path = path
        in_memory = path is None
        self.dialect = POSTGRESQL if is_postgresql_url(path) else SQLITE
        if self.dialect.is_postgresql:
            self._pool = StorePool(
                "elektromail.store.pgdriver",
                path,
                cp_min=1,
                cp_max=1,
                cp_openfun=prepare_postgresql,
                cp_noisy=False,
            )
        else:
            self._pool = StorePool(
                "sqlite3",
                ":memory:" if in_memory else path,
                check_same_thread=False,
                cp_min=1,
                cp_max=1,
                cp_openfun=lambda conn: prepare_connection(conn, in_memory),
                cp_noisy=False,
            )
        self._writes: list[tuple[Callable[..., Any], tuple, Deferred]] = []
        self._writing = False
        # Renders IMAP's ENVELOPE, BODYSTRUCTURE and BODY when a body is parsed (set by the
        # post office, from the service, which may import the protocols).
        self.render: Render | None = None
        # Renders ENVELOPE alone, for a FETCH of it before the body is parsed (pending.py's
        # render_envelopes); None: such a FETCH waits for the whole parse.
        self.render_envelope: RenderEnvelope | None = None
        self._clock = clock
        self._backfill_call: IDelayedCall | None = None
        self._stored_unparsed = 0  # since the backfill last looked
        # messages' bodies read since then (FETCH of ENVELOPE, BODY[]...): a client at work
        self._bodies_read = False
        self.backfill_seconds = BACKFILL_SECONDS
        self.backfill_makes_way = True  # a batch stops when other work waits for the thread
        # set_first_recent's writes not begun yet, by mailbox id; shared with the store thread
        self._recent_waiting: dict[int, _RecentWrite] = {}
        self._recent_lock = threading.Lock()
        self._released_at = float("-inf")  # when the heap was last given back (clock time)
        self._release_call: IDelayedCall | None = None
        self._closed = False

    def open(self) -> Deferred[None]:
        """Start the pool and create or check the schema (fails with the sqlite error)."""
        self._pool.start()
        d = self._pool.runInteraction(any_unparsed)
        d.addCallback(self._opened)
        return d

    def _opened(self, waiting: bool) -> None:
        if waiting:  # stored before the last stop and not parsed yet
            self._arm_backfill(IDLE_SECONDS)

    def close(self) -> None:
        self._closed = True
        for call in (self._backfill_call, self._release_call):
            if call is not None:
                call.cancel()
        self._backfill_call = self._release_call = None
        self._pool.close()

    # --- the idle-time parse ----------------------------------------------------------------

    def _noted(self, message: PreparedMessage) -> PreparedMessage:
        """`message`, about to be stored; an unparsed one wakes the idle-time parse."""
        if message.structure is None:
            self._stored_unparsed += 1
            if self._backfill_call is None:
                self._arm_backfill(IDLE_SECONDS)
        return message

    def _reactor(self) -> IReactorTime:
        if self._clock is None:
            from twisted.internet import reactor

            self._clock = reactor  # type: ignore[assignment]
        assert self._clock is not None
        return self._clock

    def _arm_backfill(self, delay: float) -> None:
        if self._closed:
            return
        self._backfill_call = self._reactor().callLater(delay, self._backfill)

    def _backfill(self) -> None:
        """Parse a batch of waiting bodies if none was stored and none read since the last
        look; under load this waits, and after it, goes on batch after batch until no body
        waits. Reads count: parsing shares the interpreter with the reactor, and a client
        fetching a mailbox just filled (ENVELOPE from the headers, then BODY[]) answered at
        0.6 of Dovecot's speed while the backfill parsed beside it; what it fetches needs no
        parse, and what does (BODYSTRUCTURE, SEARCH) parses on its first need."""
        self._backfill_call = None
        if self._stored_unparsed or self._bodies_read:
            self._stored_unparsed = 0
            self._bodies_read = False
            self._arm_backfill(IDLE_SECONDS)
            return
        lane = self._pool.threadpool
        others_waiting = lane.waiting if self.backfill_makes_way else lambda: False
        d = self._run(parse_for, self.render, BACKFILL_BATCH, self.backfill_seconds, others_waiting)
        d.addCallbacks(self._backfilled, self._backfill_failed)

    def _backfilled(self, batch: tuple[int, bool]) -> None:
        _, more = batch
        if more and self._backfill_call is None:
            self._arm_backfill(IDLE_SECONDS if self._stored_unparsed else 0)

    def _backfill_failed(self, failure) -> None:
        if self._closed:
            return
        if failure.check(StoreUnavailable):  # the database away: look again later
            log.warn("parsing stored messages waits: {why}", why=failure.value)
            if self._backfill_call is None:
                self._arm_backfill(BACKFILL_RETRY_SECONDS)
            return
        log.failure("parsing stored messages failed", failure)  # the next body stored retries

    def parse_pending(self) -> Deferred[int]:
        """Parse every stored body still waiting now; fires with how many there were."""
        return self._run(parse_some, self.render, -1)

    def _run(self, fn, *args) -> Deferred[Any]:
        """Run `fn(cursor, *args)` in one transaction. A database that cannot do the work
        (full, read-only, I/O error) fails the Deferred with StoreFull or StoreUnavailable,
        so that callers answer a temporary failure instead of an internal error."""
        return self._pool.runInteraction(fn, *args).addErrback(_translate)

    def _read(self, fn, *args) -> Deferred[Any]:
        """`_run` for a small read: on the reactor thread when the store thread is idle and
        no write waits to be given to it (a write asked for before must be seen), else on the
        store thread, after what waits. A thread hop costs ~0.1 ms each way here: more than
        FETCH of one message, or of the few messages CHANGEDSINCE finds through its index."""
        if self._writing or self._writes or not self._pool.can_run_here():
            return self._run(fn, *args)
        try:
            return succeed(self._pool.run_here(fn, *args))
        except BaseException:
            return fail().addErrback(_translate)

    def _run_freeing(self, fn, *args) -> Deferred[Any]:
        """`_run` for a write that may delete many messages: afterwards the in-memory
        database's freed pages go back to the system, and with either database the caches
        of recurring values are emptied (store/memory.py)."""

        def release(result: Any) -> Any:
            release_freed_memory(caches=True)
            return result

        return self._run(fn, *args).addCallback(release)

    def _run_removing(self, fn, *args) -> Deferred[list[int]]:
        """`_run` for a small delete that fires with what it removed (EXPUNGE): the in-memory
        database's freed pages go back to the system when something was removed, at most once
        every RELEASE_EVERY seconds, and once more after the last removal."""

        def removed(gone: list[int]) -> list[int]:
            if gone and self.path is None:
                self._release_soon()
            return gone

        return self._run(fn, *args).addCallback(removed)

    def _release_soon(self) -> None:
        if self._release_call is not None or self._closed:
            return  # the trailing release is already due
        clock = self._reactor()
        wait = self._released_at + RELEASE_EVERY - clock.seconds()
        if wait <= 0:
            self._release_now()
        else:
            self._release_call = clock.callLater(wait, self._release_now)

    def _release_now(self) -> None:
        self._release_call = None
        self._released_at = self._reactor().seconds()
        release_freed_memory()

    def _grouped(self, fn, *args) -> Deferred[Any]:
        """Run `fn` like `_run`, but in one transaction with the other grouped writes that
        arrive while a group is committing (group commit). Each write has a savepoint of its
        own, so one failing write fails alone; each Deferred fires after the commit.
        A message costs one thread hand-off and one commit per group, not per message.
        When the database itself fails (full, read-only...) nothing of the group is kept and
        every write of it fails with StoreFull or StoreUnavailable."""
        d: Deferred[Any] = Deferred()
        self._writes.append((fn, args, d))
        if not self._writing:
            self._write_group()
        return d

    def _write_group(self) -> None:
        group, self._writes = self._writes, []
        self._writing = True
        work = self._run(_run_group, [(fn, args) for fn, args, _ in group])

        def committed(results: list) -> None:
            for (_, _, d), (ok, value) in zip(group, results, strict=True):
                if ok:
                    d.callback(value)
                else:
                    d.errback(value)

        def failed(failure) -> None:
            for _, _, d in group:
                d.errback(failure)

        work.addCallbacks(committed, failed)
        work.addBoth(self._group_done)

    def _group_done(self, _result) -> None:
        self._writing = False
        if self._writes:
            self._write_group()

    # --- fault injection, for tests ---------------------------------------------------------

    def simulate_full(self, full: bool) -> Deferred[None]:
        """Tests: make the database full (no page beyond those it uses: a write that needs
        one fails with SQLITE_FULL, as on a full disk; on PostgreSQL every INSERT and UPDATE
        fails with disk_full), or give it room again."""
        return self._pool.runInteraction(_simulate_full, full)

    def simulate_read_only(self, read_only: bool) -> Deferred[None]:
        """Tests: refuse every write with SQLITE_READONLY (PRAGMA query_only), as a database
        file that became read-only does, or accept writes again."""
        return self._pool.runInteraction(_simulate_read_only, read_only)

    # --- users ------------------------------------------------------------------------------

    def add_user(
        self, name: str, password: str | None, email: str | None = None, *, seeded: bool = False
    ) -> Deferred[UserRow]:
        return self._run(_add_user, name, password, email, seeded)

    def get_user(self, name: str) -> Deferred[UserRow | None]:
        return self._run(_get_user, "name", name)

    def find_user_by_email(self, email: str) -> Deferred[UserRow | None]:
        return self._run(_get_user, "email", email)

    def update_user(self, user_id: int, password: str | None, email: str | None) -> Deferred[None]:
        return self._run(_update_user, user_id, password, email)

    def list_users(self, scope: str | None = None) -> Deferred[list[UserRow]]:
        """Every user (of `scope`, see store/namespaces.py), in the order they were made."""
        return self._run(_list_users, scope)

    def ensure_user(
        self, name: str, mailboxes: Sequence[tuple[str, str | None]]
    ) -> Deferred[tuple[UserRow, bool]]:
        """The user named `name` (created with no password if missing, with `mailboxes`
        as (name, special-use) pairs); the bool says whether it was created."""
        return self._run(_ensure_user, name, mailboxes)

    # --- mailboxes --------------------------------------------------------------------------

    def ensure_mailboxes(
        self, user_id: int, mailboxes: Sequence[tuple[str, str | None]]
    ) -> Deferred[None]:
        return self._run(_ensure_mailboxes, user_id, mailboxes)

    def get_mailbox(self, user_id: int, name: str) -> Deferred[MailboxRow | None]:
        return self._run(_get_mailbox, user_id, name)

    def list_mailboxes(self, user_id: int) -> Deferred[list[MailboxRow]]:
        return self._run(_list_mailboxes, user_id)

    def create_mailbox(
        self, user_id: int, name: str, special_use: str | None = None
    ) -> Deferred[MailboxRow]:
        return self._run(_create_mailbox, user_id, name, special_use)

    def create_mailbox_path(
        self, user_id: int, name: str, special_use: str | None = None
    ) -> Deferred[MailboxRow]:
        """IMAP CREATE: the mailbox and any missing parents (not subscribed); MailboxExists
        when `name` exists."""
        return self._run(_create_mailbox_path, user_id, name, special_use)

    def delete_mailbox(self, user_id: int, name: str) -> Deferred[tuple[MailboxRow, list[int]]]:
        """Remove a mailbox without children, its messages and the bodies no other message
        shares; fires with its row and the UIDs it held. NoSuchMailbox, MailboxHasChildren."""
        return self._run_freeing(_delete_mailbox, user_id, name)

    def rename_mailbox(self, user_id: int, old: str, new: str) -> Deferred[Renamed]:
        """Rename `old` and its whole subtree to `new` (parents created); UIDs stay. INBOX
        moves its messages to a new mailbox instead and stays, with its children (RFC 9051
        §6.3.6). NoSuchMailbox, MailboxExists, MailboxIntoItself."""
        return self._run(_rename_mailbox, user_id, old, new)

    def subscribe(self, user_id: int, name: str) -> Deferred[None]:
        return self._run(_subscribe, user_id, name)

    def unsubscribe(self, user_id: int, name: str) -> Deferred[None]:
        return self._run(_unsubscribe, user_id, name)

    def mailbox_listing(self, user_id: int, *, counts: bool = False) -> Deferred[MailboxListing]:
        return self._run(_mailbox_listing, user_id, counts)

    def mailbox_status(
        self, user_id: int, name: str
    ) -> Deferred[tuple[MailboxRow, MailboxCounts] | None]:
        return self._run(_mailbox_status, user_id, name)

    # --- messages ---------------------------------------------------------------------------

    def deliver(
        self,
        targets: Sequence[tuple[int, str]],
        message: PreparedMessage,
        transcript: bytes | None = None,
    ) -> Deferred[list[tuple[int, str, int]]]:
        """Store one message into each (user_id, mailbox name), creating missing mailboxes,
        in one transaction, with its SMTP transcript (kept with the body every copy shares).
        Returns (mailbox_id, mailbox name, uid) per target."""
        return self._grouped(_deliver, targets, _stamped(self._noted(message)), transcript)

    def append(self, mailbox_id: int, message: PreparedMessage) -> Deferred[int]:
        """Store one message into an existing mailbox; fires with its UID (NoSuchMailbox when
        the mailbox is gone)."""
        return self._grouped(_append, mailbox_id, _stamped(self._noted(message)))

    def append_named(
        self, user_id: int, name: str, message: PreparedMessage
    ) -> Deferred[tuple[int, int, int]]:
        """Store one message into the user's existing mailbox `name`, found in the same
        interaction (IMAP APPEND: one thread hop, not two); fires with (mailbox id,
        UIDVALIDITY, UID). NoSuchMailbox when there is no such mailbox."""
        return self._grouped(_append_named, user_id, name, _stamped(self._noted(message)))

    def append_named_all(
        self, user_id: int, name: str, messages: Sequence[PreparedMessage]
    ) -> Deferred[list[tuple[int, int, int]]]:
        """`append_named` for several messages (IMAP MULTIAPPEND), all or none: one write of
        the group, so a failure of any keeps none of them. Fires with (mailbox id,
        UIDVALIDITY, UID) per message, UIDs ascending."""
        stamped = [_stamped(self._noted(message)) for message in messages]
        return self._grouped(_append_named_all, user_id, name, stamped)

    def mailbox_view(self, mailbox_id: int) -> Deferred[tuple[MailboxRow, list[tuple[int, str]]]]:
        """The mailbox row and its (uid, flags text) pairs in UID order, for SELECT."""
        return self._run(_mailbox_view, mailbox_id)

    def messages_after(self, mailbox_id: int, uid: int) -> Deferred[list[tuple[int, str]]]:
        """The (uid, flags text) pairs of the mailbox's messages above `uid`, in UID order."""
        return self._run(_messages_after, mailbox_id, uid)

    def mailbox_view_recent(
        self, mailbox_id: int, *, claim: bool
    ) -> Deferred[tuple[MailboxRow, list[tuple[int, str]], int]]:
        """As mailbox_view, with the first UID recent for the opening session, decided in the
        store for when other processes share it: with `claim` the session takes every
        message below UIDNEXT, under the mailbox row's lock, so of two sessions opening it
        at once (in any processes) only one gets them. The messages are those below UIDNEXT;
        later ones come as arrivals."""
        return self._run(_mailbox_view_recent, mailbox_id, claim)

    def messages_after_recent(
        self, mailbox_id: int, uid: int, *, claim: bool
    ) -> Deferred[tuple[list[tuple[int, str]], int]]:
        """As messages_after, with the first UID recent for the reading session (those at or
        above it among the rows are recent there); with `claim` the session takes the rows
        under the mailbox row's lock: no other session gets them as recent."""
        return self._run(_messages_after_recent, mailbox_id, uid, claim)

    def set_first_recent(self, mailbox_id: int, uid: int) -> Deferred[None]:
        """Messages below `uid` have been in a read-write SELECT (\\Recent given out); the
        value only grows. Not grouped: a STATUS asked after it must count with it. While the
        mailbox's last such write waits for the store thread, a new value joins it instead of
        queueing another interaction (a session that has the mailbox selected takes every
        message appended to it: one write per APPEND otherwise)."""
        done: Deferred[None] = Deferred()
        with self._recent_lock:
            waiting = self._recent_waiting.get(mailbox_id)
            if waiting is not None:
                waiting.uid = max(waiting.uid, uid)
                waiting.done.append(done)
                return done
            waiting = self._recent_waiting[mailbox_id] = _RecentWrite(uid, [done])
        self._run(self._write_first_recent, mailbox_id).addCallbacks(
            lambda _: [d.callback(None) for d in waiting.done],
            lambda failure: [d.errback(failure) for d in waiting.done],
        )
        return done

    def _write_first_recent(self, cursor, mailbox_id: int) -> None:
        """In the store thread: from now on a new value needs a write of its own."""
        with self._recent_lock:
            uid = self._recent_waiting.pop(mailbox_id).uid
        _set_first_recent(cursor, mailbox_id, uid)

    def fetch(
        self,
        mailbox_id: int,
        uids: Sequence[int],
        *,
        structure: bool = False,
        raw: bool = False,
        rendered: bool = False,
        budget: tuple[int, int] | None = None,
        changedsince: int | None = None,
        limit: int | None = None,
        envelope_only: bool = False,
    ) -> Deferred[list[MessageRow]]:
        """Messages by UID (ascending); `structure`, `raw` and `rendered` say which of the
        body's columns to read; `envelope_only` (with `rendered`) that of the renderings only
        ENVELOPE is wanted, which a body not parsed yet gets from its header alone. With
        `changedsince`, only those whose mod-sequence is above it, and with a `limit` only
        the first `limit` of those. With a `budget` of (messages,
        bytes), only the first that fit in it by their stored sizes (at least one, however
        large): the caller goes on after the last row returned. Sizes and bodies are read in
        one interaction, so one thread hop (none for a few messages, see `_read`)."""
        run = self._read if changedsince is not None or len(uids) <= READ_HERE_UIDS else self._run
        if raw or rendered or structure:
            self._bodies_read = True  # the idle-time parse waits (see _backfill)
        return run(
            _fetch,
            self.render,
            mailbox_id,
            list(uids),
            structure,
            raw,
            rendered,
            budget,
            changedsince,
            limit,
            self.render_envelope if envelope_only else None,
        )

    def store_flags(
        self, mailbox_id: int, uids: Sequence[int], mode: str, flags: Sequence[str]
    ) -> Deferred[list[tuple[int, tuple[str, ...]]]]:
        """mode is "set", "add" or "remove"; returns (uid, new flags) of each message that
        still exists, changed or not."""
        d = self.store_flags_since(mailbox_id, uids, mode, flags)
        return d.addCallback(lambda stored: [(uid, new) for uid, new, _ in stored[0]])

    def store_flags_since(
        self,
        mailbox_id: int,
        uids: Sequence[int],
        mode: str,
        flags: Sequence[str],
        unchangedsince: int | None = None,
    ) -> Deferred[FlagsStored]:
        """`store_flags` with mod-sequences (RFC 7162 §3.1.3): fires with (uid, new flags,
        modseq) of each message that still exists, changed or not, and the UIDs whose
        mod-sequence was above `unchangedsince` (left as they were). The messages changed
        share one new mod-sequence."""
        if mode not in ("set", "add", "remove"):
            raise ValueError(mode)
        flags = normalize_flags(flags)
        return self._run(_store_flags, mailbox_id, list(uids), mode, flags, unchangedsince)


def _translate(failure):
    """An errback: the database's temporary failures as StoreFull / StoreUnavailable."""
    error = unavailable(failure.value)
    if error is None or error is failure.value:
        return failure
    raise error from failure.value


# SQLite's own ceiling (SQLITE_MAX_PAGE_COUNT), restored after simulate_full(False).
_NO_PAGE_LIMIT = 4294967294


def _simulate_read_only(cursor, read_only: bool) -> None:
    if dialect_of(cursor).is_postgresql:  # from the next transaction on
        cursor.execute(f"SET default_transaction_read_only = {'on' if read_only else 'off'}")
    else:
        cursor.execute(f"PRAGMA query_only = {int(read_only)}")


def _simulate_full(cursor, full: bool) -> None:
    if dialect_of(cursor).is_postgresql:  # pgdriver refuses writes as a full disk does
        cursor.connection.simulated_full = full
        return
    # A limit below the pages in use is raised to that count: nothing more fits.
    cursor.execute(f"PRAGMA max_page_count = {1 if full else _NO_PAGE_LIMIT}")


# --- interactions (run in the pool's thread, one transaction each) ---------------------------


def _add_user(cursor, name, password, email, seeded) -> UserRow:
    try:
        cursor.execute(
            "INSERT INTO users(name, password, email, seeded) VALUES (?, ?, ?, ?)",
            (name, password, email, int(seeded)),
        )
    except sqlite3.IntegrityError:
        raise UserExists(name) from None
    return UserRow(cursor.lastrowid, name, password, email, seeded)


def _get_user(cursor, column, value) -> UserRow | None:
    row = cursor.execute(f"SELECT {_USER_COLS} FROM users WHERE {column} = ?", (value,)).fetchone()
    return _user(row) if row else None


def _update_user(cursor, user_id, password, email) -> None:
    cursor.execute(
        "UPDATE users SET password = ?, email = ?, seeded = 1 WHERE id = ?",
        (password, email, user_id),
    )


def _list_users(cursor, scope=None) -> list[UserRow]:
    from elektromail.store.namespaces import scope_condition

    condition, params = scope_condition(scope, "users.name")
    where = f" WHERE {condition}" if condition else ""
    rows = cursor.execute(f"SELECT {_USER_COLS} FROM users{where} ORDER BY id", params)
    return [_user(r) for r in rows]


def _ensure_user(cursor, name, mailboxes) -> tuple[UserRow, bool]:
    user = _get_user(cursor, "name", name)
    if user is not None:
        return user, False
    if not dialect_of(cursor).is_postgresql:
        user = _add_user(cursor, name, None, None, False)
    else:  # another process may make the same user meanwhile (workers, nodes): theirs is ours
        cursor.execute("SAVEPOINT ensure_user")
        try:
            user = _add_user(cursor, name, None, None, False)
        except UserExists:
            cursor.execute("ROLLBACK TO ensure_user")
            cursor.execute("RELEASE ensure_user")
            found = _get_user(cursor, "name", name)
            if found is None:  # made and removed again meanwhile
                raise
            return found, False
        cursor.execute("RELEASE ensure_user")
    _ensure_mailboxes(cursor, user.id, mailboxes)
    return user, True


def _stamped(message: PreparedMessage) -> PreparedMessage:
    """`message` with its flags in canonical form and its internal date fixed (now when it
    has none), as every stored copy of it gets them."""
    when = time.time() if message.internal_date is None else message.internal_date
    flags = normalize_flags(message.flags) if message.flags else ()
    if flags == message.flags and when == message.internal_date:
        return message
    # Spelled out: dataclasses.replace costs ~9 µs a message here, on the delivery path.
    m = message
    return PreparedMessage(m.raw, m.structure, m.rendered, m.index, flags, when, m.tz_minutes)


def _deliver(
    cursor, targets, message: PreparedMessage, transcript: bytes | None = None
) -> list[tuple[int, str, int]]:
    if targets and dialect_of(cursor).is_postgresql:
        return _deliver_postgresql(cursor, targets, message, transcript)
    body_id = _insert_body(cursor, message, transcript)
    return _deliver_copies(cursor, targets, message, body_id)


def _deliver_copies(cursor, targets, message: PreparedMessage, body_id: int) -> list:
    stored = []
    for user_id, name in targets:
        taken = _take_uid(cursor, user_id, name)
        if taken is None:
            _create_mailbox(cursor, user_id, name, None)
            taken = _take_uid(cursor, user_id, name)
        mailbox_id, uid, modseq = taken
        cursor.execute(_INSERT_MESSAGE, _message_row(mailbox_id, uid, body_id, message, modseq))
        stored.append((mailbox_id, name, uid))
    return stored


def _deliver_postgresql(
    cursor, targets, message: PreparedMessage, transcript: bytes | None
) -> list[tuple[int, str, int]]:
    """_deliver in one statement for the first target (dialect.DELIVER_ONE: one round trip to
    the server where SQLite's statements are three), the others as on SQLite."""
    (user_id, name), others = targets[0], targets[1:]
    when, tz = message.internal_date, message.tz_minutes
    body_id, mailbox_id, uid = cursor.execute(
        DELIVER_ONE,
        (
            *_body_row(message), transcript, user_id, name, " ".join(message.flags), when, tz,
            message.size, time.time(),
        ),
    ).fetchone()  # fmt: skip
    _index_body(cursor, body_id, message)
    if mailbox_id is None:  # no such mailbox: made, then the message goes in as on SQLite
        return _deliver_copies(cursor, targets, message, body_id)
    return [(mailbox_id, name, uid), *_deliver_copies(cursor, others, message, body_id)]


def _take_uid(cursor, user_id: int, name: str) -> tuple[int, int, int] | None:
    """(mailbox id, the next UID, now taken, and the new message's mod-sequence) of the user's
    mailbox `name`, or None when it does not exist: the lookup and the UID in one statement,
    since a delivery's SQL statements are most of its cost in the database thread."""
    return cursor.execute(
        "UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1"
        " WHERE user_id = ? AND name = ? RETURNING id, uidnext - 1, highestmodseq",
        (user_id, name),
    ).fetchone()


def _append(cursor, mailbox_id, message: PreparedMessage) -> int:
    if cursor.execute("SELECT 1 FROM mailboxes WHERE id = ?", (mailbox_id,)).fetchone() is None:
        raise NoSuchMailbox(mailbox_id)
    body_id = _insert_body(cursor, message)
    return _insert_message(cursor, mailbox_id, body_id, message)


def _append_named(cursor, user_id, name, message: PreparedMessage) -> tuple[int, int, int]:
    taken = cursor.execute(
        "UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1"
        " WHERE user_id = ? AND name = ? RETURNING id, uidvalidity, uidnext - 1, highestmodseq",
        (user_id, name),
    ).fetchone()
    if taken is None:
        raise NoSuchMailbox(name)
    mailbox_id, uidvalidity, uid, modseq = taken
    body_id = _insert_body(cursor, message)
    cursor.execute(_INSERT_MESSAGE, _message_row(mailbox_id, uid, body_id, message, modseq))
    return mailbox_id, uidvalidity, uid


def _append_named_all(cursor, user_id, name, messages) -> list[tuple[int, int, int]]:
    return [_append_named(cursor, user_id, name, message) for message in messages]


def _run_group(cursor, writes: list) -> list[tuple[bool, Any]]:
    """Each write's outcome: (True, result) or (False, the exception it raised).

    The group is one transaction, committed by the pool after this returns. The writes run
    first without savepoints (two statements a write saved; writes rarely fail); when one fails,
    the transaction is rolled back and the group runs again with a savepoint per write, so that
    a failing write fails alone. A failure of the database fails the whole group."""
    if not cursor.connection.in_transaction:
        cursor.execute("BEGIN")
    for attempt in range(1, GROUP_ATTEMPTS + 1):
        _lock_group(cursor)
        try:
            return [(True, fn(cursor, *args)) for fn, args in writes]
        except Exception as e:
            if unavailable(e) is not None:
                raise  # the database failed, not a write: the transaction is lost
            if not conflict(e) or attempt == GROUP_ATTEMPTS:
                break
        # PostgreSQL rolled the group back for another process's transaction (a deadlock):
        # nothing of it was kept, and it runs again
        cursor.execute("ROLLBACK")
        cursor.execute("BEGIN")
    cursor.execute("ROLLBACK")
    return _run_group_apart(cursor, writes)


def _lock_group(cursor) -> None:
    """On PostgreSQL, one group at a time across processes (dialect.GROUP_LOCK)."""
    if dialect_of(cursor).is_postgresql:
        cursor.execute(GROUP_LOCK)


# How often a group of writes runs when PostgreSQL rolls it back for a conflict with another
# process (errors.conflict); after that its writes run apart, each failing alone.
GROUP_ATTEMPTS = 5


def _run_group_apart(cursor, writes: list) -> list[tuple[bool, Any]]:
    """The group again, each write under its own savepoint.

    Outside a transaction a SAVEPOINT opens one of its own and its RELEASE commits it, so
    without the BEGIN each write would commit alone, and a later failure of the database
    (SQLITE_FULL rolls the whole transaction back) would report failure for writes already
    committed, which a client then sends again."""
    cursor.execute("BEGIN")
    _lock_group(cursor)
    results: list[tuple[bool, Any]] = []
    for fn, args in writes:
        cursor.execute("SAVEPOINT grouped_write")
        try:
            value = fn(cursor, *args)
        except Exception as e:  # the write's own failure, reported to its caller alone
            if unavailable(e) is not None:
                raise  # the database failed, not this write: the transaction is lost
            cursor.execute("ROLLBACK TO grouped_write")
            cursor.execute("RELEASE grouped_write")
            results.append((False, e))
        else:
            cursor.execute("RELEASE grouped_write")
            results.append((True, value))
    return results


def _body_row(message: PreparedMessage) -> tuple:
    """(raw, structure, envelope, bodystructure, body): the bodies columns of `message` (structure
    '' until an unparsed message is parsed)."""
    envelope, bodystructure, body = message.rendered or (None, None, None)
    return (message.raw, message.structure or "", envelope, bodystructure, body)


def _insert_body(cursor, message: PreparedMessage, transcript: bytes | None = None) -> int:
    rendered = message.rendered
    if rendered is None:
        # Most deliveries (stored unparsed): no renderings to write, and the columns left out
        # rather than bound to None, a parameter sqlite3 adapts the slow way (see
        # the adapter registered at the top); an unparsed body's structure is ''.
        cursor.execute(
            "INSERT INTO bodies(raw, structure, transcript) VALUES (?, ?, ?)",
            (message.raw, message.structure or "", transcript),
        )
    else:
        envelope, bodystructure, body = rendered
        cursor.execute(
            "INSERT INTO bodies(raw, structure, fetch_envelope, fetch_bodystructure, fetch_body,"
            " transcript) VALUES (?, ?, ?, ?, ?, ?)",
            (message.raw, message.structure or "", envelope, bodystructure, body, transcript),
        )
    body_id = cursor.lastrowid
    _index_body(cursor, body_id, message)
    return body_id


def _index_body(cursor, body_id: int, message: PreparedMessage) -> None:
    """The body's body_index row (computed here when the caller had no parse at hand); an
    unparsed body gets its row when it is parsed."""
    if message.structure is None:
        return
    found = message.index
    if found is None:
        found = index_from_json(message.raw, message.structure)
    cursor.execute(
        "INSERT INTO body_index(body_id, attachments, search, emailid, preview)"
        f" VALUES (?, ?, ?, {NEW_EMAILID}, ?)",
        (body_id, found.attachments, found.search, found.preview),
    )
    index_search_fields(cursor, body_id, message.raw, message.structure, found)


def _insert_message(cursor, mailbox_id, body_id, message: PreparedMessage) -> int:
    """Take the mailbox's next UID for a new message row (a copy of a stamped `message`);
    returns the UID."""
    uid, modseq = cursor.execute(
        "UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1"
        " WHERE id = ? RETURNING uidnext - 1, highestmodseq",
        (mailbox_id,),
    ).fetchone()
    cursor.execute(_INSERT_MESSAGE, _message_row(mailbox_id, uid, body_id, message, modseq))
    return uid


_INSERT_MESSAGE = (
    "INSERT INTO messages(id, mailbox_id, uid, flags, internal_date, tz_minutes, size, body_id,"
    f" modseq, saved) VALUES ({NEXT_MESSAGE_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _message_row(
    mailbox_id: int, uid: int, body_id: int, message: PreparedMessage, modseq: int = 1
) -> tuple:
    """The messages columns of one stored copy of a stamped `message` (_INSERT_MESSAGE's)."""
    when, tz = message.internal_date, message.tz_minutes
    # saved: now, the SAVEDATE (RFC 8514), whatever internal date an APPEND gave
    return (
        mailbox_id, uid, " ".join(message.flags), when, tz, message.size, body_id, modseq,
        time.time(),
    )  # fmt: skip


def _mailbox_view(cursor, mailbox_id) -> tuple[MailboxRow, list[tuple[int, str]]]:
    row = cursor.execute(
        f"SELECT {_MAILBOX_COLS} FROM mailboxes WHERE id = ?", (mailbox_id,)
    ).fetchone()
    if row is None:
        raise NoSuchMailbox(mailbox_id)
    messages = cursor.execute(
        "SELECT uid, flags FROM messages WHERE mailbox_id = ? ORDER BY uid", (mailbox_id,)
    ).fetchall()
    return _mailbox(row), messages


def _messages_after(cursor, mailbox_id, uid) -> list[tuple[int, str]]:
    return cursor.execute(
        "SELECT uid, flags FROM messages WHERE mailbox_id = ? AND uid > ? ORDER BY uid",
        (mailbox_id, uid),
    ).fetchall()


def _lock_first_recent(cursor, mailbox_id, claim: bool) -> int:
    """The mailbox's first_recent_uid; with `claim` the row is locked (a no-op UPDATE, on
    both engines) until the interaction ends, so the value read is the last committed one
    and no other claim runs between this read and the caller's write."""
    if claim:
        cursor.execute(
            "UPDATE mailboxes SET first_recent_uid = first_recent_uid WHERE id = ?",
            (mailbox_id,),
        )
    row = cursor.execute(
        "SELECT first_recent_uid FROM mailboxes WHERE id = ?", (mailbox_id,)
    ).fetchone()
    if row is None:
        raise NoSuchMailbox(mailbox_id)
    return row[0]


def _mailbox_view_recent(cursor, mailbox_id, claim):
    _lock_first_recent(cursor, mailbox_id, claim)
    mailbox = _mailbox(
        cursor.execute(
            f"SELECT {_MAILBOX_COLS} FROM mailboxes WHERE id = ?", (mailbox_id,)
        ).fetchone()
    )
    first = mailbox.first_recent
    if claim and mailbox.uidnext > first:
        _set_first_recent(cursor, mailbox_id, mailbox.uidnext)
    messages = cursor.execute(
        "SELECT uid, flags FROM messages WHERE mailbox_id = ? AND uid < ? ORDER BY uid",
        (mailbox_id, mailbox.uidnext),
    ).fetchall()
    return mailbox, messages, first


def _messages_after_recent(cursor, mailbox_id, uid, claim):
    first = _lock_first_recent(cursor, mailbox_id, claim)
    rows = _messages_after(cursor, mailbox_id, uid)
    if claim and rows and rows[-1][0] >= first:
        _set_first_recent(cursor, mailbox_id, rows[-1][0] + 1)
    return rows, first


def _set_first_recent(cursor, mailbox_id, uid) -> None:
    cursor.execute(
        "UPDATE mailboxes SET first_recent_uid = max(first_recent_uid, ?) WHERE id = ?",
        (uid, mailbox_id),
    )


def _uid_chunks(uids: list[int], size: int = 500):
    for i in range(0, len(uids), size):
        yield uids[i : i + size]


def _within(cursor, mailbox_id, uids: list[int], budget: tuple[int, int]) -> list[int]:
    """The first of `uids` (ascending) whose stored sizes fit in `budget` (messages,
    bytes); at least one that exists."""
    count, size_limit = budget
    if len(uids) <= 1:
        return uids
    taken: list[int] = []
    total = 0
    for where, params in _uid_conditions(uids):
        for uid, size in cursor.execute(
            f"SELECT m.uid, m.size FROM messages m WHERE m.mailbox_id = ? AND {where}"
            " ORDER BY m.uid",
            (mailbox_id, *params),
        ):
            if taken and (len(taken) >= count or total + size > size_limit):
                return taken
            taken.append(uid)
            total += size
    return taken


def _fetch(
    cursor,
    render,
    mailbox_id,
    uids,
    structure,
    raw,
    rendered,
    budget=None,
    changedsince=None,
    limit=None,
    render_envelope=None,
) -> list[MessageRow]:
    # RFC 7162 §3.1.4.1: only what changed after `changedsince`. Without a budget the rows
    # are read by the same query that finds them, else the budget picks among their UIDs.
    since: tuple[int, ...] = ()
    if changedsince is not None and budget is None:
        since = (changedsince,)
    elif changedsince is not None:
        uids = _changed_since(cursor, mailbox_id, uids, changedsince, limit)
    if budget is not None:
        uids = _within(cursor, mailbox_id, uids, budget)
    parse = structure or rendered
    # ENVELOPE alone (render_envelope given, nothing else parsed wanted): a body waiting for
    # its parse is made from its header (pending.render_envelopes), unless that was done before
    envelope_only = render_envelope is not None and rendered and not structure
    cols = "m.uid, m.flags, m.internal_date, m.tz_minutes, m.size"
    cols += ", b.structure" if structure else ", NULL"
    cols += ", b.raw" if raw else ", NULL"
    if envelope_only:
        cols += ", b.fetch_envelope, NULL, NULL"
    elif rendered:
        cols += ", b.fetch_envelope, b.fetch_bodystructure, b.fetch_body"
    else:
        cols += ", NULL, NULL, NULL"
    cols += ", m.body_id"
    # whether the body still waits for its parse (pending.WAITING), read with the row: the
    # rows found waiting are parsed afterwards, so a FETCH whose messages are all parsed (most
    # of them) asks nothing more of the database
    if envelope_only:
        cols += f", b.{WAITING} AND b.fetch_envelope IS NULL"
    else:
        cols += f", b.{WAITING}" if parse else ", 0"
    cols += ", m.modseq"
    join = " JOIN bodies b ON b.id = m.body_id" if structure or raw or rendered else ""
    out: list[MessageRow] = []
    make_row = MessageRow._make
    waiting: dict[int, list[int]] = {}  # body id -> where its rows are in `out`
    changed = " AND m.modseq > ?" if since else ""
    # the few changed rows through their index, not every message's (see _changed_since)
    indexed = " INDEXED BY messages_modseq" if since else ""
    for where, params in _uid_conditions(uids):
        left = NO_LIMIT if limit is None or not since else limit - len(out)
        if left == 0:
            break
        rows = cursor.execute(
            f"SELECT {cols} FROM messages m{indexed}{join}"
            f" WHERE m.mailbox_id = ? AND {where}{changed} ORDER BY m.uid LIMIT ?",
            (mailbox_id, *params, *since, left),
        )
        for r in rows:
            if r[11]:
                waiting.setdefault(r[10], []).append(len(out))
            out.append(make_row((r[0], _flags_from_db(r[1]), *r[2:10], r[12])))
    if waiting and envelope_only:
        envelopes = render_envelopes(cursor, render_envelope, waiting)
        for body_id, envelope in envelopes.items():
            for i in waiting[body_id]:
                out[i] = out[i]._replace(envelope=envelope)
        gone = {i for body_id in waiting if body_id not in envelopes for i in waiting[body_id]}
        if gone:  # expunged, body and all, by another process since its row was read here
            out = [row for i, row in enumerate(out) if i not in gone]
    elif waiting:
        parsed = parse_bodies(cursor, render, waiting)
        missing = [body_id for body_id in waiting if body_id not in parsed]
        if missing:  # parsed and stored meanwhile by another process sharing the database
            parsed.update(parse_in_memory(cursor, render, missing))
        for body_id, found in parsed.items():
            for i in waiting[body_id]:
                out[i] = _parsed_row(out[i], found, structure, rendered)
        gone = {i for body_id in missing if body_id not in parsed for i in waiting[body_id]}
        if gone:  # expunged, body and all, by another process since its row was read here
            out = [row for i, row in enumerate(out) if i not in gone]
    return out


def _parsed_row(
    row: MessageRow, message: PreparedMessage, structure: bool, rendered: bool
) -> MessageRow:
    """`row` with what this interaction parsed of its body (see pending.Parsed)."""
    none = (None, None, None)
    envelope, bodystructure, body = (message.rendered or none) if rendered else none
    return MessageRow(
        row.uid,
        row.flags,
        row.internal_date,
        row.tz_minutes,
        row.size,
        message.structure if structure else None,
        row.raw,
        envelope,
        bodystructure,
        body,
        row.modseq,
    )


def _changed_since(
    cursor, mailbox_id, uids: list[int], modseq: int, limit: int | None = None
) -> list[int]:
    """Those of `uids` (ascending) whose mod-sequence is above `modseq`, the first `limit`."""
    changed: list[int] = []
    for where, params in _uid_conditions(uids):
        left = NO_LIMIT if limit is None else limit - len(changed)
        if left == 0:
            break
        rows = cursor.execute(
            # the index on (mailbox_id, modseq) reads only the changed rows; the planner would
            # take the (mailbox_id, uid) one for the UID range and visit every message
            "SELECT m.uid FROM messages m INDEXED BY messages_modseq"
            f" WHERE m.mailbox_id = ? AND m.modseq > ? AND {where} ORDER BY m.uid LIMIT ?",
            (mailbox_id, modseq, *params, left),
        )
        changed.extend(uid for (uid,) in rows)
    return changed


def _uid_conditions(uids: list[int]):
    """SQL conditions selecting `uids` (ascending): a run of consecutive UIDs becomes one
    BETWEEN (1:* of a mailbox never expunged is a single range), the rest IN lists."""
    if uids and uids[-1] - uids[0] == len(uids) - 1:
        yield "m.uid BETWEEN ? AND ?", (uids[0], uids[-1])
        return
    for chunk in _uid_chunks(uids):
        yield f"m.uid IN ({','.join('?' * len(chunk))})", chunk


def _store_flags(cursor, mailbox_id, uids, mode, flags, unchangedsince=None) -> FlagsStored:
    result: list[tuple[int, tuple[str, ...], int]] = []
    modified: list[int] = []
    modseq = 0  # taken at the first message that changes: one per command
    for chunk in _uid_chunks(uids):
        marks = ",".join("?" * len(chunk))
        rows = cursor.execute(
            f"SELECT uid, flags, modseq FROM messages WHERE mailbox_id = ? AND uid IN ({marks})"
            " ORDER BY uid",
            (mailbox_id, *chunk),
        ).fetchall()
        updates = []
        for uid, text, old_modseq in rows:
            if unchangedsince is not None and old_modseq > unchangedsince:
                modified.append(uid)
                continue
            old = _flags_from_db(text)
            new = _apply_flags(old, mode, flags)
            if new != old:
                if not modseq:
                    modseq = next_modseq(cursor, mailbox_id)
                updates.append((" ".join(new), modseq, mailbox_id, uid))
                result.append((uid, new, modseq))
            else:
                result.append((uid, new, old_modseq))
        cursor.executemany(
            "UPDATE messages SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?", updates
        )
    return result, modified


def _apply_flags(old: tuple[str, ...], mode: str, flags: tuple[str, ...]) -> tuple[str, ...]:
    if mode == "set":
        return flags
    if mode == "add":
        return normalize_flags(old + flags)
    drop = {f.lower() for f in flags}
    return tuple(f for f in old if f.lower() not in drop)
