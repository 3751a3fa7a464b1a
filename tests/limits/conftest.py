"""One elektromail child process for all of tests/limits, raw IMAP and SMTP clients, and the
server's peak memory (VmHWM, reset through /proc/<pid>/clear_refs before each attack)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import ChildServer
from tests.imap.wire import ImapWire
from tests.smtp.wire import Wire

# One user per test module, so that what one delivers is not in another's mailbox.
USERS = ["literals", "nesting", "big", "seq", "lines"]
PASSWORD = "pw"


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
    opened: list[ImapWire] = []

    def connect(user: str | None) -> ImapWire:
        client = ImapWire(server.imap_port, timeout=20)
        opened.append(client)
        if user is not None:
            client.login(user, PASSWORD)
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
