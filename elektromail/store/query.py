"""The control API's message queries in SQL: a parsed `mailquery.Query` as one WHERE clause over
the listing's tables and the per-body search index, with the arrival cursor (arrivals.py), so a
listing, a page of it or the first match after a cursor is one statement whatever the count.

A mixin of `Store` (which provides `_run`). The keys that IMAP SEARCH has too are answered by
the same conditions (search._condition), so the API and SEARCH agree by construction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred

from elektromail.mailquery import Query, Term
from elektromail.store.arrivals import highest
from elektromail.store.namespaces import Scope
from elektromail.store.rows import Render
from elektromail.store.search import _condition
from elektromail.store.summaries import (
    _LIKE_SPECIAL_RE,
    _SELECT,
    MessageSummary,
    _parse_for_listing,
    _summary,
    _where,
)


@dataclass(frozen=True, slots=True)
class QueryPage:
    """One page of a query's matches, how many match in all, the cursor when it was read
    (every message stored later has a larger one) and each listed message's own place in
    arrival order (`arrivals`, as `messages`): a wait goes on after it."""

    total: int
    messages: list[MessageSummary]
    cursor: int
    arrivals: list[int]


class QueryOps:
    """Mixed into Store, whose `_run` runs an interaction."""

    _run: Any
    render: Render | None

    def query_messages(
        self,
        user: str | None,
        mailbox: str | None,
        query: Query,
        *,
        after: int = 0,
        newest_first: bool = False,
        limit: int | None = None,
        offset: int = 0,
        count: bool = True,
        scope: Scope = None,
    ) -> Deferred[QueryPage]:
        """The messages (of `user` and/or mailboxes named `mailbox`) stored after cursor
        `after` that match every term of `query`: `limit` of them (None: all) from `offset`,
        in arrival order or newest first; with the total that match and the cursor of this
        moment (every message stored later has a larger one). Without `count`, `total` is
        only the page's length, and the page is found without reading every match. `scope`:
        the users of one namespace (namespaces.scope_condition; None: every user)."""
        return self._run(
            _query_messages,
            self.render,
            user,
            mailbox,
            tuple(query),
            after,
            newest_first,
            limit,
            offset,
            count,
            scope,
        )

    def message_cursor(self) -> Deferred[int]:
        """The cursor of this moment: messages stored from now on come after it."""
        return self._run(highest)


_FROM = (
    " FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id JOIN users u ON u.id = b.user_id"
    " LEFT JOIN body_index bi ON bi.body_id = m.body_id"
)


def _query_messages(
    cursor, render, user, mailbox, query: Query, after, newest_first, limit, offset, count, scope
) -> QueryPage:
    parsed = _parse_for_listing(cursor, render, "query" if _needs_index(query) else None)
    now = highest(cursor)
    where, params = _where(user, mailbox, scope=scope)
    conditions = [where[len(" WHERE ") :]] if where else []
    if after:
        conditions.append("m.id > ?")
        params.append(after)
    for term in query:
        sql, values = term_condition(term)
        conditions.append(sql)
        params.extend(values)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    order = " ORDER BY m.id DESC" if newest_first else " ORDER BY m.id"
    if count or limit is None:
        ids = [row[0] for row in cursor.execute("SELECT m.id" + _FROM + where + order, params)]
        page = ids[offset:] if limit is None else ids[offset : offset + limit]
    else:
        sql = "SELECT m.id" + _FROM + where + order + " LIMIT ? OFFSET ?"
        ids = page = [row[0] for row in cursor.execute(sql, (*params, limit, offset))]
    if not page:
        return QueryPage(len(ids), [], now, [])
    # One parameter whatever the count (a list of `?` would meet SQLite's variable limit).
    rows = cursor.execute(
        _SELECT.format(raw=", m.id") + " WHERE m.id IN (SELECT value FROM json_each(?))" + order,
        (json.dumps(page),),
    ).fetchall()
    return QueryPage(len(ids), [_summary(row[:-1], parsed) for row in rows], now, page)


def _needs_index(query: Query) -> bool:
    return any(term.kind not in ("flag", "before", "after", "larger", "smaller") for term in query)


def term_condition(term: Term) -> tuple[str, tuple]:
    """One term as a condition on messages m (LEFT JOINed body_index bi)."""
    sql, params = _positive(term)
    if term.negated:
        return f"NOT coalesce({sql}, false)", params
    return sql, params


def _positive(term: Term) -> tuple[str, tuple]:
    kind, args = term.kind, term.args
    if kind == "text":  # the listing's search text, as `q` always read it
        return "coalesce(bi.search, '') LIKE ? ESCAPE '\\'", (_like(args[0]),)
    if kind == "address":
        return _condition(("address", args[0], args[1]))
    if kind == "subject":
        return _condition(("subject", args[0]))
    if kind == "header":
        return _condition(("header", args[0], args[1]))
    if kind == "attachment":
        return "coalesce(bi.attachments, 0) > 0", ()
    if kind == "flag":
        flag, present = args
        test = "instr(' ' || m.flags || ' ', ?) > 0"
        return (test if present else f"NOT {test}"), (f" {flag} ",)
    if kind == "before":
        return "m.internal_date < ?", (args[0],)
    if kind == "after":
        return "m.internal_date >= ?", (args[0],)
    if kind == "larger":
        return "m.size > ?", (args[0],)
    if kind == "smaller":
        return "m.size < ?", (args[0],)
    raise ValueError(f"not a query term: {term!r}")


def _like(needle: str) -> str:
    return "%" + _LIKE_SPECIAL_RE.sub(r"\\\g<0>", needle) + "%"
