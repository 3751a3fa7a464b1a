"""IMAP SEARCH in SQL: the per-body header index (searchtext.SearchFields, written with each
body and filled for older ones by the schema upgrade) and the one-key queries over it and
over the message rows, each answering exactly what imap/search_eval would.

A mixin of `Store` (which provides `_run`). A query is a small tuple, so the protocol side
needs no SQL:

- ("size", larger, n): RFC822.SIZE > n (larger) or < n;
- ("internal", op, date): the internal date's calendar day, in the message's own zone,
  before / on / since `date` (op "before", "on", "since");
- ("sent", op, date): the same for the Date: header's date; no or a bad Date: matches none;
- ("address", field, text): `text` in the envelope's from/to/cc/bcc written out;
- ("subject", text): `text` in the envelope's subject (none: no match);
- ("header", name, text): `text` in some top-level `name` field (name lower-case).

Texts are casefolded by the caller; the answer is the matching UIDs of the mailbox.
"""

from __future__ import annotations

import datetime
from typing import Any

from twisted.internet.defer import Deferred

from elektromail.mailtext import Index
from elektromail.searchtext import (
    SearchFields,
    search_fields_from_json,
    to_blob,
)

_ADDRESS_COLUMNS = {"from": "from_text", "to": "to_text", "cc": "cc_text", "bcc": "bcc_text"}
_DAY = 86400
_EPOCH = datetime.date(1970, 1, 1)
# The seconds datetime can hold (search_eval matches none outside them)
_FIRST = (datetime.date.min - _EPOCH).days * _DAY
_LAST = (datetime.date.max - _EPOCH).days * _DAY + _DAY - 1
# floor(internal_date) in whole seconds plus the zone: the local time search_eval reads
_LOCAL = (
    "(CAST(m.internal_date AS INTEGER)"
    " - (m.internal_date < CAST(m.internal_date AS INTEGER)) + 60 * m.tz_minutes)"
)

Query = tuple[Any, ...]


class SearchOps:
    """One SEARCH key answered by SQL. Mixed into Store, whose `_run` runs an interaction."""

    _run: Any

    def search_uids(self, mailbox_id: int, query: Query) -> Deferred[list[int]]:
        """The UIDs of the mailbox's messages that match `query` (see the module)."""
        return self._run(_search_uids, mailbox_id, query)


def _search_uids(cursor, mailbox_id: int, query: Query) -> list[int]:
    where, params = _condition(query)
    rows = cursor.execute(
        f"SELECT m.uid FROM messages m WHERE m.mailbox_id = ? AND {where}",
        (mailbox_id, *params),
    )
    return [uid for (uid,) in rows]


def _condition(query: Query) -> tuple[str, tuple]:
    kind = query[0]
    if kind == "size":
        _, larger, size = query
        return ("m.size > ?" if larger else "m.size < ?"), (size,)
    if kind == "internal":
        _, op, date = query
        start = (date - _EPOCH).days * _DAY
        valid = f"{_LOCAL} BETWEEN {_FIRST} AND {_LAST}"
        if op == "before":
            return f"{_LOCAL} < ? AND {valid}", (start,)
        if op == "on":
            return f"{_LOCAL} >= ? AND {_LOCAL} < ? AND {valid}", (start, start + _DAY)
        return f"{_LOCAL} >= ? AND {valid}", (start,)
    if kind == "sent":
        _, op, date = query
        compare = {"before": "<", "on": "=", "since": ">="}[op]
        return (
            f"m.body_id IN (SELECT body_id FROM search_envelope WHERE sent {compare} ?)",
            (date.isoformat(),),
        )
    if kind == "address":
        _, field, text = query
        column = _ADDRESS_COLUMNS[field]
        return (
            f"m.body_id IN (SELECT body_id FROM search_envelope WHERE instr({column}, ?) > 0)",
            (to_blob(text),),
        )
    if kind == "subject":
        _, text = query
        return (
            "m.body_id IN (SELECT body_id FROM search_envelope WHERE instr(subject, ?) > 0)",
            (to_blob(text),),
        )
    if kind == "header":
        _, name, text = query
        return (
            "m.body_id IN (SELECT body_id FROM search_header WHERE name = ?"
            " AND instr(value, ?) > 0)",
            (to_blob(name), to_blob(text)),
        )
    raise ValueError(f"not a search query: {query!r}")


# -- the index, written with each body ------------------------------------------------------


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
        " WHERE id NOT IN (SELECT body_id FROM search_envelope) ORDER BY id"
    )
    for body_id, raw, structure in rows.fetchall():
        _insert_fields(conn, body_id, search_fields_from_json(bytes(raw), structure))
