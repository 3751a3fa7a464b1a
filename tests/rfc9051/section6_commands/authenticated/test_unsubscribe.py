"""RFC 9051 §6.3.8 UNSUBSCRIBE (RFC 3501 §6.3.7 for IMAP4rev1)."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_ok,
    assert_still_usable,
    require,
    subscribe,
    subscribed,
)
from tests.rfc9051.client import quote


def unsubscribe(client, name: str):
    return client.command("UNSUBSCRIBE", quote(name))


def test_unsubscribe_removes_the_name(session, target, names):
    """RFC 9051 §6.3.8: "The UNSUBSCRIBE command removes the specified mailbox name from the
    server's set of "active" or "subscribed" mailboxes as returned by the LIST (SUBSCRIBED)
    command." """
    first, second = names.created(session), names.created(session)
    assert_ok(subscribe(session, first))
    assert_ok(subscribe(session, second))
    assert_ok(unsubscribe(session, first))
    found = subscribed(session, target, names.base + "*")
    assert first not in found and second in found, found


def test_unsubscribe_keeps_the_mailbox(session, target, names):
    """RFC 9051 §6.3.8: UNSUBSCRIBE changes only the set of subscribed names; the mailbox
    itself stays (RFC 9051 §6.3.5: only DELETE "permanently removes the mailbox")."""
    name = names.created(session)
    assert_ok(subscribe(session, name))
    assert_ok(unsubscribe(session, name))
    assert_ok(session.select(name, examine=True))


def test_unsubscribe_name_that_is_not_subscribed_succeeds(session, target, names):
    """RFC 9051 §6.3.8: "This command returns a tagged OK response if the unsubscription is
    successful or if the mailbox is not subscribed." (IMAP4rev2 servers; RFC 3501 allowed
    NO.)"""
    require(target.capabilities, "IMAP4rev2")
    name = names.created(session)
    assert_ok(unsubscribe(session, name))


def test_unsubscribe_name_of_deleted_mailbox(session, target, names):
    """RFC 9051 §6.3.8: "The UNSUBSCRIBE command removes the specified mailbox name from the
    server's set of "active" or "subscribed" mailboxes" — a name, which need not exist any
    more (RFC 9051 §6.3.9.1: the subscription list may "contain the names of mailboxes that
    don't exist")."""
    name = names.created(session)
    assert_ok(subscribe(session, name))
    assert_ok(session.delete(name))
    assert_ok(unsubscribe(session, name))
    assert name not in subscribed(session, target, names.base + "*")


def test_unsubscribe_is_seen_by_other_sessions(session, connect, target, names):
    """RFC 9051 §6.3.8: the name is removed from "the server's set of "active" or
    "subscribed" mailboxes" — server state, not session state."""
    name = names.created(session)
    assert_ok(subscribe(session, name))
    other = connect(login=True)
    assert_ok(unsubscribe(other, name))
    assert name not in subscribed(session, target, names.base + "*")


@pytest.mark.parametrize("arguments", [(), ('"unterminated',)], ids=["none", "unterminated"])
def test_unsubscribe_with_malformed_arguments_is_bad(session, arguments):
    """RFC 9051 §6.3.8: "BAD - command unknown or arguments invalid"; unsubscribe =
    "UNSUBSCRIBE" SP mailbox (RFC 9051 §9)."""
    assert_bad(session.command("UNSUBSCRIBE", *arguments))
    assert_still_usable(session)


def test_unsubscribe_before_login_is_bad(client, names):
    """RFC 9051 §6.3: UNSUBSCRIBE is one of the commands "valid in the authenticated
    state"."""
    assert_bad(unsubscribe(client, names.new()))
    assert_still_usable(client)
