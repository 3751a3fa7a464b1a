"""The per-body indexes IMAP SEARCH and SORT read (searchtext.SearchFields in the
search_envelope and search_header tables, sortkeys.SortFields in sort_keys): written when a
body is parsed, and filled for older bodies by the schema upgrade."""

from __future__ import annotations

import json

from elektromail import mime
from elektromail.mailtext import Index
from elektromail.searchtext import SearchFields, search_fields, to_blob
from elektromail.sortkeys import SortFields, sort_fields


def index_search_fields(
    cursor, body_id: int, raw: bytes, structure: str, index: Index | None
) -> None:
    """The body's rows in search_envelope, search_header and sort_keys (from `index` when it
    has them, else from the stored structure)."""
    fields = index.fields if index is not None else None
    keys = index.sort if index is not None else None
    if fields is None or keys is None:
        parsed = mime.from_json(structure)
        if fields is None:
            fields = search_fields(raw, parsed)
        if keys is None:
            keys = sort_fields(parsed.envelope, raw[: parsed.header_end])
    _insert_fields(cursor, body_id, fields)
    _insert_sort_keys(cursor, body_id, keys)


def _insert_fields(cursor, body_id: int, fields: SearchFields) -> None:
    subject = None if fields.subject is None else to_blob(fields.subject)
    cursor.execute(
        "INSERT INTO search_envelope(body_id, subject, from_text, to_text, cc_text, bcc_text,"
        " sent) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (body_id, subject, *map(to_blob, fields.addresses), fields.sent),
    )
    cursor.executemany(
        "INSERT INTO search_header(name, body_id, position, value) VALUES (?, ?, ?, ?)",
        [
            (to_blob(name), body_id, position, to_blob(value))
            for position, (name, value) in enumerate(fields.fields)
        ],
    )


def _insert_sort_keys(cursor, body_id: int, keys: SortFields) -> None:
    cursor.execute(
        "INSERT INTO sort_keys(body_id, subject, from_key, to_key, cc_key, display_from,"
        " display_to, sent, reply, message_id, refs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            body_id,
            *map(
                to_blob,
                (keys.subject, keys.from_, keys.to, keys.cc, keys.display_from, keys.display_to),
            ),
            keys.sent,
            int(keys.reply),
            keys.message_id,
            json.dumps(keys.references) if keys.references else None,
        ),
    )


def fill_search_index(conn) -> None:
    """Index the bodies stored before the search index or the SORT keys existed (schema
    upgrade)."""
    rows = conn.execute(
        "SELECT id, raw, structure, id IN (SELECT body_id FROM search_envelope) FROM bodies"
        " WHERE structure != '' AND id NOT IN (SELECT body_id FROM sort_keys) ORDER BY id"
    )
    for body_id, raw, structure, searchable in rows.fetchall():
        parsed = mime.from_json(structure)
        if not searchable:
            _insert_fields(conn, body_id, search_fields(bytes(raw), parsed))
        _insert_sort_keys(
            conn, body_id, sort_fields(parsed.envelope, bytes(raw)[: parsed.header_end])
        )
