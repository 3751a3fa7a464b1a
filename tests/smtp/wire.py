"""Test helpers for the SMTP suite: a raw socket client that returns replies byte for byte,
and a reader for what a user's mailbox holds."""

from __future__ import annotations

import re
import socket
import ssl

from elektromail import rules
from elektromail.testing import MailServer


class Wire:
    """A plain SMTP client on a socket: sends exactly what it is given, reads whole replies."""

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        timeout: float = 5.0,
        tls: ssl.SSLContext | None = None,  # implicit TLS, for the SMTPS port
    ) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=host)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> bytes:
        """One complete (possibly multi-line) reply, CRLFs included; b"" at end of stream."""
        out = b""
        while True:
            line = self.file.readline()
            out += line
            if not line or line[3:4] == b" ":
                return out

    def command(self, line: bytes) -> bytes:
        self.send(line + b"\r\n")
        return self.reply()

    def replies(self, count: int) -> list[bytes]:
        return [self.reply() for _ in range(count)]

    def at_eof(self) -> bool:
        return self.file.read() == b""

    def start_tls(self, context: ssl.SSLContext) -> None:
        """Wrap the socket in TLS (after a 220 to STARTTLS)."""
        self.file.close()
        self.sock = context.wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.file = self.sock.makefile("rb")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def mailbox(mail: MailServer, user: str, name: str = "INBOX") -> list[bytes] | None:
    """The raw messages in a user's mailbox in UID order; None when the user does not exist."""

    async def read() -> list[bytes] | None:
        store = mail.server.store
        row = await store.get_user(user)
        if row is None:
            return None
        box = await store.get_mailbox(row.id, name)
        _, messages = await store.mailbox_view(box.id)
        fetched = await store.fetch(box.id, [uid for uid, _flags in messages], raw=True)
        return [message.raw for message in fetched]

    return mail.call(read)


ENHANCED = re.compile(rb"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3} ")


def has_enhanced_status(reply: bytes) -> bool:
    """Every line of the reply carries an RFC 2034 enhanced status code."""
    return all(ENHANCED.match(line) for line in reply.splitlines())


def client_context(mail: MailServer) -> ssl.SSLContext:
    """A client TLS context that trusts exactly this server's certificate."""
    mail.call(mail.server.tls.options)  # the certificate is made on first use
    return ssl.create_default_context(cadata=mail.server.tls.certificate_pem.decode("ascii"))


def use_rules(mail: MailServer, data: list[dict], seed: int | None = None) -> None:
    """Put delivery rules in force at run time, as the control API will."""
    mail.server.postoffice.replace_rules(rules.parse(data, seed))
