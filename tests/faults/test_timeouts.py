"""Idle clients are ended by the inactivity timeouts of each protocol (--smtp-timeout,
--imap-login-timeout, --imap-timeout, --http-timeout), here set to fractions of a second;
half-sent data is dropped with them and their sessions are released."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from elektromail.testing import MailServer
from tests.faults.conftest import (
    Line,
    imap_login,
    message,
    settled,
    start_handshake,
    subscribers,
)

TIMEOUT = 0.5  # seconds


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer(
        users="user:pass",
        smtp_timeout=TIMEOUT,
        imap_login_timeout=TIMEOUT,
        imap_timeout=TIMEOUT,
        http_timeout=TIMEOUT,
        smtps_port=0,
        imaps_port=0,
    ) as server:
        yield server


# --- SMTP -------------------------------------------------------------------------------------


def smtp_session(mail: MailServer) -> Line:
    client = Line(mail.smtp_port)
    assert client.line().startswith(b"220 ")
    return client


def test_smtp_client_idle_after_the_greeting_gets_421_and_is_closed(mail):
    """RFC 5321 §3.8: the server may close "After a timeout, as specified in Section
    4.5.3.2, occurs waiting for the client to send a command or data"; §4.2.3 "421 <domain>
    Service not available, closing transmission channel"; RFC 3463 §3.5 X.4.2 "Bad connection"."""
    client = smtp_session(mail)
    assert client.line() == b"421 4.4.2 localhost timeout, closing connection\r\n"
    assert client.rest() == b""
    settled(mail, "smtp")


def test_smtp_client_idle_mid_data_is_closed_and_its_message_dropped(mail):
    """RFC 5321 §4.5.3.2.5 "Data Block": the server times out a client that stops sending
    in the middle of the message; nothing of it is kept (§4.2.5: no 250, no delivery)."""
    client = smtp_session(mail)
    for command in (b"HELO slow.test", b"MAIL FROM:<a@faults.test>", b"RCPT TO:<user@x>", b"DATA"):
        client.send(command + b"\r\n")
        client.line()
    client.send(message("stalled", 5000)[:3000])
    assert client.line().startswith(b"421 4.4.2 ")
    assert client.rest() == b""
    settled(mail, "smtp")
    assert mail.messages("user") == []


# --- IMAP -------------------------------------------------------------------------------------


def test_imap_client_idle_before_login_gets_bye_and_is_closed(mail):
    """RFC 9051 §7.1.5: BYE is sent "as an announcement of an inactivity autologout. The
    server closes the connection immediately." (--imap-login-timeout)"""
    client = Line(mail.imap_port)
    assert client.line().startswith(b"* OK ")
    assert client.line().startswith(b"* BYE ")
    assert client.rest() == b""
    settled(mail, "imap")


def test_imap_client_idle_in_a_selected_mailbox_gets_bye_and_its_session_ends(mail):
    """RFC 9051 §5.4: "If a server has an inactivity autologout timer ... the duration of
    that timer MUST be at least 30 minutes" by default (--imap-timeout, 1800 s); the session
    and its subscription to the mailbox's changes end with it."""
    base = subscribers(mail)
    client = imap_login(mail.imap_port)
    assert client.status("SELECT INBOX").startswith(b"OK")
    assert client.line().startswith(b"* BYE ")
    assert client.rest() == b""
    settled(mail, "imap")
    assert subscribers(mail) == base


def test_imap_client_idle_mid_append_literal_is_closed_and_nothing_stored(mail):
    """A literal that stops arriving ends with the session; APPEND stored nothing (RFC 9051
    §6.3.12: the message is appended only when the command succeeds)."""
    client = imap_login(mail.imap_port)
    raw = message("stalled", 5000)
    client.send(b"a APPEND INBOX {%d+}\r\n" % len(raw) + raw[:3000])
    assert client.line().startswith(b"* BYE ")
    assert client.rest() == b""
    settled(mail, "imap")
    assert mail.messages("user") == []


def test_imap_client_idle_during_idle_is_logged_out(mail):
    """RFC 2177 §3: a server "MAY consider a client inactive if it has an IDLE command
    running, and if such a server has an inactivity timeout it MAY log the client off
    implicitly at the end of its timeout period"."""
    base = subscribers(mail)
    client = imap_login(mail.imap_port)
    assert client.status("SELECT INBOX").startswith(b"OK")
    client.send(b"i IDLE\r\n")
    assert client.line().startswith(b"+ ")
    assert client.line().startswith(b"* BYE ")
    assert client.rest() == b""
    settled(mail, "imap")
    assert subscribers(mail) == base


# --- TLS that never starts ---------------------------------------------------------------------


@pytest.mark.parametrize("listener", ["smtps", "imaps", "smtp", "imap"])
def test_tls_client_that_never_sends_its_hello_is_dropped(mail, listener):
    """Silent on a TLS port, or after STARTTLS: the timeout's goodbye would go over TLS and
    so waits for the handshake, which never comes; one timeout later the connection is
    aborted instead of being kept for ever."""
    client = start_handshake(mail, listener)
    assert client.dropped() == b""  # nothing in plaintext, and no TLS to say goodbye over
    settled(mail, listener)


@pytest.mark.parametrize("listener", ["smtps", "imaps"])
def test_tls_client_refused_at_the_limit_that_never_handshakes_is_dropped(listener):
    """The refusal (421 or BYE) goes over TLS too: a client beyond the limit that never
    shakes hands is aborted a timeout later, so such clients cannot pile up."""
    settings = {f"{listener}_port": 0, "max_connections": 1}
    with MailServer(smtp_timeout=TIMEOUT, imap_login_timeout=TIMEOUT, **settings) as mail:
        holder = Line(mail.server.port(listener))
        settled(mail, listener, 1)
        refused = Line(mail.server.port(listener))
        assert refused.dropped() == b""
        assert holder.dropped() == b""
        settled(mail, listener)


# --- HTTP -------------------------------------------------------------------------------------


def test_http_connection_that_sends_nothing_is_closed(mail):
    client = Line(mail.http_port)
    assert client.rest() == b""
    settled(mail, "http")


def test_http_request_head_that_stops_arriving_is_closed(mail):
    client = Line(mail.http_port)
    client.send(b"GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert client.rest() == b""
    settled(mail, "http")


def test_http_keep_alive_connection_is_closed_once_idle(mail):
    """RFC 9112 §9.8: "A client, server, or proxy MAY close the transport connection at any
    time", which a server does to an idle persistent connection."""
    conn = http.client.HTTPConnection(mail.host, mail.http_port, timeout=10)
    conn.request("GET", "/config")
    response = conn.getresponse()
    assert response.status == 200
    response.read()
    settled(mail, "http")  # closed by the server, not by the client
    conn.close()


def test_http_long_poll_outlasts_the_idle_timeout(mail):
    """The idle timeout counts between requests only: a wait for mail (here 3 times the
    timeout) is answered, not cut off."""
    conn = http.client.HTTPConnection(mail.host, mail.http_port, timeout=10)
    conn.request("GET", f"/messages?wait={3 * TIMEOUT}")
    response = conn.getresponse()
    assert response.status == 200
    assert json.loads(response.read())["timed_out"] is True
    conn.close()
    settled(mail, "http")
