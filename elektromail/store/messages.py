"""Store operations that remove or duplicate messages: EXPUNGE, COPY, MOVE.

A mixin of `Store` (which provides `_run`), kept apart from db.py so the mailbox and the
message halves of the store stay small.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from twisted.internet.defer import Deferred

from elektromail.store.arrivals import NEXT_MESSAGE_ID, note_highest
from elektromail.store.db import NoSuchMailbox, _flags_from_db, _uid_chunks
from elektromail.store.modseq import next_modseq, remember_expunged


class MessageOps:
    """Expunge, copy and move; each a single transaction. Mixed into Store, whose `_run`
    runs an interaction."""

    _run: Any
    _run_removing: Any

    def expunge(self, mailbox_id: int, uids: Sequence[int] | None = None) -> Deferred[list[int]]:
        """Remove the messages flagged \\Deleted (only among `uids` when given); fires with
        the removed UIDs, ascending."""
        return self._run_removing(_expunge, mailbox_id, None if uids is None else list(uids))

    def copy(
        self, source_id: int, uids: Sequence[int], target_id: int, *, move: bool = False
    ) -> Deferred[tuple[int, list[tuple[int, int, tuple[str, ...]]]]]:
        """Copy (or move) messages; fires with the target's UIDVALIDITY and
        (source uid, new uid, flags) per message, in source UID order."""
        return self._run(_copy, source_id, list(uids), target_id, move)


def _delete_messages(cursor, mailbox_id: int, uids: list[int]) -> None:
    """Delete message rows, then the bodies no other row uses; the UIDs are remembered with
    the expunge's mod-sequence (QRESYNC)."""
    remember_expunged(cursor, mailbox_id, uids)
    if uids:
        note_highest(cursor)
    for chunk in _uid_chunks(uids):
        marks = ",".join("?" * len(chunk))
        bodies = [
            row[0]
            for row in cursor.execute(
                f"SELECT DISTINCT body_id FROM messages WHERE mailbox_id = ? AND uid IN ({marks})",
                (mailbox_id, *chunk),
            )
        ]
        cursor.execute(
            f"DELETE FROM messages WHERE mailbox_id = ? AND uid IN ({marks})", (mailbox_id, *chunk)
        )
        cursor.executemany(
            "DELETE FROM bodies WHERE id = ? AND NOT EXISTS "
            "(SELECT 1 FROM messages WHERE body_id = bodies.id)",
            [(body,) for body in bodies],
        )


def _expunge(cursor, mailbox_id: int, uids: list[int] | None) -> list[int]:
    rows = cursor.execute(
        "SELECT uid, flags FROM messages WHERE mailbox_id = ? AND flags LIKE '%Deleted%'"
        " ORDER BY uid",
        (mailbox_id,),
    ).fetchall()
    wanted = None if uids is None else set(uids)
    doomed = [
        uid
        for uid, flags in rows
        if "\\Deleted" in _flags_from_db(flags) and (wanted is None or uid in wanted)
    ]
    _delete_messages(cursor, mailbox_id, doomed)
    return doomed


def _copy(cursor, source_id, uids, target_id, move) -> tuple[int, list]:
    target = cursor.execute(
        "SELECT uidvalidity, uidnext FROM mailboxes WHERE id = ?", (target_id,)
    ).fetchone()
    if target is None:
        raise NoSuchMailbox(target_id)
    uidvalidity, uidnext = target
    modseq = next_modseq(cursor, target_id) if uids else 0  # the copies arrive as one change
    copied = []
    for chunk in _uid_chunks(uids):
        marks = ",".join("?" * len(chunk))
        rows = cursor.execute(
            "SELECT uid, flags, internal_date, tz_minutes, size, body_id FROM messages"
            f" WHERE mailbox_id = ? AND uid IN ({marks}) ORDER BY uid",
            (source_id, *chunk),
        ).fetchall()
        inserts = []
        saved = time.time()  # RFC 8514 §2: a copy's SAVEDATE is when it was copied (or moved)
        for uid, flags, when, tz, size, body_id in rows:
            inserts.append((target_id, uidnext, flags, when, tz, size, body_id, modseq, saved))
            copied.append((uid, uidnext, _flags_from_db(flags)))
            uidnext += 1
        cursor.executemany(
            "INSERT INTO messages(id, mailbox_id, uid, flags, internal_date, tz_minutes, size,"
            f" body_id, modseq, saved) VALUES ({NEXT_MESSAGE_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            inserts,
        )
    cursor.execute("UPDATE mailboxes SET uidnext = ? WHERE id = ?", (uidnext, target_id))
    if move:
        _delete_messages(cursor, source_id, [source for source, _, _ in copied])
    return uidvalidity, copied
