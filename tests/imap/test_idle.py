"""IDLE: changes are pushed at once, and only DONE ends it (RFC 9051 §6.3.13)."""

from __future__ import annotations

import imaplib

import pytest
from imapclient import IMAPClient

from elektromail.testing import MailServer
from tests.imap.wire import ImapWire


@pytest.fixture
def mail():
    with MailServer() as server:
        server.call(server.server.postoffice.deliver, ["user@x"], b"Subject: one\r\n\r\n1\r\n")
        yield server


def connect(mail: MailServer) -> ImapWire:
    """A raw connection, line by line: IDLE's pushes must arrive without the client asking."""
    wire = ImapWire(mail.imap_port, mail.host)
    assert wire.greeting.startswith(b"* OK")
    return wire


def idle_in_inbox(mail: MailServer) -> ImapWire:
    wire = connect(mail)
    wire.send(b"a LOGIN user pass\r\nb SELECT INBOX\r\n")
    wire.until(b"b")
    wire.send(b"c IDLE\r\n")
    assert wire.line() == b"+ idling\r\n"
    return wire


def test_new_mail_is_pushed_during_idle(mail):
    wire = idle_in_inbox(mail)
    mail.call(mail.server.postoffice.deliver, ["user@x"], b"Subject: two\r\n\r\n2\r\n")
    assert wire.line() == b"* 2 EXISTS\r\n"
    # both are \Recent here: the first read-write session to see them (RFC 3501 §2.3.2)
    assert wire.line() == b"* 2 RECENT\r\n"
    wire.send(b"DONE\r\n")
    assert wire.line().startswith(b"c OK")
    wire.close()


def test_flag_changes_and_expunges_of_other_sessions_are_pushed(mail):
    wire = idle_in_inbox(mail)
    other = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    other.login("user", "pass")
    other.select("INBOX")
    other.store("1", "+FLAGS", "(\\Deleted)")
    # the idling session selected INBOX first, so message 1 is \Recent there, not in `other`
    assert wire.line() == b"* 1 FETCH (FLAGS (\\Deleted \\Recent))\r\n"
    other.expunge()
    assert wire.line() == b"* 1 EXPUNGE\r\n"
    wire.send(b"done\r\n")
    assert wire.line().startswith(b"c OK")
    other.logout()
    wire.close()


def test_anything_but_done_ends_idle_with_bad(mail):
    wire = idle_in_inbox(mail)
    wire.send(b"d NOOP\r\n")
    assert wire.line().startswith(b"c BAD")
    wire.send(b"e NOOP\r\n")
    assert wire.lines_until(b"e ")[-1].startswith(b"e OK")
    wire.close()


def test_idle_and_done_in_one_packet(mail):
    wire = connect(mail)
    wire.send(b"a LOGIN user pass\r\nb IDLE\r\nDONE\r\nc NOOP\r\n")
    lines = wire.lines_until(b"c ")
    assert b"+ idling\r\n" in lines
    assert any(line.startswith(b"b OK") for line in lines)
    assert lines[-1].startswith(b"c OK")
    wire.close()


def test_idle_before_login_is_bad(mail):
    wire = connect(mail)
    wire.send(b"a IDLE\r\n")
    assert wire.line().startswith(b"a BAD")
    wire.close()


def test_idle_with_arguments_is_bad(mail):
    wire = connect(mail)
    wire.send(b"a LOGIN user pass\r\n")
    wire.until(b"a")
    wire.send(b"b IDLE now\r\n")
    assert wire.line().startswith(b"b BAD")
    wire.close()


def test_imapclient_idle_check_sees_new_mail(mail):
    with IMAPClient(mail.host, port=mail.imap_port, ssl=False, timeout=10) as client:
        client.login("user", "pass")
        client.select_folder("INBOX")
        client.idle()
        mail.call(mail.server.postoffice.deliver, ["user@x"], b"Subject: two\r\n\r\n2\r\n")
        responses = client.idle_check(timeout=10)
        assert (2, b"EXISTS") in responses
        client.idle_done()


def test_inactivity_timers_are_settings():
    """RFC 9051 §5.4: the autologout timer is at least 30 minutes after login by default;
    the settings shorten it (here to one second before login, for the test)."""
    assert MailServer().settings.imap_timeout >= 30 * 60
    with MailServer(imap_login_timeout=1) as mail:
        wire = connect(mail)
        assert wire.line().startswith(b"* BYE")
        assert wire.line() == b""  # closed
        wire.close()
