"""Read-only store queries across users and mailboxes, for the control API: messages with what
a listing shows of them, one message with its bytes, and who has mail.

A mixin of `Store` (which provides `_run`); each query is one statement, whatever the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred

from elektromail.store.db import _flags_from_db
from elektromail.store.names import canonical_mailbox


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """One stored message. `structure` is the JSON of mime.to_json (envelope and body
    structure); `raw` is None unless asked for (get_message)."""

    uid: int
    user: str
    mailbox: str
    flags: tuple[str, ...]
    internal_date: float
    tz_minutes: int
    size: int
    structure: str
    raw: bytes | None = None


_SELECT = (
    "SELECT m.uid, u.name, b.name, m.flags, m.internal_date, m.tz_minutes, m.size,"
    " bo.structure{raw} FROM messages m"
    " JOIN mailboxes b ON b.id = m.mailbox_id"
    " JOIN users u ON u.id = b.user_id"
    " JOIN bodies bo ON bo.id = m.body_id"
)


class SummaryOps:
    """Mixed into Store, whose `_run` runs an interaction."""

    _run: Any

    def list_messages(
        self, user: str | None = None, mailbox: str | None = None
    ) -> Deferred[list[MessageSummary]]:
        """Every message, or those of `user` (any case) and/or of mailboxes named `mailbox`
        (INBOX in any case), oldest stored first."""
        return self._run(_list_messages, user, mailbox)

    def get_message(self, user: str, mailbox: str, uid: int) -> Deferred[MessageSummary | None]:
        """One message with its raw bytes; None when the user, mailbox or UID does not exist."""
        return self._run(_get_message, user, mailbox, uid)

    def users_with_mail(self) -> Deferred[list[str]]:
        """Names of the users who have at least one message, in the order they were made."""
        return self._run(_users_with_mail)


def _summary(row) -> MessageSummary:
    raw = row[8] if len(row) > 8 else None
    return MessageSummary(
        row[0],
        row[1],
        row[2],
        _flags_from_db(row[3]),
        row[4],
        row[5],
        row[6],
        row[7],
        bytes(raw) if raw is not None else None,
    )


def _list_messages(cursor, user, mailbox) -> list[MessageSummary]:
    conditions, params = [], []
    if user is not None:
        conditions.append("u.name = ?")
        params.append(user)
    if mailbox is not None:
        conditions.append("b.name = ?")
        params.append(canonical_mailbox(mailbox))
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    # Row ids grow with every stored message: their order is the order mail arrived in.
    rows = cursor.execute(_SELECT.format(raw="") + where + " ORDER BY m.id", params)
    return [_summary(row) for row in rows]


def _get_message(cursor, user, mailbox, uid) -> MessageSummary | None:
    row = cursor.execute(
        _SELECT.format(raw=", bo.raw") + " WHERE u.name = ? AND b.name = ? AND m.uid = ?",
        (user, canonical_mailbox(mailbox), uid),
    ).fetchone()
    return _summary(row) if row else None


def _users_with_mail(cursor) -> list[str]:
    rows = cursor.execute(
        "SELECT u.name FROM users u WHERE EXISTS (SELECT 1 FROM mailboxes b"
        " JOIN messages m ON m.mailbox_id = b.id WHERE b.user_id = u.id) ORDER BY u.id"
    )
    return [row[0] for row in rows]
