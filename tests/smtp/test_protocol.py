"""The protocol class on an in-memory transport: what real sockets cannot show directly, such as
reading pausing behind a pending delivery."""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import connectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from elektromail.config import Settings
from elektromail.postoffice.traffic import Traffic
from elektromail.rules import RuleSet
from elektromail.rules import parse as parse_rules
from elektromail.smtp import replies
from elektromail.smtp.replies import Reply
from elektromail.smtp.server import PAUSE_READING_BYTES, SMTPFactory, SMTPServer, WireCache
from elektromail.transcripts import Ring


class HeldPostOffice:
    """Deliveries wait until the test fires them."""

    def __init__(self, rules: RuleSet | None = None) -> None:
        self.pending: list[tuple[list[str], bytes, Deferred[list]]] = []
        self.rules = rules or RuleSet()
        self.traffic = Traffic(clock=Clock())
        self.metrics = self.traffic.metrics  # as the PostOffice's are one
        self.transcripts = Ring()

    def deliver(
        self,
        recipients: list[str],
        raw: bytes,
        via: str | None = None,
        transcript: bytes | None = None,
    ) -> Deferred[list]:
        d: Deferred[list] = Deferred()
        self.pending.append((list(recipients), raw, d))
        return d

    def authenticate(self, name: str, password: str) -> Deferred[None]:
        return succeed(None)

    def rules_for(self, via: str | None = None, recipient: str | None = None) -> RuleSet:
        return self.rules

    def quotas_apply(self) -> bool:
        return False


def connect(
    clock: Clock | None = None, settings: Settings | None = None, rules: list[dict] | None = None
) -> tuple[SMTPServer, StringTransport, HeldPostOffice]:
    postoffice = HeldPostOffice(parse_rules(rules or []))
    factory = SMTPFactory(postoffice, settings or Settings(), tls=None)  # type: ignore[arg-type]
    server = factory.buildProtocol(None)
    server.callLater = (clock or Clock()).callLater  # the idle timeout, off the real reactor
    transport = StringTransport()
    server.makeConnection(transport)
    transport.clear()
    return server, transport, postoffice


MESSAGE = b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\n.\r\n"


def test_replies_after_a_pending_delivery_wait_for_it() -> None:
    server, transport, postoffice = connect()
    server.dataReceived(MESSAGE + b"NOOP\r\n")
    assert transport.value().endswith(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n")
    transport.clear()
    postoffice.pending[0][2].callback([])
    assert transport.value() == b"250 2.0.0 Message accepted\r\n250 2.0.0 OK\r\n"


def test_reading_pauses_behind_a_pending_delivery_and_resumes_after() -> None:
    server, transport, postoffice = connect()
    server.dataReceived(MESSAGE)
    assert transport.producerState == "producing"
    server.dataReceived(b"NOOP\r\n" * (PAUSE_READING_BYTES // 6 + 1))
    assert transport.producerState == "paused"
    transport.clear()
    postoffice.pending[0][2].callback([])
    assert transport.producerState == "producing"
    assert transport.value().count(b"250 2.0.0 OK\r\n") == PAUSE_READING_BYTES // 6 + 1


def test_lines_behind_a_pending_delivery_are_dropped_when_the_client_leaves() -> None:
    server, _transport, postoffice = connect()
    server.dataReceived(MESSAGE + MESSAGE)
    server.connectionLost(connectionDone)
    postoffice.pending[0][2].callback([])
    assert len(postoffice.pending) == 1


def test_factory_forgets_closed_connections() -> None:
    server, _transport, _postoffice = connect()
    assert set(server.factory.connections) == {server}
    server.connectionLost(connectionDone)
    assert set(server.factory.connections) == set()


def test_idle_connection_times_out_with_421() -> None:
    clock = Clock()
    server, transport, _postoffice = connect(clock)
    clock.advance(server.timeout - 1)
    server.dataReceived(b"NOOP\r\n")
    clock.advance(server.timeout - 1)
    assert not transport.disconnecting
    transport.clear()
    clock.advance(1)
    assert transport.value() == b"421 4.4.2 localhost timeout, closing connection\r\n"
    assert transport.disconnecting


def test_failing_credential_check_answers_454_and_the_session_goes_on() -> None:
    server, transport, postoffice = connect()
    postoffice.authenticate = lambda name, password: 1 / 0  # type: ignore[method-assign]
    server.dataReceived(b"AUTH PLAIN AHVzZXIAcGFzcw==\r\nNOOP\r\n")
    assert transport.value() == b"454 4.7.0 Temporary authentication failure\r\n250 2.0.0 OK\r\n"


def test_idle_timeout_follows_the_setting() -> None:
    clock = Clock()
    _server, transport, _postoffice = connect(clock, Settings(smtp_timeout=10))
    clock.advance(9.9)
    assert transport.value() == b""
    clock.advance(0.1)
    assert transport.value() == b"421 4.4.2 localhost timeout, closing connection\r\n"


def test_a_delay_rule_holds_the_reply_on_the_clock() -> None:
    clock = Clock()
    rules = [{"recipient": "slow@*", "action": "delay", "delay_ms": 1500}]
    server, transport, _postoffice = connect(clock, rules=rules)
    server.dataReceived(b"MAIL FROM:<a@b>\r\nRCPT TO:<slow@x>\r\nNOOP\r\n")
    assert transport.value() == b"250 2.1.0 Sender OK\r\n"
    clock.advance(1.499)
    assert transport.value() == b"250 2.1.0 Sender OK\r\n"
    clock.advance(0.001)
    assert transport.value() == (
        b"250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n250 2.0.0 OK\r\n"
    )


def test_a_connect_delay_holds_the_greeting_and_early_commands() -> None:
    clock = Clock()
    postoffice = HeldPostOffice(
        parse_rules([{"action": "delay", "stage": "connect", "delay_ms": 200}])
    )
    server = SMTPFactory(postoffice, Settings(), tls=None).buildProtocol(None)  # type: ignore[arg-type]
    server.callLater = clock.callLater
    transport = StringTransport()
    server.makeConnection(transport)
    server.dataReceived(b"NOOP\r\n")
    assert transport.value() == b""
    clock.advance(0.2)
    assert transport.value() == b"220 localhost elektromail ESMTP ready\r\n250 2.0.0 OK\r\n"


def test_a_data_stage_delay_comes_after_the_message_is_stored() -> None:
    clock = Clock()
    rules = [{"action": "delay", "stage": "data", "delay_ms": 300}]
    server, transport, postoffice = connect(clock, rules=rules)
    server.dataReceived(MESSAGE)
    transport.clear()
    postoffice.pending[0][2].callback([])
    assert transport.value() == b""
    clock.advance(0.3)
    assert transport.value() == b"250 2.0.0 Message accepted\r\n"


def test_pending_delays_are_cancelled_when_the_client_leaves() -> None:
    clock = Clock()
    rules = [{"recipient": "*", "action": "delay", "delay_ms": 5000}]
    server, transport, _postoffice = connect(clock, rules=rules)
    server.dataReceived(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n")
    assert len(clock.getDelayedCalls()) == 2  # the idle timeout and the delay
    server.connectionLost(connectionDone)
    assert clock.getDelayedCalls() == []
    clock.advance(10)
    assert transport.value() == b"250 2.1.0 Sender OK\r\n"


def test_ehlo_offers_no_starttls_without_a_tls_transport() -> None:
    server, transport, _postoffice = connect()
    server.dataReceived(b"EHLO x\r\nSTARTTLS\r\n")
    assert b"STARTTLS" not in transport.value().split(b"\r\n250 ")[0]
    assert transport.value().endswith(b"454 4.7.0 TLS not available\r\n")


def test_a_data_stage_disconnect_closes_after_its_delay_without_a_reply() -> None:
    clock = Clock()
    rules = [{"action": "disconnect", "stage": "data", "delay_ms": 400}]
    server, transport, postoffice = connect(clock, rules=rules)
    server.dataReceived(MESSAGE + b"NOOP\r\n")
    assert transport.value().endswith(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n")
    assert postoffice.pending == []  # a disconnect at the dot stores nothing
    transport.clear()
    clock.advance(0.399)
    assert not transport.disconnecting
    clock.advance(0.001)
    assert transport.disconnecting
    assert transport.value() == b""


def test_a_connect_disconnect_rule_closes_before_any_greeting() -> None:
    clock = Clock()
    postoffice = HeldPostOffice(parse_rules([{"action": "disconnect", "stage": "connect"}]))
    server = SMTPFactory(postoffice, Settings(), tls=None).buildProtocol(None)  # type: ignore[arg-type]
    server.callLater = clock.callLater
    transport = StringTransport()
    server.makeConnection(transport)
    assert transport.disconnecting
    assert transport.value() == b""


def test_a_rendered_reply_is_the_one_asked_for_and_the_cache_stays_bounded() -> None:
    factory = SMTPFactory(HeldPostOffice(), Settings(), tls=None)  # type: ignore[arg-type]
    for number in range(3 * WireCache.LIMIT):  # a rule reply is a new Reply for each message
        reply = Reply(550, "5.7.1", f"No {number}")
        assert factory.rendered(reply) == f"550 5.7.1 No {number}\r\n".encode()
        assert len(factory._rendered) <= WireCache.LIMIT


def test_the_ehlo_answer_is_made_once_per_peer_and_the_same_each_time() -> None:
    server, transport, _ = connect()
    server.dataReceived(b"EHLO a\r\n")
    first = transport.value()
    assert first.startswith(b"250-localhost Hello ") and first.endswith(b"250 AUTH PLAIN LOGIN\r\n")
    transport.clear()
    server.dataReceived(b"EHLO b\r\n")
    assert transport.value() == first
    assert len(server.factory.ehlo_replies) == 1


def test_the_session_peer_comes_from_the_address_the_listener_built_the_protocol_for() -> None:
    factory = SMTPFactory(HeldPostOffice(), Settings(), tls=None)  # type: ignore[arg-type]
    for address, literal in (
        (IPv4Address("TCP", "127.0.0.1", 4000), "[127.0.0.1]"),
        (IPv6Address("TCP", "::1", 4000), "[IPv6:::1]"),
    ):
        server = factory.buildProtocol(address)
        server.callLater = Clock().callLater
        transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.9", 1))
        server.makeConnection(transport)
        server.dataReceived(b"HELO client\r\n")
        assert server.session.peer == literal
        assert transport.value().endswith(f"250 localhost Hello {literal}\r\n".encode())


def test_without_a_built_for_address_the_session_peer_is_the_transports() -> None:
    server, transport, _ = connect()
    server.dataReceived(b"HELO client\r\n")
    assert server.session.peer == "[192.168.1.1]"  # StringTransport's default peer
    assert transport.value() == b"250 localhost Hello [192.168.1.1]\r\n"


def test_a_failure_carrying_out_the_end_of_data_decision_answers_451_and_goes_on(
    monkeypatch,
) -> None:
    server, transport, postoffice = connect()
    server.dataReceived(MESSAGE + b"NOOP\r\n")
    transport.clear()

    def broken(decision):
        raise RuntimeError("carrying out failed")

    monkeypatch.setattr(server, "_carry_out", broken)
    postoffice.pending[0][2].callback([])
    monkeypatch.undo()
    assert transport.value() == replies.LOCAL_ERROR.render() + b"250 2.0.0 OK\r\n"
