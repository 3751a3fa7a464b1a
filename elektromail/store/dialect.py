"""The one place where SQLite and PostgreSQL differ: the store's SQL is written once, in SQLite's
words, and `Dialect` says what each engine needs of it.

SQLite runs the statements as written (its path costs nothing extra: the store's hot path is
counted in instructions per message, issue 15). For PostgreSQL, pgdriver.py's cursor rewrites a
statement once, the first time it sees its text (`to_postgresql`, cached): `?` placeholders,
planner hints, SQLite's JSON table function, its floor idiom and blob literals, LIKE's
case-insensitivity; pgdriver.py also reads numeric sums as integers and keeps NUL out of text
(PostgreSQL's text cannot hold it). What a rewrite cannot
say, PostgreSQL is given as functions of the same names and meaning (`POSTGRESQL_FUNCTIONS`:
two-argument max()/min(), instr(), randomblob(), hex(), sum() of a truth value), and the schema's
DDL is translated by `postgresql_ddl` (types, COLLATE NOCASE, WITHOUT ROWID, rowid ids), so that
both engines get the same tables and the same migration steps.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from elektromail.store.arrivals import HIGHEST_MESSAGE_ID, NEXT_MESSAGE_ID


@dataclass(frozen=True)
class Dialect:
    name: str

    @property
    def is_postgresql(self) -> bool:
        return self.name == "postgresql"


SQLITE = Dialect("sqlite")
POSTGRESQL = Dialect("postgresql")


# LIMIT without a limit on both, as a parameter (SQLite's -1 is an error on PostgreSQL; a
# literal LIMIT -1 is rewritten)
NO_LIMIT = 2**63 - 1


def dialect_of(cursor: Any) -> Dialect:
    """The engine behind an interaction's cursor (adbapi's Transaction proxies to it): only
    pgdriver's cursor says, sqlite3's does not."""
    return getattr(cursor, "dialect", SQLITE)


def batched(cursor: Any) -> AbstractContextManager[Any]:
    """Around statements whose results nobody reads: on PostgreSQL they go to the server
    together (psycopg's pipeline mode: one round trip, not one each); nothing on SQLite."""
    pipelined = getattr(cursor, "pipelined", None)
    return nullcontext() if pipelined is None else pipelined()


def is_postgresql_url(db: str | None) -> bool:
    return bool(db) and db.startswith(("postgresql://", "postgres://"))


class IntegrityViolation(sqlite3.IntegrityError):
    """PostgreSQL's integrity errors (unique, foreign key, not null) as the store catches them:
    the store's code says `except sqlite3.IntegrityError` once for both engines."""


# --- statements -------------------------------------------------------------------------------

_INDEXED_BY = re.compile(r"\s+INDEXED BY \w+")
_JSON_IDS = re.compile(r"SELECT value FROM json_each\(\?\)")
# floor(x) as SQLite says it (CAST truncates toward zero there; PostgreSQL's rounds)
_FLOOR = re.compile(
    r"CAST\((?P<x>coalesce\([\w., ]+\)|[\w.]+) AS INTEGER\)"
    r" - \((?P=x) < CAST\((?P=x) AS INTEGER\)\)"
)
_LIKE = re.compile(r"\bLIKE\b")
_NO_LIMIT_LITERAL = re.compile(r"\bLIMIT -1\b")  # SQLite's "no limit"; PostgreSQL's is ALL
_BLOB_LITERAL = re.compile(r"\b[xX]'([0-9a-fA-F]*)'")  # PostgreSQL's x'..' is a bit string
_INSERT_INTO = re.compile(r"^\s*INSERT INTO (\w+)", re.IGNORECASE)
_NAMES_ID = re.compile(r"^\s*INSERT INTO (\w+)\s*\(\s*id\s*,", re.IGNORECASE)

# Tables whose ids SQLite's rowid gives (lastrowid): PostgreSQL returns them with RETURNING.
ROWID_TABLES = frozenset({"users", "mailboxes", "bodies", "messages"})

_cache: dict[str, tuple[str, bool, str | None]] = {}


def to_postgresql(sql: str) -> tuple[str, bool]:
    """`sql` for psycopg, and whether it is an INSERT whose new id stands in for lastrowid
    (RETURNING id added). Cached by statement text: most statements are a few fixed texts."""
    text, returning, _ = translated(sql)
    return text, returning


def translated(sql: str) -> tuple[str, bool, str | None]:
    """to_postgresql's two, and the table of ROWID_TABLES whose ids the INSERT names itself
    (its sequence is then moved past them: `sequence_past_ids`), else None."""
    found = _cache.get(sql)
    if found is None:
        found = _cache[sql] = _translate(sql)
        if len(_cache) > 4096:  # IN lists of every length make texts without end
            _cache.clear()
    return found


def sequence_past_ids(table: str) -> str:
    """After an INSERT that named its ids: the table's sequence (rowid_sequences) goes past the
    largest, never back (an INSERT that names none then takes a free id, as SQLite's rowid)."""
    return (
        f"SELECT setval('{table}_id_seq', top) FROM (SELECT max(id) AS top FROM {table}) t"
        f" WHERE top >= (SELECT last_value FROM {table}_id_seq)"
    )


def _translate(sql: str) -> tuple[str, bool, str | None]:
    if sql in SERVER_BOUND:
        return _placeholders(sql), False, None
    # A message's new id is a sequence's (elektromail_message_id), where arrivals.NEXT_MESSAGE_ID's
    # subquery would let two processes take the same one; the cursor of "the messages after
    # id N" waits for the ids taken but not committed yet (elektromail_highest_message_id).
    if sql == HIGHEST_MESSAGE_ID:
        return "SELECT elektromail_highest_message_id()", False, None
    text = _INDEXED_BY.sub("", sql.replace(NEXT_MESSAGE_ID, "elektromail_message_id()"))
    text = _JSON_IDS.sub("SELECT value::bigint FROM json_array_elements_text(?::json)", text)
    text = _FLOOR.sub(r"floor(\g<x>)::bigint", text)
    text = _LIKE.sub("ILIKE", text)  # SQLite's LIKE is ASCII case-insensitive
    text = _NO_LIMIT_LITERAL.sub("LIMIT ALL", text)
    text = _BLOB_LITERAL.sub(r"'\\x\1'::bytea", text)
    text = _placeholders(text)
    returning = False
    insert = _INSERT_INTO.match(text)
    if insert and insert.group(1) in ROWID_TABLES and "RETURNING" not in text.upper():
        returning = True  # the cursor adds RETURNING id (not for executemany)
    names_id = _NAMES_ID.match(text)
    named = None
    if names_id and names_id.group(1) in ROWID_TABLES and "elektromail_message_id()" not in text:
        named = names_id.group(1)
    return text, returning, named


def _placeholders(sql: str) -> str:
    """`?` outside string literals to `%s`, and `%` doubled (psycopg's own marker)."""
    out: list[str] = []
    quoted = False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
            out.append(ch)
        elif ch == "%":
            out.append("%%")
        elif ch == "?" and not quoted:
            out.append("%s")
        else:
            out.append(ch)
    return "".join(out)


# Statements written for PostgreSQL alone, where one statement does the work of several of
# SQLite's (each statement is a round trip to the server there; SQLite's cost nothing extra),
# their parameters cast where no column types them, so that the server binds them
# (pgdriver.server_bound).

# A delivery into one mailbox (db._deliver): the body, the mailbox's next UID and the message
# row; (body id, mailbox id, UID), the mailbox's NULL when there is no such mailbox (the body is
# stored all the same, and the caller creates the mailbox and goes on as SQLite does).
DELIVER_ONE = (
    "WITH body AS (INSERT INTO bodies(raw, structure, fetch_envelope, fetch_bodystructure,"
    " fetch_body, transcript) VALUES (?, ?, ?, ?, ?, ?) RETURNING id),"
    " box AS (UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1"
    " WHERE user_id = ? AND name = ? RETURNING id, uidnext - 1 AS uid, highestmodseq),"
    " message AS (INSERT INTO messages(id, mailbox_id, uid, flags, internal_date, tz_minutes,"
    " size, body_id, modseq, saved) SELECT elektromail_message_id(), box.id, box.uid, ?::text,"
    " ?::float8, ?::bigint, ?::bigint, body.id, box.highestmodseq, ?::float8 FROM box, body)"
    " SELECT body.id, box.id, box.uid FROM body LEFT JOIN box ON true"
)
SERVER_BOUND = frozenset({DELIVER_ONE})

# Taken by each group of writes (db._run_group) to the end of its transaction: the groups of
# processes sharing the database run one at a time. A group delivers into many mailboxes, each
# UPDATE locking its row to the commit; two groups taking rows A then B and B then A would
# deadlock, and PostgreSQL tells a deadlock only after deadlock_timeout (1 s), rolling one back.
GROUP_LOCK = "SELECT pg_advisory_xact_lock(hashtext('elektromail_groups'))"


# --- schema -----------------------------------------------------------------------------------

_ROWID_ID = re.compile(r"^(\s*)id(\s+)INTEGER PRIMARY KEY\b", re.MULTILINE)


def postgresql_ddl(script: str) -> str:
    """SQLite DDL (schema.SCHEMA, an UPGRADES step) in PostgreSQL's words: 64-bit integers (SQLite's
    are), double precision, bytea, citext for COLLATE NOCASE, no WITHOUT ROWID."""
    text = _ROWID_ID.sub(r"\1id\2BIGINT PRIMARY KEY", script)
    text = re.sub(r"\bTEXT(\s[^,\n]*?)\s*COLLATE NOCASE", r"CITEXT\1", text)
    text = re.sub(r"\bINTEGER\b", "BIGINT", text)
    text = re.sub(r"\bREAL\b", "DOUBLE PRECISION", text)
    text = re.sub(r"\bBLOB\b", "BYTEA", text)
    text = re.sub(r"\)\s*WITHOUT ROWID;", ");", text)
    ignore = r"INSERT INTO \1 ON CONFLICT DO NOTHING;"
    text = re.sub(r"INSERT OR IGNORE INTO ([^;]*);", ignore, text)
    return text


def rowid_sequences() -> str:
    """New rows of ROWID_TABLES get their id from a sequence of their own (schema step 17,
    replacing the per-table trigger and its advisory lock, which made writers of every process
    wait for each other to commit): started above every id the table has, and for messages
    above every id it ever had (`message_high`, store/arrivals.py); a sequence never gives an
    id back. An INSERT that names its ids moves the sequence past them (sequence_past_ids).
    Idempotent: a new database and an upgraded one run it alike."""
    out = ["DROP FUNCTION IF EXISTS elektromail_rowid() CASCADE;\n"]  # and its triggers
    for table in sorted(ROWID_TABLES):
        above = f"(SELECT coalesce(max(id), 0) FROM {table})"
        if table == "messages":
            high = "(SELECT coalesce(max(value), 0) FROM meta WHERE key = 'message_high')"
            above = f"greatest({above}, {high})"
        out.append(
            f"CREATE SEQUENCE IF NOT EXISTS {table}_id_seq OWNED BY {table}.id;\n"
            f"SELECT setval('{table}_id_seq', greatest({above},"
            f" (SELECT last_value - 1 + is_called::integer FROM {table}_id_seq)) + 1, false);\n"
            f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq');\n"
        )
    return "".join(out) + MESSAGE_ID_FUNCTIONS


# After the tables (a function of SQL is checked against them when it is made).
MESSAGE_ID_FUNCTIONS = """
-- A new message's id (arrivals.NEXT_MESSAGE_ID): writers share a lock to the end of their
-- transaction, which elektromail_highest_message_id takes alone, so that the cursor of "the
-- messages after id N" is read once every id taken before it is committed (or rolled back);
-- writers do not wait for each other. Each statement of a VOLATILE function takes a new
-- snapshot: the max() sees what committed while the lock was awaited.
CREATE OR REPLACE FUNCTION elektromail_message_id() RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT pg_advisory_xact_lock_shared(hashtext('elektromail_rowid'), hashtext('messages'));
    SELECT nextval('messages_id_seq');
$$;
CREATE OR REPLACE FUNCTION elektromail_highest_message_id() RETURNS bigint
    LANGUAGE sql VOLATILE AS $$
    SELECT pg_advisory_xact_lock(hashtext('elektromail_rowid'), hashtext('messages'));
    SELECT greatest(coalesce((SELECT max(id) FROM messages), 0),
        coalesce((SELECT value FROM meta WHERE key = 'message_high'), 0));
$$;
"""


# The lock elektromail_message_id() takes (shared) before it gives a new message its id,
# taken alone: held by a transaction that deletes messages from its note of the highest id on
# (arrivals.py), as elektromail_highest_message_id() takes it.
_MESSAGE_ID_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtext('elektromail_rowid'), hashtext('messages'))"
)


def lock_message_ids(cursor: Any) -> None:
    """Until the transaction ends, no other connection takes a new message id (PostgreSQL;
    SQLite's one writer at a time has nothing to lock). A statement of its own: in READ
    COMMITTED the next statement's snapshot then sees every id taken before the lock."""
    if dialect_of(cursor).is_postgresql:
        cursor.execute(_MESSAGE_ID_LOCK)


# SQLite's functions the store's statements use, with SQLite's meaning.
POSTGRESQL_FUNCTIONS = """
CREATE EXTENSION IF NOT EXISTS citext;
CREATE OR REPLACE FUNCTION max(anycompatible, anycompatible) RETURNS anycompatible
    LANGUAGE sql IMMUTABLE AS 'SELECT greatest($1, $2)';
CREATE OR REPLACE FUNCTION min(anycompatible, anycompatible) RETURNS anycompatible
    LANGUAGE sql IMMUTABLE AS 'SELECT least($1, $2)';
CREATE OR REPLACE FUNCTION instr(text, text) RETURNS integer
    LANGUAGE sql IMMUTABLE AS 'SELECT strpos($1, $2)';
CREATE OR REPLACE FUNCTION instr(bytea, bytea) RETURNS integer
    LANGUAGE sql IMMUTABLE AS 'SELECT position($2 IN $1)';
CREATE OR REPLACE FUNCTION substr(bytea, bigint) RETURNS bytea
    LANGUAGE sql IMMUTABLE AS 'SELECT substring($1 FROM $2::integer)';
CREATE OR REPLACE FUNCTION randomblob(integer) RETURNS bytea
    LANGUAGE sql VOLATILE AS
    'SELECT substring(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) FROM 1 FOR $1)';
CREATE OR REPLACE FUNCTION hex(bytea) RETURNS text
    LANGUAGE sql IMMUTABLE AS 'SELECT upper(encode($1, ''hex''))';
CREATE OR REPLACE FUNCTION elektromail_count_true(bigint, boolean) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS
    'SELECT CASE WHEN $2 IS NULL THEN $1 ELSE coalesce($1, 0) + $2::integer END';
CREATE OR REPLACE AGGREGATE sum(boolean) (sfunc = elektromail_count_true, stype = bigint);
"""
