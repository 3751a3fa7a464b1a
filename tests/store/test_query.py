"""store/query.py with elektromail.mailquery: a table of queries over a fixed set of messages
with the messages each must find, answered in SQL; and the arrival cursor, which never goes
back, whatever is deleted."""

from __future__ import annotations

import base64
import datetime

import pytest

from elektromail import mailquery
from elektromail.store import PreparedMessage
from tests.store.conftest import add_mailbox, add_user, prepared, run, uids


def _at(day: str) -> float:
    return datetime.datetime.fromisoformat(day).replace(tzinfo=datetime.UTC).timestamp()


PDF = base64.b64encode(b"%PDF-1.4 " * 200).decode()
# name -> (raw, flags, internal date)
MESSAGES = {
    "welcome": (
        "From: Shop Team <team@shop.example>\r\nTo: Bob Builder <bob@example.net>\r\n"
        "Subject: Welcome aboard, Bob\r\nX-Mailer: ShopMailer 2.1\r\nList-Id: <news.shop>\r\n"
        "\r\nYour code is 123456. Visit https://shop.example/verify?token=abc\r\n",
        (),
        "2026-12-01T10:00:00",
    ),
    "reset": (
        "From: security@bank.example\r\nTo: alice@example.org\r\nCc: audit@bank.example\r\n"
        "Subject: =?utf-8?q?Passwort_zur=C3=BCcksetzen?=\r\n\r\nHallo Alice, 100% sicher.\r\n",
        ("\\Seen",),
        "2026-12-05T23:59:59",
    ),
    "invoice": (
        "From: billing@shop.example\r\nTo: bob@example.net\r\nSubject: Invoice 42\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nSee the attached invoice.\r\n"
        "--b\r\nContent-Type: application/pdf\r\n"
        'Content-Disposition: attachment; filename="invoice.pdf"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{PDF}\r\n--b--\r\n",
        ("\\Flagged", "\\Seen"),
        "2026-12-06T00:00:00",
    ),
    "note": (
        "From: carol@example.com\r\nTo: bob@example.net\r\nSubject: lunch_plans\r\n\r\n"
        "Pizza at noon? Welcome aboard too.\r\n",
        ("\\Answered",),
        "2026-12-07T12:30:00",
    ),
    "nosubject": (
        "From: robot@example.com\r\nTo: bob@example.net\r\n\r\nping\r\n",
        ("\\Draft", "\\Deleted"),
        "2026-12-07T12:30:01",
    ),
}
ORDER = list(MESSAGES)
SIZES = {name: len(raw.encode()) for name, (raw, _, _) in MESSAGES.items()}


@pytest.fixture
def box(store):
    inbox = add_mailbox(store, add_user(store, "bob"))
    for _name, (raw, flags, when) in MESSAGES.items():
        raw_bytes = raw.encode()
        run(store.append, inbox.id, prepared(raw_bytes, flags=flags, internal_date=_at(when)))
    return store


def matches(store, query: str, **kwargs) -> list[str]:
    page = run(store.query_messages, None, None, mailquery.parse(query), **kwargs)
    by_uid = {ORDER.index(name) + 1: name for name in ORDER}
    return [by_uid[s.uid] for s in page.messages]


ALL = ORDER
TABLE = [
    ("", ALL),
    ("welcome", ["welcome", "note"]),
    ("WELCOME aboard", ["welcome", "note"]),
    ('"welcome aboard"', ["welcome", "note"]),
    ('"aboard, bob"', ["welcome"]),
    ("subject:welcome", ["welcome"]),
    ('subject:"Welcome aboard"', ["welcome"]),
    ('subject:"welcome   aboard"', []),
    ("subject:zurücksetzen", ["reset"]),
    ("subject:ZURÜCKSETZEN", ["reset"]),
    ("-subject:welcome", ["reset", "invoice", "note", "nosubject"]),
    ("from:shop.example", ["welcome", "invoice"]),
    ('from:"shop team"', ["welcome"]),
    ("-from:shop.example", ["reset", "note", "nosubject"]),
    ("to:bob", ["welcome", "invoice", "note", "nosubject"]),
    ("to:alice", ["reset"]),
    ("cc:audit", ["reset"]),
    ("cc:bob", []),
    ("header:X-Mailer=shopmailer", ["welcome"]),
    ('header:x-mailer="ShopMailer 2.1"', ["welcome"]),
    ('header:"List-Id=news.shop"', ["welcome"]),
    ("header:List-Id", ["welcome"]),
    ("header:X-Mailer=other", []),
    ("-header:X-Mailer", ["reset", "invoice", "note", "nosubject"]),
    ("has:attachment", ["invoice"]),
    ("-has:attachment", ["welcome", "reset", "note", "nosubject"]),
    ("is:unread", ["welcome", "note", "nosubject"]),
    ("is:read", ["reset", "invoice"]),
    ("is:flagged", ["invoice"]),
    ("-is:flagged", ["welcome", "reset", "note", "nosubject"]),
    ("is:answered", ["note"]),
    ("is:draft is:deleted", ["nosubject"]),
    ("before:2026-12-06", ["welcome", "reset"]),
    ("after:2026-12-06", ["invoice", "note", "nosubject"]),
    ("after:2026-12-06 before:2026-12-07", ["invoice"]),
    ("after:2026-12-07T12:30:00Z", ["note", "nosubject"]),
    ("after:2026-12-07T12:30:01", ["nosubject"]),
    ("after:2026-12-07T13:30:01+01:00", ["nosubject"]),
    ("before:2026-12-06T01:00:00+01:00", ["welcome", "reset"]),
    (f"larger:{SIZES['invoice'] - 1}", ["invoice"]),
    ("larger:1k", ["invoice"]),
    ("smaller:1K", ["welcome", "reset", "note", "nosubject"]),
    (f"smaller:{SIZES['nosubject'] + 1}", ["nosubject"]),
    ("larger:1M", []),
    ("100%", ["reset"]),
    ("lunch_plans", ["note"]),
    ("_", ["note"]),
    ("to:bob -is:read welcome", ["welcome", "note"]),
    ("to:bob subject:Welcome", ["welcome"]),
    ("https://shop.example/verify", ["welcome"]),
    ('"-"', []),
    ("pizza -welcome", []),
    ("ping", ["nosubject"]),
]


@pytest.mark.parametrize(("query", "expected"), TABLE, ids=[q or "empty" for q, _ in TABLE])
def test_query_finds_exactly_these_messages(box, query, expected):
    assert matches(box, query) == expected


def test_a_page_of_the_matches_newest_first_with_the_total(box):
    page = run(
        box.query_messages, None, None, mailquery.parse("to:bob"), newest_first=True, limit=2
    )
    assert page.total == 4
    assert [s.uid for s in page.messages] == [5, 4]
    later = run(box.query_messages, None, None, (), limit=2, offset=4)
    assert (later.total, [s.uid for s in later.messages]) == (5, [5])


def test_the_cursor_is_the_last_arrival_and_after_it_nothing_matches(box):
    page = run(box.query_messages, None, None, ())
    assert page.cursor == run(box.message_cursor)
    assert matches(box, "", after=page.cursor) == []
    first = page.cursor - len(ORDER) + 1  # ids are consecutive here
    assert matches(box, "", after=first) == ORDER[1:]
    assert matches(box, "to:bob", after=first) == ["invoice", "note", "nosubject"]


def _new(store, mailbox, subject: str) -> int:
    return run(store.append, mailbox.id, prepared(f"Subject: {subject}\r\n\r\nx\r\n".encode()))


@pytest.mark.parametrize("how", ["expunge", "purge", "delete-mailbox", "delete-user", "reset"])
def test_the_cursor_never_goes_back_when_the_newest_messages_go(store, how):
    from elektromail.store import Baseline, BaselineMailbox, BaselineUser

    user = add_user(store, "ann")
    inbox = add_mailbox(store, user)
    other = add_mailbox(store, user, "Other")
    _new(store, inbox, "old")
    _new(store, other, "newest")
    before = run(store.message_cursor)
    if how == "expunge":
        run(store.store_flags, other.id, [1], "add", ["\\Deleted"])
        run(store.expunge, other.id)
    elif how == "purge":
        run(store.purge)
    elif how == "delete-mailbox":
        run(store.delete_mailbox, user.id, "Other")
    elif how == "delete-user":
        run(store.delete_user, "ann")
    else:
        run(
            store.reset,
            Baseline((BaselineUser("ann", "pw", None, True, (BaselineMailbox("INBOX"),)),)),
        )
    assert run(store.message_cursor) == before
    if how in ("delete-user", "reset"):
        user = run(store.get_user, "ann") or add_user(store, "ann")
        inbox = run(store.get_mailbox, user.id, "INBOX") or add_mailbox(store, user)
    _new(store, inbox, "after")
    page = run(store.query_messages, None, None, (), after=before)
    assert [mailquery_subject(s) for s in page.messages] == ["after"]
    assert page.cursor == before + 1


def mailquery_subject(summary) -> str:
    from elektromail import mime

    return mime.envelope_from_json(summary.structure).subject


def test_a_copied_message_arrives_after_the_cursor(store):
    user = add_user(store, "ann")
    inbox, other = add_mailbox(store, user), add_mailbox(store, user, "Other")
    _new(store, inbox, "one")
    before = run(store.message_cursor)
    run(store.copy, inbox.id, [1], other.id, move=True)
    page = run(store.query_messages, None, "Other", (), after=before)
    assert [s.mailbox for s in page.messages] == ["Other"]
    assert uids(store, inbox) == []


def test_unparsed_bodies_are_parsed_before_a_header_query(store):
    inbox = add_mailbox(store, add_user(store, "ann"))
    raw = b"From: x@y.example\r\nSubject: waiting\r\n\r\nbody\r\n"
    run(store.append, inbox.id, PreparedMessage(raw, None))
    assert (
        len(run(store.query_messages, None, None, mailquery.parse("subject:waiting")).messages) == 1
    )


def test_each_listed_message_has_its_arrival_number(box):
    page = run(box.query_messages, None, None, mailquery.parse("to:bob"), newest_first=True)
    first = page.cursor - len(ORDER) + 1
    assert page.arrivals == [first + 4, first + 3, first + 2, first]
    after = run(box.query_messages, None, None, mailquery.parse("to:bob"), after=first, limit=1)
    assert (after.arrivals, after.total) == ([first + 2], 3)


def test_without_a_count_the_page_alone_is_read(box):
    page = run(
        box.query_messages, None, None, mailquery.parse("to:bob"), limit=2, offset=1, count=False
    )
    assert ([s.uid for s in page.messages], page.total) == ([3, 4], 2)
