"""The PostgreSQL server goes away and comes back (issue 20): meanwhile every protocol answers a
temporary failure (SMTP 451 4.3.0, IMAP NO [UNAVAILABLE], HTTP 503, /healthz unhealthy),
nothing acknowledged is lost, and service resumes by itself, without a restart.

A real server: the test's own throwaway cluster (tests/pgcluster.py), whose server is
stopped (`pg_ctl stop -m fast`, which ends every session with FATAL, as a restart does, or
`-m immediate`, as a crash) and started again on the same data.
"""

from __future__ import annotations

import http.client
import imaplib
import json
import logging
import poplib
import smtplib
from collections.abc import Iterator

import pytest

from elektromail.testing import MailServer
from tests.pgcluster import ThrowawayCluster, own_cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    yield from own_cluster()


@pytest.fixture
def mail(cluster) -> Iterator[MailServer]:
    if not cluster.running:  # a test that failed with the server down
        cluster.start_server()
    url = cluster.new_database()
    import psycopg

    # The cluster's durability is off for speed (tests/pgcluster.py); this database's commits
    # wait for the WAL, so that a crash (`-m immediate`) keeps what was acknowledged.
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        name = url.split("/")[3].split("?")[0]
        admin.execute(f"ALTER DATABASE {name} SET synchronous_commit = on")
    with MailServer(users="user:pass", db=url) as server:
        yield server
    if not cluster.running:
        cluster.start_server()


def message(subject: str) -> bytes:
    return (
        f"From: app@loss.test\r\nTo: user@loss.test\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()
    )


def send(mail: MailServer, subject: str) -> None:
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=30) as smtp:
        smtp.sendmail("app@loss.test", ["user@loss.test"], message(subject))


def get(mail: MailServer, path: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(mail.host, mail.http_port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def subjects(mail: MailServer) -> list[str]:
    return [m["subject"] for m in mail.messages("user")]


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_every_protocol_answers_a_temporary_failure_while_postgresql_is_away(
    cluster, mail, mode, caplog
):
    """RFC 5321 §4.2.3 451 "local error in processing", RFC 3463 §3.4 X.3.0 "Other or undefined
    mail system status"; RFC 5530 §3 UNAVAILABLE "a subsystem is down"; RFC 3206 SYS/TEMP
    for POP3; a 4yz reply means
    nothing was stored (RFC 5321 §4.2.5), so the client sends again later."""
    send(mail, "before")
    imap = imaplib.IMAP4(mail.host, mail.imap_port, timeout=30)
    try:
        imap.login("user", "pass")
        assert imap.select("INBOX") == ("OK", [b"1"])
        cluster.stop_server(mode)

        with pytest.raises(smtplib.SMTPDataError) as refused:
            send(mail, "while away")
        assert refused.value.smtp_code == 451
        assert refused.value.smtp_error.startswith(b"4.3.0 ")

        # a small FETCH reads on the reactor thread (StorePool.run_here), a big one and
        # STATUS on the store thread
        for command in (("UID", "FETCH", "1", "(FLAGS)"), ("STATUS", "INBOX", "(MESSAGES)")):
            tag = imap._new_tag().decode()
            imap.send(f"{tag} {' '.join(command)}\r\n".encode())
            line = imap.readline()
            while line.startswith(b"*"):
                line = imap.readline()
            assert line.startswith(f"{tag} NO [UNAVAILABLE]".encode()), line

        appended = imap.append("INBOX", None, None, message("appended while away"))
        assert appended[0] == "NO" and appended[1][0].startswith(b"[UNAVAILABLE]")

        fresh = imaplib.IMAP4(mail.host, mail.imap_port, timeout=30)
        try:
            with pytest.raises(imaplib.IMAP4.error, match=r"UNAVAILABLE"):
                fresh.login("user", "pass")
        finally:
            fresh.shutdown()

        # RFC 3206 SYS/TEMP: "a problem which is likely to be temporary in nature"
        pop = poplib.POP3(mail.host, mail.pop3_port, timeout=30)
        try:
            pop.user("user")
            with pytest.raises(poplib.error_proto, match=r"SYS/TEMP"):
                pop.pass_("pass")
        finally:
            pop.close()

        status, body = get(mail, "/messages?user=user")
        assert status == 503 and "error" in body
        assert get(mail, "/healthz")[0] == 503

        cluster.start_server()
        send(mail, "after")  # the first delivery after the server is back succeeds
        assert subjects(mail) == ["before", "after"]
        assert get(mail, "/healthz")[0] == 200
        # warnings, one line each: no traceback of an internal error
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
        # the session that saw the failures goes on
        assert imap.noop()[0] == "OK"
        _, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert [d[1].strip() for d in data if isinstance(d, tuple)] == [
            b"Subject: before",
            b"Subject: after",
        ]
    finally:
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def test_the_first_command_after_a_restart_succeeds(cluster, mail):
    """The server restarted while the store's connection was idle: the store notices the
    connection ended (its farewell is waiting on the socket) and connects again before the
    command, so no client sees a failure."""
    send(mail, "one")
    assert subjects(mail) == ["one"]
    cluster.stop_server("fast")
    cluster.start_server()
    send(mail, "two")
    imap = imaplib.IMAP4(mail.host, mail.imap_port, timeout=30)
    try:
        imap.login("user", "pass")
        assert imap.select("INBOX") == ("OK", [b"2"])
    finally:
        imap.logout()
    cluster.stop_server("fast")
    cluster.start_server()
    assert get(mail, "/healthz")[0] == 200
    assert subjects(mail) == ["one", "two"]


def test_a_sweep_while_the_database_is_away_leaves_the_server_working(cluster, mail):
    """The idle-time timers (the parse of stored bodies, retention, namespace expiry) that
    run while the database is away fail quietly and the server goes on."""
    cluster.stop_server("fast")
    store = mail.server.store
    with pytest.raises(Exception) as failed:
        mail.call(store.parse_pending)
    assert type(failed.value).__name__ == "StoreUnavailable"
    cluster.start_server()
    send(mail, "later")
    assert subjects(mail) == ["later"]


def test_a_delivery_whose_commit_loses_the_connection_is_not_acknowledged(
    cluster, mail, monkeypatch
):
    """The connection dies as the store sends COMMIT (the database server's session
    ended from outside, waited for): whether the transaction committed is unknown to the
    store, so SMTP answers 451 and the client sends again (RFC 5321 §4.2.5: a 4yz reply
    leaves responsibility with the client). The next delivery succeeds on a new connection."""
    import psycopg

    from elektromail.store import pgdriver

    original = pgdriver.Connection.commit
    killed: list[int] = []

    def commit_after_the_session_ends(self) -> None:
        if not killed:
            killed.append(self.info.backend_pid)
            with psycopg.connect(mail.settings.db, autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s, 10000)", (killed[0],))
        original(self)

    send(mail, "before")
    monkeypatch.setattr(pgdriver.Connection, "commit", commit_after_the_session_ends)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(mail, "lost at commit")
    assert refused.value.smtp_code == 451
    assert killed
    send(mail, "after")
    assert subjects(mail) == ["before", "after"]


def test_the_idle_time_parse_waits_out_the_database_and_goes_on(cluster, caplog):
    """The backfill of unparsed bodies finds the database away: one warning, and it looks
    again BACKFILL_RETRY_SECONDS later instead of waiting for the next delivery."""
    from twisted.internet.task import Clock

    from elektromail.imap.format import render_fetch_data
    from elektromail.store import Store
    from elektromail.store.db import BACKFILL_RETRY_SECONDS, IDLE_SECONDS
    from elektromail.store.rows import unparsed
    from elektromail.testing import call_in_reactor as run

    clock = Clock()
    store = Store(cluster.new_database(), clock=clock)
    store.render = render_fetch_data
    run(store.open)
    try:
        user = run(store.add_user, "user", "pass")
        box = run(store.create_mailbox, user.id, "INBOX")
        run(store.append, box.id, unparsed(message("later")))
        cluster.stop_server("fast")
        run(clock.advance, IDLE_SECONDS)  # stored since the last look: wait again
        run(clock.advance, IDLE_SECONDS)  # the batch: the database is away
        with pytest.raises(Exception, match="cannot connect"):
            run(store.parse_pending)  # after the batch on the store thread: it has failed
        assert any("parsing stored messages waits" in r.getMessage() for r in caplog.records)
        assert [c.getTime() for c in clock.getDelayedCalls()] == [
            clock.seconds() + BACKFILL_RETRY_SECONDS
        ]
        cluster.start_server()
        run(clock.advance, BACKFILL_RETRY_SECONDS)
        assert run(store.parse_pending) == 0  # the retry parsed it
    finally:
        if not cluster.running:
            cluster.start_server()
        run(store.close)
