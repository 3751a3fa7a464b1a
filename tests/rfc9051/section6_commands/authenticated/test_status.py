"""RFC 9051 §6.3.11 STATUS (RFC 3501 §6.3.10 in an IMAP4rev1 session; STATUS=SIZE is
RFC 8438, folded into IMAP4rev2)."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_no,
    assert_not_ok,
    assert_ok,
    assert_status_items,
    assert_still_usable,
    assert_untagged,
    require,
    selection,
)
from tests.rfc9051.client import Literal
from tests.rfc9051.fixtures import EIGHT_BIT, MULTIPART, PLAIN
from tests.rfc9051.response import fetch_items


def status(client, name: str, items: str) -> dict[str, int]:
    result = client.status(name, items)
    assert_ok(result)
    return assert_status_items(result, name)


def filled(client, names) -> str:
    """A mailbox with three messages: \\Seen, \\Deleted, and no flags."""
    name = names.created(client)
    assert_ok(client.append(name, PLAIN, flags="\\Seen"))
    assert_ok(client.append(name, MULTIPART, flags="\\Deleted"))
    assert_ok(client.append(name, EIGHT_BIT))
    return name


def test_status_returns_one_status_response_for_the_mailbox(session, names):
    """RFC 9051 §6.3.11: "Responses: REQUIRED untagged responses: STATUS"; example "C: A042
    STATUS blurdybloop (UIDNEXT MESSAGES) / S: * STATUS blurdybloop (MESSAGES 231 UIDNEXT
    44292)"."""
    name = names.created(session)
    result = session.status(name, "MESSAGES")
    assert_ok(result)
    assert_untagged(result, "STATUS", count=1)
    assert_status_items(result, name)


def test_status_messages_counts_messages(session, names):
    """RFC 9051 §6.3.11: "MESSAGES The number of messages in the mailbox." """
    name = filled(session, names)
    assert status(session, name, "MESSAGES")["MESSAGES"] == 3


def test_status_unseen_counts_messages_without_seen(session, names):
    """RFC 9051 §6.3.11: "UNSEEN The number of messages that do not have the \\Seen flag
    set." """
    name = filled(session, names)
    assert status(session, name, "UNSEEN")["UNSEEN"] == 2


def test_status_uidnext_and_uidvalidity_agree_with_select(session, names):
    """RFC 9051 §6.3.11: "UIDNEXT The next unique identifier value of the mailbox."
    "UIDVALIDITY The unique identifier validity value of the mailbox." — the values SELECT
    reports in its OK [UIDNEXT] and OK [UIDVALIDITY] responses."""
    name = filled(session, names)
    items = status(session, name, "UIDNEXT UIDVALIDITY")
    selected = selection(session.select(name, examine=True))
    assert items["UIDNEXT"] == selected["UIDNEXT"]
    assert items["UIDVALIDITY"] == selected["UIDVALIDITY"]


def test_status_uidnext_changes_when_a_message_is_added(session, names):
    """RFC 9051 §2.3.1.1: "the next unique identifier value MUST change whenever new messages
    are added to the mailbox, even if those new messages are subsequently expunged." """
    name = names.created(session)
    before = status(session, name, "UIDNEXT")["UIDNEXT"]
    assert_ok(session.append(name, PLAIN))
    assert status(session, name, "UIDNEXT")["UIDNEXT"] > before


def test_status_returns_every_requested_item(session, names):
    """RFC 9051 §6.3.11: "The STATUS command requests the status of the indicated mailbox";
    "Arguments: mailbox name / status data item names" — each requested item is reported
    (status-att-list = status-att-val *(SP status-att-val), RFC 9051 §9)."""
    name = filled(session, names)
    items = status(session, name, "MESSAGES UIDNEXT UIDVALIDITY UNSEEN")
    assert {"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN"} <= set(items), items


def test_status_item_names_are_case_insensitive(session, names):
    """RFC 9051 §9: "Unless otherwise noted, all alphabetic characters are case insensitive. The use
    of uppercase or lowercase characters to define token strings is for editorial clarity only.
    Implementations MUST accept these strings in a case-insensitive fashion." """
    name = filled(session, names)
    assert status(session, name, "messages Unseen")["MESSAGES"] == 3


def test_status_deleted_counts_deleted_messages_in_rev2(rev2, names):
    """RFC 9051 §6.3.11: "DELETED The number of messages that have the \\Deleted flag set."
    (new in IMAP4rev2, RFC 9051 Appendix E item 3)."""
    name = filled(rev2, names)
    assert status(rev2, name, "DELETED")["DELETED"] == 1


def test_status_size_is_at_least_the_sum_of_message_sizes(session, target, names):
    """RFC 9051 §6.3.11: "SIZE The total size of the mailbox in octets. This is not strictly
    required to be an exact value, but it MUST be equal to or greater than the sum of the
    values of the RFC822.SIZE FETCH message data items [...] of all messages in the
    mailbox." (RFC 8438 STATUS=SIZE for IMAP4rev1 sessions)."""
    if session.dialect == "rev1":
        require(target.capabilities, "STATUS=SIZE")
    name = filled(session, names)
    size = status(session, name, "SIZE")["SIZE"]
    assert_ok(session.select(name, examine=True))
    result = session.command("FETCH", "1:*", "(RFC822.SIZE)")
    assert_ok(result)
    total = sum(int(fetch_items(r)["RFC822.SIZE"]) for r in result.of("FETCH"))
    assert size >= total > 0, f"SIZE {size} < sum of RFC822.SIZE {total}"


def test_status_recent_in_rev1_is_at_most_messages(rev1, names):
    """RFC 3501 §6.3.10: "RECENT The number of messages with the \\Recent flag set." — a
    subset of MESSAGES."""
    name = filled(rev1, names)
    items = status(rev1, name, "MESSAGES RECENT")
    assert 0 <= items["RECENT"] <= items["MESSAGES"] == 3


def test_status_does_not_take_recent_away(rev1, connect, names):
    """RFC 3501 §6.3.10: STATUS does not "affect the state of any messages in the queried
    mailbox (in particular, STATUS MUST NOT cause messages to lose the \\Recent flag)." """
    name = names.created(rev1)
    other = connect(login=True)
    assert_ok(other.append(name, PLAIN))
    first = status(rev1, name, "RECENT")["RECENT"]
    assert status(rev1, name, "RECENT")["RECENT"] == first
    assert selection(rev1.select(name))["RECENT"] == first


def test_status_does_not_set_seen(session, connect, names):
    """RFC 9051 §6.3.11: "It does not change the currently selected mailbox, nor does it
    affect the state of any messages in the queried mailbox." """
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    assert status(session, name, "UNSEEN MESSAGES")["UNSEEN"] == 1
    assert status(connect(login=True), name, "UNSEEN")["UNSEEN"] == 1


def test_status_does_not_change_the_selected_mailbox(session, names):
    """RFC 9051 §6.3.11: "It does not change the currently selected mailbox"."""
    selected, other = names.created(session), names.created(session)
    assert_ok(session.append(selected, PLAIN))
    assert_ok(session.select(selected))
    status(session, other, "MESSAGES")
    result = session.command("FETCH", "1", "(UID)")
    assert_ok(result)
    assert result.of("FETCH"), result


def test_status_of_the_selected_mailbox_works(session, names):
    """RFC 9051 §6.3.11: "the STATUS command SHOULD NOT be used on the currently selected
    mailbox. However, servers MUST be able to execute the STATUS command on the selected
    mailbox." """
    name = filled(session, names)
    assert_ok(session.select(name))
    assert status(session, name, "MESSAGES")["MESSAGES"] == 3


def test_status_sees_messages_appended_by_another_session(session, connect, names):
    """RFC 9051 §6.3.11: "The STATUS command requests the status of the indicated mailbox."
    — its current status, including what other sessions did."""
    name = names.created(session)
    assert status(session, name, "MESSAGES")["MESSAGES"] == 0
    assert_ok(connect(login=True).append(name, PLAIN))
    assert status(session, name, "MESSAGES")["MESSAGES"] == 1


def test_status_of_inbox_in_any_case(session):
    """RFC 9051 §5.1: "The case-insensitive mailbox name INBOX is a special name reserved to
    mean "the primary mailbox for this user on this server"." """
    result = session.status("inbox", "MESSAGES")
    assert_ok(result)
    assert_untagged(result, "STATUS", count=1)


def test_status_mailbox_name_may_be_a_literal(session, names):
    """RFC 9051 §9: status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")";
    mailbox = "INBOX" / astring."""
    name = names.created(session)
    result = session.command("STATUS", Literal(name.encode()), "(MESSAGES)")
    assert assert_status_items(result, name)["MESSAGES"] == 0


def test_status_nonexistent_mailbox_fails_with_no(session, names):
    """RFC 9051 §6.3.11: "NO - status failure: no status for that name"."""
    assert_no(session.status(names.new("missing"), "MESSAGES"))
    assert_still_usable(session)


def test_status_does_not_accept_wildcards(session, names):
    """RFC 9051 §6.3.11: "Also unlike the LIST command, the STATUS command does not accept
    wildcards." A pattern names no mailbox."""
    names.created(session)
    result = session.status(names.base + "*", "MESSAGES")
    assert_not_ok(result)
    assert not result.of("STATUS"), result


def test_status_of_other_users_mailbox_name_fails(session, connect, names, second_user):
    """RFC 9051 §6.3.11: "NO - status failure: no status for that name". A name another user
    created in their personal namespace is not a mailbox of this user (RFC 9051 §5.1: INBOX
    is "the primary mailbox for this user")."""
    name = names.created(session)
    other = connect(login=True, user=second_user[0], password=second_user[1])
    assert_no(other.status(name, "MESSAGES"))


@pytest.mark.parametrize(
    "items",
    ["()", "(FOO)", "(MESSAGES FOO)", "MESSAGES", "(MESSAGES"],
    ids=["empty", "unknown", "one-unknown", "no-parens", "unclosed"],
)
def test_status_with_invalid_item_list_is_bad(session, names, items):
    """RFC 9051 §6.3.11: "BAD - command unknown or arguments invalid"; status = "STATUS" SP
    mailbox SP "(" status-att *(SP status-att) ")" with status-att one of MESSAGES, UIDNEXT,
    UIDVALIDITY, UNSEEN, DELETED, SIZE (RFC 9051 §9)."""
    name = names.created(session)
    assert_bad(session.command("STATUS", name, items))
    assert_still_usable(session)


def test_status_without_item_list_is_bad(session):
    """RFC 9051 §6.3.11: "Arguments: mailbox name / status data item names"; "BAD - command
    unknown or arguments invalid"."""
    assert_bad(session.command("STATUS", "INBOX"))
    assert_still_usable(session)


def test_status_before_login_is_bad(client):
    """RFC 9051 §6.3: STATUS is one of the commands "valid in the authenticated state"."""
    assert_bad(client.status("INBOX", "MESSAGES"))
    assert_still_usable(client)
