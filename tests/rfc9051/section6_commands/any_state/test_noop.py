"""RFC 9051 §6.1.2 NOOP, and unknown commands in any state."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_ok,
    assert_still_usable,
    assert_untagged,
    exists_count,
)
from tests.rfc9051.fixtures import PLAIN, STATES
from tests.rfc9051.response import fetch_items


@pytest.mark.parametrize("state", STATES)
def test_noop_succeeds_in_any_state(in_state, state):
    """RFC 9051 §6.1.2: "The NOOP command always succeeds. It does nothing." RFC 9051 §6.1:
    "The following commands are valid in any state: CAPABILITY, NOOP, and LOGOUT." """
    assert_ok(in_state(state).command("NOOP"))


@pytest.mark.dovecot_deviation("ignores arguments after NOOP and answers OK")
@pytest.mark.parametrize("arguments", ["now", "(1 2)"])
def test_noop_with_arguments_is_bad(client, arguments):
    """RFC 9051 §6.1.2: "Arguments: none ... Result: ... BAD - command unknown or arguments
    invalid"."""
    assert_bad(client.command("NOOP", arguments))
    assert_still_usable(client)


@pytest.mark.parametrize("spelling", ["noop", "NoOp"])
def test_noop_command_name_is_case_insensitive(client, spelling):
    """RFC 9051 §9: "Unless otherwise noted, all alphabetic characters are case insensitive. The use
    of uppercase or lowercase characters to define token strings is for editorial clarity only.
    Implementations MUST accept these strings in a case-insensitive fashion." """
    assert_ok(client.command(spelling))


def test_noop_does_not_change_the_state(client):
    """RFC 9051 §6.1.2: "It does nothing." RFC 9051 §6: "The state of a connection is only
    changed by successful commands that are documented as changing state." After NOOP
    the connection is still not authenticated, so LIST is still not allowed."""
    assert_ok(client.command("NOOP"))
    assert_bad(client.command("LIST", '""', '"*"'))


def test_noop_reports_message_appended_by_other_session(session, connect, names):
    """RFC 9051 §6.1.2: "the NOOP command can be used as a periodic poll for new messages";
    RFC 9051 §5.2: "A server MUST send mailbox size updates automatically if a mailbox size
    change is observed during the processing of a command." """
    name = names.created(session)
    assert exists_count(session.select(name)) == 0
    other = connect(login=True)
    assert_ok(other.append(name, PLAIN))
    result = session.command("NOOP")
    assert_ok(result)
    assert exists_count(result) == 1


def test_noop_never_shrinks_exists_after_other_session_expunges(session, connect, names):
    """RFC 9051 §5.2: "it is NOT permitted to send an EXISTS response that would reduce the
    number of messages in the mailbox; only the EXPUNGE response can do this." """
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    assert exists_count(session.select(name)) == 1
    other = connect(login=True)
    assert_ok(other.select(name))
    assert_ok(other.command("STORE", "1", "+FLAGS.SILENT", r"(\Deleted)"))
    assert_ok(other.command("EXPUNGE"))
    result = session.command("NOOP")
    assert_ok(result)
    expunged = result.of("EXPUNGE")
    for response in result.of("EXISTS"):
        assert response.number >= 1 - len(expunged), f"EXISTS shrank without EXPUNGE: {result}"
    assert all(r.number == 1 for r in expunged), result


def test_noop_flag_updates_carry_uid_in_imap4rev2(rev2, connect, names):
    """RFC 9051 §7.5.2: "If the server chooses to send unsolicited FETCH responses, they MUST
    include UID FETCH item. Note that this is a new requirement when compared to
    [RFC3501]." """
    name = names.created(rev2)
    assert_ok(rev2.append(name, PLAIN))
    assert_ok(rev2.select(name))
    other = connect(login=True)
    assert_ok(other.select(name))
    assert_ok(other.command("STORE", "1", "+FLAGS.SILENT", r"(\Flagged)"))
    result = rev2.command("NOOP")
    assert_ok(result)
    for response in result.of("FETCH"):
        assert "UID" in fetch_items(response), f"unsolicited FETCH without UID: {response}"


@pytest.mark.parametrize("state", STATES)
def test_unknown_command_is_bad_and_session_continues(in_state, state):
    """RFC 9051 §6.1.2: "BAD - command unknown or arguments invalid"; RFC 9051 §7.1.3: the
    tagged BAD "reports a protocol-level error in the client's command"; RFC 9051 §6: "A
    rejected command (BAD response) never changes the state of the connection"."""
    client = in_state(state)
    assert_bad(client.command("XYZZY-RFC9051", "now"))
    result = client.command("CAPABILITY")
    assert_ok(result)
    assert_untagged(result, "CAPABILITY", count=1)


@pytest.mark.parametrize(
    "line",
    [b"tag-only", b"* NOOP", b"+ NOOP", b"bad(tag NOOP", b'"quoted" NOOP', b"t1 NOOP)"],
    ids=["tag-only", "star-tag", "plus-tag", "paren-tag", "quoted-tag", "trailing-paren"],
)
def test_malformed_command_line_gets_bad_and_session_continues(client, line):
    """RFC 9051 §7.1.3: "The BAD response indicates an error message from the server. When
    tagged, it reports a protocol-level error in the client's command; the tag indicates
    the command that caused the error. The untagged form indicates a protocol-level error
    for which the associated command can not be determined". Tag syntax (RFC 9051 §9):
    tag = 1*<any ASTRING-CHAR except "+">."""
    client.send_line(line)
    response = client.read_response()
    assert response.kind == "BAD", f"expected BAD for {line!r}, got {response}"
    assert_still_usable(client)


@pytest.mark.parametrize(
    "tag",
    [
        "A1",
        "a.b",
        "x-y_z",
        "9999",
        pytest.param(
            "t]1",
            marks=pytest.mark.dovecot_deviation('rejects "]" in a tag with an untagged BAD'),
        ),
        "~tilde",
        "very-long-tag-" * 4,
    ],
)
def test_tagged_response_carries_the_command_tag(client, tag):
    """RFC 9051 §2.2.2: "The server completion result response indicates the success or
    failure of the operation. It is tagged with the same tag as the client command that began
    the operation." tag = 1*<any ASTRING-CHAR except "+"> (RFC 9051 §9), so "]" and "~" are
    tag characters too."""
    client.send_raw(tag.encode() + b" NOOP\r\n")
    while True:
        response = client.read_response()
        assert not (response.tag == "*" and response.kind == "BAD"), client.tail()
        if response.tag == tag:
            break
    assert response.kind == "OK", client.tail()


def test_server_accepts_tag_reuse(client):
    """RFC 9051 §2.2.1: "the client SHOULD generate a unique tag for every command, but a
    server MUST accept tag reuse." """
    for _ in range(3):
        client.send_raw(b"same NOOP\r\n")
        assert client.read_until_tagged("same").tagged.kind == "OK"


TRAILING_SPACE = pytest.mark.dovecot_deviation("accepts trailing spaces after a command")


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"t1 NOOP ", marks=TRAILING_SPACE, id="trailing"),
        pytest.param(b"t1  NOOP", id="double"),
        pytest.param(b"t1 CAPABILITY  ", marks=TRAILING_SPACE, id="two-after"),
    ],
)
def test_extraneous_spaces_are_a_syntax_error(client, line):
    """RFC 9051 §2.2.1: "It is a syntax error to send a command with missing or extraneous
    spaces or arguments." RFC 9051 §2.2.2: BAD indicates "a protocol error such as
    unrecognized command or command syntax error"."""
    client.send_raw(line + b"\r\n")
    assert client.read_until_tagged("t1").tagged.kind == "BAD", client.tail()
    assert_still_usable(client)
