"""RFC 9051 §6.3.7 SUBSCRIBE (RFC 3501 §6.3.6 for IMAP4rev1), checked through LIST
(SUBSCRIBED) where available and LSUB in IMAP4rev1."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_ok,
    assert_still_usable,
    subscribe,
    subscribed,
)
from tests.rfc9051.client import Literal


def test_subscribe_adds_the_name_to_the_subscriptions(session, target, names):
    """RFC 9051 §6.3.7: "The SUBSCRIBE command adds the specified mailbox name to the server's
    set of "active" or "subscribed" mailboxes as returned by the LIST (SUBSCRIBED) command." """
    name = names.created(session)
    other = names.created(session)
    assert_ok(subscribe(session, name))
    found = subscribed(session, target, names.base + "*")
    assert name in found and other not in found, found


def test_subscribe_twice_succeeds(session, target, names):
    """RFC 9051 §6.3.7: "This command returns a tagged OK response if the subscription is
    successful or if the mailbox is already subscribed." """
    name = names.created(session)
    assert_ok(subscribe(session, name))
    assert_ok(subscribe(session, name))
    assert name in subscribed(session, target, names.base + "*")


def test_subscription_is_seen_by_other_sessions(session, connect, target, names):
    """RFC 9051 §6.3.7: SUBSCRIBE changes "the server's set of "active" or "subscribed"
    mailboxes" — server state, not session state."""
    name = names.created(session)
    assert_ok(subscribe(session, name))
    other = connect(login=True)
    assert name in subscribed(other, target, names.base + "*")


def test_subscription_survives_deleting_the_mailbox(rev1, target, names):
    """RFC 3501 §6.3.6 (IMAP4rev1): "A server MAY validate the mailbox argument to SUBSCRIBE
    to verify that it exists. However, it MUST NOT unilaterally remove an existing mailbox
    name from the subscription list even if a mailbox by that name no longer exists."
    (RFC 9051 §6.3.7 softens this to SHOULD NOT.)"""
    name = names.created(rev1)
    assert_ok(subscribe(rev1, name))
    assert_ok(rev1.delete(name))
    assert name in subscribed(rev1, target, names.base + "*")


def test_subscribe_name_as_literal(session, target, names):
    """RFC 9051 §9: subscribe = "SUBSCRIBE" SP mailbox; mailbox = "INBOX" / astring."""
    name = names.created(session)
    assert_ok(session.command("SUBSCRIBE", Literal(name.encode())))
    assert name in subscribed(session, target, names.base + "*")


def test_subscribe_in_selected_state(session, target, names):
    """RFC 9051 §6: "commands valid in authenticated and selected states are listed in the
    authenticated state commands"; SUBSCRIBE is one (RFC 9051 §6.3)."""
    name = names.created(session)
    assert_ok(session.select(name, examine=True))
    assert_ok(subscribe(session, name))
    assert name in subscribed(session, target, names.base + "*")


@pytest.mark.parametrize("arguments", [(), ('"unterminated',)], ids=["none", "unterminated"])
def test_subscribe_with_malformed_arguments_is_bad(session, arguments):
    """RFC 9051 §6.3.7: "BAD - command unknown or arguments invalid"."""
    assert_bad(session.command("SUBSCRIBE", *arguments))
    assert_still_usable(session)


def test_subscribe_before_login_is_bad(client, names):
    """RFC 9051 §6.3: SUBSCRIBE is one of the commands "valid in the authenticated state"."""
    assert_bad(subscribe(client, names.new()))
    assert_still_usable(client)
