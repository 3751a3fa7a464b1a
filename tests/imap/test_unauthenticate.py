"""UNAUTHENTICATE (RFC 8437): back to the not-authenticated state on the same connection, with
every piece of session state reset except TLS."""

from __future__ import annotations

import imaplib

import pytest

from elektromail.testing import MailServer
from tests.imap.test_search_command import raw


@pytest.fixture
def mail():
    with MailServer(users="user:pass,other:word") as server:
        for who in ("user", "other"):
            message = b"Subject: for %s\r\n\r\nx\r\n" % who.encode()
            server.call(server.server.postoffice.inject, who, "INBOX", message)
        yield server


def connect(mail: MailServer) -> imaplib.IMAP4:
    return imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)


def test_unauthenticate_returns_to_the_not_authenticated_state(mail):
    """RFC 8437 §3: "Upon completion, the server connection is placed in not authenticated
    state"; "After sending this command, the client is free to issue a new AUTHENTICATE or
    LOGIN command"."""
    client = connect(mail)
    client.login("user", "pass")
    raw(client, b"SELECT INBOX")
    assert raw(client, b"UNAUTHENTICATE") == [b"OK Now not authenticated"]
    assert raw(client, b"SELECT INBOX")[-1].startswith(b"BAD")
    assert raw(client, b"LOGIN other word")[-1].startswith(b"OK")
    raw(client, b"SELECT INBOX")
    assert raw(client, b"FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")[1] == b"Subject: for other"
    client.logout()


def test_the_selected_mailbox_is_left_without_expunge(mail):
    """RFC 8437 §3: "If a mailbox was selected, the mailbox ceases to be selected, but no
    expunge event is generated.\""""
    watcher = connect(mail)
    watcher.login("user", "pass")
    watcher.select("INBOX")
    client = connect(mail)
    client.login("user", "pass")
    raw(client, b"SELECT INBOX")
    raw(client, b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert raw(client, b"UNAUTHENTICATE")[-1].startswith(b"OK")
    lines = raw(watcher, b"NOOP")
    assert not any(b"EXPUNGE" in line for line in lines), lines
    assert raw(watcher, b"SEARCH DELETED")[0] == b"* SEARCH 1"
    client.logout()
    watcher.logout()


def test_enabled_extensions_and_the_saved_result_are_reset(mail):
    """RFC 8437 §4.1: "Any extensions enabled by the IMAP ENABLE command cease to be enabled";
    "A server advertising SEARCHRES discards any saved search results"."""
    client = connect(mail)
    client.login("user", "pass")
    raw(client, b"ENABLE IMAP4rev2 UTF8=ACCEPT")
    raw(client, b"SELECT INBOX")
    raw(client, b"SEARCH RETURN (SAVE) ALL")
    raw(client, b"UNAUTHENTICATE")
    assert raw(client, b"LOGIN user pass")[-1].startswith(b"OK")
    raw(client, b"SELECT INBOX")
    assert raw(client, b"SEARCH ALL")[0] == b"* SEARCH 1"  # IMAP4rev1 again: not ESEARCH
    assert raw(client, b"SEARCH $")[0] == b"* SEARCH"
    client.logout()


def test_unauthenticate_pipelined_with_a_login(mail):
    """RFC 8437 §3: "the client is permitted to pipeline the UNAUTHENTICATE command with a
    subsequent AUTHENTICATE command"."""
    client = connect(mail)
    client.login("user", "pass")
    client.send(b"u1 UNAUTHENTICATE\r\nu2 AUTHENTICATE PLAIN AG90aGVyAHdvcmQ=\r\n")
    assert client.readline() == b"u1 OK Now not authenticated\r\n"
    assert client.readline().startswith(b"u2 OK")
    assert raw(client, b"UNAUTHENTICATE")[-1].startswith(b"OK")
    client.logout()


def test_capability_names_it_only_once_authenticated(mail):
    """RFC 8437 §3: "Servers MAY choose to advertise the UNAUTHENTICATE capability only after
    authentication has completed.\""""
    client = connect(mail)
    assert "UNAUTHENTICATE" not in client.capabilities
    client.login("user", "pass")
    assert b"UNAUTHENTICATE" in raw(client, b"CAPABILITY")[0].split()
    client.logout()


@pytest.mark.parametrize("command", [b"UNAUTHENTICATE now", b"UNAUTHENTICATE ()"])
def test_arguments_are_bad(mail, command):
    """RFC 8437 §3: "Arguments: None"; "BAD - Command unknown or arguments invalid"."""
    client = connect(mail)
    client.login("user", "pass")
    assert raw(client, command)[-1].startswith(b"BAD")
    assert raw(client, b"NOOP")[-1].startswith(b"OK")  # still logged in
    client.logout()


def test_before_authentication_it_is_bad(mail):
    """RFC 8437 §3: "a BAD response only occurs if UNAUTHENTICATE is issued in an invalid
    state"."""
    client = connect(mail)
    assert raw(client, b"UNAUTHENTICATE")[-1].startswith(b"BAD")
    client.logout()
