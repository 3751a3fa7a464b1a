"""The sans-I/O IMAP Connection, driven with bytes and a recording peer, against a post office
that answers at once: exact bytes out, and what it asks of the I/O side, with no socket."""

from __future__ import annotations

import base64

import pytest

from elektromail.config import Settings
from elektromail.imap.connection import MAX_QUEUED, CommandContext, Connection
from elektromail.store.errors import StoreFull, StoreUnavailable
from tests.imap.fakes import FakePostOffice, RecordingPeer, connect, make_services

ANY_STATE_CAPS = (
    b"IMAP4rev1 IMAP4rev2 LITERAL+ ENABLE ID UTF8=ACCEPT MULTIAPPEND CATENATE URL-PARTIAL "
    b"UNAUTHENTICATE CONDSTORE QRESYNC OBJECTID SAVEDATE PREVIEW "
    b"BINARY IDLE STATUS=SIZE "
    b"LIST-EXTENDED LIST-STATUS SPECIAL-USE CHILDREN NAMESPACE CREATE-SPECIAL-USE UNSELECT MOVE "
    b"UIDPLUS NOTIFY QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE ESEARCH SEARCHRES WITHIN "
    b"CONTEXT=SEARCH "
    b"SORT SORT=DISPLAY ESORT CONTEXT=SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES THREAD=REFS"
)
NOT_AUTH_CAPS = (
    b"IMAP4rev1 IMAP4rev2 LITERAL+ ENABLE ID UTF8=ACCEPT AUTH=PLAIN AUTH=LOGIN SASL-IR STARTTLS "
    b"MULTIAPPEND CATENATE URL-PARTIAL CONDSTORE QRESYNC OBJECTID SAVEDATE PREVIEW BINARY IDLE "
    b"STATUS=SIZE LIST-EXTENDED "
    b"LIST-STATUS SPECIAL-USE CHILDREN NAMESPACE CREATE-SPECIAL-USE UNSELECT MOVE UIDPLUS ESEARCH "
    b"SEARCHRES WITHIN CONTEXT=SEARCH SORT SORT=DISPLAY ESORT CONTEXT=SORT THREAD=ORDEREDSUBJECT "
    b"THREAD=REFERENCES THREAD=REFS"
)
LOGGED_IN = b"OK [CAPABILITY " + ANY_STATE_CAPS + b"] Logged in\r\n"
CAPABILITY_AFTER_LOGIN = b"* CAPABILITY " + ANY_STATE_CAPS + b"\r\nc OK CAPABILITY completed\r\n"
GO_AHEAD = b"+ Ready for literal data\r\n"
PLAIN = base64.b64encode(b"\0user\0pass")
LOGIN_USER = base64.b64encode(b"user")
LOGIN_PASS = base64.b64encode(b"pass")
LONG = b"x" * 70_000  # over the reader's 64 KiB line limit


def logged_in(**kwargs) -> tuple[Connection, RecordingPeer]:
    connection, peer = connect(make_services(**kwargs))
    connection.feed(b"l LOGIN user pass\r\n")
    assert peer.take() == b"l " + LOGGED_IN
    return connection, peer


def test_greeting_names_the_capabilities_of_the_unauthenticated_state() -> None:
    peer = RecordingPeer()
    Connection(make_services(), peer).greet()
    assert peer.calls == [
        ("send", b"* OK [CAPABILITY " + NOT_AUTH_CAPS + b"] elektromail ready\r\n")
    ]


def test_greeting_over_tls_leaves_out_starttls() -> None:
    peer = RecordingPeer()
    Connection(make_services(), peer, tls=True).greet()
    assert b" STARTTLS" not in peer.sent
    assert peer.sent.startswith(b"* OK [CAPABILITY IMAP4rev1 ")


# Each case: what the client sends (a list: one feed each), and every byte answered.
NOT_AUTHENTICATED = [
    pytest.param(
        [b"a CAPABILITY\r\n"],
        b"* CAPABILITY " + NOT_AUTH_CAPS + b"\r\na OK CAPABILITY completed\r\n",
        id="capability",
    ),
    pytest.param([b"a NOOP\r\n"], b"a OK NOOP completed\r\n", id="noop"),
    pytest.param([b"a NOOP x\r\n"], b"a BAD NOOP takes no arguments\r\n", id="noop-with-argument"),
    pytest.param([b"a LOGIN user pass\r\n"], b"a " + LOGGED_IN, id="login"),
    pytest.param(
        [b"a LOGIN user wrong\r\n"],
        b"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
        id="login-failed",
    ),
    pytest.param(
        [b"a NOOP\r\nb LOGIN user pass\r\nc CAPABILITY\r\n"],
        b"a OK NOOP completed\r\nb " + LOGGED_IN + CAPABILITY_AFTER_LOGIN,
        id="pipelined-in-order",
    ),
    pytest.param([b"a LOGIN {4}\r\n"], GO_AHEAD, id="literal-go-ahead"),
    pytest.param(
        [b"a LOGIN {4}\r\n", b"user pass\r\n"], GO_AHEAD + b"a " + LOGGED_IN, id="literal"
    ),
    pytest.param([b"a LOGIN {4+}\r\nuser pass\r\n"], b"a " + LOGGED_IN, id="literal-plus"),
    pytest.param(
        [b"a FOO {4}\r\n", b"b NOOP\r\n"],
        b"a BAD Unknown command FOO\r\nb OK NOOP completed\r\n",
        id="literal-of-unknown-command-refused",
    ),
    pytest.param(
        [b"a SELECT {5}\r\n", b"b NOOP\r\n"],
        b"a BAD SELECT not allowed before authentication\r\nb OK NOOP completed\r\n",
        id="literal-of-command-in-wrong-state-refused",
    ),
    pytest.param(
        [b"a FOO {4}\r\nabcd\r\n"],
        GO_AHEAD + b"a BAD Unknown command FOO\r\n",
        id="literal-sent-without-waiting-is-read",
    ),
    pytest.param(
        [b"a " + LONG + b"\r\nb NOOP\r\n"],
        b"a BAD [TOOBIG] Line too long\r\nb OK NOOP completed\r\n",
        id="line-too-long",
    ),
    pytest.param([b'a NOOP "open\r\n'], b"a BAD unterminated quoted string\r\n", id="parse-error"),
    pytest.param([b"(x NOOP\r\n"], b"* BAD invalid tag\r\n", id="parse-error-without-tag"),
    pytest.param([b"a FOO\r\n"], b"a BAD Unknown command FOO\r\n", id="unknown-command"),
    pytest.param(
        [b"a SELECT INBOX\r\n"],
        b"a BAD SELECT not allowed before authentication\r\n",
        id="wrong-state",
    ),
    pytest.param([b"a UID\r\n"], b"a BAD UID needs a command\r\n", id="uid-alone"),
    pytest.param([b'a UID "FETCH"\r\n'], b"a BAD UID needs a command\r\n", id="uid-string"),
    pytest.param([b"a UID FOO\r\n"], b"a BAD Unknown command UID FOO\r\n", id="uid-unknown"),
    pytest.param(
        [b"a UID NOOP\r\n"], b"a BAD Unknown command UID NOOP\r\n", id="uid-of-non-uid-command"
    ),
    pytest.param(
        [b"a UID FETCH 1 FLAGS\r\n"],
        b"a BAD FETCH not allowed before authentication\r\n",
        id="uid-command-in-wrong-state",
    ),
    pytest.param(
        [b"a AUTHENTICATE PLAIN\r\n", PLAIN + b"\r\n"],
        b"+ \r\na " + LOGGED_IN,
        id="authenticate-plain",
    ),
    pytest.param(
        [b"a AUTHENTICATE PLAIN\r\n" + PLAIN + b"\r\n"],
        b"+ \r\na " + LOGGED_IN,
        id="authenticate-response-in-the-same-packet",
    ),
    pytest.param(
        [b"a AUTHENTICATE LOGIN\r\n", LOGIN_USER + b"\r\n", LOGIN_PASS + b"\r\n"],
        b"+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\na " + LOGGED_IN,
        id="authenticate-login",
    ),
    pytest.param(
        [b"a AUTHENTICATE PLAIN\r\n", b"*\r\n"],
        b"+ \r\na BAD Authentication cancelled\r\n",
        id="authenticate-cancelled",
    ),
    pytest.param(
        [b"a AUTHENTICATE PLAIN\r\n", LONG + b"\r\nb NOOP\r\n"],
        b"+ \r\na BAD [TOOBIG] Line too long\r\nb OK NOOP completed\r\n",
        id="authenticate-response-too-long",
    ),
    pytest.param(
        [b"a LOGOUT\r\nb NOOP\r\n"],
        b"* BYE elektromail logging out\r\na OK LOGOUT completed\r\n",
        id="logout-ends-the-pipeline",
    ),
]


@pytest.mark.parametrize(("feeds", "expected"), NOT_AUTHENTICATED)
def test_not_authenticated(feeds: list[bytes], expected: bytes) -> None:
    connection, peer = connect()
    for data in feeds:
        connection.feed(data)
    assert peer.take() == expected


AUTHENTICATED = [
    pytest.param(
        [b"a CAPABILITY\r\n"],
        b"* CAPABILITY " + ANY_STATE_CAPS + b"\r\na OK CAPABILITY completed\r\n",
        id="capability",
    ),
    pytest.param([b"a LOGIN x y\r\n"], b"a BAD LOGIN not allowed now\r\n", id="login-again"),
    pytest.param(
        [b"a FETCH 1 FLAGS\r\n"], b"a BAD FETCH needs a selected mailbox\r\n", id="not-selected"
    ),
    pytest.param(
        [b"a UID STORE 1 FLAGS ()\r\n"],
        b"a BAD STORE needs a selected mailbox\r\n",
        id="uid-not-selected",
    ),
    pytest.param(
        [b"a STARTTLS\r\n"], b"a BAD STARTTLS not allowed now\r\n", id="starttls-after-login"
    ),
    pytest.param([b"a IDLE\r\n", b"DONE\r\n"], b"+ idling\r\na OK IDLE terminated\r\n", id="idle"),
    pytest.param(
        [b"a IDLE\r\n", b"NOOP\r\n"],
        b"+ idling\r\na BAD expected DONE to end IDLE\r\n",
        id="idle-needs-done",
    ),
]


@pytest.mark.parametrize(("feeds", "expected"), AUTHENTICATED)
def test_authenticated(feeds: list[bytes], expected: bytes) -> None:
    connection, peer = logged_in()
    for data in feeds:
        connection.feed(data)
    assert peer.take() == expected


def test_a_command_fed_one_byte_at_a_time_is_answered_as_if_sent_at_once() -> None:
    data = b"a LOGIN {4}\r\nuser pass\r\nb NOOP\r\n"
    connection, peer = connect()
    for i in range(len(data)):
        connection.feed(data[i : i + 1])
    assert peer.take() == GO_AHEAD + b"a " + LOGGED_IN + b"b OK NOOP completed\r\n"


def test_commands_behind_a_pending_one_wait_for_it() -> None:
    postoffice = FakePostOffice(hold=True)
    connection, peer = connect(make_services(postoffice))
    connection.feed(b"a LOGIN user pass\r\nb CAPABILITY\r\n")
    assert peer.take() == b""
    postoffice.release()
    assert peer.take() == (
        b"a " + LOGGED_IN + b"* CAPABILITY " + ANY_STATE_CAPS + b"\r\nb OK CAPABILITY completed\r\n"
    )


def test_a_literal_behind_a_pending_command_gets_its_go_ahead_at_once() -> None:
    """Whether the queued command may run is decided only when its turn comes: a literal
    announced meanwhile is read, not refused on the state of the moment."""
    postoffice = FakePostOffice(hold=True)
    connection, peer = connect(make_services(postoffice))
    connection.feed(b"a LOGIN user pass\r\nb SELECT {5}\r\n")
    assert peer.take() == GO_AHEAD


def test_reading_pauses_while_too_many_commands_wait_and_resumes_after() -> None:
    postoffice = FakePostOffice(hold=True)
    connection, peer = connect(make_services(postoffice))
    connection.feed(b"a LOGIN user pass\r\n" + b"n NOOP\r\n" * (MAX_QUEUED + 1))
    assert peer.asked("pause_reading") == [("pause_reading",)]
    assert peer.asked("resume_reading") == []
    postoffice.release()
    assert peer.asked("resume_reading") == [("resume_reading",)]
    assert peer.take().count(b"n OK NOOP completed\r\n") == MAX_QUEUED + 1


STORE_FAILURES = [
    pytest.param(
        StoreUnavailable("database is read-only"),
        b"a NO [UNAVAILABLE] Mail store temporarily unavailable, try again later\r\n",
        id="unavailable",
    ),
    pytest.param(
        StoreFull("database or disk is full"),
        b"a NO [OVERQUOTA] Not enough disk space, try again later\r\n",
        id="full",
    ),
    pytest.param(RuntimeError("a bug"), b"a NO [SERVERBUG] Internal server error\r\n", id="bug"),
]


@pytest.mark.parametrize(("failure", "expected"), STORE_FAILURES)
def test_a_failing_handler_gets_a_tagged_no_and_the_session_goes_on(
    failure: Exception, expected: bytes
) -> None:
    connection, peer = connect(make_services(FakePostOffice(failure=failure)))
    connection.feed(b"a LOGIN user pass\r\nb NOOP\r\n")
    assert peer.take() == expected + b"b OK NOOP completed\r\n"
    assert peer.asked("close") == []


def test_literal_over_the_message_limit_is_refused_before_the_go_ahead() -> None:
    connection, peer = connect(make_services(settings=Settings(max_message_size=10)))
    connection.feed(b"a APPEND INBOX {11}\r\n")
    connection.feed(b"b NOOP\r\n")
    assert peer.take() == (
        b"a NO [TOOBIG] Literal too big (limit 10 bytes)\r\nb OK NOOP completed\r\n"
    )


def test_non_synchronising_literal_over_the_limit_is_skipped_and_refused() -> None:
    connection, peer = connect(make_services(settings=Settings(max_message_size=10)))
    connection.feed(b"a APPEND INBOX {11+}\r\n01234567890\r\nb NOOP\r\n")
    assert peer.take() == (
        b"a NO [TOOBIG] Literal too big (limit 10 bytes)\r\nb OK NOOP completed\r\n"
    )


# --- STARTTLS --------------------------------------------------------------------------------


def test_starttls_asks_the_peer_for_tls_after_the_ok_and_drops_the_plaintext_after_it() -> None:
    connection, peer = connect()
    connection.feed(b"a STARTTLS\r\nb LOGIN user pass\r\n")
    assert peer.calls == [("send", b"a OK Begin TLS negotiation now\r\n"), ("start_tls",)]
    connection.handshake_completed()
    connection.feed(b"c CAPABILITY\r\n")
    caps = NOT_AUTH_CAPS.replace(b" STARTTLS", b"")
    assert peer.take() == (
        b"a OK Begin TLS negotiation now\r\n* CAPABILITY "
        + caps
        + b"\r\nc OK CAPABILITY completed\r\n"
    )


def test_starttls_where_the_peer_cannot_is_refused() -> None:
    connection, peer = connect(peer=RecordingPeer(tls_possible=False))
    connection.feed(b"a STARTTLS\r\n")
    assert peer.take() == b"a NO [UNAVAILABLE] TLS is not available on this connection\r\n"
    assert peer.asked("start_tls") == []


def test_starttls_with_an_argument_starts_nothing() -> None:
    connection, peer = connect()
    connection.feed(b"a STARTTLS now\r\n")
    assert peer.take() == b"a BAD STARTTLS takes no arguments\r\n"
    assert peer.asked("start_tls") == []


def test_starttls_on_a_tls_connection_is_refused() -> None:
    connection, peer = connect(tls=True)
    connection.feed(b"a STARTTLS\r\n")
    assert peer.take() == b"a BAD TLS is already active\r\n"
    assert peer.asked("start_tls") == []


# --- goodbyes --------------------------------------------------------------------------------


def test_logout_closes_and_nothing_more_is_read() -> None:
    connection, peer = connect()
    connection.feed(b"a LOGOUT\r\n")
    assert peer.calls[-1] == ("close",)
    assert connection.closing
    connection.feed(b"b NOOP\r\n")
    assert peer.take() == b"* BYE elektromail logging out\r\na OK LOGOUT completed\r\n"


def test_timed_out_says_bye_and_closes() -> None:
    connection, peer = connect()
    connection.timed_out()
    assert peer.calls == [("send", b"* BYE Autologout; idle for too long\r\n"), ("close",)]
    assert connection.closing


def test_turned_away_says_bye_as_its_greeting() -> None:
    peer = RecordingPeer()
    connection = Connection(make_services(), peer)
    connection.turn_away()
    assert peer.calls == [
        ("send", b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n"),
        ("close",),
    ]
    connection.feed(b"a NOOP\r\n")
    assert peer.take() == b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n"


def test_an_ended_session_says_why_and_writes_nothing_after() -> None:
    postoffice = FakePostOffice()
    connection, peer = connect(make_services(postoffice))
    connection.feed(b"a LOGIN user pass\r\n")
    postoffice.hold = True
    connection.feed(b"b LOGIN user pass\r\n")  # refused, but still in flight when it ends
    peer.take()
    connection.end_session("User deleted")
    assert peer.take() == b"* BYE [UNAVAILABLE] User deleted\r\n"
    postoffice.release()
    assert peer.take() == b""
    assert peer.asked("close") == [("close",)]


def test_a_lost_connection_ends_a_waiting_authenticate_silently() -> None:
    connection, peer = connect()
    connection.feed(b"a AUTHENTICATE PLAIN\r\n")
    assert peer.take() == b"+ \r\n"
    connection.connection_lost()
    assert peer.take() == b""
    connection.feed(b"b NOOP\r\n")
    assert peer.take() == b""


# --- timeouts --------------------------------------------------------------------------------


def test_the_login_timeout_applies_until_a_login_succeeds_then_the_session_timeout() -> None:
    settings = Settings(imap_login_timeout=60, imap_timeout=1800)
    connection, peer = connect(make_services(settings=settings))
    assert connection.idle_timeout == 60
    connection.feed(b"a LOGIN user wrong\r\nb NOOP\r\n")
    assert peer.asked("timeout") == []
    assert connection.idle_timeout == 60
    connection.feed(b"c LOGIN user pass\r\nd NOOP\r\n")
    assert peer.asked("timeout") == [("timeout", 1800)]
    assert connection.idle_timeout == 1800


def test_authenticate_switches_the_timeout_too() -> None:
    connection, peer = connect(make_services(settings=Settings(imap_timeout=900)))
    connection.feed(b"a AUTHENTICATE PLAIN " + PLAIN + b"\r\n")
    assert peer.asked("timeout") == [("timeout", 900)]


# --- paced output ----------------------------------------------------------------------------


def test_a_paced_answer_waits_while_the_client_is_behind() -> None:
    connection, peer = connect()
    ctx = CommandContext(connection, "a", "FETCH", uid=False)
    with ctx.paced() as pacing:
        ctx.write(b"* 1 FETCH (UID 1)\r\n")
        assert pacing.sent().called  # the client keeps up: no wait
        assert ("begin_paced_output",) not in peer.calls  # nothing reached the peer yet
        connection.pause_writing()
        ctx.write(b"* 2 FETCH (UID 2)\r\n")
        waiting = pacing.sent()
        # the first bytes that go out are paced: the peer is asked before they are sent
        assert peer.calls[-2] == ("begin_paced_output",)
        assert peer.take() == b"* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\n"  # sent, then wait
        assert not waiting.called and connection.waiting_for_client
        connection.resume_writing()
        assert waiting.called and not connection.waiting_for_client
    assert peer.calls[-1] == ("end_paced_output",)


def test_a_short_paced_answer_is_not_paced_by_the_peer() -> None:
    """A FETCH of one message: nothing reaches the peer before the pacing ends, so it is never
    asked to pace (nor to stop)."""
    connection, peer = connect()
    ctx = CommandContext(connection, "a", "FETCH", uid=False)
    with ctx.paced() as pacing:
        ctx.write(b"* 1 FETCH (UID 1)\r\n")
        assert pacing.sent().called
    connection.flush()
    assert peer.calls == [("send", b"* 1 FETCH (UID 1)\r\n")]


def test_a_paced_answer_stops_waiting_when_the_connection_is_lost() -> None:
    connection, _peer = connect()
    ctx = CommandContext(connection, "a", "FETCH", uid=False)
    with ctx.paced() as pacing:
        connection.pause_writing()
        ctx.write(b"* 1 FETCH (UID 1)\r\n")
        waiting = pacing.sent()
        connection.connection_lost()
        assert waiting.called
        assert ctx.closed
