"""STARTTLS (RFC 9051 §6.2.1) and the implicit-TLS IMAPS port, over loopback sockets."""

from __future__ import annotations

import imaplib
from collections.abc import Iterator

import pytest
from imapclient import IMAPClient

from elektromail.config import resolve
from elektromail.testing import MailServer
from tests.imap.test_session_commands import LOGGED_IN, USERS, capabilities
from tests.imap.wire import ImapWire, unverified_tls

BEGIN_TLS = b"a OK Begin TLS negotiation now\r\n"


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with MailServer(users=USERS, smtp_port=None, imaps_port=0) as server:
        yield server


@pytest.fixture
def wire(mail: MailServer) -> Iterator[ImapWire]:
    client = ImapWire(mail.imap_port)
    yield client
    client.close()


@pytest.fixture
def tls_wire(mail: MailServer) -> Iterator[ImapWire]:
    """A client on the implicit-TLS port."""
    client = ImapWire(mail.server.port("imaps"), tls=unverified_tls())
    yield client
    client.close()


# --- STARTTLS ----------------------------------------------------------------------------------


def test_starttls_is_advertised_before_tls_and_login(wire):
    assert b"STARTTLS" in capabilities(wire.greeting)
    assert b"STARTTLS" in capabilities(wire.command(b"a CAPABILITY"))


def test_starttls_then_capability_must_be_asked_again(wire):
    assert wire.command(b"a STARTTLS") == BEGIN_TLS
    wire.start_tls(unverified_tls())
    response = wire.command(b"b CAPABILITY")
    assert response.endswith(b"b OK CAPABILITY completed\r\n")
    caps = capabilities(response)
    assert b"STARTTLS" not in caps
    assert {b"AUTH=PLAIN", b"AUTH=LOGIN", b"IMAP4rev2"} <= caps
    assert LOGGED_IN.match(wire.command(b"c LOGIN user pass"))
    assert wire.command(b"d SELECT INBOX").endswith(b"d OK [READ-WRITE] SELECT completed\r\n")


def test_starttls_twice_is_bad(wire):
    wire.command(b"a STARTTLS")
    wire.start_tls(unverified_tls())
    assert wire.command(b"b STARTTLS") == b"b BAD TLS is already active\r\n"
    assert wire.command(b"c NOOP") == b"c OK NOOP completed\r\n"


def test_commands_in_the_starttls_packet_are_dropped_not_run(wire):
    """CVE-2011-0411: plaintext after STARTTLS must not be run and answered over TLS."""
    assert wire.greeting.startswith(b"* OK")
    wire.send(b"a STARTTLS\r\nb CAPABILITY\r\nc LOGIN user pass\r\n")
    assert wire.read_exact(len(BEGIN_TLS)) == BEGIN_TLS
    # Any plaintext answer to b or c would arrive here and break the handshake.
    wire.start_tls(unverified_tls())
    wire.send(b"d NOOP\r\n")
    expected = b"d OK NOOP completed\r\n"
    assert wire.read_exact(len(expected)) == expected
    wire.send(b"e SELECT INBOX\r\n")  # c's LOGIN did not happen either
    expected = b"e BAD SELECT not allowed before authentication\r\n"
    assert wire.read_exact(len(expected)) == expected


def test_starttls_queued_behind_another_command_still_drops_what_follows(wire):
    wire.send(b"x NOOP\r\na STARTTLS\r\nb CAPABILITY\r\n")
    assert wire.line() == b"x OK NOOP completed\r\n"
    assert wire.line() == BEGIN_TLS
    wire.start_tls(unverified_tls())
    assert wire.command(b"c NOOP") == b"c OK NOOP completed\r\n"


@pytest.mark.parametrize(
    ("command", "response"),
    [
        (b"a STARTTLS now", b"a BAD STARTTLS takes no arguments\r\n"),
        (b"a STARTTLS {3+}\r\nabc", b"a BAD STARTTLS takes no arguments\r\n"),
    ],
    ids=["atom", "literal"],
)
def test_starttls_with_arguments_is_bad_and_stays_in_the_clear(wire, command, response):
    assert wire.command(command) == response
    assert wire.command(b"b NOOP") == b"b OK NOOP completed\r\n"


def test_starttls_after_login_is_bad(wire):
    assert LOGGED_IN.match(wire.login())
    assert wire.command(b"a STARTTLS") == b"a BAD STARTTLS not allowed now\r\n"
    assert b"STARTTLS" not in capabilities(wire.command(b"b CAPABILITY"))


def test_imaplib_starttls_login_and_append(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    typ, _ = client.starttls(ssl_context=unverified_tls())
    assert typ == "OK"
    assert "STARTTLS" not in client.capabilities
    assert client.login("user", "pass")[0] == "OK"
    typ, data = client.append("INBOX", None, None, b"Subject: over tls\r\n\r\nhi\r\n")
    assert typ == "OK" and data[0].startswith(b"[APPENDUID ")
    client.logout()


def test_imapclient_starttls(mail):
    with IMAPClient(mail.host, port=mail.imap_port, ssl=False, timeout=10) as client:
        client.starttls(unverified_tls())
        client.login("user", "pass")
        assert client.select_folder("INBOX")[b"EXISTS"] >= 0


# --- implicit TLS (IMAPS) ----------------------------------------------------------------------


def test_imaps_greeting_is_sent_over_tls_without_starttls(tls_wire):
    assert tls_wire.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ")
    caps = capabilities(tls_wire.greeting)
    assert b"STARTTLS" not in caps and b"AUTH=PLAIN" in caps


def test_starttls_on_the_imaps_port_is_bad(tls_wire):
    assert tls_wire.command(b"a STARTTLS") == b"a BAD TLS is already active\r\n"
    assert LOGGED_IN.match(tls_wire.command(b"b LOGIN user pass"))


def test_imaplib_imap4_ssl_logs_in_and_selects(mail):
    client = imaplib.IMAP4_SSL(
        mail.host, mail.server.port("imaps"), ssl_context=unverified_tls(), timeout=10
    )
    assert "STARTTLS" not in client.capabilities
    assert client.login("user", "pass")[0] == "OK"
    assert client.select("INBOX")[0] == "OK"
    client.logout()


def test_imaps_port_refuses_plaintext(mail):
    with ImapWire(mail.server.port("imaps"), mail.host, greeting=False) as plain:
        plain.send(b"a CAPABILITY\r\n")
        assert b"CAPABILITY" not in plain.read_chunk()


def test_imaps_port_is_an_implemented_setting():
    settings = resolve({"imaps-port": "0"}, environ={})
    assert settings.imaps_port == 0
    assert settings.not_implemented == ()
