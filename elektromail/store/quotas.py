"""Per-user limits and usage for IMAP QUOTA (RFC 9208) and SMTP's 552: a user's own limits
(set through the HTTP users API) and what the user's mailboxes hold.

A mixin of `Store` (which provides `_run`). The server-wide limits are settings, resolved by
the post office; here a NULL limit means "the server's".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred

from elektromail.store.errors import NoSuchUser


@dataclass(frozen=True, slots=True)
class QuotaRow:
    """A user's own limits (None: the server's) and usage: message bytes and count, over all
    of the user's mailboxes."""

    storage_limit: int | None
    messages_limit: int | None
    storage_used: int
    messages_used: int


class QuotaOps:
    """Quota reads and writes. Mixed into Store, whose `_run` runs an interaction."""

    _run: Any

    def quota(self, user: str) -> Deferred[QuotaRow]:
        """The user's (any case) own limits and usage. NoSuchUser."""
        return self._run(_quota, user)

    def totals(self) -> Deferred[tuple[int, int, int, int]]:
        """(messages, octets, mailboxes, users) the store holds, every user's: the store size
        GET /metrics shows, asked when scraped rather than counted at each delivery."""
        return self._run(_totals)

    def any_quotas(self) -> Deferred[bool]:
        """Whether some user has limits of their own."""
        return self._run(_any_quotas)

    def size_of(self, mailbox_id: int, uids: Sequence[int]) -> Deferred[tuple[int, int]]:
        """(octets, count) of the messages of `uids` that the mailbox holds: what a COPY of
        them adds to the user's usage."""
        return self._run(_size_of, mailbox_id, list(uids))

    def set_quota(self, user: str, storage: int | None, messages: int | None) -> Deferred[QuotaRow]:
        """Set the user's own limits (None: the server's); fires with the new QuotaRow."""
        return self._run(_set_quota, user, storage, messages)


def _totals(cursor) -> tuple[int, int, int, int]:
    size, count = cursor.execute("SELECT coalesce(sum(size), 0), count(*) FROM messages").fetchone()
    (mailboxes,) = cursor.execute("SELECT count(*) FROM mailboxes").fetchone()
    (users,) = cursor.execute("SELECT count(*) FROM users").fetchone()
    return count, size, mailboxes, users


def _any_quotas(cursor) -> bool:
    return cursor.execute("SELECT 1 FROM quotas LIMIT 1").fetchone() is not None


def _size_of(cursor, mailbox_id: int, uids: list[int]) -> tuple[int, int]:
    size = count = 0
    for start in range(0, len(uids), 500):  # under SQLite's limit of bound parameters
        chunk = uids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        more, found = cursor.execute(
            f"SELECT coalesce(sum(size), 0), count(*) FROM messages"
            f" WHERE mailbox_id = ? AND uid IN ({marks})",
            (mailbox_id, *chunk),
        ).fetchone()
        size, count = size + more, count + found
    return size, count


def _user_id(cursor, user: str) -> int:
    row = cursor.execute("SELECT id FROM users WHERE name = ?", (user,)).fetchone()
    if row is None:
        raise NoSuchUser(user)
    return row[0]


def _quota(cursor, user: str) -> QuotaRow:
    user_id = _user_id(cursor, user)
    limits = cursor.execute(
        "SELECT storage, messages FROM quotas WHERE user_id = ?", (user_id,)
    ).fetchone()
    used, count = cursor.execute(
        "SELECT coalesce(sum(m.size), 0), count(*) FROM messages m"
        " WHERE m.mailbox_id IN (SELECT id FROM mailboxes WHERE user_id = ?)",
        (user_id,),
    ).fetchone()
    storage, messages = limits if limits is not None else (None, None)
    return QuotaRow(storage, messages, used, count)


def _set_quota(cursor, user: str, storage: int | None, messages: int | None) -> QuotaRow:
    user_id = _user_id(cursor, user)
    if storage is None and messages is None:
        cursor.execute("DELETE FROM quotas WHERE user_id = ?", (user_id,))
    else:
        cursor.execute(
            "INSERT INTO quotas(user_id, storage, messages) VALUES (?, ?, ?)"
            " ON CONFLICT(user_id) DO UPDATE SET storage = excluded.storage,"
            " messages = excluded.messages",
            (user_id, storage, messages),
        )
    return _quota(cursor, user)
