"""Arrival order as a number: every stored message row gets an id larger than any row had
before, deleted ones included, so that "the messages after id N" (the cursor of the control
API's listings and waits) never names a message that was already there when N was read.

SQLite gives a new row max(rowid) + 1, which takes an id back once the newest rows are deleted
(expunge, purge, reset). The largest id is noted in `meta` before each delete, and inserts take
their id above both.
"""

from __future__ import annotations

# The id of a new message row, in place of SQLite's choice (a subquery per row: ~0.6 µs).
NEXT_MESSAGE_ID = (
    "(SELECT max(coalesce(max(id), 0),"
    " coalesce((SELECT value FROM meta WHERE key = 'message_high'), 0)) + 1 FROM messages)"
)
# The largest id any message row has had: what a cursor taken now is.
HIGHEST_MESSAGE_ID = (
    "SELECT max(coalesce((SELECT max(id) FROM messages), 0),"
    " coalesce((SELECT value FROM meta WHERE key = 'message_high'), 0))"
)


def note_highest(cursor) -> None:
    """Remember the largest message id before rows are deleted.

    On PostgreSQL, under the lock the id trigger takes (dialect.lock_message_ids), held
    until the transaction ends: a delete that follows may remove rows another process
    committed after this note was read (a DELETE by mailbox reads anew), and their ids
    would be taken again. With the lock no new id is taken meanwhile, and the note, read
    after the lock, sees every id taken before."""
    from elektromail.store.dialect import lock_message_ids  # dialect imports this module

    lock_message_ids(cursor)
    cursor.execute(
        "INSERT INTO meta(key, value) SELECT 'message_high', coalesce(max(id), 0) FROM messages"
        " WHERE true ON CONFLICT(key) DO UPDATE SET value = max(meta.value, excluded.value)"
    )


def highest(cursor) -> int:
    """The cursor of this moment: every message stored later has a larger id."""
    return cursor.execute(HIGHEST_MESSAGE_ID).fetchone()[0]
