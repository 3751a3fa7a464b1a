"""The soak test's checker and IMAP client can fail: each kind of problem it looks for is
found in a made-up outcome, and an unexpected IMAP answer is recorded as an error."""

from __future__ import annotations

import asyncio

import pytest

from elektromail.testing import MailServer
from tests.soak.clients import ImapClient, ImapError, Outcome
from tests.soak.run import HTTP_AGREES, IDLE, STORED_ONCE, UIDS, check

BOX = ("alice", "INBOX")


def outcome_with(*message_ids: str) -> Outcome:
    outcome = Outcome()
    for message_id in message_ids:
        outcome.acknowledge(*BOX, message_id)
    return outcome


def only(problems: dict[str, list[str]]) -> dict[str, list[str]]:
    return {kind: lines for kind, lines in problems.items() if lines}


def test_a_round_that_holds_has_no_problems():
    stored = {BOX: [(1, "<a>"), (2, "<b>")]}
    assert only(check(outcome_with("<a>", "<b>"), stored, stored)) == {}


@pytest.mark.parametrize(
    ("acked", "stored", "expected"),
    [
        (["<a>", "<b>"], [(1, "<a>")], "alice/INBOX: <b> acknowledged, not stored"),
        (["<a>"], [(1, "<a>"), (2, "<a>")], "alice/INBOX: <a> stored 2 times"),
        (["<a>"], [(1, "<a>"), (2, "<x>")], "alice/INBOX: '<x>' stored, not acknowledged"),
    ],
    ids=["lost", "twice", "unacknowledged"],
)
def test_lost_and_doubled_messages_are_found(acked, stored, expected):
    rows = {BOX: stored}
    assert only(check(outcome_with(*acked), rows, rows)) == {STORED_ONCE: [expected]}


def test_uids_that_do_not_increase_are_found():
    rows = {BOX: [(2, "<a>"), (2, "<b>")]}
    problems = only(check(outcome_with("<a>", "<b>"), rows, rows))
    assert problems == {UIDS: ["alice/INBOX: UIDs do not increase with sequence numbers"]}


def test_a_named_uid_that_is_not_the_stored_one_is_found():
    outcome = outcome_with("<a>", "<b>")
    outcome.named[(*BOX, "injector 0")] = [(1, "<a>"), (3, "<b>")]
    rows = {BOX: [(1, "<a>"), (2, "<b>")]}
    assert only(check(outcome, rows, rows)) == {
        UIDS: ["alice/INBOX: injector 0 was told UID 3 for <b>, stored as 2"]
    }


def test_an_api_listing_that_differs_is_found():
    rows = {BOX: [(1, "<a>")]}
    problems = only(check(outcome_with("<a>"), rows, {BOX: [(2, "<a>")]}))
    assert problems == {HTTP_AGREES: ["alice/INBOX: other UIDs or Message-IDs than over IMAP"]}


def test_an_idler_that_missed_a_message_is_found():
    outcome = outcome_with("<a>", "<b>")
    outcome.idle_seen.append(("idler 0", BOX, [0, 1]))
    rows = {BOX: [(1, "<a>"), (2, "<b>")]}
    assert only(check(outcome, rows, rows)) == {
        IDLE: ["idler 0: last EXISTS 1, the mailbox ended with 2"]
    }


def test_the_imap_client_records_answers_it_did_not_expect():
    async def talk(port: int) -> Outcome:
        outcome = Outcome()
        client = ImapClient("probe", outcome)
        await client.connect(port)
        await client.login("user")
        with pytest.raises(ImapError):
            await client.command('SELECT "no such mailbox"')
        await client.command('SELECT "no such mailbox"', expect="NO")  # expected: no error
        await client.logout()  # its BYE is expected too
        return outcome

    with MailServer(users="user:soak-pw") as mail:
        outcome = asyncio.run(talk(mail.imap_port))
    assert len(outcome.errors) == 1
    assert outcome.errors[0].startswith(
        "probe: 'SELECT \"no such mailbox\"' -> b't2 NO [NONEXISTENT]"
    )
