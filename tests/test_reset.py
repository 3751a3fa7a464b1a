"""PostOffice.reset(): back to exactly the start state (configured users, preloaded fixtures,
nothing else), every mailbox with a new UIDVALIDITY, logged-in IMAP sessions ended with
BYE [UNAVAILABLE]."""

from __future__ import annotations

import imaplib
import json

import pytest
from twisted.internet import defer
from twisted.logger import globalLogPublisher

from elektromail.events import Events, MessageAdded, ServerReset, UserDeleted
from elektromail.imap.session import Session
from elektromail.imap.view import MailboxView
from elektromail.store import MailboxRow, UserRow
from elektromail.testing import MailServer
from tests.test_postoffice_api import Wire, inject, message, scalar

USERS = "user:pass,alice:alice@example.org:wonder"
BYE = b"* BYE [UNAVAILABLE] Server reset to its start state\r\n"


@pytest.fixture
def fixtures(tmp_path):
    root = tmp_path / "fixtures"
    (root / "alice" / "Archive" / "2024").mkdir(parents=True)
    (root / "alice" / "INBOX").mkdir()
    (root / "dave" / "INBOX").mkdir(parents=True)
    (root / "alice" / "INBOX" / "01.eml").write_bytes(b"Subject: welcome\n\nhi alice\n")
    (root / "alice" / "INBOX" / "02.eml").write_bytes(b"Subject: second\n\nagain\n")
    old = root / "alice" / "Archive" / "2024" / "old.eml"
    old.write_bytes(b"Subject: old\n\narchived\n")
    sidecar = {"flags": ["\\Seen", "$Important"], "internal_date": "01-Jan-2024 00:00:00 +0100"}
    (root / "alice" / "Archive" / "2024" / "old.eml.meta.json").write_text(json.dumps(sidecar))
    (root / "dave" / "INBOX" / "d.eml").write_bytes(b"Subject: for dave\n\nd\n")
    return root


@pytest.fixture
def mail(fixtures):
    with MailServer(users=USERS, preload_dir=str(fixtures), http_port=None) as server:
        yield server


def reset(mail: MailServer) -> None:
    mail.call(mail.server.postoffice.reset)


def state(mail: MailServer) -> dict:
    """Everything a client could tell apart, except UIDVALIDITY: users with their passwords
    and emails, mailboxes with UIDNEXT and subscription, messages with flags and dates."""
    store = mail.server.store
    users = mail.call(store.list_users)
    out = {}
    for user in users:
        boxes = mail.call(store.list_mailboxes, user.id)
        out[user.name] = {
            "password": user.password,
            "email": user.email,
            "seeded": user.seeded,
            "mailboxes": {b.name: (b.uidnext, b.subscribed, b.special_use) for b in boxes},
        }
    out["messages"] = [
        (m.user, m.mailbox, m.uid, m.flags, m.internal_date, m.tz_minutes, m.size)
        for m in mail.call(store.list_messages)
    ]
    out["raw"] = [mail.call(store.get_message, m[0], m[1], m[2]).raw for m in out["messages"]]
    return out


def mailboxes(mail: MailServer, user: str) -> dict[str, MailboxRow]:
    row = mail.call(mail.server.store.get_user, user)
    return {b.name: b for b in mail.call(mail.server.store.list_mailboxes, row.id)}


def change_everything(mail: MailServer) -> None:
    postoffice = mail.server.postoffice
    mail.call(postoffice.add_user, "carol", "pw", "carol@example.net")
    mail.call(postoffice.deliver, ["stranger@example.com", "user@x"], message("runtime"))
    inject(mail, "alice", "INBOX", message("injected"), flags=["\\Flagged"])
    inject(mail, "alice", "New/Folder", message("elsewhere"))
    mail.call(postoffice.delete_user, "dave")
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("alice", "wonder")
    client.select("INBOX")
    client.store("1", "+FLAGS", "(\\Deleted)")
    client.expunge()
    client.unsubscribe("INBOX")
    client.subscribe("Somewhere")
    client.logout()


def test_reset_returns_exactly_to_the_start_state(mail):
    start = state(mail)
    change_everything(mail)
    assert state(mail) != start
    reset(mail)
    assert state(mail) == start


def test_the_start_state_holds_the_seeded_and_fixture_users_and_the_fixtures(mail):
    start = state(mail)
    assert [name for name in start if name not in ("messages", "raw")] == [
        "user",
        "alice",
        "dave",
    ]
    assert start["dave"]["password"] is None  # a user only a fixture names
    assert start["alice"]["password"] == "wonder"
    assert start["alice"]["mailboxes"]["Archive/2024"] == (2, True, None)
    # Date of a fixture without sidecar nor Date: header: when it was loaded, kept by reset.
    loaded = start["messages"][1][4]
    assert start["messages"] == [
        ("alice", "Archive/2024", 1, ("\\Seen", "$Important"), 1704063600.0, 60, 26),
        ("alice", "INBOX", 1, (), loaded, 0, 30),
        ("alice", "INBOX", 2, (), loaded, 0, 26),
        ("dave", "INBOX", 1, (), loaded, 0, 24),
    ]
    assert start["raw"] == [  # stored with CRLF line ends
        b"Subject: old\r\n\r\narchived\r\n",
        b"Subject: welcome\r\n\r\nhi alice\r\n",
        b"Subject: second\r\n\r\nagain\r\n",
        b"Subject: for dave\r\n\r\nd\r\n",
    ]


def test_reset_brings_back_a_deleted_seeded_user_who_can_log_in(mail):
    mail.call(mail.server.postoffice.delete_user, "alice")
    reset(mail)
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("alice", "wonder")
    assert client.select("INBOX") == ("OK", [b"2"])
    client.logout()


def test_reset_removes_runtime_users_and_forgets_their_routes(mail):
    postoffice = mail.server.postoffice
    mail.call(postoffice.add_user, "carol", "pw", "carol@example.net")
    mail.call(postoffice.deliver, ["carol@example.net"], message("routed"))  # route remembered
    reset(mail)
    assert [u.name for u in mail.call(mail.server.store.list_users)] == ["user", "alice", "dave"]
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    with pytest.raises(imaplib.IMAP4.error):
        client.login("carol", "pw")
    client.logout()
    # The address no longer names carol's row: the local part makes a new user.
    deliveries = mail.call(postoffice.deliver, ["carol@example.net"], message("after"))
    assert [(d.user, d.uid) for d in deliveries] == [("carol", 1)]
    assert mail.call(mail.server.store.get_user, "carol").password is None


def test_reset_gives_every_mailbox_a_new_larger_uidvalidity_and_uids_from_one(mail):
    before = mailboxes(mail, "user")
    inject(mail, "user", "INBOX", message("a"))
    reset(mail)
    after = mailboxes(mail, "user")
    assert sorted(after) == sorted(before)
    for name, row in after.items():
        assert row.uidvalidity > before[name].uidvalidity, name
        assert row.id not in {b.id for b in before.values()}, name
    assert len({row.uidvalidity for row in after.values()}) == len(after)
    assert inject(mail, "user", "INBOX", message("b")) == 1


def test_uidvalidity_keeps_growing_over_many_resets_and_new_mailboxes(mail):
    seen = []
    for _ in range(3):
        reset(mail)
        seen.append(mailboxes(mail, "alice")["INBOX"].uidvalidity)
        user = mail.call(mail.server.store.get_user, "alice")
        seen.append(mail.call(mail.server.store.create_mailbox, user.id, "Fresh").uidvalidity)
    assert seen == sorted(seen) and len(set(seen)) == len(seen)


def test_seeded_users_keep_their_ids_across_a_reset(mail):
    before = {u.name: u.id for u in mail.call(mail.server.store.list_users)}
    mail.call(mail.server.postoffice.add_user, "carol", "pw")
    reset(mail)
    assert {u.name: u.id for u in mail.call(mail.server.store.list_users)} == before


def test_a_delivery_racing_a_reset_is_stored_after_it(mail):
    postoffice = mail.server.postoffice

    async def both():
        return await defer.gatherResults(
            [postoffice.reset(), postoffice.deliver(["user@x"], message("racing"))]
        )

    mail.call(both)
    assert [(m.user, m.uid) for m in mail.call(mail.server.store.list_messages, "user")] == [
        ("user", 1)
    ]


@pytest.mark.sqlite_only  # SQLite's foreign keys are a pragma; PostgreSQL's are never off
def test_the_database_is_consistent_and_foreign_keys_are_enforced_after_reset(mail):
    change_everything(mail)
    reset(mail)
    assert scalar(mail, "SELECT count(*) FROM pragma_foreign_key_check") == 0
    assert scalar(mail, "PRAGMA foreign_keys") == 1
    mail.call(mail.server.postoffice.purge)
    assert scalar(mail, "PRAGMA foreign_keys") == 1
    assert scalar(mail, "SELECT count(*) FROM bodies") == 0


# --- IMAP sessions ---------------------------------------------------------------------------


def test_which_sessions_a_reset_or_a_deleted_user_ends():
    session = Session(Events())
    assert session.ended_by(ServerReset()) is None  # not logged in: it may log in afterwards
    session.login(UserRow(1, "Bob", "pw", None, False))
    assert session.ended_by(ServerReset()) == "Server reset to its start state"
    assert session.ended_by(UserDeleted("Bob")) == "User deleted"
    assert session.ended_by(UserDeleted("alice")) is None
    assert session.ended_by(MessageAdded("Bob", "INBOX", 1, 1, ())) is None
    session.logout()
    assert session.ended_by(ServerReset()) is None


def test_a_selected_session_ignores_events_about_no_mailbox():
    failures = []

    def observe(event):
        if "log_failure" in event:
            failures.append(event["log_failure"])

    events = Events()
    session = Session(events)
    session.login(UserRow(1, "bob", "pw", None, False))
    early = session.watch(7)
    globalLogPublisher.addObserver(observe)
    try:
        events.publish(ServerReset())  # before the view is loaded
        session.select(MailboxView(7, "INBOX", 1, 1, [], readonly=False), early)
        events.publish(UserDeleted("bob"))
        events.publish(MessageAdded("bob", "INBOX", 7, 1, ()))
    finally:
        globalLogPublisher.removeObserver(observe)
    assert failures == []  # Events.publish logs a subscriber's exception instead of raising
    assert session.updates(allow_expunge=True) == b"* 1 EXISTS\r\n* 0 RECENT\r\n"


# --- IMAP sessions over sockets -------------------------------------------------------------


def test_reset_ends_a_selected_session_with_bye_unavailable_and_closes_it(mail):
    wire = Wire(mail)
    wire.login_and_select(b"alice", b"wonder")
    reset(mail)
    assert wire.line() == BYE
    assert wire.at_eof()
    wire.close()


def test_reset_ends_an_authenticated_session_and_an_idle_one(mail):
    authenticated = Wire(mail)
    assert authenticated.responses(b"a LOGIN user pass")[-1].startswith(b"a OK")
    idling = Wire(mail)
    idling.login_and_select(b"alice", b"wonder")
    idling.send(b"c IDLE\r\n")
    assert idling.line() == b"+ idling\r\n"
    reset(mail)
    for wire in (authenticated, idling):
        assert wire.line() == BYE
        assert wire.at_eof()
        wire.close()


def test_reset_leaves_a_session_that_has_not_logged_in_usable(mail):
    wire = Wire(mail)
    reset(mail)
    assert wire.responses(b"a LOGIN alice wonder")[-1].startswith(b"a OK")
    assert b"* 2 EXISTS\r\n" in wire.responses(b"b SELECT INBOX")
    wire.close()


def test_imaplib_reconnects_after_a_reset_and_sees_the_new_uidvalidity(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("alice", "wonder")
    client.select("INBOX")
    first = client.response("UIDVALIDITY")[1][-1]
    reset(mail)
    with pytest.raises(imaplib.IMAP4.abort, match="UNAVAILABLE"):
        client.noop()
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("alice", "wonder")
    assert client.select("INBOX") == ("OK", [b"2"])
    assert int(client.response("UIDVALIDITY")[1][-1]) > int(first)
    client.logout()


# --- without fixtures, and with a database file ----------------------------------------------


def test_reset_without_fixtures_leaves_the_configured_users_with_empty_mailboxes():
    with MailServer(users="user:pass", http_port=None) as mail:
        mail.call(mail.server.postoffice.deliver, ["user@x", "other@x"], message("m"))
        reset(mail)
        assert [u.name for u in mail.call(mail.server.store.list_users)] == ["user"]
        assert mail.call(mail.server.store.list_messages) == []
        assert sorted(mailboxes(mail, "user")) == [
            "Archive",
            "Drafts",
            "INBOX",
            "Junk",
            "Sent",
            "Trash",
        ]


def test_reset_keeps_special_use_mailboxes_off_when_configured_off():
    with MailServer(users="user:pass", special_use_mailboxes=False, http_port=None) as mail:
        reset(mail)
        assert sorted(mailboxes(mail, "user")) == ["INBOX"]


def test_reset_of_a_database_file_persists_across_a_restart(tmp_path, fixtures):
    db = str(tmp_path / "mail.db")
    with MailServer(users=USERS, preload_dir=str(fixtures), db=db, http_port=None) as mail:
        start = state(mail)
        change_everything(mail)
        reset(mail)
        assert state(mail) == start
    with MailServer(users=USERS, preload_dir=str(fixtures), db=db, http_port=None) as mail:
        assert state(mail) == start  # the fixtures were not stored a second time
