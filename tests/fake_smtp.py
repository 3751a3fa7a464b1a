"""A scripted SMTP server for the relay tests: it offers the EHLO keywords a test names (so an
upstream without 8BITMIME exists), records every line it was sent, and gives the reply a test
names to the message data. Run in the reactor thread of elektromail.testing."""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet import protocol
from twisted.protocols import basic

from elektromail.testing import call_in_reactor, reactor_in_thread


class _Session(basic.LineReceiver):
    delimiter = b"\r\n"
    MAX_LENGTH = 1_000_000

    def connectionMade(self):
        self.in_data = False
        self.data: list[bytes] = []
        self.sendLine(b"220 fake.test ESMTP")

    def lineReceived(self, line: bytes):
        upstream: FakeUpstream = self.factory.upstream
        if self.in_data:
            if line == b".":
                self.in_data = False
                upstream.messages.append(b"".join(x + b"\r\n" for x in self.data))
                self.sendLine(upstream.data_reply)
            else:  # RFC 5321 §4.5.2: "the first character is deleted"
                self.data.append(line[1:] if line.startswith(b".") else line)
            return
        upstream.lines.append(line)
        verb = line.split(b" ", 1)[0].upper()
        if verb == b"EHLO":
            keywords = [b"fake.test", *upstream.keywords]
            for keyword in keywords[:-1]:
                self.sendLine(b"250-" + keyword)
            self.sendLine(b"250 " + keywords[-1])
        elif verb == b"DATA":
            self.in_data, self.data = True, []
            self.sendLine(b"354 go ahead")
        elif verb == b"QUIT":
            self.sendLine(b"221 bye")
            self.transport.loseConnection()
        else:
            self.sendLine(b"250 ok")


class FakeUpstream:
    """`with FakeUpstream([b"8BITMIME"]) as up:` listens on a free port (`up.port`); after a
    send, `up.lines` are the commands it got and `up.messages` the messages (unstuffed)."""

    def __init__(
        self, keywords: Sequence[bytes] = (b"8BITMIME",), data_reply: bytes = b"250 ok"
    ) -> None:
        self.keywords = list(keywords)
        self.data_reply = data_reply
        self.lines: list[bytes] = []
        self.messages: list[bytes] = []
        self.port = 0
        self._listening = None

    def __enter__(self) -> FakeUpstream:
        factory = protocol.Factory.forProtocol(_Session)
        factory.upstream = self

        def listen():
            return reactor_in_thread().listenTCP(0, factory, interface="127.0.0.1")

        self._listening = call_in_reactor(listen)
        self.port = self._listening.getHost().port
        return self

    def __exit__(self, *exc: object) -> None:
        call_in_reactor(self._listening.stopListening)

    def mail_from(self) -> bytes:
        return next(line for line in self.lines if line.upper().startswith(b"MAIL FROM:"))
