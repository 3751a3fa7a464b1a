"""A client with Nagle's algorithm on (the default of every socket library) that sends the end of
a command as a second small write waits for the first write's ACK; a server that has nothing to
answer yet delays that ACK (~40 ms on Linux), so each such command took 40 ms or more (imaplib's
APPEND did: the literal, then the CRLF). The server acknowledges at once while a command is
half-read (elektromail.tcp.quick_ack).

A test of the mechanism, not a benchmark: the bound is generous (the median of several tries
under 30 ms, where the stall is at least 40 ms), and the figures live in bench/."""

from __future__ import annotations

import base64
import socket
import statistics
import sys
import time

import pytest

from elektromail.testing import MailServer

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="delayed ACK timing is Linux's"
)

TRIES = 7
BOUND = 0.030  # seconds; the delayed-ACK stall is at least 0.040 on Linux


def nagle_client(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)  # Nagle on, as by default
    return sock


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before {marker!r}: {data!r}")
        data += chunk
    return data


def median_time(attempt) -> float:
    times = []
    for _ in range(TRIES):
        start = time.perf_counter()
        attempt()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@pytest.fixture(scope="module")
def mail():
    with MailServer() as server:
        yield server


def test_imap_append_whose_crlf_comes_alone_is_not_delayed(mail):
    sock = nagle_client(mail.imap_port)
    read_until(sock, b"\r\n")
    sock.sendall(b"a LOGIN user pass\r\n")
    read_until(sock, b"a OK")
    message = b"Subject: nagle\r\n\r\n" + b"x" * 4000 + b"\r\n"

    def append() -> None:
        sock.sendall(b"b APPEND INBOX {%d}\r\n" % len(message))
        read_until(sock, b"+ ")
        sock.sendall(message)  # as imaplib: the literal, then the line's end on its own
        sock.sendall(b"\r\n")
        read_until(sock, b"b OK")

    assert median_time(append) < BOUND
    sock.close()


def test_imap_authenticate_response_in_two_writes_is_not_delayed(mail):
    response = base64.b64encode(b"\0user\0pass")

    def authenticate() -> None:
        sock = nagle_client(mail.imap_port)
        read_until(sock, b"\r\n")
        sock.sendall(b"a AUTHENTICATE PLAIN\r\n")
        read_until(sock, b"+")
        sock.sendall(response)
        sock.sendall(b"\r\n")
        read_until(sock, b"a OK")
        sock.close()

    assert median_time(authenticate) < BOUND


def test_smtp_data_whose_end_comes_alone_is_not_delayed(mail):
    sock = nagle_client(mail.smtp_port)
    read_until(sock, b"220 ")
    sock.sendall(b"EHLO client\r\n")
    read_until(sock, b"250 ")
    body = b"Subject: nagle\r\n\r\n" + b"y" * 4000 + b"\r\n"

    def transaction() -> None:
        sock.sendall(b"MAIL FROM:<a@example.com>\r\n")
        read_until(sock, b"250 ")
        sock.sendall(b"RCPT TO:<user@example.com>\r\n")
        read_until(sock, b"250 ")
        sock.sendall(b"DATA\r\n")
        read_until(sock, b"354 ")
        sock.sendall(body)
        sock.sendall(b".\r\n")
        read_until(sock, b"250 ")

    assert median_time(transaction) < BOUND
    sock.close()


def test_pop3_auth_response_in_two_writes_is_not_delayed(mail):
    """POP3's AUTH continuation (RFC 5034 §4) with the response's CRLF as its own write."""
    response = base64.b64encode(b"\0user\0pass")

    def attempt():
        with nagle_client(mail.pop3_port) as sock:
            read_until(sock, b"\r\n")
            sock.sendall(b"AUTH PLAIN\r\n")
            read_until(sock, b"+ \r\n")
            sock.sendall(response)
            sock.sendall(b"\r\n")
            read_until(sock, b"+OK")
            sock.sendall(b"QUIT\r\n")
            read_until(sock, b"+OK Bye")

    assert median_time(attempt) < BOUND


def test_smtp_bdat_chunk_whose_end_comes_alone_is_not_delayed(mail):
    """RFC 3030 BDAT: the server has nothing to say until the whole chunk is in, so a chunk
    whose last octets come in a second small write waited for the delayed ACK too; and the
    same for the BDAT line's own end coming alone."""
    sock = nagle_client(mail.smtp_port)
    read_until(sock, b"220 ")
    sock.sendall(b"EHLO client\r\n")
    read_until(sock, b"250 ")
    body = b"Subject: nagle\r\n\r\n" + b"z" * 4000 + b"\r\n"
    half = len(body) // 2

    def transaction() -> None:
        sock.sendall(b"MAIL FROM:<a@example.com> BODY=BINARYMIME\r\n")
        read_until(sock, b"250 ")
        sock.sendall(b"RCPT TO:<user@example.com>\r\n")
        read_until(sock, b"250 ")
        sock.sendall(b"BDAT %d\r\n" % half + body[: half - 2])  # a chunk, half-read
        sock.sendall(body[half - 2 : half])
        read_until(sock, b"octets received\r\n")
        sock.sendall(b"BDAT %d LAST" % (len(body) - half))  # the line, half-read
        sock.sendall(b"\r\n" + body[half:])
        read_until(sock, b"Message accepted\r\n")

    assert median_time(transaction) < BOUND
    sock.close()
