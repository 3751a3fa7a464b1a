"""ESMTP extensions and settings over real sockets: SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES,
DSN parameters, require-AUTH, trace headers and too many recipients."""

from __future__ import annotations

import base64
import smtplib
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from elektromail.testing import MailServer
from tests.smtp.wire import Wire, has_enhanced_status, mailbox


def start_data(wire: Wire, mail_from: bytes = b"MAIL FROM:<app@example.org>") -> None:
    assert wire.command(mail_from).startswith(b"250 ")
    assert wire.command(b"RCPT TO:<user@example.com>").startswith(b"250 ")
    assert wire.command(b"DATA").startswith(b"354 ")


# --- SIZE (RFC 1870) -------------------------------------------------------------------------


@pytest.fixture
def small(start_mail: Callable[..., MailServer]) -> MailServer:
    return start_mail(max_message_size=1000)


def test_declared_size_over_the_limit_is_refused_at_mail(small: MailServer) -> None:
    wire = Wire(small.smtp_port)
    assert wire.command(b"MAIL FROM:<a@b> SIZE=1001") == (
        b"552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    )
    assert wire.command(b"MAIL FROM:<a@b> SIZE=1000") == b"250 2.1.0 Sender OK\r\n"


def test_smtplib_declares_size_and_gets_552_at_mail(small: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", small.smtp_port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as caught:
            client.sendmail("a@b", ["user@x"], b"Subject: big\r\n\r\n" + b"x" * 2000)
    assert (caught.value.smtp_code, caught.value.smtp_error) == (
        552,
        b"5.3.4 Message size exceeds fixed maximum message size",
    )
    assert mailbox(small, "user") == []


def test_undeclared_size_over_the_limit_gets_552_after_the_dot(small: MailServer) -> None:
    wire = Wire(small.smtp_port)
    start_data(wire)
    wire.send(b"Subject: big\r\n\r\n" + (b"y" * 98 + b"\r\n") * 50 + b".\r\n")
    assert wire.reply() == b"552 5.3.4 Message too big\r\n"
    assert wire.command(b"NOOP") == b"250 2.0.0 OK\r\n"
    start_data(wire)
    wire.send(b"Subject: small\r\n\r\n.\r\n")
    assert wire.reply() == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(small, "user") == [b"Subject: small\r\n\r\n"]


# --- 8BITMIME (RFC 1652) and SMTPUTF8 (RFC 6531) --------------------------------------------


def test_body_8bitmime_is_accepted_and_stored_as_is(wire: Wire, mail: MailServer) -> None:
    start_data(wire, b"MAIL FROM:<app@example.org> BODY=8BITMIME")
    message = b"Subject: 8bit\r\nContent-Transfer-Encoding: 8bit\r\n\r\nna\xc3\xafve \xff\x80\r\n"
    wire.send(message + b".\r\n")
    assert wire.reply() == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "user") == [message]


def test_smtplib_send_message_with_an_8bit_body(mail: MailServer) -> None:
    message = EmailMessage()
    message["From"] = "app@example.org"
    message["To"] = "user@example.com"
    message["Subject"] = "Grüße"
    message.set_content("Grüße, naïve café — 5 €\n", cte="8bit")
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as client:
        assert client.send_message(message) == {}
    (stored,) = mailbox(mail, "user")
    assert "Grüße, naïve café — 5 €".encode() in stored
    assert b"Content-Transfer-Encoding: 8bit\r\n" in stored


def test_smtplib_send_message_with_smtputf8_addresses(mail: MailServer) -> None:
    message = EmailMessage()
    message["From"] = "Jörg <jörg@exämple.de>"
    message["To"] = "用户@例子.广告, Renée <renée@example.com>"
    message["Subject"] = "Grüße aus Köln"
    message.set_content("Hallo 用户!\n")
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as client:
        client.ehlo()
        assert client.has_extn("smtputf8")
        assert client.send_message(message) == {}  # smtplib adds SMTPUTF8 and BODY=8BITMIME
    for user in ("用户", "renée"):
        (stored,) = mailbox(mail, user)
        assert "From: Jörg <jörg@exämple.de>\r\n".encode() in stored
        assert "Subject: Grüße aus Köln\r\n".encode() in stored
        assert "Hallo 用户!".encode() in stored


def test_utf8_address_without_smtputf8_is_refused(wire: Wire) -> None:
    assert wire.command("MAIL FROM:<jörg@exämple.de>".encode()) == (
        b"550 5.6.7 Non-ASCII sender address needs SMTPUTF8\r\n"
    )
    wire.command(b"MAIL FROM:<a@b>")
    assert wire.command("RCPT TO:<用户@例子.广告>".encode()) == (
        b"553 5.6.7 Non-ASCII recipient address needs SMTPUTF8\r\n"
    )


def test_utf8_local_part_is_routed_to_its_user(wire: Wire, mail: MailServer) -> None:
    assert wire.command("MAIL FROM:<jörg@exämple.de> SMTPUTF8".encode()) == (
        b"250 2.1.0 Sender OK\r\n"
    )
    assert wire.command("RCPT TO:<Ünïcode+tag@例子.广告>".encode()).startswith(b"250 ")
    assert wire.command(b"DATA").startswith(b"354 ")
    wire.send("Subject: ☃\r\n\r\n☃\r\n.\r\n".encode())
    assert wire.reply() == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "ünïcode") == ["Subject: ☃\r\n\r\n☃\r\n".encode()]


# --- ENHANCEDSTATUSCODES (RFC 2034) ----------------------------------------------------------

SESSION = [
    b"NOOP",
    b"HELP",
    b"VRFY bob",
    b"RSET",
    b"BOGUS",
    b"",
    b"MAIL",
    b"MAIL FROM:<a@b> XYZ=1",
    b"MAIL FROM:<a@b> SIZE=x",
    b"MAIL FROM:<a@b@c>",
    b"RCPT TO:<c@d>",
    b"DATA",
    b"MAIL FROM:<a@b> RET=HDRS ENVID=e1",
    b"MAIL FROM:<a@b>",
    b"RCPT TO:<c@d@e>",
    b"RCPT TO:<c@d> NOTIFY=BOGUS",
    b"RCPT TO:<c@d> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c@d",
    b"AUTH PLAIN",
    b"AUTH CRAM-MD5",
    b"RSET",
    b"AUTH PLAIN " + base64.b64encode(b"\0user\0wrong"),
    b"AUTH PLAIN " + base64.b64encode(b"\0user\0pass"),
    b"AUTH PLAIN " + base64.b64encode(b"\0user\0pass"),
    b"STARTTLS now",
    b"QUIT now",
    b"NOOP " + b"x" * 20_000,
    b"QUIT",
]


def test_every_reply_but_greetings_and_3xx_has_an_enhanced_status_code(
    open_wire: Callable[[], Wire],
) -> None:
    wire = open_wire()
    assert not has_enhanced_status(wire.greeting)
    assert wire.command(b"EHLO client.test").startswith(b"250-localhost Hello")
    assert wire.command(b"HELO client.test") == b"250 localhost Hello [127.0.0.1]\r\n"
    codes = []
    for line in SESSION:
        reply = wire.command(line)
        codes.append(reply[:3])
        assert has_enhanced_status(reply), (line, reply)
    assert codes[-1] == b"221"
    wire = open_wire()
    wire.command(b"MAIL FROM:<a@b>")
    wire.command(b"RCPT TO:<c@d>")
    assert wire.command(b"DATA") == b"354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    wire.send(b".\r\n")
    assert has_enhanced_status(wire.reply())


# --- DSN parameters (RFC 3461) ---------------------------------------------------------------


def test_dsn_parameters_are_accepted_and_the_message_delivered(
    wire: Wire, mail: MailServer
) -> None:
    assert wire.command(b"MAIL FROM:<app@example.org> RET=HDRS ENVID=QQ+2B1") == (
        b"250 2.1.0 Sender OK\r\n"
    )
    assert wire.command(b"RCPT TO:<user@example.com> NOTIFY=FAILURE,DELAY ORCPT=rfc822;u@x") == (
        b"250 2.1.5 Recipient OK\r\n"
    )
    assert wire.command(b"DATA").startswith(b"354 ")
    wire.send(b"Subject: dsn\r\n\r\n.\r\n")
    assert wire.reply() == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "user") == [b"Subject: dsn\r\n\r\n"]
    assert mailbox(mail, "app") is None  # NOTIFY=FAILURE and no failure: no DSN


def test_smtplib_sendmail_with_dsn_options(mail: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as client:
        refused = client.sendmail(
            "app@example.org",
            ["user@example.com"],
            b"Subject: dsn\r\n\r\nhi\r\n",
            mail_options=["RET=FULL", "ENVID=order-42"],
            rcpt_options=["NOTIFY=FAILURE", "ORCPT=rfc822;user@example.com"],
        )
    assert refused == {}
    assert mailbox(mail, "user") == [b"Subject: dsn\r\n\r\nhi\r\n"]


# --- settings: require AUTH, trace headers, recipients -------------------------------------


def test_require_auth_refuses_mail_before_auth_with_530(
    start_mail: Callable[..., MailServer],
) -> None:
    mail = start_mail(require_auth=True)
    wire = Wire(mail.smtp_port)
    wire.command(b"EHLO client.test")
    assert wire.command(b"MAIL FROM:<a@b>") == b"530 5.7.0 Authentication required\r\n"
    assert wire.command(b"RCPT TO:<c@d>") == b"503 5.5.1 Need MAIL before RCPT\r\n"
    assert wire.command(b"AUTH PLAIN " + base64.b64encode(b"\0user\0pass")).startswith(b"235 ")
    assert wire.command(b"MAIL FROM:<a@b>") == b"250 2.1.0 Sender OK\r\n"


def test_require_auth_with_smtplib(start_mail: Callable[..., MailServer]) -> None:
    mail = start_mail(require_auth=True)
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as caught:
            client.sendmail("a@b", ["bob@x"], b"Subject: no\r\n\r\n")
        assert caught.value.smtp_code == 530
        client.login("alice", "alice-pw")
        assert client.sendmail("a@b", ["bob@x"], b"Subject: yes\r\n\r\n") == {}
    assert mailbox(mail, "bob") == [b"Subject: yes\r\n\r\n"]


def test_trace_headers_are_prepended_when_asked(start_mail: Callable[..., MailServer]) -> None:
    mail = start_mail(trace_headers=True)
    wire = Wire(mail.smtp_port)
    wire.command(b"EHLO client.test")
    wire.command(b"AUTH PLAIN " + base64.b64encode(b"\0user\0pass"))
    start_data(wire)
    wire.send(b"Subject: traced\r\n\r\nbody\r\n.\r\n")
    assert wire.reply().startswith(b"250 ")
    (stored,) = mailbox(mail, "user")
    header, rest = stored.split(b"Subject: traced\r\n", 1)
    assert rest == b"\r\nbody\r\n"
    lines = header.decode().split("\r\n")
    assert lines[0] == "Return-Path: <app@example.org>"
    assert lines[1] == "Received: from client.test ([127.0.0.1])"
    assert lines[2] == "\tby localhost (elektromail) with ESMTPA"
    assert lines[3].startswith("\tfor <user@example.com>; ")
    assert lines[3].endswith(" +0000") and lines[4] == ""


@pytest.mark.parametrize(
    ("greeting", "protocol"), [(b"HELO old.test", "SMTP"), (b"EHLO new.test", "ESMTP")]
)
def test_received_names_the_protocol(
    start_mail: Callable[..., MailServer], greeting: bytes, protocol: str
) -> None:
    mail = start_mail(trace_headers=True)
    wire = Wire(mail.smtp_port)
    wire.command(greeting)
    start_data(wire, b"MAIL FROM:<>")
    wire.send(b"Subject: t\r\n\r\n.\r\n")
    wire.reply()
    (stored,) = mailbox(mail, "user")
    assert stored.startswith(b"Return-Path: <>\r\nReceived: from ")
    assert f"(elektromail) with {protocol}\r\n".encode() in stored


def test_too_many_recipients_follows_the_setting(start_mail: Callable[..., MailServer]) -> None:
    mail = start_mail(max_recipients=2)
    wire = Wire(mail.smtp_port)
    wire.command(b"MAIL FROM:<a@b>")
    assert wire.command(b"RCPT TO:<r1@x>").startswith(b"250 ")
    assert wire.command(b"RCPT TO:<r2@x>").startswith(b"250 ")
    assert wire.command(b"RCPT TO:<r3@x>") == b"452 4.5.3 Too many recipients\r\n"
    assert wire.command(b"DATA").startswith(b"354 ")
    wire.send(b"Subject: two\r\n\r\n.\r\n")
    assert wire.reply().startswith(b"250 ")
    assert mailbox(mail, "r1") == mailbox(mail, "r2") == [b"Subject: two\r\n\r\n"]
    assert mailbox(mail, "r3") is None
