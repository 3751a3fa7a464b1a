"""Any-state commands (CAPABILITY, NOOP, LOGOUT, ID), logging in (LOGIN, AUTHENTICATE PLAIN and
LOGIN), ENABLE, and how the connection answers input it cannot use; over loopback sockets."""

from __future__ import annotations

import base64
import imaplib
import re
from collections.abc import Callable, Iterator
from importlib import metadata

import pytest
from imapclient import IMAPClient

from elektromail.testing import MailServer
from tests.imap.wire import ImapWire

USERS = "user:pass,alice:alice@example.org:wonder"
VERSION = metadata.version("elektromail").encode()
SERVER_ID = b'* ID ("name" "elektromail" "version" "%s")\r\n' % VERSION
PLAIN_USER_PASS = base64.b64encode(b"\0user\0pass")
LOGGED_IN = re.compile(rb"[a-z] OK \[CAPABILITY [^\]]*\] Logged in\r\n\Z")


def capabilities(response: bytes) -> set[bytes]:
    """The capability names in a `* CAPABILITY` line or a `[CAPABILITY ...]` code."""
    match = re.search(rb"CAPABILITY ([^\]\r]*)", response)
    assert match, response
    return set(match.group(1).split())


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer(users=USERS, smtp_port=None) as server:
        yield server


@pytest.fixture
def connect(mail: MailServer) -> Iterator[Callable[[], ImapWire]]:
    wires: list[ImapWire] = []

    def open_wire() -> ImapWire:
        wire = ImapWire(mail.imap_port)
        wires.append(wire)
        return wire

    yield open_wire
    for wire in wires:
        wire.close()


@pytest.fixture
def wire(connect: Callable[[], ImapWire]) -> ImapWire:
    return connect()


@pytest.fixture
def authed(connect: Callable[[], ImapWire]) -> ImapWire:
    client = connect()
    assert LOGGED_IN.match(client.login())
    return client


def still_usable(wire: ImapWire) -> None:
    assert wire.command(b"z NOOP") == b"z OK NOOP completed\r\n"


# --- greeting and CAPABILITY --------------------------------------------------------------------


def test_greeting_is_ok_with_capabilities_for_login(wire):
    assert wire.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ")
    assert wire.greeting.endswith(b"] elektromail ready\r\n")
    caps = capabilities(wire.greeting)
    assert {b"AUTH=PLAIN", b"AUTH=LOGIN", b"SASL-IR", b"STARTTLS", b"ID", b"ENABLE"} <= caps
    assert {b"LITERAL+", b"UTF8=ACCEPT"} <= caps


def test_capability_never_offers_logindisabled_or_literal_minus(wire):
    caps = capabilities(wire.command(b"a CAPABILITY"))
    assert b"LOGINDISABLED" not in caps
    assert b"LITERAL-" not in caps  # RFC 7888 §5: never both LITERAL+ and LITERAL-


def test_capability_response_then_tagged_ok(wire):
    response = wire.command(b"a CAPABILITY")
    assert re.fullmatch(
        rb"\* CAPABILITY IMAP4rev1 IMAP4rev2 [^\r]*\r\na OK CAPABILITY completed\r\n", response
    )
    assert capabilities(response) == capabilities(wire.greeting)


def test_capability_after_login_drops_login_and_tls_capabilities(authed):
    caps = capabilities(authed.command(b"a CAPABILITY"))
    assert not {b"AUTH=PLAIN", b"AUTH=LOGIN", b"SASL-IR", b"STARTTLS"} & caps
    assert {b"IMAP4rev1", b"IMAP4rev2", b"ENABLE", b"ID", b"UTF8=ACCEPT", b"LITERAL+"} <= caps


def test_login_ok_carries_the_post_login_capabilities(wire):
    ok = wire.command(b"a LOGIN user pass")
    assert LOGGED_IN.match(ok)
    assert capabilities(ok) == capabilities(wire.command(b"b CAPABILITY"))


@pytest.mark.parametrize("command", [b"CAPABILITY x", b"NOOP x", b"LOGOUT now"])
def test_any_state_commands_take_no_arguments(wire, command):
    name = command.split()[0]
    assert wire.command(b"a " + command) == b"a BAD " + name + b" takes no arguments\r\n"
    still_usable(wire)


# --- NOOP and LOGOUT ----------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["not authenticated", "authenticated", "selected"])
def test_noop_and_logout_work_in_every_state(wire, state):
    if state != "not authenticated":
        assert LOGGED_IN.match(wire.login())
    if state == "selected":
        assert wire.command(b"s SELECT INBOX").endswith(b"s OK [READ-WRITE] SELECT completed\r\n")
    assert wire.command(b"a NOOP") == b"a OK NOOP completed\r\n"
    assert (
        wire.command(b"b LOGOUT") == b"* BYE elektromail logging out\r\nb OK LOGOUT completed\r\n"
    )
    assert wire.at_eof()


def test_commands_pipelined_after_logout_are_never_answered(wire):
    wire.send(b"a LOGOUT\r\nb NOOP\r\n")
    assert wire.rest() == b"* BYE elektromail logging out\r\na OK LOGOUT completed\r\n"


def test_imaplib_logout_says_bye(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    typ, data = client.logout()
    assert (typ, data) == ("BYE", [b"elektromail logging out"])


# --- ID (RFC 2971) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        b"NIL",
        b"nil",
        b"()",
        b'("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")',
        b'("name" NIL "os" "linux")',
        b'("name" {4+}\r\nmutt)',
        b'("' + b"f" * 30 + b'" "' + b"v" * 1024 + b'")',
        b"(" + b" ".join(b'"f%d" "v"' % i for i in range(30)) + b")",
    ],
    ids=["nil", "nil-lower", "empty", "rfc-example", "nil-value", "literal", "limits", "30-pairs"],
)
def test_id_answers_with_the_server_identity(wire, arguments):
    assert wire.command(b"a ID " + arguments) == SERVER_ID + b"a OK ID completed\r\n"


def test_id_works_after_login_too(authed):
    assert authed.command(b'a ID ("name" "x")') == SERVER_ID + b"a OK ID completed\r\n"


def test_imapclient_id_reads_the_server_fields(mail):
    with IMAPClient(mail.host, port=mail.imap_port, ssl=False, timeout=10) as client:
        assert b"ID" in client.capabilities()
        info = client.id_({"name": "pytest", "version": "1"})
        assert info == ((b"name", b"elektromail", b"version", VERSION),)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (b"", b"expected ID (field value ...) or ID NIL"),
        (b"NIL NIL", b"expected ID (field value ...) or ID NIL"),
        (b'"name"', b"ID needs a parenthesized list or NIL"),
        (b"FOO", b"ID needs a parenthesized list or NIL"),
        (b'("name")', b"ID list must hold field/value pairs"),
        (b'(name "x")', b"ID field names are strings of at most 30 octets"),
        (b'(NIL "x")', b"ID field names are strings of at most 30 octets"),
        (b'("' + b"f" * 31 + b'" "x")', b"ID field names are strings of at most 30 octets"),
        (b'("name" x)', b"ID values are NIL or strings of at most 1024 octets"),
        (b'("name" ("x"))', b"ID values are NIL or strings of at most 1024 octets"),
        (
            b'("name" "' + b"v" * 1025 + b'")',
            b"ID values are NIL or strings of at most 1024 octets",
        ),
        (b'("name" "a" "NAME" "b")', b"ID field 'name' given twice"),
        (
            b"(" + b" ".join(b'"f%d" "v"' % i for i in range(31)) + b")",
            b"ID list holds more than 30 pairs",
        ),
    ],
    ids=[
        "no-argument",
        "two-arguments",
        "string",
        "atom",
        "odd-count",
        "atom-field",
        "nil-field",
        "long-field",
        "atom-value",
        "list-value",
        "long-value",
        "duplicate-field",
        "31-pairs",
    ],
)
def test_malformed_id_is_bad_and_the_connection_stays_usable(wire, arguments, message):
    command = b"a ID " + arguments if arguments else b"a ID"
    assert wire.command(command) == b"a BAD " + message + b"\r\n"
    still_usable(wire)


# --- LOGIN -------------------------------------------------------------------------------------


def test_imaplib_login_and_select(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    typ, data = client.login("alice", "wonder")
    assert typ == "OK" and data[0].endswith(b"] Logged in")
    assert client.select("INBOX") == ("OK", [b"0"])
    client.logout()


def test_login_with_quoted_strings_and_literals(wire):
    wire.send(b"a LOGIN {4}\r\n")
    assert wire.line() == b"+ Ready for literal data\r\n"
    wire.send(b'user "pass"\r\n')
    assert LOGGED_IN.match(wire.until(b"a"))


@pytest.mark.parametrize(
    "credentials",
    [b"user wrong", b"nobody pass", b"user {0+}\r\n", b'"" ""', b'"us\\"er" pass'],
    ids=["wrong-password", "unknown-user", "empty-password", "empty-user", "odd-name"],
)
def test_failed_login_is_no_authenticationfailed(wire, credentials):
    response = wire.command(b"a LOGIN " + credentials)
    assert response == b"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
    still_usable(wire)
    assert LOGGED_IN.match(wire.command(b"b LOGIN user pass"))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (b"", b"expected LOGIN user password"),
        (b"user", b"expected LOGIN user password"),
        (b"user pass extra", b"expected LOGIN user password"),
        (b"(user) pass", b"user name must be a string"),
        (b"user (pass)", b"password must be a string"),
    ],
    ids=["none", "one", "three", "list-user", "list-password"],
)
def test_malformed_login_is_bad(wire, arguments, message):
    command = b"a LOGIN " + arguments if arguments else b"a LOGIN"
    assert wire.command(command) == b"a BAD " + message + b"\r\n"
    still_usable(wire)


def test_login_twice_is_bad(authed):
    assert authed.command(b"a LOGIN user pass") == b"a BAD LOGIN not allowed now\r\n"
    still_usable(authed)


# --- AUTHENTICATE -------------------------------------------------------------------------------


def test_authenticate_plain_with_initial_response(wire):
    assert LOGGED_IN.match(wire.command(b"a AUTHENTICATE PLAIN " + PLAIN_USER_PASS))
    assert wire.command(b"b SELECT INBOX").endswith(b"b OK [READ-WRITE] SELECT completed\r\n")


def test_authenticate_plain_with_a_continuation(wire):
    wire.send(b"a AUTHENTICATE PLAIN\r\n")
    assert wire.line() == b"+ \r\n"
    wire.send(PLAIN_USER_PASS + b"\r\n")
    assert LOGGED_IN.match(wire.until(b"a"))


def test_authenticate_plain_with_matching_authorization_identity(wire):
    response = base64.b64encode(b"user\0user\0pass")
    assert LOGGED_IN.match(wire.command(b"a AUTHENTICATE plain " + response))


def test_imaplib_authenticate_plain_and_login(mail):
    for mechanism, answers in (("PLAIN", [b"\0alice\0wonder"]), ("LOGIN", [b"alice", b"wonder"])):
        client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
        replies = iter(answers)
        typ, _ = client.authenticate(mechanism, lambda _challenge, r=replies: next(r))
        assert typ == "OK"
        assert client.state == "AUTH"
        client.logout()


def test_authenticate_login_asks_for_username_then_password(wire):
    wire.send(b"a AUTHENTICATE LOGIN\r\n")
    assert wire.line() == b"+ VXNlcm5hbWU6\r\n"
    wire.send(base64.b64encode(b"user") + b"\r\n")
    assert wire.line() == b"+ UGFzc3dvcmQ6\r\n"
    wire.send(base64.b64encode(b"pass") + b"\r\n")
    assert LOGGED_IN.match(wire.until(b"a"))


def test_authenticate_login_takes_the_username_as_initial_response(wire):
    wire.send(b"a AUTHENTICATE LOGIN " + base64.b64encode(b"user") + b"\r\n")
    assert wire.line() == b"+ UGFzc3dvcmQ6\r\n"
    wire.send(base64.b64encode(b"pass") + b"\r\n")
    assert LOGGED_IN.match(wire.until(b"a"))


@pytest.mark.parametrize(
    ("exchange", "final"),
    [
        ([b"a AUTHENTICATE PLAIN", b"*"], b"a BAD Authentication cancelled\r\n"),
        ([b"a AUTHENTICATE LOGIN", b"*"], b"a BAD Authentication cancelled\r\n"),
        ([b"a AUTHENTICATE LOGIN", b"dXNlcg==", b"*"], b"a BAD Authentication cancelled\r\n"),
        ([b"a AUTHENTICATE PLAIN", b"not base64!"], b"a BAD Invalid base64 data\r\n"),
        ([b"a AUTHENTICATE PLAIN", b"AHVzZXIAcGFzcw"], b"a BAD Invalid base64 data\r\n"),
        ([b"a AUTHENTICATE PLAIN", b"="], b"a BAD Invalid base64 data\r\n"),
        ([b"a AUTHENTICATE LOGIN", b"dXNlcg==", b"%%%"], b"a BAD Invalid base64 data\r\n"),
        ([b"a AUTHENTICATE PLAIN !!!!"], b"a BAD Invalid base64 data\r\n"),
        ([b"a AUTHENTICATE PLAIN", b""], b"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n"),
        (
            [b"a AUTHENTICATE PLAIN", base64.b64encode(b"user\0pass")],
            b"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
        ),
        (
            [b"a AUTHENTICATE PLAIN " + base64.b64encode(b"\0user\0wrong")],
            b"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
        ),
        (
            [b"a AUTHENTICATE PLAIN " + base64.b64encode(b"\0\0pass")],
            b"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
        ),
        (
            [b"a AUTHENTICATE PLAIN ="],
            b"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
        ),
        (
            [b"a AUTHENTICATE PLAIN " + base64.b64encode(b"alice\0user\0pass")],
            b"a NO [AUTHORIZATIONFAILED] Cannot act as another user\r\n",
        ),
        (
            [b"a AUTHENTICATE LOGIN", b"dXNlcg==", base64.b64encode(b"wrong")],
            b"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
        ),
        (
            [b"a AUTHENTICATE CRAM-MD5"],
            b"a NO [CANNOT] Unsupported authentication mechanism CRAM-MD5\r\n",
        ),
        ([b"a AUTHENTICATE"], b"a BAD expected AUTHENTICATE mechanism [initial-response]\r\n"),
        (
            [b"a AUTHENTICATE PLAIN a b"],
            b"a BAD expected AUTHENTICATE mechanism [initial-response]\r\n",
        ),
        ([b'a AUTHENTICATE "PLAIN"'], b"a BAD mechanism must be an atom\r\n"),
    ],
    ids=[
        "plain-cancel",
        "login-cancel-username",
        "login-cancel-password",
        "plain-garbage",
        "plain-missing-padding",
        "plain-equals-in-continuation",
        "login-garbage-password",
        "plain-garbage-initial",
        "plain-empty",
        "plain-one-nul",
        "plain-wrong-password",
        "plain-empty-user",
        "plain-empty-initial",
        "plain-other-authzid",
        "login-wrong-password",
        "unknown-mechanism",
        "no-mechanism",
        "too-many-arguments",
        "quoted-mechanism",
    ],
)
def test_authenticate_failures_and_the_connection_stays_usable(wire, exchange, final):
    command, *responses = exchange
    wire.send(command + b"\r\n")
    for response in responses:
        assert wire.line().startswith(b"+ ")
        wire.send(response + b"\r\n")
    assert wire.until(b"a") == final
    still_usable(wire)
    assert LOGGED_IN.match(wire.command(b"b AUTHENTICATE PLAIN " + PLAIN_USER_PASS))


@pytest.mark.parametrize("mechanism", [b"PLAIN", b"LOGIN"])
def test_authenticate_response_too_long_is_bad_toobig(wire, mechanism):
    wire.send(b"a AUTHENTICATE " + mechanism + b"\r\n")
    assert wire.line().startswith(b"+ ")
    wire.send(b"A" * 70000 + b"\r\n")
    assert wire.until(b"a") == b"a BAD [TOOBIG] Line too long\r\n"
    still_usable(wire)


def test_command_pipelined_after_sasl_ir_runs_after_login(wire):
    wire.send(b"a AUTHENTICATE PLAIN " + PLAIN_USER_PASS + b"\r\nb SELECT INBOX\r\n")
    assert LOGGED_IN.match(wire.until(b"a"))
    assert wire.until(b"b").endswith(b"b OK [READ-WRITE] SELECT completed\r\n")


def test_sasl_response_sent_early_is_not_run_as_a_command(wire):
    # The reader stops after AUTHENTICATE; an earlier command finishing must not wake it.
    wire.send(b"x NOOP\r\na AUTHENTICATE PLAIN\r\n" + PLAIN_USER_PASS + b"\r\n")
    assert wire.line() == b"x OK NOOP completed\r\n"
    assert wire.line() == b"+ \r\n"
    assert LOGGED_IN.match(wire.until(b"a"))


def test_authenticate_after_login_is_bad(authed):
    response = authed.command(b"a AUTHENTICATE PLAIN " + PLAIN_USER_PASS)
    assert response == b"a BAD AUTHENTICATE not allowed now\r\n"
    still_usable(authed)


# --- ELEKTROMAIL_AUTH_DISABLED ------------------------------------------------------------------


@pytest.fixture
def open_mail() -> Iterator[MailServer]:
    with MailServer(auth_disabled=True, smtp_port=None) as server:
        yield server


def test_auth_disabled_login_accepts_anything_and_creates_the_user(open_mail):
    client = imaplib.IMAP4(open_mail.host, open_mail.imap_port, timeout=10)
    assert client.login("newcomer", "whatever")[0] == "OK"
    assert client.select("INBOX") == ("OK", [b"0"])
    client.logout()
    user = open_mail.call(open_mail.server.store.get_user, "newcomer")
    assert user is not None and user.name == "newcomer"


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_disabled_authenticate_accepts_anything(open_mail, mechanism):
    name = f"via-{mechanism.lower()}"
    answers = iter([f"\0{name}\0x".encode()] if mechanism == "PLAIN" else [name.encode(), b"x"])
    client = imaplib.IMAP4(open_mail.host, open_mail.imap_port, timeout=10)
    assert client.authenticate(mechanism, lambda _c: next(answers))[0] == "OK"
    assert client.select("INBOX")[0] == "OK"
    client.logout()
    assert open_mail.call(open_mail.server.store.get_user, name) is not None


def test_auth_disabled_still_refuses_an_empty_user_name(open_mail):
    wire = ImapWire(open_mail.imap_port)
    response = wire.command(b'a LOGIN "" x')
    assert response == b"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
    wire.close()


# --- ENABLE (RFC 5161, RFC 9051 §6.3.1) ---------------------------------------------------------


def test_enable_before_login_is_bad(wire):
    response = wire.command(b"a ENABLE IMAP4rev2")
    assert response == b"a BAD ENABLE not allowed before authentication\r\n"
    still_usable(wire)


def test_enable_lists_only_what_it_newly_enabled(authed):
    ok = b"a OK ENABLE completed\r\n"
    assert authed.command(b"a ENABLE IMAP4rev2") == b"* ENABLED IMAP4rev2\r\n" + ok
    assert authed.command(b"a ENABLE imap4rev2") == b"* ENABLED\r\n" + ok
    both = authed.command(b"a ENABLE X-UNKNOWN IMAP4rev2 UTF8=ACCEPT CONDSTORE")
    # CONDSTORE is enabled since issue 16 (RFC 7162 §3.1)
    assert both == b"* ENABLED UTF8=ACCEPT CONDSTORE\r\n" + ok


def test_enable_imap4rev2_switches_the_dialect(authed):
    before = authed.command(b"a SELECT INBOX")
    assert b"* 0 RECENT\r\n" in before
    authed.command(b"b ENABLE IMAP4rev2")
    after = authed.command(b"c SELECT INBOX")
    assert b"RECENT" not in after and b'* LIST () "/" INBOX\r\n' in after


@pytest.mark.parametrize(
    ("enable", "update"),
    [
        # the rev1 watcher selected first: the message is \Recent there (RFC 3501 §2.3.2)
        (b"", b"* 1 FETCH (FLAGS (\\Flagged \\Recent))\r\n"),
        (b"IMAP4rev2", b"* 1 FETCH (UID 1 FLAGS (\\Flagged))\r\n"),
    ],
    ids=["imap4rev1", "imap4rev2"],
)
def test_unsolicited_flag_update_carries_uid_only_in_imap4rev2(mail, connect, enable, update):
    mail.call(mail.server.postoffice.deliver, ["user@x"], b"Subject: s\r\n\r\nbody\r\n")
    watcher, changer = connect(), connect()
    for client in (watcher, changer):
        assert LOGGED_IN.match(client.login())
    if enable:
        watcher.command(b"e ENABLE " + enable)
    watcher.command(b"s SELECT INBOX")
    changer.command(b"s SELECT INBOX")
    changer.command(b"f STORE 1 +FLAGS.SILENT (\\Flagged)")
    assert watcher.command(b"n NOOP") == update + b"n OK NOOP completed\r\n"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (b"", b"ENABLE needs at least one capability"),
        (b'"IMAP4rev2"', b"capability must be an atom"),
        (b"(IMAP4rev2)", b"capability must be an atom"),
    ],
    ids=["none", "quoted", "list"],
)
def test_malformed_enable_is_bad(authed, arguments, message):
    command = b"a ENABLE " + arguments if arguments else b"a ENABLE"
    assert authed.command(command) == b"a BAD " + message + b"\r\n"
    still_usable(authed)


def test_utf8_accept_makes_mailbox_names_utf8(authed):
    name = "Entwürfe".encode()
    # IMAP4rev1: names are modified UTF-7, so 8-bit text is not a name of this server
    assert authed.command(b'a SELECT "' + name + b'"') == (
        b"a NO [CANNOT] Mailbox name is not valid mUTF-7\r\n"
    )
    authed.command(b"b ENABLE UTF8=ACCEPT")
    assert authed.command(b'c SELECT "' + name + b'"') == (
        b"c NO [NONEXISTENT] Mailbox does not exist\r\n"
    )


# --- wrong state, unknown commands, and what the reader reports ---------------------------------


@pytest.mark.parametrize(
    ("command", "response"),
    [
        (b"a SELECT INBOX", b"a BAD SELECT not allowed before authentication\r\n"),
        (b"a APPEND INBOX {1+}\r\nx", b"a BAD APPEND not allowed before authentication\r\n"),
        (b"a FETCH 1 FLAGS", b"a BAD FETCH not allowed before authentication\r\n"),
        (b"a FROBNICATE", b"a BAD Unknown command FROBNICATE\r\n"),
        (b"a UID FROB 1", b"a BAD Unknown command UID FROB\r\n"),
        (b"a UID", b"a BAD UID needs a command\r\n"),
    ],
    ids=["select", "append", "fetch", "unknown", "unknown-uid", "bare-uid"],
)
def test_commands_out_of_state_or_unknown_are_bad(wire, command, response):
    assert wire.command(command) == response
    still_usable(wire)


def test_selected_state_command_without_a_mailbox_is_bad(authed):
    assert authed.command(b"a FETCH 1 FLAGS") == b"a BAD FETCH needs a selected mailbox\r\n"


@pytest.mark.parametrize(
    ("command", "response"),
    [
        (b"a FROB {5}", b"a BAD Unknown command FROB\r\n"),
        (b"a SELECT {5}", b"a BAD SELECT not allowed before authentication\r\n"),
        (b"a APPEND INBOX {5}", b"a BAD APPEND not allowed before authentication\r\n"),
    ],
    ids=["unknown", "select", "append"],
)
def test_synchronising_literal_of_a_refused_command_is_never_asked_for(wire, command, response):
    # The answer comes instead of "+": the client sends none of the literal.
    assert wire.command(command) == response
    still_usable(wire)


def test_untagged_garbage_gets_an_untagged_bad(wire):
    wire.send(b"(((\r\n")
    assert wire.line() == b"* BAD invalid tag\r\n"
    still_usable(wire)


def test_malformed_command_gets_a_tagged_bad(wire):
    assert wire.command(b'a LOGIN "unterminated') == b"a BAD unterminated quoted string\r\n"
    still_usable(wire)


def test_line_too_long_is_bad_toobig_and_the_connection_stays_usable(wire):
    assert wire.command(b"a NOOP " + b"x" * 70000) == b"a BAD [TOOBIG] Line too long\r\n"
    still_usable(wire)


@pytest.fixture
def small() -> Iterator[ImapWire]:
    """A server whose literals (like its messages) may be at most 1000 bytes."""
    with MailServer(users=USERS, smtp_port=None, max_message_size=1000) as server:
        wire = ImapWire(server.imap_port)
        yield wire
        wire.close()


def test_synchronising_literal_over_the_limit_is_refused_before_it_is_sent(small):
    response = small.command(b"a LOGIN {1001}")
    assert response == b"a NO [TOOBIG] Literal too big (limit 1000 bytes)\r\n"
    still_usable(small)


def test_non_synchronising_literal_over_the_limit_is_read_and_refused(small):
    small.send(b"a LOGIN {1001+}\r\n" + b"u" * 1001 + b" pass\r\n")
    assert small.until(b"a") == b"a NO [TOOBIG] Literal too big (limit 1000 bytes)\r\n"
    still_usable(small)


def test_absurd_literal_says_bye_and_closes(small):
    small.send(b"a LOGIN {99999999999999999999999+}\r\n")
    assert small.line() == b"* BYE [TOOBIG] Literal too big\r\n"
    assert small.at_eof()
