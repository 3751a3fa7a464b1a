"""Long-poll on GET /messages (`wait=S&count=N`): driven by delivery events, never by polling;
answers early, times out with what there is, and lets go when the client leaves."""

from __future__ import annotations

import http.client
import json
import smtplib
import time

import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from elektromail.events import Events, MessageAdded, ServerReset
from elektromail.http import live

# --- over sockets ------------------------------------------------------------------------------


def subscribers(mail) -> int:
    return mail.call(lambda: len(mail.server.events._subscribers))


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_answers_as_soon_as_count_messages_match(api, mail):
    api.inject("Subject: hello 1\r\n\r\n")
    before = subscribers(mail)
    conn = api.connect(timeout=30)
    started = time.monotonic()
    conn.request("GET", "/messages?wait=30&count=2&subject=hello")
    wait_until(lambda: subscribers(mail) == before + 1)  # the waiter is in place
    api.inject("Subject: other\r\n\r\n")  # wakes the waiter, but does not match
    api.inject("Subject: hello 2\r\n\r\n", user="alice")
    answer = conn.getresponse()
    listed = json.loads(answer.read())
    conn.close()
    assert time.monotonic() - started < 10
    assert [m["subject"] for m in listed["messages"]] == ["hello 1", "hello 2"]
    assert (listed["count"], listed["timed_out"]) == (2, False)


def test_answers_an_smtp_delivery(api, mail):
    before = subscribers(mail)
    conn = api.connect(timeout=30)
    conn.request("GET", "/messages?wait=30&user=bob")
    wait_until(lambda: subscribers(mail) == before + 1)
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("a@b.test", ["bob@example.net"], b"Subject: for bob\r\n\r\nhi\r\n")
    listed = json.loads(conn.getresponse().read())
    conn.close()
    assert [m["subject"] for m in listed["messages"]] == ["for bob"]
    assert listed["timed_out"] is False


def test_times_out_with_what_there_is(api):
    api.inject("Subject: only one\r\n\r\n")
    started = time.monotonic()
    answer = api.get("/messages?wait=1&count=2", timeout=30)
    elapsed = time.monotonic() - started
    listed = answer.json()
    assert answer.status == 200
    assert 0.9 <= elapsed < 10
    assert (listed["count"], listed["timed_out"]) == (1, True)
    assert listed["messages"][0]["subject"] == "only one"


def test_enough_messages_answer_at_once(api):
    api.inject("Subject: a\r\n\r\n")
    started = time.monotonic()
    listed = api.get("/messages?wait=60").json()
    assert time.monotonic() - started < 5
    assert (listed["count"], listed["timed_out"]) == (1, False)


def test_count_zero_answers_at_once(api):
    assert api.get("/messages?wait=60&count=0").json() == {
        "messages": [],
        "count": 0,
        "total": 0,
        "timed_out": False,
        "cursor": 0,
    }


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("wait=61", "wait"),
        ("wait=-1", "wait"),
        ("wait=soon", "wait"),
        ("wait=nan", "wait"),
        ("wait=1&count=-1", "count"),
        ("wait=1&count=two", "count"),
    ],
)
def test_invalid_wait_or_count_is_400(api, query, name):
    answer = api.get(f"/messages?{query}")
    assert answer.status == 400
    assert f"'{name}'" in answer.error


def test_a_client_that_leaves_is_let_go(api, mail):
    before = subscribers(mail)
    conn = api.connect()
    conn.request("GET", "/messages?wait=60")
    wait_until(lambda: subscribers(mail) == before + 1)
    conn.close()
    wait_until(lambda: subscribers(mail) == before)


def test_stopping_the_server_ends_a_long_poll(mail, api):
    before = subscribers(mail)
    conn = api.connect(timeout=30)
    conn.request("GET", "/messages?wait=60")
    wait_until(lambda: subscribers(mail) == before + 1)
    started = time.monotonic()
    mail.stop()
    with pytest.raises((http.client.HTTPException, OSError)):
        conn.getresponse().read()
    assert time.monotonic() - started < 10
    conn.close()


# --- the waiter itself, on a fake clock ------------------------------------------------------


class Source:
    """A query whose answers the test sets; counts the calls."""

    def __init__(self) -> None:
        self.items: list[int] = []
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return succeed(list(self.items))


def start(clock, events, source, count=1, timeout=10.0, **filters) -> Deferred:
    return Deferred.fromCoroutine(live.wait_for(clock, events, source, count, timeout, **filters))


def added(user="user", mailbox="INBOX", uid=1) -> MessageAdded:
    return MessageAdded(user, mailbox, 1, uid, ())


def test_waiter_answers_at_once_when_enough_match():
    clock, events, source = Clock(), Events(), Source()
    source.items = [1, 2]
    result = []
    start(clock, events, source, count=2).addCallback(result.append)
    assert result == [([1, 2], False)]
    assert clock.getDelayedCalls() == [] and events._subscribers == []


def test_waiter_queries_again_only_for_mail_that_may_match():
    clock, events, source = Clock(), Events(), Source()
    result = []
    start(clock, events, source, user="bob", mailbox="INBOX").addCallback(result.append)
    assert source.calls == 1
    events.publish(added(user="alice"))
    events.publish(added(user="bob", mailbox="Archive"))
    assert source.calls == 1 and result == []
    source.items = [7]
    events.publish(added(user="BOB", mailbox="inbox"))
    assert source.calls == 2
    assert result == [([7], False)]
    assert clock.getDelayedCalls() == [] and events._subscribers == []


def test_waiter_times_out_with_the_last_answer():
    clock, events, source = Clock(), Events(), Source()
    result = []
    start(clock, events, source, count=3, timeout=5).addCallback(result.append)
    source.items = [1]
    events.publish(added())
    clock.advance(4.9)
    assert result == []
    clock.advance(0.1)
    assert result == [([1], True)]
    assert events._subscribers == []


def test_waiter_wakes_after_a_reset():
    clock, events, source = Clock(), Events(), Source()
    result = []
    start(clock, events, source).addCallback(result.append)
    source.items = [1]
    events.publish(ServerReset())
    assert result == [([1], False)]


def test_cancelling_the_waiter_unsubscribes_and_stops_the_timer():
    clock, events, source = Clock(), Events(), Source()
    waiting = start(clock, events, source, timeout=60)
    failures = []
    waiting.addErrback(failures.append)
    waiting.cancel()
    assert len(failures) == 1
    assert clock.getDelayedCalls() == [] and events._subscribers == []
