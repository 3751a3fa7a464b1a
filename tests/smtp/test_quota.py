"""QUOTA over SMTP: a recipient whose user has no room gets 552 5.2.2 (RFC 3463 X.2.2 "Mailbox
full") at RCPT when MAIL declared SIZE= (RFC 1870 §6.4), else after DATA; the other
recipients of the transaction still get their copy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from elektromail.testing import MailServer
from tests.smtp.wire import Wire, mailbox

FULL = b"552 5.2.2 Quota exceeded (mailbox for user is full)\r\n"
MESSAGE = b"Subject: q\r\n\r\n" + b"x" * (1000 - len(b"Subject: q\r\n\r\n")) + b"\r\n"


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer(users="user:pass,alice:alice-pw", imap_port=None) as server:
        yield server


@pytest.fixture
def wire(mail: MailServer) -> Iterator[Wire]:
    client = Wire(mail.smtp_port)
    assert client.command(b"EHLO client.test").startswith(b"250-")
    yield client
    client.close()


def limit(mail: MailServer, user: str, storage: int | None = None, messages: int | None = None):
    mail.call(mail.server.postoffice.set_quota, user, storage, messages)


def send(wire: Wire, recipients: list[bytes], message: bytes = MESSAGE, size: bytes = b"") -> list:
    """Every reply of one transaction: MAIL, each RCPT, DATA (if a recipient was taken) and
    the end of data."""
    answers = [wire.command(b"MAIL FROM:<sender@example.org>" + size)]
    answers += [wire.command(b"RCPT TO:<" + r + b">") for r in recipients]
    if any(a.startswith(b"250") for a in answers[1:]):
        answers.append(wire.command(b"DATA"))
        wire.send(message + b".\r\n")
        answers.append(wire.reply())
    return answers


def test_rcpt_with_a_declared_size_over_quota_is_552_5_2_2(mail, wire):
    """RFC 1870 §6.4: "A server that implements this extension may return a 452 or 552 reply
    code in response to a RCPT command, based on its unwillingness to accept a message of the
    declared size for a particular recipient"; RFC 3463: "X.2.2 Mailbox full ... the user has
    exceeded a per-mailbox administrative quota". The other recipient gets the message."""
    limit(mail, "user", storage=1500)
    mail.inject("user", MESSAGE)
    answers = send(wire, [b"user@example.com", b"alice@example.com"], size=b" SIZE=1002")
    assert answers[1] == FULL
    assert answers[2].startswith(b"250 ")
    assert answers[-1] == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "alice") == [MESSAGE]
    assert mailbox(mail, "user") == [MESSAGE]  # the injected one only


def test_rcpt_reaching_the_limit_exactly_is_taken(mail, wire):
    """As Dovecot counts: only what goes past a limit is refused."""
    limit(mail, "user", storage=len(MESSAGE))
    answers = send(wire, [b"user@example.com"], size=b" SIZE=%d" % len(MESSAGE))
    assert answers[1].startswith(b"250 ")
    assert answers[-1] == b"250 2.0.0 Message accepted\r\n"
    assert send(wire, [b"user@example.com"], size=b" SIZE=1")[1] == FULL


def test_the_message_count_limit_is_checked_at_rcpt(mail, wire):
    limit(mail, "user", messages=0)
    assert send(wire, [b"user@example.com"], size=b" SIZE=10")[1] == FULL


def test_without_size_the_only_recipient_over_quota_is_refused_after_data(mail, wire):
    """RFC 5321 §4.2.5 ("the response to the DATA command MUST be an OK reply" only when some
    recipient takes the message): with room for no one, the end of data gets 552 5.2.2 and
    nothing is stored; the client keeps the message."""
    limit(mail, "user", messages=0)
    answers = send(wire, [b"user@example.com", b"user+tag@example.com"])
    assert answers[1].startswith(b"250 ") and answers[2].startswith(b"250 ")
    assert answers[-1] == FULL
    assert mailbox(mail, "user") == []
    assert wire.command(b"NOOP").startswith(b"250")  # the connection goes on


def test_after_data_a_recipient_over_quota_gets_a_dsn_and_the_others_their_copy(mail, wire):
    """RFC 5321 §4.2.5: "the mail data could be successfully delivered to some, but not all,
    of the recipients. In such cases, the response to the DATA command MUST be an OK reply.
    However, the SMTP server MUST compose and send an "undeliverable mail" notification
    message to the originator". Postfix in front of Dovecot does the same: it takes the
    message and bounces it for the recipient Dovecot refuses as over quota."""
    limit(mail, "user", messages=0)
    answers = send(wire, [b"user@example.com", b"alice@example.com"])
    assert answers[-1] == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "alice") == [MESSAGE]
    assert mailbox(mail, "user") == []
    (report,) = mail.wait_for_messages(1, user="sender")
    status = report["raw"].split(b"message/delivery-status", 1)[1].split(b"\r\n--", 1)[0]
    assert status.split(b"\r\n\r\n")[2:] == [
        b"Final-Recipient: rfc822; user@example.com\r\n"
        b"Action: failed\r\n"
        b"Status: 5.2.2\r\n"
        b"Diagnostic-Code: smtp; 552 5.2.2 Quota exceeded (mailbox for user is full)\r\n"
    ]


def test_no_dsn_for_an_over_quota_recipient_that_asked_for_none(mail, wire):
    """RFC 3461 §4.1: NOTIFY=NEVER: no DSN for that recipient."""
    limit(mail, "user", messages=0)
    wire.command(b"MAIL FROM:<sender@example.org>")
    assert wire.command(b"RCPT TO:<user@example.com> NOTIFY=NEVER").startswith(b"250")
    assert wire.command(b"RCPT TO:<alice@example.com>").startswith(b"250")
    wire.command(b"DATA")
    wire.send(MESSAGE + b".\r\n")
    assert wire.reply() == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "alice") == [MESSAGE]
    assert mailbox(mail, "sender") in (None, [])


def test_a_limit_lifted_applies_to_the_next_transaction(mail, wire):
    limit(mail, "user", messages=0)
    assert send(wire, [b"user@example.com"], size=b" SIZE=10")[1] == FULL
    limit(mail, "user")
    assert send(wire, [b"user@example.com"])[-1] == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "user") == [MESSAGE]


def test_with_the_server_wide_setting_a_new_address_has_it_too():
    """A recipient that makes its user (any address is a user here) is under the settings'
    limits from its first message."""
    with MailServer(users="user:pass", imap_port=None, quota_messages=1) as mail:
        wire = Wire(mail.smtp_port)
        wire.command(b"EHLO client.test")
        assert send(wire, [b"new@example.com"])[-1] == b"250 2.0.0 Message accepted\r\n"
        assert send(wire, [b"new@example.com"], size=b" SIZE=5")[1] == FULL
        assert send(wire, [b"new@example.com"])[-1] == FULL
        wire.close()
