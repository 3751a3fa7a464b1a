"""SORT and UID SORT (RFC 5256 §3), SORT=DISPLAY (RFC 5957) and ESORT (RFC 5267 §3) over real
sockets: each key, REVERSE, ties, search criteria, both dialects, a database file, bad input."""

from __future__ import annotations

import imaplib

import pytest

from elektromail.testing import MailServer
from tests.imap.test_search_command import raw

# (raw, internal date): arrival order is not UID order, sizes differ, one has no Date:
MESSAGES = [
    (
        b"From: Zed Zebra <zed@z.example>\r\nTo: bea@x\r\nCc: carl@x\r\n"
        b"Subject: Re: banana\r\nDate: Tue, 03 Mar 2026 10:00:00 +0000\r\n\r\nbody one\r\n",
        1_773_000_300.0,
    ),
    (
        b"From: amy@a.example\r\nTo: Abe <abe@x>\r\nSubject: apple\r\n"
        b"Date: Mon, 02 Mar 2026 12:00:00 +0200\r\n\r\nthe second body, longer\r\n",
        1_773_000_100.0,
    ),
    (
        b"From: =?utf-8?q?=C3=89mile?= <emile@e.example>\r\nTo: cid@x\r\nCc: abby@x\r\n"
        b"Subject: [list] Fwd: cherry (fwd)\r\n\r\nthird\r\n",
        1_773_000_200.0,
    ),
    (
        b"From: bob@b.example\r\nSubject: apple\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
        b"\r\nfourth body, the longest of them all, by a good margin indeed\r\n",
        1_773_000_400.0,
    ),
]


def deliver_all(server: MailServer, messages: list[tuple[bytes, float]] = MESSAGES) -> None:
    """Store (raw, internal date) pairs in user's INBOX, in order."""
    for message, when in messages:
        server.call(server.server.postoffice.inject, "user", "INBOX", message, internal_date=when)


@pytest.fixture
def mail():
    with MailServer() as server:
        deliver_all(server)
        yield server


def login(mail: MailServer, *, rev2: bool = False) -> imaplib.IMAP4:
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    if rev2:
        raw(client, b"ENABLE IMAP4rev2")
    client.select("INBOX")
    return client


def sort(client: imaplib.IMAP4, arguments: bytes) -> list[bytes]:
    lines = raw(client, b"SORT " + arguments)
    assert lines[-1].startswith(b"OK"), lines
    return lines[:-1]


@pytest.mark.parametrize(
    ("criteria", "order"),
    [
        # RFC 5256 §3: "ARRIVAL Internal date and time of the message."
        (b"(ARRIVAL)", b"2 3 1 4"),
        # "DATE Sent date and time": 2 (10:00 UTC) = 4 (10:00 UTC), then 1; 3 has no Date: and
        # sorts by its internal date (§2.2); ties in sequence order
        (b"(DATE)", b"2 4 1 3"),
        # "SIZE Size of the message in octets."
        (b"(SIZE)", b"3 2 1 4"),
        # "SUBJECT Base subject text": APPLE APPLE BANANA CHERRY
        (b"(SUBJECT)", b"2 4 1 3"),
        # "FROM [IMAP] addr-mailbox of the first "From" address": amy bob emile zed
        (b"(FROM)", b"2 4 3 1"),
        # "TO ... of the first "To" address": none first, then abe bea cid
        (b"(TO)", b"4 2 1 3"),
        (b"(CC)", b"2 4 3 1"),
        # RFC 5957: the display name, else the address: amy@a.example, bob@b.example, Émile, Zed
        (b"(DISPLAYFROM)", b"2 4 3 1"),
        (b"(DISPLAYTO)", b"4 2 1 3"),
        # "REVERSE Followed by another sort criterion, has the effect of that criterion but in
        # reverse (descending) order."
        (b"(REVERSE ARRIVAL)", b"4 1 3 2"),
        (b"(REVERSE SUBJECT)", b"3 1 2 4"),  # the tie 2 = 4 stays in sequence order
        (b"(SUBJECT REVERSE ARRIVAL)", b"4 2 1 3"),
        (b"(subject reverse size)", b"4 2 1 3"),
        (b'("SUBJECT" "REVERSE" size)', b"4 2 1 3"),  # astrings, as Dovecot reads them
        # as Dovecot: a second REVERSE cancels the first; a key named again adds nothing (and
        # leaves a REVERSE before it for the next key)
        (b"(REVERSE REVERSE ARRIVAL)", b"2 3 1 4"),
        (b"(SUBJECT REVERSE SUBJECT REVERSE ARRIVAL)", b"2 4 1 3"),
        (b"(SUBJECT REVERSE SUBJECT ARRIVAL)", b"4 2 1 3"),
    ],
)
def test_each_sort_key(mail, criteria, order):
    client = login(mail)
    assert sort(client, criteria + b" UTF-8 ALL") == [b"* SORT " + order]
    client.logout()


def test_search_criteria_choose_the_messages_sorted(mail):
    """RFC 5256 §3: "the SORT command first searches the mailbox for messages that match the
    given searching criteria using the charset argument for the interpretation of strings"."""
    client = login(mail)
    assert sort(client, b"(REVERSE SIZE) US-ASCII SUBJECT apple") == [b"* SORT 4 2"]
    assert sort(client, b"(DATE) utf-8 OR FROM zed 3") == [b"* SORT 1 3"]
    assert sort(client, b"(DATE) UTF-8 SUBJECT nothing") == [b"* SORT"]
    assert sort(client, b'(REVERSE SIZE) "US-ASCII" SUBJECT apple') == [b"* SORT 4 2"]
    client.logout()


def test_uid_sort_answers_uids(mail):
    """RFC 5256 §3: "The UID SORT command ... returns unique identifiers instead of message
    sequence numbers."""
    client = login(mail)
    raw(client, b"STORE 1 +FLAGS (\\Deleted)")
    raw(client, b"EXPUNGE")
    lines = raw(client, b"UID SORT (ARRIVAL) UTF-8 ALL")
    assert lines[0] == b"* SORT 2 3 4"
    assert sort(client, b"(ARRIVAL) UTF-8 ALL") == [b"* SORT 1 2 3"]
    client.logout()


def test_sort_reads_mail_not_yet_parsed():
    """Mail is acknowledged before it is parsed; a SORT right after sees it in order."""
    with MailServer() as server:
        client = None
        try:
            for raw_message, _ in MESSAGES:
                server.call(server.server.postoffice.deliver, ["user@x"], raw_message)
            client = login(server)
            assert sort(client, b"(SUBJECT) UTF-8 ALL") == [b"* SORT 2 4 1 3"]
        finally:
            if client is not None:
                client.logout()


def test_sort_in_imap4rev2_answers_sort(mail):
    """SORT's answer is `* SORT` in both dialects (RFC 5256 §4 defines no other)."""
    client = login(mail, rev2=True)
    assert sort(client, b"(SUBJECT) UTF-8 ALL") == [b"* SORT 2 4 1 3"]
    client.logout()


def test_esort_return_options(mail):
    """RFC 5267 §3.1: "MIN Return the message number/UID of the lowest sorted message ...
    ALL Return all message numbers/UIDs which match the search criteria, in the requested sort
    order, using a sequence-set." §3.2: ranges "MUST be ordered in increasing numerical
    order after expansion"."""
    client = login(mail)
    [line] = sort(client, b"RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL")
    assert line.endswith(b'") MIN 2 MAX 3 COUNT 4 ALL 2,4,1,3'), line
    [line] = sort(client, b"RETURN (ALL) (REVERSE ARRIVAL) UTF-8 ALL")
    assert line.endswith(b'") ALL 4,1,3,2'), line
    [line] = sort(client, b"RETURN () (ARRIVAL) UTF-8 2:3")  # empty: ALL
    assert line.endswith(b'") ALL 2:3'), line
    [line] = sort(client, b"RETURN (COUNT MIN) (ARRIVAL) UTF-8 SUBJECT nothing")
    assert line.endswith(b'") COUNT 0'), line
    lines = raw(client, b"UID SORT RETURN (COUNT) (ARRIVAL) UTF-8 ALL")
    assert lines[0].startswith(b'* ESEARCH (TAG "') and lines[0].endswith(b'") UID COUNT 4')
    client.logout()


def test_sort_return_save_keeps_the_result_for_dollar(mail):
    """RFC 5182 §1: SAVE tells the server "to remember the result of the SEARCH or UID SEARCH
    command (as well as any command based on SEARCH, e.g., SORT and THREAD [SORT])"; SAVE
    alone answers no ESEARCH (§2.1)."""
    client = login(mail)
    lines = raw(client, b"SORT RETURN (SAVE) (REVERSE SIZE) UTF-8 SUBJECT apple")
    assert lines == [b"OK SORT completed"]
    assert raw(client, b"UID SEARCH $")[0] == b"* SEARCH 2 4"
    # with MIN: the first message in sort order is kept
    lines = raw(client, b"SORT RETURN (SAVE MIN) (REVERSE SIZE) UTF-8 ALL")
    assert lines[0].endswith(b'") MIN 4'), lines
    assert raw(client, b"UID SEARCH $")[0] == b"* SEARCH 4"
    # a NO (unknown charset) to SORT RETURN (SAVE) empties $
    assert raw(client, b"SORT RETURN (SAVE) (SIZE) KOI8-R ALL")[-1].startswith(b"NO")
    assert raw(client, b"UID SEARCH $")[0] == b"* SEARCH"
    client.logout()


def test_sort_from_a_database_file_after_a_restart(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(db=db) as server:
        deliver_all(server)
    with MailServer(db=db) as server:
        client = login(server)
        assert sort(client, b"(SUBJECT) UTF-8 ALL") == [b"* SORT 2 4 1 3"]
        assert sort(client, b"(DATE) UTF-8 ALL") == [b"* SORT 2 4 1 3"]
        client.logout()


def test_capability_lists_sort_display_and_esort(mail):
    client = login(mail)
    capabilities = client.capabilities
    assert {"SORT", "SORT=DISPLAY", "ESORT"} <= set(capabilities)
    client.logout()


@pytest.mark.parametrize(
    "arguments",
    [
        b"",
        b"ARRIVAL UTF-8 ALL",  # criteria not in parentheses
        b"() UTF-8 ALL",  # at least one criterion
        b"(NOSUCH) UTF-8 ALL",
        b"(REVERSE) UTF-8 ALL",
        b"(ARRIVAL REVERSE) UTF-8 ALL",
        b"((ARRIVAL)) UTF-8 ALL",
        b"(ARRIVAL)",  # no charset
        b"(ARRIVAL) UTF-8",  # no search key
        b"(ARRIVAL) (UTF-8) ALL",
        b"(ARRIVAL) UTF-8 NOSUCHKEY",
        b"(ARRIVAL) UTF-8 ALL )",
        b"RETURN (ARRIVAL) UTF-8 ALL",  # RETURN without its options
        b"RETURN (SAVE RELEVANCY) (ARRIVAL) UTF-8 ALL",
        b"RETURN (PARTIAL 1:2 ALL) (ARRIVAL) UTF-8 ALL",  # RFC 5267 §4.4: one or the other
        b"RETURN ALL (ARRIVAL) UTF-8 ALL",
    ],
)
def test_malformed_sort_is_bad_and_changes_nothing(mail, arguments):
    client = login(mail)
    lines = raw(client, b"SORT " + arguments)
    assert lines[-1].startswith(b"BAD"), lines
    assert sort(client, b"(ARRIVAL) UTF-8 ALL") == [b"* SORT 2 3 1 4"]  # still in service
    client.logout()


def test_an_unknown_charset_is_no_badcharset(mail):
    """RFC 5256 §3: "If the server does not support the specified [CHARSET], it MUST return a
    tagged NO response (not a BAD)"."""
    client = login(mail)
    lines = raw(client, b"SORT (ARRIVAL) KOI8-R ALL")
    assert lines == [b"NO [BADCHARSET (UTF-8 US-ASCII)] unsupported charset"]
    client.logout()


def test_sort_needs_a_selected_mailbox(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    assert raw(client, b"SORT (ARRIVAL) UTF-8 ALL")[-1].startswith(b"BAD")
    client.login("user", "pass")
    assert raw(client, b"UID SORT (ARRIVAL) UTF-8 ALL")[-1].startswith(b"BAD")
    client.logout()


def test_a_long_sort_answers_every_message(mail):
    """Hostile size: a SORT over many messages answers all of them in one line, in order."""
    client = login(mail)
    for i in range(300):
        body = b"Subject: s%03d\r\n\r\n" % (299 - i) + b"x" * i + b"\r\n"
        mail.call(mail.server.postoffice.inject, "user", "INBOX", body)
    raw(client, b"NOOP")
    [line] = sort(client, b"(REVERSE SIZE) UTF-8 ALL")
    numbers = [int(n) for n in line.split()[2:]]
    assert len(numbers) == 304
    assert numbers[:3] == [304, 303, 302]


def append(client: imaplib.IMAP4, message: bytes) -> None:
    lines = raw(client, b"APPEND INBOX {%d+}\r\n%b" % (len(message), message))
    assert lines[-1].startswith(b"OK"), lines


def test_a_repeated_sort_sees_messages_added_and_expunged_meanwhile(mail):
    """The order is kept per session while the mailbox's messages stay the same (RFC 5267
    §4.5: "servers MUST behave identically whether or not internal caching is taking place"):
    an arrival, this session's or another's, and an expunge change the answer at once."""
    client, other = login(mail), login(mail)
    assert sort(client, b"(SUBJECT) UTF-8 ALL") == [b"* SORT 2 4 1 3"]
    assert sort(client, b"(SUBJECT) UTF-8 ALL") == [b"* SORT 2 4 1 3"]
    append(other, b"Subject: aardvark\r\n\r\nx")
    raw(client, b"NOOP")  # the EXISTS that brings 5
    assert sort(client, b"(SUBJECT) UTF-8 ALL") == [b"* SORT 5 2 4 1 3"]
    append(client, b"Subject: zulu\r\n\r\nx")
    assert sort(client, b"(SUBJECT) UTF-8 ALL")[-1] == b"* SORT 5 2 4 1 3 6"
    raw(other, b"STORE 2 +FLAGS.SILENT (\\Deleted)")
    raw(other, b"EXPUNGE")
    raw(client, b"NOOP")  # SORT may not report the EXPUNGE; NOOP does
    assert sort(client, b"(SUBJECT) UTF-8 ALL") == [b"* SORT 4 3 1 2 5"]
    assert sort(client, b"(REVERSE SUBJECT) UTF-8 ALL") == [b"* SORT 5 2 1 3 4"]
    assert sort(client, b"(SUBJECT) UTF-8 UNSEEN") == [b"* SORT 4 3 1 2 5"]
