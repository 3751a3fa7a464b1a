"""The raw IMAP client as the mailbox-command tests use it (exact lines), plus mail fixtures."""

from __future__ import annotations

from elektromail.testing import MailServer
from tests.imap.wire import ImapWire


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


class Wire(ImapWire):
    """The shared raw client, logged in, with each command's answer as the mailbox tests compare
    it: the untagged responses and the tagged status (without its tag), all without CRLF
    (a literal stays inside its response)."""

    def __init__(self, mail: MailServer, user: str | None = "user", password: str = "pass"):
        super().__init__(mail.imap_port, mail.host)
        if user is not None:
            self.login(user, password)

    def exchange(self, text: str | bytes) -> tuple[list[bytes], bytes]:
        *untagged, tagged = (line.removesuffix(b"\r\n") for line in self.tagged(text))
        return untagged, tagged.split(b" ", 1)[1]

    def ok(self, text: str | bytes) -> list[bytes]:
        untagged, status = self.exchange(text)
        assert status.startswith(b"OK"), (text, untagged, status)
        return untagged


def list_lines(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if line.startswith((b"* LIST", b"* LSUB", b"* STATUS"))]
