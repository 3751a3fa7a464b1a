"""RFC 9051 §6.4.7 COPY and UID COPY (RFC 3501 §6.4.7 in an IMAP4rev1 session), with COPYUID
(RFC 4315 UIDPLUS for IMAP4rev1) and TRYCREATE."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_code,
    assert_no,
    assert_no_untagged,
    assert_ok,
    assert_still_usable,
    copyuid_map,
    fetched,
    mailbox_contents,
    message_count,
    require_extension,
    selection,
)
from tests.rfc9051.client import quote
from tests.rfc9051.fixtures import TRIO, message


def test_copy_appends_the_messages_to_the_destination(session, mailbox, names, connect):
    """RFC 9051 §6.4.7: "The COPY command copies the specified message(s) to the end of the
    specified destination mailbox." """
    box = mailbox(session, *TRIO)
    destination = names.created(session)
    assert_ok(session.append(destination, message("already there")))
    assert_ok(session.command("COPY", "2:3", quote(destination)))
    copied = mailbox_contents(connect, destination)
    bodies = [copied[uid]["body"] for uid in sorted(copied)]
    assert bodies == [message("already there"), TRIO[1].data, TRIO[2].data]
    assert message_count(session, box.name) == 3


def test_copy_preserves_flags_and_internal_date(session, mailbox, names, connect):
    """RFC 9051 §6.4.7: "The flags and internal date of the message(s) SHOULD be preserved in
    the copy." """
    box = mailbox(session, *TRIO)
    destination = names.created(session)
    assert_ok(session.command("COPY", "1:3", quote(destination)))
    original, copied = mailbox_contents(connect, box.name), mailbox_contents(connect, destination)
    pick = ("flags", "date")
    before = [{k: original[uid][k] for k in pick} for uid in sorted(original)]
    after = [{k: copied[uid][k] for k in pick} for uid in sorted(copied)]
    assert after == before


def test_copy_leaves_the_source_unchanged(session, mailbox, names, connect):
    """RFC 9051 §6.4.7: COPY "copies the specified message(s)" (unlike MOVE, §6.4.8, nothing is
    removed from the source: no EXPUNGE, no \\Deleted)."""
    box = mailbox(session, *TRIO)
    before = mailbox_contents(connect, box.name)
    result = session.command("COPY", "1:*", quote(names.created(session)))
    assert_ok(result)
    assert_no_untagged(result, "EXPUNGE")
    assert mailbox_contents(connect, box.name) == before


def test_copy_returns_copyuid_matching_the_copies(session, target, mailbox, names, connect):
    """RFC 9051 §6.4.7: "On successful completion of a COPY, the server returns a COPYUID
    response code"; §7.1 COPYUID: "Followed by the UIDVALIDITY of the destination mailbox, a UID
    set containing the UIDs of the message(s) in the source mailbox that were copied to the
    destination mailbox, followed by another UID set containing the UIDs assigned to the copied
    message(s) in the destination mailbox"; "the destination UID set corresponds to the source
    UID set and is in the same order." (RFC 4315 §3 for IMAP4rev1 servers with UIDPLUS.)"""
    require_extension(session, target.capabilities, "UIDPLUS")
    box = mailbox(session, *TRIO)
    destination = names.created(session)
    result = session.command("COPY", "3,1", quote(destination))
    validity, mapping = copyuid_map(assert_code(assert_ok(result), "COPYUID", result))
    assert sorted(mapping) == [box.uids[0], box.uids[2]], result
    copied = mailbox_contents(connect, destination)
    assert sorted(mapping.values()) == sorted(copied), result
    for n, source_uid in ((1, box.uids[0]), (3, box.uids[2])):
        assert copied[mapping[source_uid]]["body"] == TRIO[n - 1].data
    other = connect(login=True)
    assert selection(other.select(destination, examine=True))["UIDVALIDITY"] == validity


def test_copy_to_a_missing_mailbox_fails_with_trycreate(session, mailbox, names):
    """RFC 9051 §6.4.7: "If the destination mailbox does not exist, a server MUST return an
    error.  It MUST NOT automatically create the mailbox.  Unless it is certain that the
    destination mailbox can not be created, the server MUST send the response code
    "[TRYCREATE]" as the prefix of the text of the tagged NO response." """
    mailbox(session, *TRIO)
    missing = names.new("missing")
    assert_no(session.command("COPY", "1", quote(missing)), "TRYCREATE")
    result = session.list("", missing)
    assert_ok(result)
    assert not result.of("LIST"), f"COPY created {missing}: {result}"


def test_uid_copy_copies_the_messages_with_those_uids(session, mailbox, names, connect):
    """RFC 9051 §6.4.9: "In the first form, it takes as its arguments a COPY, MOVE, FETCH, or
    STORE command with arguments appropriate for the associated command.  However, the numbers
    in the sequence-set argument are unique identifiers instead of message sequence
    numbers." """
    box = mailbox(session, *TRIO)
    destination = names.created(session)
    assert_ok(session.command("UID", "COPY", str(box.uids[1]), quote(destination)))
    copied = mailbox_contents(connect, destination)
    assert [item["body"] for item in copied.values()] == [TRIO[1].data]


def test_uid_copy_of_unknown_uids_copies_nothing(session, mailbox, names):
    """RFC 9051 §6.4.9: "A non-existent unique identifier is ignored without any error message
    generated.  Thus, it is possible for [...] a UID COPY, UID MOVE, or UID STORE to return an
    OK without performing any operations." """
    box = mailbox(session, *TRIO)
    destination = names.created(session)
    unknown = max(box.uids) + 100
    assert_ok(session.command("UID", "COPY", f"{unknown}:{unknown + 9}", quote(destination)))
    assert message_count(session, destination) == 0


def test_copy_into_the_selected_mailbox_reports_the_new_size(session, mailbox):
    """RFC 9051 §5.2: "A server MUST send mailbox size updates automatically if a mailbox size
    change is observed during the processing of a command." — here by the end of the next NOOP
    at the latest; the copies go "to the end of the specified destination mailbox"
    (§6.4.7)."""
    box = mailbox(session, *TRIO)
    copied = session.command("COPY", "1:2", quote(box.name))
    assert_ok(copied)
    noop = session.command("NOOP")
    sizes = [r.number for r in copied.of("EXISTS") + noop.of("EXISTS")]
    assert sizes and sizes[-1] == 5, f"{copied}\n{noop}"
    result = session.command("FETCH", "4:5", "(BODY.PEEK[])")
    assert [items["BODY[]"] for _, items in sorted(fetched(result).items())] == [
        TRIO[0].data,
        TRIO[1].data,
    ]


@pytest.mark.parametrize("sequence_set", ["0", "4", "1:x"])
def test_copy_with_invalid_message_set_is_bad(session, mailbox, names, sequence_set):
    """RFC 9051 §6.4.7: "BAD - command unknown or arguments invalid"; RFC 9051 §9: "The server
    should respond with a tagged BAD response to a command that uses a message sequence number
    greater than the number of messages in the selected mailbox." """
    mailbox(session, *TRIO)
    destination = names.created(session)
    assert_bad(session.command("COPY", sequence_set, quote(destination)))
    assert message_count(session, destination) == 0


def test_copy_without_selected_mailbox_is_bad(session, names):
    """RFC 9051 §6.4: COPY is one of the commands "valid in the selected state"."""
    assert_bad(session.command("COPY", "1", quote(names.created(session))))
    assert_still_usable(session)
