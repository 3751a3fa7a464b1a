"""What the store keeps for RFC 8474 (MAILBOXID, EMAILID), RFC 8514 (SAVEDATE) and RFC 8970
(PREVIEW): the ids as they are made, the per-message read FETCH needs, and the schema step
(10 -> 11) that adds and backfills them in an older database.

A mixin of `Store` (which provides `_run` and `render`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred

from elektromail import mailtext, mime
from elektromail.store.ids import NEW_EMAILID, NEW_MAILBOXID
from elektromail.store.pending import WAITING, parse_messages
from elektromail.store.rows import Render


@dataclass(frozen=True, slots=True)
class MessageExtras:
    """What FETCH EMAILID / SAVEDATE / PREVIEW read of one message. `emailid` is None only
    while its body is unparsed and the database cannot store the parse (full, read-only);
    `preview` None: not made yet (PREVIEW (LAZY) of an unparsed body)."""

    uid: int
    saved: float
    emailid: str | None
    preview: str | None


class ObjectOps:
    """The per-message ids and dates; mixed into Store."""

    _run: Any
    render: Render | None

    def message_extras(
        self, mailbox_id: int, uids: Sequence[int], *, parse: bool = True
    ) -> Deferred[dict[int, MessageExtras]]:
        """uid -> MessageExtras for the mailbox's messages among `uids`. With `parse`, bodies
        still waiting for their parse are parsed first (their EMAILID and preview come with
        it); without, they answer with preview None."""
        return self._run(_message_extras, self.render, mailbox_id, list(uids), parse)


def _message_extras(cursor, render, mailbox_id, uids: list[int], parse: bool) -> dict:
    out: dict[int, MessageExtras] = {}
    for start in range(0, len(uids), 500):
        chunk = uids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        where = f"m.uid IN ({marks})"
        parsed = parse_messages(cursor, render, mailbox_id, [(where, chunk)]) if parse else {}
        rows = cursor.execute(
            "SELECT m.uid, coalesce(m.saved, m.internal_date), i.emailid, i.preview, m.body_id"
            " FROM messages m LEFT JOIN body_index i ON i.body_id = m.body_id"
            f" WHERE m.mailbox_id = ? AND {where}",
            (mailbox_id, *chunk),
        )
        for uid, saved, emailid, preview, body_id in rows.fetchall():
            if preview is None and body_id in parsed:  # parsed, but the database took no write
                found = parsed[body_id].index
                preview = found.preview if found is not None else None
            out[uid] = MessageExtras(uid, saved, emailid, preview)
    return out


# --- the schema step 10 -> 11 ----------------------------------------------------------------


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def upgrade(conn: sqlite3.Connection) -> None:
    """Add the columns to a database older than version 11 and fill them: a MAILBOXID per
    mailbox, an EMAILID and a preview per parsed body (an unparsed body gets both with its
    parse), and a save date per message. When mail was saved was not recorded before: the
    internal date stands in (for mail that came by SMTP it is the delivery time)."""
    added = {
        "mailboxes": ("objectid TEXT",),
        "messages": ("saved REAL",),
        "body_index": ("emailid TEXT", "preview TEXT"),
    }
    for table, columns in added.items():
        have = _columns(conn, table)
        for column in columns:
            if column.split()[0] not in have:  # body_index may be new, made by SCHEMA
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
    conn.execute(f"UPDATE mailboxes SET objectid = {NEW_MAILBOXID} WHERE objectid IS NULL")
    conn.execute("UPDATE messages SET saved = internal_date WHERE saved IS NULL")
    conn.execute(f"UPDATE body_index SET emailid = {NEW_EMAILID} WHERE emailid IS NULL")
    fill_previews(conn)


def fill_previews(conn: sqlite3.Connection) -> None:
    """Make the previews of the parsed bodies that have none (stored before version 11)."""
    ids = [
        row[0]
        for row in conn.execute(
            "SELECT b.id FROM bodies b JOIN body_index i ON i.body_id = b.id"
            f" WHERE i.preview IS NULL AND NOT b.{WAITING} ORDER BY b.id"
        )
    ]
    for start in range(0, len(ids), 200):  # a chunk of bodies in memory at a time
        chunk = ids[start : start + 200]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(f"SELECT id, raw, structure FROM bodies WHERE id IN ({marks})", chunk)
        for body_id, raw, structure in rows.fetchall():
            text = mailtext.preview(bytes(raw), mime.from_json(structure).body)
            conn.execute("UPDATE body_index SET preview = ? WHERE body_id = ?", (text, body_id))
