"""aiosmtplib against the server: STARTTLS with a checked certificate, AUTH, SMTPUTF8, the SMTPS
port, and refused recipients (skipped, saying why, when aiosmtplib is not installed)."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from elektromail.testing import MailServer
from tests.smtp.wire import client_context, mailbox, use_rules

MESSAGE = (
    b"From: app@example.org\r\nTo: bob@example.com\r\nSubject: hello\r\n"
    b"Date: Mon, 6 May 2024 07:08:09 +0000\r\nMessage-ID: <m1@example.org>\r\n\r\nhi there\r\n"
)


aiosmtplib = pytest.importorskip("aiosmtplib", reason="aiosmtplib is not installed")


def test_aiosmtplib_starttls_login_and_send_message(mail: MailServer) -> None:
    message = EmailMessage()
    message["From"] = "alice@example.org"
    message["To"] = "bob@example.com"
    message["Subject"] = "über aiosmtplib"
    message.set_content("Grüße\n")
    errors, _ = asyncio.run(
        aiosmtplib.send(
            message,
            hostname="127.0.0.1",
            port=mail.smtp_port,
            start_tls=True,
            tls_context=client_context(mail),
            username="alice",
            password="alice-pw",
            timeout=10,
        )
    )
    assert errors == {}
    (stored,) = mailbox(mail, "bob")
    parsed = email.message_from_bytes(stored, policy=email.policy.default)
    assert parsed["Subject"] == "über aiosmtplib"
    assert parsed.get_content().splitlines() == ["Grüße"]


def test_aiosmtplib_smtputf8_addresses(mail: MailServer) -> None:
    message = EmailMessage()
    message["From"] = "jörg@exämple.de"
    message["To"] = "用户@例子.广告"
    message["Subject"] = "☃"
    message.set_content("☃\n")
    errors, _ = asyncio.run(
        aiosmtplib.send(
            message, hostname="127.0.0.1", port=mail.smtp_port, start_tls=False, timeout=10
        )
    )
    assert errors == {}
    assert "Subject: ☃".encode() in mailbox(mail, "用户")[0]


def test_aiosmtplib_over_the_smtps_port(start_mail: Callable[..., MailServer]) -> None:
    mail = start_mail(smtps_port=0)
    errors, _ = asyncio.run(
        aiosmtplib.send(
            MESSAGE,
            sender="app@example.org",
            recipients=["bob@example.com"],
            hostname="127.0.0.1",
            port=mail.server.port("smtps"),
            use_tls=True,
            tls_context=client_context(mail),
            timeout=10,
        )
    )
    assert errors == {}
    assert mailbox(mail, "bob") == [MESSAGE]


def test_aiosmtplib_sees_rejected_and_tempfailed_recipients(mail: MailServer) -> None:
    use_rules(
        mail,
        [
            {"recipient": "gone@*", "action": "reject"},
            {"recipient": "later@*", "action": "tempfail"},
        ],
    )

    async def send() -> dict:
        # aiosmtplib takes up an offered STARTTLS and checks the certificate: trust ours.
        context = client_context(mail)
        async with aiosmtplib.SMTP(
            hostname="127.0.0.1", port=mail.smtp_port, tls_context=context, timeout=10
        ) as c:
            errors, _ = await c.sendmail("app@x", ["gone@x", "later@x", "bob@x"], MESSAGE)
            return errors

    errors = asyncio.run(send())
    assert {k: v.code for k, v in errors.items()} == {"gone@x": 550, "later@x": 451}
    assert mailbox(mail, "bob") == [MESSAGE]
