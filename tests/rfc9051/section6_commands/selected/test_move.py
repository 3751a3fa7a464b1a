"""RFC 9051 §6.4.8 MOVE and UID MOVE (RFC 6851 for IMAP4rev1 servers advertising MOVE),
with COPYUID (RFC 4315 UIDPLUS) and TRYCREATE."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    apply_expunges,
    assert_no,
    assert_ok,
    assert_still_usable,
    assert_untagged,
    copyuid_map,
    fetched,
    mailbox_contents,
    message_count,
    message_flags,
    require_extension,
)
from tests.rfc9051.client import quote
from tests.rfc9051.fixtures import TRIO, Stored, message


@pytest.fixture
def moving(session, target):
    """A session that may use MOVE: IMAP4rev2, or IMAP4rev1 with the MOVE capability."""
    require_extension(session, target.capabilities, "MOVE")
    return session


def test_move_moves_the_messages(moving, mailbox, names, connect):
    """RFC 9051 §6.4.8: "The MOVE command moves the specified message(s) to the end of the
    specified destination mailbox."; "a new message is created in the target mailbox with a new
    UID, the original message is removed from the source mailbox, and it appears to the client
    as a single action." """
    box = mailbox(moving, *TRIO)
    destination = names.created(moving)
    assert_ok(moving.append(destination, message("already there")))
    result = moving.command("MOVE", "1,3", quote(destination))
    assert_ok(result)
    assert apply_expunges(box.uids, result) == [box.uids[1]], result
    moved = mailbox_contents(connect, destination)
    bodies = [moved[uid]["body"] for uid in sorted(moved)]
    assert bodies == [message("already there"), TRIO[0].data, TRIO[2].data]
    assert message_count(moving, box.name) == 1


def test_move_sends_copyuid_in_an_untagged_ok_before_the_expunges(moving, target, mailbox, names):
    """RFC 9051 §6.4.8: "Servers are also REQUIRED to send the COPYUID response code in an
    untagged OK before sending EXPUNGE or similar responses."; example "S: * OK [COPYUID 432432
    42:69 1202:1229] / S: * 22 EXPUNGE / ... / S: a OK Done" (RFC 6851 §4.3: IMAP4rev1 servers
    "implementing UIDPLUS are also advised to send the COPYUID response code in an untagged OK
    before sending EXPUNGE")."""
    require_extension(moving, target.capabilities, "UIDPLUS")
    box = mailbox(moving, *TRIO)
    result = moving.command("MOVE", "2:3", quote(names.created(moving)))
    assert_ok(result)
    kinds = [(r.kind, r.code) for r in result.untagged]
    assert ("OK", "COPYUID") in kinds, result
    position = kinds.index(("OK", "COPYUID"))
    expunges = [i for i, (kind, _) in enumerate(kinds) if kind == "EXPUNGE"]
    assert len(expunges) == 2 and position < expunges[0], result
    _, mapping = copyuid_map(result.untagged[position].code_data)
    assert sorted(mapping) == box.uids[1:], result


def test_move_copyuid_names_the_new_uids(moving, target, mailbox, names, connect):
    """RFC 9051 §7.1 COPYUID: "the destination UID set corresponds to the source UID set and is
    in the same order."; "This response code is returned [...] in the untagged OK response to
    the MOVE or UID MOVE command." """
    require_extension(moving, target.capabilities, "UIDPLUS")
    box = mailbox(moving, *TRIO)
    destination = names.created(moving)
    result = moving.command("UID", "MOVE", f"{box.uids[0]},{box.uids[2]}", quote(destination))
    assert_ok(result)
    (code,) = [r for r in result.untagged if r.kind == "OK" and r.code == "COPYUID"]
    _, mapping = copyuid_map(code.code_data)
    moved = mailbox_contents(connect, destination)
    assert moved[mapping[box.uids[0]]]["body"] == TRIO[0].data
    assert moved[mapping[box.uids[2]]]["body"] == TRIO[2].data


def test_move_preserves_flags_and_never_sets_deleted(moving, mailbox, names, connect):
    """RFC 9051 §6.4.8: "The flags and internal date of the message(s) SHOULD be preserved.";
    "response codes for a STORE MUST NOT be generated, and the \\Deleted flag MUST NOT be set for
    any message." """
    box = mailbox(moving, *TRIO)
    before = mailbox_contents(connect, box.name)
    destination = names.created(moving)
    result = moving.command("MOVE", "1:*", quote(destination))
    assert_ok(result)
    for items in fetched(result).values():
        assert "FLAGS" not in items or "\\deleted" not in message_flags(items), result
    moved = mailbox_contents(connect, destination)
    pick = ("body", "flags", "date")
    assert [{k: moved[u][k] for k in pick} for u in sorted(moved)] == [
        {k: before[u][k] for k in pick} for u in sorted(before)
    ]


def test_uid_move_of_unknown_uids_is_ok_and_moves_nothing(moving, mailbox, names):
    """RFC 9051 §6.4.9: "A non-existent unique identifier is ignored without any error message
    generated.  Thus, it is possible for [...] a UID COPY, UID MOVE, or UID STORE to return an OK
    without performing any operations." """
    box = mailbox(moving, *TRIO)
    destination = names.created(moving)
    unknown = max(box.uids) + 100
    result = moving.command("UID", "MOVE", f"{unknown}:{unknown + 9}", quote(destination))
    assert_ok(result)
    assert not result.of("EXPUNGE"), result
    assert (message_count(moving, box.name), message_count(moving, destination)) == (3, 0)


def test_move_to_a_missing_mailbox_fails_with_trycreate(moving, mailbox, names):
    """RFC 9051 §6.4.8: "If the destination mailbox does not exist, a server MUST return an
    error.  It MUST NOT automatically create the mailbox.  Unless it is certain that the
    destination mailbox cannot be created, the server MUST send the response code
    "[TRYCREATE]" as the prefix of the text of the tagged NO response."; "each individual
    message MUST be either moved or unaffected." """
    box = mailbox(moving, *TRIO)
    missing = names.new("missing")
    result = moving.command("MOVE", "1:2", quote(missing))
    assert_no(result, "TRYCREATE")
    assert not result.of("EXPUNGE"), result
    assert message_count(moving, box.name) == 3
    listed = moving.list("", missing)
    assert_ok(listed)
    assert not listed.of("LIST"), f"MOVE created {missing}: {listed}"


def test_move_to_the_selected_mailbox_is_allowed(moving, mailbox):
    """RFC 9051 §6.4.8: "Note that moving a message to the currently selected mailbox (that is,
    where the source and target mailboxes are the same) is allowed when copying the message to
    the currently selected mailbox is allowed." — the message gets a new UID at the end."""
    box = mailbox(moving, *TRIO)
    result = moving.command("MOVE", "1", quote(box.name))
    assert_ok(result)
    assert_untagged(result, "EXPUNGE", count=1)
    assert_ok(moving.command("NOOP"))
    found = fetched(moving.command("FETCH", "1:*", "(UID BODY.PEEK[])"))
    assert [items["BODY[]"] for _, items in sorted(found.items())] == [
        TRIO[1].data,
        TRIO[2].data,
        TRIO[0].data,
    ]
    assert int(found[3]["UID"]) > max(box.uids)


def test_move_without_selected_mailbox_is_bad(moving, names):
    """RFC 9051 §6.4: MOVE is one of the commands "valid in the selected state"."""
    result = moving.command("MOVE", "1", quote(names.created(moving)))
    assert result.status == "BAD", result
    assert_still_usable(moving)


def test_move_leaves_other_deleted_messages_in_place(moving, mailbox, names, connect):
    """RFC 9051 §6.4.8: MOVE "has the same effect for each message as this sequence: 1. [UID]
    COPY 2. [UID] STORE +FLAGS.SILENT \\DELETED 3. UID EXPUNGE" — but only for the moved
    messages: another message already marked \\Deleted stays in the source mailbox."""
    box = mailbox(moving, Stored(message("deleted, not moved"), flags="\\Deleted"), *TRIO)
    result = moving.command("MOVE", "2", quote(names.created(moving)))
    assert_ok(result)
    assert apply_expunges(box.uids, result) == [box.uids[0], *box.uids[2:]], result
