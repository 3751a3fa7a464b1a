"""Helpers for the fault tests: the raw client that can vanish mid-way, polls with a deadline,
and what a running MailServer holds open (connections, event subscribers)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable

from elektromail.testing import MailServer
from tests.imap.wire import ImapWire, unverified_tls

DEADLINE = 10.0  # seconds any wait in these tests may take before it fails


def wait_until(check: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    """Poll `check` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.005)


def open_connections(mail: MailServer, listener: str) -> int:
    """How many connections the listener (smtp, imap, http, smtps, imaps) holds open now."""

    def count() -> int:
        factory = mail.server.factories[listener]
        live = getattr(factory, "connections", None)
        return len(live if live is not None else factory.protocols)

    return mail.call(count)


def subscribers(mail: MailServer) -> int:
    """How many event subscribers the server has: each selected IMAP session holds one."""
    # Events has no public count; this is the one place that looks inside it.
    return mail.call(lambda: len(mail.server.events._subscribers))


def settled(mail: MailServer, listener: str, expected: int = 0) -> None:
    """Wait until `listener` holds exactly `expected` open connections."""
    wait_until(
        lambda: open_connections(mail, listener) == expected,
        f"{listener} back to {expected} open connection(s)",
    )


class Line(ImapWire):
    """The shared raw client on any port (IMAP, SMTP, HTTP), which reads nothing first, and can
    vanish (close, or reset); `append` sends its message as a LITERAL+ (RFC 7888)."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = DEADLINE) -> None:
        super().__init__(port, host, timeout=timeout, greeting=False)

    def append(self, mailbox: str, raw: bytes) -> bytes:
        """The tagged response of APPEND, without tag and CRLF."""
        return self.status(b"APPEND %s {%d+}\r\n%s" % (mailbox.encode(), len(raw), raw))


def client_hello() -> bytes:
    """The first flight of a TLS client (its ClientHello), made without a socket."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = unverified_tls().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def start_handshake(mail: MailServer, listener: str) -> Line:
    """A connection whose next bytes must be a TLS ClientHello: on the SMTPS and IMAPS ports at
    once, on the SMTP and IMAP ports after STARTTLS."""
    client = Line(mail.server.port(listener))
    if listener == "smtp":
        assert client.line().startswith(b"220 ")
        client.send(b"EHLO gone.test\r\n")
        client.lines_until(b"250 ")
        client.send(b"STARTTLS\r\n")
        assert client.line().startswith(b"220 ")  # RFC 3207 §4: "220 Ready to start TLS"
    elif listener == "imap":
        assert client.line().startswith(b"* OK")
        # RFC 9051 §6.2.1: the TLS negotiation begins after the tagged OK
        assert client.status("STARTTLS").startswith(b"OK")
    return client


def imap_login(port: int, user: str = "user", password: str = "pass") -> Line:
    client = Line(port)
    assert client.line().startswith(b"* OK")
    client.send(f"l LOGIN {user} {password}\r\n".encode())
    assert client.lines_until(b"l ")[-1].startswith(b"l OK")
    return client


def message(ident: str, size: int = 0) -> bytes:
    """A message with `ident` as subject and Message-ID, padded to about `size` bytes."""
    head = (
        f"From: app@faults.test\r\nTo: user@faults.test\r\nSubject: {ident}\r\n"
        f"Message-ID: <{ident}@faults.test>\r\n\r\n"
    ).encode()
    line = b"x" * 76 + b"\r\n"
    return head + line * max(1, (size - len(head)) // len(line))
