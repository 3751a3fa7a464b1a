"""SAVEDATE (RFC 8514) over real sockets: FETCH SAVEDATE after APPEND, delivery, COPY and
MOVE, SEARCH SAVEDBEFORE / SAVEDON / SAVEDSINCE / SAVEDATESUPPORTED, both dialects, a restart,
bad input. Answers compared with the reference Dovecot (same dates, same commands)."""

from __future__ import annotations

import datetime
import imaplib
import re
import time

import pytest

from elektromail.dates import parse_date_time
from elektromail.testing import MailServer
from tests.imap.test_search_command import raw

MESSAGE = b"From: a@x\r\nSubject: Hello\r\n\r\nbody\r\n"
OLD = 1_000_000_000.0  # 9-Sep-2001: an internal date long before the save date
DATE_TIME = rb'"(\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4})"'


@pytest.fixture
def mail():
    with MailServer() as server:
        server.call(server.server.postoffice.inject, "user", "INBOX", MESSAGE, internal_date=OLD)
        yield server


def connect(server: MailServer, *, rev2: bool = False) -> imaplib.IMAP4:
    client = imaplib.IMAP4(server.host, server.imap_port, timeout=10)
    client.login("user", "pass")
    if rev2:
        raw(client, b"ENABLE IMAP4rev2")
    client.select("INBOX")
    return client


def savedates(client: imaplib.IMAP4, sequence: bytes = b"1:*") -> list[float]:
    lines = raw(client, b"FETCH " + sequence + b" (SAVEDATE)")
    assert lines[-1] == b"OK FETCH completed", lines
    found = [
        re.fullmatch(rb"\* \d+ FETCH \(SAVEDATE " + DATE_TIME + rb"\)", line) for line in lines[:-1]
    ]
    assert all(found), lines
    return [float(parse_date_time(match.group(1).decode())[0]) for match in found]


def today() -> bytes:
    return datetime.datetime.now(datetime.UTC).strftime("%d-%b-%Y").lstrip("0").encode()


def test_capability_lists_savedate(mail):
    client = connect(mail)
    assert b"SAVEDATE" in raw(client, b"CAPABILITY")[0].split()
    client.logout()


def test_the_save_date_is_when_it_was_stored_not_its_internal_date(mail):
    # RFC 8514 §4: "the date and time when the message was saved into the mailbox"
    client = connect(mail)
    [saved] = savedates(client)
    assert abs(saved - time.time()) < 60
    assert raw(client, b"FETCH 1 (INTERNALDATE)")[0] == (
        b'* 1 FETCH (INTERNALDATE "09-Sep-2001 01:46:40 +0000")'
    )
    client.logout()


def test_append_with_a_date_is_saved_now(mail):
    client = connect(mail)
    before = int(time.time())
    client.append("INBOX", None, '"20-Mar-2018 03:07:37 +1100"', MESSAGE)
    [_, saved] = savedates(client)
    assert before <= saved <= time.time() + 1
    # in UTC, as delivered mail's dates (Dovecot: its server's zone), not the APPEND's zone
    assert raw(client, b"FETCH 2 (SAVEDATE)")[0].endswith(b' +0000")')
    client.logout()


def test_copy_and_move_have_the_save_date_of_their_copy(mail):
    # RFC 8514 §4: a message copied or moved is saved into its new mailbox then
    client = connect(mail)
    client.create("Other")
    [original] = savedates(client)
    time.sleep(1.1)  # the dates are whole seconds: the copy's must be later
    assert raw(client, b"COPY 1 Other")[-1].startswith(b"OK")
    client.select("Other")
    [copied] = savedates(client)
    assert copied > original
    assert raw(client, b"MOVE 1 INBOX")[-1].startswith(b"OK")
    client.select("INBOX")
    assert savedates(client)[0] == original
    assert savedates(client)[1] >= copied
    client.logout()


def test_search_by_save_date(mail):
    # RFC 8514 §5.1: SAVEDBEFORE / SAVEDON / SAVEDSINCE read the save date, not the internal date
    client = connect(mail)
    day = today()
    assert raw(client, b"SEARCH SAVEDON " + day)[0] == b"* SEARCH 1"
    assert raw(client, b"SEARCH SAVEDSINCE " + day)[0] == b"* SEARCH 1"
    assert raw(client, b"SEARCH SAVEDBEFORE " + day)[0] == b"* SEARCH"
    assert raw(client, b"SEARCH SAVEDBEFORE 1-Jan-2002")[0] == b"* SEARCH"
    assert raw(client, b"SEARCH BEFORE 1-Jan-2002")[0] == b"* SEARCH 1"
    assert raw(client, b"SEARCH NOT SAVEDSINCE " + day)[0] == b"* SEARCH"
    client.logout()


def test_savedatesupported_matches_every_message(mail):
    # RFC 8514 §5.2: every mailbox here keeps save dates
    client = connect(mail)
    client.append("INBOX", None, None, MESSAGE)
    assert raw(client, b"SEARCH SAVEDATESUPPORTED") == [b"* SEARCH 1 2", b"OK SEARCH completed"]
    client.logout()


def test_rev2_answers_esearch(mail):
    client = connect(mail, rev2=True)
    lines = raw(client, b"SEARCH RETURN (COUNT) SAVEDSINCE " + today())
    assert lines[0].endswith(b"COUNT 1"), lines
    assert len(savedates(client)) == 1
    client.logout()


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(b"SAVEDBEFORE 1-Foo-2020", id="bad-month"),
        pytest.param(b"SAVEDON 32-Jan-2020", id="bad-day"),
        pytest.param(b"SAVEDSINCE 2020-01-01", id="iso-date"),
        pytest.param(b"SAVEDON", id="missing"),
        pytest.param(b"SAVEDBEFORE (1-Jan-2020)", id="a-list"),
    ],
)
def test_a_bad_save_date_is_bad(mail, arguments):
    client = connect(mail)
    [answer] = raw(client, b"SEARCH " + arguments)
    assert answer.startswith(b"BAD "), answer
    assert b"Atom(" not in answer  # the client's text, not a Python repr
    client.logout()


def test_savedate_needs_a_selected_mailbox(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    assert raw(client, b"SEARCH SAVEDATESUPPORTED")[0].startswith(b"BAD ")
    assert raw(client, b"FETCH 1 (SAVEDATE)")[0].startswith(b"BAD ")
    client.logout()


def test_the_save_date_survives_a_restart(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(db=db) as server:
        client = connect(server)
        client.append("INBOX", None, None, MESSAGE)
        before = savedates(client)
        client.logout()
    with MailServer(db=db) as server:
        client = connect(server)
        assert savedates(client) == before
        client.logout()
