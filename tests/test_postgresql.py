"""The store on PostgreSQL (issue 20): `--db postgresql://...` settings, the dialect's rewrites
of the store's SQL, and a server on a throwaway cluster that takes mail over SMTP, serves it
over IMAP, and keeps it across a restart. The whole store suite runs on PostgreSQL with
`pytest --store-db=postgresql` (tests/pgstore.py)."""

from __future__ import annotations

import imaplib
import importlib.util
import re
import smtplib
import subprocess
import sys

import pytest

from elektromail import config
from elektromail.config import ConfigError, resolve
from elektromail.store import schema
from elektromail.store.dialect import postgresql_ddl, to_postgresql
from tests.pgcluster import find_bin_dir, own_cluster

HAVE_PSYCOPG = importlib.util.find_spec("psycopg") is not None
needs_postgresql = pytest.mark.skipif(
    find_bin_dir() is None or not HAVE_PSYCOPG,
    reason="PostgreSQL is not installed (Debian: apt-get install postgresql)"
    if HAVE_PSYCOPG
    else "psycopg is not installed (pip install 'elektromail[postgresql]')",
)


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.skipif(not HAVE_PSYCOPG, reason="psycopg is not installed")
@pytest.mark.parametrize(
    "url",
    [
        "postgresql://mail:secret@db.example:5432/elektromail",
        "postgres://mail@localhost/elektromail",
        "postgresql://mail@/elektromail?host=%2Frun%2Fpostgresql",
    ],
)
def test_db_takes_a_postgresql_url_and_config_hides_its_password(url):
    s = resolve({"db": url}, {})
    assert s.db == url and s.storage == "postgresql"
    assert "secret" not in (s.storage_path or "")
    if "secret" in url:
        assert s.storage_path == "postgresql://mail:***@db.example:5432/elektromail"


def test_a_postgresql_url_without_psycopg_is_refused_with_the_extra_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a)
    )
    with pytest.raises(ConfigError) as raised:
        resolve({}, {"ELEKTROMAIL_DB": "postgresql://u:hunter2@h/db"})
    message = str(raised.value)
    assert "elektromail[postgresql]" in message and "ELEKTROMAIL_DB" in message
    assert "hunter2" not in message


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite:///tmp/x.db", "http://example.org/"])
def test_other_urls_are_refused(url):
    with pytest.raises(ConfigError, match="postgresql:// URL"):
        resolve({"db": url}, {})


def test_redact_leaves_paths_and_urls_without_password_alone():
    assert config.redact_db("/var/lib/mail.db") == "/var/lib/mail.db"
    assert config.redact_db(None) is None
    assert config.redact_db("postgresql://u@h/db") == "postgresql://u@h/db"


# --- the dialect ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sqlite", "postgresql"),
    [
        ("SELECT 1 FROM users WHERE id = ?", "SELECT 1 FROM users WHERE id = %s"),
        # a literal percent is psycopg's marker, a ? inside a literal is no placeholder
        (
            "SELECT '?%' WHERE flags LIKE '%Deleted%'",
            "SELECT '?%%' WHERE flags ILIKE '%%Deleted%%'",
        ),
        ("SELECT uid FROM messages m INDEXED BY messages_modseq", "SELECT uid FROM messages m"),
        (
            "m.uid IN (SELECT value FROM json_each(?))",
            "m.uid IN (SELECT value::bigint FROM json_array_elements_text(%s::json))",
        ),
        (
            "(CAST(m.saved AS INTEGER) - (m.saved < CAST(m.saved AS INTEGER)))",
            "(floor(m.saved)::bigint)",
        ),
        ("ORDER BY m.id LIMIT -1 OFFSET ?", "ORDER BY m.id LIMIT ALL OFFSET %s"),
        # SQLite's blob literal; PostgreSQL's x'' is a bit string
        ("coalesce(k.subject, x'')", "coalesce(k.subject, '\\x'::bytea)"),
    ],
)
def test_statements_are_rewritten_for_postgresql(sqlite, postgresql):
    assert to_postgresql(sqlite) == (postgresql, False)


def test_an_insert_into_a_rowid_table_returns_its_id_and_others_do_not():
    assert to_postgresql("INSERT INTO bodies(raw) VALUES (?)") == (
        "INSERT INTO bodies(raw) VALUES (%s)",
        True,
    )
    assert to_postgresql("INSERT INTO meta(key, value) VALUES (?, ?)")[1] is False
    assert to_postgresql("INSERT INTO bodies(raw) VALUES (?) RETURNING id")[1] is False


def test_the_schema_translates_types_and_sqlite_only_clauses():
    ddl = postgresql_ddl(schema.SCHEMA)
    for sqlite_only in (
        r"WITHOUT ROWID",
        r"COLLATE NOCASE",
        r"\bBLOB\b",
        r"\bREAL\b",
        r"\bINTEGER\b",
    ):
        assert re.search(sqlite_only, ddl) is None, sqlite_only
    assert "name     CITEXT NOT NULL UNIQUE" in ddl
    assert "id       BIGINT PRIMARY KEY" in ddl
    step = postgresql_ddl(schema.UPGRADES[1])
    assert "ON CONFLICT DO NOTHING" in step and "OR IGNORE" not in step


# --- a server on PostgreSQL -------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    yield from own_cluster()


@needs_postgresql
def test_a_server_on_postgresql_takes_mail_serves_it_and_keeps_it_across_a_restart(
    cluster, child_server
):
    url = cluster.new_database()
    args = ["--smtp-port", "0", "--imap-port", "0", "--db", url]
    first = child_server(args).wait_ready()
    with smtplib.SMTP("127.0.0.1", first.ports["smtp"]) as smtp:
        smtp.sendmail("app@example.com", ["user@example.com"], b"Subject: kept\r\n\r\nbody\r\n")
    first.stop()
    second = child_server(args).wait_ready()
    imap = imaplib.IMAP4("127.0.0.1", second.ports["imap"])
    try:
        imap.login("user", "pass")
        assert imap.select("INBOX") == ("OK", [b"1"])
        _, data = imap.uid("FETCH", "1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert b"Subject: kept" in data[0][1]
    finally:
        imap.logout()


@needs_postgresql
def test_sums_are_integers_and_nul_in_text_is_stored_as_a_replacement_character(cluster):
    """sum() of integers is numeric on PostgreSQL (the store wants SQLite's integer), and its
    text cannot hold NUL (a decoded body may have one)."""
    from elektromail.store import pgdriver

    url = cluster.new_database()
    schema.check_database(url)
    conn = pgdriver.connect(url)
    try:
        cursor = conn.cursor()
        assert cursor.execute("SELECT sum(x) FROM (VALUES (2), (3)) v(x)").fetchone() == (5,)
        cursor.execute("INSERT INTO meta(key, value) VALUES (?, ?)", ("a\x00b", True))
        assert cursor.execute("SELECT key, value FROM meta").fetchall() == [("a\ufffdb", 1)]
    finally:
        conn.close()


@pytest.mark.skipif(not HAVE_PSYCOPG, reason="psycopg is not installed")
@pytest.mark.parametrize(
    ("sqlite", "bound"),
    [
        # whole VALUES items: the columns type them; binary
        ("INSERT INTO bodies(raw, structure) VALUES (?, ?)", "VALUES (%b, %b)"),
        ("INSERT INTO body_index(body_id, emailid) VALUES (?, ('M' || hex(randomblob(3))))", "%b"),
        ("INSERT INTO meta(key, value) VALUES ('a,(b', ?)", "('a,(b', %b)"),
        ("INSERT INTO meta(key, value) VALUES ('k', ?) ON CONFLICT(key) DO NOTHING", "%b"),
        # beside a column: typed by it, as text (a citext column compares as citext)
        ("UPDATE users SET password = ? WHERE name = ?", "password = %s WHERE name = %s"),
        # anywhere else the client binds it, as sqlite3 does
        ("INSERT INTO meta(key, value) VALUES (?, ? + 1)", None),
        (
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
            None,
        ),
        ("INSERT INTO meta(key, value) SELECT ?, ?", None),
        ("UPDATE mailboxes SET first_recent_uid = max(first_recent_uid, ?) WHERE id = ?", None),
        ("SELECT ? FROM users WHERE id = ?", None),
        ("DELETE FROM users WHERE id = ?", None),
        ("UPDATE users SET seeded = 1", None),  # nothing to bind
    ],
)
def test_the_server_binds_what_a_column_types_and_the_client_the_rest(sqlite, bound):
    from elektromail.store.pgdriver import server_bound

    found = server_bound(to_postgresql(sqlite)[0])
    if bound is None:
        assert found is None
    else:
        assert found is not None and bound in found


@pytest.mark.skipif(not HAVE_PSYCOPG, reason="psycopg is not installed")
def test_the_statements_written_for_postgresql_are_bound_by_the_server():
    from elektromail.store.dialect import DELIVER_ONE
    from elektromail.store.pgdriver import server_bound

    bound = server_bound(to_postgresql(DELIVER_ONE)[0])
    assert bound is not None and "%s" not in bound and bound.count("%b") == 13


@needs_postgresql
def test_server_bound_parameters_keep_bytes_truth_and_text_as_the_client_bound_ones_do(cluster):
    """Binary parameters: any bytes (NUL, high bytes) as they are, True/False as 1/0, NUL in text
    as U+FFFD; a name compared through a server-bound UPDATE is still case-insensitive."""
    from elektromail.store import pgdriver

    url = cluster.new_database()
    schema.check_database(url)
    conn = pgdriver.connect(url)
    try:
        cursor = conn.cursor()
        raw = bytes(range(256)) * 40
        cursor.execute(
            "INSERT INTO bodies(raw, structure, transcript) VALUES (?, ?, ?)",
            (raw, "s\x00t", None),
        )
        body_id = cursor.lastrowid
        row = cursor.execute(
            "SELECT raw, structure, transcript FROM bodies WHERE id = ?", (body_id,)
        ).fetchone()
        assert (bytes(row[0]), row[1], row[2]) == (raw, "s\ufffdt", None)
        cursor.execute("INSERT INTO users(name, seeded) VALUES (?, ?)", ("Ann", True))
        cursor.execute("UPDATE users SET password = ? WHERE name = ?", ("pw", "ANN"))
        assert cursor.rowcount == 1
        assert cursor.execute("SELECT password, seeded FROM users").fetchall() == [("pw", 1)]
    finally:
        conn.close()


@needs_postgresql
@pytest.mark.parametrize("count", [1, 2, 63, 64, 65, 130])
def test_many_rows_of_an_insert_go_as_few_statements_and_all_arrive(cluster, count):
    """executemany of a plain INSERT sends INSERTs of up to 64 rows each (a message's header
    fields in one statement): every row arrives, in its place, whatever the count."""
    from elektromail.store import pgdriver

    url = cluster.new_database()
    schema.check_database(url)
    conn = pgdriver.connect(url)
    try:
        cursor = conn.cursor()
        cursor.execute("INSERT INTO bodies(id, raw, structure) VALUES (1, ?, '')", (b"x",))
        rows = [(f"n{i}".encode(), 1, i, bytes([i % 256]) * i) for i in range(count)]
        cursor.executemany(
            "INSERT INTO search_header(name, body_id, position, value) VALUES (?, ?, ?, ?)", rows
        )
        stored = cursor.execute(
            "SELECT name, body_id, position, value FROM search_header ORDER BY position"
        ).fetchall()
        assert [(bytes(n), b, p, bytes(v)) for n, b, p, v in stored] == rows
        # a duplicate fails the whole call, as sqlite3's executemany does
        with pytest.raises(pgdriver.IntegrityViolation):
            cursor.executemany(
                "INSERT INTO search_header(name, body_id, position, value) VALUES (?, ?, ?, ?)",
                rows[-1:] * 2,
            )
    finally:
        conn.close()


@needs_postgresql
def test_an_older_database_gets_the_same_upgrade_steps_as_sqlite(cluster):
    """A database one version behind (the columns the last step adds dropped) gets that
    step, translated, as a SQLite file does."""
    import psycopg

    previous = max(v for v, step in schema.UPGRADES.items() if "ADD COLUMN" in step)
    added = re.findall(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", schema.UPGRADES[previous])
    url = cluster.new_database()
    schema.check_database(url)
    with psycopg.connect(url, autocommit=True) as conn:
        for table, column in added:
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.execute(f"UPDATE schema_version SET version = {previous}")
    schema.check_database(url)
    with psycopg.connect(url, autocommit=True) as conn:
        version = conn.execute("SELECT version FROM schema_version").fetchall()
        assert version == [(schema.SCHEMA_VERSION,)]
        for table, column in added:
            found = conn.execute(
                "SELECT 1 FROM information_schema.columns"
                " WHERE table_name = %s AND column_name = %s",
                (table, column),
            ).fetchall()
            assert found == [(1,)], (table, column)


@needs_postgresql
def test_a_database_of_a_newer_schema_stops_start_up_with_one_line(cluster):
    import psycopg

    url = cluster.new_database()
    schema.check_database(url)  # makes the schema
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = version + 1")
    with pytest.raises(ValueError, match="newer"):
        schema.check_database(url)


@needs_postgresql
def test_an_unreachable_database_stops_start_up_with_one_line_without_the_password(tmp_path):
    url = f"postgresql://u:hunter2@/nothing?host={tmp_path}"  # no server on that socket
    result = subprocess.run(
        [sys.executable, "-m", "elektromail", "--smtp-port", "0", "--imap-port", "0", "--db", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "ELEKTROMAIL_DB" in lines[0] and "cannot connect to PostgreSQL" in lines[0]
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


def _one_waits_for_the_other(url: str, setup, insert) -> tuple[int, list[int]]:
    """Run `insert` (cursor -> new id) in one transaction, then in a second connection while the
    first is open: the second must wait for a lock until the first commits, then take the next
    id. (The id of the first, the ids the second took.)"""
    import threading
    import time

    from elektromail.store import pgdriver

    first, second, watcher = (pgdriver.connect(url) for _ in range(3))
    try:
        setup(first.cursor())
        first.commit()
        first_id = insert(first.cursor(), 1)
        taken: list[int] = []

        def in_second() -> None:
            taken.append(insert(second.cursor(), 2))
            second.commit()

        thread = threading.Thread(target=in_second)
        thread.start()
        pid = second.info.backend_pid
        deadline = time.monotonic() + 20
        waiting = None
        while waiting is None and time.monotonic() < deadline:  # until the server says so
            row = (
                watcher.cursor()
                .execute(
                    "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = ?", (pid,)
                )
                .fetchone()
            )
            waiting = row if row and row[0] == "Lock" else None
            watcher.rollback()
        assert waiting == ("Lock", "advisory")  # the id lock, not a key clash on commit
        first.commit()
        thread.join(20)
        return first_id, taken
    finally:
        for conn in (first, second, watcher):
            conn.close()


@needs_postgresql
def test_two_processes_adding_users_at_once_take_ids_of_a_sequence_without_waiting(cluster):
    """Workers and nodes share one database: a new row's id comes from the table's sequence
    (schema step 17), so a second writer neither takes the first one's id nor waits for the
    first to commit (the trigger before it serialized every writer of every process)."""
    from elektromail.store import pgdriver

    url = cluster.new_database()
    schema.check_database(url)
    first, second = pgdriver.connect(url), pgdriver.connect(url)
    try:
        ids = []
        for n, conn in enumerate((first, second)):  # both open at once
            cursor = conn.cursor()
            cursor.execute("INSERT INTO users(name) VALUES (?)", (f"u{n}",))
            ids.append(cursor.lastrowid)
        second.commit()
        first.commit()
        assert ids[1] == ids[0] + 1
    finally:
        first.close()
        second.close()


@needs_postgresql
def test_ids_named_by_an_insert_move_the_sequence_past_them(cluster):
    """A reset's baseline names its rows' ids (store/control.py); rows added afterwards take
    the next free id, as SQLite's rowid does, and the sequence never goes back."""
    from elektromail.store import pgdriver

    url = cluster.new_database()
    schema.check_database(url)
    conn = pgdriver.connect(url)
    try:
        cursor = conn.cursor()
        cursor.executemany("INSERT INTO users(id, name) VALUES (?, ?)", [(7, "seven"), (9, "nine")])
        cursor.execute("INSERT INTO users(name) VALUES ('next')")
        assert cursor.lastrowid == 10
        cursor.execute("DELETE FROM users")
        cursor.execute("INSERT INTO users(id, name) VALUES (?, ?)", (2, "two"))
        cursor.execute("INSERT INTO users(name) VALUES ('after')")
        assert cursor.lastrowid == 11
        conn.commit()
    finally:
        conn.close()


@needs_postgresql
def test_a_message_id_is_above_every_id_ever_had_and_the_cursor_waits_for_ids_taken(cluster):
    """The message row's id is arrivals.NEXT_MESSAGE_ID on SQLite, a subquery in the INSERT; on
    PostgreSQL a sequence's, above `message_high`, and writers do not wait for each other. The
    cursor of "the messages after id N" (arrivals.highest) waits for the ids another process
    took and has not committed yet: a message committed after N was read has an id above N."""
    from elektromail.store.arrivals import highest
    from elektromail.store.db import _INSERT_MESSAGE

    url = cluster.new_database()
    schema.check_database(url)

    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO users(id, name) VALUES (1, 'user')")
        conn.execute(
            "INSERT INTO mailboxes(id, user_id, name, uidvalidity) VALUES (1, 1, 'INBOX', 1)"
        )
        conn.execute("INSERT INTO bodies(id, raw, structure) VALUES (1, 'x', '{}')")
        # the ids an older schema gave up to 41 were deleted (noted in meta): step 17 starts
        # the sequence above them
        conn.execute("INSERT INTO meta(key, value) VALUES ('message_high', 41)")
        conn.execute("UPDATE schema_version SET version = 16")
    schema.check_database(url)

    def insert(cursor, n: int) -> int:
        cursor.execute(_INSERT_MESSAGE, (1, n, "", 0.0, 0, 1, 1, 1, 0.0))
        return cursor.execute("SELECT max(id) FROM messages").fetchone()[0]

    def insert_then_read(cursor, n: int) -> int:
        # the first transaction inserts and holds the id lock shared; the second reads
        # the cursor, which waits for the first to commit and then sees its row
        return insert(cursor, n) if n == 1 else highest(cursor)

    first_id, read = _one_waits_for_the_other(url, lambda cursor: None, insert_then_read)
    assert (first_id, read) == (42, [42])
    conn = pgdriver_connect(url)
    try:
        assert insert(conn.cursor(), 3) == 43  # and the next writer goes on above it
        conn.commit()
    finally:
        conn.close()


def pgdriver_connect(url: str):
    from elektromail.store import pgdriver

    return pgdriver.connect(url)


def _while_the_first_is_open(url: str, first_step, second_step) -> tuple[object, object]:
    """`first_step(cursor)` in one connection, left uncommitted; `second_step(cursor)` in another,
    on a thread, until it waits for a lock (pg_stat_activity says so); then the first commits
    and the second finishes and commits. (Their results.)"""
    import threading
    import time

    from elektromail.store import pgdriver

    first, second, watcher = (pgdriver.connect(url) for _ in range(3))
    try:
        done: list[object] = []
        result = first_step(first.cursor())

        def in_second() -> None:
            try:
                done.append(second_step(second.cursor()))
                second.commit()
            except BaseException as e:
                done.append(e)

        thread = threading.Thread(target=in_second)
        thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not done:
            row = (
                watcher.cursor()
                .execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = ?",
                    (second.info.backend_pid,),
                )
                .fetchone()
            )
            watcher.rollback()
            if row and row[0] == "Lock":
                break
        first.commit()
        thread.join(20)
        assert done and not isinstance(done[0], BaseException), done
        return result, done[0]
    finally:
        for conn in (first, second, watcher):
            conn.close()


@needs_postgresql
def test_two_processes_making_the_same_user_at_once_both_get_it(cluster):
    """Mail to a new address reaches two workers at once: each makes the user; the one that
    loses the race takes the other's user instead of failing the delivery (451)."""
    from elektromail.store.db import _ensure_user

    url = cluster.new_database()
    schema.check_database(url)

    def ensure(cursor):
        user, created = _ensure_user(cursor, "new", [("INBOX", None)])
        return user.id, created

    made, found = _while_the_first_is_open(url, ensure, ensure)
    assert found == (made[0], False) and made[1] is True


@needs_postgresql
def test_groups_of_two_processes_into_the_same_mailboxes_in_turn_never_deadlock(cluster):
    """A group of writes delivers into mailboxes A then B, another process's into B then A:
    the groups take turns (dialect.GROUP_LOCK), where their mailbox row locks would deadlock
    (and PostgreSQL would tell only after a second)."""
    from elektromail.store.db import _deliver, _run_group
    from elektromail.store.rows import unparsed

    url = cluster.new_database()
    schema.check_database(url)
    setup = pgdriver_connect(url)
    try:
        setup.cursor().execute("INSERT INTO users(id, name) VALUES (1, 'user')")
        setup.commit()
    finally:
        setup.close()
    message = unparsed(b"Subject: x\r\n\r\nbody\r\n", internal_date=1e9)

    def group(*names: str):
        writes = [(_deliver, ([(1, name)], message)) for name in names]
        return lambda cursor: [value for ok, value in _run_group(cursor, writes)]

    first, second = _while_the_first_is_open(url, group("A", "B"), group("B", "A"))
    assert [uid for _, _, uid in (w[0] for w in first)] == [1, 1]
    assert [uid for _, _, uid in (w[0] for w in second)] == [2, 2]


@needs_postgresql
def test_a_body_two_processes_parse_at_once_is_stored_once(cluster):
    """Both workers' idle-time parse finds the same waiting body: the second waits for the
    first's row lock and then finds it parsed, and stores nothing, instead of failing on its
    index rows."""
    from elektromail.store.db import _deliver
    from elektromail.store.pending import parse_some
    from elektromail.store.rows import unparsed

    url = cluster.new_database()
    schema.check_database(url)
    setup = pgdriver_connect(url)
    try:
        cursor = setup.cursor()
        cursor.execute("INSERT INTO users(id, name) VALUES (1, 'user')")
        _deliver(cursor, [(1, "INBOX")], unparsed(b"Subject: x\r\n\r\nbody\r\n", internal_date=1))
        setup.commit()
    finally:
        setup.close()
    parse = lambda cursor: parse_some(cursor, None, 10)  # noqa: E731
    _while_the_first_is_open(url, parse, parse)
    check = pgdriver_connect(url)
    try:
        cursor = check.cursor()
        assert cursor.execute("SELECT count(*) FROM body_index").fetchone() == (1,)
        assert cursor.execute("SELECT count(*) FROM sort_keys").fetchone() == (1,)
    finally:
        check.close()


@needs_postgresql
def test_two_servers_on_one_database_take_mail_at_once_without_colliding(cluster, child_server):
    """Two processes deliver at the same time: every message gets its 250 and its own row and
    UID (message ids are taken under the trigger's lock, UIDs inside the transaction)."""
    import threading

    url = cluster.new_database()
    args = ["--smtp-port", "0", "--imap-port", "0", "--db", url]
    servers = [child_server(args).wait_ready()]
    servers.append(child_server(args).wait_ready())
    refused: list[object] = []

    def send(port: int, tag: str) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                for i in range(40):
                    body = f"Subject: {tag} {i}\r\n\r\nbody\r\n".encode()
                    smtp.sendmail("app@example.com", ["user@example.com"], body)
        except smtplib.SMTPException as e:
            refused.append(e)

    threads = [
        threading.Thread(target=send, args=(server.ports["smtp"], f"s{n}-t{t}"))
        for n, server in enumerate(servers)
        for t in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert refused == []
    imap = imaplib.IMAP4("127.0.0.1", servers[1].ports["imap"])
    try:
        imap.login("user", "pass")
        assert imap.select("INBOX") == ("OK", [b"160"])
        _, data = imap.uid("SEARCH", "ALL")
        assert len(set(data[0].split())) == 160
    finally:
        imap.logout()
