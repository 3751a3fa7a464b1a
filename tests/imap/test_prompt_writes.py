"""Answers leave when they are ready: written to the socket in the call that makes them (not a
reactor turn later) when nothing waits before them, and a short FETCH answer together with its
tagged status in one write."""

from __future__ import annotations

from elektromail.testing import MailServer
from tests.faults.conftest import imap_login, message


def _protocol(mail: MailServer):
    [protocol] = mail.server.factories["imap"].connections
    return protocol


def _unsent(transport) -> int:
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


def test_an_answer_goes_to_the_socket_in_the_call_that_sends_it() -> None:
    with MailServer(users="user:pass") as mail:
        client = imap_login(mail.imap_port)

        def send() -> int:
            protocol = _protocol(mail)
            protocol.send(b"* OK now\r\n")
            return _unsent(protocol.transport)

        assert mail.call(send) == 0  # nothing left for the next writable event
        assert client.line() == b"* OK now\r\n"
        client.close()


def test_an_answer_queues_behind_bytes_the_transport_still_holds() -> None:
    with MailServer(users="user:pass") as mail:
        client = imap_login(mail.imap_port)

        def send() -> int:
            protocol = _protocol(mail)
            protocol.transport.write(b"* OK first\r\n")  # waits for the next writable event
            protocol.send(b"* OK second\r\n")
            return _unsent(protocol.transport)

        assert mail.call(send) == len(b"* OK first\r\n* OK second\r\n")
        assert client.line() == b"* OK first\r\n"
        assert client.line() == b"* OK second\r\n"
        client.close()


def test_a_short_fetch_answer_and_its_tagged_ok_leave_in_one_write() -> None:
    with MailServer(users="user:pass") as mail:
        mail.inject("user", message("short", 4000))
        client = imap_login(mail.imap_port)
        assert client.status("SELECT INBOX").startswith(b"OK")
        writes: list[bytes] = []

        def record() -> None:
            protocol = _protocol(mail)
            send = protocol.send

            def recording(data: bytes) -> None:
                writes.append(bytes(data))
                send(data)

            protocol.send = recording

        mail.call(record)
        lines = client.tagged("FETCH 1 (UID FLAGS BODY.PEEK[])")
        assert lines[-1].endswith(b" OK FETCH completed\r\n")
        assert len(writes) == 1, writes
        assert b"* 1 FETCH (UID 1 FLAGS (" in writes[0] and b" BODY[] {" in writes[0]
        client.close()
