"""Helpers for the fault tests: a raw line client that can vanish mid-way, polls with a
deadline, and what a running MailServer holds open (connections, event subscribers)."""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Callable

from elektromail.testing import MailServer

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


class Line:
    """A raw client: sends bytes as given, reads lines, and can vanish (close, or reset)."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = DEADLINE) -> None:
        self.sock: socket.socket | ssl.SSLSocket = socket.create_connection(
            (host, port), timeout=timeout
        )
        self.buffer = b""
        self.tags = 0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        """The next line without its CRLF; AssertionError at end of stream."""
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise AssertionError(f"connection closed; unread: {self.buffer!r}")
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def until(self, prefix: bytes) -> list[bytes]:
        """Lines up to and including the first that starts with `prefix`."""
        lines = []
        while True:
            lines.append(self.line())
            if lines[-1].startswith(prefix):
                return lines

    def command(self, text: str | bytes) -> list[bytes]:
        """An IMAP command under a new tag: its responses, the tagged one last."""
        self.tags += 1
        tag = b"f%d " % self.tags
        self.send(tag + (text.encode() if isinstance(text, str) else text) + b"\r\n")
        return self.until(tag)

    def status(self, text: str | bytes) -> bytes:
        """The tagged response of an IMAP command, without the tag."""
        return self.command(text)[-1].split(b" ", 1)[1]

    def append(self, mailbox: str, raw: bytes) -> bytes:
        """The tagged response of APPEND, the message sent as a LITERAL+ (RFC 7888)."""
        return self.status(b"APPEND %s {%d+}\r\n%s" % (mailbox.encode(), len(raw), raw))

    def read_some(self, size: int) -> bytes:
        """At least `size` bytes (fewer only at end of stream)."""
        while len(self.buffer) < size and self._fill():
            pass
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def rest(self) -> bytes:
        """Everything until the server closes the connection."""
        while self._fill():
            pass
        data, self.buffer = self.buffer, b""
        return data

    def dropped(self) -> bytes:
        """What the server sent before it closed or reset the connection."""
        try:
            return self.rest()
        except ConnectionResetError:
            return self.buffer

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def start_tls(self) -> None:
        context = client_tls()
        self.sock = context.wrap_socket(self.sock, server_hostname="127.0.0.1")

    def close(self) -> None:
        self.sock.close()

    def reset(self) -> None:
        """Vanish abruptly: close with an RST, dropping whatever is unread or unsent."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def client_tls() -> ssl.SSLContext:
    """TLS for the server's self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def client_hello() -> bytes:
    """The first flight of a TLS client (its ClientHello), made without a socket."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client_tls().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
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
        client.until(b"250 ")
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
    assert client.until(b"l ")[-1].startswith(b"l OK")
    return client


def message(ident: str, size: int = 0) -> bytes:
    """A message with `ident` as subject and Message-ID, padded to about `size` bytes."""
    head = (
        f"From: app@faults.test\r\nTo: user@faults.test\r\nSubject: {ident}\r\n"
        f"Message-ID: <{ident}@faults.test>\r\n\r\n"
    ).encode()
    line = b"x" * 76 + b"\r\n"
    return head + line * max(1, (size - len(head)) // len(line))
