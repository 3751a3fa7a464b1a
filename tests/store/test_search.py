"""store/search.py: each SEARCH key the store answers in SQL matches exactly the messages the
pure evaluator (imap/search_eval) matches, on messages chosen to be awkward: encoded words,
8-bit headers that are not UTF-8, case folding beyond ASCII, comments and groups in
addresses, folded and repeated fields, no subject, a bad Date:, dates near midnight in
other zones."""

from __future__ import annotations

import datetime

import pytest

from elektromail.imap.search_eval import MessageInfo, SearchContext, leaf_test, store_query
from elektromail.imap.search_parse import (
    AddressKey,
    DateKey,
    HeaderKey,
    SizeKey,
    SubjectKey,
    WithinKey,
)
from tests.store.conftest import add_mailbox, add_user, prepared, run

MESSAGES = [
    (
        b"From: Ada <ada@example.com>\r\nTo: Bob <bob@x.org>\r\nSubject: Invoice 7\r\n"
        b"Date: Mon, 5 Jan 2026 23:30:00 -0500\r\nMessage-ID: <1@a>\r\n\r\nhi\r\n",
        1767673800,
        -300,
    ),
    (
        b"From: =?utf-8?q?Stra=C3=9Fe?= <s@x.de>\r\nSubject: =?utf-8?b?w5xCRVI=?=\r\n"
        b"Cc: Team: a@b.c, (note) <c@d (x) .e>;\r\nX-Tag: one\r\nX-Tag: TWO\r\n\r\nx\r\n",
        0,
        60,
    ),
    (
        b"From: caf\xe9 <k@x>\r\nTo: undisclosed-recipients:;\r\nSubject: r\xc3\xa9sum\xc3\xa9\r\n"
        b"Date: not a date\r\nX-Long: folded\r\n  onto two lines\r\n\r\nbody\r\n",
        1e9,
        0,
    ),
    (
        b"To: plain@example.com\r\nBcc: hidden@example.com\r\nDate: 29 Feb 2024 00:00 +1400\r\n"
        b"\r\nno from, no subject\r\n",
        -86401.5,
        0,
    ),
    (b'Subject:\r\nFrom: "Sender 7" <sender7@example.com>\r\n\r\n', 1767657600, 0),
]

KEYS = [
    AddressKey("from", "ada"),
    AddressKey("from", "ADA@EXAMPLE.COM"),
    AddressKey("from", "strasse"),
    AddressKey("from", "straße"),
    AddressKey("from", "café"),
    AddressKey("from", "sender7"),
    AddressKey("from", '"sender'),
    AddressKey("from", ""),
    AddressKey("to", "recipients"),
    AddressKey("to", ""),
    AddressKey("cc", "team: a@b.c"),
    AddressKey("cc", "note"),
    AddressKey("cc", "c@d.e"),
    AddressKey("bcc", "hidden"),
    SubjectKey("subject", "invoice"),
    SubjectKey("subject", "über"),
    SubjectKey("subject", "RÉSUMÉ"),
    SubjectKey("subject", ""),
    HeaderKey("message-id", "<1@a>"),
    HeaderKey("x-tag", "two"),
    HeaderKey("x-tag", ""),
    HeaderKey("x-long", "folded onto"),
    HeaderKey("x-long", "folded  onto"),
    HeaderKey("subject", ""),
    HeaderKey("from", "café"),
    HeaderKey("nothing", ""),
    SizeKey(True, 100),
    SizeKey(False, 100),
    *(
        DateKey(op, datetime.date(*day), sent)
        for op in ("before", "on", "since")
        for day in ((2026, 1, 5), (2026, 1, 6), (1970, 1, 1), (1969, 12, 31), (2024, 2, 29))
        for sent in (False, True)
    ),
    # OLDER/YOUNGER (RFC 5032): internal dates to the second, negative and fractional ones
    *(
        WithinKey(older, target)
        for older in (True, False)
        for target in (1767673800, 1767673799, 0, -86402, -86401, 10**9, 2**40)
    ),
]


@pytest.fixture
def box(store):
    mailbox = add_mailbox(store, add_user(store), "Box")
    for raw, when, tz in MESSAGES:
        run(store.append, mailbox.id, prepared(raw, internal_date=when, tz_minutes=tz))
    return mailbox


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_store_query_matches_what_the_evaluator_matches(store, box, key):
    rows = run(store.fetch, box.id, list(range(1, len(MESSAGES) + 1)), structure=True, raw=True)
    test = leaf_test(key, SearchContext([row.uid for row in rows]))
    expected = sorted(row.uid for row in rows if test(row))
    query = store_query(key)
    assert query is not None
    assert sorted(run(store.search_uids, box.id, query)) == expected


def test_the_index_goes_with_its_body(store, box):
    run(store.expunge, box.id, None)  # nothing is \Deleted: nothing goes
    run(store.store_flags, box.id, [1, 2, 3, 4, 5], "add", ("\\Deleted",))
    assert run(store.expunge, box.id, None) == [1, 2, 3, 4, 5]

    def counts(cursor):
        return [
            cursor.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("search_envelope", "search_header")
        ]

    assert run(store._run, counts) == [0, 0]


def test_message_info_is_enough_for_a_size_key():
    test = leaf_test(SizeKey(True, 3), SearchContext([1]))
    assert test(MessageInfo(1, size=4)) and not test(MessageInfo(1, size=3))
