"""RFC 9051 §6.4.2 UNSELECT (RFC 3691 for IMAP4rev1 servers advertising UNSELECT)."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_no_untagged,
    assert_ok,
    assert_still_usable,
    message_count,
    require_extension,
)
from tests.rfc9051.fixtures import Stored, message


@pytest.fixture
def unselecting(session, target):
    """A session that may use UNSELECT: IMAP4rev2, or IMAP4rev1 with the UNSELECT
    capability."""
    require_extension(session, target.capabilities, "UNSELECT")
    return session


def test_unselect_keeps_deleted_messages(unselecting, mailbox):
    """RFC 9051 §6.4.2: "This command performs the same actions as CLOSE, except that no
    messages are permanently removed from the currently selected mailbox." """
    box = mailbox(unselecting, message("one"), Stored(message("two"), flags="\\Deleted"))
    result = unselecting.command("UNSELECT")
    assert_ok(result)
    assert_no_untagged(result, "EXPUNGE")
    assert message_count(unselecting, box.name) == 2


def test_unselect_returns_to_the_authenticated_state(unselecting, mailbox):
    """RFC 9051 §6.4.2: "OK - unselect completed, now in authenticated state"."""
    mailbox(unselecting, message("one"))
    assert_ok(unselecting.command("UNSELECT"))
    assert_bad(unselecting.command("FETCH", "1", "(UID)"))
    assert_still_usable(unselecting)


def test_unselect_after_examine_completes(unselecting, mailbox):
    """RFC 9051 §6.4.2: "The UNSELECT command frees a session's resources associated with
    the selected mailbox and returns the server to the authenticated state." — whether it was
    selected with SELECT or EXAMINE."""
    box = mailbox(unselecting, Stored(message("one"), flags="\\Deleted"), examine=True)
    assert_ok(unselecting.command("UNSELECT"))
    assert message_count(unselecting, box.name) == 1


def test_unselect_without_selected_mailbox_is_bad(unselecting):
    """RFC 9051 §6.4.2: "BAD - no mailbox selected, or argument supplied but none
    permitted"."""
    assert_bad(unselecting.command("UNSELECT"))
    assert_still_usable(unselecting)


@pytest.mark.dovecot_deviation("ignores arguments after UNSELECT and unselects")
def test_unselect_with_argument_is_bad_and_keeps_the_mailbox(unselecting, mailbox):
    """RFC 9051 §6.4.2: "BAD - no mailbox selected, or argument supplied but none
    permitted"; RFC 9051 §6: "A rejected command (BAD response) never changes the state of
    the connection or of the selected mailbox." """
    mailbox(unselecting, message("one"))
    assert_bad(unselecting.command("UNSELECT", "now"))
    assert_ok(unselecting.command("FETCH", "1", "(UID)"))
