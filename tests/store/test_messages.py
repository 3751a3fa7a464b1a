"""store/messages.py: EXPUNGE (all \\Deleted, or only among given UIDs), COPY and MOVE with
their UID maps, and bodies shared between copies."""

from __future__ import annotations

import pytest

from elektromail.store import NoSuchMailbox
from tests.store.conftest import add_mailbox, add_user, append, message, run, uids


def body_count(store) -> int:
    return run(store._run, lambda c: c.execute("SELECT count(*) FROM bodies").fetchone()[0])


@pytest.fixture
def box(store):
    """Box with UIDs 1-4: 1 and 3 flagged \\Deleted (3 also \\Seen), 2 flagged \\Seen."""
    mailbox = add_mailbox(store, add_user(store), "Box")
    for subject, flags in [
        ("one", ("\\Deleted",)),
        ("two", ("\\Seen",)),
        ("three", ("\\Seen", "\\Deleted")),
        ("four", ("$Deleted-not",)),
    ]:
        append(store, mailbox, message(subject), flags)
    return mailbox


@pytest.mark.parametrize(
    ("among", "removed", "left"),
    [(None, [1, 3], [2, 4]), ([3, 4], [3], [1, 2, 4]), ([2, 4], [], [1, 2, 3, 4]), ([], [], None)],
    ids=["all-deleted", "uid-expunge", "none-deleted-among", "empty-set"],
)
def test_expunge_removes_only_messages_flagged_deleted(store, box, among, removed, left):
    assert run(store.expunge, box.id, among) == removed
    assert uids(store, box) == (left if left is not None else [1, 2, 3, 4])


def test_expunge_deletes_the_bodies_nothing_else_uses(store, box):
    before = body_count(store)
    run(store.expunge, box.id)
    assert body_count(store) == before - 2


def test_copy_gives_new_uids_in_source_order_with_the_flags(store, box):
    target = add_mailbox(store, add_user(store, "other"), "Target")
    append(store, target, message("already there"))
    uidvalidity, copied = run(store.copy, box.id, [4, 2, 9], target.id)
    assert uidvalidity == target.uidvalidity
    assert copied == [(2, 2, ("\\Seen",)), (4, 3, ("$Deleted-not",))]
    assert uids(store, box) == [1, 2, 3, 4]
    assert run(store.get_mailbox, target.user_id, "Target").uidnext == 4
    assert run(store.fetch, target.id, [3], raw=True)[0].raw == message("four")


def test_a_copy_shares_its_body_and_keeps_it_when_the_original_goes(store, box):
    target = add_mailbox(store, add_user(store, "other"), "Target")
    before = body_count(store)
    run(store.copy, box.id, [1], target.id)
    assert body_count(store) == before
    run(store.expunge, box.id, [1])
    assert body_count(store) == before
    assert run(store.fetch, target.id, [1], raw=True)[0].raw == message("one")


def test_move_removes_the_messages_from_the_source(store, box):
    target = add_mailbox(store, add_user(store, "other"), "Target")
    _, moved = run(store.copy, box.id, [1, 2], target.id, move=True)
    assert [(source, new) for source, new, _flags in moved] == [(1, 1), (2, 2)]
    assert uids(store, box) == [3, 4]
    assert uids(store, target) == [1, 2]


def test_copy_to_a_mailbox_that_is_gone_is_no_such_mailbox_and_changes_nothing(store, box):
    with pytest.raises(NoSuchMailbox):
        run(store.copy, box.id, [1, 2], box.id + 100, move=True)
    assert uids(store, box) == [1, 2, 3, 4]


def test_a_fetch_of_a_few_messages_is_read_without_a_thread_hop_when_the_store_is_idle(store, box):
    # Store._read: the hand-off to the store thread costs more than FETCH of one message.
    def ask():
        d = store.fetch(box.id, [2])
        return d.called, d

    called, rows = run(ask)
    assert called
    assert [(row.uid, row.flags) for row in run(lambda: rows)] == [(2, ("\\Seen",))]


def test_a_fetch_asked_after_a_write_sees_the_write(store, box):
    # The write was given first (not awaited): the read must come after it, on the thread.
    def write_then_read():
        store.store_flags(box.id, [4], "add", ["\\Flagged"])
        d = store.fetch(box.id, [4])
        return d.called, d

    called, rows = run(write_then_read)
    assert not called
    assert run(lambda: rows)[0].flags == ("$Deleted-not", "\\Flagged")


def test_a_fetch_of_many_messages_goes_to_the_store_thread(store, box):
    def ask():
        d = store.fetch(box.id, list(range(1, 100)))
        return d.called, d

    called, rows = run(ask)
    assert not called
    assert [row.uid for row in run(lambda: rows)] == [1, 2, 3, 4]
