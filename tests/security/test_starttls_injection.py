"""STARTTLS command injection (CVE-2011-0411) on both protocols: whatever plaintext came in the
same packet as STARTTLS is dropped, never run once TLS is up, whole commands or a partial line
that TLS data would complete.

Already covered elsewhere, and not repeated here:
- tests/smtp/test_tls.py::test_commands_sent_with_starttls_are_discarded (MAIL, RCPT, NOOP
  after STARTTLS) and ::test_the_session_starts_afresh_after_starttls (no AUTH, no envelope
  carried over);
- tests/imap/test_tls.py::test_commands_in_the_starttls_packet_are_dropped_not_run
  (CAPABILITY, LOGIN after STARTTLS) and
  ::test_starttls_queued_behind_another_command_still_drops_what_follows.
Added here: partial lines, a whole injected message, an injected AUTH/AUTHENTICATE, literals
(synchronising and LITERAL+), and STARTTLS pipelined behind EHLO.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from elektromail.testing import MailServer
from tests.imap.wire import ImapWire
from tests.smtp.wire import Wire, client_context, mailbox

BEGIN_TLS = b"a OK Begin TLS negotiation now\r\n"
READY_FOR_TLS = b"220 2.0.0 Ready to start TLS\r\n"
NOT_AUTHENTICATED = b"BAD SELECT not allowed before authentication\r\n"


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with MailServer(users="user:pass,victim:pw") as server:
        yield server


@pytest.fixture(scope="module")
def strict() -> Iterator[MailServer]:
    """SMTP that wants AUTH before MAIL."""
    with MailServer(users="user:pass", require_auth=True) as server:
        yield server


# --- SMTP -------------------------------------------------------------------------------------


def smtp_after_injection(mail: MailServer, packet: bytes, ehlo: bool = True) -> Wire:
    """Send `packet` (STARTTLS and what rides with it) in one write; returns the wire over TLS
    once 220 came, and nothing else, before the handshake."""
    wire = Wire(mail.smtp_port)
    if ehlo:
        wire.command(b"EHLO client.test")
    wire.send(packet)
    if not ehlo:
        assert wire.reply().startswith(b"250-")
    assert wire.reply() == READY_FOR_TLS
    wire.start_tls(client_context(mail))
    return wire


def test_smtp_a_partial_line_sent_with_starttls_is_not_completed_over_tls(mail):
    wire = smtp_after_injection(mail, b"STARTTLS\r\nMAIL FROM:<evil@example.com>")
    # had the partial line stayed, this CRLF would finish it into a MAIL command (250)
    assert wire.command(b"").startswith(b"500 ")
    assert wire.command(b"EHLO client.test").startswith(b"250-")
    assert wire.command(b"RCPT TO:<victim@x>") == b"503 5.5.1 Need MAIL before RCPT\r\n"
    wire.close()


def test_smtp_starttls_pipelined_behind_ehlo_drops_what_follows(mail):
    wire = smtp_after_injection(
        mail, b"EHLO client.test\r\nSTARTTLS\r\nMAIL FROM:<evil@example.com>\r\n", ehlo=False
    )
    assert wire.command(b"EHLO client.test").startswith(b"250-")
    assert wire.command(b"RCPT TO:<victim@x>") == b"503 5.5.1 Need MAIL before RCPT\r\n"
    wire.close()


def test_smtp_a_whole_message_injected_with_starttls_is_not_delivered(mail):
    injected = (
        b"STARTTLS\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@x>\r\nDATA\r\n"
        b"Subject: injected\r\n\r\nplaintext riding on STARTTLS\r\n.\r\n"
    )
    wire = smtp_after_injection(mail, injected)
    assert wire.command(b"EHLO client.test").startswith(b"250-")
    assert wire.command(b"QUIT").startswith(b"221")
    wire.close()
    assert mailbox(mail, "victim") == []


def test_smtp_an_injected_auth_does_not_authenticate_the_tls_session(strict):
    auth = b"AUTH PLAIN " + base64.b64encode(b"\0user\0pass")
    wire = smtp_after_injection(strict, b"STARTTLS\r\n" + auth + b"\r\n")
    assert wire.command(b"EHLO client.test").startswith(b"250-")
    assert wire.command(b"MAIL FROM:<a@b>") == b"530 5.7.0 Authentication required\r\n"
    wire.close()


# --- IMAP -------------------------------------------------------------------------------------


def imap_after_injection(mail: MailServer, packet: bytes) -> ImapWire:
    """A connection that sent `packet` with STARTTLS in one write and is now over TLS."""
    wire = ImapWire(mail.imap_port, mail.host)
    assert wire.greeting.startswith(b"* OK")
    wire.send(packet)
    assert wire.read_exact(len(BEGIN_TLS)) == BEGIN_TLS
    # any plaintext answer to the injected lines (a "+" for a literal, a BAD) would be read
    # by the handshake as a broken TLS record; start_tls refuses any that came already
    wire.start_tls()
    return wire


@pytest.mark.parametrize(
    "injected",
    [
        b"b LOGIN user pass\r\n",
        b"b LOGIN {4+}\r\nuser {4+}\r\npass\r\n",
        b"b LOGIN {4}\r\n",
        b"b AUTHENTICATE PLAIN " + base64.b64encode(b"\0user\0pass") + b"\r\n",
        b"b AUTHENTICATE PLAIN\r\n" + base64.b64encode(b"\0user\0pass") + b"\r\n",
        b"b ENABLE IMAP4rev2\r\nc LOGIN user pass\r\nd SELECT INBOX\r\n",
    ],
    ids=["login", "literal-plus", "sync-literal", "sasl-ir", "sasl", "several"],
)
def test_imap_injected_commands_are_not_run_over_tls(mail, injected):
    wire = imap_after_injection(mail, b"a STARTTLS\r\n" + injected)
    assert wire.command(b"e NOOP") == b"e OK NOOP completed\r\n"
    assert wire.command(b"f SELECT INBOX") == b"f " + NOT_AUTHENTICATED
    wire.close()


def test_imap_a_partial_line_sent_with_starttls_is_not_completed_over_tls(mail):
    wire = imap_after_injection(mail, b"a STARTTLS\r\nb LOGIN user pa")
    # had the partial line stayed, "ss" would complete it into `b LOGIN user pass`
    assert wire.command(b"ss").startswith(b"ss BAD ")
    assert wire.command(b"f SELECT INBOX") == b"f " + NOT_AUTHENTICATED
    wire.close()


def test_imap_a_partial_literal_sent_with_starttls_is_not_completed_over_tls(mail):
    wire = imap_after_injection(mail, b"a STARTTLS\r\nb LOGIN user {4+}\r\npa")
    # would finish the literal into `b LOGIN user "pass"`
    assert wire.command(b"ss").startswith(b"ss BAD ")
    assert wire.command(b"f SELECT INBOX") == b"f " + NOT_AUTHENTICATED
    wire.close()
