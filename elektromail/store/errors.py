"""Why a store operation was refused: the callers turn these into protocol answers."""

from __future__ import annotations

import sqlite3

# Defined beside the rules that raise it; the store's callers refuse it like the errors here.
from elektromail.names import InvalidInput as InvalidInput


class StoreError(Exception):
    """A store operation refused for a reason the caller reports to its client."""


class UserExists(StoreError):
    pass


class MailboxExists(StoreError):
    pass


class NoSuchMailbox(StoreError):
    pass


class MailboxHasChildren(StoreError):
    """DELETE of a mailbox with inferior names (refused, as Dovecot does)."""


class MailboxIntoItself(StoreError):
    """RENAME of a mailbox to a name inside its own subtree."""


class NoSuchUser(StoreError):
    pass


# --- the database itself failing --------------------------------------------------------------
# Not StoreErrors: nothing is wrong with the request, and the same request may succeed later.

# Primary SQLite result codes (https://sqlite.org/rescode.html) that say the database cannot do
# its work for now, as opposed to a bug in a statement.
SQLITE_FULL = 13
_UNAVAILABLE_CODES = {
    3: "permission denied",  # SQLITE_PERM
    5: "database busy",  # SQLITE_BUSY
    6: "database locked",  # SQLITE_LOCKED
    7: "out of memory",  # SQLITE_NOMEM
    8: "database is read-only",  # SQLITE_READONLY
    10: "disk I/O error",  # SQLITE_IOERR
    11: "database file is corrupt",  # SQLITE_CORRUPT
    14: "cannot open the database file",  # SQLITE_CANTOPEN
    SQLITE_FULL: "database or disk is full",
    26: "not a database file",  # SQLITE_NOTADB
}


class StoreUnavailable(Exception):
    """The database cannot do the work now (read-only file, I/O error, locked...): a temporary
    failure, and nothing of the operation was stored. The message says why, for logs."""


class StoreFull(StoreUnavailable):
    """The disk or the database is full (SQLITE_FULL): nothing was stored; room must be made."""


def unavailable(error: BaseException) -> StoreUnavailable | None:
    """The StoreUnavailable (or StoreFull) that a sqlite3 error stands for, or None when the
    error is not one of the database's temporary failures (a bug, a constraint)."""
    if isinstance(error, StoreUnavailable):
        return error
    code = getattr(error, "sqlite_errorcode", None)
    if not isinstance(error, sqlite3.Error) or code is None:
        return _postgresql_unavailable(error)
    reason = _UNAVAILABLE_CODES.get(code & 0xFF)
    if reason is None:
        return None
    kind = StoreFull if code & 0xFF == SQLITE_FULL else StoreUnavailable
    return kind(f"{reason} ({error})" if str(error) != reason else reason)


# SQLSTATE classes and codes of PostgreSQL (https://www.postgresql.org/docs/current/errcodes-appendix.html)
# that say the same: the server cannot do the work now.
_POSTGRESQL_CODES = {
    "25006": "database is read-only",  # read_only_sql_transaction
    "53100": "database or disk is full",  # disk_full
}
_POSTGRESQL_CLASSES = {
    "08": "connection to the database lost",  # connection exception
    "53": "database out of resources",  # insufficient resources
    "57": "database shutting down or cancelled",  # operator intervention
    "58": "database I/O error",  # system error
}


def _postgresql_unavailable(error: BaseException) -> StoreUnavailable | None:
    """unavailable() for psycopg's errors (told by their module: psycopg is imported only for
    a PostgreSQL store)."""
    if not type(error).__module__.startswith("psycopg"):
        return None
    state = getattr(error, "sqlstate", None) or ""
    reason = _POSTGRESQL_CODES.get(state) or _POSTGRESQL_CLASSES.get(state[:2])
    if reason is None:
        if state or not any(c.__name__ == "OperationalError" for c in type(error).__mro__):
            return None
        reason = "connection to the database lost"  # psycopg's own, without a server's code
    kind = StoreFull if state == "53100" else StoreUnavailable
    return kind(f"{reason} ({str(error).strip()})")


# PostgreSQL's answer to two transactions of different processes that wait for each other
# (deadlock_detected: a group of deliveries into mailboxes A and B against one into B and A)
# or conflict (serialization_failure): one of them is rolled back, and running it again works.
_CONFLICT_STATES = frozenset({"40P01", "40001"})


def conflict(error: BaseException) -> bool:
    """Whether `error` is such a conflict: the transaction is lost, and may run again."""
    return getattr(error, "sqlstate", None) in _CONFLICT_STATES
