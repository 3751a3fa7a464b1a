"""store/summaries.py: the control API's reads across users and mailboxes: listings, paging
and text search, mailbox summaries, one message by (user, mailbox, uid) and its flags."""

from __future__ import annotations

import pytest

from elektromail.store import MessageSummary
from elektromail.store.summaries import Located, MailboxSummary
from tests.store.conftest import add_mailbox, add_user, append, message, run

# The messages of `filled` by (user, mailbox, uid), in the order they arrive.
LUNCH = ("alice", "INBOX", 1)  # from ann@example.com, "Lunch 100%"
PLANS = ("alice", "Work", 1)  # "lunch plans", body "Pizza?"
REPORT = ("alice", "INBOX", 2)  # "Report_v2", \Seen
HELLO = ("bob", "INBOX", 1)


@pytest.fixture
def filled(store):
    """alice with INBOX, Work and an empty Archive, bob with INBOX; the four messages above."""
    alice, bob = add_user(store, "alice"), add_user(store, "bob")
    inbox, work = add_mailbox(store, alice), add_mailbox(store, alice, "Work")
    bobs = add_mailbox(store, bob)
    add_mailbox(store, alice, "Archive")
    append(store, inbox, message("Lunch 100%", "see you", "ann@example.com"))
    append(store, work, message("lunch plans", "Pizza?"))
    append(store, inbox, message("Report_v2", "attached"), ("\\Seen",))
    append(store, bobs, message("Hello", "hi bob"))
    return store


def where(summaries: list[MessageSummary]) -> list[tuple[str, str, int]]:
    return [(s.user, s.mailbox, s.uid) for s in summaries]


@pytest.mark.parametrize(
    ("user", "mailbox", "expected"),
    [
        (None, None, [LUNCH, PLANS, REPORT, HELLO]),
        ("ALICE", None, [LUNCH, PLANS, REPORT]),
        (None, "inbox", [LUNCH, REPORT, HELLO]),
        ("alice", "Work", [PLANS]),
        ("alice", "work", []),
        ("nobody", None, []),
    ],
    ids=["all", "user-any-case", "inbox-any-case", "both", "other-names-exact", "unknown-user"],
)
def test_list_messages_filters_by_user_and_mailbox_in_arrival_order(
    filled, user, mailbox, expected
):
    assert where(run(filled.list_messages, user, mailbox)) == expected


def test_a_summary_names_user_and_mailbox_as_stored_without_the_bytes(filled):
    first = run(filled.list_messages, "alice", "INBOX")[0]
    raw = message("Lunch 100%", "see you", "ann@example.com")
    assert (first.uid, first.user, first.mailbox, first.flags, first.size) == (
        1,
        "alice",
        "INBOX",
        (),
        len(raw),
    )
    assert (first.raw, first.attachments) == (None, 0)


@pytest.mark.parametrize(
    ("text", "newest_first", "limit", "offset", "total", "expected"),
    [
        (None, False, 2, 0, 4, [LUNCH, PLANS]),
        (None, False, 2, 2, 4, [REPORT, HELLO]),
        (None, True, 3, 0, 4, [HELLO, REPORT, PLANS]),
        (None, False, 2, 10, 4, []),
        ("LUNCH", False, 10, 0, 2, [LUNCH, PLANS]),
        ("lunch", True, 1, 0, 2, [PLANS]),
        ("lunch", False, 1, 1, 2, [PLANS]),
        ("pizza", False, 10, 0, 1, [PLANS]),
        ("ann@example", False, 10, 0, 1, [LUNCH]),
        ("100%", False, 10, 0, 1, [LUNCH]),
        ("t_v", False, 10, 0, 1, [REPORT]),
        ("%", False, 10, 0, 1, [LUNCH]),
        ("_", False, 10, 0, 1, [REPORT]),
        ("absent", False, 10, 0, 0, []),
    ],
    ids=[
        "first-page",
        "second-page",
        "newest-first",
        "past-the-end",
        "text-any-case",
        "text-newest-first",
        "text-second-page",
        "body-text",
        "address",
        "percent-literal",
        "underscore-literal",
        "percent-alone",
        "underscore-alone",
        "no-match",
    ],
)
def test_page_messages_pages_and_searches_with_the_matching_total(
    filled, text, newest_first, limit, offset, total, expected
):
    page = run(filled.page_messages, None, None, text, newest_first, limit, offset)
    assert (page.total, where(page.messages)) == (total, expected)


def test_page_messages_narrows_by_user_and_text_together(filled):
    page = run(filled.page_messages, "bob", None, "lunch", False, 10, 0)
    assert (page.total, page.messages) == (0, [])


def test_search_messages_is_the_listing_narrowed_by_text(filled):
    found = run(filled.search_messages, "alice", None, "lunch", True)
    assert where(found) == [PLANS, LUNCH]
    assert where(run(filled.search_messages, None, None, None, False)) == where(
        run(filled.list_messages)
    )


def test_mailbox_summaries_count_messages_and_unseen_inbox_first(filled):
    assert run(filled.mailbox_summaries) == [
        MailboxSummary("alice", "INBOX", 2, 1),
        MailboxSummary("alice", "Archive", 0, 0),
        MailboxSummary("alice", "Work", 1, 1),
        MailboxSummary("bob", "INBOX", 1, 1),
    ]
    assert [s.mailbox for s in run(filled.mailbox_summaries, "BOB")] == ["INBOX"]


def test_change_flags_adds_then_removes_in_any_case(filled):
    changed = run(filled.change_flags, "alice", "inbox", 2, ["\\flagged", "$Todo"], ["\\SEEN"])
    inbox_id = run(filled.get_mailbox, run(filled.get_user, "alice").id, "INBOX").id
    assert changed == Located("alice", "INBOX", inbox_id, 2, ("\\Flagged", "$Todo"))
    assert run(filled.get_message, "alice", "INBOX", 2, raw=False).flags == ("\\Flagged", "$Todo")


@pytest.mark.parametrize(
    ("user", "mailbox", "uid"),
    [("nobody", "INBOX", 1), ("alice", "Nowhere", 1), ("alice", "INBOX", 3)],
    ids=["user", "mailbox", "uid"],
)
def test_a_message_that_does_not_exist_is_none(filled, user, mailbox, uid):
    assert run(filled.change_flags, user, mailbox, uid, ["\\Seen"], []) is None
    assert run(filled.get_message, user, mailbox, uid) is None
    assert run(filled.remove_message, user, mailbox, uid) is None


def test_get_message_with_and_without_its_bytes(filled):
    raw = message("lunch plans", "Pizza?")
    assert run(filled.get_message, "ALICE", "Work", 1).raw == raw
    assert run(filled.get_message, "alice", "Work", 1, raw=False).raw is None


def test_remove_message_deletes_one_and_says_what_it_was(filled):
    removed = run(filled.remove_message, "alice", "INBOX", 1)
    assert (removed.user, removed.mailbox, removed.uid, removed.flags) == ("alice", "INBOX", 1, ())
    assert where(run(filled.list_messages, "alice")) == [PLANS, REPORT]


def test_users_with_mail_in_the_order_they_were_made(filled):
    assert run(filled.users_with_mail) == ["alice", "bob"]
    run(filled.remove_message, "alice", "INBOX", 1)
    run(filled.remove_message, "alice", "INBOX", 2)
    run(filled.remove_message, "alice", "Work", 1)
    assert run(filled.users_with_mail) == ["bob"]
