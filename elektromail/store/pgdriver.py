"""psycopg 3 as adbapi's DB-API module for the store on PostgreSQL (`ELEKTROMAIL_DB=postgresql://`):
`StorePool("elektromail.store.pgdriver", url)`. Imported only for a PostgreSQL URL, so that
psycopg stays an optional extra (`pip install 'elektromail[postgresql]'`).

The cursor takes the store's statements as written for SQLite and runs them as dialect.py
rewrites them. The statements of the write path (an INSERT whose `?` are whole VALUES, an
UPDATE whose `?` each stand beside a column: `col = ?`) are bound by the server, where the
column gives each parameter its type: psycopg then prepares them once they repeat
(`prepare_threshold`) and sends an INSERT's parameters in binary (a message's bytes as they
are, not as hex text). Every other statement is bound in the client, as sqlite3 and psycopg2
do (ClientCursor's quoting), so that a `?` in a select list or beside a function of SQLite's
needs no cast.
It also gives what the store reads of sqlite3's cursor and connection: `lastrowid` (the
INSERT's RETURNING id), `connection.in_transaction`, and integrity errors as the store catches
them (IntegrityViolation); errors.unavailable() tells psycopg's errors of a database that
cannot work now, as it tells sqlite3's.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format

from elektromail.store.dialect import (
    POSTGRESQL,
    SERVER_BOUND,
    IntegrityViolation,
    sequence_past_ids,
    to_postgresql,
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


class _TruthAsIntegerBinary(Dumper):
    """_TruthAsInteger for a parameter sent in binary (server-bound INSERTs)."""

    format = Format.BINARY
    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: bool) -> bytes:
        return struct.pack("!q", 1 if obj else 0)


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


# What the server can bind: an INSERT whose parameters are whole items of its VALUES list
# (the column types them) and whose tail (ON CONFLICT, RETURNING) has none; an UPDATE whose
# parameters each stand beside a column (`col = ?`, compared or assigned).
_INSERT_VALUES = re.compile(
    r"^\s*INSERT INTO \w+\s*\([\w\s,]*\)\s*VALUES\s*\(", re.DOTALL | re.IGNORECASE
)


def _values_list(text: str) -> tuple[int, str, str] | None:
    """(where the VALUES list's "(" is, what it holds, what follows it) of a one-row
    INSERT ... VALUES, or None."""
    start = _INSERT_VALUES.match(text)
    if start is None:
        return None
    depth, quoted = 1, False
    for i in range(start.end(), len(text)):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return start.end() - 1, text[start.end() : i], text[i + 1 :]
    return None


_UPDATE = re.compile(r"^\s*UPDATE \w+ SET ", re.IGNORECASE)
_MARK = re.compile(r"%%|%s")
_BESIDE_COLUMN = re.compile(r"[\w.]+ (?:=|!=|<>|<|>|<=|>=) $")

_bound: dict[str, str | None] = {}


def server_bound(text: str) -> str | None:
    """`text` (dialect.py's, with %s) as the server binds it, or None when it is bound in the
    client: an INSERT's parameters in binary (%b), an UPDATE's as text (%s, typed by their
    columns: a citext column compares a name as citext)."""
    found = _bound.get(text, False)
    if found is False:
        found = _bound[text] = _server_bound(text)
        if len(_bound) > 4096:
            _bound.clear()
    return found  # type: ignore[return-value]


_WRITTEN_FOR_POSTGRESQL = frozenset(to_postgresql(sql)[0] for sql in SERVER_BOUND)


def _server_bound(text: str) -> str | None:
    if "%s" not in text:
        return None  # nothing to bind: the client path sends it as it is
    if text in _WRITTEN_FOR_POSTGRESQL:  # its parameters typed (dialect.SERVER_BOUND)
        return _MARK.sub(lambda m: "%b" if m.group() == "%s" else "%%", text)
    insert = _values_list(text)
    if insert is not None:
        _, inside, tail = insert
        items = [item.strip() for item in _split_items(inside)]
        if "%s" in tail or any("%s" in i and i != "%s" for i in items):
            return None
        return _MARK.sub(lambda m: "%b" if m.group() == "%s" else "%%", text)
    if _UPDATE.match(text):
        for mark in _MARK.finditer(text):
            if mark.group() == "%s" and not _BESIDE_COLUMN.search(text[: mark.start()]):
                return None
        return text
    return None


ROWS_A_STATEMENT = 64
_multirows: dict[tuple[str, int], str | None] = {}


def _multirow(bound: str, count: int) -> str | None:
    """A server-bound INSERT of one row as an INSERT of `count` rows, or None when it has a
    tail (ON CONFLICT, RETURNING) that rows of one statement would not keep apart."""
    key = (bound, count)
    found = _multirows.get(key, False)
    if found is False:
        insert = _values_list(bound)
        found = None
        if insert is not None and not insert[2].strip():
            at, inside, _ = insert
            found = bound[:at].rstrip() + " " + ", ".join([f"({inside})"] * count)
        _multirows[key] = found
        if len(_multirows) > 4096:
            _multirows.clear()
    return found  # type: ignore[return-value]


def _split_items(values: str) -> list[str]:
    """A VALUES list's items, split at its top-level commas."""
    items, depth, start, quoted = [], 0, 0, False
    for i, ch in enumerate(values):
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(values[start:i])
            start = i + 1
    items.append(values[start:])
    return items


class Cursor(psycopg.Cursor):
    dialect = POSTGRESQL

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._lastrowid: int | None = None
        self._quoting: psycopg.ClientCursor | None = None

    @property
    def lastrowid(self) -> int | None:  # type: ignore[override]
        return self._lastrowid

    def _literal(self, text: str, params: Any) -> str:
        """`text` with `params` quoted in (ClientCursor's binding, nothing sent)."""
        if self._quoting is None:
            self._quoting = psycopg.ClientCursor(self.connection)
        return self._quoting.mogrify(text, params)

    def _run(self, text: str, params: Any, kw: dict) -> None:
        bound = server_bound(text)
        if bound is not None:
            super().execute(bound, _text_safe(params), **kw)
        else:  # not prepared: its text has the values in it
            literal = self._literal(text, _text_safe(params) or ())
            # Connection.execute passes prepare=None along: not prepared is the point here
            super().execute(literal, **{**kw, "prepare": False})

    def execute(self, query: str, params: Any = None, **kw: Any) -> Cursor:  # type: ignore[override]
        if query == "BEGIN":
            return self  # psycopg opens a transaction with the first statement outside one
        text, returning, named = translated(query)
        if self.connection.simulated_full and _writes(text):
            raise errors.DiskFull("could not extend file: No space left on device (simulated)")
        try:
            if returning:
                self._run(text + " RETURNING id", params, kw)
                self._lastrowid = self.fetchone()[0]
            else:
                self._run(text, params, kw)
            if named is not None:
                self._past_ids(named)
        except errors.IntegrityError as e:
            raise IntegrityViolation(str(e)) from e
        return self

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        """dialect.batched: the statements run in it are sent without waiting for each
        answer; errors are raised when it ends (an integrity error as the store catches it)."""
        try:
            with self.connection.pipeline():
                yield
        except errors.IntegrityError as e:
            raise IntegrityViolation(str(e)) from e

    def _insert_rows(self, bound: str, rows: list) -> None:
        """An INSERT's rows as INSERTs of up to ROWS_A_STATEMENT rows each (one statement and
        one plan for all the header fields of a message, not one per field), prepared."""
        full = len(rows) - len(rows) % ROWS_A_STATEMENT
        if full:
            chunks = [
                [value for row in rows[i : i + ROWS_A_STATEMENT] for value in row]
                for i in range(0, full, ROWS_A_STATEMENT)
            ]
            super().executemany(_multirow(bound, ROWS_A_STATEMENT), chunks)
        if len(rows) > full:
            rest = rows[full:]
            super().execute(_multirow(bound, len(rest)), [v for row in rest for v in row])

    def _past_ids(self, table: str) -> None:
        """The ids an INSERT named are not the sequence's to give again (dialect.rowid_sequences);
        the INSERT's rows and rowcount stay the caller's."""
        with self.connection.cursor() as other:
            psycopg.Cursor.execute(other, sequence_past_ids(table), prepare=False)

    def execute_script(self, script: str) -> None:
        """Several statements as written (DDL: schema.prepare_postgresql), no parameters: the
        simple query protocol."""
        super().execute(script, prepare=False)

    def executemany(self, query: str, params_seq: Any, **kw: Any) -> None:  # type: ignore[override]
        text, _, named = translated(query)
        if self.connection.simulated_full and _writes(text):
            raise errors.DiskFull("could not extend file: No space left on device (simulated)")
        try:
            rows = [_text_safe(p) for p in params_seq]
            bound = server_bound(text)
            if bound is not None and len(rows) > 1 and _multirow(bound, 2) is not None:
                self._insert_rows(bound, rows)
            elif bound is not None:  # in one round trip (psycopg's pipeline), prepared
                super().executemany(bound, rows, **kw)
            else:
                for row in rows:
                    super().execute(self._literal(text, row or ()), prepare=False)
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


# libpq's connection settings that bound how long a database that went away can hold a
# command (over TCP; a Unix socket fails at once): a connection attempt gives up after
# CONNECT_TIMEOUT seconds, a request not acknowledged by the server's host fails after
# tcp_user_timeout, and an idle or waiting connection is probed by keepalives (a host that
# vanished is noticed within keepalives_idle + interval * count seconds). A URL's own
# values win.
CONNECT_TIMEOUT = 5
_BOUNDS = {
    "connect_timeout": CONNECT_TIMEOUT,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15000,  # milliseconds
}


def _bounded(url: str, kw: dict[str, Any]) -> dict[str, Any]:
    given = set(psycopg.conninfo.conninfo_to_dict(url)) | set(kw)
    return {**{k: v for k, v in _BOUNDS.items() if k not in given}, **kw}


def connect(url: str, **kw: Any) -> Connection:
    try:
        conn = Connection.connect(url, cursor_factory=Cursor, **_bounded(url, kw))
    except psycopg.Error as e:
        detail = " ".join(str(e).split())  # libpq says it on several lines
        raise StoreUnavailable(f"cannot connect to PostgreSQL: {detail}") from e
    conn.adapters.register_dumper(bool, _TruthAsInteger)
    conn.adapters.register_dumper(bool, _TruthAsIntegerBinary)
    conn.adapters.register_loader("numeric", _NumericAsNumber)
    return conn
