"""Clients that vanish mid-way: in an APPEND literal, in DATA, in a TLS handshake, in IDLE, in
a long FETCH. None leaves part of a message behind, none leaves its session (connection,
event subscription) behind, and a second client works during and after.

RFC 5321 §3.8: a client whose connection breaks "SHOULD ... treat the mail transaction as if a
451 response had been received": it will send the message again, so the server must not have
kept any of it. RFC 9051 §6.3.12: APPEND stores the message only on success.
"""

from __future__ import annotations

import imaplib
import smtplib
import socket
from collections.abc import Iterator

import pytest
from twisted.internet import defer

from elektromail.testing import MailServer
from tests.faults.conftest import (
    Line,
    client_hello,
    imap_login,
    message,
    open_connections,
    settled,
    start_handshake,
    subscribers,
    wait_until,
)
from tests.imap.wire import unverified_tls


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer(users="user:pass", smtps_port=0, imaps_port=0, http_port=None) as server:
        yield server


def subjects(mail: MailServer) -> list[str]:
    return [m["subject"] for m in mail.messages("user")]


def send(mail: MailServer, subject: str) -> None:
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("app@faults.test", ["user@faults.test"], message(subject))


def vanish(client: Line, how: str) -> None:
    """Go away with a FIN (`close`) or an RST (`reset`)."""
    if how == "close":
        client.close()
    else:
        client.reset()


# --- mid-literal, mid-DATA --------------------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "reset"])
@pytest.mark.parametrize("literal", ["{%d}", "{%d+}"])
def test_append_cut_mid_literal_stores_nothing(mail, literal, how):
    """A half-sent APPEND literal (synchronising, or LITERAL+ of RFC 7888) is dropped with its
    session, while another session appends to the same mailbox."""
    base = subscribers(mail)
    other = imap_login(mail.imap_port)
    assert other.status("SELECT INBOX").startswith(b"OK")
    client = imap_login(mail.imap_port)
    raw = message("cut", 200_000)
    client.send(b"a APPEND INBOX " + (literal % len(raw)).encode() + b"\r\n")
    if "+" not in literal:
        assert client.line().startswith(b"+ ")
    client.send(raw[: len(raw) // 2])
    assert other.append("INBOX", message("during")).startswith(b"OK [APPENDUID ")
    vanish(client, how)
    settled(mail, "imap", 1)
    assert other.append("INBOX", message("after")).startswith(b"OK [APPENDUID ")
    assert subjects(mail) == ["during", "after"]
    other.close()
    settled(mail, "imap", 0)
    assert subscribers(mail) == base


@pytest.mark.parametrize("how", ["close", "reset"])
def test_smtp_client_gone_mid_data_stores_nothing(mail, how):
    """RFC 5321 §4.1.1.4: the message is complete only at <CRLF>.<CRLF>; before it, nothing
    was accepted, and another client's mail goes through meanwhile."""
    client = Line(mail.smtp_port)
    assert client.line().startswith(b"220 ")
    for command, reply in (
        (b"EHLO gone.test", b"250 "),
        (b"MAIL FROM:<app@faults.test>", b"250 "),
        (b"RCPT TO:<user@faults.test>", b"250 "),
        (b"DATA", b"354 "),
    ):
        client.send(command + b"\r\n")
        assert client.lines_until(reply)[-1].startswith(reply)
    raw = message("cut", 200_000)
    client.send(raw[: len(raw) // 2])
    send(mail, "during")
    vanish(client, how)
    settled(mail, "smtp")
    send(mail, "after")
    assert subjects(mail) == ["during", "after"]
    settled(mail, "smtp")


# --- mid-TLS-handshake ------------------------------------------------------------------------

LISTENERS = ["smtp", "imap", "smtps", "imaps"]  # STARTTLS on the first two


def still_serves(mail: MailServer, listener: str) -> None:
    """A whole session over TLS on the listener."""
    port = mail.server.port(listener)
    if listener.startswith("smtp"):
        tls = listener == "smtps"
        smtp = (
            smtplib.SMTP_SSL(mail.host, port, context=unverified_tls(), timeout=10)
            if tls
            else smtplib.SMTP(mail.host, port, timeout=10)
        )
        with smtp:
            if not tls:
                smtp.starttls(context=unverified_tls())
            assert smtp.noop()[0] == 250
    else:
        imap = (
            imaplib.IMAP4_SSL(mail.host, port, ssl_context=unverified_tls(), timeout=10)
            if listener == "imaps"
            else imaplib.IMAP4(mail.host, port, timeout=10)
        )
        with imap:
            if listener == "imap":
                imap.starttls(unverified_tls())
            assert imap.login("user", "pass")[0] == "OK"


@pytest.mark.parametrize("cut", ["before-hello", "mid-hello", "after-hello"])
@pytest.mark.parametrize("listener", LISTENERS)
def test_client_gone_mid_tls_handshake_frees_its_connection(mail, listener, cut):
    """Gone before its ClientHello, half-way through it, or after it (the server's reply
    unread): the connection is released and TLS keeps working for others."""
    bystander = imap_login(mail.imap_port)
    client = start_handshake(mail, listener)
    hello = client_hello()
    if cut == "mid-hello":
        client.send(hello[: len(hello) // 2])
    elif cut == "after-hello":
        client.send(hello)
        assert client.read_some(5)[:1] == b"\x16"  # a TLS handshake record: the ServerHello
    assert bystander.status("NOOP").startswith(b"OK")
    client.reset()
    settled(mail, listener, 0 if listener != "imap" else 1)
    still_serves(mail, listener)
    assert bystander.status("NOOP").startswith(b"OK")
    bystander.close()
    for name in LISTENERS:
        settled(mail, name)


# --- IDLE -------------------------------------------------------------------------------------


def idle(mail: MailServer) -> Line:
    client = imap_login(mail.imap_port)
    assert client.status("SELECT INBOX").startswith(b"OK")
    client.send(b"i IDLE\r\n")
    assert client.line().startswith(b"+ ")
    return client


@pytest.mark.parametrize("how", ["close", "reset"])
def test_client_gone_during_idle_leaves_no_subscriber_and_others_idle_on(mail, how):
    """RFC 2177 §3: while idling, the server sends untagged EXISTS as mail arrives; a client
    that left takes its subscription with it, and the next delivery reaches the others."""
    base = subscribers(mail)
    watcher = idle(mail)
    client = idle(mail)
    assert subscribers(mail) == base + 2
    mail.inject("user", message("one"))
    assert client.line() == b"* 1 EXISTS\r\n"
    assert watcher.line() == b"* 1 EXISTS\r\n"
    vanish(client, how)
    settled(mail, "imap", 1)
    assert subscribers(mail) == base + 1
    mail.inject("user", message("two"))
    assert watcher.lines_until(b"* 2 EXISTS")
    watcher.send(b"DONE\r\n")
    assert watcher.lines_until(b"i ")[-1].startswith(b"i OK")
    watcher.close()
    settled(mail, "imap")
    assert subscribers(mail) == base


# --- a long FETCH -----------------------------------------------------------------------------

MESSAGES = 2_000
SIZE = 5_000  # 10 MB in all: far more than the socket buffers hold


def fill(mail: MailServer) -> None:
    async def inject() -> None:
        postoffice = mail.server.postoffice
        await defer.gatherResults(
            [postoffice.inject("user", "INBOX", message(f"m{n}", SIZE)) for n in range(MESSAGES)]
        )

    mail.call(inject)


def test_client_gone_during_a_long_fetch_frees_its_session_and_others_fetch_on(mail):
    """The client reads the first bytes of a 10 MB FETCH answer and resets the connection
    while the server still writes; another session fetches from the same mailbox during and
    after."""
    fill(mail)
    client = imap_login(mail.imap_port)
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    assert client.status("SELECT INBOX").startswith(b"OK")
    client.send(b"a FETCH 1:* BODY.PEEK[]\r\n")
    assert client.read_some(65536).startswith(b"* 1 FETCH (BODY[] {")
    other = imap_login(mail.imap_port)
    assert other.status("SELECT INBOX").startswith(b"OK")
    assert other.status(f"FETCH {MESSAGES} (UID FLAGS)").startswith(b"OK")
    client.reset()
    settled(mail, "imap", 1)
    answer = other.tagged(f"FETCH {MESSAGES} BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
    assert answer[-1].split(b" ")[1] == b"OK"
    assert any(f"Subject: m{MESSAGES - 1}".encode() in line for line in answer)
    assert other.tagged("SEARCH SEEN")[0] == b"* SEARCH\r\n"  # PEEK set no flag
    other.close()
    settled(mail, "imap")
    assert open_connections(mail, "imap") == 0


# --- HTTP waits -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/messages?wait=30", "/events"])
def test_http_client_gone_during_a_wait_leaves_no_subscriber(path):
    """A long-poll for mail, or the event stream, whose client leaves: its subscription to
    deliveries goes with it, and the next delivery is stored and served as usual."""
    with MailServer(users="user:pass") as mail:
        base = subscribers(mail)
        client = Line(mail.http_port)
        client.send(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        wait_until(lambda: subscribers(mail) > base, "the request waits on events")
        client.reset()
        settled(mail, "http")
        wait_until(lambda: subscribers(mail) == base, "its subscription ended")
        mail.inject("user", message("after"))
        assert subjects(mail) == ["after"]
