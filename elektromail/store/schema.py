"""The schema, versioned with PRAGMA user_version on SQLite and the schema_version table on
PostgreSQL (the same tables and steps, in dialect.py's translation), and the connection set-up."""

from __future__ import annotations

import sqlite3

from elektromail.mailtext import index_from_json
from elektromail.store import objectids
from elektromail.store.dialect import (
    POSTGRESQL_FUNCTIONS,
    is_postgresql_url,
    postgresql_ddl,
    rowid_sequences,
)
from elektromail.store.errors import StoreUnavailable
from elektromail.store.ids import NEW_EMAILID
from elektromail.store.searchindex import fill_search_index

SCHEMA_VERSION = 17

# Message metadata and bodies live in separate tables: SELECT reads (uid, flags) of 100,000
# messages without paging through their bytes, and COPY shares one body between two rows.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password TEXT,
    email    TEXT UNIQUE COLLATE NOCASE,
    seeded   INTEGER NOT NULL DEFAULT 0
);
-- A user's own limits (IMAP QUOTA, SMTP 552); NULL, or no row: the server's settings.
CREATE TABLE IF NOT EXISTS quotas (
    user_id  INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    storage  INTEGER,  -- bytes
    messages INTEGER
);
CREATE TABLE IF NOT EXISTS mailboxes (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uidnext     INTEGER NOT NULL DEFAULT 1,
    special_use TEXT,  -- special-use attributes (RFC 6154), space-separated
    -- RFC 3501 §2.3.2 (the Recent flag): messages from this UID on have not been in a read-write
    -- SELECT yet; the next one to select the mailbox sees them as recent (as Dovecot)
    first_recent_uid INTEGER NOT NULL DEFAULT 1,
    -- RFC 7162 CONDSTORE: the mod-sequence of the mailbox's last change (store/modseq.py)
    highestmodseq INTEGER NOT NULL DEFAULT 1,
    objectid    TEXT,  -- MAILBOXID (RFC 8474 §4), made at CREATE, kept by RENAME
    -- The expunged UIDs kept for QRESYNC are bounded (store/modseq.py): those expunged at or
    -- below this mod-sequence are forgotten; how many are kept, to trim without counting.
    expunged_floor INTEGER NOT NULL DEFAULT 0,
    expunged_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, name)
);
-- Subscriptions are names, not mailboxes: a name stays subscribed when its mailbox is deleted
-- or renamed, and a name may be subscribed before it exists (RFC 9051 §6.3.7).
CREATE TABLE IF NOT EXISTS subscriptions (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
) WITHOUT ROWID;
-- The last UIDVALIDITY each deleted or renamed-away name had: a mailbox renamed onto such a
-- name must not come back with a smaller one (RFC 9051 §2.3.1.1).
CREATE TABLE IF NOT EXISTS retired_names (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    PRIMARY KEY (user_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bodies (
    id                  INTEGER PRIMARY KEY,
    raw                 BLOB NOT NULL,
    structure           TEXT NOT NULL,
    -- the IMAP renderings of ENVELOPE, BODYSTRUCTURE and BODY, made once at delivery
    -- (NULL for bodies stored before version 3: FETCH renders those from `structure`)
    fetch_envelope      BLOB,
    fetch_bodystructure BLOB,
    fetch_body          BLOB,
    transcript          BLOB  -- the SMTP transcript (elektromail.transcripts); NULL: none
);
CREATE TABLE IF NOT EXISTS messages (
    id            INTEGER PRIMARY KEY,
    mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid           INTEGER NOT NULL,
    flags         TEXT NOT NULL DEFAULT '',
    internal_date REAL NOT NULL,
    tz_minutes    INTEGER NOT NULL DEFAULT 0,
    size          INTEGER NOT NULL,
    body_id       INTEGER NOT NULL REFERENCES bodies(id),
    modseq        INTEGER NOT NULL DEFAULT 1,  -- RFC 7162: the message's last change
    saved         REAL,  -- SAVEDATE (RFC 8514): when it came into this mailbox
    UNIQUE (mailbox_id, uid)
);
-- RFC 7162 QRESYNC: the UIDs expunged from a mailbox and the mod-sequence of their expunge,
-- for VANISHED (EARLIER); they go with their mailbox.
CREATE TABLE IF NOT EXISTS expunged (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    modseq     INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
-- The oldest expunges of a mailbox, forgotten first when its history is trimmed; and
-- VANISHED (EARLIER) reads the few after a mod-sequence.
CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged(mailbox_id, modseq);
CREATE INDEX IF NOT EXISTS messages_body ON messages(body_id);
-- What listings and the API's text search read of a body, kept out of `bodies` so a search
-- scans this narrow table instead of every message's bytes; goes with its body.
CREATE TABLE IF NOT EXISTS body_index (
    body_id     INTEGER PRIMARY KEY REFERENCES bodies(id) ON DELETE CASCADE,
    attachments INTEGER NOT NULL,
    search      TEXT NOT NULL,  -- case-folded subject, addresses and body text
    emailid     TEXT,  -- EMAILID (RFC 8474 §5.1): one per body, so COPY and MOVE keep it
    preview     TEXT   -- PREVIEW (RFC 8970): the text preview made from the same parse
);
-- What IMAP SEARCH's header keys read of a body (elektromail.searchtext), decoded and
-- case-folded at delivery so that SQL's instr() answers FROM/TO/CC/BCC/SUBJECT/HEADER/SENT*;
-- texts are UTF-8 BLOBs (a byte substring is a character substring). Goes with its body.
CREATE TABLE IF NOT EXISTS search_envelope (
    body_id   INTEGER PRIMARY KEY REFERENCES bodies(id) ON DELETE CASCADE,
    subject   BLOB,  -- NULL: the message has no subject
    from_text BLOB NOT NULL,
    to_text   BLOB NOT NULL,
    cc_text   BLOB NOT NULL,
    bcc_text  BLOB NOT NULL,
    sent      TEXT  -- the Date: header's date, ISO; NULL when none or unparsable
);
-- Kept in name order, so HEADER reads only the rows of its field.
CREATE TABLE IF NOT EXISTS search_header (
    name     BLOB NOT NULL,  -- lower-case
    body_id  INTEGER NOT NULL REFERENCES bodies(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,  -- the field's place in the header (a name may repeat)
    value    BLOB NOT NULL,
    PRIMARY KEY (name, body_id, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS search_header_body ON search_header(body_id);
-- What IMAP SORT orders a body by and THREAD links it by (elektromail.sortkeys): i;unicode-casemap
-- keys as UTF-8 BLOBs, which compare in the comparator's order, the Date: header in seconds since
-- the epoch (NULL: the internal date stands in), the normalized Message-ID and references.
-- Written when the body is parsed; goes with it.
CREATE TABLE IF NOT EXISTS sort_keys (
    body_id      INTEGER PRIMARY KEY REFERENCES bodies(id) ON DELETE CASCADE,
    subject      BLOB NOT NULL,  -- the base subject (RFC 5256 §2.1)
    from_key     BLOB NOT NULL,
    to_key       BLOB NOT NULL,
    cc_key       BLOB NOT NULL,
    display_from BLOB NOT NULL,
    display_to   BLOB NOT NULL,
    sent         INTEGER,
    reply        INTEGER NOT NULL,  -- 1: the subject marks a reply or forward (RFC 5256 §3)
    message_id   TEXT,  -- NULL: no valid Message-ID
    refs         TEXT  -- JSON list of the references; NULL: none
);
-- The decoded, casefolded text SEARCH TEXT reads (searchtext.full_text) as UTF-8, BODY's part
-- of it from byte `body_at` on: a cache, filled by the first TEXT or BODY search that reads a
-- body (store/textsearch.py), so that later ones are one instr() per body; goes with it.
CREATE TABLE IF NOT EXISTS search_text (
    body_id INTEGER PRIMARY KEY REFERENCES bodies(id) ON DELETE CASCADE,
    text    BLOB NOT NULL,
    body_at INTEGER NOT NULL
);
-- Namespaces (POST /namespaces): isolated sets of users on one server. A namespace's users are
-- the users named `name@<namespace>` (a plain user name cannot hold "@"); the token is kept as
-- its SHA-256, so a database file lets a namespace's token work again after a restart.
CREATE TABLE IF NOT EXISTS namespaces (
    name      TEXT PRIMARY KEY COLLATE NOCASE,
    token     TEXT NOT NULL,  -- hex SHA-256 of the scoped bearer token
    created   REAL NOT NULL,
    last_used REAL NOT NULL
);
-- Bodies stored but not parsed yet have structure '' (a parse never gives that): mail is
-- acknowledged once its bytes are committed, and the parse is made when a reader first needs it
-- or the store is idle (see pending.py). Until then the body has no body_index row.
CREATE INDEX IF NOT EXISTS bodies_unparsed ON bodies(id) WHERE structure = '';
"""


# Run after SCHEMA (which creates any new table) on a database of the key's version; a new
# database (version 0) gets SCHEMA alone.
UPGRADES = {
    # 1 -> 2: subscriptions move from a mailbox column to their own table.
    1: """
INSERT OR IGNORE INTO subscriptions(user_id, name)
    SELECT user_id, name FROM mailboxes WHERE subscribed;
ALTER TABLE mailboxes DROP COLUMN subscribed;
""",
    # 2 -> 3: IMAP renderings kept beside each body.
    2: """
ALTER TABLE bodies ADD COLUMN fetch_envelope BLOB;
ALTER TABLE bodies ADD COLUMN fetch_bodystructure BLOB;
ALTER TABLE bodies ADD COLUMN fetch_body BLOB;
""",
    # 3 -> 4: body_index (created by SCHEMA) is filled by _index_bodies.
    3: "",
    # 4 -> 5: \Recent tracking; mail stored before it counts as seen by a session already.
    4: """
ALTER TABLE mailboxes ADD COLUMN first_recent_uid INTEGER NOT NULL DEFAULT 1;
UPDATE mailboxes SET first_recent_uid = uidnext;
""",
    # 5 -> 6: the SEARCH header index (created by SCHEMA) is filled by fill_search_index.
    # 6 -> 7: bodies_unparsed (created by SCHEMA); every body stored before it is parsed.
    6: "",
    # 7 -> 8: the SORT keys (created by SCHEMA) are filled by fill_search_index.
    7: "",
    # 8 -> 9: per-user quotas (created by SCHEMA), none set.
    8: "",
    5: "",
    # 9 -> 10: CONDSTORE/QRESYNC mod-sequences (the expunged table is created by SCHEMA); what
    # was stored before has mod-sequence 1, the start of every mailbox.
    9: """
ALTER TABLE mailboxes ADD COLUMN highestmodseq INTEGER NOT NULL DEFAULT 1;
ALTER TABLE messages ADD COLUMN modseq INTEGER NOT NULL DEFAULT 1;
""",
    # 10 -> 11: object ids (RFC 8474), save dates (RFC 8514) and previews (RFC 8970), added
    # and backfilled by objectids.upgrade (body_index may be new here, made by SCHEMA).
    10: "",
    # 11 -> 12: search_text (created by SCHEMA) fills itself as TEXT and BODY searches read.
    11: "",
    # 12 -> 13: the messages_modseq index (LATE_INDEXES) for CHANGEDSINCE.
    12: "",
    # 13 -> 14: namespaces (created by SCHEMA), none yet.
    13: "",
    # 14 -> 15: SMTP transcripts kept with each body; mail stored before has none.
    14: """
ALTER TABLE bodies ADD COLUMN transcript BLOB;
""",
    # 15 -> 16: retention. The messages_saved index (SAVED_INDEX), and a bounded history of
    # expunges: what is kept is counted, and nothing is forgotten yet.
    15: """
ALTER TABLE mailboxes ADD COLUMN expunged_floor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN expunged_count INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET expunged_count =
    (SELECT count(*) FROM expunged e WHERE e.mailbox_id = mailboxes.id);
""",
    # 16 -> 17: on PostgreSQL, row ids from sequences (dialect.rowid_sequences, run by
    # prepare_postgresql) in place of a trigger that serialized writers; SQLite's rowid stays.
    16: "",
}


# Indexes on columns that an upgrade step adds to an older database: made after the steps.
LATE_INDEXES = """
-- RFC 7162 CHANGEDSINCE: the few messages of a mailbox changed after a mod-sequence, read
-- without visiting every row (db._changed_since names it with INDEXED BY).
CREATE INDEX IF NOT EXISTS messages_modseq ON messages(mailbox_id, modseq);
"""
# Retention (--max-messages, --max-age): the oldest messages by save date, then arrival (the
# rowid every index ends with), read from either end (store/retention.py, INDEXED BY). Made
# after objectids.upgrade, which adds `saved` to a database older than version 11.
SAVED_INDEX = "CREATE INDEX IF NOT EXISTS messages_saved ON messages(saved)"


class SchemaError(Exception):
    """The database file was written by a newer, unknown schema."""


def prepare_connection(conn: sqlite3.Connection, in_memory: bool) -> None:
    """adbapi's cp_openfun: PRAGMAs, then create or check the schema."""
    conn.execute("PRAGMA foreign_keys = ON")
    # Some builds (Debian's) default to secure_delete = ON, which zeroes every freed page: a
    # reset or purge of 10,000 messages then writes 40 MB of zeros. FAST still overwrites
    # deleted content where that costs no extra I/O; this is a test server, not a vault.
    conn.execute("PRAGMA secure_delete = FAST")
    if not in_memory:
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode keeps every committed transaction across a process crash;
        # only a power loss can drop the last ones.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA busy_timeout = 5000")
    if in_memory:
        # Freed pages are given back at each commit (only a new database takes it, before its
        # first table): see store/memory.py
        conn.execute("PRAGMA auto_vacuum = FULL")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(f"database schema version {version} is newer than {SCHEMA_VERSION}")
    if version < SCHEMA_VERSION:
        # One transaction: an interrupted upgrade leaves the old version intact.
        upgrades = range(version, SCHEMA_VERSION) if version else ()  # 0: a new database
        steps = "".join(UPGRADES[v] for v in upgrades if v in UPGRADES)
        conn.executescript(f"BEGIN; {SCHEMA} {steps} {LATE_INDEXES}")
        try:
            if version:
                if version < 11:  # first: the body_index rows written below have its columns
                    objectids.upgrade(conn)
                _index_bodies(conn)
                fill_search_index(conn)
            conn.execute(SAVED_INDEX)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def _index_bodies(conn: sqlite3.Connection) -> None:
    """Fill body_index for the bodies stored before it existed."""
    rows = conn.execute(
        "SELECT id, raw, structure FROM bodies"
        # a body waiting for its parse (structure '') gets its row with the parse
        " WHERE structure != '' AND id NOT IN (SELECT body_id FROM body_index) ORDER BY id"
    )
    for body_id, raw, structure in rows.fetchall():
        found = index_from_json(bytes(raw), structure)
        conn.execute(
            "INSERT INTO body_index(body_id, attachments, search, emailid, preview)"
            f" VALUES (?, ?, ?, {NEW_EMAILID}, ?)",
            (body_id, found.attachments, found.search, found.preview),
        )


def prepare_postgresql(conn) -> None:
    """cp_openfun on PostgreSQL: create or check the schema. A new database gets SCHEMA (in
    PostgreSQL's words), an older one the UPGRADES steps from its version on, as SQLite; the
    version is the one row of schema_version. The steps before the first PostgreSQL store
    (schema 15) never run here: there was no older PostgreSQL database to upgrade."""
    cursor = conn.cursor()
    # One transaction, as on SQLite; two processes starting at once: the lock makes the
    # second wait, and it finds the schema made.
    cursor.execute("SELECT pg_advisory_xact_lock(2059184716)")
    cursor.execute(
        "SELECT 1 FROM information_schema.tables"
        " WHERE table_schema = current_schema() AND table_name = 'schema_version'"
    )
    if cursor.fetchone() is None:
        version = 0
    else:
        version = cursor.execute("SELECT version FROM schema_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        conn.rollback()
        raise SchemaError(f"database schema version {version} is newer than {SCHEMA_VERSION}")
    if version < SCHEMA_VERSION:
        upgrades = range(version, SCHEMA_VERSION) if version else ()  # 0: a new database
        steps = "".join(UPGRADES[v] for v in upgrades if v in UPGRADES)
        script = POSTGRESQL_FUNCTIONS + postgresql_ddl(SCHEMA + steps + LATE_INDEXES)
        script += rowid_sequences()
        script += "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);\n"
        script += "DELETE FROM schema_version;\n"
        script += f"INSERT INTO schema_version(version) VALUES ({SCHEMA_VERSION});\n"
        cursor.execute_script(script)
    conn.commit()


def check_database(path: str) -> None:
    """Open the file (or connect to the PostgreSQL URL) once, synchronously, so a bad
    database stops start-up with one line. Raises ValueError with the reason."""
    if is_postgresql_url(path):
        _check_postgresql(path)
        return
    try:
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
            prepare_connection(conn, in_memory=False)
        finally:
            conn.close()
    except (sqlite3.Error, SchemaError) as e:
        raise ValueError(str(e)) from None


def _check_postgresql(url: str) -> None:
    from elektromail.store import pgdriver

    try:
        conn = pgdriver.connect(url, connect_timeout=10)
    except StoreUnavailable as e:
        raise ValueError(str(e)) from None
    try:
        prepare_postgresql(conn)
    except (pgdriver.Error, SchemaError) as e:
        raise ValueError(str(e).strip()) from None
    finally:
        conn.close()
