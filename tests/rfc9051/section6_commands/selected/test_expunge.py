"""RFC 9051 §6.4.3 EXPUNGE (RFC 3501 §6.4.3 in an IMAP4rev1 session), the EXPUNGE response
(RFC 9051 §7.5.1), and UID EXPUNGE (RFC 9051 §6.4.9; RFC 4315 UIDPLUS §2.1 for IMAP4rev1)."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    apply_expunges,
    assert_bad,
    assert_no_untagged,
    assert_ok,
    assert_still_usable,
    assert_untagged,
    fetched,
    message_count,
    require_extension,
)
from tests.rfc9051.fixtures import Stored, message


def numbered(count: int, deleted: set[int]) -> list[Stored]:
    """`count` messages, those numbered in `deleted` (1-based) with \\Deleted set."""
    return [
        Stored(message(f"message {n}"), flags="\\Deleted" if n in deleted else None)
        for n in range(1, count + 1)
    ]


@pytest.fixture
def uidplus(session, target):
    """A session that may use UID EXPUNGE: IMAP4rev2, or IMAP4rev1 with UIDPLUS."""
    require_extension(session, target.capabilities, "UIDPLUS")
    return session


def test_expunge_removes_deleted_messages_reporting_each(session, mailbox):
    """RFC 9051 §6.4.3: "The EXPUNGE command permanently removes all messages that have the
    \\Deleted flag set from the currently selected mailbox.  Before returning an OK to the
    client, an untagged EXPUNGE response is sent for each message that is removed." (the
    RFC's example: messages 3, 4, 7 and 11 of 11 have \\Deleted set)."""
    box = mailbox(session, *numbered(11, {3, 4, 7, 11}))
    result = session.command("EXPUNGE")
    assert_ok(result)
    assert_untagged(result, "EXPUNGE", count=4)
    expected = [uid for n, uid in enumerate(box.uids, 1) if n not in {3, 4, 7, 11}]
    assert apply_expunges(box.uids, result) == expected, result


def test_expunge_renumbers_the_remaining_messages(session, mailbox):
    """RFC 9051 §7.5.1: "The message sequence number for each successive message in the
    mailbox is immediately decremented by 1, and this decrement is reflected in message
    sequence numbers in subsequent responses"; RFC 9051 §2.3.1.1: "The unique identifier of a
    message MUST NOT change during the session"."""
    box = mailbox(session, *numbered(5, {1, 3}))
    assert_ok(session.command("EXPUNGE"))
    result = session.command("FETCH", "1:*", "(UID)")
    assert_ok(result)
    found = fetched(result)
    assert {n: int(items["UID"]) for n, items in found.items()} == {
        1: box.uids[1],
        2: box.uids[3],
        3: box.uids[4],
    }, result


def test_expunge_without_deleted_messages_removes_nothing(session, mailbox):
    """RFC 9051 §6.4.3: "The EXPUNGE command permanently removes all messages that have the
    \\Deleted flag set" — none here, so no EXPUNGE response and no message removed."""
    box = mailbox(session, *numbered(3, set()))
    result = session.command("EXPUNGE")
    assert_ok(result)
    assert_no_untagged(result, "EXPUNGE")
    assert message_count(session, box.name) == 3


def test_expunge_of_every_message_empties_the_mailbox(session, mailbox):
    """RFC 9051 §7.5.1: "The EXPUNGE response also decrements the number of messages in the
    mailbox; it is not necessary to send an EXISTS response with the new value."; RFC 9051
    §5.2: "it is NOT permitted to send an EXISTS response that would reduce the number of
    messages in the mailbox; only the EXPUNGE response can do this." """
    box = mailbox(session, *numbered(3, {1, 2, 3}))
    result = session.command("EXPUNGE")
    assert_ok(result)
    assert apply_expunges(box.uids, result) == []
    assert message_count(session, box.name) == 0


def test_expunged_uid_is_never_used_again(session, mailbox):
    """RFC 9051 §2.3.1.1: a UID "forms a 64-bit value that MUST NOT refer to any other message
    in the mailbox or any subsequent mailbox with the same name forever." """
    box = mailbox(session, *numbered(2, {2}))
    assert_ok(session.command("EXPUNGE"))
    assert_ok(session.append(box.name, message("newcomer")))
    result = session.command("NOOP")
    assert_ok(result)
    result = session.command("FETCH", "2", "(UID)")
    assert_ok(result)
    assert int(fetched(result)[2]["UID"]) > box.uids[1], result


@pytest.mark.dovecot_deviation("ignores arguments after EXPUNGE and expunges")
def test_expunge_with_arguments_is_bad_and_removes_nothing(session, mailbox):
    """RFC 9051 §6.4.3: "Arguments: none" / "BAD - command unknown or arguments invalid";
    RFC 9051 §6: "A rejected command (BAD response) never changes the state of the
    connection or of the selected mailbox." """
    box = mailbox(session, *numbered(2, {1}))
    result = session.command("EXPUNGE", "1")
    assert_bad(result)
    assert_no_untagged(result, "EXPUNGE")
    assert message_count(session, box.name) == 2


def test_expunge_without_selected_mailbox_is_bad(session):
    """RFC 9051 §6.4: EXPUNGE is one of the commands "valid in the selected state";
    "BAD - command unknown or arguments invalid"."""
    assert_bad(session.command("EXPUNGE"))
    assert_still_usable(session)


def test_uid_expunge_removes_only_deleted_messages_in_the_set(uidplus, mailbox):
    """RFC 9051 §6.4.9: "The UID EXPUNGE command permanently removes all messages that have
    both the \\Deleted flag set and a UID that is included in the specified sequence set from
    the currently selected mailbox.  If a message either does not have the \\Deleted flag set
    or has a UID that is not included in the specified sequence set, it is not affected."
    (RFC 4315 §2.1 for IMAP4rev1)."""
    box = mailbox(uidplus, *numbered(5, {1, 2, 4}))
    uid_set = f"{box.uids[1]}:{box.uids[3]}"  # messages 2, 3 and 4; 3 is not \Deleted
    result = uidplus.command("UID", "EXPUNGE", uid_set)
    assert_ok(result)
    assert_untagged(result, "EXPUNGE", count=2)
    expected = [box.uids[0], box.uids[2], box.uids[4]]
    assert apply_expunges(box.uids, result) == expected, result


def test_uid_expunge_of_unknown_uids_is_ok_and_removes_nothing(uidplus, mailbox):
    """RFC 9051 §6.4.9: "A non-existent unique identifier is ignored without any error message
    generated." """
    box = mailbox(uidplus, *numbered(2, {1, 2}))
    unknown = max(box.uids) + 1000
    result = uidplus.command("UID", "EXPUNGE", f"{unknown}:{unknown + 5}")
    assert_ok(result)
    assert_no_untagged(result, "EXPUNGE")
    assert message_count(uidplus, box.name) == 2


def test_uid_expunge_without_sequence_set_is_bad(uidplus, mailbox):
    """RFC 9051 §9: uid-expunge = "EXPUNGE" SP sequence-set; "BAD - command unknown or
    arguments invalid" (RFC 4315 §2.1: "Arguments: sequence set")."""
    box = mailbox(uidplus, *numbered(1, {1}))
    assert_bad(uidplus.command("UID", "EXPUNGE"))
    assert message_count(uidplus, box.name) == 1
