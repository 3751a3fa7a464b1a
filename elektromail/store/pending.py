"""Bodies stored before they are parsed: what SMTP, APPEND and inject store is acknowledged once
its bytes are committed, and the parse (MIME structure, IMAP renderings, search index) is made
later, once, and kept: by the first reader that needs it, or when the store is idle.

Measured under smtp-source (20 sessions, 2 KB messages) the parse was a third of the server's
time per message, and nothing a client is told after DATA or APPEND depends on it. Every
interaction that reads `bodies.structure`, the `fetch_*` renderings or `body_index` calls one of
the `parse_*` functions here first, in the same transaction; when nothing waits (the usual
case) that costs one probe of an empty partial index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from elektromail.store.errors import StoreUnavailable, unavailable
from elektromail.store.ids import NEW_EMAILID
from elektromail.store.rows import PreparedMessage, Render, prepare
from elektromail.store.searchindex import index_search_fields

# What a reader parsed in its own interaction: body id -> the parse. The rows it reads of those
# bodies take their structure, renderings and index from here, not from the tables: when the
# database cannot be written (full, read-only) the parse is not stored, and the read still
# answers, as it did before parses waited.
Parsed = dict[int, PreparedMessage]


# A body waits for its parse while its structure is '' (the partial index bodies_unparsed).
WAITING = "structure = ''"


def any_unparsed(cursor) -> bool:
    return cursor.execute(f"SELECT 1 FROM bodies WHERE {WAITING} LIMIT 1").fetchone() is not None


def parse_all(cursor, render: Render | None) -> Parsed:
    """Parse every body still waiting (a listing or search across mailboxes needs them all)."""
    if not any_unparsed(cursor):
        return {}
    return _parse(cursor, render, f"SELECT id FROM bodies WHERE {WAITING}", ())[0]


def parse_some(cursor, render: Render | None, limit: int) -> int:
    """Parse and store up to `limit` waiting bodies (-1: all), oldest first (the idle-time
    backfill); returns how many were stored (0 while the database cannot be written)."""
    parsed, stored = _parse(
        cursor, render, f"SELECT id FROM bodies WHERE {WAITING} ORDER BY id LIMIT ?", (limit,)
    )
    return len(parsed) if stored else 0


def parse_bodies(cursor, render: Render | None, body_ids: Iterable[int]) -> Parsed:
    """Parse those of `body_ids` still waiting."""
    ids = list(body_ids)
    if not ids or not any_unparsed(cursor):
        return {}
    marks = ",".join("?" * len(ids))
    select = f"SELECT id FROM bodies WHERE {WAITING} AND id IN ({marks})"
    return _parse(cursor, render, select, ids)[0]


def parse_messages(
    cursor, render: Render | None, mailbox_id: int, conditions: Iterable[tuple[str, Sequence]]
) -> Parsed:
    """Parse the waiting bodies of a mailbox's messages selected by `conditions` (SQL on the
    messages table aliased `m`, with their parameters)."""
    if not any_unparsed(cursor):
        return {}
    parsed: Parsed = {}
    for where, params in conditions:
        select = (
            # the waiting ids come from the partial index, not from each message's body row
            f"SELECT DISTINCT m.body_id FROM messages m WHERE m.mailbox_id = ? AND {where}"
            f" AND m.body_id IN (SELECT id FROM bodies WHERE {WAITING})"
        )
        parsed.update(_parse(cursor, render, select, (mailbox_id, *params))[0])
    return parsed


def _parse(cursor, render: Render | None, select: str, params: Sequence) -> tuple[Parsed, bool]:
    """Parse the waiting bodies `select` names and store the parses: (the parses, whether they
    were stored). A database that cannot take them (full, read-only) leaves them waiting."""
    ids = [row[0] for row in cursor.execute(select, params).fetchall()]
    parsed: Parsed = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = cursor.execute(f"SELECT id, raw FROM bodies WHERE id IN ({marks})", chunk)
        for body_id, raw in rows.fetchall():
            parsed[body_id] = prepare(bytes(raw), render)
    if not parsed:
        return parsed, True
    cursor.execute("SAVEPOINT parse")
    try:
        _store(cursor, parsed)
    except StoreUnavailable:
        raise
    except Exception as e:
        if unavailable(e) is None:
            raise
        cursor.execute("ROLLBACK TO parse")
        cursor.execute("RELEASE parse")
        return parsed, False
    cursor.execute("RELEASE parse")
    return parsed, True


def _store(cursor, parsed: Parsed) -> None:
    bodies, index = [], []
    for body_id, message in parsed.items():
        envelope, bodystructure, body = message.rendered or (None, None, None)
        bodies.append((message.structure, envelope, bodystructure, body, body_id))
        assert message.index is not None
        found = message.index
        index.append((body_id, found.attachments, found.search, found.preview))
    cursor.executemany(
        "UPDATE bodies SET structure = ?, fetch_envelope = ?, fetch_bodystructure = ?,"
        " fetch_body = ? WHERE id = ?",
        bodies,
    )
    cursor.executemany(
        "INSERT INTO body_index(body_id, attachments, search, emailid, preview)"
        f" VALUES (?, ?, ?, {NEW_EMAILID}, ?)",
        index,
    )
    for body_id, message in parsed.items():
        assert message.structure is not None
        index_search_fields(cursor, body_id, message.raw, message.structure, message.index)
