"""RFC 9051 §5.2 and §7.5.1 (RFC 3501 §5.2, §7.4.1): changes made by one session reach another
session that has the same mailbox selected, as EXISTS, EXPUNGE and FETCH responses, and only at
the moments the RFC allows: never an EXPUNGE while FETCH, STORE or SEARCH is answered."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    apply_expunges,
    assert_no_untagged,
    assert_ok,
    assert_untagged,
    fetched,
    message_flags,
    require_extension,
    search_hits,
)
from tests.rfc9051.client import Result, quote
from tests.rfc9051.fixtures import Stored, message
from tests.rfc9051.response import fetch_items


@pytest.fixture
def shared(session, mailbox, watcher):
    """Three messages selected by `session` (the actor) and by a watcher in the same dialect;
    returns (box, watcher)."""
    box = mailbox(session, message("one"), message("two"), message("three"))
    return box, watcher(box, session.dialect)


def expunge_first(client) -> None:
    """Message 1 gets \\Deleted and is expunged by `client`."""
    assert_ok(client.command("STORE", "1", "+FLAGS.SILENT", "(\\Deleted)"))
    assert_ok(client.command("EXPUNGE"))


def test_new_message_is_reported_as_exists(session, shared):
    """RFC 9051 §5.2: "agents other than the server may add messages to the mailbox (e.g., new
    message delivery) [...].  A server MUST send mailbox size updates automatically if a mailbox
    size change is observed during the processing of a command."; RFC 9051 §6.1.2: "the NOOP
    command can be used as a periodic poll for new messages"."""
    box, other = shared
    assert_ok(session.append(box.name, message("four")))
    result = other.command("NOOP")
    assert_ok(result)
    assert result.of("EXISTS") and result.of("EXISTS")[-1].number == 4, result
    found = fetched(other.command("FETCH", "4", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    assert list(found[4].values()) == [b"Subject: four\r\n\r\n"]


def test_expunge_by_another_session_is_reported_as_expunge(session, shared):
    """RFC 9051 §5.2: "it is NOT permitted to send an EXISTS response that would reduce the
    number of messages in the mailbox; only the EXPUNGE response can do this."; RFC 9051 §7.5.1:
    "The EXPUNGE response reports that the specified message sequence number has been
    permanently removed from the mailbox." """
    box, other = shared
    assert_ok(session.command("STORE", "2", "+FLAGS.SILENT", "(\\Deleted)"))
    assert_ok(session.command("EXPUNGE"))
    result = other.command("NOOP")
    assert_ok(result)
    assert apply_expunges(box.uids, result) == [box.uids[0], box.uids[2]], result


@pytest.mark.parametrize(
    "command",
    [
        ("FETCH", "2:3", "(UID FLAGS)"),
        ("STORE", "2", "+FLAGS", "(\\Flagged)"),
        ("SEARCH", "ALL"),
        ("FETCH", "1:*", "(UID)"),
    ],
    ids=["fetch", "store", "search", "fetch-all"],
)
def test_no_expunge_while_fetch_store_or_search_is_answered(session, shared, command):
    """RFC 9051 §7.5.1: "An EXPUNGE response MUST NOT be sent when no command is in progress,
    nor while responding to a FETCH, STORE, or SEARCH command.  This rule is necessary to prevent
    a loss of synchronization of message sequence numbers between client and server."; RFC 9051
    §5.5: "servers are prohibited from sending EXPUNGE responses while any of those commands are
    in progress." The expunge is reported by the next NOOP instead."""
    box, other = shared
    expunge_first(session)
    result = other.command(*command)
    assert result.status in ("OK", "NO"), result  # the expunged message may be refused
    assert_no_untagged(result, "EXPUNGE")
    later = other.command("NOOP")
    assert_ok(later)
    assert apply_expunges(box.uids, later) == box.uids[1:], later


def test_sequence_numbers_stay_put_until_the_expunge_is_reported(session, shared):
    """RFC 9051 §7.5.1: the EXPUNGE rule exists "to prevent a loss of synchronization of message
    sequence numbers between client and server": until the watcher is told, message 2 is still
    the message it knew as 2."""
    box, other = shared
    expunge_first(session)
    for number in (2, 3):
        result = other.command("FETCH", str(number), "(UID)")
        assert_ok(result)
        assert int(fetched(result)[number]["UID"]) == box.uids[number - 1], result
    result = other.command("SEARCH", "UID", str(box.uids[2]))
    assert 3 in search_hits(result), result


def test_store_during_pending_expunge_answers_with_old_numbers(session, shared):
    """RFC 9051 §7.5.1: no EXPUNGE "while responding to a FETCH, STORE, or SEARCH command": the
    untagged FETCH of a STORE uses the numbers the client still has."""
    box, other = shared
    expunge_first(session)
    result = other.command("STORE", "3", "+FLAGS", "(\\Answered)")
    assert_ok(result)
    assert_no_untagged(result, "EXPUNGE")
    assert 3 in fetched(result), result
    later = other.command("NOOP")
    view = apply_expunges(box.uids, later)
    assert view == box.uids[1:], later
    result = other.command("FETCH", "2", "(UID FLAGS)")
    items = fetched(result)[2]
    assert int(items["UID"]) == box.uids[2] and "\\answered" in message_flags(items), result


def test_expunge_and_new_mail_together_keep_the_numbering(session, shared):
    """RFC 9051 §7.5.1: "The message sequence number for each successive message in the mailbox
    is immediately decremented by 1, and this decrement is reflected in message sequence numbers
    in subsequent responses (including other untagged EXPUNGE responses)."; RFC 9051 §5.2: "it
    is NOT permitted to send an EXISTS response that would reduce the number of messages"."""
    box, other = shared
    expunge_first(session)
    assert_ok(session.append(box.name, message("four")))
    result = other.command("NOOP")
    assert_ok(result)
    assert_untagged(result, "EXPUNGE", count=1)
    view = apply_expunges(box.uids, result)
    assert result.of("EXISTS")[-1].number == 3, result
    found = fetched(other.command("FETCH", "1:*", "(UID)"))
    assert [int(found[n]["UID"]) for n in sorted(found)][:2] == view == box.uids[1:]
    assert sorted(found) == [1, 2, 3]


def test_move_by_another_session_is_reported_as_expunge(session, target, shared, names):
    """RFC 9051 §6.4.8: MOVE: "the original message is removed from the source mailbox" — for
    every other session that has it selected this is an expunge (RFC 9051 §7.5.1)."""
    require_extension(session, target.capabilities, "MOVE")
    box, other = shared
    assert_ok(session.command("MOVE", "3", quote(names.created(session))))
    result = other.command("NOOP")
    assert_ok(result)
    assert apply_expunges(box.uids, result) == box.uids[:2], result


def test_flag_change_by_another_session_is_reported_as_fetch(session, shared):
    """RFC 9051 §5.2: "A server SHOULD send message flag updates automatically, without
    requiring the client to request such updates explicitly."; RFC 9051 §7.5.2: the FETCH
    response occurs "by a unilateral server decision (e.g., flag updates)"."""
    _, other = shared
    assert_ok(session.command("STORE", "1:2", "+FLAGS.SILENT", "(\\Seen)"))
    result = other.command("NOOP")
    assert_ok(result)
    found = fetched(result)
    assert {n for n in found if "\\seen" in message_flags(found[n])} == {1, 2}, result


def test_read_only_watcher_sees_changes_too(session, mailbox, watcher):
    """RFC 9051 §5.2 applies to every session with the mailbox selected, an EXAMINEd one too:
    "A server MUST send mailbox size updates automatically if a mailbox size change is observed
    during the processing of a command." """
    box = mailbox(session, message("one"), Stored(message("two"), flags="\\Deleted"))
    other = watcher(box, session.dialect, examine=True)
    assert_ok(session.command("EXPUNGE"))
    assert_ok(session.append(box.name, message("three")))
    result = other.command("NOOP")
    assert_ok(result)
    view = apply_expunges(box.uids, result)
    assert view == box.uids[:1] and result.of("EXISTS")[-1].number == 2, result


def test_pipelined_fetch_store_search_noop_are_answered_in_order(session, shared):
    """RFC 9051 §5.5: "The client MAY send another command without waiting for the completion
    result response of a command"; "The following are examples of valid non-waiting command
    sequences: FETCH + STORE + SEARCH + NOOP"; "If the server detects a possible ambiguity, it
    MUST execute commands to completion in the order given by the client." (The FETCH sees
    message 2 without \\Seen, the SEARCH sees the STORE's \\Seen.)"""
    tags = [
        session.send_command("FETCH", "1:3", "(UID FLAGS)")[0],
        session.send_command("STORE", "2", "+FLAGS", "(\\Seen)")[0],
        session.send_command("SEARCH", "SEEN")[0],
        session.send_command("NOOP")[0],
    ]
    completed, untagged = [], []
    while len(completed) < len(tags):
        response = session.read_response()
        if response.tag in tags:
            assert response.kind == "OK", session.tail()
            completed.append(response.tag)
        else:
            untagged.append(response)
    assert completed == tags, session.tail()
    fetch_answers = [fetch_items(r) for r in untagged if r.kind == "FETCH" and r.number == 2]
    fetch_answers = [items for items in fetch_answers if "UID" in items]  # not the STORE's
    assert fetch_answers and "\\seen" not in message_flags(fetch_answers[0]), session.tail()
    searches = [r for r in untagged if r.kind in ("SEARCH", "ESEARCH")]
    assert search_hits(Result(tags[2], response, searches)) == [2], session.tail()
