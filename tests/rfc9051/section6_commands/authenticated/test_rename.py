"""RFC 9051 §6.3.6 RENAME."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_listed,
    assert_no,
    assert_not_listed,
    assert_ok,
    assert_still_usable,
    selection,
)
from tests.rfc9051.client import quote
from tests.rfc9051.fixtures import MULTIPART, PLAIN
from tests.rfc9051.response import fetch_items


def rename(client, old: str, new: str):
    return client.command("RENAME", quote(old), quote(new))


def test_rename_moves_the_name(session, names):
    """RFC 9051 §6.3.6: "The RENAME command changes the name of a mailbox. A tagged OK
    response is returned only if the mailbox has been renamed." """
    old, new = names.created(session), names.new("renamed")
    assert_ok(rename(session, old, new))
    result = session.list("", names.base + "*")
    assert_listed(result, new)
    assert_not_listed(result, old)


def test_rename_keeps_the_messages(session, names):
    """RFC 9051 §6.3.6: "The RENAME command changes the name of a mailbox." — the mailbox,
    with its messages, now answers to the new name."""
    old, new = names.created(session), names.new("renamed")
    assert_ok(session.append(old, PLAIN))
    assert_ok(session.append(old, MULTIPART))
    assert_ok(rename(session, old, new))
    assert selection(session.select(new))["EXISTS"] == 2


def test_rename_nonexistent_source_fails_with_no(session, names):
    """RFC 9051 §6.3.6: "It is an error to attempt to rename from a mailbox name that does not
    exist or to a mailbox name that already exists. Any error in renaming will return a
    tagged NO response." """
    assert_no(rename(session, names.new("missing"), names.new("target")))
    assert_still_usable(session)


def test_rename_to_existing_name_fails_with_alreadyexists(session, names, target):
    """RFC 9051 §6.3.6: "It is an error to attempt to rename [...] to a mailbox name that
    already exists. Any error in renaming will return a tagged NO response." RFC 9051 §7.1:
    "ALREADYEXISTS [...] such as when a CREATE or RENAME command attempts to create a mailbox
    and there is already one of that name." (code checked on IMAP4rev2 servers)."""
    old, taken = names.created(session), names.created(session)
    assert_ok(session.append(old, PLAIN))
    result = rename(session, old, taken)
    assert_no(result)
    if "IMAP4REV2" in target.capabilities:
        assert result.tagged.code == "ALREADYEXISTS", result
    assert selection(session.select(old))["EXISTS"] == 1
    assert selection(session.select(taken))["EXISTS"] == 0


def test_rename_to_its_own_name_fails_with_no(session, names):
    """RFC 9051 §6.3.6: "It is an error to attempt to rename [...] to a mailbox name that
    already exists." """
    name = names.created(session)
    assert_no(rename(session, name, name))
    assert_listed(session.list("", name), name)


def test_rename_renames_inferior_names(session, names, delimiter):
    """RFC 9051 §6.3.6: "If the name has inferior hierarchical names, then the inferior
    hierarchical names MUST also be renamed. For example, a rename of "foo" to "zap" will
    rename "foo/bar" (assuming "/" is the hierarchy delimiter character) to "zap/bar"." """
    foo, zap = names.created(session, "foo"), names.new("zap")
    assert_ok(session.create(names.child(foo, "bar")))
    assert_ok(session.append(names.child(foo, "bar"), PLAIN))
    assert_ok(rename(session, foo, zap))
    result = session.list("", names.base + "*")
    assert_listed(result, names.child(zap, "bar"))
    assert_not_listed(result, names.child(foo, "bar"))
    assert selection(session.select(names.child(zap, "bar")))["EXISTS"] == 1


def test_rename_into_new_hierarchy_level(session, names, delimiter):
    """RFC 9051 §6.3.6: "If the server's hierarchy separator character appears in the new
    mailbox name, the server SHOULD create any superior hierarchical names that are needed
    for the RENAME command to complete successfully." On OK the mailbox has the new name."""
    old = names.created(session)
    new = names.child(names.child(names.new("baz"), "rag"), "zowie")
    result = rename(session, old, new)
    assert result.status in ("OK", "NO"), result
    if result.status == "OK":
        assert_listed(session.list("", new), new)
        assert_not_listed(session.list("", old), old)


def test_rename_keeps_uids_above_old_high_water_mark(session, names):
    """RFC 9051 §6.3.6: "The value of the highest-used unique identifier of the old mailbox
    name MUST be preserved so that a new mailbox created with the same name will not reuse
    the identifiers of the former incarnation, unless the new incarnation has a different
    unique identifier validity value." """
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    old = selection(session.select(name))
    assert_ok(session.command("CLOSE"))
    assert_ok(rename(session, name, names.new("renamed")))
    assert_ok(session.create(name))
    assert_ok(session.append(name, PLAIN))
    new = selection(session.select(name))
    result = session.command("FETCH", "1", "(UID)")
    assert_ok(result)
    uid = int(fetch_items(result.of("FETCH")[0])["UID"])
    assert new["UIDVALIDITY"] != old["UIDVALIDITY"] or uid >= old["UIDNEXT"], (
        f"UID {uid} reused under UIDVALIDITY {old['UIDVALIDITY']}"
    )


def test_rename_inbox_is_not_bad_and_moves_its_messages(session, names, disposable):
    """RFC 9051 §6.3.6: "Renaming INBOX is permitted and does not result in a tagged BAD
    response, and it has special behavior: It moves all messages in INBOX to a new mailbox
    with the given name, leaving INBOX empty." (Some servers answer NO.)"""
    assert_ok(session.append("INBOX", PLAIN))
    before = selection(session.select("INBOX", examine=True))["EXISTS"]
    assert_ok(session.command("CLOSE"))
    new = names.new("old-mail")
    result = rename(session, "INBOX", new)
    assert result.status in ("OK", "NO"), f"RENAME INBOX must not be BAD: {result}"
    if result.status == "NO":
        return
    assert selection(session.select(new))["EXISTS"] == before
    assert selection(session.select("INBOX"))["EXISTS"] == 0


def test_rename_in_selected_state(session, names):
    """RFC 9051 §6: "commands valid in authenticated and selected states are listed in the
    authenticated state commands"; RENAME is one (RFC 9051 §6.3)."""
    keep, old, new = names.created(session), names.created(session), names.new("renamed")
    assert_ok(session.select(keep))
    assert_ok(rename(session, old, new))
    assert_listed(session.list("", new), new)


@pytest.mark.parametrize(
    "count",
    [
        0,
        1,
        pytest.param(3, marks=pytest.mark.dovecot_deviation("ignores a third RENAME argument")),
    ],
)
def test_rename_with_wrong_number_of_arguments_is_bad(session, names, count):
    """RFC 9051 §6.3.6: "BAD - command unknown or arguments invalid"; rename = "RENAME" SP
    mailbox SP mailbox (RFC 9051 §9)."""
    source = names.created(session)
    arguments = [quote(source)] + [quote(names.new()) for _ in range(count - 1)]
    assert_bad(session.command("RENAME", *arguments[:count]))
    assert_still_usable(session)
    assert_listed(session.list("", source), source)


def test_rename_before_login_is_bad(client, names):
    """RFC 9051 §6.3: RENAME is one of the commands "valid in the authenticated state"."""
    assert_bad(rename(client, names.new(), names.new()))
    assert_still_usable(client)
