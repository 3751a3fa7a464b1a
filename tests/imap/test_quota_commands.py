"""GETQUOTA and GETQUOTAROOT (RFC 9208 §4.1.1, §4.1.2) over real sockets: one root per user,
STORAGE in units of 1024 octets and MESSAGE, limits from the settings or the user's own."""

from __future__ import annotations

import imaplib

import pytest

from elektromail.config import parse_limit_count, parse_limit_size
from elektromail.testing import MailServer
from tests.imap.test_search_command import raw


@pytest.fixture
def mail():
    with MailServer(users="user:pass,other:word", quota_storage=10 * 1024 * 1024) as server:
        server.inject("user", b"Subject: a\r\n\r\n" + b"x" * 3000)
        server.inject("user", b"Subject: b\r\n\r\n" + b"y" * 3000, mailbox="Archive")
        yield server


def login(mail: MailServer, user: str = "user", password: str = "pass") -> imaplib.IMAP4:
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login(user, password)
    return client


def test_getquotaroot_names_the_root_and_its_usage(mail):
    """RFC 9208 §4.1.2: "returns the list of quota roots for the mailbox in an untagged
    QUOTAROOT response. For each listed quota root, it also returns the quota root's resource
    usage and limits in an untagged QUOTA response"; STORAGE is "in units of 1024 octets"
    (§5.1) over every mailbox of the root."""
    client = login(mail)
    assert raw(client, b"GETQUOTAROOT INBOX") == [
        b'* QUOTAROOT INBOX "User quota"',
        b'* QUOTA "User quota" (STORAGE 5 10240)',
        b"OK GETQUOTAROOT completed",
    ]
    client.logout()


def test_getquotaroot_of_a_mailbox_that_does_not_exist(mail):
    """RFC 9208 §4.1.2: "the mailbox name parameter doesn't have to reference an existing
    mailbox"."""
    client = login(mail)
    lines = raw(client, b'GETQUOTAROOT "Not/Yet"')
    assert lines[0] == b'* QUOTAROOT Not/Yet "User quota"'
    assert lines[-1].startswith(b"OK")
    client.logout()


def test_getquota_of_the_root_and_of_another(mail):
    """RFC 9208 §4.1.1: "NO - getquota error: no such quota root"."""
    client = login(mail)
    assert raw(client, b'GETQUOTA "User quota"')[0] == b'* QUOTA "User quota" (STORAGE 5 10240)'
    assert raw(client, b'GETQUOTA ""')[-1].startswith(b"NO [NONEXISTENT]")
    client.logout()


def test_own_limits_and_the_message_count(mail):
    mail.call(mail.server.postoffice.set_quota, "user", None, 2)
    client = login(mail)
    assert raw(client, b'GETQUOTA "User quota"')[0] == (
        b'* QUOTA "User quota" (STORAGE 5 10240 MESSAGE 2 2)'
    )
    client.logout()
    other = login(mail, "other", "word")  # another user: their own usage
    assert raw(other, b'GETQUOTA "User quota"')[0] == b'* QUOTA "User quota" (STORAGE 0 10240)'
    other.logout()


def test_no_limit_no_resources():
    """RFC 9208 §4.2.1: "Resources not named in the list are not limited in the quota root.
    Thus, an empty list means there are no administrative resource limits"."""
    with MailServer() as mail:
        client = login(mail)
        assert raw(client, b"GETQUOTAROOT INBOX")[1] == b'* QUOTA "User quota" ()'
        client.logout()


def test_capabilities_once_logged_in(mail):
    """RFC 9208 §5: "A server supporting a resource type MUST advertise this as a CAPABILITY
    with a name consisting of the resource name prefixed by "QUOTA=RES-"."""
    client = login(mail)
    capabilities = raw(client, b"CAPABILITY")[0].split()
    assert {b"QUOTA", b"QUOTA=RES-STORAGE", b"QUOTA=RES-MESSAGE"} <= set(capabilities)
    assert b"QUOTASET" not in capabilities  # limits are settings; SETQUOTA is refused
    client.logout()


@pytest.mark.parametrize(
    "command",
    [
        b"GETQUOTA",
        b"GETQUOTA a b",
        b"GETQUOTA (x)",
        b"GETQUOTAROOT",
        b"GETQUOTAROOT a b",
        b"GETQUOTAROOT (INBOX)",
    ],
)
def test_malformed_and_unknown_are_bad(mail, command):
    client = login(mail)
    assert raw(client, command)[-1].startswith(b"BAD")
    client.logout()


def test_before_login_they_are_bad(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    assert raw(client, b"GETQUOTAROOT INBOX")[-1].startswith(b"BAD")
    assert raw(client, b'GETQUOTA "User quota"')[-1].startswith(b"BAD")
    client.logout()


@pytest.mark.parametrize(
    ("text", "value"),
    [("", None), ("off", None), ("0", 0), ("10M", 10 * 1024**2), ("512k", 512 * 1024)],
)
def test_the_storage_setting(text, value):
    assert parse_limit_size(text) == value


@pytest.mark.parametrize("text", ["-1", "ten", "1T", "1.5M"])
def test_bad_storage_settings(text):
    with pytest.raises(ValueError):
        parse_limit_size(text)


def test_the_messages_setting():
    assert (parse_limit_count("off"), parse_limit_count("0"), parse_limit_count("7")) == (
        None,
        0,
        7,
    )
    with pytest.raises(ValueError):
        parse_limit_count("-3")
