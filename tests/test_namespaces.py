"""Namespaces in the post office: idle expiry on an injected clock, and a database file that
keeps namespaces and their tokens across a restart."""

from __future__ import annotations

import json
import urllib.request

import pytest
from twisted.internet.task import Clock

from elektromail.testing import MailServer

IDLE = 3600.0


@pytest.fixture
def mail():
    with MailServer(http_port=0, namespace_idle=IDLE) as server:
        yield server


def on_clock(mail: MailServer) -> Clock:
    clock = Clock()
    postoffice = mail.server.postoffice
    mail.call(postoffice.stop_expiry)
    postoffice.clock = clock
    return clock


def test_an_idle_namespace_expires_and_a_used_one_does_not(mail):
    postoffice = mail.server.postoffice
    clock = on_clock(mail)
    _idle, _ = mail.call(postoffice.create_namespace, "idle")
    _busy, _ = mail.call(postoffice.create_namespace, "busy")
    mail.call(clock.advance, IDLE * 0.9)
    mail.call(postoffice.touch, "busy")
    assert mail.call(postoffice.expire_idle) == []
    mail.call(clock.advance, IDLE * 0.2)
    assert mail.call(postoffice.expire_idle) == ["idle"]
    assert list(postoffice.namespaces) == ["busy"]
    mail.call(clock.advance, IDLE)
    assert mail.call(postoffice.expire_idle) == ["busy"]
    assert postoffice.namespaces == {}


def test_the_sweep_runs_on_the_clock_it_is_given(mail):
    postoffice = mail.server.postoffice
    clock = on_clock(mail)
    mail.call(postoffice.start_expiry, clock)
    (call,) = clock.getDelayedCalls()
    assert call.getTime() == 60.0  # at most a minute apart
    mail.call(postoffice.create_namespace, "swept")
    mail.call(clock.advance, IDLE + 60)
    # the store answers in order: once it has listed, the sweep's deletion is done
    assert mail.call(postoffice.store.list_namespaces) == []
    assert postoffice.namespaces == {}
    mail.call(postoffice.stop_expiry)


def test_delivery_counts_as_use(mail):
    postoffice = mail.server.postoffice
    clock = on_clock(mail)
    mail.call(postoffice.create_namespace, "mailed")
    mail.call(clock.advance, IDLE * 0.9)
    mail.call(postoffice.deliver, ["x@mailed.ns.localhost"], b"Subject: s\r\n\r\nb\r\n")
    mail.call(clock.advance, IDLE * 0.5)
    assert mail.call(postoffice.expire_idle) == []


def test_namespace_idle_off_never_expires():
    with MailServer(namespace_idle="off") as server:
        postoffice = server.server.postoffice
        clock = on_clock(server)
        server.call(postoffice.create_namespace, "forever")
        server.call(clock.advance, 10 * 365 * 86400)
        assert server.call(postoffice.expire_idle) == []


def http(mail: MailServer, method: str, path: str, token: str | None = None, body=None):
    request = urllib.request.Request(
        mail.http_url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_database_file_keeps_namespaces_and_their_tokens(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(http_port=0, db=db) as first:
        status, made = http(first, "POST", "/namespaces", body={"name": "kept"})
        assert status == 201
        first.call(
            first.server.postoffice.deliver, ["bob@kept.ns.localhost"], b"Subject: s\r\n\r\n"
        )
        status, gone = http(first, "POST", "/namespaces", body={"name": "gone"})
        assert http(first, "DELETE", "/namespaces/gone")[0] == 200
    with MailServer(http_port=0, db=db) as second:
        status, listed = http(second, "GET", "/namespaces")
        assert [(n["name"], n["users"], n["messages"]) for n in listed] == [("kept", 1, 1)]
        status, found = http(second, "GET", "/messages", token=made["token"])
        assert status == 200 and [m["user"] for m in found["messages"]] == ["bob"]
        assert http(second, "GET", "/messages", token=gone["token"])[0] == 401
        assert http(second, "GET", "/messages")[1]["messages"] == []


def test_a_sweep_while_the_database_cannot_write_keeps_the_timer_going(mail):
    """A sweep that finds the database unavailable (read-only here; a PostgreSQL server away
    is the same StoreUnavailable) logs a warning, keeps the uses it could not write, and the
    next sweep does the work: a failure must not stop the LoopingCall for good."""
    postoffice = mail.server.postoffice
    clock = on_clock(mail)
    mail.call(postoffice.start_expiry, clock)
    mail.call(postoffice.create_namespace, "swept")
    mail.call(postoffice.create_namespace, "used")
    mail.call(clock.advance, IDLE * 0.9)
    mail.call(postoffice.touch, "used")
    mail.call(mail.server.store.simulate_read_only, True)
    mail.call(clock.advance, IDLE * 0.2)
    assert mail.call(postoffice.store.list_namespaces)  # both still stored
    assert postoffice._used, "the use not written is kept for the next sweep"
    mail.call(mail.server.store.simulate_read_only, False)
    assert postoffice._sweep is not None and postoffice._sweep.running
    mail.call(clock.advance, 60)
    assert [n.name for n in mail.call(postoffice.store.list_namespaces)] == ["used"]
    assert postoffice._used == {}
    mail.call(postoffice.stop_expiry)
