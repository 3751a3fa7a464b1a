"""store/schema.py: the PRAGMAs each connection gets, the schema version, and the upgrades of
databases written by earlier versions (in one transaction, or not at all)."""

from __future__ import annotations

import sqlite3

import pytest

from elektromail.store.modseq import expunged_since
from elektromail.store.retention import _COLUMNS as OLDEST
from elektromail.store.schema import (
    SCHEMA_VERSION,
    UPGRADES,
    SchemaError,
    check_database,
    prepare_connection,
)
from elektromail.testing import MailServer
from tests.store.conftest import message, structure

# --- through a running server ----------------------------------------------------------------


def test_schema_version_is_recorded(tmp_path):
    db = tmp_path / "mail.db"
    with MailServer(db=str(db)):
        pass
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_a_newer_schema_is_refused(tmp_path):
    db = tmp_path / "mail.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ValueError, match="newer"):
        check_database(str(db))


# --- PRAGMAs ----------------------------------------------------------------------------------


def pragma(conn: sqlite3.Connection, name: str):
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


@pytest.mark.parametrize(
    ("in_memory", "expected"),
    [
        (
            True,
            {"foreign_keys": 1, "secure_delete": 2, "journal_mode": "memory", "busy_timeout": 0},
        ),
        (
            False,
            {
                "foreign_keys": 1,
                "secure_delete": 2,  # FAST
                "journal_mode": "wal",
                "synchronous": 1,  # NORMAL
                "busy_timeout": 5000,
            },
        ),
    ],
    ids=["memory", "file"],
)
def test_each_connection_gets_its_pragmas(tmp_path, in_memory, expected):
    # timeout=0: the busy timeout then comes from prepare_connection, not from sqlite3's default
    conn = sqlite3.connect(":memory:" if in_memory else str(tmp_path / "mail.db"), timeout=0)
    prepare_connection(conn, in_memory)
    assert {name: pragma(conn, name) for name in expected} == expected
    assert pragma(conn, "user_version") == SCHEMA_VERSION
    conn.close()


def test_a_new_database_gets_every_table(tmp_path):
    conn = sqlite3.connect(":memory:")
    prepare_connection(conn, True)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {
        "meta",
        "users",
        "quotas",
        "mailboxes",
        "subscriptions",
        "retired_names",
        "bodies",
        "messages",
        "body_index",
        "search_text",
        "search_envelope",
        "search_header",
        "sort_keys",
        "expunged",
        "namespaces",
    }


def test_preparing_a_current_database_again_changes_nothing(tmp_path):
    path = str(tmp_path / "mail.db")
    conn = sqlite3.connect(path)
    prepare_connection(conn, False)
    conn.execute("INSERT INTO users(name) VALUES ('kept')")
    conn.commit()
    conn.close()
    again = sqlite3.connect(path)
    prepare_connection(again, False)
    assert again.execute("SELECT name FROM users").fetchall() == [("kept",)]
    again.close()


# --- upgrades ---------------------------------------------------------------------------------


def test_every_version_has_its_upgrade_step():
    assert set(UPGRADES) == set(range(1, SCHEMA_VERSION))


RAW = message("Quarterly Numbers", "Budget inside")


def old_database(path: str, version: int, raw: bytes = RAW, structure_json: str = "") -> None:
    """A database as `version` wrote it: one user "old" with INBOX subscribed and one message.
    Version 1 kept subscriptions in a mailbox column, bodies had no IMAP renderings before
    version 3, body_index came with version 4, first_recent_uid with 5, the SEARCH header
    index with 6 and the mod-sequences with 10."""
    conn = sqlite3.connect(path)
    subscribed = ", subscribed INTEGER NOT NULL DEFAULT 0" if version == 1 else ""
    if version >= 5:
        subscribed += ", first_recent_uid INTEGER NOT NULL DEFAULT 1"
    modseq = ""
    if version >= 10:
        subscribed += ", highestmodseq INTEGER NOT NULL DEFAULT 1"
        modseq = ", modseq INTEGER NOT NULL DEFAULT 1"
    if version >= 11:  # object ids and save dates
        subscribed += ", objectid TEXT"
        modseq += ", saved REAL"
    if version >= 16:  # retention's bounded history of expunges
        subscribed += ", expunged_floor INTEGER NOT NULL DEFAULT 0"
        subscribed += ", expunged_count INTEGER NOT NULL DEFAULT 0"
    rendered = (
        ", fetch_envelope BLOB, fetch_bodystructure BLOB, fetch_body BLOB" if version >= 3 else ""
    )
    if version >= 15:  # SMTP transcripts
        rendered += ", transcript BLOB"
    conn.executescript(
        f"""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password TEXT, email TEXT UNIQUE COLLATE NOCASE, seeded INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE mailboxes (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL
            REFERENCES users(id) ON DELETE CASCADE, name TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL DEFAULT 1,
            special_use TEXT{subscribed}, UNIQUE (user_id, name));
        CREATE TABLE bodies (id INTEGER PRIMARY KEY, raw BLOB NOT NULL,
            structure TEXT NOT NULL{rendered});
        CREATE TABLE messages (id INTEGER PRIMARY KEY, mailbox_id INTEGER NOT NULL
            REFERENCES mailboxes(id) ON DELETE CASCADE, uid INTEGER NOT NULL,
            flags TEXT NOT NULL DEFAULT '', internal_date REAL NOT NULL,
            tz_minutes INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL,
            body_id INTEGER NOT NULL REFERENCES bodies(id){modseq}, UNIQUE (mailbox_id, uid));
        INSERT INTO users(id, name, password) VALUES (1, 'old', 'pw');
        INSERT INTO mailboxes(id, user_id, name, uidvalidity, uidnext)
            VALUES (1, 1, 'INBOX', 7, 2);
        """
    )
    if version >= 5:  # as the 4 -> 5 upgrade left it
        conn.execute("UPDATE mailboxes SET first_recent_uid = uidnext")
    if version == 1:
        conn.execute("UPDATE mailboxes SET subscribed = 1")
    else:
        conn.executescript(
            "CREATE TABLE subscriptions (user_id INTEGER NOT NULL, name TEXT NOT NULL,"
            " PRIMARY KEY (user_id, name)) WITHOUT ROWID;"
            "INSERT INTO subscriptions VALUES (1, 'INBOX');"
        )
    conn.execute(
        "INSERT INTO bodies(id, raw, structure) VALUES (1, ?, ?)",
        (raw, structure_json or structure(raw)),
    )
    conn.execute(
        "INSERT INTO messages(mailbox_id, uid, flags, internal_date, size, body_id)"
        " VALUES (1, 1, '\\Seen', 1e9, ?, 1)",
        (len(raw),),
    )
    if version >= 11:  # as the 10 -> 11 upgrade left it
        conn.execute("UPDATE messages SET saved = internal_date")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION), ids=lambda v: f"from-{v}")
def test_an_older_database_is_upgraded_and_keeps_its_mail(tmp_path, version):
    path = str(tmp_path / "old.db")
    old_database(path, version)
    conn = sqlite3.connect(path)
    prepare_connection(conn, False)
    assert pragma(conn, "user_version") == SCHEMA_VERSION
    assert "subscribed" not in columns(conn, "mailboxes")
    assert {"fetch_envelope", "fetch_bodystructure", "fetch_body"} <= columns(conn, "bodies")
    # SMTP transcripts, from version 15: mail stored before has none
    assert "transcript" in columns(conn, "bodies")
    assert conn.execute("SELECT transcript FROM bodies").fetchall() == [(None,)]
    assert conn.execute("SELECT user_id, name FROM subscriptions").fetchall() == [(1, "INBOX")]
    [(raw, flags)] = conn.execute(
        "SELECT b.raw, m.flags FROM messages m JOIN bodies b ON b.id = m.body_id"
    ).fetchall()
    assert (bytes(raw), flags) == (RAW, "\\Seen")
    [(attachments, search)] = conn.execute("SELECT attachments, search FROM body_index").fetchall()
    assert attachments == 0
    assert "quarterly numbers" in search and "budget inside" in search
    # the SEARCH header index, from version 6, is filled for the bodies already there
    [(subject,)] = conn.execute("SELECT subject FROM search_envelope").fetchall()
    assert bytes(subject) == b"quarterly numbers"
    names = [bytes(n) for (n,) in conn.execute("SELECT name FROM search_header")]
    assert b"subject" in names
    # and the SORT keys, from version 8
    [(base,)] = conn.execute("SELECT subject FROM sort_keys").fetchall()
    assert bytes(base) == b"QUARTERLY NUMBERS"
    # mail stored before \Recent was tracked is not recent: the next UID is the first that is
    assert conn.execute("SELECT first_recent_uid FROM mailboxes").fetchall() == [(2,)]
    # CHANGEDSINCE's index, from version 13, is there for the messages already stored
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "messages_modseq" in indexes
    # retention, from version 16: the oldest messages by save date, and a bounded history of
    # expunges (nothing forgotten yet)
    assert {"messages_saved", "expunged_modseq"} <= indexes
    assert conn.execute("SELECT expunged_floor, expunged_count FROM mailboxes").fetchall() == [
        (0, 0)
    ]
    conn.close()


def test_the_upgrade_from_15_counts_the_expunges_kept_and_forgets_none(tmp_path):
    """16 bounds the expunged UIDs kept for QRESYNC (store/modseq.py): a version 15 database
    has them all, counted by the upgrade, with nothing below the floor."""
    path = str(tmp_path / "old.db")
    old_database(path, 15)
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE expunged (mailbox_id INTEGER NOT NULL, uid INTEGER NOT NULL,"
        " modseq INTEGER NOT NULL, PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;"
        "INSERT INTO expunged VALUES (1, 2, 3), (1, 3, 3), (1, 4, 5);"
    )
    conn.close()
    conn = sqlite3.connect(path)
    prepare_connection(conn, False)
    assert pragma(conn, "user_version") == SCHEMA_VERSION
    assert conn.execute("SELECT expunged_floor, expunged_count FROM mailboxes").fetchall() == [
        (0, 3)
    ]
    assert expunged_since(conn.cursor(), 1, 1, None) == [2, 3, 4]
    assert expunged_since(conn.cursor(), 1, 4, None) == [4]
    conn.close()


def test_retention_reads_the_oldest_messages_through_the_saved_index():
    conn = sqlite3.connect(":memory:")
    prepare_connection(conn, True)
    plan = " ".join(
        row[3]
        for row in conn.execute(
            "EXPLAIN QUERY PLAN " + OLDEST + " WHERE m.saved < ? ORDER BY m.saved, m.id", (5.0,)
        )
    )
    assert "USING INDEX messages_saved (saved<?)" in plan
    assert "TEMP B-TREE" not in plan  # walked in order, not sorted
    conn.close()


def test_changedsince_reads_only_the_changed_rows_through_its_index():
    """RFC 7162 §3.1.4.1's CHANGEDSINCE names few messages of a large mailbox: the query
    (db._changed_since) searches the (mailbox_id, modseq) index rather than every row."""
    conn = sqlite3.connect(":memory:")
    prepare_connection(conn, True)
    plan = " ".join(
        row[3]
        for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT m.uid FROM messages m INDEXED BY messages_modseq"
            " WHERE m.mailbox_id = ? AND m.modseq > ? AND m.uid BETWEEN ? AND ?"
            " ORDER BY m.uid LIMIT ?",
            (1, 5, 1, 10000, -1),
        )
    )
    assert "USING INDEX messages_modseq (mailbox_id=? AND modseq>?)" in plan
    conn.close()


def test_an_upgrade_that_fails_leaves_the_old_version_intact(tmp_path):
    """One transaction: a body the index cannot read stops the upgrade, and the database is
    as version 1 left it, subscriptions column included."""
    path = str(tmp_path / "old.db")
    old_database(path, 1, structure_json="not the structure of anything")
    conn = sqlite3.connect(path)
    with pytest.raises(ValueError):  # the structure is no JSON
        prepare_connection(conn, False)
    conn.close()
    conn = sqlite3.connect(path)
    assert pragma(conn, "user_version") == 1
    assert "subscribed" in columns(conn, "mailboxes")
    assert "fetch_envelope" not in columns(conn, "bodies")
    conn.close()


# --- check_database ---------------------------------------------------------------------------


def test_check_database_turns_a_newer_schema_into_schema_errors_reason(tmp_path):
    path = str(tmp_path / "mail.db")
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    conn.close()
    with pytest.raises(SchemaError, match=f"version {SCHEMA_VERSION + 3} is newer"):
        prepare_connection(sqlite3.connect(path), False)
    with pytest.raises(ValueError, match=f"version {SCHEMA_VERSION + 3} is newer"):
        check_database(path)


def test_check_database_refuses_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the pages you are looking for\n" * 100)
    with pytest.raises(ValueError, match="not a database"):
        check_database(str(path))


def test_check_database_creates_a_new_file_at_the_current_version(tmp_path):
    path = tmp_path / "new.db"
    check_database(str(path))
    conn = sqlite3.connect(path)
    assert pragma(conn, "user_version") == SCHEMA_VERSION
    assert pragma(conn, "journal_mode") == "wal"
    conn.close()


def test_an_in_memory_database_gives_freed_pages_back_and_a_file_keeps_its_mode(tmp_path):
    """auto_vacuum = FULL for ":memory:" (store/memory.py: the RSS after a large delete comes
    back); a database file keeps SQLite's default, which a VACUUM would be needed to change."""
    memory = sqlite3.connect(":memory:")
    prepare_connection(memory, True)
    assert pragma(memory, "auto_vacuum") == 1  # FULL
    memory.execute("CREATE TABLE t (x BLOB)")
    memory.commit()
    empty = pragma(memory, "page_count")  # the schema's own pages
    memory.executemany("INSERT INTO t VALUES (?)", [(b"x" * 4000,)] * 200)
    memory.commit()
    grown = pragma(memory, "page_count")
    memory.execute("DELETE FROM t")
    memory.commit()
    assert pragma(memory, "page_count") < empty + (grown - empty) // 10
    file = sqlite3.connect(str(tmp_path / "mail.db"))
    prepare_connection(file, False)
    assert pragma(file, "auto_vacuum") == 0
