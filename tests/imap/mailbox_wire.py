"""A raw IMAP connection for exact-line tests of the mailbox commands, plus mail fixtures."""

from __future__ import annotations

import re
import socket

from elektromail.testing import MailServer

_LITERAL_AT_END = re.compile(rb"\{(\d+)\}$")


def message(subject: str = "hello", body: bytes = b"body\r\n") -> bytes:
    return (
        b"From: App <app@example.com>\r\nTo: user@example.com\r\n"
        + b"Subject: "
        + subject.encode()
        + b"\r\nMessage-ID: <"
        + subject.encode()
        + b"@example.com>\r\n\r\n"
        + body
    )


def deliver(mail: MailServer, mailbox: str, *messages: bytes, to: str = "user@example.com"):
    """Store messages in `mailbox` (created when missing, without parents) through the post
    office, as the HTTP API's inject does."""
    for raw in messages:
        mail.call(mail.server.postoffice.deliver, [to], raw, mailbox)


class Wire:
    """One connection; `command` sends a tagged command and returns (untagged lines, the tagged
    status line without its tag). Literals in responses are joined into their line."""

    def __init__(self, mail: MailServer, user: str | None = "user", password: str = "pass"):
        self.sock = socket.create_connection((mail.host, mail.imap_port), timeout=10)
        self.buffer = b""
        self.count = 0
        self.greeting = self.line()
        if user is not None:
            self.ok(f"LOGIN {user} {password}")

    def line(self) -> bytes:
        line = self._raw_line()
        while (match := _LITERAL_AT_END.search(line)) is not None:
            line += b"\r\n" + self._read(int(match.group(1))) + self._raw_line()
        return line

    def _raw_line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed; pending {self.buffer!r}")
        self.buffer += chunk

    def command(self, text: str | bytes) -> tuple[list[bytes], bytes]:
        self.count += 1
        tag = b"t%d" % self.count
        data = text.encode() if isinstance(text, str) else text
        self.sock.sendall(tag + b" " + data + b"\r\n")
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                return untagged, line[len(tag) + 1 :]
            untagged.append(line)

    def ok(self, text: str | bytes) -> list[bytes]:
        untagged, status = self.command(text)
        assert status.startswith(b"OK"), (text, untagged, status)
        return untagged

    def status_of(self, text: str | bytes) -> bytes:
        return self.command(text)[1]

    def close(self) -> None:
        self.sock.close()


def list_lines(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if line.startswith((b"* LIST", b"* LSUB", b"* STATUS"))]
