"""Retention (--max-messages, --max-age; postoffice/retention.py): the oldest messages go first,
after deliveries and on a timer, in each namespace apart, through the one door (selected IMAP
sessions get EXPUNGE or VANISHED, /events says `expunged`), one log line per pass. Time is a
twisted.internet.task.Clock, the store's save dates included."""

from __future__ import annotations

import imaplib
import poplib
import threading
import types

import pytest
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher

from elektromail.config import ConfigError, resolve
from elektromail.postoffice import retention
from elektromail.store import db
from elektromail.testing import MailServer
from tests.http.client import Api
from tests.http.openapi_check import validator
from tests.http.test_events import Stream
from tests.imap.wire import ImapWire

T0 = 1_800_000_000.0  # the clocks' start: 2027-01-15


def body(n: int) -> bytes:
    return b"Subject: m%d\r\nFrom: a@x\r\n\r\nbody %d\r\n" % (n, n)


def on_clock(mail: MailServer, monkeypatch) -> Clock:
    """Passes, the age timer and the store's save dates on one Clock at T0, from now on."""
    postoffice = mail.server.postoffice
    mail.call(postoffice.retention_settled)
    mail.call(postoffice.stop_retention)
    clock = Clock()
    clock.advance(T0)
    monkeypatch.setattr(db, "time", types.SimpleNamespace(time=clock.seconds))
    mail.call(postoffice.start_retention, clock)
    settle(mail, clock)  # the first pass, at start
    return clock


def settle(mail: MailServer, clock: Clock) -> None:
    """Run the passes due on `clock` (each after the one before, PASS_GAP apart) until none
    is due or running."""
    postoffice = mail.server.postoffice
    for _ in range(100):
        mail.call(postoffice.retention_pass_ended)
        if not mail.call(postoffice.retention_due):
            return
        mail.call(clock.advance, retention.PASS_GAP)
    raise AssertionError("the passes never settled")


def deliver(mail: MailServer, to: str, *numbers: int) -> None:
    for n in numbers:
        mail.call(mail.server.postoffice.deliver, [to], body(n))


def number_of(raw: bytes) -> int:
    return int(raw.split(b"\r\n", 1)[0].removeprefix(b"Subject: m"))


def stored(mail: MailServer, namespace: str | None = None) -> dict[int, bytes]:
    """Each message kept (of `namespace`), by the number body() gave it: its bytes."""
    postoffice = mail.server.postoffice
    out = {}
    for summary in mail.call(postoffice.list_messages, None, None, namespace):
        found = mail.call(postoffice.get_message, summary.user, summary.mailbox, summary.uid)
        out[number_of(found.raw)] = found.raw
    return out


def subjects(mail: MailServer, namespace: str | None = None) -> list[str]:
    return [f"m{n}" for n in sorted(stored(mail, namespace))]


@pytest.fixture
def capped():
    with MailServer(users="user:pass,alice:wonder", max_messages=3, http_port=0) as server:
        yield server


# --- the cap -------------------------------------------------------------------------------


def test_the_cap_keeps_the_newest_messages_of_every_user_together(capped, monkeypatch):
    clock = on_clock(capped, monkeypatch)
    deliver(capped, "user@x", 1, 2)
    deliver(capped, "alice@x", 3)
    settle(capped, clock)
    assert subjects(capped) == ["m1", "m2", "m3"]
    deliver(capped, "alice@x", 4)
    deliver(capped, "user@x", 5)
    settle(capped, clock)
    # server-wide (the default namespace): the two oldest went, whoever they were for
    assert subjects(capped) == ["m3", "m4", "m5"]


def test_the_cap_counts_each_namespace_apart(capped, monkeypatch):
    clock = on_clock(capped, monkeypatch)
    postoffice = capped.server.postoffice
    capped.call(postoffice.create_namespace, "team")
    deliver(capped, "user@x", 1, 2)
    deliver(capped, "bob@team.ns.localhost", *range(10, 16))
    settle(capped, clock)
    # the team's flood prunes the team's mail only
    assert subjects(capped) == ["m1", "m2"]
    assert subjects(capped, "team") == ["m13", "m14", "m15"]
    deliver(capped, "user@x", 3, 4)
    settle(capped, clock)
    assert subjects(capped) == ["m2", "m3", "m4"]
    assert subjects(capped, "team") == ["m13", "m14", "m15"]


def test_the_oldest_by_arrival_go_first_whatever_their_date(capped, monkeypatch):
    # an APPEND with a 2019 internal date is as new as its APPEND (the save date, RFC 8514,
    # decides, as Dovecot's autoexpunge counts)
    clock = on_clock(capped, monkeypatch)
    deliver(capped, "user@x", 1, 2)
    imap = imaplib.IMAP4("127.0.0.1", capped.imap_port)
    imap.login("user", "pass")
    imap.append("INBOX", None, imaplib.Time2Internaldate(1_550_000_000), body(3))
    imap.logout()
    deliver(capped, "user@x", 4)
    settle(capped, clock)
    assert subjects(capped) == ["m2", "m3", "m4"]


def test_a_pass_follows_the_deliveries_not_each_message(capped, monkeypatch):
    clock = on_clock(capped, monkeypatch)
    calls = []
    store = capped.server.store
    real = store.prune
    monkeypatch.setattr(store, "prune", lambda *a: calls.append(a) or real(*a))
    deliver(capped, "user@x", *range(1, 21))
    settle(capped, clock)
    assert len(calls) == 1
    assert subjects(capped) == ["m18", "m19", "m20"]


def test_a_cap_off_prunes_nothing(monkeypatch):
    with MailServer(max_messages="off") as mail:
        clock = on_clock(mail, monkeypatch)
        deliver(mail, "user@x", *range(1, 6))
        settle(mail, clock)
        assert len(subjects(mail)) == 5
        assert mail.call(mail.server.postoffice.prune) == 0
        assert clock.getDelayedCalls() == []


def test_a_database_over_the_cap_is_pruned_at_start(tmp_path):
    path = str(tmp_path / "mail.db")
    with MailServer(db=path) as first:
        deliver(first, "user@x", *range(1, 6))
    with MailServer(db=path, max_messages=2) as second:
        second.call(second.server.postoffice.retention_settled)
        assert subjects(second) == ["m4", "m5"]


# --- the age ---------------------------------------------------------------------------------


@pytest.fixture
def aged():
    with MailServer(max_age="1h") as server:
        yield server


def test_messages_older_than_max_age_go_on_the_timer(aged, monkeypatch):
    clock = on_clock(aged, monkeypatch)
    deliver(aged, "user@x", 1, 2)
    aged.call(clock.advance, 1800)
    deliver(aged, "user@x", 3)
    aged.call(clock.advance, 1799)  # m1 and m2 are 59:59 old
    settle(aged, clock)
    assert subjects(aged) == ["m1", "m2", "m3"]
    aged.call(clock.advance, 61)  # the next sweep, at most a minute later
    settle(aged, clock)
    assert subjects(aged) == ["m3"]
    aged.call(clock.advance, 1800)
    settle(aged, clock)
    assert subjects(aged) == []


def test_the_age_timer_runs_every_minute_or_a_quarter_of_max_age(monkeypatch):
    for age, every in (("7d", 60.0), ("2m", 30.0)):
        with MailServer(max_age=age) as mail:
            clock = on_clock(mail, monkeypatch)
            (sweep,) = clock.getDelayedCalls()
            assert sweep.getTime() - clock.seconds() == pytest.approx(every, abs=1.0)
            mail.call(mail.server.postoffice.stop_retention)
            assert clock.getDelayedCalls() == []


def test_age_and_cap_together(monkeypatch):
    with MailServer(max_age="1h", max_messages=2) as mail:
        clock = on_clock(mail, monkeypatch)
        deliver(mail, "user@x", 1)
        mail.call(clock.advance, 3601)
        deliver(mail, "user@x", 2, 3, 4)
        settle(mail, clock)
        assert subjects(mail) == ["m3", "m4"]


# --- through the one door --------------------------------------------------------------------


def test_a_selected_imap_session_gets_expunge(capped, monkeypatch):
    clock = on_clock(capped, monkeypatch)
    deliver(capped, "user@x", 1, 2, 3)
    wire = ImapWire(capped.imap_port)
    wire.login()
    wire.command(b"r ENABLE IMAP4rev2")
    assert b"* 3 EXISTS\r\n" in wire.command(b"s SELECT INBOX")
    deliver(capped, "user@x", 4, 5)
    settle(capped, clock)
    # RFC 9051 §7.5.1: each number is valid after the EXPUNGE before it (highest first here)
    assert wire.command(b"n NOOP") == (
        b"* 2 EXPUNGE\r\n* 1 EXPUNGE\r\n* 3 EXISTS\r\nn OK NOOP completed\r\n"
    )
    assert wire.command(b"f UID FETCH 1:* (UID)") == (
        b"* 1 FETCH (UID 3)\r\n* 2 FETCH (UID 4)\r\n* 3 FETCH (UID 5)\r\n"
        b"f OK UID FETCH completed\r\n"
    )
    wire.close()


def test_a_qresync_session_gets_vanished_and_can_resync(capped, monkeypatch):
    # RFC 7162 §3.2.10.2: VANISHED instead of EXPUNGE, messages expunged elsewhere included
    clock = on_clock(capped, monkeypatch)
    deliver(capped, "user@x", 1, 2, 3)  # modseqs 2..4
    wire = ImapWire(capped.imap_port)
    wire.login()
    wire.command(b"r ENABLE IMAP4rev2")
    wire.command(b"q ENABLE QRESYNC")
    wire.command(b"s SELECT INBOX")
    deliver(capped, "user@x", 4, 5)  # 5, 6; the pass takes 7
    settle(capped, clock)
    assert wire.command(b"n NOOP") == b"* VANISHED 1:2\r\n* 3 EXISTS\r\nn OK NOOP completed\r\n"
    assert wire.command(b"f UID FETCH 1:* (FLAGS) (CHANGEDSINCE 6 VANISHED)") == (
        b"* VANISHED (EARLIER) 1:2\r\nf OK UID FETCH completed\r\n"
    )
    wire.close()


def test_the_event_stream_and_the_listing_see_the_pruned_messages_go(capped, monkeypatch):
    clock = on_clock(capped, monkeypatch)
    api = Api(capped)
    deliver(capped, "user@x", 1, 2, 3)
    stream = Stream(api)
    try:
        deliver(capped, "user@x", 4)
        settle(capped, clock)
        assert stream.event()[0] == "delivered"
        assert stream.event() == ("expunged", {"user": "user", "mailbox": "INBOX", "uid": 1})
    finally:
        stream.close()
    listed = api.get("/messages").json()["messages"]
    assert sorted(m["uid"] for m in listed) == [2, 3, 4]
    assert api.get("/messages/1?user=user&mailbox=INBOX").status == 404


def test_one_log_line_per_pass_however_many_went(capped, monkeypatch):
    clock = on_clock(capped, monkeypatch)
    seen: list[dict] = []

    def observe(event: dict) -> None:
        if event.get("log_namespace", "").startswith("elektromail"):
            seen.append(event)

    globalLogPublisher.addObserver(observe)
    try:
        deliver(capped, "user@x", *range(1, 51))
        settle(capped, clock)
    finally:
        globalLogPublisher.removeObserver(observe)
    pruned = [e for e in seen if e.get("log_namespace") == "elektromail.postoffice.retention"]
    assert [(e["log_format"], e["count"]) for e in pruned] == [
        ("pruned {count} messages, oldest from {oldest}", 47)
    ]
    assert pruned[0]["oldest"] == "2027-01-15T08:00:00+00:00"  # T0
    assert not [e for e in seen if "{uid}" in e.get("log_format", "")]


def test_a_pass_while_the_database_cannot_write_warns_and_the_next_one_prunes(capped, monkeypatch):
    """A pass that finds the database unavailable (read-only here; a PostgreSQL server away
    is the same StoreUnavailable) logs one warning, no traceback, and the next delivery's
    pass prunes."""
    clock = on_clock(capped, monkeypatch)
    deliver(capped, "user@x", 1, 2, 3)
    settle(capped, clock)
    seen: list[dict] = []

    def observe(event: dict) -> None:
        if event.get("log_namespace") == "elektromail.postoffice.retention":
            seen.append(event)

    globalLogPublisher.addObserver(observe)
    try:
        deliver(capped, "user@x", 4)  # its pass is due on the clock, not run yet
        capped.call(capped.server.store.simulate_read_only, True)
        settle(capped, clock)
    finally:
        globalLogPublisher.removeObserver(observe)
        capped.call(capped.server.store.simulate_read_only, False)
    assert [e["log_format"] for e in seen] == ["pruning old messages waits: {why}"]
    assert "log_failure" not in seen[0]
    assert subjects(capped) == ["m1", "m2", "m3", "m4"]
    deliver(capped, "user@x", 5)
    settle(capped, clock)
    assert subjects(capped) == ["m3", "m4", "m5"]


# --- at the same time as other work ----------------------------------------------------------


def test_a_fetch_of_pruned_messages_in_a_selected_session_answers_the_kept_ones(
    capped, monkeypatch
):
    # the session still numbers the pruned messages until it is told (RFC 9051 §7.5.1 allows
    # EXPUNGE only between commands); its FETCH answers what is still stored, and the next
    # command brings the EXPUNGEs
    clock = on_clock(capped, monkeypatch)
    deliver(capped, "user@x", 1, 2, 3)
    wire = ImapWire(capped.imap_port)
    wire.login()
    wire.command(b"r ENABLE IMAP4rev2")
    wire.command(b"s SELECT INBOX")
    deliver(capped, "user@x", 4, 5)
    settle(capped, clock)
    answer = wire.command(b"f FETCH 1:3 (UID BODY.PEEK[])")
    assert answer.endswith(b"f OK FETCH completed\r\n")
    assert b"UID 3 BODY[] {%d}\r\n%s)" % (len(body(3)), body(3)) in answer
    assert b"UID 1 " not in answer and b"UID 2 " not in answer
    assert wire.command(b"n NOOP").startswith(b"* 2 EXPUNGE\r\n* 1 EXPUNGE\r\n")
    wire.close()


def test_a_pop3_session_is_told_of_pruned_messages_and_its_quit_removes_no_kept_one(
    monkeypatch,
):
    with MailServer(max_messages=2, pop3_port=0) as mail:
        clock = on_clock(mail, monkeypatch)
        deliver(mail, "user@x", 1, 2)
        pop = poplib.POP3("127.0.0.1", mail.pop3_port, timeout=10)
        pop.user("user")
        pop.pass_("pass")
        assert pop.stat() == (2, len(body(1)) + len(body(2)))
        deliver(mail, "user@x", 3, 4)
        settle(mail, clock)
        with pytest.raises(poplib.error_proto, match="removed by another session"):
            pop.retr(1)
        pop.dele(2)  # pruned already: its QUIT removes nothing else
        pop.quit()
        assert sorted(stored(mail)) == [3, 4]


def test_appends_and_fetches_during_pruning_lose_nothing_that_is_kept(monkeypatch):
    """SMTP deliveries, IMAP APPENDs and FETCHes race the passes on the real reactor: what is
    kept at the end is the newest, byte for byte, and every FETCH of a kept message answered
    its bytes."""
    with MailServer(max_messages=20) as mail:
        errors: list[BaseException] = []
        appended: list[bytes] = []

        def appender() -> None:
            try:
                imap = imaplib.IMAP4("127.0.0.1", mail.imap_port)
                imap.login("user", "pass")
                for n in range(1000, 1060):
                    imap.append("INBOX", None, None, body(n))
                    appended.append(body(n))
                imap.logout()
            except BaseException as e:  # reported below, in the test thread
                errors.append(e)

        def fetcher() -> None:
            try:
                imap = imaplib.IMAP4("127.0.0.1", mail.imap_port)
                imap.login("user", "pass")
                for _ in range(60):
                    imap.select("INBOX")
                    typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
                    assert typ == "OK"
                    for item in data:
                        if isinstance(item, tuple):
                            assert item[1] == body(number_of(item[1]))
                imap.logout()
            except BaseException as e:  # reported below, in the test thread
                errors.append(e)

        threads = [threading.Thread(target=appender), threading.Thread(target=fetcher)]
        for thread in threads:
            thread.start()
        deliver(mail, "user@x", *range(1, 61))
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        mail.call(mail.server.postoffice.prune)  # a last pass, after every arrival
        mail.call(mail.server.postoffice.retention_settled)
        kept = mail.call(mail.server.postoffice.list_messages, "user", "INBOX")
        uids = sorted(m.uid for m in kept)
        assert uids == list(range(uids[0], uids[0] + 20))  # the 20 last to arrive
        assert all(raw == body(n) for n, raw in stored(mail).items())
        assert len(appended) == 60


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "seconds"),
    [("7d", 7 * 86400.0), ("12h", 12 * 3600.0), ("30m", 1800.0), ("90s", 90.0), ("45", 45.0),
     ("1.5h", 5400.0), (" 7D ", 7 * 86400.0), ("off", None), ("0", None),
     ("36500d", 36500 * 86400.0)],
)  # fmt: skip
def test_max_age_takes_a_duration(given, seconds):
    assert resolve({"max-age": given}, {}).max_age == seconds
    assert resolve({}, {"ELEKTROMAIL_MAX_AGE": given}).max_age == seconds


@pytest.mark.parametrize(
    ("given", "count"),
    [("1000", 1000), (" 1 ", 1), ("off", None), ("0", None), ("", None)],
)
def test_max_messages_takes_a_count(given, count):
    assert resolve({"max-messages": given}, {}).max_messages == count
    assert resolve({}, {"ELEKTROMAIL_MAX_MESSAGES": given}).max_messages == count


def test_retention_is_off_by_default():
    settings = resolve({}, {})
    assert (settings.max_messages, settings.max_age) == (None, None)


@pytest.mark.parametrize(
    ("cli", "env", "named"),
    [
        ({"max-messages": "-5"}, {}, "--max-messages='-5': expected a positive whole number"),
        ({"max-messages": "1e3"}, {}, "--max-messages='1e3'"),
        ({"max-messages": "1,000"}, {}, "--max-messages='1,000'"),
        ({"max-messages": "lots"}, {}, "--max-messages='lots'"),
        ({"max-messages": "9" * 13}, {}, "--max-messages"),
        ({"max-messages": "١٢"}, {}, "--max-messages"),  # Arabic-Indic digits are no count
        ({}, {"ELEKTROMAIL_MAX_MESSAGES": "ten"}, "ELEKTROMAIL_MAX_MESSAGES='ten'"),
        ({"max-age": "7x"}, {}, "--max-age='7x': expected seconds, or a number with s, m, h"),
        ({"max-age": "-1d"}, {}, "--max-age='-1d'"),
        ({"max-age": "d"}, {}, "--max-age='d'"),
        ({"max-age": "1w"}, {}, "--max-age='1w'"),
        ({"max-age": "9" * 400}, {}, "at most 100 years"),
        ({}, {"ELEKTROMAIL_MAX_AGE": "a week"}, "ELEKTROMAIL_MAX_AGE='a week'"),
    ],
)
def test_bad_retention_settings_are_refused_with_the_setting_named(cli, env, named):
    with pytest.raises(ConfigError) as info:
        resolve(cli, env)
    assert named in str(info.value)


def test_config_shows_the_retention_settings():
    with MailServer(http_port=0, max_messages="1000", max_age="7d") as mail:
        shown = Api(mail).get("/config").json()  # checked against the OpenAPI document
    assert (shown["max_messages"], shown["max_age"]) == (1000, 7 * 86400.0)


def test_the_config_schema_allows_null_and_refuses_nonsense():
    schema = validator("/components/schemas/Config")
    with MailServer(http_port=0) as mail:
        shown = Api(mail).get("/config").json()
    assert (shown["max_messages"], shown["max_age"]) == (None, None)
    assert not list(schema.iter_errors(shown))
    for field, bad in (
        ("max_messages", 0),
        ("max_messages", 1.5),
        ("max_age", 0),
        ("max_age", "7d"),
    ):
        assert list(schema.iter_errors({**shown, field: bad})), (field, bad)


def test_a_delivery_another_process_made_is_its_to_prune_after(monkeypatch):
    """On a shared PostgreSQL store every process hears each delivery (store/pgevents.py): only the
    one that stored the message starts a pass, so processes do not prune the same mail."""
    from elektromail.events import Events, MessageAdded
    from elektromail.postoffice import PostOffice

    postoffice = PostOffice(db.Store(), Events(), resolve({"max-messages": "5"}, {}))
    wanted: list = []
    monkeypatch.setattr(postoffice, "_want_pass", wanted.append)
    postoffice.events.publish(MessageAdded("user", "INBOX", 1, 1, (), "smtp", remote=True))
    assert wanted == []
    postoffice.events.publish(MessageAdded("user", "INBOX", 1, 2, (), "smtp"))
    assert len(wanted) == 1
