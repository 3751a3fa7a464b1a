"""IMAPServer, the socket side of the Connection, on an in-memory transport and a Clock: the
idle timeouts, TCP_NODELAY, reading paused and resumed, the push producer of a long answer,
STARTTLS, and the BYE beyond max_connections, with no socket and no real time."""

from __future__ import annotations

from twisted.internet.interfaces import ITLSTransport
from twisted.internet.protocol import connectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from zope.interface import implementer

from elektromail.config import Settings
from elektromail.events import UserDeleted
from elektromail.imap.connection import MAX_QUEUED, CommandContext
from elektromail.imap.server import IMAPFactory, IMAPServer
from tests.imap.fakes import FakePostOffice, FakeTLS

LOGIN_TIMEOUT = 60
SESSION_TIMEOUT = 1800
SETTINGS = Settings(imap_login_timeout=LOGIN_TIMEOUT, imap_timeout=SESSION_TIMEOUT)
BYE_IDLE = b"* BYE Autologout; idle for too long\r\n"


class TCPTransport(StringTransport):
    """StringTransport with the TCP option the server sets."""

    no_delay = False

    def setTcpNoDelay(self, enabled: bool) -> None:
        self.no_delay = enabled


@implementer(ITLSTransport)
class TLSCapableTransport(TCPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.tls_started_with: list[object] = []

    def startTLS(self, contextFactory: object) -> None:
        self.tls_started_with.append(contextFactory)


def make_factory(
    settings: Settings = SETTINGS, postoffice: FakePostOffice | None = None
) -> IMAPFactory:
    return IMAPFactory(postoffice or FakePostOffice(), settings, FakeTLS())  # type: ignore[arg-type]


def connect(
    factory: IMAPFactory | None = None,
    clock: Clock | None = None,
    transport: StringTransport | None = None,
) -> tuple[IMAPServer, StringTransport]:
    """A connected server whose greeting is already read."""
    factory = factory or make_factory()
    server = factory.buildProtocol(None)
    server.callLater = (clock or Clock()).callLater  # the idle timeouts, off the real reactor
    transport = transport or TCPTransport()
    server.makeConnection(transport)
    assert transport.value().startswith(b"* OK [CAPABILITY ")
    transport.clear()
    return server, transport


def log_in(server: IMAPServer, transport: StringTransport) -> None:
    server.dataReceived(b"l LOGIN user pass\r\n")
    assert transport.value().startswith(b"l OK ")
    transport.clear()


def test_greeting_and_tcp_nodelay() -> None:
    server = make_factory().buildProtocol(None)
    server.callLater = Clock().callLater
    transport = TCPTransport()
    server.makeConnection(transport)
    assert transport.value().startswith(b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ")
    assert transport.value().endswith(b"] elektromail ready\r\n")
    assert transport.no_delay


def test_bytes_in_responses_out() -> None:
    server, transport = connect()
    server.dataReceived(b"a NO")
    server.dataReceived(b"OP\r\n")
    assert transport.value() == b"a OK NOOP completed\r\n"


# --- timeouts --------------------------------------------------------------------------------


def test_client_idle_before_login_gets_bye_and_is_closed() -> None:
    """RFC 9051 §7.1.5: BYE announces an inactivity autologout (--imap-login-timeout); the
    real-socket counterpart is in tests/faults/test_timeouts.py."""
    clock = Clock()
    _server, transport = connect(clock=clock)
    clock.advance(LOGIN_TIMEOUT - 1)
    assert transport.value() == b""
    assert not transport.disconnecting
    clock.advance(1)
    assert transport.value() == BYE_IDLE
    assert transport.disconnecting


def test_client_input_restarts_the_login_timeout() -> None:
    clock = Clock()
    server, transport = connect(clock=clock)
    clock.advance(LOGIN_TIMEOUT - 1)
    server.dataReceived(b"a NOOP\r\n")
    transport.clear()
    clock.advance(LOGIN_TIMEOUT - 1)
    assert transport.value() == b""
    clock.advance(1)
    assert transport.value() == BYE_IDLE


def test_after_login_the_session_timeout_applies() -> None:
    """RFC 9051 §5.4: an autologout timer "MUST be at least 30 minutes" (--imap-timeout)."""
    clock = Clock()
    server, transport = connect(clock=clock)
    log_in(server, transport)
    clock.advance(SESSION_TIMEOUT - 1)
    assert transport.value() == b""
    assert not transport.disconnecting
    clock.advance(1)
    assert transport.value() == BYE_IDLE
    assert transport.disconnecting


def test_a_failed_login_keeps_the_login_timeout() -> None:
    clock = Clock()
    server, transport = connect(clock=clock)
    server.dataReceived(b"a LOGIN user wrong\r\n")
    transport.clear()
    clock.advance(LOGIN_TIMEOUT)
    assert transport.value() == BYE_IDLE


def test_client_idle_mid_append_literal_is_closed_and_nothing_stored() -> None:
    """The fake post office has no append: had APPEND run, it would have answered NO."""
    clock = Clock()
    server, transport = connect(clock=clock)
    log_in(server, transport)
    server.dataReceived(b"a APPEND INBOX {5000+}\r\n" + b"x" * 3000)
    clock.advance(SESSION_TIMEOUT)
    assert transport.value() == BYE_IDLE
    assert transport.disconnecting


def test_client_idle_during_idle_is_logged_out() -> None:
    """RFC 2177 §3: an IDLE running counts as inactivity once the timeout passes."""
    clock = Clock()
    server, transport = connect(clock=clock)
    log_in(server, transport)
    server.dataReceived(b"i IDLE\r\n")
    assert transport.value() == b"+ idling\r\n"
    transport.clear()
    clock.advance(SESSION_TIMEOUT)
    assert transport.value() == BYE_IDLE
    assert transport.disconnecting


def test_a_connection_still_open_a_timeout_after_its_goodbye_is_aborted() -> None:
    """loseConnection waits for an unfinished TLS handshake, or a peer that reads nothing."""
    clock = Clock()
    server, transport = connect(clock=clock)
    server.dataReceived(b"a LOGOUT\r\n")
    assert transport.disconnecting and not transport.disconnected
    server.dataReceived(b"b NOOP\r\n")  # read no more, nor restart the timer
    clock.advance(LOGIN_TIMEOUT)
    assert transport.disconnected  # StringTransport's mark of abortConnection
    assert transport.value() == b"* BYE elektromail logging out\r\na OK LOGOUT completed\r\n"


def test_the_abort_timer_starts_when_the_close_is_asked() -> None:
    clock = Clock()
    factory = make_factory()
    _server, transport = connect(factory, clock=clock)
    clock.advance(LOGIN_TIMEOUT - 1)
    factory.close_connections()  # the server stops
    clock.advance(LOGIN_TIMEOUT - 1)
    assert transport.disconnecting and not transport.disconnected
    clock.advance(1)
    assert transport.disconnected


def test_a_lost_connection_stops_its_timer_and_is_forgotten() -> None:
    clock = Clock()
    server, _transport = connect(clock=clock)
    assert set(server.factory.connections) == {server}
    assert clock.getDelayedCalls()
    server.connectionLost(connectionDone)
    assert clock.getDelayedCalls() == []
    assert set(server.factory.connections) == set()


def test_a_lost_connection_ends_the_sessions_watch_on_its_mailbox() -> None:
    postoffice = FakePostOffice()
    server, transport = connect(make_factory(postoffice=postoffice))
    log_in(server, transport)
    server.session.watch(7)  # as SELECT does before it loads the view
    assert len(postoffice.events._subscribers) == 1
    server.connectionLost(connectionDone)
    assert postoffice.events._subscribers == []


# --- back-pressure ---------------------------------------------------------------------------


def test_reading_pauses_while_too_many_commands_wait_and_resumes_after() -> None:
    postoffice = FakePostOffice(hold=True)
    server, transport = connect(make_factory(postoffice=postoffice))
    server.dataReceived(b"a LOGIN user pass\r\n" + b"n NOOP\r\n" * (MAX_QUEUED + 1))
    assert transport.producerState == "paused"
    postoffice.release()
    assert transport.producerState == "producing"
    assert transport.value().count(b"n OK NOOP completed\r\n") == MAX_QUEUED + 1


def test_a_long_answer_registers_a_push_producer_that_paces_it() -> None:
    server, transport = connect()
    ctx = CommandContext(server.connection, "a", "FETCH", uid=False)
    with ctx.paced() as pacing:
        assert transport.producer is None  # nothing to pace yet
        ctx.write(b"* 1 FETCH (UID 1)\r\n")
        server.connection.flush()  # a long answer's first piece goes out: paced from here
        producer = transport.producer
        assert producer is not None and transport.streaming
        producer.pauseProducing()  # the transport's buffer is full
        ctx.write(b"* 2 FETCH (UID 2)\r\n")
        waiting = pacing.sent()
        assert transport.value() == b"* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\n"
        assert not waiting.called
        producer.resumeProducing()  # drained
        assert waiting.called
    assert transport.producer is None  # else loseConnection would wait for it


def test_a_paced_answer_stops_waiting_when_the_connection_is_lost() -> None:
    server, transport = connect()
    ctx = CommandContext(server.connection, "a", "FETCH", uid=False)
    with ctx.paced() as pacing:
        ctx.write(b"* 1 FETCH (UID 1)\r\n")
        server.connection.flush()
        transport.producer.pauseProducing()
        ctx.write(b"* 2 FETCH (UID 2)\r\n")
        waiting = pacing.sent()
        server.connectionLost(connectionDone)
        assert waiting.called
        assert ctx.closed


def test_another_producer_is_left_in_place() -> None:
    server, transport = connect()
    other = object()
    transport.registerProducer(other, True)
    ctx = CommandContext(server.connection, "a", "FETCH", uid=False)
    with ctx.paced():
        ctx.write(b"* 1 FETCH (UID 1)\r\n")
        server.connection.flush()
        assert transport.producer is other
    assert transport.producer is other


# --- STARTTLS ---------------------------------------------------------------------------------


def test_starttls_on_a_transport_without_tls_is_refused() -> None:
    server, transport = connect()
    server.dataReceived(b"a STARTTLS\r\n")
    assert transport.value() == b"a NO [UNAVAILABLE] TLS is not available on this connection\r\n"


def test_starttls_starts_tls_after_the_ok_with_the_server_certificate() -> None:
    transport = TLSCapableTransport()
    server, _ = connect(transport=transport)
    server.dataReceived(b"a STARTTLS\r\nb NOOP\r\n")
    assert transport.value() == b"a OK Begin TLS negotiation now\r\n"
    assert len(transport.tls_started_with) == 1
    assert not server.session.tls  # until the handshake is done
    server.handshakeCompleted()
    assert server.session.tls


def test_an_implicit_tls_port_starts_with_tls() -> None:
    factory = IMAPFactory(FakePostOffice(), SETTINGS, FakeTLS(), implicit_tls=True)  # type: ignore[arg-type]
    server, _transport = connect(factory)
    assert server.session.tls


# --- the factory's calls -----------------------------------------------------------------------


def test_bye_beyond_max_connections() -> None:
    """RFC 9051 §7.1.5: BYE as the greeting; RFC 5530 §3 UNAVAILABLE."""
    factory = make_factory(Settings(max_connections=1))
    connect(factory)
    refused = factory.buildProtocol(None)
    refused.callLater = Clock().callLater
    transport = TCPTransport()
    refused.makeConnection(transport)
    assert transport.value() == b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n"
    assert transport.disconnecting
    refused.dataReceived(b"a NOOP\r\n")
    assert transport.value() == b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n"
    assert len(factory.connections) == 1


def test_a_deleted_user_ends_that_users_sessions() -> None:
    postoffice = FakePostOffice()
    factory = make_factory(postoffice=postoffice)
    factory.startFactory()
    server, transport = connect(factory)
    _bystander, bystander_transport = connect(factory)
    log_in(server, transport)
    postoffice.events.publish(UserDeleted("user"))
    assert transport.value() == b"* BYE [UNAVAILABLE] User deleted\r\n"
    assert transport.disconnecting
    assert bystander_transport.value() == b""
    assert not bystander_transport.disconnecting
    factory.stopFactory()


def test_close_connections_closes_each_once_it_is_written() -> None:
    factory = make_factory()
    server, transport = connect(factory)
    factory.close_connections()
    assert transport.disconnecting
    server.dataReceived(b"a NOOP\r\n")
    assert transport.value() == b""
