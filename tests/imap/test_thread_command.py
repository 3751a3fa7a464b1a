"""THREAD and UID THREAD (RFC 5256 §3) over real sockets: each algorithm, search criteria,
UIDs, both dialects, a database file, mail not parsed yet, bad and hostile input. The answers
were checked against the reference Dovecot (same messages, same internal dates)."""

from __future__ import annotations

import imaplib

import pytest

from elektromail.testing import MailServer
from tests.imap.test_search_command import raw
from tests.imap.test_sort_command import append, deliver_all, login

MESSAGES = [
    (
        b"Message-ID: <root@x>\r\nFrom: amy@x\r\nSubject: Lunch\r\n"
        b"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nfirst\r\n",
        1_773_000_000.0,
    ),
    (
        b"Message-ID: <reply1@x>\r\nFrom: bob@x\r\nSubject: Re: Lunch\r\nReferences: <root@x>\r\n"
        b"Date: Mon, 02 Mar 2026 11:00:00 +0000\r\n\r\nsecond\r\n",
        1_773_000_100.0,
    ),
    (
        b"Message-ID: <other@x>\r\nFrom: cid@x\r\nSubject: Budget\r\n"
        b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n\r\nthird\r\n",
        1_773_000_200.0,
    ),
    (
        b"Message-ID: <reply2@x>\r\nFrom: amy@x\r\nSubject: Re: Lunch\r\n"
        b"In-Reply-To: <reply1@x>\r\nDate: Mon, 02 Mar 2026 12:00:00 +0000\r\n\r\nfourth\r\n",
        1_773_000_300.0,
    ),
    (  # a reply by subject only: REFERENCES gathers it, REFS does not
        b"Message-ID: <late@x>\r\nFrom: dan@x\r\nSubject: Re: Budget\r\n"
        b"Date: Mon, 02 Mar 2026 13:00:00 +0000\r\n\r\nfifth\r\n",
        1_773_000_400.0,
    ),
    (  # its parent is not in the mailbox
        b"Message-ID: <orphan@x>\r\nFrom: eve@x\r\nSubject: Trip\r\nReferences: <gone@x>\r\n"
        b"Date: Mon, 02 Mar 2026 08:00:00 +0000\r\n\r\nsixth\r\n",
        1_773_000_500.0,
    ),
]


@pytest.fixture
def mail():
    with MailServer() as server:
        deliver_all(server, MESSAGES)
        yield server


def thread(client: imaplib.IMAP4, arguments: bytes) -> bytes:
    lines = raw(client, b"THREAD " + arguments)
    assert lines[-1].startswith(b"OK"), lines
    [line] = lines[:-1]
    return line


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        # REFERENCES: 1 <- 2 <- 4 by references; 5 joins 3 by subject (a reply to "Budget")
        (b"REFERENCES UTF-8 ALL", b"* THREAD (6)(3 5)(1 2 4)"),
        # REFS: no subject gathering; threads by their newest message
        (b"REFS UTF-8 ALL", b"* THREAD (6)(3)(1 2 4)(5)"),
        # ORDEREDSUBJECT: by base subject, threads by their first message's date
        (b"ORDEREDSUBJECT UTF-8 ALL", b"* THREAD (6)(3 5)(1 (2)(4))"),
        (b"references us-ascii ALL", b"* THREAD (6)(3 5)(1 2 4)"),
        (b'"REFERENCES" "UTF-8" ALL', b"* THREAD (6)(3 5)(1 2 4)"),  # astrings, as Dovecot
    ],
)
def test_each_algorithm(mail, arguments, expected):
    client = login(mail)
    assert thread(client, arguments) == expected
    client.logout()


def test_search_criteria_choose_the_messages_threaded(mail):
    """RFC 5256 §3: "The THREAD command first searches the mailbox for messages that match the
    given searching criteria"; a parent that does not match is a dummy (§4: "3 and 5 are
    siblings of a parent that does not match the search criteria")."""
    client = login(mail)
    assert thread(client, b"REFERENCES UTF-8 NOT FROM bob") == b"* THREAD (6)(3 5)(1 4)"
    assert thread(client, b"REFERENCES UTF-8 2,4") == b"* THREAD (2 4)"
    assert thread(client, b"REFERENCES UTF-8 SUBJECT nothing") == b"* THREAD"
    client.logout()


def test_uid_thread_answers_uids(mail):
    """RFC 5256 §3: "The UID THREAD command ... returns unique identifiers instead of message
    sequence numbers"."""
    client = login(mail)
    raw(client, b"STORE 1 +FLAGS (\\Deleted)")
    raw(client, b"EXPUNGE")
    lines = raw(client, b"UID THREAD REFERENCES UTF-8 ALL")
    assert lines[0] == b"* THREAD (6)(3 5)(2 4)"
    assert thread(client, b"REFERENCES UTF-8 ALL") == b"* THREAD (5)(2 4)(1 3)"
    client.logout()


def test_thread_in_imap4rev2(mail):
    client = login(mail, rev2=True)
    assert thread(client, b"REFS UTF-8 ALL") == b"* THREAD (6)(3)(1 2 4)(5)"
    client.logout()


def test_thread_reads_mail_not_yet_parsed():
    with MailServer() as server:
        for message, _ in MESSAGES:
            server.call(server.server.postoffice.deliver, ["user@x"], message)
        client = login(server)
        assert thread(client, b"REFS UTF-8 ALL") == b"* THREAD (6)(3)(1 2 4)(5)"
        client.logout()


def test_thread_from_a_database_file_after_a_restart(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(db=db) as server:
        deliver_all(server, MESSAGES)
    with MailServer(db=db) as server:
        client = login(server)
        assert thread(client, b"REFERENCES UTF-8 ALL") == b"* THREAD (6)(3 5)(1 2 4)"
        client.logout()


def test_capability_lists_the_algorithms(mail):
    client = login(mail)
    wanted = {"THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "THREAD=REFS"}
    assert wanted <= set(client.capabilities)
    client.logout()


@pytest.mark.parametrize(
    "arguments",
    [
        b"",
        b"REFERENCES",
        b"REFERENCES UTF-8",  # no search key
        b"NOSUCH UTF-8 ALL",
        b'"" UTF-8 ALL',  # a string where the algorithm goes: BAD, and no Python repr in it
        b"(REFERENCES) UTF-8 ALL",
        b"REFERENCES (UTF-8) ALL",
        b"REFERENCES UTF-8 NOSUCHKEY",
        b"REFERENCES UTF-8 RETURN (ALL) ALL",
        b"REFERENCES UTF-8 ALL )",
    ],
)
def test_malformed_thread_is_bad_and_changes_nothing(mail, arguments):
    client = login(mail)
    lines = raw(client, b"THREAD " + arguments)
    assert lines[-1].startswith(b"BAD"), lines
    assert b"b'" not in lines[-1]
    assert thread(client, b"REFERENCES UTF-8 ALL") == b"* THREAD (6)(3 5)(1 2 4)"
    client.logout()


def test_an_unknown_charset_is_no_badcharset(mail):
    """RFC 5256 §3: "If the server does not support the specified [CHARSET], it MUST return a
    tagged NO response (not a BAD)"."""
    client = login(mail)
    lines = raw(client, b"THREAD REFERENCES KOI8-R ALL")
    assert lines == [b"NO [BADCHARSET (UTF-8 US-ASCII)] unsupported charset"]
    client.logout()


def test_thread_needs_a_selected_mailbox(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    assert raw(client, b"THREAD REFERENCES UTF-8 ALL")[-1].startswith(b"BAD")
    client.login("user", "pass")
    assert raw(client, b"UID THREAD REFS UTF-8 ALL")[-1].startswith(b"BAD")
    client.logout()


def test_a_long_chain_of_replies_is_one_thread():
    """Hostile depth: 1,500 messages, each replying to the one before."""
    with MailServer() as server:
        for i in range(1, 1501):
            references = b"References: <m%d@x>\r\n" % (i - 1) if i > 1 else b""
            message = b"Message-ID: <m%d@x>\r\n%sSubject: chain\r\n\r\nx\r\n" % (i, references)
            server.call(server.server.postoffice.inject, "user", "INBOX", message)
        client = login(server)
        line = thread(client, b"REFERENCES UTF-8 ALL")
        assert line == b"* THREAD (" + b" ".join(b"%d" % i for i in range(1, 1501)) + b")"
        client.logout()


def test_a_repeated_thread_sees_messages_added_and_expunged_meanwhile(mail):
    """Threads are kept per session while the mailbox's messages stay the same; arrivals and
    expunges change the answer at once, sequence numbers included (RFC 5267 §4.5)."""
    client, other = login(mail), login(mail)
    assert thread(client, b"REFERENCES UTF-8 ALL") == b"* THREAD (6)(3 5)(1 2 4)"
    append(other, b"Message-ID: <new@x>\r\nReferences: <orphan@x>\r\n\r\nx")
    raw(client, b"NOOP")
    assert thread(client, b"REFERENCES UTF-8 ALL") == b"* THREAD (6 7)(3 5)(1 2 4)"
    raw(other, b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    raw(other, b"EXPUNGE")
    raw(client, b"NOOP")
    assert thread(client, b"REFERENCES UTF-8 ALL") == b"* THREAD (5 6)(2 4)(1 3)"
    assert thread(client, b"REFERENCES UTF-8 2:*") == b"* THREAD (5 6)(2 4)(3)"
    assert raw(client, b"UID THREAD REFERENCES UTF-8 ALL")[0] == b"* THREAD (6 7)(3 5)(2 4)"
