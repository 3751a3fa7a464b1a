"""Store operations for the control plane (the HTTP API, preloaded fixtures): reset to a
baseline, purge, users made and removed at run time, and inject into a mailbox made on demand.

A mixin of `Store` (which provides `_run` and `_grouped`); each operation is one transaction.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred

from elektromail.names import fold
from elektromail.store.arrivals import note_highest
from elektromail.store.db import (
    _INSERT_MESSAGE,
    UserRow,
    _add_user,
    _body_row,
    _get_user,
    _index_body,
    _insert_body,
    _insert_message,
    _message_row,
    _stamped,
)
from elektromail.store.dialect import dialect_of
from elektromail.store.errors import NoSuchUser, UserExists
from elektromail.store.ids import NEW_MAILBOXID
from elektromail.store.mailboxes import (
    MailboxRow,
    _create_mailbox,
    _delete_orphan_bodies,
    _get_mailbox,
    _parents,
    take_uidvalidities,
)
from elektromail.store.modseq import forget_expunges_of
from elektromail.store.namespaces import Scope, _users_in_scope, chunks, scope_condition
from elektromail.store.rows import PreparedMessage


@dataclass(frozen=True, slots=True)
class BaselineMailbox:
    name: str
    special_use: str | None = None
    subscribed: bool = False


@dataclass(frozen=True, slots=True)
class BaselineUser:
    name: str
    password: str | None
    email: str | None
    seeded: bool  # configured (ELEKTROMAIL_USERS), not only named by a fixture
    mailboxes: tuple[BaselineMailbox, ...]  # parents before their children


@dataclass(frozen=True, slots=True)
class BaselineMessage:
    user: str  # the name of one of the baseline's users
    mailbox: str  # one of that user's baseline mailboxes
    message: PreparedMessage  # with its internal date set: a reset gives the same one again


@dataclass(frozen=True, slots=True)
class Baseline:
    """The start state `reset` returns to: these users with these mailboxes and messages
    (messages in the order they are stored, which gives each mailbox's UIDs from 1)."""

    users: tuple[BaselineUser, ...] = ()
    messages: tuple[BaselineMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class Injected:
    """Where `inject` stored a message: the names as stored, the mailbox id and the UID."""

    user: str
    mailbox: str
    mailbox_id: int
    uid: int


@dataclass(frozen=True, slots=True)
class Emptied:
    """A mailbox `purge` emptied and the UIDs it held, ascending."""

    user: str
    mailbox: str
    mailbox_id: int
    uids: tuple[int, ...]


class ControlOps:
    """Mixed into Store, whose `_run` runs an interaction and `_grouped` a grouped write."""

    _run: Any
    _run_freeing: Any
    _grouped: Any
    _noted: Any

    def create_user(
        self,
        name: str,
        password: str | None,
        email: str | None,
        mailboxes: Sequence[tuple[str, str | None]],
    ) -> Deferred[UserRow]:
        """A new user with `mailboxes` ((name, special-use) pairs); UserExists when the name
        (any case) or the email address is taken, its message a sentence saying which."""
        return self._run(_create_user, name, password, email, tuple(mailboxes))

    def delete_user(self, name: str) -> Deferred[UserRow]:
        """Remove the user (any case), its mailboxes, messages and the bodies nothing else
        shares; fires with the removed row. NoSuchUser."""
        return self._run_freeing(_delete_user, name)

    def inject(self, user: str, mailbox: str, message: PreparedMessage) -> Deferred[Injected]:
        """Store one message into the named user's mailbox, creating it and its missing
        parents (subscribed) first. NoSuchUser."""
        return self._grouped(_inject, user, mailbox, _stamped(self._noted(message)))

    def purge(self, scope: Scope = None) -> Deferred[list[Emptied]]:
        """Delete every message (of the users in `scope`, see store/namespaces.py); users and
        mailboxes (UIDVALIDITY, UIDNEXT) stay."""
        if scope is None:
            return self._run_freeing(_wholesale, _purge)
        return self._run_freeing(_purge_scope, scope)

    def install(self, baseline: Baseline) -> Deferred[int]:
        """Add what `baseline` has and the store lacks (start-up): users, mailboxes, and each
        message not already in its mailbox byte for byte (a database file keeps them across
        restarts). Fires with the number of messages added."""
        return self._run(_install, baseline)

    def reset(self, baseline: Baseline, scope: Scope = None) -> Deferred[list[str] | None]:
        """Replace everything with `baseline`: every mailbox recreated with a new UIDVALIDITY,
        UIDs from 1. Users of the baseline keep their ids. Fires with None.

        With a `scope`, only its users go (fires with their names): the default namespace
        ("") then gets `baseline` back, user by user (slower, and its users get new ids), so
        that the namespaces' users and mail stay; a namespace comes back empty."""
        if scope is None:
            return self._run_freeing(_wholesale, _reset, baseline)
        return self._run_freeing(_reset_scope, baseline, scope)


# --- interactions ----------------------------------------------------------------------------


def _wholesale(cursor, fn, *args):
    """Run `fn`, which empties whole tables, with foreign key enforcement off, and commit:
    SQLite empties a table at once only when no foreign key refers to it or from it, and row
    by row otherwise (60 ms instead of 2 for 10,000 messages). `fn` leaves the rows consistent
    by construction. The pragma is a no-op inside a transaction, and an interaction starts
    outside one, so the commit happens here, before the pragma is restored."""
    connection = cursor.connection
    # PostgreSQL's TRUNCATE would be its fast way; its DELETEs are fast enough for a test
    # server, and the one code path keeps the rows' order of deletion (see _WIPE_ORDER).
    if connection.in_transaction or dialect_of(cursor).is_postgresql:
        return fn(cursor, *args)
    cursor.execute("PRAGMA foreign_keys = OFF")
    try:
        result = fn(cursor, *args)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        cursor.execute("PRAGMA foreign_keys = ON")
    return result


def _create_user(cursor, name, password, email, mailboxes) -> UserRow:
    existing = _get_user(cursor, "name", name)
    if existing is not None:
        raise UserExists(f"user {existing.name!r} exists")
    if email is not None:
        owner = _get_user(cursor, "email", email)
        if owner is not None:
            raise UserExists(f"email address {email!r} belongs to user {owner.name!r}")
    user = _add_user(cursor, name, password, email, False)
    for mailbox, special_use in mailboxes:
        _create_mailbox(cursor, user.id, mailbox, special_use)
    return user


def _delete_user(cursor, name) -> UserRow:
    user = _get_user(cursor, "name", name)
    if user is None:
        raise NoSuchUser(name)
    bodies = [
        row[0]
        for row in cursor.execute(
            "SELECT DISTINCT m.body_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
            " WHERE b.user_id = ?",
            (user.id,),
        )
    ]
    note_highest(cursor)
    cursor.execute(
        "DELETE FROM messages WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE user_id = ?)",
        (user.id,),
    )
    # mailboxes, subscriptions and retired names go with the user (ON DELETE CASCADE)
    cursor.execute("DELETE FROM users WHERE id = ?", (user.id,))
    _delete_orphan_bodies(cursor, sorted(bodies))
    return user


def _mailbox_path(cursor, user_id, name) -> MailboxRow:
    """The mailbox `name`, created (with its missing parents) when missing; what the server
    creates on its own is subscribed, so clients that show subscribed folders only see it."""
    mailbox = _get_mailbox(cursor, user_id, name)
    if mailbox is not None:
        return mailbox
    for parent in _parents(name):
        if _get_mailbox(cursor, user_id, parent) is None:
            _create_mailbox(cursor, user_id, parent, None, subscribe=True)
    return _create_mailbox(cursor, user_id, name, None, subscribe=True)


def _inject(cursor, user_name, mailbox_name, message: PreparedMessage) -> Injected:
    user = _get_user(cursor, "name", user_name)
    if user is None:
        raise NoSuchUser(user_name)
    mailbox = _mailbox_path(cursor, user.id, mailbox_name)
    body_id = _insert_body(cursor, message)
    uid = _insert_message(cursor, mailbox.id, body_id, message)
    return Injected(user.name, mailbox.name, mailbox.id, uid)


def _purge(cursor) -> list[Emptied]:
    names = {
        mailbox_id: (user, mailbox)
        for mailbox_id, user, mailbox in cursor.execute(
            "SELECT b.id, u.name, b.name FROM mailboxes b JOIN users u ON u.id = b.user_id"
        )
    }
    # (mailbox_id, uid) alone: read from the index, without touching the message rows
    rows = cursor.execute("SELECT mailbox_id, uid FROM messages ORDER BY mailbox_id, uid")
    emptied = [
        Emptied(*names[mailbox_id], mailbox_id, tuple(uid for _, uid in group))
        for mailbox_id, group in itertools.groupby(rows.fetchall(), key=lambda r: r[0])
    ]
    note_highest(cursor)
    forget_expunges_of(cursor, [e.mailbox_id for e in emptied])
    cursor.execute("DELETE FROM messages")
    cursor.execute("DELETE FROM body_index")  # foreign keys are off here: no cascade
    cursor.execute("DELETE FROM search_envelope")
    cursor.execute("DELETE FROM search_header")
    cursor.execute("DELETE FROM sort_keys")
    cursor.execute("DELETE FROM search_text")
    cursor.execute("DELETE FROM bodies")
    return emptied


def _install(cursor, baseline: Baseline) -> int:
    mailboxes: dict[tuple[str, str], MailboxRow] = {}
    for spec in baseline.users:
        user = _get_user(cursor, "name", spec.name)
        if user is None:
            user = _add_user(cursor, spec.name, spec.password, spec.email, spec.seeded)
        for box in spec.mailboxes:
            row = _get_mailbox(cursor, user.id, box.name)
            if row is None:
                row = _create_mailbox(
                    cursor, user.id, box.name, box.special_use, subscribe=box.subscribed
                )
            mailboxes[(fold(spec.name), box.name)] = row
    stored: dict[int, dict[int, list[int]]] = {}  # mailbox id -> size -> body ids, before
    added = 0
    for fixture in baseline.messages:
        mailbox = mailboxes[(fold(fixture.user), fixture.mailbox)]
        if mailbox.id not in stored:
            stored[mailbox.id] = _sizes(cursor, mailbox.id)
        message = _stamped(fixture.message)
        if _stored_already(cursor, stored[mailbox.id], message.raw):
            continue
        body_id = _insert_body(cursor, message)
        _insert_message(cursor, mailbox.id, body_id, message)
        added += 1
    return added


def _sizes(cursor, mailbox_id) -> dict[int, list[int]]:
    sizes: dict[int, list[int]] = {}
    for size, body_id in cursor.execute(
        "SELECT size, body_id FROM messages WHERE mailbox_id = ?", (mailbox_id,)
    ):
        sizes.setdefault(size, []).append(body_id)
    return sizes


def _stored_already(cursor, sizes: dict[int, list[int]], raw: bytes) -> bool:
    for body_id in sizes.get(len(raw), ()):
        row = cursor.execute("SELECT raw FROM bodies WHERE id = ?", (body_id,)).fetchone()
        if row is not None and bytes(row[0]) == raw:
            return True
    return False


# Children before parents, so each DELETE finds nothing that still points at its rows.
_WIPE_ORDER = (
    "messages",
    "expunged",
    "body_index",
    "search_envelope",
    "search_header",
    "sort_keys",
    "search_text",
    "bodies",
    "subscriptions",
    "quotas",
    "retired_names",
    "mailboxes",
    "users",
)


def _reset(cursor, baseline: Baseline) -> None:
    user_ids = {fold(name): id_ for id_, name in cursor.execute("SELECT id, name FROM users")}
    # Mailbox ids above those in use: an id held from before the reset (an event in flight, a
    # session's selected mailbox) never names a mailbox the reset made.
    next_mailbox_id = cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM mailboxes").fetchone()[0]
    next_user_id = max(user_ids.values(), default=0) + 1
    note_highest(cursor)  # meta stays: the wipe below leaves it
    for table in _WIPE_ORDER:
        cursor.execute(f"DELETE FROM {table}")
    counts = Counter((fold(m.user), m.mailbox) for m in baseline.messages)
    uidvalidity = _reserve_uidvalidities(cursor, sum(len(u.mailboxes) for u in baseline.users))
    users, boxes, subscriptions = [], [], []
    mailbox_ids: dict[tuple[str, str], int] = {}
    for spec in baseline.users:
        key = fold(spec.name)
        user_id = user_ids.get(key)
        if user_id is None:
            user_id, next_user_id = next_user_id, next_user_id + 1
        users.append((user_id, spec.name, spec.password, spec.email, int(spec.seeded)))
        for box in spec.mailboxes:
            uidnext = counts[(key, box.name)] + 1
            boxes.append(
                (next_mailbox_id, user_id, box.name, uidvalidity, uidnext, box.special_use)
            )
            mailbox_ids[(key, box.name)] = next_mailbox_id
            if box.subscribed:
                subscriptions.append((user_id, box.name))
            next_mailbox_id += 1
            uidvalidity += 1
    cursor.executemany(
        "INSERT INTO users(id, name, password, email, seeded) VALUES (?, ?, ?, ?, ?)", users
    )
    cursor.executemany(
        "INSERT INTO mailboxes(id, user_id, name, uidvalidity, uidnext, special_use, objectid)"
        f" VALUES (?, ?, ?, ?, ?, ?, {NEW_MAILBOXID})",
        boxes,
    )
    cursor.executemany("INSERT INTO subscriptions(user_id, name) VALUES (?, ?)", subscriptions)
    _insert_baseline_messages(cursor, baseline.messages, mailbox_ids)


def _insert_baseline_messages(
    cursor, messages: Sequence[BaselineMessage], mailbox_ids: dict[tuple[str, str], int]
) -> None:
    bodies, rows = [], []
    uids: Counter[int] = Counter()
    stamped = [_stamped(fixture.message) for fixture in messages]
    for body_id, (fixture, message) in enumerate(zip(messages, stamped, strict=True), 1):
        bodies.append((body_id, *_body_row(message)))
        mailbox_id = mailbox_ids[(fold(fixture.user), fixture.mailbox)]
        uids[mailbox_id] += 1
        rows.append(_message_row(mailbox_id, uids[mailbox_id], body_id, message))
    cursor.executemany(
        "INSERT INTO bodies(id, raw, structure, fetch_envelope, fetch_bodystructure, fetch_body)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        bodies,
    )
    for body_id, message in enumerate(stamped, 1):
        _index_body(cursor, body_id, message)
    cursor.executemany(
        _INSERT_MESSAGE,
        rows,
    )


def _reserve_uidvalidities(cursor, count: int) -> int:
    """The first of `count` consecutive UIDVALIDITYs, each larger than any handed out before
    (as mailboxes._next_uidvalidity, for many mailboxes at once)."""
    return take_uidvalidities(cursor, count)


def _purge_scope(cursor, scope: Scope) -> list[Emptied]:
    condition, params = scope_condition(scope)
    rows = cursor.execute(
        "SELECT b.id, u.name, b.name, m.uid, m.body_id FROM messages m"
        " JOIN mailboxes b ON b.id = m.mailbox_id JOIN users u ON u.id = b.user_id"
        f" WHERE {condition} ORDER BY b.id, m.uid",
        params,
    ).fetchall()
    emptied = []
    for mailbox_id, group in itertools.groupby(rows, key=lambda r: r[0]):
        found = list(group)
        emptied.append(Emptied(found[0][1], found[0][2], mailbox_id, tuple(r[3] for r in found)))
    for chunk in chunks([e.mailbox_id for e in emptied]):
        marks = ",".join("?" * len(chunk))
        cursor.execute(f"DELETE FROM messages WHERE mailbox_id IN ({marks})", chunk)
    _delete_orphan_bodies(cursor, sorted({r[4] for r in rows}))
    forget_expunges_of(cursor, [e.mailbox_id for e in emptied])
    return emptied


def _reset_scope(cursor, baseline: Baseline, scope: Scope) -> list[str]:
    users = _users_in_scope(cursor, scope)
    for name in users:
        _delete_user(cursor, name)
    if scope == "":
        _install(cursor, baseline)
    return users
