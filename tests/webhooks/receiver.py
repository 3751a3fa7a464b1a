"""A webhook receiver for the tests: a twisted.web server on a free loopback port that records
each POST and answers as its script says (a status, or "hang": no answer at all)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from twisted.internet import defer
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


class Receiver(Resource):
    """`script`: what to answer to the next requests, in order (an int status or "hang");
    after it, `default`. Thread-safe to read from a test thread (`wait_for`)."""

    isLeaf = True

    def __init__(self, script=(), default=200) -> None:
        super().__init__()
        self.script = list(script)
        self.default = default
        self.received: list[Received] = []
        self.hanging: list = []
        self._changed = threading.Condition()
        self._arrivals: list[tuple[int, defer.Deferred]] = []

    def render_POST(self, request):
        headers = {
            name.decode().lower(): values[-1].decode()
            for name, values in request.requestHeaders.getAllRawHeaders()
        }
        got = Received(request.path.decode(), headers, request.content.read())
        with self._changed:
            self.received.append(got)
            self._changed.notify_all()
        for wanted, d in list(self._arrivals):
            if len(self.received) >= wanted:
                self._arrivals.remove((wanted, d))
                d.callback(got)
        answer = self.script.pop(0) if self.script else self.default
        if answer == "hang":
            self.hanging.append(request)
            return NOT_DONE_YET
        request.setResponseCode(answer)
        return b"thanks"

    def arrived(self, count: int) -> defer.Deferred:
        """In the reactor: fires once `count` requests have come in."""
        if len(self.received) >= count:
            return defer.succeed(self.received[count - 1])
        d: defer.Deferred = defer.Deferred()
        self._arrivals.append((count, d))
        return d

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        """From a test thread: the requests once `count` have come in (TimeoutError after
        `timeout` seconds, saying how many did)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(f"{len(self.received)} of {count} webhook calls arrived")
            return list(self.received)


def listen(reactor, receiver: Receiver, port: int = 0, tls=None):
    """Listen on 127.0.0.1 (with TLS when `tls`, an IOpenSSLServerConnectionCreator)."""
    site = Site(receiver)
    site.displayTracebacks = False
    if tls is not None:
        return reactor.listenSSL(port, site, tls, interface="127.0.0.1")
    return reactor.listenTCP(port, site, interface="127.0.0.1")


def url_of(port, path: str = "/hook", scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{port.getHost().port}{path}"
