"""BDAT (RFC 3030) whatever the TCP segments: a pipelined exchange cut at every possible point
gives the same replies and the same stored bytes, on the in-memory transport (every split
point, and one octet per read) and on a real socket; a client that vanishes mid-chunk leaves
nothing stored and nothing behind; a client that half-closes still gets its replies; quick-ACK
while a chunk is half-read; oversized chunks dropped as they stream; timeouts and sequence."""

from __future__ import annotations

import socket

import pytest
from twisted.internet.protocol import connectionDone
from twisted.internet.task import Clock

from elektromail.config import Settings
from tests.smtp.test_protocol import connect
from tests.smtp.wire import Wire, client_context, mailbox

# Chunk data that would fool a line reader: a lone dot line, "BDAT" inside the data, a CRLF
# cut in two by the chunk boundary (CR ends the first chunk, LF starts the second), NUL and
# 8-bit octets, a bare CR and a bare LF (RFC 3030 §2: the chunk is "octets", nothing else).
CHUNK1 = b"Subject: split\r\n\r\n.\r\nBDAT 3 LAST\r\n\x00\xff\xfe bare\rcr\r"
CHUNK2 = b"\nbare\nlf\r\n.\r\nend"
HEAD = b"EHLO client\r\nMAIL FROM:<a@example.com> BODY=BINARYMIME\r\nRCPT TO:<c@example.com>\r\n"
EXCHANGE = (
    HEAD
    + b"BDAT %d\r\n" % len(CHUNK1)
    + CHUNK1
    + b"BDAT %d LAST\r\n" % len(CHUNK2)
    + CHUNK2
    + b"NOOP\r\n"
)
AFTER_EHLO = (
    b"250 2.1.0 Sender OK\r\n"
    b"250 2.1.5 Recipient OK\r\n"
    b"250 2.0.0 %d octets received\r\n" % len(CHUNK1)
)
AFTER_STORE = b"250 2.0.0 Message accepted\r\n250 2.0.0 OK\r\n"


def run(pieces: list[bytes]) -> tuple[bytes, list[bytes]]:
    """Feed the pieces one read at a time; fire the delivery when it is asked for. The replies
    after EHLO's, and the messages handed to the post office."""
    server, transport, postoffice = connect()
    for piece in pieces:
        server.dataReceived(piece)
        for _recipients, _raw, d in postoffice.pending:
            if not d.called:
                d.callback([])
    wire = transport.value()
    return wire[wire.index(b"250 ") + 4 :].split(b"\r\n", 1)[1], [
        raw for _r, raw, _d in postoffice.pending
    ]


def test_the_whole_exchange_in_one_read() -> None:
    assert run([EXCHANGE]) == (AFTER_EHLO + AFTER_STORE, [CHUNK1 + CHUNK2])


@pytest.mark.parametrize("cut", range(1, len(EXCHANGE)))
def test_the_exchange_split_at_every_point_gives_the_same_replies_and_bytes(cut: int) -> None:
    assert run([EXCHANGE[:cut], EXCHANGE[cut:]]) == (AFTER_EHLO + AFTER_STORE, [CHUNK1 + CHUNK2])


def test_the_exchange_one_octet_per_read() -> None:
    pieces = [EXCHANGE[i : i + 1] for i in range(len(EXCHANGE))]
    assert run(pieces) == (AFTER_EHLO + AFTER_STORE, [CHUNK1 + CHUNK2])


def test_every_pair_of_cuts_around_the_chunk_boundaries() -> None:
    """Two cuts: each within a few octets of a BDAT line or a chunk's edge (where a reader that
    mixes lines and octets would go wrong), so that every such pair is tried together."""
    edges = []
    at = len(HEAD)
    for size in (len(CHUNK1), len(CHUNK2)):
        line_end = EXCHANGE.index(b"\r\n", at) + 2
        edges += [at, line_end, line_end + size]
        at = line_end + size
    near = sorted({p for e in edges for p in range(e - 3, e + 4) if 0 < p < len(EXCHANGE)})
    for i, a in enumerate(near):
        for b in near[i + 1 :]:
            pieces = [EXCHANGE[:a], EXCHANGE[a:b], EXCHANGE[b:]]
            assert run(pieces) == (AFTER_EHLO + AFTER_STORE, [CHUNK1 + CHUNK2]), (a, b)


def test_a_real_socket_one_octet_per_segment(mail) -> None:
    """The same exchange over TCP, each octet its own segment (TCP_NODELAY on, one send per
    octet): the server reads whatever the kernel hands it."""
    wire = Wire(mail.smtp_port)
    wire.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    exchange = EXCHANGE.replace(b"c@example.com", b"user@example.com")
    for i in range(len(exchange)):
        wire.sock.send(exchange[i : i + 1])
    assert wire.reply().startswith(b"250-")  # EHLO
    got = b"".join(wire.replies(5))
    assert got == AFTER_EHLO + AFTER_STORE
    assert mailbox(mail, "user") == [CHUNK1 + CHUNK2]
    wire.close()


# --- a client that vanishes mid-chunk --------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [
        HEAD + b"BDAT %d\r\n" % len(CHUNK1) + CHUNK1[:10],  # inside the first chunk
        HEAD + b"BDAT %d\r\n" % len(CHUNK1) + CHUNK1,  # between chunks
        HEAD + b"BDAT %d\r\n" % len(CHUNK1) + CHUNK1 + b"BDAT %d LA" % len(CHUNK2),  # mid-line
        HEAD + b"BDAT %d\r\n" % len(CHUNK1) + CHUNK1 + b"BDAT 99 LAST\r\n" + CHUNK2,  # in LAST's
    ],
    ids=["in-chunk", "between-chunks", "in-bdat-line", "in-last-chunk"],
)
def test_a_client_that_vanishes_mid_chunk_leaves_nothing(sent: bytes) -> None:
    server, _transport, postoffice = connect()
    server.dataReceived(sent)
    server.connectionLost(connectionDone)
    assert postoffice.pending == []
    assert set(server.factory.connections) == set()
    assert server._reader is None and server._delays == set()
    # what came after the goodbye is not read as commands (nor stored)
    server.dataReceived(b"\r\nBDAT 0 LAST\r\nQUIT\r\n")
    assert postoffice.pending == []


@pytest.mark.parametrize("cut", [len(HEAD) + 12, len(HEAD) + 40, len(EXCHANGE) - 12])
def test_a_real_client_that_vanishes_mid_chunk_stores_nothing_and_the_server_goes_on(
    mail, cut: int
) -> None:
    exchange = EXCHANGE.replace(b"c@example.com", b"user@example.com")
    gone = Wire(mail.smtp_port)
    gone.send(exchange[:cut])
    assert gone.reply().startswith(b"250-")
    assert gone.replies(2) == [b"250 2.1.0 Sender OK\r\n", b"250 2.1.5 Recipient OK\r\n"]
    if cut > len(HEAD) + len(CHUNK1) + 10:
        assert gone.reply() == b"250 2.0.0 %d octets received\r\n" % len(CHUNK1)
    # the replies so far prove the server has read up to the cut's chunk; now vanish
    gone.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    gone.close()  # linger 0: a reset, as a crashed client's kernel sends
    after = Wire(mail.smtp_port)
    assert after.command(b"EHLO again").startswith(b"250-")
    body = b"Subject: after\r\n\r\nstill here\r\n"
    after.send(
        b"MAIL FROM:<a@example.com>\r\nRCPT TO:<user@example.com>\r\n"
        + b"BDAT %d LAST\r\n" % len(body)
        + body
    )
    assert after.replies(3)[2] == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "user") == [body]  # nothing of the vanished client's chunks
    after.close()


# --- the delayed-ACK lesson (issue 15): acknowledge at once while a chunk is half-read -------


def test_quick_ack_while_a_chunk_or_its_bdat_line_is_half_read(monkeypatch) -> None:
    """tcp.quick_ack runs after a read that leaves a chunk (or a BDAT line) unfinished, as for
    DATA; not after one that ends with everything answered (tests/test_delayed_ack.py times
    it on a real socket)."""
    acked: list[int] = []
    monkeypatch.setattr("elektromail.smtp.server.quick_ack", lambda t: acked.append(1))
    server, _transport, postoffice = connect()
    server.dataReceived(HEAD)
    assert acked == []  # every command answered: the replies carry the ACK
    server.dataReceived(b"BDAT %d\r\n" % len(CHUNK1) + CHUNK1[:5])
    assert acked == [1]
    server.dataReceived(CHUNK1[5:])
    assert acked == [1]
    server.dataReceived(b"BDAT %d LA" % len(CHUNK2))
    assert acked == [1, 1]
    server.dataReceived(b"ST\r\n" + CHUNK2[:-1])
    assert acked == [1, 1, 1]
    server.dataReceived(CHUNK2[-1:])  # the delivery is now pending: its reply will carry it
    assert acked == [1, 1, 1] and len(postoffice.pending) == 1


# --- a client that half-closes: QUIT pipelined behind BDAT LAST, then FIN (Exim does) ---------


def test_a_half_closed_client_still_gets_its_replies_then_the_connection_closes() -> None:
    """Exim 4.96 pipelines QUIT behind `BDAT n LAST` and shuts down its sending side at once
    (TCP half-close), then reads the 250 and the 221. Treating the FIN as the client gone lost
    the 250: the message was stored and Exim, seeing no answer, would send it again."""
    server, transport, postoffice = connect()
    server.dataReceived(EXCHANGE.replace(b"NOOP\r\n", b"QUIT\r\n"))
    server.readConnectionLost()
    assert not transport.disconnecting  # the delivery is still pending: its reply is owed
    transport.clear()
    postoffice.pending[0][2].callback([])
    assert transport.value() == (
        b"250 2.0.0 Message accepted\r\n221 2.0.0 localhost closing connection\r\n"
    )
    assert transport.disconnecting


def test_a_half_close_without_quit_is_answered_and_closed() -> None:
    server, transport, postoffice = connect()
    server.dataReceived(EXCHANGE)  # ends with NOOP, no QUIT
    postoffice.pending[0][2].callback([])
    server.readConnectionLost()
    assert transport.value().endswith(AFTER_STORE) and transport.disconnecting


@pytest.mark.parametrize("cut", [len(HEAD) + 20, len(EXCHANGE) - 20, len(EXCHANGE) - 3])
def test_a_half_close_inside_a_chunk_or_command_closes_and_stores_nothing(cut: int) -> None:
    # input that ends in the middle can never be completed (RFC 3030 §2: a chunk is exactly
    # chunk-size octets): the transaction is dropped, as when the client leaves
    server, transport, postoffice = connect()
    server.dataReceived(EXCHANGE[:cut])
    for _r, _raw, d in postoffice.pending:
        d.callback([])
    stored = len(postoffice.pending)
    server.readConnectionLost()
    assert transport.disconnecting
    server.connectionLost(connectionDone)
    assert len(postoffice.pending) == stored == (1 if cut > len(EXCHANGE) - 6 else 0)


def test_a_real_half_closed_socket_gets_the_250_and_221(mail) -> None:
    wire = Wire(mail.smtp_port)
    exchange = EXCHANGE.replace(b"c@example.com", b"user@example.com")
    wire.send(exchange.replace(b"NOOP\r\n", b"QUIT\r\n"))
    wire.sock.shutdown(socket.SHUT_WR)
    assert wire.reply().startswith(b"250-")
    assert b"".join(wire.replies(5)) == AFTER_EHLO + (
        b"250 2.0.0 Message accepted\r\n221 2.0.0 localhost closing connection\r\n"
    )
    assert wire.at_eof()
    assert mailbox(mail, "user") == [CHUNK1 + CHUNK2]
    wire.close()


# --- limits, timeouts and sequence over the in-memory transport ------------------------------


def test_an_oversized_chunk_is_dropped_as_it_streams_and_memory_stays_bounded() -> None:
    """Issue 18: "size limits enforced chunk by chunk (bytes discarded as they stream)"; RFC
    3030 §2: a refused chunk is still read ("MUST accept and discard"), then answered."""
    server, transport, postoffice = connect(settings=Settings(max_message_size=1000))
    size = 4 * 1024 * 1024
    server.dataReceived(HEAD + b"BDAT %d LAST\r\n" % size)
    transport.clear()
    piece = b"\x00\xffBDAT 1\r\n.\r\n" * 4096  # 48 KiB of hostile-looking chunk data
    sent = 0
    while sent + len(piece) <= size:
        server.dataReceived(piece)
        sent += len(piece)
        assert len(server._lines) == 0 and transport.value() == b""  # nothing kept, no reply
    server.dataReceived(piece[: size - sent] + b"NOOP\r\n")
    assert transport.value() == b"552 5.3.4 Message too big\r\n250 2.0.0 OK\r\n"
    assert postoffice.pending == []


def test_a_client_silent_mid_chunk_times_out_and_nothing_is_stored() -> None:
    clock = Clock()
    server, transport, postoffice = connect(clock)
    server.dataReceived(HEAD + b"BDAT %d LAST\r\n" % len(CHUNK1) + CHUNK1[:7])
    transport.clear()
    clock.advance(server.timeout)
    assert transport.value() == b"421 4.4.2 localhost timeout, closing connection\r\n"
    assert transport.disconnecting
    server.connectionLost(connectionDone)
    assert postoffice.pending == []


def test_bdat_after_bdat_last_is_503_and_its_chunk_is_read(mail) -> None:
    # RFC 3030 §2: "Any BDAT command sent after the BDAT LAST is illegal and MUST be replied to
    # with a 503"; its data is read and discarded all the same, so it runs as no command
    wire = Wire(mail.smtp_port)
    wire.command(b"EHLO client")
    body = b"Subject: one\r\n\r\nx"
    wire.send(
        b"MAIL FROM:<a@example.com>\r\nRCPT TO:<user@example.com>\r\n"
        + b"BDAT %d LAST\r\n" % len(body)
        + body
        + b"BDAT 6\r\nQUIT\r\nNOOP\r\n"
    )
    assert wire.replies(5)[2:] == [
        b"250 2.0.0 Message accepted\r\n",
        b"503 5.5.1 Need MAIL before BDAT\r\n",
        b"250 2.0.0 OK\r\n",
    ]
    assert mailbox(mail, "user") == [body]
    wire.close()


def test_two_transactions_pipelined_in_one_write(mail) -> None:
    # RFC 2920 and RFC 3030 §4.2: a client may pipeline whole transactions after EHLO
    first, second = b"Subject: 1\r\n\r\nfirst\r\n", b"Subject: 2\r\n\r\n\x00second\r"
    envelope = b"MAIL FROM:<a@example.com>\r\nRCPT TO:<user@example.com>\r\n"
    wire = Wire(mail.smtp_port)
    wire.send(
        b"EHLO client\r\n"
        + envelope
        + b"BDAT 5\r\n"
        + first[:5]
        + b"BDAT %d LAST\r\n" % (len(first) - 5)
        + first[5:]
        + envelope
        + b"BDAT %d LAST\r\n" % len(second)
        + second
        + b"QUIT\r\n"
    )
    assert wire.reply().startswith(b"250-")
    assert wire.replies(7)[2:] == [
        b"250 2.0.0 5 octets received\r\n",
        b"250 2.0.0 Message accepted\r\n",
        b"250 2.1.0 Sender OK\r\n",
        b"250 2.1.5 Recipient OK\r\n",
        b"250 2.0.0 Message accepted\r\n",
    ]
    assert wire.reply().startswith(b"221 ")
    assert mailbox(mail, "user") == [first, second]
    wire.close()


def test_bdat_over_implicit_tls_one_octet_per_record(start_mail) -> None:
    """Over TLS (the SMTPS port, RFC 8314) the chunk arrives in TLS records, here one octet
    each; the server reads the same exchange the same way."""
    mail = start_mail(smtps_port=0)
    wire = Wire(mail.server.port("smtps"), tls=client_context(mail))
    exchange = EXCHANGE.replace(b"c@example.com", b"user@example.com")
    for i in range(len(exchange)):
        wire.sock.sendall(exchange[i : i + 1])
    assert wire.reply().startswith(b"250-")
    assert b"".join(wire.replies(5)) == AFTER_EHLO + AFTER_STORE
    assert mailbox(mail, "user") == [CHUNK1 + CHUNK2]
    wire.close()
