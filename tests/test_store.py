"""The store and post office through a running server: schema, routing, persistence."""

from __future__ import annotations

import sqlite3

import pytest

from elektromail import mime
from elektromail.flags import normalize_flags
from elektromail.store import NoSuchMailbox
from elektromail.store.schema import SCHEMA_VERSION, check_database
from elektromail.testing import MailServer


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


def test_uidvalidity_grows_for_every_new_mailbox(mail):
    user = mail.call(mail.server.store.get_user, "user")
    first = mail.call(mail.server.store.create_mailbox, user.id, "A")
    second = mail.call(mail.server.store.create_mailbox, user.id, "B")
    assert second.uidvalidity > first.uidvalidity


def test_uids_ascend_per_mailbox_and_one_body_serves_all_recipients(mail):
    deliveries = mail.call(
        mail.server.postoffice.deliver, ["user@x", "alice@example.org", "user+again@y"], b"a\r\n"
    )
    assert [(d.user, d.mailbox, d.uid) for d in deliveries] == [
        ("user", "INBOX", 1),
        ("alice", "INBOX", 1),
    ]
    again = mail.call(mail.server.postoffice.deliver, ["user@x"], b"b\r\n")
    assert again[0].uid == 2


def test_seeded_users_follow_the_configuration_across_restarts(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(db=db, users="user:old"):
        pass
    with MailServer(db=db, users="user:new") as mail:
        assert mail.call(mail.server.postoffice.authenticate, "user", "new") is not None
        assert mail.call(mail.server.postoffice.authenticate, "user", "old") is None


def test_flags_survive_a_restart(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(db=db) as mail:
        mail.call(mail.server.postoffice.deliver, ["user@x"], b"a\r\n")
        user = mail.call(mail.server.store.get_user, "user")
        inbox = mail.call(mail.server.store.get_mailbox, user.id, "INBOX")
        mail.call(mail.server.store.store_flags, inbox.id, [1], "add", ["\\Flagged", "$Work"])
    with MailServer(db=db) as mail:
        rows = mail.call(mail.server.store.fetch, inbox.id, [1], False, True)
        assert rows[0].flags == ("\\Flagged", "$Work")
        assert rows[0].raw == b"a\r\n"


def test_wrong_password_and_passwordless_users_cannot_log_in(mail):
    postoffice = mail.server.postoffice
    assert mail.call(postoffice.authenticate, "user", "pass").name == "user"
    assert mail.call(postoffice.authenticate, "user", "PASS") is None
    assert mail.call(postoffice.authenticate, "nobody", "pass") is None
    mail.call(postoffice.deliver, ["ghost@x"], b"a\r\n")
    assert mail.call(postoffice.authenticate, "ghost", "") is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["\\seen", "\\SEEN", "$a", "$A"], ("\\Seen", "$a")),
        (["\\flagged", "work"], ("\\Flagged", "work")),
        ([], ()),
    ],
)
def test_flags_are_normalised(given, expected):
    assert normalize_flags(given) == expected


def test_grouped_writes_fail_alone(mail):
    """Appends arriving together share one transaction; a failing one does not undo the
    others (each has its own savepoint)."""
    store = mail.server.store
    user = mail.call(store.get_user, "user")
    inbox = mail.call(store.get_mailbox, user.id, "INBOX")

    async def together():
        from twisted.internet.defer import DeferredList

        def structure(raw: bytes) -> str:
            return mime.to_json(mime.parse(raw))

        writes = [
            store.append(inbox.id, b"a\r\n", structure(b"a\r\n")),
            store.append(999_999, b"b\r\n", structure(b"b\r\n")),
            store.append(inbox.id, b"c\r\n", structure(b"c\r\n")),
        ]
        return await DeferredList(writes, consumeErrors=True)

    (ok1, uid1), (ok2, failure), (ok3, uid3) = mail.call(together)
    assert (ok1, ok2, ok3) == (True, False, True)
    assert failure.check(NoSuchMailbox)
    assert uid3 == uid1 + 1
    rows = mail.call(store.fetch, inbox.id, [uid1, uid3], False, True)
    assert [row.raw for row in rows] == [b"a\r\n", b"c\r\n"]


def test_imap_renderings_are_stored_at_delivery(mail):
    mail.call(mail.server.postoffice.deliver, ["user@x"], b"Subject: hi\r\n\r\nbody\r\n")
    user = mail.call(mail.server.store.get_user, "user")
    inbox = mail.call(mail.server.store.get_mailbox, user.id, "INBOX")
    [row] = mail.call(mail.server.store.fetch, inbox.id, [1], False, False, True)
    assert row.envelope.startswith(b'(NIL "hi" NIL')
    assert row.bodystructure.startswith(b'("text" "plain"')
