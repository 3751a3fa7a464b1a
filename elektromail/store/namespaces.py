"""Store operations for namespaces: the namespaces table, and which users a scope holds.

A namespace's users are stored as `name@<namespace>` in the users table (a plain user name
cannot hold "@", see names.check_user_name), so mailboxes, messages, quotas and every IMAP and
SMTP path work on them unchanged; only listings that span users need to know the scope.

A scope is None (every user: what the server did before namespaces, and still does while none
exists), "" (the default namespace: users not in any namespace) or a namespace name.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred

from elektromail.store.errors import StoreError

Scope = str | None


class NamespaceExists(StoreError):
    """A namespace of that name exists (or users already carry its suffix)."""


class NoSuchNamespace(StoreError):
    """No namespace of that name."""


@dataclass(frozen=True, slots=True)
class NamespaceRow:
    name: str
    token: str  # hex SHA-256 of the scoped token
    created: float
    last_used: float
    users: int = 0
    messages: int = 0


def scope_condition(scope: Scope, column: str = "u.name") -> tuple[str | None, list[Any]]:
    """An SQL condition on a user name column for `scope` (None when it holds every user).
    Namespace names are letters, digits and hyphens only, so LIKE's wildcards cannot occur in
    them; LIKE compares ASCII case-insensitively, as the users table does."""
    if scope is None:
        return None, []
    if scope == "":
        return (
            f"NOT EXISTS (SELECT 1 FROM namespaces ns WHERE {column} LIKE '%@' || ns.name)",
            [],
        )
    return f"{column} LIKE ?", [f"%@{scope}"]


class NamespaceOps:
    """Mixed into Store, whose `_run` runs an interaction."""

    _run: Any
    _run_freeing: Any

    def create_namespace(self, name: str, token: str, now: float) -> Deferred[NamespaceRow]:
        """A new namespace row; NamespaceExists when the name is taken."""
        return self._run(_create_namespace, name, token, now)

    def list_namespaces(self, counts: bool = False) -> Deferred[list[NamespaceRow]]:
        """Every namespace, oldest first (with its user and message counts if `counts`)."""
        return self._run(_list_namespaces, counts)

    def delete_namespace(self, name: str) -> Deferred[list[str]]:
        """Remove the namespace with its users, mailboxes and mail; fires with the names of
        the users removed. NoSuchNamespace."""
        return self._run_freeing(_delete_namespace, name)

    def touch_namespaces(self, last_used: Mapping[str, float]) -> Deferred[None]:
        """Write when each namespace was last used (kept in memory between writes)."""
        return self._run(_touch_namespaces, dict(last_used))

    def users_in_scope(self, scope: Scope) -> Deferred[list[str]]:
        """The names of the users `scope` holds, in the order they were made."""
        return self._run(_users_in_scope, scope)


def _create_namespace(cursor, name: str, token: str, now: float) -> NamespaceRow:
    if cursor.execute("SELECT 1 FROM namespaces WHERE name = ?", (name,)).fetchone():
        raise NamespaceExists(f"namespace {name!r} exists")
    taken = cursor.execute("SELECT name FROM users WHERE name LIKE ?", (f"%@{name}",)).fetchone()
    if taken:
        raise NamespaceExists(f"user {taken[0]!r} already carries the name {name!r}")
    cursor.execute(
        "INSERT INTO namespaces(name, token, created, last_used) VALUES (?, ?, ?, ?)",
        (name, token, now, now),
    )
    return NamespaceRow(name, token, now, now)


def _list_namespaces(cursor, counts: bool) -> list[NamespaceRow]:
    rows = cursor.execute(
        "SELECT name, token, created, last_used FROM namespaces ORDER BY created, name"
    ).fetchall()
    if not counts:
        return [NamespaceRow(*row) for row in rows]
    out = []
    for name, token, created, last_used in rows:
        users, messages = cursor.execute(
            "SELECT count(DISTINCT u.id), count(m.id) FROM users u"
            " LEFT JOIN mailboxes b ON b.user_id = u.id"
            " LEFT JOIN messages m ON m.mailbox_id = b.id WHERE u.name LIKE ?",
            (f"%@{name}",),
        ).fetchone()
        out.append(NamespaceRow(name, token, created, last_used, users, messages))
    return out


def _delete_namespace(cursor, name: str) -> list[str]:
    from elektromail.store.control import _delete_user  # control imports this module

    row = cursor.execute("SELECT name FROM namespaces WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NoSuchNamespace(name)
    users = _users_in_scope(cursor, row[0])
    for user in users:
        _delete_user(cursor, user)
    cursor.execute("DELETE FROM namespaces WHERE name = ?", (row[0],))
    return users


def _touch_namespaces(cursor, last_used: dict[str, float]) -> None:
    cursor.executemany(
        "UPDATE namespaces SET last_used = max(last_used, ?) WHERE name = ?",
        [(when, name) for name, when in last_used.items()],
    )


def _users_in_scope(cursor, scope: Scope) -> list[str]:
    condition, params = scope_condition(scope, "u.name")
    where = f" WHERE {condition}" if condition else ""
    return [
        row[0] for row in cursor.execute(f"SELECT u.name FROM users u{where} ORDER BY u.id", params)
    ]


def _user_ids_in_scope(cursor, scope: Scope) -> list[int]:
    condition, params = scope_condition(scope, "u.name")
    where = f" WHERE {condition}" if condition else ""
    return [row[0] for row in cursor.execute(f"SELECT u.id FROM users u{where}", params)]


def chunks(values: list, size: int = 500):
    it = iter(values)
    while chunk := list(itertools.islice(it, size)):
        yield chunk
