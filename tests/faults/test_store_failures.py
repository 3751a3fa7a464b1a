"""A full disk or a read-only database: every protocol answers a temporary failure and logs it,
nothing is half stored, the connection stays usable, and service resumes when the database
can write again.

A full disk is SQLite's SQLITE_FULL, made deterministic with `PRAGMA max_page_count` (the
store's `simulate_full` hook); a read-only file is SQLITE_READONLY, made with `PRAGMA
query_only` (`simulate_read_only`). Both work as root, where file permissions would not.
"""

from __future__ import annotations

import http.client
import json
import logging
import smtplib
from collections.abc import Iterator

import pytest

from elektromail.store.errors import StoreFull
from elektromail.testing import MailServer
from tests.faults.conftest import imap_login, message

BIG = 60_000  # bytes: a body that needs pages the database does not have


@pytest.fixture(params=["memory", "file"])
def mail(request, tmp_path) -> Iterator[MailServer]:
    """A server on SQLite in memory, or on a file in WAL mode."""
    db = str(tmp_path / "mail.db") if request.param == "file" else None
    with MailServer(users="user:pass", db=db) as server:
        yield server


def full(mail: MailServer, on: bool) -> None:
    mail.call(mail.server.store.simulate_full, on)


def read_only(mail: MailServer, on: bool) -> None:
    mail.call(mail.server.store.simulate_read_only, on)


def subjects(mail: MailServer, mailbox: str = "INBOX") -> list[str]:
    return [m["subject"] for m in mail.messages("user", mailbox)]


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def send(mail: MailServer, raw: bytes) -> None:
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("app@faults.test", ["user@faults.test"], raw)


# --- SMTP ------------------------------------------------------------------------------------


def test_smtp_answers_452_4_3_1_on_a_full_disk_and_delivers_once_room_returns(mail, caplog):
    """RFC 5321 §4.2.3: "452 Requested action not taken: insufficient system storage"; RFC 3463
    §3.4 X.3.1 "Mail system full: Mail system storage has been exceeded". RFC 5321 §4.2.5:
    after a 4yz the server "MUST NOT make a subsequent attempt to deliver that message. The
    SMTP client retains responsibility": so nothing may be stored."""
    caplog.set_level(logging.WARNING, logger="elektromail")
    full(mail, True)
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail("app@faults.test", ["user@faults.test"], message("first", BIG))
        assert refused.value.smtp_code == 452
        assert refused.value.smtp_error.startswith(b"4.3.1 ")
        assert smtp.noop()[0] == 250  # the session goes on
        assert subjects(mail) == []
        assert any("not accepted" in w and "full" in w for w in warnings(caplog))
        full(mail, False)
        smtp.sendmail("app@faults.test", ["user@faults.test"], message("second", BIG))
    assert subjects(mail) == ["second"]


def test_smtp_answers_451_4_3_0_while_the_database_is_read_only(mail, caplog):
    """RFC 5321 §4.2.3: "451 Requested action aborted: local error in processing"; RFC 3463
    §3.4 X.3.0 "Other or undefined mail system status". A read-only store is no full disk, so not
    X.3.1; either way a 4yz: the client keeps the message and tries again (§4.2.5)."""
    caplog.set_level(logging.WARNING, logger="elektromail")
    read_only(mail, True)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(mail, message("refused"))
    assert (refused.value.smtp_code, refused.value.smtp_error[:6]) == (451, b"4.3.0 ")
    assert any("read-only" in w for w in warnings(caplog))
    read_only(mail, False)
    send(mail, message("accepted"))
    assert subjects(mail) == ["accepted"]


# --- IMAP ------------------------------------------------------------------------------------


def test_imap_append_answers_no_overquota_on_a_full_disk(mail, caplog):
    """RFC 5530 §3: "OVERQUOTA The user would be over quota after the operation", the code
    Dovecot gives for a full disk ("NO [OVERQUOTA] Not enough disk space")."""
    caplog.set_level(logging.WARNING, logger="elektromail")
    client = imap_login(mail.imap_port)
    full(mail, True)
    assert client.append("INBOX", message("big", BIG)).startswith(b"NO [OVERQUOTA] ")
    assert client.status("NOOP").startswith(b"OK")
    assert subjects(mail) == []
    assert any("IMAP APPEND refused" in w for w in warnings(caplog))
    full(mail, False)
    assert client.append("INBOX", message("big", BIG)).startswith(b"OK [APPENDUID ")
    assert subjects(mail) == ["big"]
    client.close()


# Each write command in a state where it succeeds (after the set-up below), in this order.
APPENDED = message("appended").decode()
WRITES = [
    f"APPEND INBOX {{{len(APPENDED)}+}}\r\n{APPENDED}",
    "CREATE New",
    "RENAME Old Renamed",
    "DELETE Gone",
    "SUBSCRIBE Target",
    "SELECT INBOX",  # reads only: answered OK all along
    "STORE 1 +FLAGS (\\Flagged)",
    "FETCH 1 BODY[]",  # sets \Seen
    "COPY 1 Target",
    "MOVE 1 Target",
    "EXPUNGE",  # of the \Deleted message (none left once MOVE has moved it)
]
READS = {"SELECT INBOX"}


def test_imap_write_commands_answer_no_unavailable_while_the_database_is_read_only(mail, caplog):
    """RFC 5530 §3: "UNAVAILABLE Temporary failure because a subsystem is down". Every
    command that writes is refused and changes nothing; reads still work; the session stays
    and, once the database can write again, the same commands succeed."""
    caplog.set_level(logging.WARNING, logger="elektromail")
    mail.inject("user", message("kept"), flags=["\\Deleted"])
    client = imap_login(mail.imap_port)
    for name in ("Old", "Gone", "Target"):
        assert client.status(f"CREATE {name}").startswith(b"OK")
    read_only(mail, True)
    for command in WRITES:
        answer = client.status(command)
        if command in READS:
            assert answer.startswith(b"OK"), (command, answer)
        else:
            assert answer.startswith(b"NO [UNAVAILABLE] "), (command, answer)
    assert subjects(mail) == ["kept"]
    assert subjects(mail, "Target") == []
    [flags] = [m["flags"] for m in mail.messages("user")]
    assert flags == ["\\Deleted"]
    assert sum("refused: mail store unavailable" in w for w in warnings(caplog)) == len(
        set(WRITES) - READS
    )
    read_only(mail, False)
    for command in WRITES:
        answer = client.status(command)
        assert answer.startswith(b"OK"), (command, answer)
    client.close()


# --- the store: a group commit is all or nothing ---------------------------------------------


def test_a_full_database_fails_every_write_of_a_group_commit_and_keeps_none(mail):
    """Writes that arrive while a group commits form the next group, one transaction: when
    the database fills up during it, none of them is kept and each is told so. Before, each
    write committed alone, and writes already committed were reported failed: a client told
    452 for a stored message sends it again, and it is stored twice."""

    async def deliver_group() -> list[object]:
        store = mail.server.postoffice
        await store.deliver(["user@faults.test"], message("warm-up"))  # routes remembered
        await mail.server.store.simulate_full(True)
        first = store.deliver(["user@faults.test"], message("alone"))  # the running group
        grouped = [
            store.deliver(["user@faults.test"], message(subject, size))
            for subject, size in (("small-1", 0), ("large", BIG), ("small-2", 0))
        ]
        results = []
        for d in (first, *grouped):
            try:
                results.append(await d)
            except StoreFull as e:
                results.append(e)
        await mail.server.store.simulate_full(False)
        return results

    results = mail.call(deliver_group)
    assert [isinstance(r, StoreFull) for r in results[1:]] == [True, True, True]
    kept = subjects(mail)
    assert "small-1" not in kept and "small-2" not in kept and "large" not in kept
    assert kept == ["warm-up"] + (["alone"] if not isinstance(results[0], StoreFull) else [])


# --- HTTP ------------------------------------------------------------------------------------


def http_inject(mail: MailServer, subject: str) -> tuple[int, dict, dict]:
    body = json.dumps({"user": "user", "raw": message(subject, BIG).decode()})
    conn = http.client.HTTPConnection(mail.host, mail.http_port, timeout=10)
    try:
        conn.request("POST", "/inject", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_http_inject_answers_503_json_while_the_store_cannot_write(mail, fault, caplog):
    """RFC 9110 §15.6.4: 503 "the server is currently unable to handle the request due to a
    temporary overload or scheduled maintenance, which will likely be alleviated after some
    delay"; Retry-After (§10.2.3) says when to try again."""
    caplog.set_level(logging.WARNING, logger="elektromail")
    simulate = full if fault == "full" else read_only
    simulate(mail, True)
    status, headers, answer = http_inject(mail, "refused")
    assert status == 503, answer
    assert headers.get("Retry-After") == "1"
    assert "try again later" in answer["error"]
    assert any("HTTP POST /inject refused" in w for w in warnings(caplog))
    simulate(mail, False)
    status, _, answer = http_inject(mail, "accepted")
    assert status == 201, answer
    assert subjects(mail) == ["accepted"]
