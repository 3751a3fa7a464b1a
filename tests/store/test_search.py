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
    BodyKey,
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
    # Bodies for BODY and TEXT: transfer encodings and charsets undone, only text/* leaves
    # read, nested messages' headers and text included, an attachment's bytes not.
    (
        b"From: m@x\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 au lait, Na=EFve\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"
        b"\r\nPGI+R3LDvMOfZTwvYj4=\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\n\r\nsecret needle\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
        + "Subject: Inner ΣΊΣΥΦΟΣ\r\n".encode()
        + b"X-Inner: deep\r\n\r\ninner needle\r\n--b--\r\n",
        1767657600,
        0,
    ),
    (
        b"From: k@x\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\n"
        b"\xf0\xd2\xc9\xd7\xc5\xd4\r\n",
        1767657600,
        0,
    ),
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
    *(
        BodyKey(text, headers)
        for text in (
            "café au",
            "CAFÉ AU LAIT",
            "naïve",
            "grüße",
            "GRÜSSE",
            "<b>",
            "needle",
            "inner needle",
            "secret",
            "x-inner: deep",
            "subject: inner σίσυφοσ",
            "ΣΊΣΥΦΟΣ",
            "привет",
            "ПРИВЕТ",
            "hi",
            "invoice 7",
            "subject: invoice",
            "to: undisclosed",
            "\nbody",
            "folded  onto",
            "",
        )
        for headers in (False, True)
    ),
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
    assert run(store.search_uids, box.id, ("text", "x")) != []  # fills search_text
    uids = list(range(1, len(MESSAGES) + 1))
    run(store.store_flags, box.id, uids, "add", ("\\Deleted",))
    assert run(store.expunge, box.id, None) == uids

    def counts(cursor):
        return [
            cursor.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("search_envelope", "search_header", "search_text")
        ]

    assert run(store._run, counts) == [0, 0, 0]


def test_message_info_is_enough_for_a_size_key():
    test = leaf_test(SizeKey(True, 3), SearchContext([1]))
    assert test(MessageInfo(1, size=4)) and not test(MessageInfo(1, size=3))


def text_rows(store) -> int:
    return run(store._run, lambda c: c.execute("SELECT count(*) FROM search_text").fetchone()[0])


def test_text_is_decoded_once_per_body_and_kept(store, box, monkeypatch):
    from elektromail.store import textsearch

    decoded: list[int] = []
    real = textsearch._texts
    monkeypatch.setattr(textsearch, "_texts", lambda raw, s: decoded.append(1) or real(raw, s))
    assert text_rows(store) == 0
    assert run(store.search_uids, box.id, ("text", "needle")) == [6]
    assert len(decoded) == len(MESSAGES) == text_rows(store)
    assert run(store.search_uids, box.id, ("body", "привет")) == [7]
    assert len(decoded) == len(MESSAGES)  # read from search_text, not decoded again
    run(store.copy, box.id, [6], box.id)  # a copy shares the body, and its text
    assert run(store.search_uids, box.id, ("text", "needle")) == [6, len(MESSAGES) + 1]
    assert len(decoded) == len(MESSAGES)


def test_text_search_of_some_uids_decodes_only_those(store, box):
    assert run(store.search_uids, box.id, ("body", ""), [2, 6]) == [2, 6]
    assert text_rows(store) == 2
    assert run(store.search_uids, box.id, ("text", "needle"), [1, 2]) == []
    assert run(store.search_uids, box.id, ("text", "needle"), [6, 99]) == [6]
    assert run(store.search_uids, box.id, ("text", "needle"), []) == []


def test_text_search_answers_when_the_database_cannot_keep_the_text(store, box):
    """A full or read-only database cannot take the decoded text: the search decodes for
    itself and answers the same, and a later one stores it."""
    run(store.search_uids, box.id, ("text", "x"), [1])  # one body's text is kept already
    run(store.simulate_read_only, True)
    try:
        assert run(store.search_uids, box.id, ("text", "needle")) == [6]
        assert run(store.search_uids, box.id, ("body", "hi"), [1, 2, 3]) == [1]
        assert run(store.search_uids, box.id, ("body", "")) == list(range(1, len(MESSAGES) + 1))
    finally:
        run(store.simulate_read_only, False)
    assert text_rows(store) == 1
    assert run(store.search_uids, box.id, ("text", "needle")) == [6]
    assert text_rows(store) == len(MESSAGES)
