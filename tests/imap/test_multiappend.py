"""MULTIAPPEND (RFC 3502): several messages in one APPEND, all stored or none, with APPENDUID's
UID set (RFC 4315 §3), over loopback sockets; the limits per message and per command."""

from __future__ import annotations

import re

import pytest

from elektromail.testing import MailServer
from tests.imap import test_append
from tests.imap.test_append import CONTINUE, LIMIT, MESSAGE, stored, uidvalidity
from tests.imap.test_session_commands import LOGGED_IN, USERS, still_usable
from tests.imap.wire import ImapWire

SECOND = b"Subject: two\r\n\r\nsecond body\r\n"
THIRD = b"Subject: three\r\n\r\nthird body\r\n"
mail = test_append.mail  # the fixtures: a server with max_message_size=LIMIT, a session on it
wire = test_append.wire
APPENDED = re.compile(rb"a OK \[APPENDUID (\d+) ([0-9:,]+)\] APPEND completed\r\n\Z")


def nonsync(message: bytes) -> bytes:
    return b"{%d+}\r\n" % len(message) + message


def test_capability_lists_multiappend(wire):
    """RFC 3502 §3: "A server that supports this extension indicates this with a capability
    name of "MULTIAPPEND"."."""
    assert b" MULTIAPPEND " in wire.command(b"c CAPABILITY")


def test_each_synchronising_literal_gets_its_own_continuation(mail, wire):
    """RFC 3502 §6.3.11: each message has its flags and date-time, and a client sending
    synchronising literals waits for "+" before each one."""
    wire.send(b"a APPEND INBOX (\\Seen) {%d}\r\n" % len(MESSAGE))
    assert wire.line() == CONTINUE
    wire.send(MESSAGE + b' (\\Flagged $Work) "07-Feb-1994 21:52:25 -0800" {%d}\r\n' % len(SECOND))
    assert wire.line() == CONTINUE
    wire.send(SECOND + b" {%d}\r\n" % len(THIRD))
    assert wire.line() == CONTINUE
    wire.send(THIRD + b"\r\n")
    answer = wire.until(b"a")
    assert answer == b"a OK [APPENDUID %d 1:3] APPEND completed\r\n" % uidvalidity(mail)
    rows = stored(mail)
    assert [(row.uid, row.raw, row.flags) for row in rows] == [
        (1, MESSAGE, ("\\Seen",)),
        (2, SECOND, ("\\Flagged", "$Work")),
        (3, THIRD, ()),
    ]
    assert (rows[1].internal_date, rows[1].tz_minutes) == (760686745, -480)


def test_non_synchronising_and_synchronising_literals_mix(mail, wire):
    """RFC 7888 §3 (LITERAL+) in a MULTIAPPEND: only the synchronising literal waits."""
    wire.send(b"a APPEND INBOX " + nonsync(MESSAGE) + b" {%d}\r\n" % len(SECOND))
    assert wire.line() == CONTINUE
    wire.send(SECOND + b" " + nonsync(THIRD) + b"\r\n")
    assert APPENDED.match(wire.until(b"a")).group(2) == b"1:3"
    assert [row.raw for row in stored(mail)] == [MESSAGE, SECOND, THIRD]


def test_appenduid_names_the_uids_after_earlier_messages(mail, wire):
    """RFC 4315 §3: APPENDUID's append-uid is a uid-set for a MULTIAPPEND."""
    wire.command(b"a APPEND INBOX " + nonsync(MESSAGE))
    answer = wire.command(b"a APPEND INBOX " + nonsync(SECOND) + b" " + nonsync(THIRD))
    assert APPENDED.match(answer).group(2) == b"2:3"


def test_a_selected_session_learns_of_every_message(mail, wire):
    other = ImapWire(mail.imap_port)
    other.login()
    other.command(b"s SELECT INBOX")
    wire.command(b"a APPEND INBOX " + nonsync(MESSAGE) + b" " + nonsync(SECOND))
    assert b"* 2 EXISTS\r\n" in other.command(b"n NOOP")
    other.close()


@pytest.mark.parametrize(
    ("tail", "answer"),
    [
        (b" {0+}\r\n", b"a NO Can't save a zero byte message\r\n"),
        (b" (\\Bogus) " + nonsync(SECOND), b"a BAD Invalid system flag \\Bogus\r\n"),
        (b' "31-Feb-1994 21:52:25 -0800" ' + nonsync(SECOND), None),
        (b" (\\Seen)", b"a BAD a message literal is missing after its flags or date-time\r\n"),
        (b' "07-Feb-1994 21:52:25 -0800"', None),
        (b" extra", b"a BAD unexpected arguments after the message\r\n"),
        (b" (\\Seen " + nonsync(SECOND), b"a BAD unbalanced parentheses: missing ')'\r\n"),
        (
            b" " + nonsync(b"x" * (LIMIT + 1)),
            b"a NO [TOOBIG] Literal too big (limit 2000 bytes)\r\n",
        ),
    ],
    ids=[
        "empty-second",
        "bad-flag",
        "bad-date",
        "literal-missing",
        "date-without-literal",
        "trailing-atom",
        "unterminated-flag-list",
        "second-too-big",
    ],
)
def test_a_bad_second_message_stores_neither(mail, wire, tail, answer):
    """RFC 3502 §6.3.11: "If the server is unable to append one or more messages, it MUST NOT
    append any of them"; a malformed one makes the whole command BAD."""
    reply = wire.command(b"a APPEND INBOX " + nonsync(MESSAGE) + tail)
    if answer is None:
        assert reply.startswith(b"a BAD "), reply
    else:
        assert reply == answer
    still_usable(wire)
    assert stored(mail) == []


def test_a_synchronising_second_literal_too_big_is_refused_before_it_is_sent(mail, wire):
    """The per-message limit holds for each literal: the second's "+" is never sent."""
    wire.send(b"a APPEND INBOX " + nonsync(MESSAGE) + b" {%d}\r\n" % (LIMIT + 1))
    assert wire.line() == b"a NO [TOOBIG] Literal too big (limit 2000 bytes)\r\n"
    still_usable(wire)
    assert stored(mail) == []


def test_messages_together_over_the_command_limit_are_toobig(mail, wire):
    """Each message is under max_message_size, but one command holds at most four times it:
    RFC 4469 §4.2 TOOBIG; nothing is stored and the connection stays usable."""
    body = b"Subject: big\r\n\r\n" + b"x" * (LIMIT - 100) + b"\r\n"
    command = b"a APPEND INBOX" + b"".join(b" " + nonsync(body) for _ in range(5))
    assert wire.command(command) == (
        b"a NO [TOOBIG] Command too big (limit 8000 bytes in one command)\r\n"
    )
    still_usable(wire)
    assert stored(mail) == []


def test_a_synchronising_literal_past_the_command_limit_is_refused(mail, wire):
    body = b"Subject: big\r\n\r\n" + b"x" * (LIMIT - 100) + b"\r\n"
    wire.send(b"a APPEND INBOX" + b"".join(b" " + nonsync(body) for _ in range(4)))
    wire.send(b" {%d}\r\n" % len(body))
    assert wire.line() == b"a NO [TOOBIG] Command too big (limit 8000 bytes in one command)\r\n"
    still_usable(wire)
    assert stored(mail) == []


def test_multiappend_to_a_missing_mailbox_is_trycreate(mail, wire):
    answer = wire.command(b"a APPEND Nowhere " + nonsync(MESSAGE) + b" " + nonsync(SECOND))
    assert answer == b"a NO [TRYCREATE] Mailbox does not exist\r\n"


def test_multiappend_before_login_is_refused_without_reading_the_literal(mail):
    """RFC 9051 §6.3.12: APPEND is valid only once authenticated."""
    wire = ImapWire(mail.imap_port)
    wire.send(b"a APPEND INBOX " + nonsync(MESSAGE) + b" {5}\r\n")
    assert wire.line() == b"a BAD APPEND not allowed before authentication\r\n"
    still_usable(wire)
    wire.close()


def test_a_client_gone_in_the_second_literal_stores_nothing(mail, wire):
    """A message half sent is no message: the first, complete, is not stored alone either,
    and other sessions carry on."""
    other = ImapWire(mail.imap_port)
    other.login()
    other.command(b"s SELECT INBOX")
    wire.send(b"a APPEND INBOX " + nonsync(MESSAGE) + b" {%d}\r\n" % len(SECOND))
    assert wire.line() == CONTINUE
    wire.send(SECOND[:5])
    wire.close()
    assert other.command(b"n NOOP") == b"n OK NOOP completed\r\n"
    assert stored(mail) == []
    assert APPENDED.search(other.command(b"a APPEND INBOX " + nonsync(THIRD)))
    other.close()


def test_multiappended_messages_survive_a_restart(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(users=USERS, smtp_port=None, db=db) as server:
        with ImapWire(server.imap_port) as client:
            assert LOGGED_IN.match(client.login())
            client.command(b"a APPEND INBOX " + nonsync(MESSAGE) + b" " + nonsync(SECOND))
    with MailServer(users=USERS, smtp_port=None, db=db) as server:
        assert [row.raw for row in stored(server)] == [MESSAGE, SECOND]


def test_the_store_keeps_none_when_one_message_fails(mail, monkeypatch):
    """All or none in the store itself (RFC 3502 §6.3.11): the messages are one write of the
    group commit, so a failure in the second rolls the first back, UIDNEXT included."""
    from elektromail.store import db
    from elektromail.store.rows import unparsed

    real = db._append_named

    def second_fails(cursor, user_id, name, message):
        if message.raw == SECOND:  # each time: a failed group is run again, write by write
            raise RuntimeError("disk on fire")
        return real(cursor, user_id, name, message)

    monkeypatch.setattr(db, "_append_named", second_fails)

    async def append_two():
        store = mail.server.store
        user = await store.get_user("user")
        before = (await store.get_mailbox(user.id, "INBOX")).uidnext
        try:
            await store.append_named_all(user.id, "INBOX", [unparsed(MESSAGE), unparsed(SECOND)])
        except RuntimeError:
            pass
        else:
            raise AssertionError("the failure was not reported")
        return before, (await store.get_mailbox(user.id, "INBOX")).uidnext

    before, after = mail.call(append_two)
    assert before == after
    assert stored(mail) == []


def test_multiappend_in_an_imap4rev2_session(mail, wire):
    """RFC 9051 §9 keeps RFC 3502's grammar (append = "APPEND" SP mailbox 1*append-message)
    in the rev2 dialect; APPENDUID is part of IMAP4rev2 itself."""
    assert wire.command(b"e ENABLE IMAP4rev2").endswith(b"e OK ENABLE completed\r\n")
    answer = wire.command(b"a APPEND INBOX " + nonsync(MESSAGE) + b" " + nonsync(SECOND))
    assert APPENDED.match(answer).group(2) == b"1:2"
    assert [row.raw for row in stored(mail)] == [MESSAGE, SECOND]
