"""store/objectids.py: the MAILBOXID, EMAILID, save date and preview the store keeps, and the
schema step 10 -> 11 that adds them to an older database (RFC 8474, RFC 8514, RFC 8970)."""

from __future__ import annotations

import re
import sqlite3

import pytest

from elektromail.store.rows import unparsed
from elektromail.store.schema import SCHEMA_VERSION, prepare_connection
from tests.store.conftest import add_mailbox, add_user, prepared, run
from tests.store.test_schema import RAW, old_database, pragma

MAILBOXID = re.compile(r"F[0-9a-f]{24}")
EMAILID = re.compile(r"M[0-9a-f]{24}")


def _version_10_body_index(path: str) -> None:
    """body_index as versions 4 to 10 wrote it: without emailid and preview."""
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE body_index (body_id INTEGER PRIMARY KEY REFERENCES bodies(id)"
        " ON DELETE CASCADE, attachments INTEGER NOT NULL, search TEXT NOT NULL);"
        "INSERT INTO body_index VALUES (1, 0, 'quarterly numbers budget inside');"
    )
    conn.commit()
    conn.close()


@pytest.mark.parametrize("version", [1, 4, 7, 10], ids=lambda v: f"from-{v}")
def test_an_older_database_gets_ids_save_dates_and_previews(tmp_path, version):
    path = str(tmp_path / "old.db")
    old_database(path, version)
    if version >= 4:
        _version_10_body_index(path)
    conn = sqlite3.connect(path)
    prepare_connection(conn, False)
    assert pragma(conn, "user_version") == SCHEMA_VERSION
    [(objectid,)] = conn.execute("SELECT objectid FROM mailboxes").fetchall()
    assert MAILBOXID.fullmatch(objectid)
    # the save date was not recorded before: the internal date stands in
    assert conn.execute("SELECT saved, internal_date FROM messages").fetchall() == [(1e9, 1e9)]
    [(emailid, preview)] = conn.execute("SELECT emailid, preview FROM body_index").fetchall()
    assert EMAILID.fullmatch(emailid)
    assert preview == "Budget inside"
    conn.close()


def test_an_unparsed_body_gets_its_emailid_and_preview_with_its_parse(tmp_path):
    path = str(tmp_path / "old.db")
    old_database(path, 10)
    _version_10_body_index(path)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM body_index")  # as a body stored but not parsed yet
    conn.execute("UPDATE bodies SET structure = ''")
    conn.commit()
    prepare_connection(conn, False)
    assert conn.execute("SELECT count(*) FROM body_index").fetchone() == (0,)
    conn.close()


def test_each_mailbox_and_body_gets_its_own_id(tmp_path):
    path = str(tmp_path / "old.db")
    old_database(path, 10)
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO mailboxes(id, user_id, name, uidvalidity, uidnext) VALUES (2, 1, 'B', 8, 1)"
    )
    conn.execute("INSERT INTO bodies(id, raw, structure) SELECT 2, raw, structure FROM bodies")
    conn.commit()
    prepare_connection(conn, False)
    ids = [row[0] for row in conn.execute("SELECT objectid FROM mailboxes")]
    emailids = [row[0] for row in conn.execute("SELECT emailid FROM body_index")]
    assert len(set(ids)) == 2 and len(set(emailids)) == 2
    conn.close()


def test_the_store_reads_the_extras_of_a_mailbox(store):
    user = add_user(store)
    box = add_mailbox(store, user)
    uid = run(store.append, box.id, prepared(RAW, internal_date=1e9))
    found = run(store.message_extras, box.id, [uid])[uid]
    assert EMAILID.fullmatch(found.emailid)
    assert found.preview == "Budget inside"
    assert found.saved > 1e9  # saved now, whatever the internal date
    assert MAILBOXID.fullmatch(box.objectid)


def test_copy_keeps_the_emailid_and_has_its_own_save_date(store):
    user = add_user(store)
    box, other = add_mailbox(store, user), add_mailbox(store, user, "Other")
    uid = run(store.append, box.id, prepared(RAW, internal_date=1e9))
    _, [(_, copied, _)] = run(store.copy, box.id, [uid], other.id)
    source = run(store.message_extras, box.id, [uid])[uid]
    copy = run(store.message_extras, other.id, [copied])[copied]
    assert copy.emailid == source.emailid
    assert copy.saved >= source.saved


def test_lazy_extras_of_an_unparsed_body_have_no_preview_yet(store):
    user = add_user(store)
    box = add_mailbox(store, user)
    uid = run(store.append, box.id, unparsed(RAW))
    assert run(store.message_extras, box.id, [uid], parse=False)[uid].preview is None
    parsed = run(store.message_extras, box.id, [uid])[uid]
    assert (parsed.preview, EMAILID.fullmatch(parsed.emailid) is not None) == (
        "Budget inside",
        True,
    )
