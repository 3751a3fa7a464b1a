"""RFC 9051 §6.3.2 SELECT (RFC 3501 §6.3.1 in an IMAP4rev1 session)."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_no,
    assert_ok,
    assert_selected_mailbox_data,
    assert_still_usable,
    flag_set,
    selection,
)
from tests.rfc9051.client import Literal
from tests.rfc9051.fixtures import MULTIPART, PLAIN
from tests.rfc9051.response import fetch_items


@pytest.fixture
def dialect(session) -> str:
    return session.dialect


def test_select_sends_required_untagged_data(session, dialect, names):
    """RFC 9051 §6.3.2: "REQUIRED untagged responses: FLAGS, EXISTS, LIST / REQUIRED OK
    untagged responses: PERMANENTFLAGS, UIDNEXT, UIDVALIDITY"; RFC 3501 §6.3.1 (IMAP4rev1):
    "REQUIRED untagged responses: FLAGS, EXISTS, RECENT / REQUIRED OK untagged responses:
    UNSEEN, PERMANENTFLAGS, UIDNEXT, UIDVALIDITY"."""
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    assert_selected_mailbox_data(session.select(name), dialect == "rev2", name)


def test_select_exists_counts_the_messages(session, names):
    """RFC 9051 §6.3.2: "<n> EXISTS The number of messages in the mailbox." """
    name = names.created(session)
    for message in (PLAIN, MULTIPART, PLAIN):
        assert_ok(session.append(name, message))
    assert selection(session.select(name))["EXISTS"] == 3


def test_select_empty_mailbox_reports_zero_exists(session, names):
    """RFC 9051 §6.3.2: "<n> EXISTS The number of messages in the mailbox." """
    name = names.created(session)
    assert selection(session.select(name))["EXISTS"] == 0


def test_select_uidnext_is_above_every_uid(session, names):
    """RFC 9051 §2.3.1.1: "The next unique identifier value is the predicted value that will
    be assigned to a new message in the mailbox"; "as each message is added to the mailbox,
    it is assigned a higher UID than those of all message(s) that are already in the
    mailbox." """
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    assert_ok(session.append(name, PLAIN))
    data = selection(session.select(name))
    result = session.command("FETCH", "1:*", "(UID)")
    assert_ok(result)
    uids = [int(fetch_items(r)["UID"]) for r in result.of("FETCH")]
    assert len(uids) == 2 and uids[0] < uids[1], result
    assert data["UIDNEXT"] > max(uids), f"UIDNEXT {data['UIDNEXT']} not above UIDs {uids}"


def test_select_again_reports_same_uidvalidity_and_uidnext(session, names):
    """RFC 9051 §2.3.1.1: "the next unique identifier value MUST NOT change unless new
    messages are added to the mailbox"; "The unique identifier of a message MUST NOT change
    during the session"."""
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    first = selection(session.select(name))
    second = selection(session.select(name))
    assert (first["UIDVALIDITY"], first["UIDNEXT"]) == (second["UIDVALIDITY"], second["UIDNEXT"])


def test_select_uidnext_grows_after_append(session, names):
    """RFC 9051 §2.3.1.1: "the next unique identifier value MUST change whenever new messages
    are added to the mailbox, even if those new messages are subsequently expunged." """
    name = names.created(session)
    before = selection(session.select(name))["UIDNEXT"]
    assert_ok(session.append(name, PLAIN))
    after = selection(session.select(name))["UIDNEXT"]
    assert after > before


def test_select_permanentflags_are_known_flags_or_star(session, names):
    """RFC 9051 §7.1 PERMANENTFLAGS: "Followed by a parenthesized list of flags and indicates
    which of the known flags the client can change permanently. Any flags that are in the
    FLAGS untagged response, but not in the PERMANENTFLAGS list, cannot be set permanently.
    The PERMANENTFLAGS list can also include the special flag \\*"."""
    name = names.created(session)
    data = selection(session.select(name))
    known = flag_set(data["FLAGS"]) | {"\\*"}
    extra = flag_set(data["PERMANENTFLAGS"]) - known
    assert not extra, f"PERMANENTFLAGS {extra} are not in FLAGS {data['FLAGS']}"


def test_select_rev1_reports_first_unseen_message(rev1, names):
    """RFC 3501 §6.3.1: "OK [UNSEEN <n>] The message sequence number of the first unseen
    message in the mailbox." (a REQUIRED OK untagged response in IMAP4rev1)."""
    name = names.created(rev1)
    assert_ok(rev1.append(name, PLAIN, flags="\\Seen"))
    assert_ok(rev1.append(name, PLAIN))
    assert_ok(rev1.append(name, PLAIN))
    assert selection(rev1.select(name))["UNSEEN"] == 2


def test_select_rev1_recent_is_at_most_exists(rev1, names):
    """RFC 3501 §6.3.1: "<n> RECENT The number of messages with the \\Recent flag set." — a
    subset of the <n> EXISTS messages."""
    name = names.created(rev1)
    assert_ok(rev1.append(name, PLAIN))
    data = selection(rev1.select(name))
    assert data["RECENT"] is not None and 0 <= data["RECENT"] <= data["EXISTS"]


def test_select_rev2_list_response_names_the_mailbox(rev2, names):
    """RFC 9051 §6.3.2: "LIST The server MUST return a LIST response with the mailbox name.
    The list of mailbox attributes MUST be accurate." """
    name = names.created(rev2)
    result = rev2.select(name)
    assert_ok(result)
    (entry,) = [e for e in selection(result)["LIST"] if e.name == name]
    assert not entry.has("\\Noselect") and not entry.has("\\NonExistent"), entry


def test_select_rev2_list_attributes_are_accurate(rev2, names, delimiter):
    """RFC 9051 §6.3.2: "The server MUST return a LIST response with the mailbox name. The
    list of mailbox attributes MUST be accurate." A parent is not \\HasNoChildren, a leaf is
    not \\HasChildren, and neither is \\NonExistent or \\Noselect."""
    parent = names.created(rev2, "parent")
    child = names.child(parent, "child")
    assert_ok(rev2.create(child))
    for name, wrong in ((parent, "\\HasNoChildren"), (child, "\\HasChildren")):
        result = rev2.select(name)
        assert_ok(result)
        (entry,) = [e for e in selection(result)["LIST"] if e.name == name]
        for attribute in (wrong, "\\NonExistent", "\\Noselect"):
            assert not entry.has(attribute), f"{name} listed with {attribute}: {entry}"


def test_select_nonexistent_mailbox_fails_with_no(session, names):
    """RFC 9051 §6.3.2: "NO - select failure, now in authenticated state: no such mailbox,
    can't access mailbox"."""
    assert_no(session.select(names.new("missing")))
    assert_still_usable(session)


def test_failed_select_leaves_no_mailbox_selected(session, names):
    """RFC 9051 §6.3.2: "The SELECT command automatically deselects any currently selected
    mailbox before attempting the new selection. Consequently, if a mailbox is selected and
    a SELECT command that fails is attempted, no mailbox is selected." """
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    assert_ok(session.select(name))
    assert_ok(session.command("FETCH", "1", "(UID)"))
    assert_no(session.select(names.new("missing")))
    assert_bad(session.command("FETCH", "1", "(UID)"))


def test_select_while_selected_sends_closed_first_in_rev2(rev2, names):
    """RFC 9051 §6.3.2: "When deselecting a selected mailbox, the server MUST return an
    untagged OK response with the "[CLOSED]" response code when the currently selected
    mailbox is closed"; RFC 9051 §7.1 CLOSED: "all responses before the CLOSED response code
    relate to the mailbox that was closed, and all subsequent responses relate to the newly
    opened mailbox." """
    first, second = names.created(rev2), names.created(rev2)
    assert_ok(rev2.select(first))
    result = rev2.select(second)
    assert_ok(result)
    kinds = [(r.kind, r.code) for r in result.untagged]
    assert ("OK", "CLOSED") in kinds, f"no untagged OK [CLOSED]: {result}"
    closed_at = kinds.index(("OK", "CLOSED"))
    exists_at = [i for i, (kind, _) in enumerate(kinds) if kind == "EXISTS"]
    assert exists_at and closed_at < exists_at[0], f"[CLOSED] after the new data: {result}"


def test_failed_select_while_selected_sends_closed_in_rev2(rev2, names):
    """RFC 9051 §6.3.2: "if a mailbox is selected and a SELECT command that fails is
    attempted, no mailbox is selected. When deselecting a selected mailbox, the server MUST
    return an untagged OK response with the "[CLOSED]" response code"."""
    name = names.created(rev2)
    assert_ok(rev2.select(name))
    result = rev2.select(names.new("missing"))
    assert_no(result)
    assert ("OK", "CLOSED") in [(r.kind, r.code) for r in result.untagged], result


def test_select_first_time_sends_no_closed(rev2, names):
    """RFC 9051 §7.1 CLOSED: "A server returns the CLOSED response code when the currently
    selected mailbox is closed implicitly using the SELECT or EXAMINE command on another
    mailbox." With nothing selected before, nothing is closed."""
    name = names.created(rev2)
    result = rev2.select(name)
    assert_ok(result)
    assert "CLOSED" not in result.codes(), result


def test_select_mailbox_name_may_be_a_literal(session, names):
    """RFC 9051 §9: select = "SELECT" SP mailbox [select-params]; mailbox = "INBOX" /
    astring; astring = 1*ASTRING-CHAR / string; string = quoted / literal."""
    name = names.created(session)
    assert_ok(session.command("SELECT", Literal(name.encode())))


@pytest.mark.parametrize("spelling", ["inbox", "InBoX"])
def test_select_inbox_is_case_insensitive(session, spelling, disposable):
    """RFC 9051 §5.1: "The case-insensitive mailbox name INBOX is a special name reserved to
    mean "the primary mailbox for this user on this server"." """
    assert_ok(session.select(spelling))


@pytest.mark.parametrize(
    "arguments",
    [
        (),
        pytest.param(
            ("a", "b"),
            marks=pytest.mark.dovecot_deviation("ignores a second SELECT argument"),
        ),
        ('"unterminated',),
        ("(INBOX)",),
    ],
    ids=["none", "two", "unterminated-quote", "list"],
)
def test_select_with_malformed_arguments_is_bad(session, arguments):
    """RFC 9051 §6.3.2: "BAD - command unknown or arguments invalid"; select = "SELECT" SP
    mailbox (RFC 9051 §9); RFC 9051 §2.2.1: "It is a syntax error to send a command with
    missing or extraneous spaces or arguments." """
    assert_bad(session.command("SELECT", *arguments))
    assert_still_usable(session)


def test_select_before_login_is_bad(client):
    """RFC 9051 §6.3: SELECT is one of the commands "valid in the authenticated state"; before
    authentication only CAPABILITY, NOOP, LOGOUT, STARTTLS, AUTHENTICATE and LOGIN are
    (RFC 9051 §6.2)."""
    assert_bad(client.select("INBOX"))
    assert_still_usable(client)
