"""store/mailboxes.py: mailbox rows and UIDVALIDITY, the "/" hierarchy (CREATE, DELETE, RENAME
with subtrees, INBOX's special rename), subscriptions as names, and STATUS/LIST counts."""

from __future__ import annotations

import pytest

from elektromail.store import MailboxExists, NoSuchMailbox
from elektromail.store.mailboxes import (
    MailboxCounts,
    MailboxHasChildren,
    MailboxIntoItself,
    _parents,
    _subtree_bounds,
)
from tests.store.conftest import add_mailbox, add_user, append, message, run, uids

# --- through a running server ----------------------------------------------------------------


def test_uidvalidity_grows_for_every_new_mailbox(mail):
    user = mail.call(mail.server.store.get_user, "user")
    first = mail.call(mail.server.store.create_mailbox, user.id, "A")
    second = mail.call(mail.server.store.create_mailbox, user.id, "B")
    assert second.uidvalidity > first.uidvalidity


# --- pure helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "parents"),
    [("a", []), ("a/b", ["a"]), ("a/b/c", ["a", "a/b"])],
    ids=["top", "child", "grandchild"],
)
def test_parents_are_every_leading_path(name, parents):
    assert _parents(name) == parents


@pytest.mark.parametrize(
    ("name", "inside"),
    [("a/b", True), ("a/b/c", True), ("a", False), ("a0", False), ("a.b", False), ("ab", False)],
    ids=["child", "grandchild", "itself", "a0", "a.b", "ab"],
)
def test_subtree_bounds_hold_exactly_the_names_under_a_mailbox(name, inside):
    low, high = _subtree_bounds("a")
    assert (low <= name < high) is inside


# --- create -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "special_use", "subscribed"),
    [("INBOX", None, True), ("Sent", "\\Sent", True), ("Work", None, False)],
    ids=["inbox", "special-use", "plain"],
)
def test_the_servers_own_mailboxes_are_subscribed_others_not(store, name, special_use, subscribed):
    user = add_user(store)
    row = run(store.create_mailbox, user.id, name, special_use)
    assert (row.name, row.uidnext, row.subscribed, row.special_use) == (
        name,
        1,
        subscribed,
        special_use,
    )
    assert run(store.get_mailbox, user.id, name) == row


def test_a_name_may_be_taken_once_per_user(store):
    alice, bob = add_user(store, "alice"), add_user(store, "bob")
    add_mailbox(store, alice, "Work")
    with pytest.raises(MailboxExists):
        add_mailbox(store, alice, "Work")
    assert add_mailbox(store, bob, "Work").user_id == bob.id


def test_create_path_makes_missing_parents_unsubscribed(store):
    user = add_user(store)
    add_mailbox(store, user, "a")
    row = run(store.create_mailbox_path, user.id, "a/b/c")
    assert row.subscribed is False
    boxes = run(store.list_mailboxes, user.id)
    assert [(box.name, box.subscribed) for box in boxes] == [
        ("a", False),
        ("a/b", False),
        ("a/b/c", False),
    ]
    with pytest.raises(MailboxExists):
        run(store.create_mailbox_path, user.id, "a/b")


def test_a_subscribed_name_is_subscribed_when_its_mailbox_is_made(store):
    user = add_user(store)
    run(store.subscribe, user.id, "Later")
    assert add_mailbox(store, user, "Later").subscribed is True


# --- delete -----------------------------------------------------------------------------------


def test_delete_returns_the_row_and_uids_and_keeps_shared_bodies(store):
    user = add_user(store)
    box, other = add_mailbox(store, user, "Box"), add_mailbox(store, user, "Other")
    append(store, box, message("one"))
    append(store, box, message("two"))
    run(store.copy, box.id, [2], other.id)
    row, gone = run(store.delete_mailbox, user.id, "Box")
    assert (row.id, gone) == (box.id, [1, 2])
    assert run(store.get_mailbox, user.id, "Box") is None
    assert run(store.fetch, other.id, [1], raw=True)[0].raw == message("two")
    bodies = run(store._run, lambda c: c.execute("SELECT count(*) FROM bodies").fetchone()[0])
    assert bodies == 1


def test_delete_refuses_a_mailbox_with_children_and_a_missing_one(store):
    user = add_user(store)
    run(store.create_mailbox_path, user.id, "a/b")
    with pytest.raises(MailboxHasChildren):
        run(store.delete_mailbox, user.id, "a")
    with pytest.raises(NoSuchMailbox):
        run(store.delete_mailbox, user.id, "nothing")
    run(store.delete_mailbox, user.id, "a/b")
    run(store.delete_mailbox, user.id, "a")
    assert run(store.list_mailboxes, user.id) == []


def test_a_recreated_name_gets_a_greater_uidvalidity(store):
    user = add_user(store)
    first = add_mailbox(store, user, "Box")
    run(store.delete_mailbox, user.id, "Box")
    assert add_mailbox(store, user, "Box").uidvalidity > first.uidvalidity


def test_subscriptions_are_names_that_outlive_their_mailbox(store):
    user = add_user(store)
    add_mailbox(store, user, "Box")
    run(store.subscribe, user.id, "Box")
    run(store.delete_mailbox, user.id, "Box")
    listing = run(store.mailbox_listing, user.id)
    assert (listing.mailboxes, listing.subscriptions) == ([], frozenset({"Box"}))
    run(store.unsubscribe, user.id, "Box")
    assert run(store.mailbox_listing, user.id).subscriptions == frozenset()


# --- rename -----------------------------------------------------------------------------------


def test_rename_moves_the_whole_subtree_and_keeps_uids(store):
    user = add_user(store)
    run(store.create_mailbox_path, user.id, "a/b")
    box = run(store.get_mailbox, user.id, "a/b")
    append(store, box, message("kept"))
    renamed = run(store.rename_mailbox, user.id, "a", "x/y")
    assert renamed.names == (("a", "x/y"), ("a/b", "x/y/b"))
    assert renamed.inbox_id is None
    names = [row.name for row in run(store.list_mailboxes, user.id)]
    assert names == ["x", "x/y", "x/y/b"]
    moved = run(store.get_mailbox, user.id, "x/y/b")
    assert (moved.id, moved.uidvalidity, uids(store, moved)) == (box.id, box.uidvalidity, [1])


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("missing", "x", NoSuchMailbox),
        ("a", "b", MailboxExists),
        ("a", "a/inner", MailboxIntoItself),
        ("b", "INBOX", MailboxExists),
        ("a", "d", MailboxExists),  # "d" is free, but the child a/k would land on d/k
    ],
    ids=["missing", "onto-existing", "into-itself", "onto-inbox", "child-collides"],
)
def test_rename_refusals(store, old, new, error):
    user = add_user(store)
    for name in ("INBOX", "a", "a/k", "b", "d/k"):
        add_mailbox(store, user, name)
    before = run(store.list_mailboxes, user.id)
    with pytest.raises(error):
        run(store.rename_mailbox, user.id, old, new)
    assert run(store.list_mailboxes, user.id) == before


def test_renaming_onto_a_retired_name_raises_its_uidvalidity(store):
    """RFC 9051 §2.3.1.1: a client may remember the name's earlier incarnation."""
    user = add_user(store)
    old = add_mailbox(store, user, "Old")
    newer = add_mailbox(store, user, "Newer")
    run(store.delete_mailbox, user.id, "Newer")
    run(store.rename_mailbox, user.id, "Old", "Newer")
    moved = run(store.get_mailbox, user.id, "Newer")
    assert moved.id == old.id
    assert moved.uidvalidity > newer.uidvalidity


def test_renaming_inbox_moves_its_messages_and_leaves_it_empty(store):
    """RFC 9051 §6.3.6: renaming INBOX moves its messages to a new mailbox; INBOX stays."""
    user = add_user(store)
    inbox = add_mailbox(store, user, "INBOX")
    for subject in ("one", "two"):
        append(store, inbox, message(subject))
    renamed = run(store.rename_mailbox, user.id, "INBOX", "Old/Inbox")
    assert (renamed.names, renamed.inbox_id, renamed.inbox_uids) == (
        (("INBOX", "Old/Inbox"),),
        inbox.id,
        (1, 2),
    )
    target = run(store.get_mailbox, user.id, "Old/Inbox")
    assert (uids(store, target), target.uidnext) == ([1, 2], 3)
    assert uids(store, inbox) == []
    assert append(store, inbox, message("three")) == 3  # INBOX never hands out 1 or 2 again


# --- counts -----------------------------------------------------------------------------------


def test_status_counts_messages_unseen_deleted_and_size(store):
    user = add_user(store)
    box = add_mailbox(store, user, "Box")
    sizes = 0
    for subject, flags in [("a", ("\\Seen",)), ("b", ()), ("c", ("\\Deleted", "\\Seen"))]:
        append(store, box, message(subject), flags)
        sizes += len(message(subject))
    row, counts = run(store.mailbox_status, user.id, "Box")
    assert row.id == box.id
    # no SELECT has seen them: all three are recent (RFC 3501 §6.3.10)
    assert counts == MailboxCounts(
        messages=3,
        unseen=1,
        deleted=1,
        size=sizes,
        recent=3,
        deleted_storage=len(message("c")),  # RFC 9208 §4.1.4
    )


def test_status_of_an_empty_and_a_missing_mailbox(store):
    user = add_user(store)
    add_mailbox(store, user, "Empty")
    assert run(store.mailbox_status, user.id, "Empty")[1] == MailboxCounts()
    assert run(store.mailbox_status, user.id, "Missing") is None


def test_listing_counts_only_when_asked_and_only_mailboxes_with_mail(store):
    user = add_user(store)
    full, empty = add_mailbox(store, user, "Full"), add_mailbox(store, user, "Empty")
    append(store, full, message("x"), ("$Work",))
    assert run(store.mailbox_listing, user.id).counts == {}
    listing = run(store.mailbox_listing, user.id, counts=True)
    assert [box.id for box in listing.mailboxes] == [empty.id, full.id]  # by name
    assert listing.counts == {full.id: MailboxCounts(1, 1, 0, len(message("x")), recent=1)}
