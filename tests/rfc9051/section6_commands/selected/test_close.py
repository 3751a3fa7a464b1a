"""RFC 9051 §6.4.1 CLOSE (RFC 3501 §6.4.2 in an IMAP4rev1 session)."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_no_untagged,
    assert_ok,
    assert_still_usable,
    message_count,
    search_hits,
)
from tests.rfc9051.fixtures import Stored, message


def three_with_one_deleted():
    return (
        message("keep one"),
        Stored(message("drop me"), flags="\\Deleted"),
        message("keep two"),
    )


def test_close_removes_deleted_messages_without_expunge_responses(session, mailbox):
    """RFC 9051 §6.4.1: "The CLOSE command permanently removes all messages that have the
    \\Deleted flag set from the currently selected mailbox, and it returns to the
    authenticated state from the selected state.  No untagged EXPUNGE responses are
    sent." """
    box = mailbox(session, *three_with_one_deleted())
    result = session.command("CLOSE")
    assert_ok(result)
    assert_no_untagged(result, "EXPUNGE")
    assert message_count(session, box.name) == 2


def test_close_keeps_messages_without_deleted(session, mailbox):
    """RFC 9051 §6.4.1: "The CLOSE command permanently removes all messages that have the
    \\Deleted flag set" — and only those."""
    box = mailbox(session, *three_with_one_deleted())
    assert_ok(session.command("CLOSE"))
    assert_ok(session.select(box.name, examine=True))
    result = session.command("UID", "SEARCH", "ALL")
    assert search_hits(result) == [box.uids[0], box.uids[2]]


def test_close_returns_to_the_authenticated_state(session, mailbox):
    """RFC 9051 §6.4.1: "OK - close completed, now in authenticated state"; RFC 9051 §6.4:
    FETCH is a selected-state command, so it is now rejected."""
    mailbox(session, message("one"))
    assert_ok(session.command("CLOSE"))
    assert_bad(session.command("FETCH", "1", "(UID)"))
    assert_still_usable(session)


def test_close_after_examine_removes_nothing(session, mailbox):
    """RFC 9051 §6.4.1: "No messages are removed, and no error is given, if the mailbox is
    selected by an EXAMINE command or is otherwise selected as read-only." """
    box = mailbox(session, *three_with_one_deleted(), examine=True)
    assert_ok(session.command("CLOSE"))
    assert message_count(session, box.name) == 3


def test_close_without_selected_mailbox_is_bad(session):
    """RFC 9051 §6.4: "In the selected state, commands that manipulate messages in a mailbox
    are permitted. [...] the following commands are valid in the selected state: CLOSE,
    ..."; "BAD - command unknown or arguments invalid"."""
    assert_bad(session.command("CLOSE"))
    assert_still_usable(session)


@pytest.mark.dovecot_deviation("ignores arguments after CLOSE and closes the mailbox")
@pytest.mark.parametrize("argument", ["now", "()"])
def test_close_with_arguments_is_bad_and_keeps_the_mailbox(session, mailbox, argument):
    """RFC 9051 §6.4.1: "Arguments: none" / "BAD - command unknown or arguments invalid";
    RFC 9051 §6: "A rejected command (BAD response) never changes the state of the
    connection or of the selected mailbox." """
    box = mailbox(session, *three_with_one_deleted())
    assert_bad(session.command("CLOSE", argument))
    assert_ok(session.command("FETCH", "1", "(UID)"))
    assert message_count(session, box.name) == 3
