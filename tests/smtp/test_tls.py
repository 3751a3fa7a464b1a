"""STARTTLS (RFC 3207) and the implicit-TLS SMTPS port, over real sockets with certificate
checks: the handshake, no STARTTLS once secure, no plaintext injection, and a fresh session."""

from __future__ import annotations

import base64
import smtplib
from collections.abc import Callable

import pytest

from elektromail.testing import MailServer
from tests.smtp.wire import Wire, client_context, mailbox

AUTH_PLAIN = b"AUTH PLAIN " + base64.b64encode(b"\0user\0pass")


def secure_wire(mail: MailServer) -> Wire:
    wire = Wire(mail.smtp_port)
    wire.command(b"EHLO client.test")
    assert wire.command(b"STARTTLS") == b"220 2.0.0 Ready to start TLS\r\n"
    wire.start_tls(client_context(mail))
    return wire


def test_smtplib_starttls_with_a_verified_certificate(mail: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert client.starttls(context=client_context(mail))[0] == 220
        client.ehlo()
        assert not client.has_extn("starttls")
        client.login("alice", "alice-pw")
        assert client.sendmail("alice@x", ["bob@x"], b"Subject: secret\r\n\r\nhi\r\n") == {}
    assert mailbox(mail, "bob") == [b"Subject: secret\r\n\r\nhi\r\n"]


def test_ehlo_over_tls_lists_no_starttls_and_a_second_starttls_is_refused(
    mail: MailServer,
) -> None:
    wire = secure_wire(mail)
    reply = wire.command(b"EHLO client.test")
    assert reply.startswith(b"250-localhost Hello [127.0.0.1]\r\n")
    assert b"STARTTLS" not in reply and b"250 AUTH PLAIN LOGIN\r\n" in reply
    assert wire.command(b"STARTTLS") == b"503 5.5.1 TLS already active\r\n"
    assert wire.command(b"NOOP") == b"250 2.0.0 OK\r\n"


def test_commands_sent_with_starttls_are_discarded(mail: MailServer) -> None:
    wire = Wire(mail.smtp_port)
    wire.command(b"EHLO client.test")
    wire.send(b"STARTTLS\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<user@x>\r\nNOOP\r\n")
    assert wire.reply() == b"220 2.0.0 Ready to start TLS\r\n"
    wire.start_tls(client_context(mail))
    # Had the injected lines run, their replies would come first over TLS.
    assert wire.command(b"EHLO client.test").startswith(b"250-localhost Hello")
    assert wire.command(b"RCPT TO:<user@x>") == b"503 5.5.1 Need MAIL before RCPT\r\n"


def test_the_session_starts_afresh_after_starttls(start_mail: Callable[..., MailServer]) -> None:
    mail = start_mail(require_auth=True)
    wire = Wire(mail.smtp_port)
    wire.command(b"EHLO client.test")
    assert wire.command(AUTH_PLAIN).startswith(b"235 ")
    assert wire.command(b"MAIL FROM:<a@b>") == b"250 2.1.0 Sender OK\r\n"
    assert wire.command(b"STARTTLS") == b"220 2.0.0 Ready to start TLS\r\n"
    wire.start_tls(client_context(mail))
    assert wire.command(b"RCPT TO:<c@d>") == b"503 5.5.1 Need MAIL before RCPT\r\n"
    assert wire.command(b"MAIL FROM:<a@b>") == b"530 5.7.0 Authentication required\r\n"
    assert wire.command(AUTH_PLAIN).startswith(b"235 ")  # not "already authenticated"
    assert wire.command(b"MAIL FROM:<a@b>") == b"250 2.1.0 Sender OK\r\n"


def test_starttls_with_an_argument_is_501(wire: Wire) -> None:
    assert wire.command(b"STARTTLS now") == b"501 5.5.4 Syntax error: no arguments allowed\r\n"


@pytest.fixture
def smtps(start_mail: Callable[..., MailServer]) -> tuple[MailServer, int]:
    mail = start_mail(smtps_port=0, trace_headers=True)
    return mail, mail.server.port("smtps")


def test_smtps_port_speaks_tls_from_the_first_byte(smtps: tuple[MailServer, int]) -> None:
    mail, port = smtps
    context = client_context(mail)
    with smtplib.SMTP_SSL("127.0.0.1", port, timeout=5, context=context) as client:
        code, text = client.ehlo()
        assert code == 250 and b"STARTTLS" not in text
        assert client.sendmail("a@x", ["bob@x"], b"Subject: tls\r\n\r\nhi\r\n") == {}
    (stored,) = mailbox(mail, "bob")
    assert b"(elektromail) with ESMTPS\r\n" in stored
    assert stored.endswith(b"Subject: tls\r\n\r\nhi\r\n")


def test_smtps_port_refuses_starttls(smtps: tuple[MailServer, int]) -> None:
    mail, port = smtps
    wire = Wire(port, tls=client_context(mail))
    assert wire.greeting == b"220 localhost elektromail ESMTP ready\r\n"
    assert wire.command(b"STARTTLS") == b"503 5.5.1 TLS already active\r\n"
    wire.close()


def test_smtps_listener_is_named_in_the_ready_line(smtps: tuple[MailServer, int]) -> None:
    mail, port = smtps
    assert f"smtps=127.0.0.1:{port}" in mail.server.ready_line()
