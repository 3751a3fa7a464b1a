"""IMAP SEARCH and SORT in SQL: the one-key queries over the message rows and the per-body header
index (searchindex.py), each answering exactly what imap/search_eval would, and SORT's order
over the per-body SORT keys. A body's index rows are written when it is parsed, so a query that
reads them parses the mailbox's waiting bodies first.

A mixin of `Store` (which provides `_run`). A query is a small tuple, so the protocol side
needs no SQL:

- ("size", larger, n): RFC822.SIZE > n (larger) or < n;
- ("internal", op, date): the internal date's calendar day, in the message's own zone,
  before / on / since `date` (op "before", "on", "since");
- ("sent", op, date): the same for the Date: header's date; no or a bad Date: matches none;
- ("address", field, text): `text` in the envelope's from/to/cc/bcc written out;
- ("subject", text): `text` in the envelope's subject (none: no match);
- ("within", older, target): the internal date, in whole seconds, at or before (older) or at
  or after `target` (RFC 5032's OLDER and YOUNGER);
- ("header", name, text): `text` in some top-level `name` field (name lower-case);
- ("modseq", n): the message's mod-sequence is n or more (RFC 7162 §3.1.5);
- ("saved", op, date): as "internal", for the save date in UTC (RFC 8514's SAVEDBEFORE...);
- ("emailid", id): the messages whose body has that EMAILID (RFC 8474);
- ("text", text) and ("body", text): `text` in what SEARCH TEXT or BODY reads (textsearch.py),
  of the messages of `uids` when given.

Texts are casefolded by the caller; the answer is the matching UIDs of the mailbox.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

from twisted.internet.defer import Deferred

from elektromail.searchtext import to_blob
from elektromail.store.dialect import dialect_of
from elektromail.store.errors import StoreUnavailable
from elektromail.store.pending import parse_mailbox
from elektromail.store.rows import Render
from elektromail.store.textsearch import text_uids

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

_SAVED = "coalesce(m.saved, m.internal_date)"

Query = tuple[Any, ...]
SortOrder = tuple[tuple[str, bool], ...]
ThreadRow = tuple[int, int, bytes, bool, str | None, tuple[str, ...]]

# SORT's keys as columns of messages m and sort_keys k. Times are whole seconds, as Dovecot
# compares them: messages that arrived in the same second keep their UID order.
_SECONDS = "(CAST({0} AS INTEGER) - ({0} < CAST({0} AS INTEGER)))"
SORT_KEYS = {
    "ARRIVAL": _SECONDS.format("m.internal_date"),
    "CC": "k.cc_key",
    "DATE": f"coalesce(k.sent, {_SECONDS.format('m.internal_date')})",
    "FROM": "k.from_key",
    "SIZE": "m.size",
    "SUBJECT": "k.subject",
    "TO": "k.to_key",
    "DISPLAYFROM": "k.display_from",
    "DISPLAYTO": "k.display_to",
}


class SearchOps:
    """One SEARCH key answered by SQL. Mixed into Store, whose `_run` runs an interaction."""

    _run: Any
    render: Render | None

    def search_uids(
        self, mailbox_id: int, query: Query, uids: Sequence[int] | None = None
    ) -> Deferred[list[int]]:
        """The UIDs of the mailbox's messages that match `query` (see the module); TEXT and
        BODY look at the messages of `uids` only, when given (the others may match or not)."""
        return self._run(_search_uids, self.render, mailbox_id, query, uids)

    def thread_messages(self, mailbox_id: int) -> Deferred[list[ThreadRow]]:
        """What THREAD reads of each message of the mailbox, in UID order: (uid, sent time or
        else internal date in seconds, base subject in casemap form as UTF-8, reply or forward,
        Message-ID or None, references)."""
        return self._run(_thread_messages, self.render, mailbox_id)

    def sorted_uids(self, mailbox_id: int, order: SortOrder) -> Deferred[list[int]]:
        """Every UID of the mailbox in SORT's order (RFC 5256 §3): `order` is (key, reverse)
        pairs, key one of SORT_KEYS; messages equal by every key stay in UID order."""
        for key, _ in order:
            if key not in SORT_KEYS:
                raise ValueError(f"not a sort key: {key!r}")
        return self._run(_sorted_uids, self.render, mailbox_id, tuple(order))


# The query kinds that read the header index, which a body gets when it is parsed.
_INDEXED = frozenset({"sent", "address", "subject", "header", "emailid"})
_TEXTS = frozenset({"text", "body"})  # read the parse too, and their own table
# Kinds whose condition is `m.body_id IN (the bodies search_envelope finds)`: the messages are
# looked up by body for those few bodies, not each of the mailbox's messages tested against
# the list (SQLite's planner takes the mailbox's index; UID SEARCH FROM x of 1,000 messages
# ran 2.58M instructions in SQLite, 1.16M now). PostgreSQL's dialect drops INDEXED BY.
_BY_BODY = frozenset({"address", "subject"})


def _search_uids(
    cursor, render: Render | None, mailbox_id: int, query: Query, uids: Sequence[int] | None
) -> list[int]:
    if query[0] in _TEXTS:
        _parse_waiting(cursor, render, mailbox_id)
        return text_uids(cursor, mailbox_id, query[1], headers=query[0] == "text", uids=uids)
    if query[0] in _INDEXED:
        _parse_waiting(cursor, render, mailbox_id)
    where, params = _condition(query)
    indexed = " INDEXED BY messages_body" if query[0] in _BY_BODY else ""
    found = f"FROM messages m{indexed} WHERE m.mailbox_id = ? AND {where}"
    if dialect_of(cursor).is_postgresql:  # psycopg takes the rows at once
        return [uid for (uid,) in cursor.execute(f"SELECT m.uid {found}", (mailbox_id, *params))]
    # SQLite's cursor steps (and gives the GIL up and takes it back) once per row: one row of
    # text costs a third of a row per message (LARGER 100 of 1,000 messages, callgrind)
    (text,) = cursor.execute(
        f"SELECT group_concat(m.uid) {found}", (mailbox_id, *params)
    ).fetchone()
    return json.loads(f"[{text}]") if text else []  # twice as quick as int() of each


def _parse_waiting(cursor, render: Render | None, mailbox_id: int) -> None:
    """Parse the mailbox's bodies that wait for it, so that their index rows exist."""
    if not parse_mailbox(cursor, render, mailbox_id):  # the database could not take them
        raise StoreUnavailable("the search index cannot be written")


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
    if kind == "modseq":
        return "m.modseq >= ?", (query[1],)
    if kind == "saved":  # the save date's day in UTC, as FETCH SAVEDATE shows it (RFC 8514 §5.1)
        _, op, date = query
        where, params = _condition(("internal", op, date))
        return where.replace("m.internal_date", _SAVED).replace("m.tz_minutes", "0"), params
    if kind == "emailid":
        _, emailid = query
        return (
            "EXISTS (SELECT 1 FROM body_index i WHERE i.body_id = m.body_id AND i.emailid = ?)",
            (emailid,),
        )
    if kind == "within":
        _, older, target = query
        return f"{_SECONDS.format('m.internal_date')} {'<=' if older else '>='} ?", (target,)
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


def _sorted_uids(cursor, render: Render | None, mailbox_id: int, order: SortOrder) -> list[int]:
    if any(key not in ("ARRIVAL", "SIZE") for key, _ in order):
        _parse_waiting(cursor, render, mailbox_id)
    terms = [SORT_KEYS[key] + (" DESC" if reverse else "") for key, reverse in order]
    rows = cursor.execute(
        "SELECT m.uid FROM messages m LEFT JOIN sort_keys k ON k.body_id = m.body_id"
        f" WHERE m.mailbox_id = ? ORDER BY {', '.join(terms)}, m.uid",
        (mailbox_id,),
    )
    return [uid for (uid,) in rows]


def _thread_messages(cursor, render: Render | None, mailbox_id: int) -> list[ThreadRow]:
    _parse_waiting(cursor, render, mailbox_id)
    rows = cursor.execute(
        f"SELECT m.uid, {SORT_KEYS['DATE']}, coalesce(k.subject, x''), k.reply, k.message_id,"
        " k.refs FROM messages m LEFT JOIN sort_keys k ON k.body_id = m.body_id"
        " WHERE m.mailbox_id = ? ORDER BY m.uid",
        (mailbox_id,),
    ).fetchall()
    loads = json.loads
    return [
        (uid, date, subject, reply == 1, message_id, tuple(loads(refs)) if refs else ())
        for uid, date, subject, reply, message_id, refs in rows
    ]
