"""Events across processes on PostgreSQL (issue 20, elektromail/store/pgevents.py): what crosses as
what, the parts of a large event, hostile notifications, and two servers on one database
(in this process with hubs and connections of their own, and as two real processes), the
LISTEN connection's loss and return."""

from __future__ import annotations

import imaplib
import json
import smtplib
import socket
import threading
import time
import urllib.request

import pytest
from twisted.internet import defer

from elektromail.events import (
    Events,
    EventsMissed,
    FlagsChanged,
    MailboxNameChanged,
    MessageAdded,
    MessagesExpunged,
    ServerReset,
    SubscriptionChanged,
    UserDeleted,
)
from elektromail.store import pgevents
from elektromail.testing import MailServer
from tests.test_postgresql import cluster, needs_postgresql  # noqa: F401 (a fixture)

EVENTS = [
    MessageAdded("user", "INBOX", 3, 7, ("\\Seen", "$Label"), "smtp"),
    FlagsChanged("user", "INBOX", 3, ((7, ("\\Seen",)), (8, ())), None, (11, 12)),
    FlagsChanged("user", "INBOX", 3, ((7, ("\\Seen",)),)),
    MessagesExpunged("user", "Archiv/2026", 4, (1, 5, 9)),
    MailboxNameChanged("user", "New", True),
    MailboxNameChanged("user", "New", True, "Old"),
    MailboxNameChanged("user", "Gone", False),
    SubscriptionChanged("user", "Lists/ü", False),
    UserDeleted("bob@ns1"),
    ServerReset(),
    ServerReset(frozenset({"a@ns1", "b@ns1"})),
]


# --- what crosses as what ---------------------------------------------------------------------


def _through(event):
    """`event` as another process hears it: encoded, cut into payloads, joined, decoded."""
    texts = [p.split(" ", 4)[4] for p in pgevents.payloads(pgevents.encode(event), 1)]
    return pgevents.decode(json.loads("".join(texts)))


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_crosses_as_itself_without_its_origin(event):
    heard = _through(event)
    assert heard == event and type(heard) is type(event)
    assert getattr(heard, "origin", None) is None


def test_a_message_heard_from_another_process_is_marked_remote():
    assert _through(EVENTS[0]).remote and not EVENTS[0].remote


def test_the_origin_session_is_not_sent_and_events_missed_are_local():
    change = FlagsChanged("user", "INBOX", 3, ((7, ()),), origin=object())
    assert "origin" not in pgevents.encode(change)
    assert pgevents.encode(EventsMissed()) is None


def test_a_huge_event_is_cut_into_payloads_under_notifys_limit():
    uids = tuple(range(1, 20_001, 2))  # 10,000 UIDs, no ranges to fold
    event = MessagesExpunged("user", "INBOX", 3, uids)
    parts = pgevents.payloads(pgevents.encode(event), 42)
    assert len(parts) > 5
    assert all(len(p.encode()) < 8000 for p in parts)
    assert [p.split(" ")[:4] for p in parts] == [
        ["e1", "42", str(i), str(len(parts))] for i in range(len(parts))
    ]
    assert _through(event) == event


@pytest.mark.parametrize(
    "obj",
    [
        [],
        {"t": "nothing"},
        {"t": "added", "user": "u", "mailbox": "INBOX", "mailbox_id": "3", "uid": 1},
        {"t": "added", "user": "u", "mailbox": "INBOX", "mailbox_id": 3, "uid": -1},
        {"t": "added", "user": "u", "mailbox": "INBOX", "mailbox_id": 3, "uid": True},
        {"t": "added", "user": 1, "mailbox": "INBOX", "mailbox_id": 3, "uid": 1, "flags": []},
        {"t": "added", "user": "u", "mailbox": "I", "mailbox_id": 3, "uid": 1, "flags": [1]},
        {"t": "flags", "user": "u", "mailbox": "I", "mailbox_id": 3, "changes": [[1]]},
        {"t": "flags", "user": "u", "mailbox": "I", "mailbox_id": 3, "changes": "x"},
        {
            "t": "flags",
            "user": "u",
            "mailbox": "I",
            "mailbox_id": 3,
            "changes": [[1, []]],
            "modseqs": [1, 2],
        },
        {"t": "expunged", "user": "u", "mailbox": "I", "mailbox_id": 3, "uids": [1, "2"]},
        {"t": "expunged", "user": "u", "mailbox": "I", "mailbox_id": 3, "uids": [2**64]},
        {"t": "name", "user": "u", "name": "x", "exists": 1},
        {"t": "name", "user": "u", "name": "x", "exists": True, "old_name": 5},
        {"t": "subscription", "user": "u", "name": "x"},
        {"t": "reset", "users": "everyone"},
        {"t": "user_deleted"},
    ],
)
def test_a_payload_that_is_not_an_event_is_refused(obj):
    with pytest.raises(pgevents.BadPayload):
        pgevents.decode(obj)


# --- hearing, without a database ----------------------------------------------------------


class _Conn:
    backend_pid = 100


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def seconds(self) -> float:
        return self.now


def _bridge():
    """A ClusterEvents as its connection left it, fed notifications by hand."""
    events = Events()
    bridge = pgevents.ClusterEvents.__new__(pgevents.ClusterEvents)
    bridge.events = events
    bridge.reactor = _Clock()
    bridge.on_remote = None
    bridge._conn = _Conn()
    bridge._joining = {}
    bridge._republishing = False
    bridge._warned_at = float("-inf")
    bridge._unwarned = 0
    bridge.heard = bridge.ignored = 0
    heard: list = []
    events.subscribe(heard.append)
    return bridge, heard


def _one_payload(event) -> bytes:
    (payload,) = pgevents.payloads(pgevents.encode(event), 9)
    return payload.encode()


def test_parts_are_joined_per_sender_and_own_notifications_are_skipped():
    bridge, heard = _bridge()
    big = MessagesExpunged("user", "INBOX", 3, tuple(range(1, 9000, 3)))
    small = UserDeleted("bob")
    for payload in pgevents.payloads(pgevents.encode(big), 5):
        bridge._heard(200, b"elektromail_events", payload.encode())
        bridge._heard(100, b"elektromail_events", payload.encode())  # our own: skipped
    bridge._heard(300, b"elektromail_events", _one_payload(small))
    assert heard == [big, small] and bridge.ignored == 0


@pytest.mark.parametrize(
    "payloads",
    [
        [b"hello"],
        [b"\xff\xfe garbage"],
        [b"e2 1 0 1 {}"],
        [b"e1 x 0 1 {}"],
        [b"e1 1 1 1 {}"],
        [b"e1 1 0 99999 {}"],
        [b"e1 1 0 1 {not json"],
        [b"e1 1 0 1 " + b"[" * 100_000],
        [b'e1 1 0 1 {"t": "reset", "users": 5}'],
        [b"e1 1 1 3 {}"],  # a part without its first
        [b'e1 1 0 3 {"t":', b'e1 1 2 3 "reset"}'],  # a part missing in between
        [b'e1 1 0 2 {"t":', b'e1 2 0 1 {"t":"reset"}'],  # cut short by another event
    ],
)
def test_a_foreign_notification_is_ignored_with_a_warning_and_the_next_event_is_heard(
    payloads, caplog
):
    bridge, heard = _bridge()
    for payload in payloads:
        bridge._heard(200, b"elektromail_events", payload)
    assert bridge.ignored >= 1
    assert all(not isinstance(e, ServerReset) or payloads[-1].endswith(b'"reset"}') for e in heard)
    bridge.reactor.now += 5
    event = UserDeleted("bob")
    bridge._heard(200, b"elektromail_events", _one_payload(event))
    assert heard[-1] == event


def test_warnings_about_ignored_notifications_come_once_a_second_at_most():
    bridge, _ = _bridge()
    warnings: list[dict] = []
    from twisted.logger import globalLogPublisher

    def observe(event):
        if "ignored a notification" in event.get("log_format", ""):
            warnings.append(event)

    globalLogPublisher.addObserver(observe)
    try:
        for _ in range(1000):
            bridge._heard(200, b"elektromail_events", b"flood")
        bridge.reactor.now += 1.5
        bridge._heard(200, b"elektromail_events", b"flood")
    finally:
        globalLogPublisher.removeObserver(observe)
    assert len(warnings) == 2 and warnings[1]["unwarned"] == 999
    assert bridge.ignored == 1001


# --- two servers on one database --------------------------------------------------------------


class Lines:
    """A raw protocol connection read line by line, each read bounded by a timeout."""

    def __init__(self, port: int, timeout: float = 20.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\r\n")

    def line(self) -> bytes:
        got = self.file.readline()
        if not got:
            raise EOFError("connection closed")
        return got.rstrip(b"\r\n")

    def until(self, pattern: bytes) -> list[bytes]:
        seen = []
        while True:
            got = self.line()
            seen.append(got)
            if pattern in got:
                return seen

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def _imap(port: int, select: str | None = "INBOX") -> Lines:
    client = Lines(port)
    client.line()  # greeting
    client.send("a LOGIN user pass")
    client.until(b"a OK")
    if select:
        client.send(f"b SELECT {select}")
        client.until(b"b OK")
    return client


def _send(port: int, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        body = f"Subject: {subject}\r\n\r\nbody\r\n".encode()
        smtp.sendmail("app@example.com", ["user@example.com"], body)


@pytest.fixture
def nodes(cluster):  # noqa: F811
    url = cluster.new_database()
    ports = {"smtp_port": 0, "imap_port": 0, "http_port": 0, "pop3_port": 0}
    first = MailServer(db=url, **ports).start()
    second = MailServer(db=url, **ports).start()
    try:
        yield first, second, url
    finally:
        second.stop()
        first.stop()


@needs_postgresql
def test_two_servers_have_hubs_and_listeners_of_their_own(nodes):
    first, second, _ = nodes
    one, two = first.server, second.server
    assert one.events is not two.events
    assert one.crossing.connected and two.crossing.connected
    assert one.crossing._conn.backend_pid != two.crossing._conn.backend_pid


@needs_postgresql
def test_a_delivery_on_one_node_reaches_idle_and_the_waits_on_the_other(nodes):
    first, second, _ = nodes
    cursor = first.cursor()
    idle = _imap(second.imap_port)
    idle.send("c IDLE")
    idle.until(b"+ ")
    sent = time.monotonic()
    _send(first.smtp_port, "across")
    idle.until(b"* 1 EXISTS")  # RFC 2177 §3: the server sends EXISTS while idling
    latency = time.monotonic() - sent
    print(f"cross-node IDLE latency: {latency * 1000:.1f} ms")
    idle.send("DONE")
    idle.until(b"c OK")
    idle.close()
    found = second.wait_for_messages(1, timeout=10)
    assert [m["subject"] for m in found] == ["across"]
    url = f"{second.http_url}/messages/wait?after={cursor}&timeout=10"
    with urllib.request.urlopen(url, timeout=20) as answer:
        body = json.load(answer)
    assert body["message"]["subject"] == "across" and body["timed_out"] is False


@needs_postgresql
def test_a_wait_on_one_node_is_woken_by_a_delivery_on_the_other(nodes):
    first, second, _ = nodes
    cursor = second.cursor()
    result: dict = {}

    def wait() -> None:
        url = f"{second.http_url}/messages/wait?after={cursor}&timeout=30"
        with urllib.request.urlopen(url, timeout=40) as answer:
            result.update(json.load(answer))

    waiter = threading.Thread(target=wait)
    waiter.start()
    # the wait is subscribed once the server counts it as open; a delivery before that
    # is found by its first query anyway
    _send(first.smtp_port, "woken")
    waiter.join(40)
    assert result["message"]["subject"] == "woken"
    assert second.wait_for(after=cursor, timeout=10).subject == "woken"


@needs_postgresql
def test_the_event_stream_on_one_node_shows_a_delivery_and_flags_on_the_other(nodes):
    from tests.http.client import Api
    from tests.http.test_events import Stream

    first, second, _ = nodes
    stream = Stream(Api(second))
    _send(first.smtp_port, "streamed")
    kind, data = stream.event()
    assert (kind, data["user"], data["mailbox"], data["uid"]) == ("delivered", "user", "INBOX", 1)
    actor = _imap(first.imap_port)
    actor.send("d UID STORE 1 +FLAGS (\\Answered)")
    actor.until(b"d OK")
    kind, data = stream.event()
    assert (kind, data["uid"], data["flags"]) == ("flags", 1, ["\\Answered"])
    actor.close()
    stream.close()


@needs_postgresql
def test_flags_and_expunges_on_one_node_are_told_to_a_session_on_the_other(nodes):
    first, second, _ = nodes
    _send(first.smtp_port, "one")
    _send(first.smtp_port, "two")
    watcher = _imap(second.imap_port)
    actor = _imap(first.imap_port)
    watcher.send("c IDLE")
    watcher.until(b"+ ")
    actor.send("d UID STORE 1 +FLAGS (\\Seen)")
    actor.until(b"d OK")
    # RFC 3501 §7.4.2: an unsolicited FETCH tells the new flags
    assert b"\\Seen" in watcher.until(b"* 1 FETCH")[-1]
    actor.send("e UID STORE 1 +FLAGS (\\Deleted)")
    actor.until(b"e OK")
    watcher.until(b"* 1 FETCH")
    actor.send("f EXPUNGE")
    actor.until(b"f OK")
    watcher.until(b"* 1 EXPUNGE")  # RFC 3501 §7.4.1
    watcher.send("DONE")
    watcher.until(b"c OK")
    watcher.send("g UID FETCH 1:* (FLAGS)")
    lines = watcher.until(b"g OK")
    assert lines[0].startswith(b"* 1 FETCH") and b"UID 2" in lines[0] and len(lines) == 2
    watcher.close()
    actor.close()


@needs_postgresql
def test_a_reset_on_one_node_ends_the_sessions_on_the_other(nodes):
    first, second, _ = nodes
    _send(first.smtp_port, "before")
    imap = _imap(second.imap_port)
    pop = Lines(second.pop3_port)
    pop.line()
    pop.send("USER user")
    pop.line()
    pop.send("PASS pass")
    assert pop.line().startswith(b"+OK")
    request = urllib.request.Request(f"{first.http_url}/reset", method="POST")
    urllib.request.urlopen(request, timeout=20).close()
    assert b"* BYE" in imap.until(b"* BYE")[-1]
    with pytest.raises(EOFError):
        imap.until(b"never")
    lines = []
    with pytest.raises(EOFError):
        while True:
            lines.append(pop.line())
    assert any(line.startswith(b"-ERR") for line in lines), lines
    assert second.messages("user") == []
    imap.close()
    pop.close()


@needs_postgresql
def test_a_deleted_user_ends_its_sessions_on_the_other_node_and_loses_its_route(nodes):
    first, second, _ = nodes
    first.add_user("carol", "pw", "carol@example.com")
    with smtplib.SMTP("127.0.0.1", second.smtp_port) as smtp:  # the route is remembered
        smtp.sendmail("a@example.com", ["carol@example.com"], b"Subject: x\r\n\r\n.\r\n")
    client = Lines(second.imap_port)
    client.line()
    client.send("a LOGIN carol pw")
    client.until(b"a OK")
    first.delete_user("carol")
    assert b"BYE" in client.until(b"* BYE")[-1]
    client.close()
    # routed anew (an unknown local part makes a user), not to the remembered deleted one
    with smtplib.SMTP("127.0.0.1", second.smtp_port) as smtp:
        smtp.sendmail("a@example.com", ["carol@example.com"], b"Subject: y\r\n\r\n.\r\n")
    assert [m["subject"] for m in second.messages("carol")] == ["y"]


@needs_postgresql
def test_a_delivery_is_heard_once_on_the_other_node_and_never_back_on_its_own(nodes):
    first, second, _ = nodes
    heard: dict[str, list] = {"first": [], "second": []}
    marked: defer.Deferred = defer.Deferred()  # the first heard the second's delivery

    def on_first(event):
        heard["first"].append(event)
        if isinstance(event, MessageAdded) and event.remote and not marked.called:
            marked.callback(None)

    first.call(lambda: first.server.events.subscribe(on_first))
    second.call(lambda: second.server.events.subscribe(heard["second"].append))
    _send(first.smtp_port, "once")
    # the store may have it before the second has heard of it: wait for the event itself
    assert _crossed(first, second, UserDeleted("marker 1"), UserDeleted) == UserDeleted("marker 1")
    _send(second.smtp_port, "marker")
    first.call(lambda: marked.addTimeout(20, first.server.reactor))
    added = [e for e in heard["first"] if isinstance(e, MessageAdded)]
    assert [e.remote for e in added] == [False, True]
    added = [e for e in heard["second"] if isinstance(e, MessageAdded)]
    assert [e.remote for e in added] == [True, False]


def _crossed(first, second, event, kind):
    """Publish `event` in the first node's hub; the first `kind` event the second hears."""
    heard: defer.Deferred = defer.Deferred()

    def subscribe():
        def on(e):
            if isinstance(e, kind) and not heard.called:
                heard.callback(e)

        second.server.events.subscribe(on)

    second.call(subscribe)
    first.call(lambda: first.server.events.publish(event))
    return second.call(lambda: heard.addTimeout(20, second.server.reactor))


@needs_postgresql
def test_a_huge_expunge_and_flag_change_cross_intact(nodes):
    first, second, _ = nodes
    uids = tuple(range(1, 20_001, 2))  # 10,000 UIDs
    expunged = MessagesExpunged("user", "INBOX", 1, uids)
    assert _crossed(first, second, expunged, MessagesExpunged) == expunged
    changes = tuple((uid, ("\\Seen", "$Keyword")) for uid in uids)
    flagged = FlagsChanged("user", "INBOX", 1, changes, None, tuple(range(10_000)))
    assert _crossed(first, second, flagged, FlagsChanged) == flagged


@needs_postgresql
def test_garbage_on_the_channel_from_a_foreign_client_is_ignored(nodes):
    import psycopg

    first, second, url = nodes
    with psycopg.connect(url, autocommit=True) as foreign:
        for payload in ["hello", "e1 1 0 1 {]", 'e1 1 0 1 {"t":"reset","users":3}', "e1 1 1 5 x"]:
            foreign.execute("SELECT pg_notify('elektromail_events', %s)", (payload,))
    event = UserDeleted("nobody")
    assert _crossed(first, second, event, UserDeleted) == event
    assert second.server.crossing.ignored >= 4
    assert second.server.crossing.connected
    assert second.messages("user") == []  # no reset happened


@needs_postgresql
def test_the_listener_reconnects_and_a_selected_view_catches_up_with_what_it_missed(nodes):
    import psycopg

    first, second, url = nodes
    crossing = second.server.crossing
    allowed = threading.Event()
    real_open = pgevents._open
    refused = threading.Event()

    def gated(conninfo):
        if not allowed.is_set():
            refused.set()
            raise ConnectionError("refused by the test")
        return real_open(conninfo)

    crossing._open_connection = gated
    missed: defer.Deferred = defer.Deferred()

    def subscribe():
        second.server.events.subscribe(
            lambda e: isinstance(e, EventsMissed) and not missed.called and missed.callback(e)
        )

    second.call(subscribe)
    idle = _imap(second.imap_port)
    idle.send("c IDLE")
    idle.until(b"+ ")
    pid = crossing._conn.backend_pid
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert refused.wait(20)  # lost, and the first reconnect refused
    _send(first.smtp_port, "while away")  # its NOTIFY is not heard by the second
    allowed.set()
    assert isinstance(
        second.call(lambda: missed.addTimeout(20, second.server.reactor)), EventsMissed
    )
    idle.until(b"* 1 EXISTS")
    idle.send("DONE")
    idle.until(b"c OK")
    idle.close()
    assert crossing.connected and crossing._conn.backend_pid != pid
    event = UserDeleted("nobody")
    assert _crossed(first, second, event, UserDeleted) == event


@needs_postgresql
def test_two_processes_on_one_database_hear_each_other(cluster, child_server):  # noqa: F811
    url = cluster.new_database()
    args = ["--smtp-port", "0", "--imap-port", "0", "--db", url]
    first = child_server(args).wait_ready()
    second = child_server(args).wait_ready()
    idle = _imap(second.ports["imap"])
    idle.send("c IDLE")
    idle.until(b"+ ")
    sent = time.monotonic()
    _send(first.ports["smtp"], "between processes")
    idle.until(b"* 1 EXISTS")
    print(f"cross-process IDLE latency: {(time.monotonic() - sent) * 1000:.1f} ms")
    idle.send("DONE")
    idle.until(b"c OK")
    idle.close()
    imap = imaplib.IMAP4("127.0.0.1", first.ports["imap"])
    imap.login("user", "pass")
    imap.select("INBOX")
    watcher = _imap(second.ports["imap"])
    watcher.send("d IDLE")
    watcher.until(b"+ ")
    imap.uid("STORE", "1", "+FLAGS", "(\\Flagged)")
    assert b"\\Flagged" in watcher.until(b"* 1 FETCH")[-1]
    watcher.close()
    imap.logout()


@needs_postgresql
def test_an_event_published_just_before_stop_still_goes(nodes):
    first, second, _ = nodes
    heard: defer.Deferred = defer.Deferred()

    def subscribe():
        second.server.events.subscribe(
            lambda e: isinstance(e, UserDeleted) and not heard.called and heard.callback(e)
        )

    second.call(subscribe)

    async def publish_and_stop():
        server = first.server
        server.events.publish(UserDeleted("last words"))
        await first._stop_in_reactor(server)

    first.call(publish_and_stop)
    first.server = None
    assert second.call(lambda: heard.addTimeout(20, second.server.reactor)) == UserDeleted(
        "last words"
    )


@needs_postgresql
def test_a_listener_that_cannot_connect_at_start_up_warns_and_connects_later(
    cluster,  # noqa: F811
    monkeypatch,
):
    url = cluster.new_database()
    allowed = threading.Event()
    real_open = pgevents._open
    calls = []

    def gated(conninfo):
        calls.append(conninfo)
        if not allowed.is_set():
            raise ConnectionError("not yet")
        return real_open(conninfo)

    monkeypatch.setattr(pgevents, "_open", gated)
    warnings: list[str] = []
    from twisted.logger import formatEvent, globalLogPublisher

    def observe(event):
        if event.get("log_level") is not None and event["log_level"].name == "warn":
            warnings.append(formatEvent(event))

    globalLogPublisher.addObserver(observe)
    try:
        with MailServer(db=url, imap_port=0) as node:  # starts: the store is there
            assert not node.server.crossing.connected
            allowed.set()
            node.call(
                lambda: node.server.crossing.when_connected().addTimeout(20, node.server.reactor)
            )
            assert len(calls) >= 2
    finally:
        globalLogPublisher.removeObserver(observe)
    mine = [w for w in warnings if "events:" in w]
    assert len(mine) == 1 and "cannot connect" in mine[0] and "not yet" in mine[0]


@needs_postgresql
def test_quotes_and_backslashes_cross_whatever_standard_conforming_strings_says(cluster):  # noqa: F811
    import psycopg

    url = cluster.new_database()
    name = url.rpartition("/")[2].partition("?")[0]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {name} SET standard_conforming_strings = off")
    with MailServer(db=url, imap_port=0) as first, MailServer(db=url, imap_port=0) as second:
        event = MailboxNameChanged("user", "it's a \\ and \\' and \"quote\" and ü", True)
        assert _crossed(first, second, event, MailboxNameChanged) == event
        flags = FlagsChanged("user", "INBOX", 1, ((1, ("\\Seen", "it's")),))
        assert _crossed(first, second, flags, FlagsChanged) == flags
