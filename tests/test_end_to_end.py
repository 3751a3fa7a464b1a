"""SMTP in, IMAP out, over real loopback sockets with real client libraries."""

from __future__ import annotations

import imaplib
import smtplib

import pytest
from imapclient import IMAPClient

from elektromail.testing import MailServer
from tests.imap.wire import ImapWire

MESSAGE = (
    b"From: App <app@example.com>\r\n"
    b"To: User <user@example.com>\r\n"
    b"Subject: Welcome =?utf-8?q?M=C3=BCller?=\r\n"
    b"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <1@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Hello \xc3\xbcmlaut,\r\n"
    b".a line that starts with a dot\r\n"
    b"\r\n"
    b"bye\r\n"
)


def send(mail: MailServer, to: list[str], body: bytes = MESSAGE) -> None:
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as client:
        client.sendmail("app@example.com", to, body)


def imap(mail: MailServer, user: str = "user", password: str = "pass") -> imaplib.IMAP4:
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login(user, password)
    return client


def test_smtplib_mail_arrives_byte_identical_over_imaplib(mail):
    send(mail, ["user@example.com"])
    client = imap(mail)
    typ, data = client.select("INBOX")
    assert (typ, data) == ("OK", [b"1"])
    typ, data = client.fetch("1", "(BODY.PEEK[])")
    assert typ == "OK"
    assert data[0][1] == MESSAGE
    client.logout()


def test_smtplib_mail_arrives_byte_identical_over_imapclient(mail):
    send(mail, ["user@example.com"])
    with IMAPClient(mail.host, port=mail.imap_port, ssl=False, timeout=10) as client:
        client.login("user", "pass")
        info = client.select_folder("INBOX")
        assert info[b"EXISTS"] == 1
        uid = 1  # the first UID of a fresh mailbox (RFC 9051 §2.3.1.1: UIDs ascend from 1)
        data = client.fetch([uid], ["BODY.PEEK[]", "RFC822.SIZE", "ENVELOPE", "FLAGS"])[uid]
        assert data[b"BODY[]"] == MESSAGE
        assert data[b"RFC822.SIZE"] == len(MESSAGE)
        envelope = data[b"ENVELOPE"]
        assert envelope.subject == b"Welcome =?utf-8?q?M=C3=BCller?="
        assert envelope.from_[0].mailbox == b"app" and envelope.from_[0].host == b"example.com"
        assert envelope.message_id == b"<1@example.com>"
        assert data[b"FLAGS"] == (b"\\Recent",)  # the first session to see it (RFC 3501)


def test_two_users_get_their_own_copy(mail):
    send(mail, ["alice@example.org", "bob@elsewhere.test"])
    for user, password in (("alice", "wonder"), ("bob", "builder")):
        client = imap(mail, user, password)
        assert client.select("INBOX") == ("OK", [b"1"])
        assert client.fetch("1", "(BODY.PEEK[])")[1][0][1] == MESSAGE
        client.logout()
    client = imap(mail)
    assert client.select("INBOX") == ("OK", [b"0"])
    client.logout()


def test_plus_address_and_configured_email_route_to_the_user(mail):
    send(mail, ["bob+newsletter@example.com", "ALICE@example.org"])
    for user, password in (("alice", "wonder"), ("bob", "builder")):
        client = imap(mail, user, password)
        assert client.select("INBOX") == ("OK", [b"1"])
        client.logout()


def test_unknown_local_part_creates_a_user_that_cannot_log_in(mail):
    send(mail, ["stranger@example.com"])
    user = mail.call(mail.server.store.get_user, "stranger")
    assert user is not None and user.password is None
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login("stranger", "")
    client.logout()


def test_auth_disabled_logs_in_anyone_and_shows_their_mail():
    with MailServer(auth_disabled=True) as mail:
        send(mail, ["stranger@example.com"])
        client = imap(mail, "stranger", "whatever")
        assert client.select("INBOX") == ("OK", [b"1"])
        client.logout()


def test_fetch_flags_internaldate_size_and_structure(mail):
    send(mail, ["user@example.com"])
    client = imap(mail)
    client.select("INBOX")
    typ, data = client.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE)")
    assert typ == "OK"
    line = data[0]
    assert line.startswith(b'1 (UID 1 FLAGS (\\Recent) INTERNALDATE "')
    assert b"RFC822.SIZE %d" % len(MESSAGE) in line
    assert b'BODYSTRUCTURE ("text" "plain" ("charset" "utf-8") NIL NIL "8BIT"' in line
    client.logout()


def test_partial_and_header_fields_fetch_return_exact_windows(mail):
    send(mail, ["user@example.com"])
    client = imap(mail)
    client.select("INBOX")
    _, data = client.fetch("1", "(BODY.PEEK[]<0.10>)")
    assert data[0][1] == MESSAGE[:10]
    _, data = client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (Subject To)])")
    assert data[0][1] == (
        b"To: User <user@example.com>\r\nSubject: Welcome =?utf-8?q?M=C3=BCller?=\r\n\r\n"
    )
    _, data = client.fetch("1", "(BODY.PEEK[TEXT])")
    assert data[0][1] == MESSAGE.split(b"\r\n\r\n", 1)[1]
    client.logout()


def test_body_fetch_sets_seen_and_peek_does_not(mail):
    send(mail, ["user@example.com"])
    send(mail, ["user@example.com"])
    client = imap(mail)
    client.select("INBOX")
    _, data = client.fetch("1", "(BODY.PEEK[])")
    assert b"FLAGS" not in data[0][0]
    _, data = client.fetch("2", "(BODY[])")
    assert b"\\Seen" in data[0][0] + data[1]
    _, data = client.fetch("1:2", "(FLAGS)")
    assert data == [b"1 (FLAGS (\\Recent))", b"2 (FLAGS (\\Seen \\Recent))"]
    client.logout()


def test_examine_is_read_only_and_never_sets_seen(mail):
    send(mail, ["user@example.com"])
    client = imap(mail)
    typ, _ = client.select("INBOX", readonly=True)
    assert typ == "OK"
    client.fetch("1", "(BODY[])")
    _, data = client.fetch("1", "(FLAGS)")
    assert data == [b"1 (FLAGS (\\Recent))"]  # EXAMINE shows \Recent without taking it
    client.logout()


def test_store_flags_and_uid_store(mail):
    send(mail, ["user@example.com"])
    client = imap(mail)
    client.select("INBOX")
    _, data = client.store("1", "+FLAGS", "(\\Flagged $Label1)")
    assert data == [b"1 (FLAGS (\\Flagged \\Recent $Label1))"]
    _, data = client.uid("STORE", "1", "-FLAGS", "(\\Flagged)")
    assert data == [b"1 (FLAGS (\\Recent $Label1) UID 1)"]
    _, data = client.store("1", "FLAGS.SILENT", "(\\Seen)")
    assert data == [None]
    _, data = client.fetch("1", "(FLAGS)")
    assert data == [b"1 (FLAGS (\\Seen \\Recent))"]  # STORE FLAGS keeps \Recent (RFC 3501)
    client.logout()


def test_other_session_sees_new_mail_and_flag_changes_on_noop(mail):
    send(mail, ["user@example.com"])
    watcher, actor = imap(mail), imap(mail)
    watcher.select("INBOX")
    actor.select("INBOX")
    send(mail, ["user@example.com"])
    actor.store("1", "+FLAGS", "(\\Answered)")
    typ, _ = watcher.noop()
    assert typ == "OK"
    assert watcher.untagged_responses["EXISTS"][-1] == b"2"  # SELECT's EXISTS 1 came first
    # the watcher selected first: message 1 is \Recent there (RFC 3501 §2.3.2)
    assert b"1 (FLAGS (\\Answered \\Recent))" in watcher.untagged_responses.get("FETCH", [])
    watcher.logout()
    actor.logout()


def test_list_shows_inbox_and_special_use_mailboxes(mail):
    client = imap(mail)
    typ, data = client.list()
    assert typ == "OK"
    names = [line.rsplit(b" ", 1)[1] for line in data]
    assert names[0] == b"INBOX"
    assert set(names) == {b"INBOX", b"Sent", b"Drafts", b"Trash", b"Junk", b"Archive"}
    assert any(b"\\Sent" in line for line in data)
    client.logout()


def test_login_with_wrong_password_fails_with_authenticationfailed(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login("user", "wrong")
    client.logout()


def test_authenticate_plain(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    typ, _ = client.authenticate("PLAIN", lambda _: b"\0user\0pass")
    assert typ == "OK"
    assert client.select("INBOX")[0] == "OK"
    client.logout()


def raw_session(mail: MailServer) -> ImapWire:
    wire = ImapWire(mail.imap_port, mail.host)
    assert wire.greeting.startswith(b"* OK")
    return wire


def test_pipelined_commands_in_one_packet_are_answered_in_order(mail):
    send(mail, ["user@example.com"])
    s = raw_session(mail)
    s.login()
    s.send(b"a SELECT INBOX\r\nb UID FETCH 1:* FLAGS\r\nc LOGOUT\r\n")
    data = s.until(b"c")
    a, b, c = data.index(b"\r\na OK"), data.index(b"\r\nb OK"), data.index(b"\r\nc OK")
    assert a < data.index(b"* 1 FETCH (UID 1 FLAGS (\\Recent))") < b < data.index(b"* BYE") < c
    s.close()


def test_malformed_command_leaves_this_and_other_connections_working(mail):
    first, second = raw_session(mail), raw_session(mail)
    first.send(b'x LOGIN "unterminated\r\n')
    assert b"x BAD" in first.line()
    assert b"y OK" in first.command(b"y NOOP")
    assert b"z OK" in second.command(b"z LOGIN user pass")
    first.close()
    second.close()


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (b"a FETCH 1 FLAGS", b"a BAD"),  # before authentication
        (b"a FROBNICATE", b"a BAD"),  # unknown command
        (b"a SELECT", b"a BAD"),  # missing argument
        (b"a UID FROB 1", b"a BAD"),  # unknown UID command
        (b"(((", b"BAD"),  # garbage
    ],
)
def test_bad_commands_get_bad(mail, command, expected):
    s = raw_session(mail)
    s.send(command + b"\r\n")
    assert expected in s.line()
    assert b"n OK" in s.command(b"n NOOP")
    s.close()


def test_mail_survives_a_restart_with_a_database_file(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(db=db) as mail:
        send(mail, ["user@example.com"])
    with MailServer(db=db) as mail:
        client = imap(mail)
        assert client.select("INBOX") == ("OK", [b"1"])
        assert client.fetch("1", "(BODY.PEEK[])")[1][0][1] == MESSAGE
        client.logout()
