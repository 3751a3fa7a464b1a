"""psycopg 3 as adbapi's DB-API module for the store on PostgreSQL (`ELEKTROMAIL_DB=postgresql://`):
`StorePool("elektromail.store.pgdriver", url)`. Imported only for a PostgreSQL URL, so that
psycopg stays an optional extra (`pip install 'elektromail[postgresql]'`).

The cursor takes the store's statements as written for SQLite and runs them as dialect.py
rewrites them; it is psycopg's ClientCursor (parameters bound in the client, as sqlite3 and
psycopg2 do), so that a `?` in a select list or beside a function of SQLite's needs no cast.
It also gives what the store reads of sqlite3's cursor and connection: `lastrowid` (the
INSERT's RETURNING id), `connection.in_transaction`, and integrity errors as the store catches
them (IntegrityViolation); errors.unavailable() tells psycopg's errors of a database that
cannot work now, as it tells sqlite3's.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.adapt import Dumper, Loader

from elektromail.store.dialect import (
    POSTGRESQL,
    IntegrityViolation,
    sequence_past_ids,
    translated,
)
from elektromail.store.errors import StoreUnavailable

apilevel = "2.0"
threadsafety = 2
paramstyle = "qmark"  # what the store writes; the cursor makes it psycopg's

Error = psycopg.Error
Warning = psycopg.Warning
InterfaceError = psycopg.InterfaceError
DatabaseError = psycopg.DatabaseError
DataError = psycopg.DataError
OperationalError = psycopg.OperationalError
IntegrityError = psycopg.IntegrityError
InternalError = psycopg.InternalError
ProgrammingError = psycopg.ProgrammingError
NotSupportedError = psycopg.NotSupportedError

_IDLE = pq.TransactionStatus.IDLE


class _TruthAsInteger(Dumper):
    """Python's True/False as 1/0: the schema's flags are integers, as in SQLite."""

    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"

    def quote(self, obj: bool) -> bytes:
        return self.dump(obj)


class _NumericAsNumber(Loader):
    """numeric as int (or float): PostgreSQL's sum() of integers is numeric, SQLite's an
    integer, and the store's callers do arithmetic and JSON with it."""

    def load(self, data: Any) -> int | float:
        text = bytes(data)
        return float(text) if b"." in text or b"e" in text.lower() else int(text)


def _text_safe(params: Any) -> Any:
    """`params` with NUL in strings as U+FFFD: PostgreSQL's text cannot hold NUL, SQLite's
    can (a message's decoded search text or preview may have one; bytes are bytea, kept)."""
    if not params or not any(isinstance(p, str) and "\x00" in p for p in params):
        return params
    return [p.replace("\x00", "\ufffd") if isinstance(p, str) else p for p in params]


class Cursor(psycopg.ClientCursor):
    dialect = POSTGRESQL

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._lastrowid: int | None = None

    @property
    def lastrowid(self) -> int | None:  # type: ignore[override]
        return self._lastrowid

    def execute(self, query: str, params: Any = None, **kw: Any) -> Cursor:  # type: ignore[override]
        if query == "BEGIN":
            return self  # psycopg opens a transaction with the first statement outside one
        text, returning, named = translated(query)
        if self.connection.simulated_full and _writes(text):
            raise errors.DiskFull("could not extend file: No space left on device (simulated)")
        try:
            if returning:
                super().execute(text + " RETURNING id", _text_safe(params) or (), **kw)
                self._lastrowid = self.fetchone()[0]
            else:
                super().execute(text, _text_safe(params) or (), **kw)
            if named is not None:
                self._past_ids(named)
        except errors.IntegrityError as e:
            raise IntegrityViolation(str(e)) from e
        return self

    def _past_ids(self, table: str) -> None:
        """The ids an INSERT named are not the sequence's to give again (dialect.rowid_sequences);
        the INSERT's rows and rowcount stay the caller's."""
        with self.connection.cursor() as other:
            psycopg.ClientCursor.execute(other, sequence_past_ids(table))

    def execute_script(self, script: str) -> None:
        """Several statements as written (DDL: schema.prepare_postgresql), no parameters."""
        super().execute(script)

    def executemany(self, query: str, params_seq: Any, **kw: Any) -> None:  # type: ignore[override]
        text, _, named = translated(query)
        if self.connection.simulated_full and _writes(text):
            raise errors.DiskFull("could not extend file: No space left on device (simulated)")
        try:
            super().executemany(text, [_text_safe(p) for p in params_seq], **kw)
            if named is not None:
                self._past_ids(named)
        except errors.IntegrityError as e:
            raise IntegrityViolation(str(e)) from e


def _writes(text: str) -> bool:
    return text.lstrip()[:6].upper() in ("INSERT", "UPDATE")


class Connection(psycopg.Connection):
    # Tests (Store.simulate_full): INSERT and UPDATE fail as on a full disk (SQLSTATE 53100);
    # reads and deletes go on, as SQLite's max_page_count lets them.
    simulated_full = False

    @property
    def in_transaction(self) -> bool:
        return self.info.transaction_status != _IDLE


def connect(url: str, **kw: Any) -> Connection:
    try:
        conn = Connection.connect(url, cursor_factory=Cursor, **kw)
    except psycopg.Error as e:
        detail = " ".join(str(e).split())  # libpq says it on several lines
        raise StoreUnavailable(f"cannot connect to PostgreSQL: {detail}") from e
    conn.adapters.register_dumper(bool, _TruthAsInteger)
    conn.adapters.register_loader("numeric", _NumericAsNumber)
    return conn
