"""elektromail.tcp.write_now on a real TCP transport: an answer goes out at once when nothing is
queued, and through the transport's buffer (order kept) when something is."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from twisted.internet import tcp
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactor, StringTransport

from elektromail.tcp import write_now


@pytest.fixture
def pair() -> Iterator[tuple[tcp.Server, MemoryReactor, socket.socket]]:
    """A Twisted server transport on one end of a connected socket pair, the other end, and the
    (memory) reactor the transport registers with; nothing turns that reactor."""
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.settimeout(5)
    reactor = MemoryReactor()
    port = SimpleNamespace(_realPortNumber=25)  # what a Server asks of its listening port
    transport = tcp.Server(ours, Protocol(), ("127.0.0.1", 1), port, 1, reactor)
    yield transport, reactor, peer
    ours.close()
    peer.close()


def test_an_answer_with_nothing_queued_is_sent_without_the_reactor(pair) -> None:
    transport, reactor, peer = pair
    write_now(transport, b"250 2.0.0 OK\r\n")
    assert peer.recv(100) == b"250 2.0.0 OK\r\n"
    assert transport not in reactor.getWriters()  # no epoll registration, no doWrite to come
    assert transport._tempDataBuffer == [] and transport.dataBuffer == b""


def test_an_answer_behind_queued_data_waits_its_turn(pair) -> None:
    transport, reactor, peer = pair
    transport.write(b"first\r\n")
    write_now(transport, b"second\r\n")
    peer.settimeout(0.05)
    with pytest.raises(TimeoutError):  # nothing is sent before the reactor's turn
        peer.recv(100)
    assert transport in reactor.getWriters()
    transport.doWrite()
    peer.settimeout(5)
    assert peer.recv(100) == b"first\r\nsecond\r\n"


def test_a_closing_transport_queues_as_write_does(pair) -> None:
    transport, _reactor, _peer = pair
    transport.disconnecting = True
    write_now(transport, b"221 bye\r\n")
    assert transport._tempDataBuffer == [b"221 bye\r\n"]


class _Socket:
    """Stands in for the transport's socket: `send` answers or raises what it is given."""

    def __init__(self, answer: int | OSError) -> None:
        self.answer = answer

    def send(self, data) -> int:
        if isinstance(self.answer, OSError):
            raise self.answer
        return self.answer


def test_what_the_socket_does_not_take_is_queued(pair, monkeypatch) -> None:
    transport, reactor, _peer = pair
    monkeypatch.setattr(transport, "socket", _Socket(3))
    write_now(transport, b"250 OK\r\n")
    assert transport._tempDataBuffer == [b" OK\r\n"]
    assert transport in reactor.getWriters()


def test_a_full_socket_buffer_queues_it_all(pair, monkeypatch) -> None:
    transport, reactor, _peer = pair
    monkeypatch.setattr(transport, "socket", _Socket(BlockingIOError()))
    write_now(transport, b"250 OK\r\n")
    assert transport._tempDataBuffer == [b"250 OK\r\n"]
    assert transport in reactor.getWriters()


def test_a_lost_connection_is_left_to_write(pair, monkeypatch) -> None:
    transport, _reactor, _peer = pair
    monkeypatch.setattr(transport, "socket", _Socket(ConnectionResetError()))
    write_now(transport, b"250 OK\r\n")
    assert transport._tempDataBuffer == [b"250 OK\r\n"]  # doWrite meets the error and closes


def test_more_than_a_send_limit_goes_through_write_some_data(pair, monkeypatch) -> None:
    transport, _reactor, peer = pair
    monkeypatch.setattr(transport, "SEND_LIMIT", 4)
    write_now(transport, b"250 OK\r\n")
    assert transport._tempDataBuffer == [b"OK\r\n"]  # writeSomeData sent SEND_LIMIT octets
    assert peer.recv(100) == b"250 "


def test_any_other_transport_gets_write() -> None:
    transport = StringTransport()
    write_now(transport, b"220 ready\r\n")
    assert transport.value() == b"220 ready\r\n"
