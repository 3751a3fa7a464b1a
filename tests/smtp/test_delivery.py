"""Mail in over real sockets: what is stored is exactly what was sent, routed to the right user,
and only acknowledged once stored."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest
from twisted.internet import defer

from elektromail.testing import MailServer
from tests.smtp.wire import Wire, mailbox


def sendmail(mail: MailServer, recipients: list[str], message: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as client:
        refused = client.sendmail("sender@example.org", recipients, message)
    assert refused == {}


def start_data(wire: Wire, recipient: bytes = b"user@example.com") -> None:
    assert wire.command(b"MAIL FROM:<sender@example.org>").startswith(b"250 ")
    assert wire.command(b"RCPT TO:<" + recipient + b">").startswith(b"250 ")
    assert wire.command(b"DATA").startswith(b"354 ")


MESSAGE = (
    b"From: Sender <sender@example.org>\r\n"
    b"To: user@example.com\r\n"
    b"Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b".a line starting with a dot\r\n"
    b"..two dots\r\n"
    b".\r\n"
    b" .\r\n"
    b"Gr\xc3\xbc\xc3\x9fe, \xe2\x82\xac 5 \xf0\x9f\x93\xa7\r\n" + b"long " * 2000 + b"\r\n"
    b"\r\n"
    b"last line\r\n"
)


def test_sendmail_stores_exact_bytes_unstuffed_8bit_and_long_lines(mail: MailServer) -> None:
    sendmail(mail, ["user@example.com"], MESSAGE)
    assert mailbox(mail, "user") == [MESSAGE]


def test_message_without_final_crlf_is_stored_with_the_crlf_smtplib_adds(
    mail: MailServer,
) -> None:
    sendmail(mail, ["user@example.com"], b"Subject: x\r\n\r\nno line end")
    assert mailbox(mail, "user") == [b"Subject: x\r\n\r\nno line end\r\n"]


def test_bare_lf_and_cr_inside_a_line_are_kept(wire: Wire, mail: MailServer) -> None:
    start_data(wire)
    wire.send(b"Subject: raw\r\n\r\nbare\nlf and bare\rcr\r\n.\r\n")
    assert wire.reply() == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "user") == [b"Subject: raw\r\n\r\nbare\nlf and bare\rcr\r\n"]


def test_no_headers_are_added(wire: Wire, mail: MailServer) -> None:
    start_data(wire)
    wire.send(b"body only, no header\r\n.\r\n")
    assert wire.reply().startswith(b"250 2.0.0 ")
    assert mailbox(mail, "user") == [b"body only, no header\r\n"]


def test_two_recipients_reach_two_users(mail: MailServer) -> None:
    message = b"Subject: to both\r\n\r\nhi\r\n"
    sendmail(mail, ["alice@example.com", "bob@elsewhere.test"], message)
    assert mailbox(mail, "alice") == [message]
    assert mailbox(mail, "bob") == [message]
    assert mailbox(mail, "user") == []


def test_plus_address_reaches_the_base_user(mail: MailServer) -> None:
    message = b"Subject: tagged\r\n\r\nhi\r\n"
    sendmail(mail, ["bob+newsletter@x"], message)
    assert mailbox(mail, "bob") == [message]


def test_unknown_local_part_creates_the_user(mail: MailServer) -> None:
    assert mailbox(mail, "carol") is None
    sendmail(mail, ["carol@nowhere.test"], b"Subject: new\r\n\r\nhi\r\n")
    assert mailbox(mail, "carol") == [b"Subject: new\r\n\r\nhi\r\n"]


def test_two_messages_on_one_connection(wire: Wire, mail: MailServer) -> None:
    for n in (b"1", b"2"):
        start_data(wire)
        wire.send(b"Subject: " + n + b"\r\n\r\n.\r\n")
        assert wire.reply() == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "user") == [b"Subject: 1\r\n\r\n", b"Subject: 2\r\n\r\n"]


def test_disconnect_mid_data_stores_nothing(
    open_wire: Callable[[], Wire], mail: MailServer
) -> None:
    leaving = open_wire()
    leaving.command(b"EHLO leaving.test")
    start_data(leaving)
    leaving.send(b"Subject: half\r\n\r\nthe first half\r\n")
    leaving.close()
    staying = open_wire()
    staying.command(b"EHLO staying.test")
    start_data(staying)
    staying.send(b"Subject: whole\r\n\r\n.\r\n")
    assert staying.reply().startswith(b"250 ")
    assert mailbox(mail, "user") == [b"Subject: whole\r\n\r\n"]


def test_delivery_failure_answers_451_and_the_connection_stays_usable(
    wire: Wire, mail: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        mail.server.postoffice, "deliver", lambda *a: defer.fail(RuntimeError("disk on fire"))
    )
    start_data(wire)
    wire.send(b"Subject: lost\r\n\r\n.\r\n")
    assert wire.reply() == (b"451 4.3.0 Requested action aborted: local error in processing\r\n")
    monkeypatch.undo()
    start_data(wire)
    wire.send(b"Subject: kept\r\n\r\n.\r\n")
    assert wire.reply().startswith(b"250 2.0.0 ")
    assert mailbox(mail, "user") == [b"Subject: kept\r\n\r\n"]


def test_message_over_the_size_ceiling_answers_552_after_the_dot(
    wire: Wire, mail: MailServer
) -> None:
    mail.server.factories["smtp"].max_message_bytes = 100
    start_data(wire)
    wire.send(b"Subject: big\r\n\r\n" + b"x" * 60 + b"\r\n" + b"y" * 60 + b"\r\n.\r\n")
    assert wire.reply() == b"552 5.3.4 Message too big\r\n"
    assert wire.command(b"NOOP") == b"250 2.0.0 OK\r\n"
    assert mailbox(mail, "user") == []


def test_message_line_far_over_the_command_line_limit_is_stored(
    wire: Wire, mail: MailServer
) -> None:
    start_data(wire)
    message = b"Subject: wide\r\n\r\n<html>" + b"w" * 100_000 + b"</html>\r\n"
    wire.send(message + b".\r\n")
    assert wire.reply() == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "user") == [message]


def test_message_line_over_the_size_limit_answers_552_and_stores_nothing(
    wire: Wire, mail: MailServer
) -> None:
    mail.server.factories["smtp"].max_message_bytes = 1000
    start_data(wire)
    wire.send(b"Subject: wide\r\n\r\n" + b"w" * 100_000 + b"\r\nRSET\r\nmore\r\n.\r\n")
    assert wire.reply() == b"552 5.3.4 Message too big\r\n"
    assert wire.command(b"NOOP") == b"250 2.0.0 OK\r\n"
    assert mailbox(mail, "user") == []
