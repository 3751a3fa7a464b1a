"""RFC 9051 §6.4.6 STORE (RFC 3501 §6.4.6 in an IMAP4rev1 session): FLAGS, +FLAGS and
-FLAGS with and without .SILENT, keywords, and what other sessions see."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_no_untagged,
    assert_ok,
    assert_still_usable,
    fetch_one,
    fetched,
    flag_set,
    message_flags,
    selection,
)
from tests.rfc9051.fixtures import Stored, message


def flags_now(client, sequence: str = "1") -> set[str]:
    return message_flags(fetch_one(client, sequence, "(FLAGS)"))


def reported_flags(result) -> dict[int, set[str]]:
    """The FLAGS of the untagged FETCH responses of a STORE, by sequence number."""
    assert_ok(result)
    return {n: message_flags(items) for n, items in fetched(result).items() if "FLAGS" in items}


@pytest.mark.parametrize(
    ("item", "flags", "expected"),
    [
        ("FLAGS", "(\\Answered $Work)", {"\\answered", "$work"}),
        ("+FLAGS", "(\\Answered $Work)", {"\\seen", "\\flagged", "\\answered", "$work"}),
        ("-FLAGS", "(\\Flagged \\Draft)", {"\\seen"}),
        ("FLAGS", "()", set()),
    ],
    ids=["replace", "add", "remove", "clear"],
)
def test_store_changes_flags_and_returns_the_new_value(session, mailbox, item, flags, expected):
    """RFC 9051 §6.4.6: "FLAGS <flag list> Replace the flags for the message with the argument.
    The new value of the flags is returned as if a FETCH of those flags was done."; "+FLAGS
    <flag list> Add the argument to the flags for the message."; "-FLAGS <flag list> Remove the
    argument from the flags for the message." """
    mailbox(session, Stored(message("flagged"), flags="\\Seen \\Flagged"))
    result = session.command("STORE", "1", item, flags)
    assert reported_flags(result) == {1: expected}, result
    assert flags_now(session) == expected


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("FLAGS.SILENT", {"\\answered"}),
        ("+FLAGS.SILENT", {"\\seen", "\\answered"}),
        ("-FLAGS.SILENT", {"\\seen"}),
    ],
)
def test_store_silent_changes_flags_without_fetch_response(session, mailbox, item, expected):
    """RFC 9051 §6.4.6: "A suffix of ".SILENT" in the data item name prevents the untagged
    FETCH"; "FLAGS.SILENT <flag list> Equivalent to FLAGS, but without returning a new value."
    (+FLAGS.SILENT and -FLAGS.SILENT likewise)."""
    mailbox(session, Stored(message("silent"), flags="\\Seen"))
    flags = "(\\Answered)" if item != "-FLAGS.SILENT" else "(\\Answered \\Draft)"
    result = session.command("STORE", "1", item, flags)
    assert_ok(result)
    assert_no_untagged(result, "FETCH")
    assert flags_now(session) == expected


def test_store_on_a_range_answers_for_each_message(session, mailbox):
    """RFC 9051 §6.4.6 example: "C: A003 STORE 2:4 +FLAGS (\\Deleted) / S: * 2 FETCH (FLAGS
    (\\Deleted \\Seen)) / S: * 3 FETCH (FLAGS (\\Deleted)) / S: * 4 FETCH (FLAGS (\\Deleted
    \\Flagged \\Seen))"."""
    mailbox(
        session,
        message("one"),
        Stored(message("two"), flags="\\Seen"),
        message("three"),
        Stored(message("four"), flags="\\Flagged \\Seen"),
        message("five"),
    )
    result = session.command("STORE", "2:4", "+FLAGS", "(\\Deleted)")
    assert reported_flags(result) == {
        2: {"\\deleted", "\\seen"},
        3: {"\\deleted"},
        4: {"\\deleted", "\\flagged", "\\seen"},
    }, result


def test_store_accepts_flags_without_parentheses(session, mailbox):
    """RFC 9051 §9: store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag
    *(SP flag)))."""
    mailbox(session, message("bare"))
    assert_ok(session.command("STORE", "1", "+FLAGS", "\\Flagged", "$Work"))
    assert flags_now(session) == {"\\flagged", "$work"}


def test_store_new_keyword_when_permanentflags_has_star(session, mailbox, connect):
    """RFC 9051 §7.1 PERMANENTFLAGS: "The PERMANENTFLAGS list can also include the special flag
    \\*, which indicates that it is possible to create new keywords by attempting to store
    those keywords in the mailbox." — permanently: another session sees the keyword."""
    box = mailbox(session, message("keyword"))
    permanent = flag_set(selection(box.selected)["PERMANENTFLAGS"] or [])
    if "\\*" not in permanent:
        pytest.skip(f"PERMANENTFLAGS {sorted(permanent)} does not include \\*")
    assert_ok(session.command("STORE", "1", "+FLAGS", "($Rfc9051Keyword)"))
    other = connect(login=True)
    assert_ok(other.select(box.name, examine=True))
    assert flags_now(other) == {"$rfc9051keyword"}


def test_store_keywords_are_case_insensitive(session, mailbox):
    """RFC 9051 §9 (1.): "Unless otherwise noted, all alphabetic characters are
    case insensitive."; flag-keyword = "$MDNSent" / "$Forwarded" / ... / atom — removing
    $WORK removes $Work."""
    mailbox(session, Stored(message("case"), flags="$Work"))
    assert_ok(session.command("STORE", "1", "-FLAGS", "($WORK)"))
    assert flags_now(session) == set()


def test_store_is_seen_by_another_session_as_fetch_flags(session, mailbox, watcher):
    """RFC 9051 §6.4.6: "the server SHOULD send an untagged FETCH response if a change to a
    message's flags from an external source is observed."; RFC 9051 §5.2: "A server SHOULD send
    message flag updates automatically, without requiring the client to request such updates
    explicitly." """
    box = mailbox(session, message("one"), message("two"))
    other = watcher(box, session.dialect)
    assert_ok(session.command("STORE", "2", "+FLAGS", "(\\Flagged)"))
    result = other.command("NOOP")
    assert_ok(result)
    found = fetched(result)
    assert 2 in found and "\\flagged" in message_flags(found[2]), result


def test_store_seen_by_another_rev2_session_includes_the_uid(rev2, mailbox, watcher):
    """RFC 9051 §7.5.2: "If the server chooses to send unsolicited FETCH responses, they MUST
    include UID FETCH item.  Note that this is a new requirement when compared to
    [RFC3501]." """
    box = mailbox(rev2, message("one"), message("two"))
    other = watcher(box, "rev2")
    assert_ok(rev2.command("STORE", "2", "+FLAGS.SILENT", "(\\Flagged)"))
    result = other.command("NOOP")
    assert_ok(result)
    assert fetched(result), f"no FETCH for the flag change: {result}"
    for number, items in fetched(result).items():
        assert int(items.get("UID", 0)) == box.uids[number - 1], result


def test_store_rev2_recent_is_not_a_flag(rev2, mailbox):
    """RFC 9051 §9: flag = "\\Answered" / "\\Flagged" / "\\Deleted" / "\\Seen" / "\\Draft" /
    flag-keyword / flag-extension ; Does not include "\\Recent"; RFC 9051 §2.3.2: "\\Recent This
    flag was in use in IMAP4rev1 and is now deprecated." (RFC 3501 §2.3.2: it "can not be altered
    by the client")."""
    mailbox(rev2, message("recent"))
    assert_bad(rev2.command("STORE", "1", "+FLAGS", "(\\Recent)"))
    assert flags_now(rev2) == set()


@pytest.mark.parametrize(
    "arguments",
    [
        ("1", "XFLAGS", "(\\Seen)"),
        pytest.param(
            ("1", "FLAGS"), marks=pytest.mark.dovecot_deviation("answers STORE 1 FLAGS with OK")
        ),
        ("1", "+FLAGS", "(\\Seen"),
        ("1", "FLAGS.LOUD", "(\\Seen)"),
        ("1",),
        ("0", "+FLAGS", "(\\Seen)"),
    ],
    ids=["unknown-item", "no-flags", "unbalanced", "bad-suffix", "no-item", "zero"],
)
def test_store_with_invalid_arguments_is_bad_and_changes_nothing(session, mailbox, arguments):
    """RFC 9051 §6.4.6: "BAD - command unknown or arguments invalid"; RFC 9051 §6: "A rejected
    command (BAD response) never changes the state of the connection or of the selected
    mailbox." """
    mailbox(session, message("untouched"))
    assert_bad(session.command("STORE", *arguments))
    assert flags_now(session) == set()


def test_store_without_selected_mailbox_is_bad(session):
    """RFC 9051 §6.4: STORE is one of the commands "valid in the selected state"."""
    assert_bad(session.command("STORE", "1", "+FLAGS", "(\\Seen)"))
    assert_still_usable(session)
