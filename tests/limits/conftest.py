"""One elektromail child process for all of tests/limits, raw IMAP and SMTP clients, and the
server's peak memory (VmHWM, reset through /proc/<pid>/clear_refs before each attack)."""

from __future__ import annotations

import re
import socket
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import ChildServer
from tests.smtp.wire import Wire

# One user per test module, so that what one delivers is not in another's mailbox.
USERS = ["literals", "nesting", "big", "seq", "lines"]
PASSWORD = "pw"
_LITERAL_AT_END = re.compile(rb"\{(\d+)\}\r\n\Z")


class Server:
    """The child server: its ports and its memory."""

    def __init__(self, child: ChildServer) -> None:
        self.child = child
        self.pid = child.process.pid
        self.imap_port = child.ports["imap"]
        self.smtp_port = child.ports["smtp"]
        self.http_port = child.ports["http"]

    def _status_kb(self, field: str) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise AssertionError(f"no {field} for {self.pid}")

    def reset_peak(self) -> int:
        """Set the peak to the current RSS (Linux >= 4.0) and return it in MB. Where the
        kernel refuses, the peak so far is the base: a weaker bound, still a bound."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as clear:
                clear.write("5")
        except OSError:
            return self.peak_mb()
        return self._status_kb("VmRSS") // 1024

    def peak_mb(self) -> int:
        return self._status_kb("VmHWM") // 1024

    def alive(self) -> bool:
        return self.child.process.poll() is None


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    if not sys.platform.startswith("linux"):
        pytest.skip("peak memory is read from /proc")
    users = ",".join(f"{name}:{PASSWORD}" for name in USERS)
    child = ChildServer(
        [
            sys.executable,
            "-m",
            "elektromail",
            *("--smtp-port", "0", "--imap-port", "0", "--http-port", "0"),
        ],
        env={"ELEKTROMAIL_USERS": users},
    )
    try:
        yield Server(child.wait_ready())
    finally:
        child.stop()


class Imap:
    """A raw IMAP connection: send bytes, read lines (with their literals) or a tagged reply."""

    def __init__(self, port: int, user: str | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buffer = b""
        self.greeting = self.line()
        if user is not None:
            assert self.command(b"l LOGIN " + user.encode() + b" " + PASSWORD.encode()).startswith(
                b"l OK"
            )

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(1 << 20)
        self.buffer += chunk
        return bool(chunk)

    def line(self) -> bytes:
        """One response line, literals included; b"" at the end of the stream."""
        out = b""
        while True:
            end = self.buffer.find(b"\r\n")
            while end < 0:
                if not self._fill():
                    return out + self.buffer
                end = self.buffer.find(b"\r\n")
            out += self.buffer[: end + 2]
            self.buffer = self.buffer[end + 2 :]
            match = _LITERAL_AT_END.search(out)
            if match is None:
                return out
            size = int(match.group(1))
            while len(self.buffer) < size:
                if not self._fill():
                    raise ConnectionError("stream ended inside a literal")
            out += self.buffer[:size]
            self.buffer = self.buffer[size:]

    def until(self, tag: bytes) -> bytes:
        """Every line up to and including the one tagged `tag`."""
        out = b""
        while True:
            line = self.line()
            out += line
            if not line or line.startswith(tag + b" "):
                return out

    def command(self, line: bytes) -> bytes:
        """Send a tagged command line; its tag is its first word."""
        self.send(line + b"\r\n")
        return self.until(line.split(b" ", 1)[0])

    def at_eof(self) -> bool:
        while self._fill():
            pass
        return True

    def close(self) -> None:
        self.sock.close()


class Smtp(Wire):
    """A raw SMTP connection (tests/smtp's Wire, with a longer timeout for big messages) that
    can run a whole transaction."""

    def __init__(self, port: int) -> None:
        super().__init__(port, timeout=20)

    def deliver(self, recipient: str, message: bytes) -> bytes:
        """A whole transaction; returns the reply to the end of data."""
        assert self.command(b"EHLO limits.test").startswith(b"250")
        assert self.command(b"MAIL FROM:<sender@example.com>").startswith(b"250")
        assert self.command(f"RCPT TO:<{recipient}@example.com>".encode()).startswith(b"250")
        assert self.command(b"DATA").startswith(b"354")
        stuffed = re.sub(rb"(?m)^\.", b"..", message)
        self.send(stuffed + (b"" if stuffed.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        return self.reply()


@pytest.fixture
def imap(server: Server) -> Iterator:
    """imap(user) opens a logged-in connection (user None: not logged in); all closed after."""
    opened: list[Imap] = []

    def connect(user: str | None) -> Imap:
        client = Imap(server.imap_port, user)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()
    assert server.alive()


@pytest.fixture
def smtp(server: Server) -> Iterator:
    opened: list[Smtp] = []

    def connect() -> Smtp:
        client = Smtp(server.smtp_port)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()
    assert server.alive()
