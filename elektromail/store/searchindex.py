"""The per-body header index IMAP SEARCH reads (searchtext.SearchFields in the search_envelope
and search_header tables): written when a body is parsed, and filled for older bodies by the
schema upgrade."""

from __future__ import annotations

from elektromail.mailtext import Index
from elektromail.searchtext import SearchFields, search_fields_from_json, to_blob


def index_search_fields(
    cursor, body_id: int, raw: bytes, structure: str, index: Index | None
) -> None:
    """The body's rows in search_envelope and search_header (from `index` when it has them,
    else from the stored structure)."""
    fields = index.fields if index is not None else None
    if fields is None:
        fields = search_fields_from_json(raw, structure)
    _insert_fields(cursor, body_id, fields)


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


def fill_search_index(conn) -> None:
    """Index the bodies stored before the search index existed (schema upgrade)."""
    rows = conn.execute(
        "SELECT id, raw, structure FROM bodies"
        " WHERE structure != '' AND id NOT IN (SELECT body_id FROM search_envelope) ORDER BY id"
    )
    for body_id, raw, structure in rows.fetchall():
        _insert_fields(conn, body_id, search_fields_from_json(bytes(raw), structure))
