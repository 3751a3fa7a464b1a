"""The post office's control-plane verbs and the store queries behind the HTTP API: inject,
purge, add_user, delete_user, list_messages, get_message, users_with_mail; with real IMAP
sessions where the behaviour is what sessions see (EXISTS, EXPUNGE, BYE)."""

from __future__ import annotations

import imaplib
import json

import pytest

from elektromail import mime
from elektromail.store import InvalidInput, NoSuchUser, UserExists
from elektromail.testing import MailServer
from tests.imap.wire import ImapWire

USERS = "user:pass,alice:alice@example.org:wonder,bob:builder"


@pytest.fixture
def mail():
    with MailServer(users=USERS, http_port=None) as server:
        yield server


def message(subject: str, body: str = "hello") -> bytes:
    return (
        f"From: App <app@example.com>\r\nTo: user@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@example.com>\r\n\r\n{body}\r\n"
    ).encode()


class Wire(ImapWire):
    """The shared raw client on `mail`'s IMAP port: pushes and BYE must arrive unasked,
    byte-exact."""

    def __init__(self, mail: MailServer) -> None:
        super().__init__(mail.imap_port, mail.host)
        assert self.greeting.startswith(b"* OK")

    def login_and_select(self, user: bytes = b"user", password: bytes = b"pass") -> list[bytes]:
        assert self.responses(b"a LOGIN " + user + b" " + password)[-1].startswith(b"a OK")
        lines = self.responses(b"b SELECT INBOX")
        assert lines[-1].startswith(b"b OK")
        return lines


def scalar(mail: MailServer, sql: str):
    """One value straight from the database, for what no API shows (bodies, orphans)."""
    return mail.call(mail.server.store._run, lambda c: c.execute(sql).fetchone()[0])


def inject(mail: MailServer, user: str, mailbox: str, raw: bytes, **kw) -> int:
    return mail.call(mail.server.postoffice.inject, user, mailbox, raw, **kw)


# --- inject ----------------------------------------------------------------------------------


def test_inject_returns_ascending_uids_and_stores_the_bytes_as_given(mail):
    first = inject(mail, "user", "INBOX", message("one"))
    second = inject(mail, "user", "INBOX", message("two"))
    assert (first, second) == (1, 2)
    stored = mail.call(mail.server.store.get_message, "user", "INBOX", 2)
    assert stored.raw == message("two")
    assert stored.size == len(message("two"))


def test_inject_keeps_flags_and_internal_date(mail):
    uid = inject(
        mail,
        "alice",
        "INBOX",
        message("dated"),
        flags=["\\seen", "$Label", "\\Seen"],
        internal_date=1704067200.0,
        tz_minutes=120,
    )
    stored = mail.call(mail.server.store.get_message, "alice", "INBOX", uid)
    assert stored.flags == ("\\Seen", "$Label")
    assert (stored.internal_date, stored.tz_minutes) == (1704067200.0, 120)
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("alice", "wonder")
    client.select("INBOX")
    typ, data = client.fetch("1", "(FLAGS INTERNALDATE)")
    assert typ == "OK"
    assert (
        data[0] == b'1 (FLAGS (\\Seen \\Recent $Label) INTERNALDATE "01-Jan-2024 02:00:00 +0200")'
    )
    client.logout()


def test_inject_creates_a_missing_mailbox_with_its_parents_subscribed(mail):
    uid = inject(mail, "bob", "Projects/2024/Q1", message("deep"))
    assert uid == 1
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("bob", "builder")
    typ, listed = client.lsub('""', "Projects*")
    assert typ == "OK"
    names = sorted(line.decode().rsplit(" ", 1)[1].strip('"') for line in listed)
    assert names == ["Projects", "Projects/2024", "Projects/2024/Q1"]
    assert client.select("Projects/2024/Q1") == ("OK", [b"1"])
    client.logout()


def test_inject_into_inbox_in_any_case_reaches_inbox(mail):
    inject(mail, "user", "inbox", message("lower"))
    assert [m.mailbox for m in mail.call(mail.server.store.list_messages, "user")] == ["INBOX"]


def test_inject_for_an_unknown_user_raises_no_such_user(mail):
    with pytest.raises(NoSuchUser):
        inject(mail, "nobody", "INBOX", message("x"))
    assert [u.name for u in mail.call(mail.server.store.list_users)] == ["user", "alice", "bob"]


@pytest.mark.parametrize(
    ("mailbox", "flags"),
    [
        ("", ()),
        ("/Lead", ()),
        ("a//b", ()),
        ("Trail/", ()),
        ("~home", ()),
        ("INBOX", ("\\Recent",)),
        ("INBOX", ("two words",)),
        ("INBOX", ("\\Bogus",)),
        ("INBOX", ("(paren",)),
    ],
    ids=[
        "empty",
        "leading-slash",
        "double-slash",
        "trailing-slash",
        "tilde",
        "recent",
        "space",
        "unknown-system-flag",
        "paren",
    ],
)
def test_inject_refuses_names_and_flags_that_cannot_be(mail, mailbox, flags):
    with pytest.raises(InvalidInput):
        inject(mail, "user", mailbox, message("x"), flags=flags)
    assert mail.call(mail.server.store.list_messages) == []


def test_injected_mail_is_pushed_to_an_idle_session_at_once(mail):
    inject(mail, "user", "INBOX", message("before"))
    wire = Wire(mail)
    wire.login_and_select()
    wire.send(b"c IDLE\r\n")
    assert wire.line() == b"+ idling\r\n"
    inject(mail, "user", "INBOX", message("during"))
    assert wire.line() == b"* 2 EXISTS\r\n"
    assert wire.line() == b"* 2 RECENT\r\n"  # this session selected first: both are its
    wire.send(b"DONE\r\n")
    assert wire.line().startswith(b"c OK")
    wire.close()


def test_injected_mail_shows_as_exists_in_a_selected_session(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    assert client.select("INBOX") == ("OK", [b"0"])
    inject(mail, "user", "INBOX", message("new"))
    client.noop()
    assert client.response("EXISTS")[1][-1] == b"1"
    client.logout()


# --- purge -----------------------------------------------------------------------------------


def test_purge_deletes_every_message_and_keeps_users_mailboxes_and_uidvalidity(mail):
    for user in ("user", "alice"):
        for mailbox in ("INBOX", "Archive", "New"):
            inject(mail, user, mailbox, message(f"{user}-{mailbox}"))
    store = mail.server.store
    user = mail.call(store.get_user, "user")
    before = mail.call(store.get_mailbox, user.id, "INBOX")
    assert mail.call(mail.server.postoffice.purge) == 6
    assert mail.call(store.list_messages) == []
    after = mail.call(store.get_mailbox, user.id, "INBOX")
    assert (after.uidvalidity, after.uidnext) == (before.uidvalidity, before.uidnext)
    assert mail.call(store.get_mailbox, user.id, "New") is not None
    assert inject(mail, "user", "INBOX", message("next")) == 2  # UIDNEXT keeps counting
    assert [u.name for u in mail.call(store.list_users)] == ["user", "alice", "bob"]


def test_purge_of_an_empty_store_returns_zero(mail):
    assert mail.call(mail.server.postoffice.purge) == 0


def test_purge_removes_the_bodies_too(mail):
    mail.call(mail.server.postoffice.deliver, ["user@x", "alice@example.org"], message("shared"))
    mail.call(mail.server.postoffice.purge)
    assert scalar(mail, "SELECT count(*) FROM bodies") == 0


def test_purge_sends_expunges_to_a_selected_session(mail):
    for i in range(3):
        inject(mail, "user", "INBOX", message(f"m{i}"))
    wire = Wire(mail)
    assert b"* 3 EXISTS\r\n" in wire.login_and_select()
    mail.call(mail.server.postoffice.purge)
    assert wire.responses(b"c NOOP") == [
        b"* 3 EXPUNGE\r\n",
        b"* 2 EXPUNGE\r\n",
        b"* 1 EXPUNGE\r\n",
        b"c OK NOOP completed\r\n",
    ]
    assert wire.responses(b"d UID SEARCH ALL")[0] == b"* SEARCH\r\n"
    wire.close()


def test_purge_is_pushed_to_an_idle_session(mail):
    inject(mail, "user", "INBOX", message("one"))
    wire = Wire(mail)
    wire.login_and_select()
    wire.send(b"c IDLE\r\n")
    assert wire.line() == b"+ idling\r\n"
    mail.call(mail.server.postoffice.purge)
    assert wire.line() == b"* 1 EXPUNGE\r\n"
    wire.send(b"DONE\r\n")
    assert wire.line().startswith(b"c OK")
    wire.close()


# --- users -----------------------------------------------------------------------------------


def test_add_user_can_log_in_at_once_and_has_inbox_and_special_use_mailboxes(mail):
    row = mail.call(mail.server.postoffice.add_user, "carol", "secret", "carol@example.net")
    assert (row.name, row.email, row.seeded) == ("carol", "carol@example.net", False)
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("carol", "secret")
    typ, listed = client.list()
    assert typ == "OK"
    names = sorted(line.decode().rsplit(" ", 1)[1].strip('"') for line in listed)
    assert names == ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]
    client.logout()


def test_add_user_is_reached_by_its_email_address_at_once(mail):
    # a route remembered before the user existed must not win: add_user forgets routes
    mail.call(mail.server.postoffice.deliver, ["someone@example.net"], message("before"))
    mail.call(mail.server.postoffice.add_user, "carol", "secret", "someone@example.net")
    deliveries = mail.call(mail.server.postoffice.deliver, ["someone@example.net"], message("x"))
    assert [(d.user, d.uid) for d in deliveries] == [("carol", 1)]


@pytest.mark.parametrize("name", ["user", "USER", "Alice"])
def test_add_user_that_exists_in_any_case_raises_user_exists(mail, name):
    with pytest.raises(UserExists, match="exists"):
        mail.call(mail.server.postoffice.add_user, name, "pw")


def test_add_user_with_a_taken_email_raises_user_exists_naming_the_owner(mail):
    with pytest.raises(UserExists, match="alice"):
        mail.call(mail.server.postoffice.add_user, "carol", "pw", "ALICE@example.org")


@pytest.mark.parametrize(
    ("name", "password", "email"),
    [
        ("", "pw", None),
        ("with space", "pw", None),
        ("a@b", "pw", None),
        ("a/b", "pw", None),
        ("quo'te", "pw", None),
        ("co:lon", "pw", None),
        ("tab\tname", "pw", None),
        ("carol", "", None),
        ("carol", "pw", "no-at-sign"),
        ("carol", "pw", "@example.org"),
    ],
    ids=[
        "empty",
        "space",
        "at",
        "slash",
        "quote",
        "colon",
        "control",
        "empty-password",
        "email-without-at",
        "email-without-local",
    ],
)
def test_add_user_refuses_what_the_configuration_would_refuse(mail, name, password, email):
    with pytest.raises(InvalidInput):
        mail.call(mail.server.postoffice.add_user, name, password, email)
    assert len(mail.call(mail.server.store.list_users)) == 3


def test_delete_user_removes_the_user_its_mail_and_orphan_bodies(mail):
    mail.call(mail.server.postoffice.deliver, ["bob@x", "alice@example.org"], message("shared"))
    inject(mail, "bob", "Own/Folder", message("own"))
    mail.call(mail.server.postoffice.delete_user, "BOB")
    store = mail.server.store
    assert [u.name for u in mail.call(store.list_users)] == ["user", "alice"]
    assert [(m.user, m.uid) for m in mail.call(store.list_messages)] == [("alice", 1)]
    assert mail.call(store.get_message, "alice", "INBOX", 1).raw == message("shared")
    # the shared body stays for alice; bob's own one is gone
    assert scalar(mail, "SELECT count(*) FROM bodies") == 1
    assert (
        scalar(mail, "SELECT count(*) FROM mailboxes WHERE user_id NOT IN (SELECT id FROM users)")
        == 0
    )


def test_delete_user_of_an_unknown_user_raises_no_such_user(mail):
    with pytest.raises(NoSuchUser):
        mail.call(mail.server.postoffice.delete_user, "nobody")


def test_a_deleted_user_cannot_log_in_and_mail_to_it_makes_a_new_empty_user(mail):
    mail.call(mail.server.postoffice.deliver, ["bob@x"], message("old"))
    mail.call(mail.server.postoffice.delete_user, "bob")
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    with pytest.raises(imaplib.IMAP4.error):
        client.login("bob", "builder")
    client.logout()
    deliveries = mail.call(mail.server.postoffice.deliver, ["bob@x"], message("new"))
    assert [(d.user, d.uid) for d in deliveries] == [("bob", 1)]


def test_delete_user_ends_that_users_sessions_with_bye_unavailable_only(mail):
    bob = Wire(mail)
    bob.login_and_select(b"bob", b"builder")
    alice = Wire(mail)
    alice.login_and_select(b"alice", b"wonder")
    mail.call(mail.server.postoffice.delete_user, "bob")
    assert bob.line() == b"* BYE [UNAVAILABLE] User deleted\r\n"
    assert bob.at_eof()
    assert alice.responses(b"c NOOP") == [b"c OK NOOP completed\r\n"]
    bob.close()
    alice.close()


def test_delete_user_ends_an_idle_session_of_that_user(mail):
    wire = Wire(mail)
    wire.login_and_select(b"bob", b"builder")
    wire.send(b"c IDLE\r\n")
    assert wire.line() == b"+ idling\r\n"
    mail.call(mail.server.postoffice.delete_user, "bob")
    assert wire.line() == b"* BYE [UNAVAILABLE] User deleted\r\n"
    assert wire.at_eof()
    wire.close()


def test_imaplib_sees_the_bye_as_an_abort(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("bob", "builder")
    mail.call(mail.server.postoffice.delete_user, "bob")
    with pytest.raises(imaplib.IMAP4.abort, match="UNAVAILABLE"):
        client.noop()


# --- store queries ---------------------------------------------------------------------------


def test_list_messages_is_oldest_first_with_envelope_in_the_structure(mail):
    inject(mail, "user", "INBOX", message("first"))
    mail.call(mail.server.postoffice.deliver, ["alice@example.org"], message("second"))
    inject(mail, "user", "Archive", message("third"), flags=["\\Flagged"])
    listed = mail.call(mail.server.store.list_messages)
    assert [(m.user, m.mailbox, m.uid) for m in listed] == [
        ("user", "INBOX", 1),
        ("alice", "INBOX", 1),
        ("user", "Archive", 1),
    ]
    subjects = [mime.envelope_from_json(m.structure).subject for m in listed]
    assert subjects == ["first", "second", "third"]
    assert listed[2].flags == ("\\Flagged",)
    assert all(m.raw is None for m in listed)
    assert json.loads(listed[0].structure)  # the JSON the API reads


def test_list_messages_filters_by_user_any_case_and_by_mailbox(mail):
    inject(mail, "user", "INBOX", message("a"))
    inject(mail, "user", "Archive", message("b"))
    inject(mail, "alice", "INBOX", message("c"))
    store = mail.server.store

    def subjects(user, mailbox):
        found = mail.call(store.list_messages, user, mailbox)
        return [mime.envelope_from_json(m.structure).subject for m in found]

    assert subjects("USER", None) == ["a", "b"]
    assert subjects(None, "inbox") == ["a", "c"]
    assert subjects("user", "Archive") == ["b"]
    assert subjects("user", "archive") == []  # names other than INBOX are case-sensitive
    assert subjects("nobody", None) == []


def test_list_messages_puts_a_moved_message_last(mail):
    inject(mail, "user", "INBOX", message("a"))
    inject(mail, "user", "INBOX", message("b"))
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    client.select("INBOX")
    assert client.uid("MOVE", "1", "Archive")[0] == "OK"
    client.logout()
    listed = mail.call(mail.server.store.list_messages, "user")
    assert [(m.mailbox, m.uid) for m in listed] == [("INBOX", 2), ("Archive", 1)]


def test_get_message_returns_raw_and_none_for_what_does_not_exist(mail):
    inject(mail, "alice", "Work", message("w"), flags=["\\Seen"])
    store = mail.server.store
    found = mail.call(store.get_message, "ALICE", "Work", 1)
    assert (found.user, found.mailbox, found.uid, found.flags) == ("alice", "Work", 1, ("\\Seen",))
    assert found.raw == message("w")
    assert mail.call(store.get_message, "alice", "Work", 2) is None
    assert mail.call(store.get_message, "alice", "Nope", 1) is None
    assert mail.call(store.get_message, "nobody", "Work", 1) is None


def test_users_with_mail_names_only_users_that_have_a_message(mail):
    store = mail.server.store
    assert mail.call(store.users_with_mail) == []
    inject(mail, "bob", "Deep/Down", message("b"))
    assert mail.call(store.users_with_mail) == ["bob"]
    inject(mail, "user", "INBOX", message("u"))
    assert mail.call(store.users_with_mail) == ["user", "bob"]
    mail.call(mail.server.postoffice.purge)
    assert mail.call(store.users_with_mail) == []


# --- delivery by a remembered route ------------------------------------------------------------


def test_a_remembered_route_to_a_user_removed_behind_the_post_office_is_routed_again(mail):
    """Routes are remembered; a user deleted straight in the store (not through the post
    office, which would forget them) makes the remembered route fail, and the delivery routes
    again and lands, in the user made anew for the address."""
    postoffice = mail.server.postoffice
    [first] = mail.call(postoffice.deliver, ["carol@example.com"], message("first"))
    mail.call(mail.server.store.delete_user, "carol")
    [second] = mail.call(postoffice.deliver, ["carol@example.com"], message("second"))
    assert (first.user, first.uid, second.user, second.uid) == ("carol", 1, "carol", 1)
    assert [m.uid for m in mail.call(mail.server.store.list_messages, "carol")] == [1]
