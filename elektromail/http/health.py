"""GET /healthz: SMTP and IMAP answer a connection with their greeting, the store a query."""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.logger import Logger

log = Logger()

PROBE_TIMEOUT = 2.0  # seconds


class _Greeting(Protocol):
    """Waits for the first bytes the server sends, then hangs up."""

    def dataReceived(self, data: bytes) -> None:
        self.factory.answered(True)
        self.transport.loseConnection()

    def connectionLost(self, reason=None) -> None:
        self.factory.answered(False)


class _Probe(ClientFactory):
    protocol = _Greeting
    noisy = False  # no "Starting factory" log line per health check

    def __init__(self) -> None:
        self.result: Deferred[bool] = Deferred()

    def answered(self, ok: bool) -> None:
        if not self.result.called:
            self.result.callback(ok)

    def clientConnectionFailed(self, connector, reason) -> None:
        self.answered(False)


def _loopback(bind: str) -> str:
    """Where to reach a listener bound to `bind` from this process."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(bind, bind)


def greets(reactor, bind: str, port: int) -> Deferred[bool]:
    """Fires True when a connection to `port` receives a greeting within PROBE_TIMEOUT."""
    probe = _Probe()
    connector = reactor.connectTCP(_loopback(bind), port, probe, timeout=PROBE_TIMEOUT)
    timer = reactor.callLater(PROBE_TIMEOUT, lambda: connector.disconnect())

    def done(ok: bool) -> bool:
        if timer.active():
            timer.cancel()
        return ok

    return probe.result.addCallback(done)


async def healthy(
    reactor, bind: str, port: Callable[[str], int | None], store_answers: Callable[[], Deferred]
) -> bool:
    """True when every enabled SMTP and IMAP listener greets and the store answers."""
    checks = [greets(reactor, bind, p) for p in (port("smtp"), port("imap")) if p is not None]
    store = store_answers()
    store.addTimeout(PROBE_TIMEOUT, reactor)
    store.addCallbacks(lambda _: True, lambda failure: _failed("store", failure))
    results = await gatherResults([*checks, store])
    return all(results)


def _failed(what: str, failure) -> bool:
    log.warn("health check: {what} did not answer: {why}", what=what, why=failure.getErrorMessage())
    return False
