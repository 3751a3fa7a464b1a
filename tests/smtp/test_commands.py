"""The SMTP dialogue over a raw socket: exact replies, sequencing errors, pipelining, limits
and connection handling."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from elektromail.testing import MailServer
from tests.smtp.wire import Wire, mailbox


def test_greeting(open_wire: Callable[[], Wire]) -> None:
    assert open_wire().greeting == b"220 localhost elektromail ESMTP ready\r\n"


def test_ehlo_lists_every_extension(open_wire: Callable[[], Wire]) -> None:
    wire = open_wire()
    assert wire.command(b"EHLO client.test") == (
        b"250-localhost Hello [127.0.0.1]\r\n"
        b"250-PIPELINING\r\n"
        b"250-SIZE 52428800\r\n"
        b"250-8BITMIME\r\n"
        b"250-BINARYMIME\r\n"
        b"250-CHUNKING\r\n"
        b"250-SMTPUTF8\r\n"
        b"250-ENHANCEDSTATUSCODES\r\n"
        b"250-DSN\r\n"
        b"250-STARTTLS\r\n"
        b"250 AUTH PLAIN LOGIN\r\n"
    )


def test_ehlo_advertises_the_size_setting() -> None:
    with MailServer(imap_port=None, max_message_size=1234) as mail:
        wire = Wire(mail.smtp_port)
        assert b"250-SIZE 1234\r\n" in wire.command(b"EHLO client.test")
        wire.close()


def test_helo(open_wire: Callable[[], Wire]) -> None:
    assert open_wire().command(b"HELO client.test") == b"250 localhost Hello [127.0.0.1]\r\n"


@pytest.mark.parametrize("verb", [b"EHLO", b"HELO"])
def test_greeting_command_without_hostname_is_501(
    open_wire: Callable[[], Wire], verb: bytes
) -> None:
    assert open_wire().command(verb).startswith(b"501 5.5.4 ")


def test_mail_is_accepted_without_ehlo(open_wire: Callable[[], Wire]) -> None:
    assert open_wire().command(b"MAIL FROM:<a@b>") == b"250 2.1.0 Sender OK\r\n"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"NOOP", b"250 2.0.0 OK\r\n"),
        (b"noop with an argument", b"250 2.0.0 OK\r\n"),
        (b"RSET", b"250 2.0.0 Reset OK\r\n"),
        (b"VRFY bob", b"252 2.5.0 Cannot VRFY user, but will accept message for any address\r\n"),
        (b"XYZZY", b"500 5.5.1 Command unrecognized\r\n"),
        (b"STARTTLS now", b"501 5.5.4 Syntax error: no arguments allowed\r\n"),
        (b"EXPN list", b"500 5.5.1 Command unrecognized\r\n"),
        (b"\xff\xfe\x00 garbage", b"500 5.5.1 Command unrecognized\r\n"),
        (b"", b"500 5.5.2 Syntax error: empty command\r\n"),
        (b"RCPT TO:<bob@x>", b"503 5.5.1 Need MAIL before RCPT\r\n"),
        (b"DATA", b"503 5.5.1 Need MAIL before DATA\r\n"),
        (b"MAIL FROM:<a@b", b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n"),
        (b"MAIL TO:<a@b>", b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n"),
        (b"MAIL FROM:<a@b@c>", b"501 5.1.7 Bad sender address syntax\r\n"),
        (b"QUIT now", b"501 5.5.4 Syntax error: no arguments allowed\r\n"),
    ],
    ids=[
        "noop",
        "noop-argument",
        "rset",
        "vrfy",
        "unknown",
        "starttls-argument",
        "expn",
        "binary",
        "empty",
        "rcpt-before-mail",
        "data-before-mail",
        "mail-syntax",
        "mail-to",
        "mail-bad-address",
        "quit-argument",
    ],
)
def test_single_command_replies(wire: Wire, line: bytes, expected: bytes) -> None:
    assert wire.command(line) == expected
    assert wire.command(b"NOOP") == b"250 2.0.0 OK\r\n"


@pytest.mark.parametrize("line", [b"HELP", b"HELP MAIL"])
def test_help_answers_214_with_the_commands(wire: Wire, line: bytes) -> None:
    reply = wire.command(line)
    assert reply.startswith(b"214-2.0.0 ")
    assert b"214 2.0.0 Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT" in reply


def test_quit_answers_221_and_closes(wire: Wire) -> None:
    assert wire.command(b"QUIT") == b"221 2.0.0 localhost closing connection\r\n"
    assert wire.at_eof()


def test_transaction_sequence_errors(wire: Wire) -> None:
    assert wire.command(b"MAIL FROM:<a@b>") == b"250 2.1.0 Sender OK\r\n"
    assert wire.command(b"MAIL FROM:<a@b>") == b"503 5.5.1 Sender already specified\r\n"
    assert wire.command(b"DATA") == b"503 5.5.1 Need RCPT before DATA\r\n"
    assert wire.command(b"RCPT TO:<>") == b"501 5.5.4 Syntax: RCPT TO:<address>\r\n"
    assert wire.command(b"RCPT TO:<bob@x>") == b"250 2.1.5 Recipient OK\r\n"
    assert wire.command(b"DATA extra") == b"501 5.5.4 Syntax error: no arguments allowed\r\n"


@pytest.mark.parametrize("path", [b"<a@b@c>", b"<@x:>", b"<@>"])
def test_malformed_recipient_address_is_501(wire: Wire, path: bytes) -> None:
    wire.command(b"MAIL FROM:<a@b>")
    assert wire.command(b"RCPT TO:" + path) == b"501 5.1.3 Bad recipient address syntax\r\n"


def test_null_sender_is_accepted(wire: Wire) -> None:
    assert wire.command(b"MAIL FROM:<>") == b"250 2.1.0 Sender OK\r\n"


def test_mail_parameters_are_accepted(wire: Wire) -> None:
    assert wire.command(b"MAIL FROM:<a@b> BODY=8BITMIME") == b"250 2.1.0 Sender OK\r\n"


@pytest.mark.parametrize("reset", [b"RSET", b"EHLO again.test", b"HELO again.test"])
def test_rset_and_ehlo_end_the_transaction(wire: Wire, reset: bytes) -> None:
    wire.command(b"MAIL FROM:<a@b>")
    assert wire.command(reset).startswith(b"250")
    assert wire.command(b"RCPT TO:<bob@x>") == b"503 5.5.1 Need MAIL before RCPT\r\n"


def test_too_many_recipients_answers_452(wire: Wire, mail: MailServer) -> None:
    mail.server.factories["smtp"].max_recipients = 2
    wire.command(b"MAIL FROM:<a@b>")
    assert wire.command(b"RCPT TO:<r1@x>").startswith(b"250 ")
    assert wire.command(b"RCPT TO:<r2@x>").startswith(b"250 ")
    assert wire.command(b"RCPT TO:<r3@x>") == b"452 4.5.3 Too many recipients\r\n"


def test_command_line_over_the_limit_answers_500_and_stays_usable(wire: Wire) -> None:
    assert wire.command(b"NOOP " + b"x" * 100_000) == b"500 5.5.2 Line too long\r\n"
    assert wire.command(b"NOOP") == b"250 2.0.0 OK\r\n"


def test_pipelined_transaction_answers_in_order(wire: Wire, mail: MailServer) -> None:
    wire.send(b"MAIL FROM:<a@b>\r\nRCPT TO:<alice@x>\r\nRCPT TO:<bob@y>\r\nDATA\r\n")
    assert wire.replies(4) == [
        b"250 2.1.0 Sender OK\r\n",
        b"250 2.1.5 Recipient OK\r\n",
        b"250 2.1.5 Recipient OK\r\n",
        b"354 Start mail input; end with <CRLF>.<CRLF>\r\n",
    ]
    wire.send(b"Subject: piped\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    assert wire.replies(2) == [
        b"250 2.0.0 Message accepted\r\n",
        b"221 2.0.0 localhost closing connection\r\n",
    ]
    assert wire.at_eof()
    assert mailbox(mail, "alice") == [b"Subject: piped\r\n\r\nbody\r\n"]
    assert mailbox(mail, "bob") == [b"Subject: piped\r\n\r\nbody\r\n"]


def test_two_messages_in_one_burst_are_both_stored_in_order(wire: Wire, mail: MailServer) -> None:
    burst = b"".join(
        b"MAIL FROM:<a@b>\r\nRCPT TO:<user@x>\r\nDATA\r\nSubject: %d\r\n\r\n.\r\n" % n
        for n in (1, 2)
    )
    wire.send(burst + b"NOOP\r\n")
    codes = [reply[:3] for reply in wire.replies(9)]
    assert codes == [b"250", b"250", b"354", b"250", b"250", b"250", b"354", b"250", b"250"]
    assert mailbox(mail, "user") == [b"Subject: 1\r\n\r\n", b"Subject: 2\r\n\r\n"]


def test_pipelined_auth_is_finished_before_the_next_command(wire: Wire, mail: MailServer) -> None:
    plain = base64.b64encode(b"\0user\0pass")
    wire.send(b"AUTH PLAIN " + plain + b"\r\nAUTH PLAIN " + plain + b"\r\nMAIL FROM:<a@b>\r\n")
    assert wire.replies(3) == [
        b"235 2.7.0 Authentication successful\r\n",
        b"503 5.5.1 Already authenticated\r\n",
        b"250 2.1.0 Sender OK\r\n",
    ]


def test_malformed_input_on_one_connection_leaves_another_working(
    open_wire: Callable[[], Wire], mail: MailServer
) -> None:
    bad = open_wire()
    good = open_wire()
    assert good.command(b"EHLO good.test").startswith(b"250-")
    bad.send(b"\x00\xff\r\nAUTH PLAIN !!!notbase64\r\nAUTH PLAIN\r\n" + b"z" * 50_000 + b"\r\n")
    assert [reply[:9] for reply in bad.replies(4)] == [
        b"500 5.5.1",
        b"501 5.5.2",
        b"334 \r\n",
        b"500 5.5.2",
    ]
    assert good.command(b"MAIL FROM:<a@b>").startswith(b"250 ")
    assert good.command(b"RCPT TO:<user@x>").startswith(b"250 ")
    assert good.command(b"DATA").startswith(b"354 ")
    good.send(b"Subject: fine\r\n\r\n.\r\n")
    assert good.reply().startswith(b"250 ")
    assert bad.command(b"NOOP") == b"250 2.0.0 OK\r\n"
    assert mailbox(mail, "user") == [b"Subject: fine\r\n\r\n"]


def test_stopping_the_server_says_421_and_closes_connections(
    open_wire: Callable[[], Wire], mail: MailServer
) -> None:
    wire = open_wire()
    wire.command(b"EHLO client.test")
    mail.stop()
    assert wire.reply() == b"421 4.3.2 localhost shutting down\r\n"
    assert wire.at_eof()


def test_connections_use_tcp_nodelay(wire: Wire, mail: MailServer) -> None:
    factory = mail.server.factories["smtp"]
    flags = mail.call(lambda: [c.transport.getTcpNoDelay() for c in factory.connections])
    assert flags == [True]
