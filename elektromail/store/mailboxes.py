"""Mailboxes in the store: rows, the "/" hierarchy (CREATE, DELETE, RENAME with their
subtrees), subscriptions, and the counts STATUS and LIST-STATUS report.

Interaction functions only (each runs inside a `Store` transaction on the pool's thread);
`Store` in db.py exposes them as Deferred-returning methods.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from elektromail.names import DELIMITER, INBOX
from elektromail.store.arrivals import note_highest
from elektromail.store.errors import (
    MailboxExists,
    MailboxHasChildren,
    MailboxIntoItself,
    NoSuchMailbox,
)
from elektromail.store.ids import new_mailboxid
from elektromail.store.modseq import remember_expunged


@dataclass(frozen=True, slots=True)
class MailboxRow:
    id: int
    user_id: int
    name: str
    uidvalidity: int
    uidnext: int
    subscribed: bool
    special_use: str | None
    # the first UID no read-write SELECT has seen yet (RFC 3501 §2.3.2 \Recent)
    first_recent: int = 1
    # RFC 7162: the mod-sequence of its last change (a version stamp, not part of equality)
    highestmodseq: int = field(default=1, compare=False)
    objectid: str | None = None  # MAILBOXID (RFC 8474 §4)


@dataclass(frozen=True, slots=True)
class MailboxCounts:
    """What STATUS reports beyond the mailbox row (RFC 9051 §6.3.11)."""

    messages: int = 0
    unseen: int = 0
    deleted: int = 0
    size: int = 0
    recent: int = 0  # not yet seen by a read-write SELECT (RFC 3501 §6.3.10)
    deleted_storage: int = 0  # octets of the \Deleted ones (RFC 9208 §4.1.4)


@dataclass(frozen=True, slots=True)
class MailboxListing:
    """A user's mailboxes and subscribed names in one snapshot, for LIST and LSUB; `counts`
    (by mailbox id) only when asked for."""

    mailboxes: list[MailboxRow]
    subscriptions: frozenset[str]
    counts: dict[int, MailboxCounts]


@dataclass(frozen=True, slots=True)
class Renamed:
    """What a RENAME did: (old, new) name of each moved mailbox, parent first. Renaming INBOX
    moves its messages instead: `inbox_id` and the UIDs that left it are set then."""

    names: tuple[tuple[str, str], ...]
    inbox_id: int | None = None
    inbox_uids: tuple[int, ...] = ()


def _mailbox(row: Sequence[Any]) -> MailboxRow:
    return MailboxRow(
        row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7], row[8], row[9]
    )


_MAILBOX_COLS = (
    "id, user_id, name, uidvalidity, uidnext, EXISTS(SELECT 1 FROM subscriptions s"
    " WHERE s.user_id = mailboxes.user_id AND s.name = mailboxes.name), special_use,"
    " first_recent_uid, highestmodseq, objectid"
)


def _next_uidvalidity(cursor: sqlite3.Cursor) -> int:
    """Strictly increasing across the database, so a recreated mailbox never reuses one."""
    return take_uidvalidities(cursor, 1)


# The last of `count` UIDVALIDITYs taken in one statement: the clock's seconds, or one more
# than the last one taken when the clock is not ahead of it. One statement, so that processes
# sharing a database never take the same (PostgreSQL's upsert waits for the row another
# transaction changed and then uses its new value; a read, then a write, would not).
_TAKE_UIDVALIDITIES = (
    "INSERT INTO meta(key, value) VALUES ('uidvalidity', ?) ON CONFLICT(key) DO UPDATE"
    " SET value = max(meta.value + ?, excluded.value) RETURNING value"
)
_UIDVALIDITY_MAX = 0xFFFFFFFF  # RFC 9051: a 32-bit nz-number


def take_uidvalidities(cursor, count: int) -> int:
    """The first of `count` consecutive UIDVALIDITYs, each larger than any handed out before
    (unless the 32-bit range is used up: then they start again at 1)."""
    count = max(count, 1)
    now = int(time.time()) & _UIDVALIDITY_MAX or 1
    last = cursor.execute(_TAKE_UIDVALIDITIES, (now + count - 1, count)).fetchone()[0]
    if last > _UIDVALIDITY_MAX:  # the row is this transaction's now: no one else takes these
        last = count
        cursor.execute("UPDATE meta SET value = ? WHERE key = 'uidvalidity'", (last,))
    return last - count + 1


def _ensure_mailboxes(cursor, user_id, mailboxes) -> None:
    for name, special_use in mailboxes:
        if _get_mailbox(cursor, user_id, name) is None:
            _create_mailbox(cursor, user_id, name, special_use)


def _get_mailbox(cursor, user_id, name) -> MailboxRow | None:
    row = cursor.execute(
        f"SELECT {_MAILBOX_COLS} FROM mailboxes WHERE user_id = ? AND name = ?", (user_id, name)
    ).fetchone()
    return _mailbox(row) if row else None


def _list_mailboxes(cursor, user_id) -> list[MailboxRow]:
    rows = cursor.execute(
        f"SELECT {_MAILBOX_COLS} FROM mailboxes WHERE user_id = ? ORDER BY name", (user_id,)
    )
    return [_mailbox(r) for r in rows]


def _create_mailbox(cursor, user_id, name, special_use, subscribe=None) -> MailboxRow:
    """One mailbox row with a fresh UIDVALIDITY; the server's own mailboxes (INBOX and the
    special-use ones) are subscribed unless `subscribe` says otherwise."""
    uidvalidity = _next_uidvalidity(cursor)
    if subscribe is None:
        subscribe = bool(special_use) or name == INBOX
    objectid = new_mailboxid()
    try:
        cursor.execute(
            "INSERT INTO mailboxes(user_id, name, uidvalidity, special_use, objectid)"
            " VALUES (?, ?, ?, ?, ?)",
            (user_id, name, uidvalidity, special_use, objectid),
        )
    except sqlite3.IntegrityError:
        raise MailboxExists(name) from None
    mailbox_id = cursor.lastrowid
    if subscribe:
        _subscribe(cursor, user_id, name)
    subscribed = subscribe or _is_subscribed(cursor, user_id, name)
    return MailboxRow(
        mailbox_id, user_id, name, uidvalidity, 1, subscribed, special_use, objectid=objectid
    )


# --- the hierarchy: CREATE, DELETE, RENAME, subscriptions, LIST and STATUS -------------------


def _subtree_bounds(name: str) -> tuple[str, str]:
    """[low, high) holding exactly the names under `name` in SQLite's binary order: every
    "name/..." sorts after "name/" and before "name0" ("0" follows "/" in ASCII)."""
    return name + DELIMITER, name + chr(ord(DELIMITER) + 1)


def _parents(name: str) -> list[str]:
    parts = name.split(DELIMITER)
    return [DELIMITER.join(parts[:i]) for i in range(1, len(parts))]


def _has_children(cursor, user_id, name) -> bool:
    low, high = _subtree_bounds(name)
    row = cursor.execute(
        "SELECT 1 FROM mailboxes WHERE user_id = ? AND name >= ? AND name < ? LIMIT 1",
        (user_id, low, high),
    ).fetchone()
    return row is not None


def _create_parents(cursor, user_id, name) -> None:
    for parent in _parents(name):
        if _get_mailbox(cursor, user_id, parent) is None:
            _create_mailbox(cursor, user_id, parent, None, subscribe=False)


def _create_mailbox_path(cursor, user_id, name, special_use) -> MailboxRow:
    if _get_mailbox(cursor, user_id, name) is not None:
        raise MailboxExists(name)
    _create_parents(cursor, user_id, name)
    return _create_mailbox(cursor, user_id, name, special_use, subscribe=False)


def _retire(cursor, user_id, name, uidvalidity) -> None:
    cursor.execute(
        "INSERT INTO retired_names(user_id, name, uidvalidity) VALUES (?, ?, ?) "
        "ON CONFLICT(user_id, name) DO UPDATE SET "
        "uidvalidity = max(retired_names.uidvalidity, excluded.uidvalidity)",
        (user_id, name, uidvalidity),
    )


def _retired_uidvalidity(cursor, user_id, name) -> int:
    row = cursor.execute(
        "SELECT uidvalidity FROM retired_names WHERE user_id = ? AND name = ?", (user_id, name)
    ).fetchone()
    return row[0] if row else 0


def _delete_mailbox(cursor, user_id, name) -> tuple[MailboxRow, list[int]]:
    mailbox = _get_mailbox(cursor, user_id, name)
    if mailbox is None:
        raise NoSuchMailbox(name)
    if _has_children(cursor, user_id, name):
        raise MailboxHasChildren(name)
    rows = cursor.execute(
        "SELECT uid, body_id FROM messages WHERE mailbox_id = ? ORDER BY uid", (mailbox.id,)
    ).fetchall()
    note_highest(cursor)
    cursor.execute("DELETE FROM messages WHERE mailbox_id = ?", (mailbox.id,))
    cursor.execute("DELETE FROM mailboxes WHERE id = ?", (mailbox.id,))
    _delete_orphan_bodies(cursor, sorted({body_id for _uid, body_id in rows}))
    _retire(cursor, user_id, name, mailbox.uidvalidity)
    return mailbox, [uid for uid, _body_id in rows]


def _delete_orphan_bodies(cursor, body_ids: list[int]) -> None:
    """Bodies are shared between message rows (COPY): drop only those nothing points to."""
    for chunk in _chunks(body_ids):
        marks = ",".join("?" * len(chunk))
        cursor.execute(
            f"DELETE FROM bodies WHERE id IN ({marks}) AND NOT EXISTS"
            " (SELECT 1 FROM messages WHERE body_id = bodies.id)",
            chunk,
        )


def _rename_mailbox(cursor, user_id, old, new) -> Renamed:
    if old == INBOX:
        return _rename_inbox(cursor, user_id, new)
    root = _get_mailbox(cursor, user_id, old)
    if root is None:
        raise NoSuchMailbox(old)
    if new.startswith(old + DELIMITER):
        raise MailboxIntoItself(new)
    low, high = _subtree_bounds(old)
    subtree = [root] + [
        _mailbox(r)
        for r in cursor.execute(
            f"SELECT {_MAILBOX_COLS} FROM mailboxes WHERE user_id = ? AND name >= ? AND name < ?"
            " ORDER BY name",
            (user_id, low, high),
        ).fetchall()
    ]
    moves = [(mailbox, new + mailbox.name[len(old) :]) for mailbox in subtree]
    for _mailbox_row, target in moves:
        if target == INBOX or _get_mailbox(cursor, user_id, target) is not None:
            raise MailboxExists(target)
    _create_parents(cursor, user_id, new)
    for mailbox, target in moves:
        uidvalidity = mailbox.uidvalidity
        if _retired_uidvalidity(cursor, user_id, target) >= uidvalidity:
            # a client may remember the name's earlier incarnation: its UIDVALIDITY must grow
            uidvalidity = _next_uidvalidity(cursor)
        cursor.execute(
            "UPDATE mailboxes SET name = ?, uidvalidity = ? WHERE id = ?",
            (target, uidvalidity, mailbox.id),
        )
        _retire(cursor, user_id, mailbox.name, mailbox.uidvalidity)
    return Renamed(tuple((mailbox.name, target) for mailbox, target in moves))


def _rename_inbox(cursor, user_id, new) -> Renamed:
    inbox = _get_mailbox(cursor, user_id, INBOX)
    if inbox is None:
        raise NoSuchMailbox(INBOX)
    if new == INBOX or _get_mailbox(cursor, user_id, new) is not None:
        raise MailboxExists(new)
    _create_parents(cursor, user_id, new)
    target = _create_mailbox(cursor, user_id, new, None, subscribe=False)
    uids = [
        r[0]
        for r in cursor.execute(
            "SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid", (inbox.id,)
        )
    ]
    # The messages keep their UIDs, so the new mailbox continues INBOX's UID sequence;
    # INBOX keeps its UIDNEXT, so it never hands those UIDs out again.
    # The new mailbox starts above every mod-sequence its messages carry (RFC 7162 §3.1.2.1).
    cursor.execute(
        "UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?",
        (inbox.uidnext, inbox.highestmodseq, target.id),
    )
    cursor.execute("UPDATE messages SET mailbox_id = ? WHERE mailbox_id = ?", (target.id, inbox.id))
    remember_expunged(cursor, inbox.id, uids)
    return Renamed(((INBOX, new),), inbox.id, tuple(uids))


def _subscribe(cursor, user_id, name) -> None:
    cursor.execute(
        "INSERT INTO subscriptions(user_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
        (user_id, name),
    )


def _unsubscribe(cursor, user_id, name) -> None:
    cursor.execute("DELETE FROM subscriptions WHERE user_id = ? AND name = ?", (user_id, name))


def _is_subscribed(cursor, user_id, name) -> bool:
    row = cursor.execute(
        "SELECT 1 FROM subscriptions WHERE user_id = ? AND name = ?", (user_id, name)
    ).fetchone()
    return row is not None


_COUNTS = (
    "SELECT m.mailbox_id, count(*), sum(instr(' ' || m.flags || ' ', ' \\Seen ') = 0),"
    " sum(instr(' ' || m.flags || ' ', ' \\Deleted ') > 0), coalesce(sum(m.size), 0),"
    " sum(m.uid >= b.first_recent_uid),"
    " coalesce(sum(CASE WHEN instr(' ' || m.flags || ' ', ' \\Deleted ') > 0 THEN m.size END), 0)"
    " FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
)


def _mailbox_listing(cursor, user_id, counts) -> MailboxListing:
    mailboxes = _list_mailboxes(cursor, user_id)
    subscribed = frozenset(
        r[0] for r in cursor.execute("SELECT name FROM subscriptions WHERE user_id = ?", (user_id,))
    )
    by_id: dict[int, MailboxCounts] = {}
    if counts:
        rows = cursor.execute(
            _COUNTS + " WHERE b.user_id = ? GROUP BY m.mailbox_id",
            (user_id,),
        )
        by_id = {r[0]: MailboxCounts(*r[1:]) for r in rows}
    return MailboxListing(mailboxes, subscribed, by_id)


def _mailbox_status(cursor, user_id, name) -> tuple[MailboxRow, MailboxCounts] | None:
    mailbox = _get_mailbox(cursor, user_id, name)
    if mailbox is None:
        return None
    row = cursor.execute(
        _COUNTS + " WHERE m.mailbox_id = ? GROUP BY m.mailbox_id", (mailbox.id,)
    ).fetchone()
    return mailbox, MailboxCounts(*row[1:]) if row else MailboxCounts()


def _chunks(values: list[int], size: int = 500):
    for i in range(0, len(values), size):
        yield values[i : i + size]
