"""Webhooks over real loopback sockets to a twisted.web receiver, with the time between
attempts (and each attempt's timeout) on a twisted.internet.task.Clock: no sleeps. Each test
runs in the reactor thread of elektromail.testing."""

from __future__ import annotations

import json

from twisted.internet.task import Clock
from twisted.web.server import NOT_DONE_YET

from elektromail.http.webhook_sender import AgentPoster, Payload, WebhookTarget
from elektromail.testing import call_in_reactor, reactor_in_thread
from tests.webhooks.receiver import Receiver, listen, url_of

BODY = json.dumps({"event": "delivered", "n": 1}).encode()


def payload() -> Payload:
    return Payload("d-1", "delivered", BODY)


def run(scenario):
    """Run the coroutine function `scenario(reactor)` in the reactor thread."""
    reactor = reactor_in_thread()
    return call_in_reactor(scenario, reactor)


def sender(reactor, url: str, clock: Clock, timeout: float = 10, tls_policy=None):
    poster = AgentPoster(reactor, tls_policy)
    return poster, WebhookTarget(url, poster, clock, timeout=timeout, queue_size=10)


def test_a_receiver_that_is_down_and_then_up_gets_the_delivery_on_the_retry():
    async def scenario(reactor):
        receiver = Receiver()
        port = listen(reactor, receiver)
        url = url_of(port)
        await port.stopListening()  # down: nothing listens there now
        clock = Clock()
        poster, target = sender(reactor, url, clock)
        try:
            target.enqueue(payload())
            await target.settled()
            assert target.last_error.startswith("cannot connect"), target.last_error
            (retry,) = clock.getDelayedCalls()
            assert retry.getTime() == 1.0
            port = listen(reactor, receiver, int(url.rsplit(":", 1)[1].split("/")[0]))  # up
            clock.advance(1)
            await target.settled()
            assert (target.sent, target.retries, target.failed) == (1, 1, 0)
            assert [r.body for r in receiver.received] == [BODY]
        finally:
            target.stop()
            await poster.close()
            await port.stopListening()

    run(scenario)


def test_500_then_200_sends_the_same_body_and_delivery_id_twice():
    async def scenario(reactor):
        receiver = Receiver(script=[500])
        port = listen(reactor, receiver)
        clock = Clock()
        poster, target = sender(reactor, url_of(port), clock)
        try:
            target.enqueue(payload())
            await target.settled()
            assert (target.retries, target.last_status) == (1, 500)
            clock.advance(1)
            await target.settled()
            assert (target.sent, target.last_status) == (1, 200)
            first, second = receiver.received
            assert first.body == second.body == BODY
            assert first.headers["x-elektromail-delivery"] == "d-1"
            assert second.headers["x-elektromail-delivery"] == "d-1"
            assert first.headers["content-type"] == "application/json; charset=utf-8"
            assert first.headers["content-length"] == str(len(BODY))
        finally:
            target.stop()
            await poster.close()
            await port.stopListening()

    run(scenario)


def test_a_404_is_given_up_at_once():
    async def scenario(reactor):
        receiver = Receiver(script=[404])
        port = listen(reactor, receiver)
        clock = Clock()
        poster, target = sender(reactor, url_of(port), clock)
        try:
            target.enqueue(payload())
            await target.settled()
            assert (target.failed, target.retries, target.last_error) == (1, 0, "HTTP 404")
            assert clock.getDelayedCalls() == []
        finally:
            target.stop()
            await poster.close()
            await port.stopListening()

    run(scenario)


def test_a_slow_receiver_times_out_and_the_retry_gets_through():
    async def scenario(reactor):
        receiver = Receiver(script=["hang"])
        port = listen(reactor, receiver)
        clock = Clock()
        poster, target = sender(reactor, url_of(port), clock, timeout=5)
        try:
            target.enqueue(payload())
            await receiver.arrived(1)  # the receiver holds it and says nothing
            clock.advance(5)
            await target.settled()
            assert target.last_error == "no answer within 5 s"
            assert target.retries == 1
            clock.advance(1)
            await target.settled()
            assert (target.sent, len(receiver.received)) == (1, 2)
        finally:
            target.stop()
            await poster.close()
            await port.stopListening()

    run(scenario)


def test_stop_with_an_attempt_in_flight_returns_without_waiting_for_it():
    async def scenario(reactor):
        receiver = Receiver(default="hang")
        port = listen(reactor, receiver)
        clock = Clock()
        poster, target = sender(reactor, url_of(port), clock, timeout=3600)
        try:
            target.enqueue(payload())
            target.enqueue(payload())
            await receiver.arrived(1)
            assert target.stop() == 2
            await target.settled()  # the cancelled request is done with
            await poster.close()
            assert clock.getDelayedCalls() == []
        finally:
            await port.stopListening()

    run(scenario)


def _tls(reactor):
    from twisted.internet.ssl import Certificate
    from twisted.web.client import BrowserLikePolicyForHTTPS

    from elektromail.tls import ServerContextFactory, generate_self_signed

    key_pem, cert_pem = generate_self_signed(["127.0.0.1", "localhost"])
    server = ServerContextFactory(key_pem, cert_pem)
    trusting = BrowserLikePolicyForHTTPS(trustRoot=Certificate.loadPEM(cert_pem))
    return server, trusting


def test_https_works_with_a_certificate_the_client_trusts():
    async def scenario(reactor):
        server_tls, trusting = _tls(reactor)
        receiver = Receiver()
        port = listen(reactor, receiver, tls=server_tls)
        clock = Clock()
        poster, target = sender(reactor, url_of(port, scheme="https"), clock, tls_policy=trusting)
        try:
            target.enqueue(payload())
            await target.settled()
            assert (target.sent, target.last_error) == (1, None)
            assert [r.body for r in receiver.received] == [BODY]
        finally:
            target.stop()
            await poster.close()
            await port.stopListening()

    run(scenario)


def test_https_to_a_certificate_that_does_not_verify_fails_saying_so():
    async def scenario(reactor):
        server_tls, _trusting = _tls(reactor)
        receiver = Receiver()
        port = listen(reactor, receiver, tls=server_tls)
        clock = Clock()
        poster, target = sender(reactor, url_of(port, scheme="https"), clock)  # system roots
        try:
            target.enqueue(payload())
            await target.settled()
            assert target.sent == 0
            assert "certificate" in target.last_error.lower(), target.last_error
            assert receiver.received == []
        finally:
            target.stop()
            await poster.close()
            await port.stopListening()

    run(scenario)


class Endless(Receiver):
    """Answers 200 and then body bytes for as long as the client reads them."""

    def __init__(self, reactor) -> None:
        super().__init__()
        self.reactor = reactor
        self.written = 0

    def render_POST(self, request):
        super().render_POST(request)
        request.setResponseCode(200)
        gone = []
        request.notifyFinish().addBoth(gone.append)

        def more():
            if not gone:
                request.write(b"x" * 65536)
                self.written += 65536
                self.reactor.callLater(0, more)

        more()
        return NOT_DONE_YET


def test_an_endless_answer_is_cut_off_after_its_first_bytes():
    async def scenario(reactor):
        receiver = Endless(reactor)
        port = listen(reactor, receiver)
        clock = Clock()
        poster, target = sender(reactor, url_of(port), clock)
        try:
            target.enqueue(payload())
            # A real-time guard for a client that reads on and on; it never fires otherwise.
            await target.settled().addTimeout(30, reactor)
            assert (target.sent, target.last_status) == (1, 200)
        finally:
            target.stop()
            await poster.close()
            await port.stopListening()

    run(scenario)


def test_a_receiver_that_does_not_speak_http_is_a_connection_failure_and_retried():
    from twisted.internet.protocol import Factory, Protocol

    class Garbage(Protocol):
        def dataReceived(self, data):
            self.transport.write(b"SSH-2.0-OpenSSH_9.2\r\n\x00\xff garbage\r\n\r\n")
            self.transport.loseConnection()

    async def scenario(reactor):
        port = reactor.listenTCP(0, Factory.forProtocol(Garbage), interface="127.0.0.1")
        clock = Clock()
        poster, target = sender(reactor, url_of(port), clock)
        try:
            target.enqueue(payload())
            await target.settled()
            assert target.last_error.startswith("connection failed"), target.last_error
            assert (target.retries, target.sent) == (1, 0)
        finally:
            target.stop()
            await poster.close()
            await port.stopListening()

    run(scenario)
