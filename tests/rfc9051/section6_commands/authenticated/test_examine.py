"""RFC 9051 §6.3.3 EXAMINE (RFC 3501 §6.3.2 in an IMAP4rev1 session)."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_no,
    assert_ok,
    assert_selected_mailbox_data,
    assert_status_items,
    assert_still_usable,
    flag_set,
    selection,
)
from tests.rfc9051.fixtures import PLAIN
from tests.rfc9051.response import fetch_items


@pytest.fixture
def dialect(session) -> str:
    return session.dialect


def flags_of_first_message(connect, name: str) -> set[str]:
    """The flags of message 1 of `name`, seen from a fresh read-only session."""
    other = connect(login=True)
    assert_ok(other.select(name, examine=True))
    result = other.command("FETCH", "1", "(FLAGS)")
    assert_ok(result)
    (response,) = result.of("FETCH")
    return flag_set(fetch_items(response)["FLAGS"]) - {"\\recent"}


def test_examine_tagged_ok_begins_with_read_only(session, names):
    """RFC 9051 §6.3.3: "The text of the tagged OK response to the EXAMINE command MUST begin
    with the "[READ-ONLY]" response code." """
    name = names.created(session)
    result = session.select(name, examine=True)
    assert_ok(result, "READ-ONLY")


def test_examine_sends_the_same_data_as_select(session, dialect, names):
    """RFC 9051 §6.3.3: "The EXAMINE command is identical to SELECT and returns the same
    output; however, the selected mailbox is identified as read-only." REQUIRED: FLAGS,
    EXISTS, LIST (RFC 3501: RECENT), OK PERMANENTFLAGS, UIDNEXT, UIDVALIDITY."""
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    examined = assert_selected_mailbox_data(
        session.select(name, examine=True), dialect == "rev2", name
    )
    selected = selection(session.select(name))
    for item in ("EXISTS", "UIDVALIDITY", "UIDNEXT"):
        assert examined[item] == selected[item], f"{item}: {examined[item]} != {selected[item]}"


def test_examine_inbox_in_any_case(session):
    """RFC 9051 §5.1: "The case-insensitive mailbox name INBOX is a special name reserved to
    mean "the primary mailbox for this user on this server"." """
    for spelling in ("INBOX", "inbox", "iNbOx"):
        assert_ok(session.select(spelling, examine=True), "READ-ONLY")


def test_examine_does_not_set_seen_when_reading(session, connect, names):
    """RFC 9051 §6.3.3: "No changes to the permanent state of the mailbox, including per-user
    state, are permitted." Fetching BODY[] would set \\Seen under SELECT (RFC 9051
    §6.4.5); under EXAMINE it must not."""
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    assert_ok(session.select(name, examine=True))
    assert_ok(session.command("FETCH", "1", "(BODY[])"))
    assert "\\seen" not in flags_of_first_message(connect, name)


def test_examine_does_not_let_store_change_flags(session, connect, names):
    """RFC 9051 §6.3.3: "No changes to the permanent state of the mailbox, including per-user
    state, are permitted." Whatever STORE answers, the flags stay as they were."""
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    assert_ok(session.select(name, examine=True))
    session.command("STORE", "1", "+FLAGS", "(\\Flagged)")
    assert_still_usable(session)
    assert "\\flagged" not in flags_of_first_message(connect, name)


def test_examine_does_not_let_expunge_remove_messages(session, connect, names):
    """RFC 9051 §6.3.3: "No changes to the permanent state of the mailbox [...] are
    permitted." A message marked \\Deleted elsewhere survives EXPUNGE in an EXAMINE
    session."""
    name = names.created(session)
    assert_ok(session.append(name, PLAIN, flags="\\Deleted"))
    assert_ok(session.select(name, examine=True))
    session.command("EXPUNGE")
    status = connect(login=True).status(name, "MESSAGES")
    assert_ok(status)
    assert assert_status_items(status, name)["MESSAGES"] == 1


def test_examine_nonexistent_mailbox_fails_with_no(session, names):
    """RFC 9051 §6.3.3: "NO - examine failure, now in authenticated state: no such mailbox,
    can't access mailbox"."""
    assert_no(session.select(names.new("missing"), examine=True))
    assert_still_usable(session)


def test_failed_examine_leaves_no_mailbox_selected(session, names):
    """RFC 9051 §6.3.3: "NO - examine failure, now in authenticated state"; RFC 9051 §6:
    "A failed command (NO response) generally does not change the state [...], with the
    exception of the SELECT and EXAMINE commands." """
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    assert_ok(session.select(name, examine=True))
    assert_no(session.select(names.new("missing"), examine=True))
    assert_bad(session.command("FETCH", "1", "(UID)"))


def test_examine_after_select_sends_closed_in_rev2(rev2, names):
    """RFC 9051 §7.1 CLOSED: "A server returns the CLOSED response code when the currently
    selected mailbox is closed implicitly using the SELECT or EXAMINE command on another
    mailbox." """
    first, second = names.created(rev2), names.created(rev2)
    assert_ok(rev2.select(first))
    result = rev2.select(second, examine=True)
    assert_ok(result, "READ-ONLY")
    assert "CLOSED" in [r.code for r in result.untagged], result


@pytest.mark.parametrize("arguments", [(), ('"unterminated',)], ids=["none", "unterminated"])
def test_examine_with_malformed_arguments_is_bad(session, arguments):
    """RFC 9051 §6.3.3: "BAD - command unknown or arguments invalid"; examine = "EXAMINE" SP
    mailbox (RFC 9051 §9)."""
    assert_bad(session.command("EXAMINE", *arguments))
    assert_still_usable(session)


def test_examine_before_login_is_bad(client):
    """RFC 9051 §6.3: EXAMINE is one of the commands "valid in the authenticated state"."""
    assert_bad(client.select("INBOX", examine=True))
    assert_still_usable(client)
