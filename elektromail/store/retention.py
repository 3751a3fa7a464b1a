"""Store operation for retention (--max-messages, --max-age): remove the oldest messages of a
scope beyond a count, and those saved before a moment, in one transaction.

Oldest means by save date (when the message came into its mailbox, RFC 8514), then arrival
order (the row id): a message APPENDed with a 2019 internal date is as new as its APPEND, as
Dovecot's autoexpunge counts. Both reads walk the messages_saved index (schema step 16) from
one end, so a pass reads the messages it keeps and removes, not the whole store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred

from elektromail.store.messages import _delete_messages
from elektromail.store.namespaces import Scope, scope_condition


@dataclass(frozen=True, slots=True)
class PrunedMailbox:
    user: str
    mailbox: str
    mailbox_id: int
    uids: tuple[int, ...]  # ascending


@dataclass(frozen=True, slots=True)
class Pruned:
    mailboxes: tuple[PrunedMailbox, ...]
    count: int
    oldest: float | None  # the save date of the oldest message removed


NOTHING_PRUNED = Pruned((), 0, None)

_COLUMNS = (
    "SELECT m.id, m.mailbox_id, m.uid, coalesce(m.saved, m.internal_date), u.name, b.name"
    " FROM messages m INDEXED BY messages_saved"
    " JOIN mailboxes b ON b.id = m.mailbox_id JOIN users u ON u.id = b.user_id"
)


class RetentionOps:
    """Mixed into Store, whose `_run` runs an interaction."""

    _run: Any
    path: str | None
    _release_soon: Any

    def prune(
        self, scopes: Sequence[Scope], keep: int | None, before: float | None
    ) -> Deferred[Pruned]:
        """Remove, in each of `scopes`, the messages beyond the newest `keep` (None: no cap),
        and everywhere the messages saved before `before` (None: none by age). Fires with what
        went, by mailbox; the in-memory database gives the freed pages back soon after."""

        def removed(pruned: Pruned) -> Pruned:
            if pruned.count and self.path is None:
                self._release_soon()
            return pruned

        return self._run(_prune, list(scopes), keep, before).addCallback(removed)


def _prune(cursor, scopes: list[Scope], keep: int | None, before: float | None) -> Pruned:
    doomed: dict[int, tuple] = {}  # message id -> row
    if before is not None:
        rows = cursor.execute(
            _COLUMNS + " WHERE m.saved < ? ORDER BY m.saved, m.id", (before,)
        ).fetchall()
        doomed.update((row[0], row) for row in rows)
    if keep is not None:
        for scope in scopes:
            condition, params = scope_condition(scope)
            where = f" WHERE {condition}" if condition else ""
            rows = cursor.execute(
                _COLUMNS + where + " ORDER BY m.saved DESC, m.id DESC LIMIT -1 OFFSET ?",
                (*params, keep),
            ).fetchall()
            doomed.update((row[0], row) for row in rows)
    if not doomed:
        return NOTHING_PRUNED
    by_mailbox: dict[int, tuple[str, str, list[int]]] = {}
    for _id, mailbox_id, uid, _saved, user, mailbox in doomed.values():
        by_mailbox.setdefault(mailbox_id, (user, mailbox, []))[2].append(uid)
    out = []
    for mailbox_id, (user, mailbox, uids) in by_mailbox.items():
        uids.sort()
        _delete_messages(cursor, mailbox_id, uids)
        out.append(PrunedMailbox(user, mailbox, mailbox_id, tuple(uids)))
    oldest = min(row[3] for row in doomed.values())
    return Pruned(tuple(out), len(doomed), oldest)
