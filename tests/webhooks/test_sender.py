"""The sending side of webhooks, with no network: a fake poster whose answers the test gives,
and twisted.internet.task.Clock for the timeouts and the backoff between retries."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from twisted.internet import defer
from twisted.internet.error import ConnectionRefusedError, DNSLookupError
from twisted.internet.task import Clock

from elektromail.http.webhook_sender import (
    MAX_ATTEMPTS,
    Payload,
    WebhookTarget,
    backoff,
    signature,
)


class FakePoster:
    """Each call returns a Deferred the test fires (`answer`, `fail`) or leaves waiting."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, bytes, object, defer.Deferred]] = []
        self.cancelled = 0

    def __call__(self, url, body, headers):
        d = defer.Deferred(lambda _: setattr(self, "cancelled", self.cancelled + 1))
        self.calls.append((url, body, headers, d))
        return d

    def answer(self, status: int, index: int = -1) -> None:
        self.calls[index][3].callback(status)

    def fail(self, error: Exception, index: int = -1) -> None:
        self.calls[index][3].errback(error)


def payload(n: int = 1) -> Payload:
    return Payload(f"id{n}", "delivered", b'{"n": %d}' % n)


def target(post, clock, *, timeout=10, queue_size=100, secret=None) -> WebhookTarget:
    return WebhookTarget(
        "http://127.0.0.1:9/hook",
        post,
        clock,
        timeout=timeout,
        queue_size=queue_size,
        secret=secret,
    )


def test_a_2xx_answer_is_sent_once():
    post, clock = FakePoster(), Clock()
    t = target(post, clock)
    t.enqueue(payload())
    assert len(post.calls) == 1
    url, body, headers, _ = post.calls[0]
    assert (url, body) == (b"http://127.0.0.1:9/hook", b'{"n": 1}')
    assert headers.getRawHeaders("content-type") == ["application/json; charset=utf-8"]
    assert headers.getRawHeaders("x-elektromail-delivery") == ["id1"]
    assert headers.getRawHeaders("x-elektromail-event") == ["delivered"]
    assert headers.getRawHeaders("x-elektromail-signature") is None  # no secret: not signed
    post.answer(204)
    assert t.status() | {"last_success": None} == {
        "url": "http://127.0.0.1:9/hook",
        "queued": 0,
        "in_flight": False,
        "sent": 1,
        "failed": 0,
        "dropped": 0,
        "retries": 0,
        "last_status": 204,
        "last_error": None,
        "last_success": None,
        "last_failure": None,
    }
    assert clock.getDelayedCalls() == []


def test_the_signature_is_the_hmac_sha256_of_the_exact_body():
    post, clock = FakePoster(), Clock()
    target(post, clock, secret="s3cr\u00e9t").enqueue(payload())
    _, body, headers, _ = post.calls[0]
    expected = hmac.new("s3cr\u00e9t".encode(), body, hashlib.sha256).hexdigest()
    assert headers.getRawHeaders("x-elektromail-signature") == [f"sha256={expected}"]
    assert signature("s3cr\u00e9t", body) == f"sha256={expected}"


def test_the_backoff_doubles_from_one_second_up_to_a_minute():
    assert [backoff(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_a_5xx_is_retried_after_1_2_4_8_16_seconds_then_given_up():
    post, clock = FakePoster(), Clock()
    t = target(post, clock)
    t.enqueue(payload())
    waits = []
    for attempt in range(1, MAX_ATTEMPTS):
        post.answer(500 + attempt)
        (retry,) = clock.getDelayedCalls()
        waits.append(retry.getTime() - clock.seconds())
        clock.advance(waits[-1] - 0.5)
        assert len(post.calls) == attempt  # not early
        clock.advance(0.5)
        assert len(post.calls) == attempt + 1
        assert all(call[1] == b'{"n": 1}' for call in post.calls)  # the same body each time
    assert waits == [1, 2, 4, 8, 16]
    post.answer(503)
    assert clock.getDelayedCalls() == []
    status = t.status()
    assert (status["sent"], status["failed"], status["retries"]) == (0, 1, MAX_ATTEMPTS - 1)
    assert (status["last_status"], status["last_error"]) == (503, "HTTP 503")
    assert status["in_flight"] is False


def test_500_then_200_is_sent_after_one_retry():
    post, clock = FakePoster(), Clock()
    t = target(post, clock)
    t.enqueue(payload())
    post.answer(500)
    assert t.status()["in_flight"] is True
    clock.advance(1)
    post.answer(200)
    status = t.status()
    assert (status["sent"], status["failed"], status["retries"]) == (1, 0, 1)
    assert status["last_error"] == "HTTP 500"  # the last failure stays visible
    assert status["last_status"] == 200


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 422, 301, 302, 100])
def test_a_4xx_or_other_non_2xx_is_not_retried(status):
    post, clock = FakePoster(), Clock()
    t = target(post, clock)
    t.enqueue(payload(1))
    t.enqueue(payload(2))
    post.answer(status)
    assert len(post.calls) == 2  # the next delivery goes at once
    assert post.calls[1][1] == b'{"n": 2}'
    post.answer(200)
    assert clock.getDelayedCalls() == []  # no retry waits
    assert (t.failed, t.sent, t.retries, t.last_error) == (1, 1, 0, f"HTTP {status}")


@pytest.mark.parametrize("status", [408, 429])
def test_408_and_429_say_not_now_and_are_retried(status):
    post, clock = FakePoster(), Clock()
    t = target(post, clock)
    t.enqueue(payload())
    post.answer(status)
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(1)
    post.answer(200)
    assert (t.sent, t.retries) == (1, 1)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ConnectionRefusedError("Connection refused"), "cannot connect: "),
        (DNSLookupError("no.such.host"), "DNS lookup failed: "),
    ],
)
def test_connection_errors_are_retried(error, said):
    post, clock = FakePoster(), Clock()
    t = target(post, clock)
    t.enqueue(payload())
    post.fail(error)
    assert t.last_error.startswith(said)
    clock.advance(1)
    post.answer(200)
    assert (t.sent, t.retries, t.failed) == (1, 1, 0)


def test_an_attempt_that_takes_longer_than_the_timeout_is_cancelled_and_retried():
    post, clock = FakePoster(), Clock()
    t = target(post, clock, timeout=7)
    t.enqueue(payload())
    clock.advance(6.9)
    assert post.cancelled == 0
    clock.advance(0.1)
    assert post.cancelled == 1
    assert t.last_error == "no answer within 7 s"
    assert t.retries == 1
    clock.advance(1)  # the first backoff
    assert len(post.calls) == 2
    post.answer(200)
    assert t.sent == 1


def test_deliveries_go_one_at_a_time_in_order():
    post, clock = FakePoster(), Clock()
    t = target(post, clock)
    for n in range(1, 4):
        t.enqueue(payload(n))
    assert len(post.calls) == 1
    assert t.status()["queued"] == 2
    for n in range(1, 4):
        assert post.calls[n - 1][1] == b'{"n": %d}' % n
        post.answer(200, n - 1)
    assert (t.sent, len(post.calls)) == (3, 3)


def test_a_full_queue_drops_the_oldest_waiting_delivery_and_counts_it():
    post, clock = FakePoster(), Clock()
    t = target(post, clock, queue_size=3)
    for n in range(1, 8):  # 1 in flight, 2..7 queued: 2, 3, 4 pushed out
        t.enqueue(payload(n))
    status = t.status()
    assert (status["queued"], status["dropped"], status["in_flight"]) == (3, 3, True)
    for index in range(4):
        post.answer(200, index)
    assert [call[1] for call in post.calls] == [b'{"n": %d}' % n for n in (1, 5, 6, 7)]
    assert (t.sent, t.dropped) == (4, 3)


def test_enqueue_never_waits_for_the_receiver():
    """Thousands of deliveries while the receiver does not answer: each enqueue returns at
    once, the queue stays at its bound, and nothing is sent twice at the same time."""
    post, clock = FakePoster(), Clock()
    t = target(post, clock, queue_size=50)
    for n in range(5000):
        t.enqueue(payload(n))
    assert len(post.calls) == 1
    assert (len(t.queue), t.dropped) == (50, 5000 - 1 - 50)


def test_stop_cancels_the_attempt_and_the_retry_and_counts_what_was_pending():
    post, clock = FakePoster(), Clock()
    t = target(post, clock)
    t.enqueue(payload(1))
    t.enqueue(payload(2))
    assert t.stop() == 2
    assert post.cancelled == 1
    assert clock.getDelayedCalls() == []  # the attempt's timeout is gone too
    assert t.dropped == 2
    t.enqueue(payload(3))  # after stop: ignored
    assert len(post.calls) == 1

    post2, clock2 = FakePoster(), Clock()
    t2 = target(post2, clock2)
    t2.enqueue(payload(1))
    post2.answer(500)
    assert len(clock2.getDelayedCalls()) == 1  # waiting for the retry
    assert t2.stop() == 1
    assert clock2.getDelayedCalls() == []


def test_a_poster_that_raises_fails_the_delivery_and_goes_on():
    clock = Clock()
    calls = []

    def post(url, body, headers):
        calls.append(body)
        raise ValueError("unsupported URL")

    t = target(post, clock)
    t.enqueue(payload(1))
    t.enqueue(payload(2))
    assert len(calls) == 2
    assert (t.failed, t.retries) == (2, 0)
    assert t.last_error == "ValueError: unsupported URL"


def test_settled_fires_when_nothing_is_in_flight():
    post, clock = FakePoster(), Clock()
    t = target(post, clock)
    assert t.settled().called
    t.enqueue(payload())
    d = t.settled()
    assert not d.called
    post.answer(500)
    assert d.called  # waiting for the retry is settled
