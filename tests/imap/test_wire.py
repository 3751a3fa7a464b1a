"""The suite's raw IMAP client (tests/imap/wire.py) against a scripted peer on a loopback
socket: framing of responses and literals, the end of the stream, timeouts, TLS guard."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.imap.wire import (
    ConnectionClosed,
    ImapWire,
    ResponseTimeout,
    is_single_line,
    literal_length,
)


class Peer:
    """The server side of one connection: sends what a test scripts, reads what came."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(5)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def received(self, count: int) -> bytes:
        data = b""
        while len(data) < count and (chunk := self.sock.recv(count - len(data))):
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()

    def reset(self) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


@pytest.fixture
def connect() -> Iterator[Callable[..., tuple[ImapWire, Peer]]]:
    """connect(greeting=b"...") -> (wire, peer); the peer sends `greeting` first if given."""
    listener = socket.create_server(("127.0.0.1", 0))
    opened: list[tuple[ImapWire, Peer]] = []

    def open_pair(greeting: bytes | None = None, timeout: float = 5.0) -> tuple[ImapWire, Peer]:
        accepted: list[Peer] = []

        def accept() -> None:
            sock, _ = listener.accept()
            accepted.append(Peer(sock))
            if greeting is not None:
                accepted[0].send(greeting)

        thread = threading.Thread(target=accept)
        thread.start()
        port = listener.getsockname()[1]
        wire = ImapWire(port, timeout=timeout, greeting=greeting is not None)
        thread.join(5)
        opened.append((wire, accepted[0]))
        return wire, accepted[0]

    yield open_pair
    for wire, peer in opened:
        wire.close()
        peer.close()
    listener.close()


# --- framing, pure ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "length"),
    [
        (b"* 1 FETCH (BODY[] {5}\r\n", 5),
        (b"* 1 FETCH (BINARY[] ~{12}\r\n", 12),
        (b"a APPEND INBOX {7+}\r\n", 7),
        (b"* 1 FETCH (BODY[] {5})\r\n", None),
        (b"* OK {5} in the middle\r\n", None),
        (b"* OK no literal\r\n", None),
    ],
    ids=["literal", "literal8", "literal-plus", "closed-after", "inside-text", "none"],
)
def test_literal_length_reads_the_announcement_at_the_end_of_a_line(line, length):
    assert literal_length(line) == length


@pytest.mark.parametrize(
    ("line", "single"),
    [
        (b"+ Ready for literal data\r\n", True),
        (b"+ {5}\r\n", True),
        (b"a BAD unknown command {5}\r\n", True),
        (b"* bye {5}\r\n", True),
        (b"* PREAUTH {5}\r\n", True),
        (b"* 1 FETCH (BODY[] {5}\r\n", False),
        (b'* LIST () "/" {5}\r\n', False),
        (b"*\r\n", False),
    ],
    ids=["continuation", "continuation-braces", "tagged-bad", "bye-any-case", "preauth",
         "fetch", "list", "bare-star"],
)  # fmt: skip
def test_status_responses_and_continuations_never_carry_literals(line, single):
    assert is_single_line(line) is single


# --- responses over a socket --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "after"),
    [
        (b"* OK hi\r\n", b"* 2 EXISTS\r\n"),
        (b"* 1 FETCH (BODY[] {5}\r\nab\r\nc)\r\n", b"* OK\r\n"),
        (b"* 1 FETCH (BODY[1] {2}\r\nxy BODY[2] {3}\r\n\r\nz)\r\n", b""),
        (b"* 1 FETCH (BINARY[] ~{2}\r\n\x00\x01)\r\n", b""),
        (b"* 1 FETCH (BODY[] {0}\r\n)\r\n", b""),
        (b"a BAD what is {5}\r\n", b"* OK next\r\n"),
    ],
    ids=["line", "literal", "two-literals", "literal8", "empty-literal", "status-braces"],
)
def test_line_is_one_response_with_its_literals(connect, response, after):
    wire, peer = connect()
    peer.send(response + after)
    assert wire.line() == response
    if after:
        assert wire.line() == after


def test_a_response_split_across_many_writes_is_joined(connect):
    wire, peer = connect()
    for byte in b"* 1 FETCH (BODY[] {3}\r\nabc)\r\n":
        peer.send(bytes([byte]))
    assert wire.line() == b"* 1 FETCH (BODY[] {3}\r\nabc)\r\n"


def test_greeting_is_read_first(connect):
    wire, _ = connect(greeting=b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
    assert wire.greeting == b"* OK [CAPABILITY IMAP4rev1] ready\r\n"


def test_until_collects_everything_up_to_the_tagged_response(connect):
    wire, peer = connect()
    peer.send(b"* 1 EXISTS\r\nb OK not mine\r\na OK done\r\n* 2 EXISTS\r\n")
    assert wire.until(b"a") == b"* 1 EXISTS\r\nb OK not mine\r\na OK done\r\n"
    assert wire.line() == b"* 2 EXISTS\r\n"


def test_command_sends_the_line_with_crlf_and_reads_its_tag(connect):
    wire, peer = connect()
    peer.send(b"* CAPABILITY IMAP4rev1\r\nc1 OK CAPABILITY completed\r\n")
    assert wire.responses(b"c1 CAPABILITY") == [
        b"* CAPABILITY IMAP4rev1\r\n",
        b"c1 OK CAPABILITY completed\r\n",
    ]
    assert peer.received(len(b"c1 CAPABILITY\r\n")) == b"c1 CAPABILITY\r\n"


def test_tagged_commands_get_fresh_tags_and_status_drops_tag_and_crlf(connect):
    wire, peer = connect()
    peer.send(b"w1 OK first\r\nw2 NO [TRYCREATE] second\r\n")
    assert wire.tagged("NOOP") == [b"w1 OK first\r\n"]
    assert wire.status(b"SELECT x") == b"NO [TRYCREATE] second"
    assert peer.received(len(b"w1 NOOP\r\nw2 SELECT x\r\n")) == b"w1 NOOP\r\nw2 SELECT x\r\n"


def test_lines_until_stops_at_a_prefix_not_only_a_tag(connect):
    wire, peer = connect()
    peer.send(b"* 1 EXISTS\r\n* 2 EXISTS\r\n* 3 EXISTS\r\n")
    assert wire.lines_until(b"* 2 EXISTS") == [b"* 1 EXISTS\r\n", b"* 2 EXISTS\r\n"]


def test_login_fails_unless_the_server_says_ok(connect):
    wire, peer = connect()
    peer.send(b"l NO [AUTHENTICATIONFAILED] no\r\n")
    with pytest.raises(AssertionError, match="AUTHENTICATIONFAILED"):
        wire.login("user", "wrong")
    assert peer.received(len(b"l LOGIN user wrong\r\n")) == b"l LOGIN user wrong\r\n"


# --- the end of the stream, and waiting ---------------------------------------------------------


def test_line_is_empty_once_the_server_closed(connect):
    wire, peer = connect()
    peer.send(b"* BYE bye\r\n")
    peer.close()
    assert wire.line() == b"* BYE bye\r\n"
    assert wire.line() == b""
    assert wire.closed


def test_line_returns_an_unterminated_rest_at_the_end(connect):
    wire, peer = connect()
    peer.send(b"* BY")
    peer.close()
    assert wire.line() == b"* BY"


def test_a_stream_ending_inside_a_literal_is_an_error(connect):
    wire, peer = connect()
    peer.send(b"* 1 FETCH (BODY[] {10}\r\nabc")
    peer.close()
    with pytest.raises(ConnectionClosed, match="inside a literal"):
        wire.line()


def test_waiting_for_a_tag_fails_when_the_server_closes_first(connect):
    wire, peer = connect()
    peer.send(b"* 1 EXISTS\r\n")
    peer.close()
    with pytest.raises(ConnectionClosed):
        wire.until(b"a")


def test_silence_fails_with_response_timeout_naming_the_conversation(connect):
    wire, _ = connect(timeout=0.05)
    wire.send(b"a NOOP\r\n")
    with pytest.raises(ResponseTimeout, match="C: a NOOP"):
        wire.until(b"a")


def test_rest_reads_to_the_close_and_at_eof_says_whether_anything_came(connect):
    wire, peer = connect()
    peer.send(b"* BYE\r\nleft")
    peer.close()
    assert wire.rest() == b"* BYE\r\nleft"
    assert wire.at_eof()


def test_rest_refuses_a_reset_that_dropped_forgives(connect):
    strict, peer = connect()
    peer.reset()
    with pytest.raises(ConnectionClosed):
        strict.rest()
    lenient, peer = connect()
    peer.send(b"* partial")
    peer.reset()
    assert lenient.dropped() in (b"", b"* partial")  # an RST may discard what was unread


def test_rest_times_out_while_the_connection_stays_open(connect):
    wire, _ = connect(timeout=5)
    with pytest.raises(ResponseTimeout, match="still open"):
        wire.rest(timeout=0.05)
    assert wire.timeout == 5 and wire.sock.gettimeout() == 5


@pytest.mark.parametrize(
    ("sent", "asked", "expected"),
    [(b"abcdef", 4, b"abcd"), (b"ab", 4, b"ab"), (b"", 4, b"")],
    ids=["enough", "fewer-at-the-end", "nothing"],
)
def test_read_some_takes_up_to_count_bytes(connect, sent, asked, expected):
    wire, peer = connect()
    peer.send(sent)
    peer.close()
    assert wire.read_some(asked) == expected


def test_read_chunk_returns_what_came_without_waiting_for_more(connect):
    wire, peer = connect()
    peer.send(b"\x15\x03\x03")
    assert wire.read_chunk() == b"\x15\x03\x03"
    peer.close()
    assert wire.read_chunk() == b""


def test_read_exact_fails_when_the_stream_ends_short(connect):
    wire, peer = connect()
    peer.send(b"abc")
    peer.close()
    with pytest.raises(ConnectionClosed):
        wire.read_exact(4)


# --- the client ending the connection -----------------------------------------------------------


def test_shutdown_write_is_a_half_close_the_server_still_answers_through(connect):
    wire, peer = connect()
    wire.send(b"a LOGOUT\r\n")
    wire.shutdown_write()
    assert peer.received(100) == b"a LOGOUT\r\n"  # then end of stream, not a wait
    peer.send(b"* BYE\r\na OK LOGOUT completed\r\n")
    assert wire.until(b"a") == b"* BYE\r\na OK LOGOUT completed\r\n"


def test_reset_vanishes_with_an_rst(connect):
    wire, peer = connect()
    wire.reset()
    with pytest.raises(ConnectionResetError):
        peer.sock.recv(1)


# --- TLS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "later",
    [False, True],
    ids=["same-write", "in-the-socket"],
)
def test_start_tls_refuses_cleartext_after_the_ok(connect, later):
    """Cleartext after the STARTTLS OK is an answer to injected plaintext (CVE-2011-0411),
    whether the client's reader has taken it in already or it still waits in the socket."""
    wire, peer = connect()
    ok = b"a OK Begin TLS negotiation now\r\n"
    peer.send(ok if later else ok + b"* CAPABILITY IMAP4rev1\r\n")
    assert wire.line() == ok
    if later:
        peer.send(b"*")
    with pytest.raises(AssertionError, match="cleartext after the STARTTLS OK"):
        wire.start_tls()


def test_transcript_keeps_the_start_of_long_exchanges(connect):
    wire, _ = connect()
    wire.send(b"a APPEND INBOX {5000+}\r\n" + b"x" * 5000 + b"\r\n")
    assert "... (5026 bytes)" in wire.tail()
    assert len(wire.tail()) < 1000
