"""Probe a message's links for the links check (`?links=1`): HEAD, then GET when HEAD is not
allowed, each with a timeout, a few at a time, following redirects by hand so that a Location
to file:, ftp: or any other non-http scheme is refused, never followed. Twisted's Agent."""

from __future__ import annotations

from urllib.parse import urljoin

from twisted.internet import defer, protocol
from twisted.internet.error import TimeoutError as ConnectTimeout
from twisted.logger import Logger
from twisted.web.client import Agent
from twisted.web.http_headers import Headers

from elektromail.checks.links import Link, Probe, is_checkable

log = Logger()

MAX_REDIRECTS = 5
PARALLEL = 8  # links probed at once
RETRY_WITH_GET = frozenset({403, 405, 501})  # servers that refuse HEAD but answer GET
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HEADERS = Headers({b"User-Agent": [b"elektromail-link-check"]})


class _Discard(protocol.Protocol):
    """Takes a GET response's body by closing the connection at once: only the status counts."""

    def __init__(self, done: defer.Deferred) -> None:
        self.done = done

    def connectionMade(self) -> None:
        self.transport.stopProducing()

    def connectionLost(self, reason) -> None:
        if not self.done.called:
            self.done.callback(None)


async def probe_all(reactor, links: list[Link], timeout: float, cap: int) -> list[Probe]:
    """Probe the first `cap` http(s) links; the others are left out (the caller counts them)."""
    web = [link for link in links if is_checkable(link.url)][:cap]
    agent = Agent(reactor, connectTimeout=timeout)
    gate = defer.DeferredSemaphore(PARALLEL)

    def one(link: Link) -> defer.Deferred:
        return defer.Deferred.fromCoroutine(probe(reactor, agent, link.url, timeout))

    probes = await defer.gatherResults([gate.run(one, link) for link in web], consumeErrors=True)
    return list(probes)


async def probe(reactor, agent: Agent, url: str, timeout: float) -> Probe:
    """One link, with its redirects; never raises."""
    chain: list[str] = []
    current = url
    method = "HEAD"
    try:
        for _ in range(MAX_REDIRECTS + 1):
            status, location = await _ask(reactor, agent, method, current, timeout)
            if method == "HEAD" and status in RETRY_WITH_GET:
                method = "GET"
                status, location = await _ask(reactor, agent, method, current, timeout)
            if status not in _REDIRECTS or location is None:
                return Probe(url, status, None, tuple(chain), method)
            target = urljoin(current, location)
            chain.append(target)
            if not is_checkable(target):
                scheme = target.split(":", 1)[0][:20]
                return Probe(
                    url, status, f"redirect to a {scheme}: URL, not followed", tuple(chain)
                )
            current = target
        return Probe(url, None, f"more than {MAX_REDIRECTS} redirects", tuple(chain), method)
    except (defer.TimeoutError, defer.CancelledError, ConnectTimeout):
        return Probe(url, None, f"timeout: no answer within {timeout:g} s", tuple(chain), method)
    except Exception as e:  # refused, DNS, TLS, malformed URL: the link does not work
        if _cancelled(e):  # the timeout cancelled a request already sent
            return Probe(
                url, None, f"timeout: no answer within {timeout:g} s", tuple(chain), method
            )
        return Probe(url, None, _reason(e), tuple(chain), method)


async def _ask(reactor, agent: Agent, method: str, url: str, timeout: float):
    uri = _uri(url)
    d = agent.request(method.encode("ascii"), uri, _HEADERS)
    d.addTimeout(timeout, reactor)
    response = await d
    location = response.headers.getRawHeaders(b"location")
    if method == "GET" or response.length not in (0, None):
        done: defer.Deferred = defer.Deferred()
        response.deliverBody(_Discard(done))
        done.addTimeout(timeout, reactor)
        try:
            await done
        except defer.TimeoutError:
            pass
    text = location[0].decode("utf-8", "replace") if location else None
    return response.code, text


def _uri(url: str) -> bytes:
    """The URL as the bytes of a request line: non-ASCII host IDNA-encoded, path escaped."""
    import hyperlink

    return hyperlink.URL.from_text(url).to_uri().to_text().encode("ascii")


def _cancelled(error: Exception) -> bool:
    reasons = getattr(error, "reasons", None) or []
    return any(r.check(defer.CancelledError) for r in reasons)


def _reason(error: Exception) -> str:
    text = str(error) or type(error).__name__
    reasons = getattr(error, "reasons", None)
    if reasons:  # ResponseNeverReceived and friends wrap the real failure
        text = "; ".join(str(r.value) or type(r.value).__name__ for r in reasons)
    return text[:300]
