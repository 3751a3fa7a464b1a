"""The feed from the event hub to the targets, with a stand-in post office (its reads are
Deferreds the test fires), a fake poster and a Clock: what is sent, to whom, and what is
skipped or dropped when reads fall behind."""

from __future__ import annotations

import json
from types import SimpleNamespace

from twisted.internet import defer
from twisted.internet.task import Clock

from elektromail.config import Settings
from elektromail.events import Events, FlagsChanged, MessageAdded
from elektromail.http.webhooks import Webhooks
from tests.webhooks.test_sender import FakePoster

A, B = "http://a.test/hook", "http://b.test/hook"


class PostOffice:
    """Only what the feed uses: the hub, reads of one message, and namespaces."""

    def __init__(self) -> None:
        self.events = Events()
        self.reads: list[tuple[tuple, defer.Deferred]] = []

    def get_message(self, user, mailbox, uid, *, raw=True):
        assert raw is False  # a summary is enough
        d: defer.Deferred = defer.Deferred()
        self.reads.append(((user, mailbox, uid), d))
        return d

    def namespace_of_user(self, name):
        return name.rpartition("@")[2] if "@" in name else None

    def unqualify(self, name, namespace):
        return name.removesuffix(f"@{namespace}") if namespace else name


def summary(user="bob", mailbox="INBOX", uid=1, subject="Hi"):
    return SimpleNamespace(
        uid=uid,
        user=user,
        mailbox=mailbox,
        flags=("\\Seen",),
        modseq=3,
        internal_date=0.0,
        tz_minutes=0,
        size=42,
        structure=json.dumps(None),
        attachments=0,
        preview="hello",
    )


def feed(urls=(A,), queue=1000):
    postoffice, post, clock = PostOffice(), FakePoster(), Clock()
    settings = Settings(webhook_urls=tuple(urls), webhook_queue=queue)
    hooks = Webhooks(postoffice, settings, object(), clock=clock, post=post)
    hooks.start()
    return postoffice, post, clock, hooks


def added(user="bob", uid=1, source="smtp", mailbox="INBOX"):
    return MessageAdded(user, mailbox, 7, uid, (), source)


def test_only_new_mail_is_read_and_sent(monkeypatch):
    from elektromail.http import render

    monkeypatch.setattr(render, "_shown_envelope", lambda structure: (None,) * 6)
    postoffice, post, _clock, _hooks = feed()
    for source in ("copy", "move"):
        postoffice.events.publish(added(source=source))
    postoffice.events.publish(FlagsChanged("bob", "INBOX", 7, ((1, ()),)))
    assert postoffice.reads == []
    postoffice.events.publish(added(uid=9, source="append"))
    ((where, d),) = postoffice.reads
    assert where == ("bob", "INBOX", 9)
    d.callback(summary(uid=9))
    body = json.loads(post.calls[0][1])
    assert (body["source"], body["user"], body["namespace"], body["message"]["uid"]) == (
        "append",
        "bob",
        None,
        9,
    )


def test_a_namespace_user_is_shown_as_its_namespace_shows_it(monkeypatch):
    from elektromail.http import render

    monkeypatch.setattr(render, "_shown_envelope", lambda structure: (None,) * 6)
    postoffice, post, _clock, _hooks = feed()
    postoffice.events.publish(added(user="ann@team1"))
    postoffice.reads[0][1].callback(summary(user="ann@team1"))
    body = json.loads(post.calls[0][1])
    assert (body["user"], body["message"]["user"], body["namespace"]) == ("ann", "ann", "team1")


def test_a_message_gone_before_it_was_read_is_skipped():
    postoffice, post, _clock, hooks = feed()
    postoffice.events.publish(added())
    postoffice.reads[0][1].callback(None)
    assert post.calls == []
    assert hooks.status()["skipped"] == 1


def test_reads_falling_behind_a_burst_are_dropped_and_counted_on_every_target():
    postoffice, _post, _clock, hooks = feed(urls=(A, B), queue=2)
    for uid in range(1, 6):
        postoffice.events.publish(added(uid=uid))
    assert len(postoffice.reads) == 2  # the rest were not even read
    assert [t["dropped"] for t in hooks.status()["webhooks"]] == [3, 3]


def test_each_url_has_its_own_queue_and_a_failing_one_does_not_hold_the_other(monkeypatch):
    from elektromail.http import render

    monkeypatch.setattr(render, "_shown_envelope", lambda structure: (None,) * 6)
    postoffice, post, _clock, hooks = feed(urls=(A, B))
    postoffice.events.publish(added(uid=1))
    postoffice.events.publish(added(uid=2))
    for uid, (_, d) in enumerate(postoffice.reads, 1):
        d.callback(summary(uid=uid))
    assert [c[0] for c in post.calls] == [A.encode(), B.encode()]
    post.fail(ConnectionError("refused"), 0)  # A is down
    post.answer(200, 1)  # B gets the first, then the second at once
    assert [c[0] for c in post.calls] == [A.encode(), B.encode(), B.encode()]
    post.answer(200, 2)
    a, b = hooks.status()["webhooks"]
    assert (a["sent"], a["queued"], a["in_flight"]) == (0, 1, True)
    assert (b["sent"], b["queued"], b["in_flight"]) == (2, 0, False)
    # one body for both URLs: the same delivery id
    assert post.calls[0][1] == post.calls[1][1]


def test_stop_cancels_the_reads_and_unsubscribes():
    postoffice, _post, _clock, hooks = feed()
    postoffice.events.publish(added())
    ((_, d),) = postoffice.reads
    defer.Deferred.fromCoroutine(hooks.stop())
    assert d.called  # cancelled
    postoffice.events.publish(added(uid=2))
    assert len(postoffice.reads) == 1
    assert hooks.status()["skipped"] == 0  # a cancelled read is not a failure


def test_a_message_another_process_stored_is_its_to_send():
    """On a shared PostgreSQL store (store/pgevents.py) every process hears each delivery: only
    the one that stored it sends the webhook, so it is sent once."""
    postoffice, post, _clock, _hooks = feed()
    postoffice.events.publish(MessageAdded("bob", "INBOX", 7, 1, (), "smtp", remote=True))
    assert postoffice.reads == [] and post.calls == []
