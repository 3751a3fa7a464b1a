"""The connection lifecycle every listener shares, without sockets: the helper alone, then the
SMTP, IMAP and HTTP factories on in-memory transports and a Clock (refuse past the limit with
the listener's own answer, forget a connection that goes, close them all at stop)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.web.resource import Resource

from elektromail.admission import Connections
from elektromail.config import Settings
from elektromail.events import Events
from elektromail.http.site import OVERLOADED_RESPONSE, ControlFactory, ControlSite
from elektromail.imap.server import IMAPFactory
from elektromail.postoffice import PostOffice
from elektromail.smtp import replies
from elektromail.smtp.server import SMTPFactory

# --- the helper ------------------------------------------------------------------------------


def warnings(events: list[dict[str, Any]]) -> list[str]:
    return [formatEvent(e) for e in events]


def test_admits_up_to_the_maximum_and_refuses_beyond() -> None:
    connections: Connections[str] = Connections("SMTP", 2)
    assert connections.admit("a")
    assert connections.admit("b")
    assert not connections.admit("c")
    assert len(connections) == 2
    assert set(connections) == {"a", "b"}
    assert "c" not in connections


def test_warns_once_when_refusing_starts_and_again_after_it_stopped() -> None:
    connections: Connections[str] = Connections("IMAP", 1)
    connections.admit("a")
    with capturedLogs() as events:
        for name in ("b", "c", "d"):
            connections.admit(name)
    assert warnings(events) == ["IMAP: 1 connections open, refusing more (max-connections)"]
    connections.forget("a")
    with capturedLogs() as events:
        assert connections.admit("e")
        assert not connections.admit("f")
    assert warnings(events) == ["IMAP: 1 connections open, refusing more (max-connections)"]


def test_forgetting_frees_a_place_and_an_unknown_connection_is_no_error() -> None:
    connections: Connections[str] = Connections("HTTP", 1)
    connections.admit("a")
    connections.forget("never admitted")
    assert len(connections) == 1
    connections.forget("a")
    assert len(connections) == 0
    assert connections.admit("b")


def test_a_raised_maximum_admits_more() -> None:
    connections: Connections[str] = Connections("HTTP", 1)
    connections.admit("a")
    connections.maximum = 2
    assert connections.admit("b")


def test_close_all_reaches_every_connection_even_as_each_is_forgotten() -> None:
    connections: Connections[str] = Connections("SMTP", 10)
    for name in "abc":
        connections.admit(name)
    closed: list[str] = []

    def close(name: str) -> None:
        closed.append(name)
        connections.forget(name)  # as a connectionLost run at once would

    connections.close_all(close)
    assert sorted(closed) == ["a", "b", "c"]
    assert len(connections) == 0


def test_iterating_gives_a_snapshot() -> None:
    connections: Connections[str] = Connections("IMAP", 10)
    connections.admit("a")
    connections.admit("b")
    for name in connections:
        connections.forget(name)
    assert len(connections) == 0


# --- the three listeners ---------------------------------------------------------------------


@dataclass
class Listener:
    """How to build one listener's factory and what its refused connection is told."""

    name: str
    build: Callable[[int], Any]
    refusal: bytes
    request: bytes = b""  # what a refused client sends before the answer comes

    def open(self, factory: Any, clock: Clock) -> tuple[Protocol, StringTransport]:
        protocol = factory.buildProtocol(None)
        protocol.callLater = clock.callLater  # timeouts on the test's clock, not the reactor
        transport = StringTransport()
        protocol.makeConnection(transport)
        return protocol, transport


def smtp_factory(max_connections: int) -> SMTPFactory:
    settings = Settings(max_connections=max_connections)
    return SMTPFactory(PostOffice(None, Events(), settings), settings, tls=None)  # type: ignore[arg-type]


def imap_factory(max_connections: int) -> IMAPFactory:
    settings = Settings(max_connections=max_connections)
    return IMAPFactory(PostOffice(None, Events(), settings), settings, tls=None)  # type: ignore[arg-type]


def http_factory(max_connections: int) -> ControlFactory:
    factory = ControlFactory(ControlSite(Resource(), max_message_size=1024))
    factory.set_limits(max_connections, idle_timeout=60)
    return factory


LISTENERS = [
    Listener("smtp", smtp_factory, replies.TOO_MANY_CONNECTIONS.render(host="localhost")),
    Listener(
        "imap", imap_factory, b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n"
    ),
    Listener("http", http_factory, OVERLOADED_RESPONSE, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
]


@pytest.fixture(params=LISTENERS, ids=[listener.name for listener in LISTENERS])
def listener(request: pytest.FixtureRequest) -> Listener:
    return request.param


@pytest.fixture
def clock() -> Clock:
    return Clock()


def built(listener: Listener, max_connections: int, clock: Clock) -> Any:
    factory = listener.build(max_connections)
    if listener.name == "http":
        factory.site.reactor = clock  # the HTTP channels' idle timeout
    return factory


def one_too_many(listener: Listener, clock: Clock) -> tuple[Any, Protocol, StringTransport]:
    """A factory for one connection, that one open, and a second one (refused)."""
    factory = built(listener, 1, clock)
    listener.open(factory, clock)
    return (factory, *listener.open(factory, clock))


def test_a_listener_refuses_past_its_limit_with_its_own_answer(
    listener: Listener, clock: Clock
) -> None:
    factory, refused, transport = one_too_many(listener, clock)
    refused.dataReceived(listener.request)
    assert transport.value().endswith(listener.refusal)
    assert transport.disconnecting
    assert len(factory.connections) == 1


def test_a_listener_forgets_a_connection_that_goes(listener: Listener, clock: Clock) -> None:
    factory = built(listener, 1, clock)
    first, _ = listener.open(factory, clock)
    assert list(factory.connections) == [first]
    first.connectionLost(connectionDone)
    assert len(factory.connections) == 0
    second, transport = listener.open(factory, clock)
    assert list(factory.connections) == [second]
    assert not transport.disconnecting


def test_a_refused_connection_that_goes_leaves_the_count_alone(
    listener: Listener, clock: Clock
) -> None:
    factory, refused, _ = one_too_many(listener, clock)
    refused.connectionLost(connectionDone)
    assert len(factory.connections) == 1


def test_closing_a_listener_closes_every_open_connection(listener: Listener, clock: Clock) -> None:
    factory = built(listener, 5, clock)
    transports = [listener.open(factory, clock)[1] for _ in range(3)]
    assert not any(t.disconnecting for t in transports)
    factory.close_connections()
    assert all(t.disconnecting for t in transports)


def test_smtp_says_421_to_each_connection_at_stop(clock: Clock) -> None:
    factory = smtp_factory(5)
    transports = [LISTENERS[0].open(factory, clock)[1] for _ in range(2)]
    for transport in transports:
        transport.clear()
    factory.close_connections()
    goodbye = replies.SHUTTING_DOWN.render(host="localhost")
    assert [t.value() for t in transports] == [goodbye, goodbye]
