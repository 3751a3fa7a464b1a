"""imap/view.py: the selected mailbox as one session sees it: sequence numbers <-> UIDs, flags,
changes from elsewhere held back until they may be told, and the saved search result `$`."""

from __future__ import annotations

import pytest

from elektromail.imap.view import MailboxView

SEEN, DELETED = "\\Seen", "\\Deleted"


def view(*messages: tuple[int, tuple[str, ...]], uidnext: int | None = None) -> MailboxView:
    uidnext = uidnext or (messages[-1][0] + 1 if messages else 1)
    return MailboxView(7, "INBOX", 1234, uidnext, messages, readonly=False)


def sparse() -> MailboxView:
    """UIDs 2, 5, 9, 10 at sequence numbers 1-4; 5 is seen, 9 has keywords."""
    return view((2, ()), (5, (SEEN,)), (9, ("$Work", "todo", SEEN)), (10, ("$work",)))


# --- lookups ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uid", "seq"),
    [(2, 1), (5, 2), (10, 4), (1, None), (3, None), (11, None)],
    ids=["first", "second", "last", "below", "gap", "above"],
)
def test_seq_of_a_uid(uid, seq):
    assert sparse().seq_of(uid) == seq


@pytest.mark.parametrize(
    ("ranges", "uids"),
    [
        ([(1, 2)], [2, 5]),
        ([(3, 4294967295)], [9, 10]),
        ([(0, 1)], [2]),
        ([(2, 2), (1, 3)], [2, 5, 9]),
        ([(4, 4), (1, 1)], [2, 10]),
        ([(5, 6)], []),
        ([], []),
    ],
    ids=["first-two", "to-star", "zero-low", "overlapping", "unordered", "past-the-end", "none"],
)
def test_uids_in_seq_ranges(ranges, uids):
    assert sparse().uids_in_seq_ranges(ranges) == uids


@pytest.mark.parametrize(
    ("ranges", "uids"),
    [
        ([(1, 5)], [2, 5]),
        ([(6, 8)], []),
        ([(9, 4294967295)], [9, 10]),
        ([(10, 10), (2, 2)], [2, 10]),
        ([(1, 9), (5, 10)], [2, 5, 9, 10]),
        ([(11, 20)], []),
    ],
    ids=["low", "gap", "to-star", "unordered", "overlapping", "above"],
)
def test_uids_in_uid_ranges_are_the_existing_ones(ranges, uids):
    assert sparse().uids_in_uid_ranges(ranges) == uids


def test_counts_and_the_first_unseen():
    mailbox = sparse()
    assert (mailbox.exists, mailbox.largest_uid(), mailbox.unseen(), mailbox.first_unseen()) == (
        4,
        10,
        2,
        1,
    )
    all_seen = view((3, (SEEN,)), (4, (SEEN, "$x")))
    assert (all_seen.unseen(), all_seen.first_unseen()) == (0, None)
    empty = view()
    assert (empty.exists, empty.largest_uid(), empty.first_unseen()) == (0, 0, None)


def test_keywords_in_use_once_each_in_any_case_sorted():
    assert sparse().keywords() == ["$Work", "todo"]
    assert view((1, (SEEN, DELETED))).keywords() == []


# --- changes from elsewhere -------------------------------------------------------------------

# Each case: changes noted (kind, uid, flags), then what the take_* calls report and the
# mailbox after them. take_expunges runs first, as Session.updates calls them.
CHANGES = [
    pytest.param(
        [("added", 11, (SEEN,))],
        [],
        True,
        [],
        [2, 5, 9, 10, 11],
        id="new-message",
    ),
    pytest.param(
        [("added", 11, ()), ("added", 12, ()), ("added", 11, ())],
        [],
        True,
        [],
        [2, 5, 9, 10, 11, 12],
        id="two-new-one-told-twice",
    ),
    pytest.param([("added", 5, ())], [], False, [], [2, 5, 9, 10], id="added-already-known"),
    pytest.param(
        [("expunged", 9, ()), ("expunged", 2, ())],
        [3, 1],
        False,
        [],
        [5, 10],
        id="expunges-highest-first",
    ),
    pytest.param(
        [("expunged", uid, ()) for uid in (2, 5, 9, 10)],
        [4, 3, 2, 1],
        False,
        [],
        [],
        id="expunge-all",
    ),
    pytest.param([("expunged", 3, ())], [], False, [], [2, 5, 9, 10], id="expunge-unknown"),
    pytest.param(
        [("flags", 10, (SEEN,)), ("flags", 2, (DELETED,))],
        [],
        False,
        [(1, 2, (DELETED,)), (4, 10, (SEEN,))],
        [2, 5, 9, 10],
        id="flags-in-uid-order",
    ),
    pytest.param(
        [("flags", 2, (SEEN,)), ("flags", 2, ("$last",))],
        [],
        False,
        [(1, 2, ("$last",))],
        [2, 5, 9, 10],
        id="flags-last-one-wins",
    ),
    pytest.param([("flags", 3, (SEEN,))], [], False, [], [2, 5, 9, 10], id="flags-unknown"),
    pytest.param(
        [("flags", 9, (SEEN,)), ("expunged", 9, ())],
        [3],
        False,
        [],
        [2, 5, 10],
        id="flags-then-expunged",
    ),
    pytest.param(
        [("added", 11, ()), ("flags", 11, (SEEN,))],
        [],
        True,
        [],
        [2, 5, 9, 10, 11],
        id="flags-of-a-new-one-ride-along",
    ),
    pytest.param(
        [("added", 11, ()), ("expunged", 11, ())],
        [],
        False,
        [],
        [2, 5, 9, 10],
        id="new-and-gone-leaves-no-trace",
    ),
    pytest.param(
        [("expunged", 10, ()), ("added", 10, ())],
        [4],
        False,
        [],
        [2, 5, 9],
        id="expunged-is-not-added-back",
    ),
    pytest.param(
        [("expunged", 2, ()), ("added", 11, ()), ("flags", 10, (SEEN,))],
        [1],
        True,
        [(3, 10, (SEEN,))],
        [5, 9, 10, 11],
        id="all-three-seq-after-expunge",
    ),
]


def note(mailbox: MailboxView, changes) -> None:
    for kind, uid, flags in changes:
        if kind == "added":
            mailbox.note_added(uid, flags)
        elif kind == "flags":
            mailbox.note_flags(uid, flags)
        else:
            mailbox.note_expunged(uid)


@pytest.mark.parametrize(("changes", "expunged", "grew", "flag_changes", "uids"), CHANGES)
def test_changes_are_held_until_taken(changes, expunged, grew, flag_changes, uids):
    mailbox = sparse()
    before = list(mailbox.uids)
    note(mailbox, changes)
    assert mailbox.uids == before  # nothing shows before it is taken
    assert mailbox.take_expunges() == expunged
    assert mailbox.take_added() is grew
    assert mailbox.take_flag_changes() == flag_changes
    assert mailbox.uids == uids
    assert sorted(mailbox.flags) == uids
    assert (mailbox.take_expunges(), mailbox.take_added(), mailbox.take_flag_changes()) == (
        [],
        False,
        [],
    )


def test_a_new_message_brings_its_flags_and_moves_uidnext():
    mailbox = sparse()
    mailbox.note_added(11, ("\\seen",))
    mailbox.note_flags(11, (SEEN, "$late"))
    assert mailbox.take_added()
    assert (mailbox.flags[11], mailbox.uidnext, mailbox.seq_of(11)) == ((SEEN, "$late"), 12, 5)


def test_flag_changes_are_applied_when_taken():
    mailbox = sparse()
    mailbox.note_flags(5, ())
    assert mailbox.flags[5] == (SEEN,)
    mailbox.take_flag_changes()
    assert mailbox.flags[5] == ()


def test_a_sessions_own_flag_change_replaces_a_pending_one():
    mailbox = sparse()
    mailbox.note_flags(2, (DELETED,))
    mailbox.set_flags(2, (SEEN,))
    mailbox.set_flags(3, (SEEN,))  # not in the mailbox: nothing happens
    assert mailbox.take_flag_changes() == []
    assert mailbox.flags[2] == (SEEN,)
    assert 3 not in mailbox.flags


def test_sequence_numbers_hold_until_expunges_are_taken():
    """RFC 9051 §7.5.1: the client's sequence numbers stay valid until EXPUNGE is sent."""
    mailbox = sparse()
    mailbox.note_expunged(2)
    assert (mailbox.seq_of(5), mailbox.uids_in_seq_ranges([(1, 1)])) == (2, [2])
    mailbox.take_expunges()
    assert (mailbox.seq_of(5), mailbox.uids_in_seq_ranges([(1, 1)])) == (1, [5])


# --- the saved search result `$` (RFC 5182) ---------------------------------------------------


def test_saved_uids_drop_expunged_messages_once_the_expunge_is_taken():
    mailbox = sparse()
    mailbox.saved = [2, 9, 10]
    mailbox.note_expunged(9)
    assert mailbox.saved_uids() == [2, 9, 10]
    mailbox.take_expunges()
    assert mailbox.saved_uids() == [2, 10]
    assert mailbox.saved == [2, 9, 10]  # the view keeps what was saved; only the answer shrinks


def test_nothing_is_saved_at_first():
    assert sparse().saved_uids() == []


# --- \Recent ----------------------------------------------------------------------------------


def recent_view(first_recent: int | None) -> MailboxView:
    messages = [(2, ()), (5, (SEEN,)), (9, ("$Work", SEEN))]
    return MailboxView(7, "INBOX", 1234, 10, messages, readonly=False, first_recent=first_recent)


def test_messages_from_the_first_recent_uid_on_are_recent():
    assert recent_view(5).recent == {5, 9}
    assert recent_view(1).recent == {2, 5, 9}
    assert recent_view(10).recent == set()
    assert recent_view(None).recent == set()  # IMAP4rev2: no \Recent at all


def test_recent_is_shown_after_the_system_flags_before_the_keywords():
    shown = recent_view(9)
    assert shown.shown_flags(9, ("$Work", SEEN)) == (SEEN, "\\Recent", "$Work")
    assert shown.shown_flags(5, (SEEN,)) == (SEEN,)


def test_an_arrival_is_recent_only_when_it_is_told_and_only_if_noted_so():
    shown = recent_view(None)
    shown.note_added(10, (), recent=True)
    shown.note_added(11, ())
    assert shown.recent == set()  # not before the EXISTS that tells it
    assert shown.take_added()
    assert shown.recent == {10}


def test_an_expunged_message_is_no_longer_recent():
    shown = recent_view(5)
    shown.note_added(10, (), recent=True)
    shown.note_expunged(10)
    shown.note_expunged(9)
    shown.take_expunges()
    shown.take_added()
    assert shown.recent == {5}


def test_is_new_says_whether_an_added_uid_is_unknown_here():
    shown = recent_view(None)
    assert not shown.is_new(5)
    assert shown.is_new(10)
    shown.note_added(10, ())
    assert not shown.is_new(10)


def test_a_view_from_the_flags_select_parsed_is_the_view_from_pairs():
    from elektromail.imap.commands.mailboxes import _parsed_flags

    stored = [(2, "\\Seen $Work"), (5, ""), (9, "\\Seen $Work"), (10, "$work")]
    parsed = _parsed_flags(stored)
    assert list(parsed.items()) == [(uid, tuple(text.split())) for uid, text in stored]
    assert parsed[2] is parsed[9]  # one tuple per distinct text
    from_dict = MailboxView(7, "INBOX", 1234, 11, parsed, readonly=False, first_recent=9)
    from_pairs = MailboxView(
        7, "INBOX", 1234, 11, list(parsed.items()), readonly=False, first_recent=9
    )
    for each in (from_dict, from_pairs):
        assert (each.uids, each.recent, each.keywords()) == ([2, 5, 9, 10], {9, 10}, ["$Work"])
    assert from_dict.flags == from_pairs.flags


def test_a_view_without_deleted_flags_holds_nothing_to_expunge():
    assert not sparse().may_hold_deleted()


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.set_flags(5, (DELETED,)),
        lambda m: m.note_flags(2, ("\\deleted",)),
        lambda m: m.note_added(11, (DELETED,)),
    ],
    ids=["applied", "pending-change", "pending-arrival"],
)
@pytest.mark.parametrize("indexed", [False, True], ids=["scanned", "indexed"])
def test_a_deleted_flag_applied_or_pending_may_be_expunged(change, indexed):
    mailbox = sparse()
    if indexed:
        mailbox.uids_with_flag(SEEN)  # the flag index built first (SEARCH), then kept in step
    change(mailbox)
    assert mailbox.may_hold_deleted()


def test_a_deleted_flag_taken_off_again_leaves_nothing_to_expunge():
    mailbox = view((1, (DELETED,)), (2, ()))
    assert mailbox.may_hold_deleted()
    mailbox.set_flags(1, (SEEN,))
    assert not mailbox.may_hold_deleted()
    assert mailbox.uids_with_flag(SEEN) == {1}
    mailbox.set_flags(2, (DELETED,))
    assert mailbox.may_hold_deleted()
