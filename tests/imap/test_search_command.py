"""SEARCH and UID SEARCH over real sockets, in both dialects."""

from __future__ import annotations

import imaplib

import pytest
from imapclient import IMAPClient

from elektromail.testing import MailServer
from tests.imap.wire import ImapWire

MESSAGES = [
    b"From: Alice <alice@example.com>\r\nSubject: Invoice =?utf-8?q?M=C3=A4rz?=\r\n"
    b"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nPlease pay.\r\n",
    b"From: Bob <bob@example.com>\r\nSubject: Lunch\r\nDate: Tue, 03 Mar 2026 10:00:00 +0000\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"R3LDvMOfZSBhdXMgQmVybGlu\r\n",  # "Grüße aus Berlin"
    b"From: Carol <carol@example.com>\r\nSubject: Re: Invoice\r\n\r\nPaid already.\r\n",
]


@pytest.fixture
def mail():
    with MailServer() as server:
        for raw in MESSAGES:
            server.call(server.server.postoffice.deliver, ["user@x"], raw)
        yield server


def login(mail: MailServer) -> imaplib.IMAP4:
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    client.select("INBOX")
    return client


def raw(client: imaplib.IMAP4, command: bytes) -> list[bytes]:
    """Every line of the answer, the tagged one last (without its tag)."""
    tag = client._new_tag()
    client.send(tag + b" " + command + b"\r\n")
    lines = []
    while True:
        line = client.readline().rstrip(b"\r\n")
        if line.startswith(tag + b" "):
            return [*lines, line[len(tag) + 1 :]]
        lines.append(line)


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ("ALL", [b"1 2 3"]),
        ('SUBJECT "invoice"', [b"1 3"]),
        ("FROM bob", [b"2"]),
        ("NOT FROM bob", [b"1 3"]),
        ("OR FROM bob FROM carol", [b"2 3"]),
        ("SENTON 3-Mar-2026", [b"2"]),
        ("UNSEEN", [b"1 2 3"]),
        ("SEEN", [b""]),
        ("2:*", [b"2 3"]),
    ],
)
def test_rev1_search_answers_untagged_search(mail, criteria, expected):
    client = login(mail)
    typ, data = client.search(None, criteria)
    assert typ == "OK"
    assert data == expected
    client.logout()


def test_uid_search_answers_uids(mail):
    client = login(mail)
    client.store("1", "+FLAGS", "(\\Deleted)")
    client.expunge()
    typ, data = client.uid("SEARCH", "SUBJECT", "invoice")
    assert (typ, data) == ("OK", [b"3"])
    typ, data = client.search(None, "SUBJECT", "invoice")
    assert (typ, data) == ("OK", [b"2"])
    client.logout()


def test_rev2_search_answers_esearch(mail):
    client = login(mail)
    raw(client, b"ENABLE IMAP4rev2")
    lines = raw(client, b"SEARCH SUBJECT invoice")
    assert lines[0].startswith(b'* ESEARCH (TAG "')
    assert lines[0].endswith(b'") ALL 1,3')
    lines = raw(client, b"SEARCH SEEN")
    assert lines[0].endswith(b'")')  # RFC 4731 §3.1: nothing matched, no ALL
    client.logout()


def test_search_return_options_in_rev1(mail):
    client = login(mail)
    lines = raw(client, b"UID SEARCH RETURN (MIN MAX COUNT) ALL")
    assert lines[0].endswith(b" UID MIN 1 MAX 3 COUNT 3"), lines
    lines = raw(client, b"SEARCH RETURN (COUNT) SEEN")
    assert lines[0].endswith(b" COUNT 0"), lines
    client.logout()


def test_saved_result_is_usable_as_dollar(mail):
    client = login(mail)
    lines = raw(client, b"SEARCH RETURN (SAVE) FROM carol")
    assert lines == [b"OK SEARCH completed"]
    lines = raw(client, b"FETCH $ (UID)")
    assert lines[0] == b"* 3 FETCH (UID 3)"
    client.logout()


def test_unknown_charset_gets_badcharset(mail):
    client = login(mail)
    lines = raw(client, b"SEARCH CHARSET KOI8-R SUBJECT x")
    assert lines[-1].startswith(b"NO [BADCHARSET (UTF-8 US-ASCII)]")
    client.logout()


@pytest.mark.parametrize(
    "command",
    [
        b"SEARCH",
        b"SEARCH FROM",
        b"SEARCH BEFORE notadate",
        b"SEARCH (ALL",
        b"SEARCH 0",
        b"SEARCH 4294967296",
        b"SEARCH FROBNICATE",
        b"SEARCH LARGER x",
        b"SEARCH RETURN (BOGUS) ALL",
    ],
)
def test_malformed_search_gets_bad(mail, command):
    client = login(mail)
    assert raw(client, command)[-1].startswith(b"BAD")
    assert client.noop()[0] == "OK"
    client.logout()


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        (b"SEARCH 9", b"* SEARCH\r\n"),
        (b"SEARCH 2:9", b"* SEARCH 2 3\r\n"),
        (b"SEARCH OR 9 1", b"* SEARCH 1\r\n"),
        (b"SEARCH RETURN () 1000", b'* ESEARCH (TAG "t")\r\n'),
        (b"SEARCH RETURN (MIN COUNT) 1000", b'* ESEARCH (TAG "t") COUNT 0\r\n'),
    ],
)
def test_a_sequence_number_past_exists_matches_nothing(mail, command, answer):
    """Dovecot answers SEARCH 1000 in a 3-message mailbox with an empty OK (imaptest's esearch
    script and imapclient's live tests expect it); FETCH 1000 stays BAD (RFC 9051 §9)."""
    session = ImapWire(mail.imap_port)
    session.login()
    session.command(b"s SELECT INBOX")
    assert session.command(b"t " + command) == answer + b"t OK SEARCH completed\r\n"
    assert session.command(b"f FETCH 9 FLAGS").startswith(b"f BAD")
    session.close()


def test_imapclient_search(mail):
    with IMAPClient(mail.host, port=mail.imap_port, ssl=False, timeout=10) as client:
        client.login("user", "pass")
        client.select_folder("INBOX")
        assert client.search(["SUBJECT", "invoice"]) == [1, 3]
        assert client.search(["BODY", "Grüße"], charset="UTF-8") == [2]
        assert client.search(["SUBJECT", "März"], charset="UTF-8") == [1]


def test_subject_matches_the_envelope_subject_as_dovecot(mail):
    """RFC 9051 §6.4.4: SUBJECT looks in "the envelope structure's SUBJECT field", which shows
    each run of white space as one space (as Dovecot's does): a folded Subject is found by the
    words with one space between them, and two spaces in the search string find nothing."""
    mail.call(
        mail.server.postoffice.deliver,
        ["user@x"],
        b"Subject: folded\r\n\tsubject  here\r\n\r\nbody\r\n",
    )
    session = ImapWire(mail.imap_port)
    session.login()
    session.command(b"s SELECT INBOX")
    assert session.command(b'a SEARCH SUBJECT "folded subject here"').startswith(b"* SEARCH 4\r\n")
    assert session.command(b'b SEARCH SUBJECT "subject  here"').startswith(b"* SEARCH\r\n")
    session.close()


NOW = 1_780_000_000  # the server's clock in the WITHIN tests


@pytest.fixture
def dated(monkeypatch):
    """Messages 1000 s, 100 s and 10 s old (internal dates) at a fixed server time."""
    from elektromail.imap import search_parse

    monkeypatch.setattr(search_parse, "clock", lambda: NOW + 0.7)
    with MailServer() as server:
        for age in (1000, 100, 10):
            raw_message = b"Subject: aged %d\r\n\r\nx\r\n" % age
            server.call(
                server.server.postoffice.inject,
                "user",
                "INBOX",
                raw_message,
                internal_date=NOW - age + 0.5,
            )
        yield server


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        # RFC 5032 §2: "For OLDER, messages match if the INTERNALDATE is less recent than or
        # equal to the target time. For YOUNGER, messages match if the INTERNALDATE is more
        # recent than or equal to the target time" ("to the resolution of a second")
        ("OLDER 100", b"1 2"),
        ("OLDER 101", b"1"),
        ("YOUNGER 100", b"2 3"),
        ("YOUNGER 99", b"3"),
        ("YOUNGER 5", b""),
        ("OLDER 4294967295", b""),
        ("NOT YOUNGER 50 NOT OLDER 500", b"2"),
        ("OR OLDER 900 YOUNGER 20", b"1 3"),
    ],
)
def test_older_and_younger(dated, criteria, expected):
    client = login(dated)
    assert raw(client, b"UID SEARCH " + criteria.encode())[0] == (b"* SEARCH " + expected).strip()
    client.logout()


@pytest.mark.parametrize(
    "criteria",
    [
        b"OLDER",
        b"OLDER 0",
        b"OLDER -5",
        b"YOUNGER 1.5",
        b"YOUNGER abc",
        b"OLDER 4294967296",
        b"YOUNGER (10)",
        b'OLDER "10"',
    ],
)
def test_a_bad_interval_is_bad(dated, criteria):
    """RFC 5032 §3: search-key =/ ( "OLDER" / "YOUNGER" ) SP nz-number."""
    client = login(dated)
    assert raw(client, b"SEARCH " + criteria)[-1].startswith(b"BAD")
    assert raw(client, b"SEARCH YOUNGER 100")[0] == b"* SEARCH 2 3"
    client.logout()


def test_within_is_advertised(mail):
    client = login(mail)
    assert "WITHIN" in client.capabilities
    client.logout()
