"""store/errors.py: which refusals are the request's (StoreError) and which the database's
(StoreUnavailable, StoreFull), and how a sqlite3 error's result code becomes one of those."""

from __future__ import annotations

import sqlite3

import pytest

from elektromail.store.errors import (
    InvalidInput,
    MailboxExists,
    MailboxHasChildren,
    MailboxIntoItself,
    NoSuchMailbox,
    NoSuchUser,
    StoreError,
    StoreFull,
    StoreUnavailable,
    UserExists,
    unavailable,
)


def sqlite_error(code: int, text: str, kind: type[sqlite3.Error] = sqlite3.OperationalError):
    """A sqlite3 error as the module raises it, with its (extended) result code."""
    error = kind(text)
    error.sqlite_errorcode = code
    return error


@pytest.mark.parametrize(
    ("code", "text", "message"),
    [
        (3, "access permission denied", "permission denied (access permission denied)"),
        (5, "database is locked", "database busy (database is locked)"),
        (6, "database table is locked", "database locked (database table is locked)"),
        (7, "out of memory", "out of memory"),
        (8, "attempt to write a readonly database",
         "database is read-only (attempt to write a readonly database)"),
        (10, "disk I/O error", "disk I/O error"),
        (778, "disk I/O error", "disk I/O error"),  # SQLITE_IOERR_WRITE: 10 in its low byte
        (11, "database disk image is malformed",
         "database file is corrupt (database disk image is malformed)"),
        (14, "unable to open database file",
         "cannot open the database file (unable to open database file)"),
        (26, "file is not a database", "not a database file (file is not a database)"),
    ],
    ids=["perm", "busy", "locked", "nomem", "readonly", "ioerr", "ioerr-write", "corrupt",
         "cantopen", "notadb"],
)  # fmt: skip
def test_the_databases_temporary_failures_become_store_unavailable(code, text, message):
    error = unavailable(sqlite_error(code, text))
    assert type(error) is StoreUnavailable
    assert str(error) == message


@pytest.mark.parametrize("code", [13, 13 | 0x100], ids=["full", "extended"])
def test_a_full_disk_or_database_is_store_full(code):
    error = unavailable(sqlite_error(code, "database or disk is full"))
    assert type(error) is StoreFull
    assert str(error) == "database or disk is full"


@pytest.mark.parametrize(
    "error",
    [
        sqlite_error(19, "UNIQUE constraint failed: users.name", sqlite3.IntegrityError),
        sqlite_error(2067, "UNIQUE constraint failed", sqlite3.IntegrityError),
        sqlite_error(1, "no such table: nothing"),
        sqlite3.OperationalError("made by hand, no result code"),
        ValueError("not from the database"),
        NoSuchMailbox(7),
    ],
    ids=["constraint", "constraint-unique", "sql-error", "no-code", "not-sqlite", "store-error"],
)
def test_bugs_constraints_and_refusals_are_not_unavailability(error):
    assert unavailable(error) is None


def test_an_unavailability_stays_itself():
    full = StoreFull("disk full")
    assert unavailable(full) is full


def test_a_real_read_only_database_is_unavailable(tmp_path):
    path = tmp_path / "mail.db"
    writer = sqlite3.connect(path)
    writer.execute("CREATE TABLE t (x)")
    writer.commit()
    writer.close()
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as raised:
        reader.execute("INSERT INTO t VALUES (1)")
    reader.close()
    error = unavailable(raised.value)
    assert isinstance(error, StoreUnavailable) and not isinstance(error, StoreFull)
    assert str(error).startswith("database is read-only")


@pytest.mark.parametrize(
    "refusal",
    [UserExists, MailboxExists, NoSuchMailbox, MailboxHasChildren, MailboxIntoItself, NoSuchUser],
)
def test_refusals_are_store_errors_and_failures_are_not(refusal):
    """A StoreError is the request's fault and gets a protocol refusal; a StoreUnavailable says
    the same request may succeed later, so callers must not take one for the other."""
    assert issubclass(refusal, StoreError)
    assert not issubclass(refusal, StoreUnavailable)
    assert not issubclass(StoreUnavailable, StoreError)
    assert issubclass(StoreFull, StoreUnavailable)


def test_invalid_input_is_a_value_error_and_no_failure_of_the_store():
    """Defined beside the name and flag rules (row 0) and refused like a StoreError: the
    request's fault, which trying again does not mend."""
    assert issubclass(InvalidInput, ValueError)
    assert not issubclass(InvalidInput, StoreUnavailable)
