"""RFC 9051 §6.3.5 DELETE."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_listed,
    assert_no,
    assert_not_listed,
    assert_ok,
    assert_still_usable,
    listed,
    selection,
)
from tests.rfc9051.fixtures import MULTIPART, PLAIN


def test_delete_existing_mailbox_removes_it(session, names):
    """RFC 9051 §6.3.5: "The DELETE command permanently removes the mailbox with the given
    name. A tagged OK response is returned only if the mailbox has been deleted." """
    name = names.created(session)
    assert_ok(session.delete(name))
    assert_not_listed(session.list("", name), name)
    assert_no(session.select(name))


def test_delete_nonexistent_mailbox_fails_with_no(session, names, target):
    """RFC 9051 §6.3.5: "It is an error to attempt to delete INBOX or a mailbox name that does
    not exist." "NO - delete failure: can't delete mailbox with that name". RFC 9051 §7.1
    NONEXISTENT: "The operation attempts to delete something that does not exist." (checked
    on IMAP4rev2 servers, which fold RFC 5530 in)."""
    result = session.delete(names.new("missing"))
    assert_no(result)
    if "IMAP4REV2" in target.capabilities:
        assert result.tagged.code == "NONEXISTENT", result


@pytest.mark.parametrize("spelling", ["INBOX", "inbox"])
def test_delete_inbox_fails_with_no(session, spelling, disposable):
    """RFC 9051 §6.3.5: "It is an error to attempt to delete INBOX or a mailbox name that does
    not exist." """
    assert_no(session.delete(spelling))
    assert_ok(session.select("INBOX", examine=True))


def test_delete_removes_the_messages(session, names):
    """RFC 9051 §6.3.5: "If the server returns an OK response, all messages in that mailbox
    are removed by the DELETE command." A mailbox created again under the name is empty."""
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    assert_ok(session.append(name, MULTIPART))
    assert_ok(session.delete(name))
    assert_ok(session.create(name))
    assert selection(session.select(name))["EXISTS"] == 0


def test_delete_does_not_remove_inferior_names(session, names, delimiter):
    """RFC 9051 §6.3.5: "The DELETE command MUST NOT remove inferior hierarchical names. For
    example, if a mailbox "foo" has an inferior "foo.bar" [...], removing "foo" MUST NOT
    remove "foo.bar"." Whether the server deletes "foo" (leaving it \\Noselect) or refuses
    with NO, "foo.bar" is still there."""
    parent = names.created(session, "foo")
    child = names.child(parent, "bar")
    assert_ok(session.create(child))
    assert_ok(session.append(child, PLAIN))
    result = session.delete(parent)
    assert result.status in ("OK", "NO"), result
    assert_listed(session.list("", child), child)
    assert selection(session.select(child))["EXISTS"] == 1


def test_delete_parent_with_children_leaves_it_noselect_or_refuses(session, names, delimiter):
    """RFC 9051 §6.3.5: "It is permitted to delete a name that has inferior hierarchical names
    and does not have the \\Noselect mailbox name attribute. If the server implementation does
    not permit deleting the name while inferior hierarchical names exist, then it SHOULD
    disallow the DELETE command by returning a tagged NO response. [...] Alternatively, the
    server MAY allow the DELETE command, but it sets the \\Noselect mailbox name attribute for
    that name." """
    parent = names.created(session, "foo")
    assert_ok(session.create(names.child(parent, "bar")))
    result = session.delete(parent)
    if result.status == "NO":
        assert_listed(session.list("", parent), parent)
        return
    assert_ok(result)
    entry = listed(session.list("", parent + "%")).get(parent)
    assert entry is not None, "the parent level vanished although it has children"
    assert entry.has("\\Noselect") or entry.has("\\NonExistent"), entry


def test_delete_last_child_then_noselect_parent_succeeds(session, names, delimiter):
    """RFC 9051 §6.3.5 example: "C: A685 DELETE foo/bar / S: A685 OK DELETE Completed [...]
    C: A687 DELETE foo / S: A687 OK DELETE Completed" — once the inferior names are gone,
    the parent name can be deleted."""
    parent = names.created(session, "foo")
    child = names.child(parent, "bar")
    assert_ok(session.create(child))
    assert_ok(session.delete(child))
    assert_ok(session.delete(parent))
    assert_not_listed(session.list("", names.base + "*"), parent)


def test_delete_mailbox_then_status_fails(session, names):
    """RFC 9051 §6.3.5: "The DELETE command permanently removes the mailbox"; RFC 9051
    §6.3.11: "NO - status failure: no status for that name"."""
    name = names.created(session)
    assert_ok(session.delete(name))
    assert_no(session.status(name, "MESSAGES"))


def test_delete_in_selected_state_of_another_mailbox(session, names):
    """RFC 9051 §6.3: DELETE is valid in the authenticated state, and so in the selected state
    too (RFC 9051 §6: "commands valid in authenticated and selected states are listed in the
    authenticated state commands")."""
    keep, gone = names.created(session), names.created(session)
    assert_ok(session.select(keep))
    assert_ok(session.delete(gone))
    assert_not_listed(session.list("", gone), gone)


@pytest.mark.parametrize(
    "arguments", [(), ('"unterminated',), ("(x)",)], ids=["none", "unterminated", "list"]
)
def test_delete_with_malformed_arguments_is_bad(session, arguments):
    """RFC 9051 §6.3.5: "BAD - command unknown or arguments invalid"; delete = "DELETE" SP
    mailbox (RFC 9051 §9)."""
    assert_bad(session.command("DELETE", *arguments))
    assert_still_usable(session)


def test_delete_before_login_is_bad(client, names):
    """RFC 9051 §6.3: DELETE is one of the commands "valid in the authenticated state"."""
    assert_bad(client.delete(names.new()))
    assert_still_usable(client)
