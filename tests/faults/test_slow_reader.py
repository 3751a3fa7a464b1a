"""A client that reads a long FETCH answer slowly: the server waits for it instead of holding
the whole answer in memory (RFC 9051 §6.4.5 FETCH of 1:* BODY[] is one command, but nothing
says its response must be built at once)."""

from __future__ import annotations

import socket

from twisted.internet import defer

from elektromail.imap.commands.fetch import BODY_BYTES
from elektromail.testing import MailServer
from tests.faults.conftest import Line, imap_login, message, wait_until

MESSAGES = 200
SIZE = 200_000  # 40 MB in all: five times what one batch of bodies may read


def buffered(mail: MailServer) -> tuple[int, bool]:
    """(bytes the server's one IMAP connection holds unsent, whether its FETCH waits for the
    client to read)."""

    def look() -> tuple[int, bool]:
        [protocol] = mail.server.factories["imap"].connections
        transport = protocol.transport
        unsent = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        waiting = transport.producer is not None and protocol.connection.waiting_for_client
        return unsent, waiting

    return mail.call(look)


def test_a_slow_reader_gets_the_whole_answer_without_the_server_buffering_it():
    with MailServer(users="user:pass") as mail:

        async def fill() -> None:
            postoffice = mail.server.postoffice
            await defer.gatherResults(
                [
                    postoffice.inject("user", "INBOX", message(f"m{n}", SIZE))
                    for n in range(MESSAGES)
                ]
            )

        mail.call(fill)
        client = imap_login(mail.imap_port)
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        assert client.status("SELECT INBOX").startswith(b"OK")
        client.send(b"a FETCH 1:* BODY.PEEK[]\r\n")
        # Reading nothing: the server fills the socket, then waits (or, were it not to wait,
        # piles the answer up in memory, which ends the wait too).
        bound = BODY_BYTES * 1.5
        wait_until(
            lambda: buffered(mail)[1] or buffered(mail)[0] > bound,
            "the FETCH waits for the client, or buffers beyond one batch",
        )
        unsent, waiting = buffered(mail)
        assert waiting and unsent < bound, (unsent, waiting)
        # Now read it all: every message arrives, and the command completes.
        lines = client.lines_until(b"a ")
        assert sum(b" FETCH (BODY[] {" in line for line in lines) == MESSAGES
        assert lines[-1].startswith(b"a OK")
        assert client.status("NOOP").startswith(b"OK")
        client.close()


def test_a_paced_answer_after_starttls_completes():
    """The same pacing over TLS (RFC 9051 §6.2.1): the TLS layer pauses and resumes the answer
    as the client reads; a second FETCH on the connection works too."""
    with MailServer(users="user:pass") as mail:
        for n in range(40):
            mail.inject("user", message(f"t{n}", SIZE))
        client = Line(mail.imap_port)
        assert client.line().startswith(b"* OK")
        assert client.status("STARTTLS").startswith(b"OK")
        client.start_tls()
        assert client.status("LOGIN user pass").startswith(b"OK")
        assert client.status("SELECT INBOX").startswith(b"OK")
        for _ in range(2):
            lines = client.tagged("FETCH 1:* BODY.PEEK[]")
            assert sum(b" FETCH (BODY[] {" in line for line in lines) == 40
            assert lines[-1].split(b" ")[1] == b"OK"
        client.close()
