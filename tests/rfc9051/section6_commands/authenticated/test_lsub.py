"""RFC 3501 §6.3.9 LSUB, an IMAP4rev1 command (deprecated by RFC 9051 Appendix E item 19:
"LSUB command was deprecated. Clients should use LIST (SUBSCRIBED) instead.")."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_listed,
    assert_not_listed,
    assert_ok,
    assert_still_usable,
    list_entries,
    listed,
    subscribe,
)
from tests.rfc9051.client import Literal, quote


def lsub(client, reference: str, pattern: str):
    return client.command("LSUB", quote(reference), quote(pattern))


def test_lsub_lists_subscribed_names_only(rev1, names):
    """RFC 3501 §6.3.9: "The LSUB command returns a subset of names from the set of names that
    the user has declared as being "active" or "subscribed". Zero or more untagged LSUB
    replies are returned." """
    yes, no = names.created(rev1), names.created(rev1)
    assert_ok(subscribe(rev1, yes))
    result = lsub(rev1, "", names.base + "*")
    assert_ok(result)
    assert_listed(result, yes, "LSUB")
    assert_not_listed(result, no, "LSUB")
    assert not result.of("LIST"), f"LSUB answered with LIST responses: {result}"


def test_lsub_with_nothing_subscribed_returns_nothing(rev1, names):
    """RFC 3501 §6.3.9: "Zero or more untagged LSUB replies are returned." """
    names.created(rev1)
    result = lsub(rev1, "", names.base + "*")
    assert_ok(result)
    assert list_entries(result, "LSUB") == []


def test_lsub_percent_returns_unsubscribed_parent_as_noselect(rev1, names, delimiter):
    """RFC 3501 §6.3.9: "A special situation occurs when using LSUB with the % wildcard.
    Consider what happens if "foo/bar" (with a hierarchy delimiter of "/") is subscribed but
    "foo" is not. A "%" wildcard to LSUB must return foo, not foo/bar, in the LSUB response,
    and it MUST be flagged with the \\Noselect attribute." """
    foo = names.created(rev1, "foo")
    bar = names.child(foo, "bar")
    assert_ok(rev1.create(bar))
    assert_ok(subscribe(rev1, bar))
    result = lsub(rev1, "", foo + "%")
    entry = assert_listed(result, foo, "LSUB")
    assert entry.has("\\Noselect"), entry
    assert_not_listed(result, bar, "LSUB")


def test_lsub_star_reaches_every_level(rev1, names, delimiter):
    """RFC 3501 §6.3.9: "The arguments to LSUB are in the same form as those for LIST"; RFC
    3501 §6.3.8: "The character "*" is a wildcard, and matches zero or more characters at
    this position." """
    foo = names.created(rev1, "foo")
    bar = names.child(foo, "bar")
    assert_ok(rev1.create(bar))
    assert_ok(subscribe(rev1, bar))
    assert_listed(lsub(rev1, "", names.base + "*"), bar, "LSUB")


def test_lsub_keeps_names_of_deleted_mailboxes(rev1, names):
    """RFC 3501 §6.3.9: "The server MUST NOT unilaterally remove an existing mailbox name from
    the subscription list even if a mailbox by that name no longer exists." """
    name = names.created(rev1)
    assert_ok(subscribe(rev1, name))
    assert_ok(rev1.delete(name))
    assert_listed(lsub(rev1, "", name), name, "LSUB")


def test_lsub_reference_and_pattern_work_like_list(rev1, names, delimiter):
    """RFC 3501 §6.3.9: "The arguments to LSUB are in the same form as those for LIST." With
    a reference that is a hierarchy level ending in the delimiter, names come back prefixed
    by it."""
    foo = names.created(rev1, "foo")
    bar = names.child(foo, "bar")
    assert_ok(rev1.create(bar))
    assert_ok(subscribe(rev1, bar))
    result = lsub(rev1, foo + delimiter, "%")
    assert_ok(result)
    assert set(listed(result, "LSUB")) == {bar}, result


def test_lsub_pattern_may_be_a_literal(rev1, names):
    """RFC 3501 §9: lsub = "LSUB" SP mailbox SP list-mailbox; list-mailbox = 1*list-char /
    string."""
    name = names.created(rev1)
    assert_ok(subscribe(rev1, name))
    assert_listed(rev1.command("LSUB", quote(""), Literal(name.encode())), name, "LSUB")


@pytest.mark.parametrize("arguments", [(), ('""',)], ids=["none", "one"])
def test_lsub_with_missing_arguments_is_bad(rev1, arguments):
    """RFC 3501 §6.3.9: "BAD - command unknown or arguments invalid"; lsub = "LSUB" SP mailbox
    SP list-mailbox."""
    assert_bad(rev1.command("LSUB", *arguments))
    assert_still_usable(rev1)


def test_lsub_before_login_is_bad(client, target):
    """RFC 3501 §6.3: "the following commands are valid in the authenticated state: SELECT,
    EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS, and
    APPEND." """
    if "IMAP4REV1" not in target.capabilities_before_login:
        pytest.skip("LSUB is an IMAP4rev1 command")
    assert_bad(lsub(client, "", "*"))
    assert_still_usable(client)
