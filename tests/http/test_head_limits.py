"""A request head over the limits is answered, not dropped: a request line (its URL) over
16 KB is 414 URI Too Long, header fields over 16 KB in all (or one line over it) are 431
Request Header Fields Too Large (RFC 9110 §15.5.15, RFC 6585 §5), each with a JSON error and
`Connection: close`. Before, the connection closed with no answer (curl: "Empty reply from
server")."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess

import pytest
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.web.resource import Resource

from elektromail.http.site import LINGER_BYTES, LINGER_SECONDS, ControlSite

LIMIT = 16 * 1024


def exchange(mail, head: bytes) -> bytes:
    """Send `head` whole, then read the answer until the server closes."""
    with socket.create_connection((mail.host, mail.http_port), timeout=10) as sock:
        sock.sendall(head)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def parsed(answer: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert int(headers["content-length"]) == len(body)
    return status, headers, json.loads(body)


def assert_refused(answer: bytes, status: int, words: str) -> None:
    got, headers, body = parsed(answer)
    assert got == status, answer[:300]
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/json"
    assert set(body) == {"error"} and words in body["error"]


@pytest.mark.parametrize("size", [LIMIT + 1, 70 * 1024, 1024 * 1024])
def test_a_long_url_is_414(mail, api, size):
    path = b"/messages?q=" + b"a" * size
    answer = exchange(mail, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_refused(answer, 414, "URI")
    assert api.get("/healthz").status == 200


def test_a_long_url_without_line_end_yet_is_414(mail):
    # The line is still arriving: the answer comes once it passes the limit.
    with socket.create_connection((mail.host, mail.http_port), timeout=10) as sock:
        sock.sendall(b"GET /" + b"a" * (LIMIT + 10))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert_refused(received, 414, "URI")


def test_one_header_over_16k_is_431(mail, api):
    answer = exchange(
        mail, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 17000 + b"\r\n\r\n"
    )
    assert_refused(answer, 431, "header")
    assert api.get("/healthz").status == 200


def test_many_headers_over_16k_in_all_are_431(mail):
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(20))
    answer = exchange(mail, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert_refused(answer, 431, "header")


def test_a_head_just_under_the_limit_is_served(mail):
    # Request line and header lines (without their CRLF) count towards the 16 KB.
    line = b"GET /healthz HTTP/1.1"
    filler = LIMIT - len(line) - len(b"Host: x") - len(b"Connection: close") - len(b"X-Pad: ")
    head = line + b"\r\nHost: x\r\nConnection: close\r\nX-Pad: " + b"p" * filler + b"\r\n\r\n"
    answer = exchange(mail, head)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_a_malformed_request_is_json_400_with_connection_close(mail):
    answer = exchange(mail, b"NOT HTTP AT ALL\r\n\r\n")
    assert_refused(answer, 400, "malformed")


def test_the_connection_after_a_good_request_is_refused_cleanly(mail):
    # Keep-alive: a first request served, the second's head too big.
    good = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    bad = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n"
    answer = exchange(mail, good + bad)
    first, _, rest = answer.partition(b"HTTP/1.1 431")
    assert first.startswith(b"HTTP/1.1 200") and rest


curl = shutil.which("curl")


@pytest.mark.skipif(curl is None, reason="curl is not installed (Debian package curl)")
@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["-H", "X-Big: " + "b" * 17000], 431),
        ([], 414),
    ],
    ids=["header", "url"],
)
def test_curl_gets_an_answer(mail, args, status):
    url = f"http://{mail.host}:{mail.http_port}/healthz"
    if status == 414:
        url += "?q=" + "a" * (70 * 1024)
    done = subprocess.run(
        [curl, "-sS", "-o", "-", "-w", "\n%{http_code}", *args, url],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr  # not 52, "Empty reply from server"
    body, _, code = done.stdout.rpartition(b"\n")
    assert int(code) == status
    assert "error" in json.loads(body)


class HalfCloseTransport(StringTransport):
    write_closed = False
    aborted = False

    def loseWriteConnection(self):
        self.write_closed = True

    def abortConnection(self):
        self.aborted = True


def refused_channel(clock):
    site = ControlSite(Resource(), max_message_size=1024)
    channel = site.buildProtocol(None)
    channel.callLater = clock.callLater
    transport = HalfCloseTransport()
    channel.makeConnection(transport)
    channel.dataReceived(b"GET /" + b"a" * (LIMIT + 10))
    assert transport.value().startswith(b"HTTP/1.1 414 URI Too Long\r\n")
    assert transport.write_closed and not transport.aborted
    return channel, transport


def test_a_refused_connection_lingers_then_is_aborted():
    clock = Clock()
    channel, transport = refused_channel(clock)
    answered = transport.value()
    channel.dataReceived(b"more of the URL " * 100)  # read and dropped
    assert transport.value() == answered
    clock.advance(LINGER_SECONDS - 0.1)
    assert not transport.aborted
    clock.advance(0.2)
    assert transport.aborted


def test_a_refused_connection_that_sends_too_much_is_aborted_at_once():
    clock = Clock()
    channel, transport = refused_channel(clock)
    channel.dataReceived(b"x" * (LINGER_BYTES + 1))
    assert transport.aborted
    assert not clock.getDelayedCalls()


def test_a_refused_connection_closed_by_the_client_cancels_the_linger():
    clock = Clock()
    channel, _ = refused_channel(clock)
    channel.connectionLost(Failure(ConnectionDone()))
    assert not clock.getDelayedCalls()
