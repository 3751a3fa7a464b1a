"""Sending webhooks: one bounded queue per URL, one POST at a time, a timeout per attempt and
retries with exponential backoff. Nothing here ever makes a delivery wait: `enqueue` returns
at once, and a full queue drops its oldest entry (counted) rather than growing or blocking."""

from __future__ import annotations

import hashlib
import hmac
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from twisted.internet import defer
from twisted.internet.error import ConnectError, ConnectionLost, DNSLookupError, TimeoutError
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool, ResponseDone, ResponseFailed
from twisted.web.http_headers import Headers

log = Logger()

SIGNATURE_HEADER = "X-Elektromail-Signature"
EVENT_HEADER = "X-Elektromail-Event"
DELIVERY_HEADER = "X-Elektromail-Delivery"  # the payload's id: the same on every retry
MAX_ATTEMPTS = 6  # the first try and 5 retries
FIRST_BACKOFF = 1.0  # seconds before the first retry; doubled for each one after it
MAX_BACKOFF = 60.0
MAX_RESPONSE = 64 * 1024  # bytes of a receiver's answer read (and thrown away)
# 4xx means the request is wrong and sending it again will not help, but for these two, which
# say "not now" (RFC 9110 §15.5.9, RFC 6585 §4).
RETRIED_4XX = frozenset({408, 429})


def signature(secret: str, body: bytes) -> str:
    """The X-Elektromail-Signature value of `body`: `sha256=` and the HMAC-SHA256 hex digest
    of exactly those bytes, keyed with the secret's UTF-8 bytes (GitHub's scheme)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, ...): 1, 2, 4, ... 60."""
    return min(FIRST_BACKOFF * 2 ** (attempt - 1), MAX_BACKOFF)


@dataclass(frozen=True, slots=True)
class Payload:
    """One webhook call: its id (for X-Elektromail-Delivery), event name and JSON body."""

    id: str
    event: str
    body: bytes


class Refused(Exception):
    """The receiver answered, but not with 2xx; `retry` when sending again may help."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry = status >= 500 or status in RETRIED_4XX


# (url, body, headers) -> a Deferred firing with the response status; cancellable.
Poster = Callable[[bytes, bytes, Headers], defer.Deferred]


class AgentPoster:
    """POSTs with twisted.web.client.Agent, a connection each: a kept-alive one that the
    receiver closed while idle (Node's default after 5 s) would fail the next POST, which
    Twisted does not retry (not idempotent) and which would show as a failure here. The
    answer's body is read up to MAX_RESPONSE bytes and discarded."""

    def __init__(self, reactor, tls_policy=None) -> None:
        self.pool = HTTPConnectionPool(reactor, persistent=False)
        if tls_policy is None:
            self.agent = Agent(reactor, pool=self.pool)
        else:
            self.agent = Agent(reactor, contextFactory=tls_policy, pool=self.pool)

    def __call__(self, url: bytes, body: bytes, headers: Headers) -> defer.Deferred:
        d = self.agent.request(b"POST", url, headers, _BytesProducer(body))
        d.addCallback(_drain)
        return d

    def close(self) -> defer.Deferred:
        return self.pool.closeCachedConnections()


class _BytesProducer:
    """The body, given at once with its length (so Content-Length, not chunked)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.length = len(body)

    def startProducing(self, consumer) -> defer.Deferred:
        consumer.write(self.body)
        return defer.succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


class _Drain(Protocol):
    def __init__(self, done: defer.Deferred, status: int) -> None:
        self.done = done
        self.status = status
        self.size = 0

    def dataReceived(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > MAX_RESPONSE:  # enough: the status is all we wanted
            self.transport.stopProducing()

    def connectionLost(self, reason: Failure) -> None:
        if not self.done.called:
            self.done.callback(self.status)


def _drain(response) -> defer.Deferred:
    protocol: _Drain

    def cancel(_d: defer.Deferred) -> None:
        abort = getattr(protocol.transport, "abortConnection", None)
        if abort is not None:
            abort()

    done: defer.Deferred = defer.Deferred(cancel)
    protocol = _Drain(done, response.code)
    response.deliverBody(protocol)
    return done


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class WebhookTarget:
    """One URL: its queue, the attempt in flight or the retry waiting, and its counts."""

    def __init__(
        self,
        url: str,
        post: Poster,
        clock,
        *,
        timeout: float,
        queue_size: int,
        secret: str | None = None,
        user_agent: str = "elektromail",
    ) -> None:
        self.url = url
        self._url = url.encode("ascii")
        self.post = post
        self.clock = clock
        self.timeout = timeout
        self.secret = secret
        self.user_agent = user_agent
        self.queue: deque[Payload] = deque()
        self.queue_size = queue_size
        self.sent = 0
        self.failed = 0  # given up on: a 4xx, or every attempt failed
        self.dropped = 0  # pushed out of a full queue, or pending at shutdown
        self.retries = 0
        self.last_status: int | None = None
        self.last_error: str | None = None
        self.last_success: str | None = None
        self.last_failure: str | None = None
        self._current: Payload | None = None  # being sent, or waiting for its retry
        self._request: defer.Deferred | None = None
        self._timer = None  # the retry's delayed call
        self._failing = False  # for one warning when it starts failing, one when it recovers
        self._dropping = False  # for one warning when the queue starts overflowing
        self._stopped = False
        self._settled: list[defer.Deferred] = []

    # --- what the feed and the status route use ----------------------------------------------

    def enqueue(self, payload: Payload) -> None:
        """Queue `payload`; returns at once. A full queue drops its oldest entry: a receiver
        that was away for a while wants what is happening now, and the mail a running test
        waits for is the newest."""
        if self._stopped:
            return
        if len(self.queue) >= self.queue_size:
            self.queue.popleft()
            self.count_drop()
        self.queue.append(payload)
        self._next()

    def count_drop(self) -> None:
        """Count a delivery not sent for want of room; one warning until a POST succeeds."""
        if not self._dropping:
            self._dropping = True
            log.warn(
                "webhook {url}: queue full ({size}), dropping the oldest deliveries",
                url=self.url,
                size=self.queue_size,
            )
        self.dropped += 1

    def status(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "queued": len(self.queue),
            "in_flight": self._current is not None,
            "sent": self.sent,
            "failed": self.failed,
            "dropped": self.dropped,
            "retries": self.retries,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "last_success": self.last_success,
            "last_failure": self.last_failure,
        }

    @property
    def busy(self) -> bool:
        """A request is in flight."""
        return self._request is not None

    def settled(self) -> defer.Deferred:
        """Fires when no request is in flight (nothing to send, or waiting for a retry)."""
        if self._request is None:
            return defer.succeed(None)
        d: defer.Deferred = defer.Deferred()
        self._settled.append(d)
        return d

    def stop(self) -> int:
        """Cancel the attempt in flight and the retry timer, drop what is queued (counted);
        returns how many deliveries were not sent."""
        self._stopped = True
        pending = len(self.queue) + (self._current is not None)
        self.queue.clear()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._current = None
        if self._request is not None:
            self._request.cancel()
        self.dropped += pending
        return pending

    # --- sending -----------------------------------------------------------------------------

    def _next(self) -> None:
        if self._stopped or self._current is not None or not self.queue:
            return
        self._current = self.queue.popleft()
        self._attempt(1)

    def _headers(self, payload: Payload) -> Headers:
        headers = Headers(
            {
                b"Content-Type": [b"application/json; charset=utf-8"],
                b"User-Agent": [self.user_agent.encode("ascii", "replace")],
                EVENT_HEADER.encode(): [payload.event.encode("ascii")],
                DELIVERY_HEADER.encode(): [payload.id.encode("ascii")],
            }
        )
        if self.secret is not None:
            headers.setRawHeaders(SIGNATURE_HEADER, [signature(self.secret, payload.body)])
        return headers

    def _attempt(self, attempt: int) -> None:
        self._timer = None
        payload = self._current
        if payload is None or self._stopped:
            return
        try:
            d = self.post(self._url, payload.body, self._headers(payload))
        except Exception as e:  # a bug or a URL the client refuses: no retry will help
            self._answered(Failure(e), payload, attempt)
            return
        # Our own timer rather than Deferred.addTimeout: a cancelled Agent request fails with
        # its own error (ResponseNeverReceived), not CancelledError, so it could not tell.
        timer = self.clock.callLater(self.timeout, d.cancel)
        self._request = d
        d.addBoth(self._answered, payload, attempt, timer)

    def _answered(self, result, payload: Payload, attempt: int, timer=None) -> None:
        self._request = None
        timed_out = timer is not None and not timer.active()
        if timer is not None and timer.active():
            timer.cancel()
        if self._stopped or payload is not self._current:
            self._wake()
            return
        if isinstance(result, int) and 200 <= result < 300:
            self._succeeded(result)
        else:
            error = Refused(result) if isinstance(result, int) else result
            if timed_out:
                error = defer.TimeoutError()
            self._attempt_failed(error, attempt)
        self._wake()

    def _succeeded(self, status: int) -> None:
        self.sent += 1
        self.last_status = status
        self.last_success = _now()
        self._dropping = False
        if self._failing:
            self._failing = False
            log.info("webhook {url}: delivering again", url=self.url)
        self._current = None
        self._next()

    def _attempt_failed(self, error, attempt: int) -> None:
        reason, retry = _describe(error, self.timeout)
        if isinstance(error, Refused):
            self.last_status = error.status
        self.last_error = reason
        self.last_failure = _now()
        if not self._failing:
            self._failing = True
            log.warn("webhook {url} failed: {reason}", url=self.url, reason=reason)
        if retry and attempt < MAX_ATTEMPTS:
            self.retries += 1
            self._timer = self.clock.callLater(backoff(attempt), self._attempt, attempt + 1)
            return
        self.failed += 1
        self._current = None
        self._next()

    def _wake(self) -> None:
        if self._request is None:
            waiting, self._settled = self._settled, []
            for d in waiting:
                d.callback(None)


def _describe(error, timeout: float) -> tuple[str, bool]:
    """(what went wrong, in a few words; whether to try again)."""
    if isinstance(error, Refused):
        return str(error), error.retry
    failure = error if isinstance(error, Failure) else Failure(error)
    if failure.check(defer.TimeoutError, defer.CancelledError, TimeoutError):
        return f"no answer within {timeout:g} s", True
    if failure.check(DNSLookupError):
        return f"DNS lookup failed: {failure.getErrorMessage()}", True
    if failure.check(ConnectError, OSError):
        return f"cannot connect: {failure.getErrorMessage()}", True
    if failure.check(ResponseFailed, ConnectionLost, ResponseDone):
        reasons = getattr(failure.value, "reasons", None) or [failure]
        return f"connection failed: {_tls_reason(reasons) or _message(reasons[0])}", True
    return f"{failure.type.__name__}: {failure.getErrorMessage()}", False


def _message(failure: Failure) -> str:
    return failure.getErrorMessage() or failure.type.__name__


def _tls_reason(reasons: list[Failure]) -> str | None:
    """The TLS error among a failed response's reasons (a certificate that does not verify)."""
    for reason in reasons:
        try:
            from OpenSSL.SSL import Error as SSLError
        except ImportError:  # pragma: no cover - pyOpenSSL comes with twisted[tls]
            return None
        if reason.check(SSLError):
            return f"TLS: {reason.getErrorMessage()}"
    return None
