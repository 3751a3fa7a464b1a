"""RFC 9051 §6.3.13 IDLE (RFC 2177 for IMAP4rev1 servers advertising IDLE): the continuation
request, changes pushed while idling (made by a second connection, so that this works against
any server), and the end of the command on DONE."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    apply_expunges,
    assert_bad,
    assert_ok,
    assert_still_usable,
    fetched,
    message_flags,
    require_extension,
)
from tests.rfc9051.client import Result
from tests.rfc9051.fixtures import message
from tests.rfc9051.response import Response


@pytest.fixture
def idler(session, target):
    """A session that may use IDLE: IMAP4rev2, or IMAP4rev1 with the IDLE capability."""
    require_extension(session, target.capabilities, "IDLE")
    return session


def start_idle(client) -> tuple[str, list[Response]]:
    """Send IDLE and read up to the "+" continuation request; returns the tag and the untagged
    responses that came first. Fails when the server answers the command instead."""
    tag, _ = client.send_command("IDLE")
    before: list[Response] = []
    while True:
        response = client.read_response()
        if response.tag == "+":
            return tag, before
        assert response.tag == "*", f"IDLE answered without '+': {response}\n{client.tail()}"
        before.append(response)


def wait_for(client, wanted) -> list[Response]:
    """Read untagged responses while idling until one satisfies `wanted`; returns them all.
    A tagged response here would mean IDLE ended without DONE."""
    seen: list[Response] = []
    while True:
        response = client.read_response()
        assert response.tag == "*", f"{response} while idling (no DONE sent)\n{client.tail()}"
        seen.append(response)
        if wanted(response):
            return seen


def finish(client, tag: str, word: str = "DONE") -> Result:
    client.send_line(word)
    return client.read_until_tagged(tag)


def selected_pair(client, connect, names, count: int = 2) -> tuple[str, object]:
    """A mailbox of `count` messages, selected by `client`, and a second logged-in session
    (the other agent that changes it)."""
    name = names.created(client)
    for n in range(1, count + 1):
        assert_ok(client.append(name, message(f"message {n}")))
    assert_ok(client.select(name))
    return name, connect(login=True)


def test_idle_requests_a_continuation_and_ends_on_done(idler, connect, names):
    """RFC 9051 §6.3.13: "The server requests a response to the IDLE command using the
    continuation ("+") response."; "The IDLE command is terminated by the receipt of a "DONE"
    continuation from the client [...] the server [...] MUST immediately send the tagged
    response to the IDLE command"; "OK - IDLE completed after client sent "DONE""."""
    selected_pair(idler, connect, names)
    tag, _ = start_idle(idler)
    assert_ok(finish(idler, tag))
    assert_still_usable(idler)


def test_idle_pushes_new_mail_as_exists(idler, connect, names):
    """RFC 9051 §6.3.13: "as long as an IDLE command is active, the server is now free to send
    untagged EXISTS, EXPUNGE, FETCH, and other responses at any time."; example: "...time
    passes; new mail arrives... / S: * 4 EXISTS". (Delivered by APPEND from another
    connection.)"""
    name, other = selected_pair(idler, connect, names)
    tag, _ = start_idle(idler)
    assert_ok(other.append(name, message("while idling")))
    seen = wait_for(idler, lambda r: r.kind == "EXISTS")
    assert seen[-1].number == 3, seen
    assert_ok(finish(idler, tag))


def test_idle_pushes_expunges(idler, connect, names):
    """RFC 9051 §6.3.13: the server "is now free to send untagged EXISTS, EXPUNGE, FETCH, and
    other responses at any time"; example: "...time passes; another client expunges message
    3... / S: * 3 EXPUNGE"."""
    name, other = selected_pair(idler, connect, names, count=3)
    uids = [1, 2, 3]  # stand-ins: only the positions matter for the replay
    tag, _ = start_idle(idler)
    assert_ok(other.select(name))
    assert_ok(other.command("STORE", "3", "+FLAGS.SILENT", "(\\Deleted)"))
    assert_ok(other.command("EXPUNGE"))
    seen = wait_for(idler, lambda r: r.kind == "EXPUNGE")
    result = finish(idler, tag)
    assert_ok(result)
    replay = Result(tag, result.tagged, seen + result.responses)
    assert apply_expunges(uids, replay) == [1, 2], replay


def test_idle_pushes_flag_changes(idler, connect, names):
    """RFC 9051 §6.3.13: the server may send "untagged EXISTS, EXPUNGE, FETCH, and other
    responses at any time. If the server chooses to send unsolicited FETCH responses, they MUST
    include a UID FETCH item." (the UID requirement is IMAP4rev2's, RFC 9051 §7.5.2: "a new
    requirement when compared to [RFC3501]"); RFC 9051 §5.2: "A server SHOULD send message flag
    updates automatically"."""
    name, other = selected_pair(idler, connect, names)
    uids = {n: int(v["UID"]) for n, v in fetched(idler.command("FETCH", "1:2", "(UID)")).items()}
    tag, _ = start_idle(idler)
    assert_ok(other.select(name))
    assert_ok(other.command("STORE", "2", "+FLAGS.SILENT", "(\\Flagged)"))
    seen = wait_for(idler, lambda r: r.kind == "FETCH" and r.number == 2)
    assert_ok(finish(idler, tag))
    update = fetched(Result(tag, seen[-1], seen))[2]
    assert "\\flagged" in message_flags(update), seen
    if idler.dialect == "rev2":
        assert int(update.get("UID", 0)) == uids[2], seen


def test_idle_in_the_authenticated_state(idler):
    """RFC 9051 §6.3.13: IDLE is an authenticated-state command (RFC 9051 §6.3: commands "valid
    in the authenticated state"); RFC 9051 Appendix E: "IDLE command can now return updates not
    related to the currently selected mailbox state." """
    tag, _ = start_idle(idler)
    assert_ok(finish(idler, tag))
    assert_still_usable(idler)


@pytest.mark.parametrize("word", ["done", "Done", "dOnE"])
def test_idle_done_is_case_insensitive(idler, word):
    """RFC 9051 §9: idle = "IDLE" CRLF "DONE"; "Unless otherwise noted, all alphabetic characters
    are case insensitive. [...] Implementations MUST accept these strings in a case-insensitive
    fashion." """
    tag, _ = start_idle(idler)
    assert_ok(finish(idler, tag, word))
    assert_still_usable(idler)


@pytest.mark.parametrize(
    "line",
    ["NOOP", "t999 NOOP", "DONE NOW", "DONEX", ""],
    ids=["noop", "tagged", "extra", "x", "empty"],
)
def test_idle_ends_only_on_done(idler, line):
    """RFC 9051 §6.3.13: "The IDLE command is terminated by the receipt of a "DONE" continuation
    from the client"; "The client MUST NOT send a command while the server is waiting for the
    DONE, since the server will not be able to distinguish a command from a continuation.";
    idle = "IDLE" CRLF "DONE" (RFC 9051 §9) — any other continuation is a syntax error: "BAD -
    command unknown or arguments invalid"."""
    tag, _ = start_idle(idler)
    result = finish(idler, tag, line)
    assert_bad(result)
    assert_still_usable(idler)


@pytest.mark.dovecot_deviation("ignores arguments after IDLE and starts idling")
def test_idle_with_arguments_is_bad(idler):
    """RFC 9051 §6.3.13: "Arguments: none" / "BAD - command unknown or arguments invalid"."""
    tag, _ = idler.send_command("IDLE", "now")
    response = idler.read_response()
    while response.tag == "*":
        response = idler.read_response()
    if response.tag == "+":  # idling after all: end it, then fail
        finish(idler, tag)
        pytest.fail(f"IDLE with an argument was accepted\n{idler.tail()}")
    assert response.tag == tag and response.kind == "BAD", idler.tail()
    assert_still_usable(idler)


def test_idle_before_login_is_bad(client):
    """RFC 9051 §6.3.13: IDLE is a command of the authenticated state (RFC 9051 §6.3: commands
    "valid in the authenticated state"); RFC 2177 §4: "Valid only in Authenticated or Selected
    state"."""
    assert_bad(client.command("IDLE"))
    assert_still_usable(client)
