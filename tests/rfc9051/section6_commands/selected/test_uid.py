"""RFC 9051 §6.4.9 UID (RFC 3501 §6.4.8 in an IMAP4rev1 session): UID FETCH, UID STORE, UID
SEARCH with unique identifiers, the rules for UID ranges and "*", and what the UID prefix
cannot be put before."""

from __future__ import annotations

import time

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_ok,
    assert_still_usable,
    fetched,
    search_hits,
)
from tests.rfc9051.fixtures import Stored, message


@pytest.fixture
def gapped(session, mailbox):
    """Five messages of which the 2nd and 4th were expunged, so that UIDs and sequence numbers
    differ and the UIDs have gaps: (sequence number -> UID) 1 -> u1, 2 -> u3, 3 -> u5."""
    box = mailbox(
        session,
        message("one"),
        Stored(message("two"), flags="\\Deleted"),
        message("three"),
        Stored(message("four"), flags="\\Deleted"),
        message("five"),
    )
    assert_ok(session.command("EXPUNGE"))
    return box.uids


def uid_fetch(client, uid_set: str, items: str = "(UID)") -> dict[int, int]:
    result = client.command("UID", "FETCH", uid_set, items)
    assert_ok(result)
    return {n: int(values["UID"]) for n, values in fetched(result).items()}


def test_uid_fetch_includes_the_uid_even_when_not_requested(session, mailbox):
    """RFC 9051 §6.4.9: "server implementations MUST implicitly include the UID message data
    item as part of any FETCH response caused by a UID command, regardless of whether a UID was
    specified as a message data item to the FETCH." """
    box = mailbox(session, message("one"), message("two"))
    result = session.command("UID", "FETCH", str(box.uids[1]), "(FLAGS)")
    assert_ok(result)
    assert {n: int(v.get("UID", 0)) for n, v in fetched(result).items()} == {2: box.uids[1]}


def test_uid_store_fetch_responses_include_the_uid(session, mailbox):
    """RFC 9051 §6.4.9: "The rule about including the UID message data item as part of a FETCH
    response primarily applies to the UID FETCH and UID STORE commands"."""
    box = mailbox(session, message("one"), message("two"))
    result = session.command("UID", "STORE", str(box.uids[0]), "+FLAGS", "(\\Flagged)")
    assert_ok(result)
    found = fetched(result)
    assert found and all(int(v.get("UID", 0)) == box.uids[n - 1] for n, v in found.items())


def test_uid_fetch_reports_the_sequence_number_after_the_star(session, gapped):
    """RFC 9051 §6.4.9: "The number after the "*" in an untagged FETCH or EXPUNGE response is
    always a message sequence number, not a unique identifier, even for a UID command
    response." """
    assert uid_fetch(session, str(gapped[4])) == {3: gapped[4]}
    assert uid_fetch(session, str(gapped[2])) == {2: gapped[2]}


def test_uid_range_spans_gaps_without_error(session, gapped):
    """RFC 9051 §6.4.9: "Sequence-set ranges are permitted, but there is no guarantee that
    unique identifiers will be contiguous."; "A non-existent unique identifier is ignored
    without any error message generated." """
    assert uid_fetch(session, f"{gapped[0]}:{gapped[4]}") == {
        1: gapped[0],
        2: gapped[2],
        3: gapped[4],
    }
    assert uid_fetch(session, f"{gapped[1]},{gapped[3]}") == {}
    assert uid_fetch(session, f"{gapped[4]}:{gapped[0]}") == uid_fetch(session, "1:*")


def test_uid_range_without_messages_is_not_an_error(session, gapped):
    """RFC 9051 §6.4.9: "A non-existent unique identifier is ignored without any error message
    generated.  Thus, it is possible for a UID FETCH command to return an OK without any data or
    a UID COPY, UID MOVE, or UID STORE to return an OK without performing any operations." """
    high = gapped[4] + 1000
    assert uid_fetch(session, f"{high}:{high + 50}") == {}
    result = session.command("UID", "STORE", f"{high}:{high + 50}", "+FLAGS", "(\\Seen)")
    assert_ok(result)
    assert not result.of("FETCH"), result


def test_uid_range_to_star_includes_the_last_message(session, gapped):
    """RFC 9051 §6.4.9: "Also note that a UID range of 559:* always includes the UID of the last
    message in the mailbox, even if 559 is higher than any assigned UID value.  This is because
    the contents of a range are independent of the order of the range endpoints." """
    assert uid_fetch(session, f"{gapped[4] + 500}:*") == {3: gapped[4]}
    assert uid_fetch(session, "*") == {3: gapped[4]}


def test_uid_star_in_an_empty_mailbox_matches_nothing(session, mailbox):
    """RFC 9051 §9 seq-number: "In the case of unique identifiers, it is the unique identifier
    of the last message in the mailbox or, if the mailbox is empty, the mailbox's current
    UIDNEXT value." — no message has that UID, and a non-existent UID "is ignored without any
    error message generated" (§6.4.9)."""
    mailbox(session)
    assert uid_fetch(session, "*") == {}
    assert uid_fetch(session, "1:*") == {}


@pytest.mark.parametrize("command", ["FETCH", "SEARCH", "STORE"])
def test_uid_whole_uid_space_is_answered_quickly(session, gapped, command):
    """RFC 9051 §9: uniqueid = nz-number ("A UID is an unsigned non-zero 32-bit value",
    §2.3.1.1); seq-range: "two seq-number values and all values between these two" — the
    range 1:4294967295 names every possible UID and must be handled as a range, not by
    enumerating four billion numbers (answered within 2 seconds)."""
    arguments = {
        "FETCH": ("1:4294967295", "(UID)"),
        "SEARCH": ("UID", "1:4294967295"),
        "STORE": ("1:4294967295", "+FLAGS", "(\\Flagged)"),
    }[command]
    session.set_timeout(2.0)
    started = time.monotonic()
    result = session.command("UID", command, *arguments)
    elapsed = time.monotonic() - started
    assert_ok(result)
    assert elapsed < 2.0, f"UID {command} 1:4294967295 took {elapsed:.2f}s"
    if command == "SEARCH":
        assert search_hits(result) == [gapped[0], gapped[2], gapped[4]]
    else:
        assert sorted(fetched(result)) == [1, 2, 3], result


def test_uid_search_intersects_sequence_numbers_and_uids(session, gapped):
    """RFC 9051 §6.4.9: "the command UID SEARCH 1:100 UID 443:557 returns the unique identifiers
    corresponding to the intersection of two sequence sets, the message sequence number range
    1:100, and the UID range 443:557."; "even if neither UID 443 or 557 exist, this range is
    valid and would include an existing UID 495." """
    result = session.command("UID", "SEARCH", "2:3", "UID", f"{gapped[1]}:{gapped[3]}")
    assert search_hits(result) == [gapped[2]]


@pytest.mark.parametrize(
    "arguments",
    [(), ("NOOP",), ("LIST", '""', '"*"'), ("SELECT", "INBOX"), ("CAPABILITY",), ("UID",)],
    ids=["nothing", "noop", "list", "select", "capability", "uid-uid"],
)
def test_uid_before_other_commands_is_bad(session, mailbox, arguments):
    """RFC 9051 §9: uid = "UID" SP (copy / move / fetch / search / store / uid-expunge);
    RFC 9051 §6.4.9: "BAD - command unknown or arguments invalid"."""
    mailbox(session, message("one"))
    assert_bad(session.command("UID", *arguments))
    assert_still_usable(session)


@pytest.mark.parametrize("uid_set", ["0", "1:0", "x", "1:"])
def test_uid_fetch_with_invalid_uid_set_is_bad(session, mailbox, uid_set):
    """RFC 9051 §9: uniqueid = nz-number; seq-number = nz-number / "*"; RFC 9051 §6.4.9: "BAD -
    command unknown or arguments invalid"."""
    mailbox(session, message("one"))
    assert_bad(session.command("UID", "FETCH", uid_set, "(UID)"))
    assert_still_usable(session)


def test_uid_commands_without_selected_mailbox_are_bad(session):
    """RFC 9051 §6.4: UID is one of the commands "valid in the selected state"."""
    assert_bad(session.command("UID", "FETCH", "1:*", "(UID)"))
    assert_still_usable(session)
