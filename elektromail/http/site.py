"""The twisted.web plumbing around the Klein app: a request that refuses oversized bodies without
keeping them, a root that answers what Klein would answer in HTML with JSON, and a factory that
can close every open connection (long-polls and event streams) when the server stops."""

from __future__ import annotations

import io
import json

from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, TimeoutMixin, WrappingFactory
from twisted.web import http, server
from twisted.web.resource import Resource

from elektromail.admission import Connections
from elektromail.http.jsonio import ApiError, write_error
from elektromail.store.errors import StoreFull, StoreUnavailable

log = Logger()

# Room for JSON around a base64 message: field names, flags, dates, escapes.
BODY_SLACK = 64 * 1024


def body_limit(max_message_size: int) -> int:
    """The largest request body: a largest message in base64, plus some."""
    return (max_message_size + 2) // 3 * 4 + BODY_SLACK


class LimitedRequest(server.Request):
    """Stops storing a body once it passes the site's `body_limit`; `too_large` says so."""

    too_large = False
    _received = 0

    def _limit(self) -> int:
        return self.channel.site.body_limit

    def gotLength(self, length):
        if length is not None and length > self._limit():
            self.too_large = True
            self.content = io.BytesIO()
            return
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self.too_large:
            return
        self._received += len(data)
        if self._received > self._limit():
            self.too_large = True
            self.content.close()
            self.content = io.BytesIO()
            return
        super().handleContentChunk(data)

    def processingFailed(self, reason):
        """Whatever escaped every handler: a JSON 500, never an HTML page or a traceback."""
        log.failure("HTTP request failed: {method} {uri}", reason, method=self.method, uri=self.uri)
        if self.finished or self._disconnected:
            return reason
        body = write_error(self, ApiError(500, "internal server error"))
        self.setHeader(b"Content-Length", b"%d" % len(body))
        self.write(body)
        self.finish()
        return reason


class JSONRoot(Resource):
    """Hands every request to the Klein resource, after the checks Klein answers in HTML or
    plain text: a body over the limit (413) and a path that is not UTF-8 (400)."""

    isLeaf = True

    def __init__(self, inner: Resource) -> None:
        super().__init__()
        self.inner = inner

    def render(self, request):
        if getattr(request, "too_large", False):
            limit = request.channel.site.body_limit
            return write_error(request, ApiError(413, f"body exceeds {limit} bytes"))
        try:
            b"/".join(request.postpath).decode("utf-8")
            request.getRequestHostname().decode("utf-8")
        except UnicodeDecodeError:
            return write_error(request, ApiError(400, "path or Host header: not UTF-8"))
        return self.inner.render(request)


def refusal(status: int, reason: bytes, message: str) -> bytes:
    """A whole HTTP/1.1 answer with a JSON error that closes the connection: for a request
    refused before twisted.web made a Request of it."""
    body = json.dumps({"error": message}).encode("utf-8")
    head = (
        b"HTTP/1.1 %d %s\r\n"
        b"Content-Type: application/json\r\n"
        b"Cache-Control: no-store\r\n"
        b"Connection: close\r\n"
        b"Content-Length: %d\r\n\r\n" % (status, reason, len(body))
    )
    return head + body


LINGER_SECONDS = 5.0  # how long a refused connection's further bytes are read and dropped
LINGER_BYTES = 16 * 1024 * 1024  # and how many at most


class ControlChannel(http.HTTPChannel):
    """twisted.web's channel, with an answer for a request head it will not read: 414 for a
    request line over MAX_LENGTH, 431 for a header line over it or header fields over
    totalHeadersSize (both 16 KB; RFC 9110 §15.5.15, RFC 6585 §5), and a JSON 400 for one it
    cannot parse, where twisted.web closes without a word or with a bare 400. The rest of the
    request is read and dropped for a while after the answer ("lingering close"): a client
    still sending when the socket closes would get a reset and lose the answer."""

    _refused = False
    _linger_call = None
    _lingered = 0

    def lineLengthExceeded(self, line):
        if self._receivedHeaderSize == 0:  # no line of this request yet: it is the request line
            self._refuse(414, b"URI Too Long", f"request line (URI) over {self.MAX_LENGTH} bytes")
        else:
            self._refuse_headers()

    def dataReceived(self, data):
        if self._refused:
            self._drop(data)
        else:
            super().dataReceived(data)

    def rawDataReceived(self, data):
        if not self._refused:
            super().rawDataReceived(data)

    def lineReceived(self, line):
        if self._refused:
            return
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            if self._receivedHeaderSize == 0:
                self._refuse(414, b"URI Too Long", "request line (URI) too long")
            else:
                self._refuse_headers()
            return
        super().lineReceived(line)

    def _refuse_headers(self) -> None:
        self._refuse(
            431,
            b"Request Header Fields Too Large",
            f"request header fields over {self.totalHeadersSize} bytes",
        )

    def _respondToBadRequestAndDisconnect(self):
        self._refuse(400, b"Bad Request", "malformed HTTP request")

    def _refuse(self, status: int, reason: bytes, message: str) -> None:
        if self._refused:
            return
        self._refused = True
        self.setTimeout(None)
        self.transport.write(refusal(status, reason, message))
        self._buffer = b""  # the rest of the request is dropped, as is all that follows
        lose_write = getattr(self.transport, "loseWriteConnection", None)
        if lose_write is None:
            self.loseConnection()
            return
        lose_write()  # the answer goes out, ended by FIN; the client's rest is read
        self._linger_call = self.callLater(LINGER_SECONDS, self._stop_lingering)

    def _drop(self, data: bytes) -> None:
        self._lingered += len(data)
        if self._lingered > LINGER_BYTES:
            self._stop_lingering()

    def _stop_lingering(self) -> None:
        if self._linger_call is not None and self._linger_call.active():
            self._linger_call.cancel()
        self._linger_call = None
        self.transport.abortConnection()

    def connectionLost(self, reason):
        if self._linger_call is not None and self._linger_call.active():
            self._linger_call.cancel()
        self._linger_call = None
        super().connectionLost(reason)


class ControlSite(server.Site):
    protocol = ControlChannel

    def __init__(self, resource: Resource, max_message_size: int) -> None:
        super().__init__(JSONRoot(resource), requestFactory=LimitedRequest)
        self.body_limit = body_limit(max_message_size)
        self.displayTracebacks = False
        self.noisy = False

    def log(self, request):
        """No access log line per request: a test suite makes thousands."""


def store_unavailable(request, error: StoreUnavailable) -> bytes:
    """The answer to a request the store could not carry out (full, read-only, failing): 503
    with Retry-After (RFC 9110 §15.6.4, §10.2.3); nothing was changed. Logged, as the SMTP
    and IMAP refusals are. For a Klein error handler placed before the catch-all one."""
    log.warn(
        "HTTP {method} {uri} refused: mail store unavailable: {why}",
        method=request.method.decode("ascii", "replace"),
        uri=request.uri.decode("ascii", "replace"),
        why=error,
    )
    full = isinstance(error, StoreFull)
    message = "mail store full" if full else "mail store unavailable"
    return write_error(
        request, ApiError(503, f"{message}, try again later", {b"Retry-After": b"1"})
    )


def _overloaded_response() -> bytes:
    body = b'{"error": "too many connections, try again later"}'
    head = (
        b"HTTP/1.1 503 Service Unavailable\r\n"
        b"Content-Type: application/json\r\n"
        b"Cache-Control: no-store\r\n"
        b"Retry-After: 1\r\n"
        b"Connection: close\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    return head + body


MAX_HEAD = 16 * 1024  # read no more than this of a refused connection's request
OVERLOADED_RESPONSE = _overloaded_response()


class Overloaded(Protocol, TimeoutMixin):
    """A connection beyond the listener's limit: its request is answered 503 and it is closed.
    The request head is read first: a client that is still sending when the socket closes
    may get a reset instead of the answer."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._head: bytes | None = b""  # None once answered

    def connectionMade(self) -> None:
        self.setTimeout(self.timeout)

    def dataReceived(self, data: bytes) -> None:
        if self._head is None:
            return
        self._head += data
        if b"\r\n\r\n" in self._head or len(self._head) > MAX_HEAD:
            self._head = None
            self.transport.write(OVERLOADED_RESPONSE)
            self.transport.loseConnection()

    def timeoutConnection(self) -> None:
        self.transport.loseConnection()

    def connectionLost(self, reason=None) -> None:
        self.setTimeout(None)


class ControlFactory(WrappingFactory):
    """The listening factory: the site, with its open connections known for `Server.stop`,
    and at most `max_connections` of them (`set_limits`); beyond it a connection's request is
    answered 503. WrappingFactory tells it when a connection goes."""

    noisy = False

    def __init__(self, site: ControlSite, max_connections: int = 1000) -> None:
        super().__init__(site)
        self.site = site
        self.connections: Connections[ProtocolWrapper] = Connections("HTTP", max_connections)

    def set_limits(self, max_connections: int, idle_timeout: float) -> None:
        """At most `max_connections` open at once; one idle for `idle_timeout` seconds (no
        request in progress) is closed, by twisted.web's HTTPChannel."""
        self.connections.maximum = max_connections
        self.site.timeOut = idle_timeout

    def buildProtocol(self, addr):
        connection = super().buildProtocol(addr)
        if not self.connections.admit(connection):
            return Overloaded(self.site.timeOut)
        return connection

    def registerProtocol(self, p: ProtocolWrapper) -> None:
        """Counted in already, by buildProtocol."""

    def unregisterProtocol(self, p: ProtocolWrapper) -> None:
        self.connections.forget(p)

    def close_connections(self) -> None:
        self.connections.close_all(_lose_connection)


def _lose_connection(connection: ProtocolWrapper) -> None:
    connection.transport.loseConnection()
