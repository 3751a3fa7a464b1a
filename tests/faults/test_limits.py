"""The connection limit (--max-connections, per listener): a connection beyond it is answered
`* BYE`, `421` or `503` and closed at once, the ones already open keep working, the other
listeners are not affected, and a place freed is taken again."""

from __future__ import annotations

import http.client
import imaplib
import json
import logging
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from elektromail.config import ConfigError, resolve
from elektromail.testing import MailServer
from tests.faults.conftest import Line, imap_login, settled
from tests.imap.wire import unverified_tls

LIMIT = 3
IMAP_REFUSAL = b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n"
SMTP_REFUSAL = b"421 4.3.2 localhost too many connections, try again later\r\n"


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer(users="user:pass", max_connections=LIMIT, imaps_port=0) as server:
        yield server


def greeted(port: int, tls: bool = False) -> Line:
    client = Line(port)
    if tls:
        client.start_tls()
    return client


def refusal_warnings(caplog, protocol: str) -> int:
    return sum(
        r.getMessage().startswith(f"{protocol}: ") and "refusing more" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    )


@pytest.mark.parametrize("listener", ["imap", "imaps"])
def test_imap_connection_beyond_the_limit_gets_bye_and_is_closed(mail, listener, caplog):
    """RFC 9051 §7.1.5: BYE is one of the greetings, "indicating that the server is not
    willing to accept a connection from this client. The server closes the connection
    immediately." RFC 5530 §3: "UNAVAILABLE Temporary failure"."""
    caplog.set_level(logging.WARNING, logger="elektromail")
    port, tls = mail.server.port(listener), listener == "imaps"
    clients = [greeted(port, tls) for _ in range(LIMIT)]
    for client in clients:
        assert client.line().startswith(b"* OK ")
    for _ in range(2):
        extra = greeted(port, tls)
        assert extra.line() == IMAP_REFUSAL
        assert extra.rest() == b""
    assert refusal_warnings(caplog, "IMAP") == 1  # once per time the limit is reached
    assert clients[0].status("LOGIN user pass").startswith(b"OK")  # the admitted work on
    clients.pop().close()
    settled(mail, listener, LIMIT - 1)
    again = greeted(port, tls)
    assert again.line().startswith(b"* OK ")
    assert again.status("NOOP").startswith(b"OK")


def test_smtp_connection_beyond_the_limit_gets_421_and_is_closed(mail):
    """RFC 5321 §3.8: the server may close the connection "After detecting the need to shut
    down the SMTP service and returning a 421 response code"; §4.2.3 "421 <domain> Service not
    available, closing transmission channel"; RFC 3463 §3.4 X.3.2 "System not accepting network
    messages"."""
    clients = [greeted(mail.smtp_port) for _ in range(LIMIT)]
    for client in clients:
        assert client.line().startswith(b"220 ")
    extra = greeted(mail.smtp_port)
    assert extra.line() == SMTP_REFUSAL
    assert extra.rest() == b""
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        smtplib.SMTP(mail.host, mail.smtp_port, timeout=10)
    assert refused.value.smtp_code == 421
    clients.pop().close()
    settled(mail, "smtp", LIMIT - 1)
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("a@faults.test", ["user@faults.test"], b"Subject: in\r\n\r\nhi\r\n")
    assert [m["subject"] for m in mail.messages("user")] == ["in"]


def http_get(mail: MailServer, conn: http.client.HTTPConnection | None = None):
    conn = conn or http.client.HTTPConnection(mail.host, mail.http_port, timeout=10)
    conn.request("GET", "/config")
    response = conn.getresponse()
    return conn, response, response.read()


def test_http_connection_beyond_the_limit_gets_503_json_and_is_closed(mail):
    """RFC 9110 §15.6.4: 503 "the server is currently unable to handle the request due to a
    temporary overload"; §10.2.3 Retry-After; RFC 9112 §9.6 "Connection: close"."""
    kept = []
    for _ in range(LIMIT):  # persistent connections, each still open after its answer
        conn, response, _ = http_get(mail)
        assert response.status == 200
        kept.append(conn)
    conn, response, body = http_get(mail)
    assert response.status == 503
    assert response.getheader("Content-Type") == "application/json"
    assert response.getheader("Retry-After") == "1"
    assert response.getheader("Connection") == "close"
    assert json.loads(body) == {"error": "too many connections, try again later"}
    conn.close()
    assert http_get(mail, kept[0])[1].status == 200  # the admitted work on
    kept.pop().close()
    settled(mail, "http", LIMIT - 1)
    assert http_get(mail)[1].status == 200


def test_each_listener_has_its_own_limit(mail):
    """IMAP clients holding every IMAP place do not keep mail from arriving over SMTP."""
    clients = [imap_login(mail.imap_port) for _ in range(LIMIT)]
    assert greeted(mail.imap_port).line() == IMAP_REFUSAL
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("a@faults.test", ["user@faults.test"], b"Subject: in\r\n\r\nhi\r\n")
    imaps = imaplib.IMAP4_SSL(mail.host, mail.server.port("imaps"), ssl_context=unverified_tls())
    with imaps:
        assert imaps.login("user", "pass")[0] == "OK"
    for client in clients:
        client.close()


def test_a_flood_of_connections_is_refused_and_the_server_serves_on(mail):
    """Many more connections than the limit, opened at once: each extra one is answered and
    closed, none is kept open, and the server answers as before."""
    kept = [greeted(mail.imap_port) for _ in range(LIMIT)]
    flood = [greeted(mail.imap_port) for _ in range(60)]
    for client in flood:
        assert client.line() == IMAP_REFUSAL
        assert client.rest() == b""
        client.close()
    settled(mail, "imap", LIMIT)
    for client in kept:
        assert client.line().startswith(b"* OK ")
        assert client.status("LOGIN user pass").startswith(b"OK")
        client.close()
    settled(mail, "imap")


@pytest.mark.parametrize(
    ("option", "env", "attr", "default"),
    [
        ("max-connections", "ELEKTROMAIL_MAX_CONNECTIONS", "max_connections", 1000),
        ("http-timeout", "ELEKTROMAIL_HTTP_TIMEOUT", "http_timeout", 60),
    ],
)
def test_limit_settings_come_from_option_env_or_default(option, env, attr, default):
    assert getattr(resolve({}, {}), attr) == default
    assert getattr(resolve({}, {env: "7"}), attr) == 7
    assert getattr(resolve({option: "5"}, {env: "7"}), attr) == 5
    with pytest.raises(ConfigError, match=f"--{option}='0'"):
        resolve({option: "0"}, {})
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert f"| `--{option}` | `{env}` | `{default}` |" in readme
