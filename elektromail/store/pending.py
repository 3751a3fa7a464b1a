"""Bodies stored before they are parsed: what SMTP, APPEND and inject store is acknowledged once
its bytes are committed, and the parse (MIME structure, IMAP renderings, search index) is made
later, once, and kept: by the first reader that needs it, or when the store is idle.

Measured under smtp-source (20 sessions, 2 KB messages) the parse was a third of the server's
time per message, and nothing a client is told after DATA or APPEND depends on it. Every
interaction that reads `bodies.structure`, the `fetch_*` renderings or `body_index` calls one of
the `parse_*` functions here first, in the same transaction; when nothing waits (the usual
case) that costs one probe of an empty partial index. ENVELOPE alone is the exception
(`render_envelopes`): it needs only the top-level header, and a FETCH of it is made from that.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from elektromail import mime
from elektromail.store.dialect import NO_LIMIT, batched, dialect_of
from elektromail.store.errors import StoreUnavailable, unavailable
from elektromail.store.ids import NEW_EMAILID
from elektromail.store.rows import PreparedMessage, Render, RenderEnvelope, prepare
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


# The `limit` bodies waited longest for their parse (parse_some, parse_for).
_OLDEST_WAITING = f"SELECT id FROM bodies WHERE {WAITING} ORDER BY id LIMIT ?"


def parse_some(cursor, render: Render | None, limit: int) -> int:
    """Parse and store up to `limit` waiting bodies (-1: all), oldest first; returns how many
    were stored (0 while the database cannot be written)."""
    count = limit if limit >= 0 else NO_LIMIT
    parsed, stored, _ = _parse(cursor, render, _OLDEST_WAITING, (count,))
    return len(parsed) if stored else 0


def parse_for(
    cursor,
    render: Render | None,
    limit: int,
    seconds: float,
    others_waiting: Callable[[], bool] = lambda: False,
) -> tuple[int, bool]:
    """The idle-time backfill's batch: `parse_some`, stopping after the first body parsed
    once `seconds` have gone by or `others_waiting()` says other work waits for the store
    thread (a command asked meanwhile waits for one body's parse, not the batch). Returns
    (how many were stored, whether more may wait: the batch was full or cut short)."""
    deadline = time.monotonic() + seconds

    def stop() -> bool:
        return others_waiting() or time.monotonic() > deadline

    parsed, stored, cut = _parse(
        cursor,
        render,
        _OLDEST_WAITING,
        (limit,),
        stop,
    )
    count = len(parsed) if stored else 0
    return count, count > 0 and (cut or count >= limit)


def parse_in_memory(cursor, render: Render | None, body_ids: Sequence[int]) -> Parsed:
    """Parse `body_ids` without storing anything: for a reader that saw them waiting while
    another process sharing the database parsed and stored them."""
    return {body_id: prepare(raw, render) for body_id, raw in _raw_bodies(cursor, body_ids)}


def _raw_bodies(cursor, body_ids: Iterable[int]) -> Iterator[tuple[int, bytes]]:
    """(id, raw) of those of `body_ids` that exist, 500 ids a statement."""
    ids = list(body_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = cursor.execute(f"SELECT id, raw FROM bodies WHERE id IN ({marks})", chunk)
        for body_id, raw in rows.fetchall():
            yield body_id, bytes(raw)


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


def parse_mailbox(cursor, render: Render | None, mailbox_id: int, batch: int = 500) -> bool:
    """Parse and store a mailbox's waiting bodies, `batch` at a time, each batch stored before
    the next is parsed: a SEARCH in a mailbox of 10,000 bodies just delivered does not hold all
    their parses at once (bench/rss.py: +65 MB at the peak, and more kept after the mailbox
    was deleted, by the fragments). False when the database could not take them."""
    if not any_unparsed(cursor):
        return True
    select = (
        "SELECT DISTINCT m.body_id FROM messages m WHERE m.mailbox_id = ?"
        f" AND m.body_id IN (SELECT id FROM bodies WHERE {WAITING}) LIMIT ?"
    )
    while True:
        parsed, stored, _ = _parse(cursor, render, select, (mailbox_id, batch))
        if not parsed:
            return True
        if not stored:  # they wait on: asking again would find the same
            return False


def render_envelopes(
    cursor, render_envelope: RenderEnvelope, body_ids: Iterable[int]
) -> dict[int, bytes]:
    """IMAP's ENVELOPE of `body_ids` (bodies waiting for their parse, with no ENVELOPE kept
    yet), made from their top-level header alone and kept in `fetch_envelope`: a FETCH of
    ENVELOPE (a client's first look at a mailbox filled in bulk) need not wait for the whole
    parse, which the idle-time backfill or the first reader of the rest still makes once, and
    which writes the same bytes again (mime.parse_envelope gives parse()'s envelope). Body id
    -> ENVELOPE; kept only when the database can take it."""
    found = {
        body_id: render_envelope(mime.parse_envelope(raw))
        for body_id, raw in _raw_bodies(cursor, body_ids)
    }
    if found:
        _stored(
            cursor,
            lambda: cursor.executemany(
                "UPDATE bodies SET fetch_envelope = ? WHERE id = ?",
                [(envelope, body_id) for body_id, envelope in found.items()],
            ),
        )
    return found


def _stored(cursor, write: Callable[[], object]) -> bool:
    """Run `write` in a savepoint: False (and nothing written) when the database cannot take
    it (full, read-only), so that a read still answers from what it parsed."""
    try:
        # on PostgreSQL one round trip (the bodies are locked already: _waiting_bodies)
        with batched(cursor):
            cursor.execute("SAVEPOINT parse")
            write()
            cursor.execute("RELEASE parse")
    except StoreUnavailable:
        raise
    except Exception as e:
        if unavailable(e) is None:
            raise
        cursor.execute("ROLLBACK TO parse")
        cursor.execute("RELEASE parse")
        return False
    return True


def _parse(
    cursor,
    render: Render | None,
    select: str,
    params: Sequence,
    stop: Callable[[], bool] | None = None,
) -> tuple[Parsed, bool, bool]:
    """Parse the waiting bodies `select` names and store the parses: (the parses, whether they
    were stored, whether `stop()`, asked after each body, cut the list short; the rest wait
    on). A database that cannot take them (full, read-only) leaves them waiting."""
    ids = [row[0] for row in cursor.execute(select, params).fetchall()]
    parsed: Parsed = {}
    cut = False
    lock = dialect_of(cursor).is_postgresql
    for start in range(0, len(ids), 500):
        for body_id, raw in _waiting_bodies(cursor, ids[start : start + 500], lock):
            if stop is not None and parsed and stop():
                cut = True
                break
            parsed[body_id] = prepare(bytes(raw), render)
        if cut:
            break
    if not parsed:
        return parsed, True, cut
    return parsed, _stored(cursor, lambda: _store(cursor, parsed)), cut


def _waiting_bodies(cursor, chunk: list[int], lock: bool) -> list[tuple[int, bytes]]:
    """(id, raw) of the bodies `chunk` names. On PostgreSQL, which other processes may share,
    they are locked, and those another process parsed while this one waited for the lock are
    left out (its parse is stored); a read-only database takes no lock (nothing is stored)."""
    marks = ",".join("?" * len(chunk))
    select = f"SELECT id, raw FROM bodies WHERE id IN ({marks})"
    if not lock:
        return cursor.execute(select, chunk).fetchall()
    cursor.execute("SAVEPOINT lock_bodies")
    try:
        rows = cursor.execute(f"{select} AND {WAITING} ORDER BY id FOR UPDATE", chunk).fetchall()
    except StoreUnavailable:
        raise
    except Exception as e:
        if unavailable(e) is None:
            raise
        cursor.execute("ROLLBACK TO lock_bodies")
        rows = cursor.execute(select, chunk).fetchall()
    cursor.execute("RELEASE lock_bodies")
    return rows


def _store(cursor, parsed: Parsed) -> None:
    if not parsed:
        return
    bodies, index = [], []
    for body_id, message in parsed.items():
        envelope, bodystructure, body = message.rendered or (None, None, None)
        bodies.append((message.structure, envelope, bodystructure, body, body_id))
        assert message.index is not None
        found = message.index
        index.append((body_id, found.attachments, found.search, found.preview))
    with batched(cursor):  # nothing here reads an answer: one round trip on PostgreSQL
        _store_rows(cursor, parsed, bodies, index)


def _store_rows(cursor, parsed: Parsed, bodies: list, index: list) -> None:
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
