"""RFC 3501 §6.4.1 CHECK: an IMAP4rev1 command (RFC 9051 Appendix E: "Removed the CHECK
command. Clients should use NOOP instead."), so only IMAP4rev1 sessions are tested."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_ok,
    assert_still_usable,
    fetch_one,
    message_flags,
)
from tests.rfc9051.fixtures import PLAIN


def test_check_in_selected_state_completes_with_ok(rev1, mailbox):
    """RFC 3501 §6.4.1: "Result: OK - check completed"; "If a server implementation has no
    such housekeeping considerations, CHECK is equivalent to NOOP." """
    mailbox(rev1, PLAIN)
    assert_ok(rev1.command("CHECK"))


def test_check_keeps_the_mailbox_selected_and_its_state(rev1, mailbox):
    """RFC 3501 §6.4.1: "The CHECK command requests a checkpoint of the currently selected
    mailbox." — a checkpoint, not a deselection: the mailbox stays selected, its messages and
    flags unchanged (RFC 3501 §6.4: CHECK is a selected-state command)."""
    box = mailbox(rev1, PLAIN, PLAIN)
    assert_ok(rev1.command("STORE", "1", "+FLAGS.SILENT", "(\\Flagged)"))
    assert_ok(rev1.command("CHECK"))
    items = fetch_one(rev1, "1", "(UID FLAGS)")
    assert int(items["UID"]) == box.uids[0]
    assert "\\flagged" in message_flags(items)


@pytest.mark.dovecot_deviation("ignores arguments after CHECK and answers OK")
def test_check_with_arguments_is_bad(rev1, mailbox):
    """RFC 3501 §6.4.1: "Arguments: none" / "BAD - command unknown or arguments invalid";
    RFC 9051 §2.2.1: "It is a syntax error to send a command with missing or extraneous
    spaces or arguments." """
    mailbox(rev1, PLAIN)
    assert_bad(rev1.command("CHECK", "now"))
    assert_still_usable(rev1)


def test_check_without_selected_mailbox_is_bad(rev1):
    """RFC 3501 §6.4: "In the selected state, commands that manipulate messages in a mailbox
    are permitted." CHECK is one of them; in the authenticated state it is not a valid
    command: "BAD - command unknown or arguments invalid"."""
    assert_bad(rev1.command("CHECK"))
    assert_still_usable(rev1)
