"""The twisted.web plumbing around the Klein app: a request that refuses oversized bodies without
keeping them, a root that answers what Klein would answer in HTML with JSON, and a factory that
can close every open connection (long-polls and event streams) when the server stops."""

from __future__ import annotations

import io

from twisted.logger import Logger
from twisted.protocols.policies import WrappingFactory
from twisted.web import server
from twisted.web.resource import Resource

from elektromail.http.jsonio import ApiError, write_error

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


class ControlSite(server.Site):
    def __init__(self, resource: Resource, max_message_size: int) -> None:
        super().__init__(JSONRoot(resource), requestFactory=LimitedRequest)
        self.body_limit = body_limit(max_message_size)
        self.displayTracebacks = False
        self.noisy = False

    def log(self, request):
        """No access log line per request: a test suite makes thousands."""


class ControlFactory(WrappingFactory):
    """The listening factory: the site, with its open connections known for `Server.stop`."""

    noisy = False

    def __init__(self, site: ControlSite) -> None:
        super().__init__(site)
        self.site = site

    def close_connections(self) -> None:
        for protocol in list(self.protocols):
            protocol.transport.loseConnection()
