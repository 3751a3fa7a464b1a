"""POP3 AUTH XOAUTH2 and OAUTHBEARER (RFC 5034 SASL, RFC 7628): offered in CAPA's SASL line
only with --oauth, an initial response or the empty `+ ` continuation, and on a refused token
the error challenge, the client's dummy answer, then `-ERR [AUTH]` (RFC 3206 §4)."""

from __future__ import annotations

import base64
import json
import poplib

import pytest

from tests.oauth.test_imap import bearer, xoauth2

FAILED = b"-ERR [AUTH] Authentication failed"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def connect(mail) -> poplib.POP3:
    return poplib.POP3(mail.host, mail.pop3_port, timeout=10)


def command(pop: poplib.POP3, line: str) -> bytes:
    """Send one line and return the reply line, +OK or -ERR alike (poplib raises on -ERR)."""
    pop._putcmd(line)
    return pop._getline()[0]


def still_usable(pop: poplib.POP3) -> None:
    assert command(pop, "NOOP").startswith(b"-ERR")  # NOOP before login: "Log in first"
    pop.user("user")
    assert pop.pass_("pass").startswith(b"+OK")
    pop.quit()


def test_off_by_default_not_in_capa_and_refused(start_mail):
    mail = start_mail()
    pop = connect(mail)
    assert pop.capa()["SASL"] == ["PLAIN", "LOGIN"]
    assert command(pop, "AUTH XOAUTH2 " + b64(xoauth2("user", "t"))).startswith(b"-ERR Unsupported")
    still_usable(pop)


@pytest.mark.parametrize("mode", ["accept", "tokens"])
def test_advertised_when_enabled(start_mail, mode):
    pop = connect(start_mail(oauth=mode))
    assert pop.capa()["SASL"] == ["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"]
    assert command(pop, "AUTH") == b"+OK"
    assert [pop._getline()[0] for _ in range(5)] == [
        b"PLAIN",
        b"LOGIN",
        b"XOAUTH2",
        b"OAUTHBEARER",
        b".",
    ]
    pop.quit()


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_initial_response_signs_in_and_opens_the_maildrop(accepting, mechanism):
    accepting.inject("alice", b"Subject: x\r\n\r\nbody\r\n")
    response = xoauth2("alice", "any") if mechanism == "XOAUTH2" else bearer("alice", "any")
    pop = connect(accepting)
    assert command(pop, f"AUTH {mechanism} {b64(response)}").startswith(b"+OK Logged in, 1 ")
    assert pop.stat()[0] == 1
    pop.quit()


def test_continuation_signs_in(tokens):
    token = tokens.oauth_token("alice", scope="pop3")
    pop = connect(tokens)
    assert command(pop, "AUTH OAUTHBEARER") == b"+ "
    assert command(pop, b64(bearer("alice", token))).startswith(b"+OK Logged in")
    pop.quit()


@pytest.mark.parametrize(
    ("token_of", "scope", "expires_in", "status"),
    [
        ("alice", None, -5, "invalid_token"),
        ("user", None, None, "invalid_token"),
        ("alice", "https://outlook.office.com/IMAP.AccessAsUser.All", None, "insufficient_scope"),
    ],
    ids=["expired", "wrong-user", "scope-for-imap-only"],
)
def test_refused_token_gets_the_json_then_err_after_the_dummy(
    tokens, token_of, scope, expires_in, status
):
    token = tokens.oauth_token(token_of, scope=scope, expires_in=expires_in)
    pop = connect(tokens)
    line = command(pop, "AUTH OAUTHBEARER " + b64(bearer("alice", token)))
    assert line.startswith(b"+ ")
    assert json.loads(base64.b64decode(line[2:])) == {
        "status": status,
        "scope": "https://mail.google.com/",
    }
    assert command(pop, "AQ==") == FAILED  # RFC 7628 §3.2.3: the dummy \x01
    still_usable(pop)


def test_pop_scope_from_microsoft_is_accepted(tokens):
    token = tokens.oauth_token("alice", scope="https://outlook.office.com/POP.AccessAsUser.All")
    pop = connect(tokens)
    assert command(pop, "AUTH XOAUTH2 " + b64(xoauth2("alice", token))).startswith(b"+OK")
    pop.quit()


def test_xoauth2_refusal_then_empty_dummy(tokens):
    pop = connect(tokens)
    line = command(pop, "AUTH XOAUTH2 " + b64(xoauth2("alice", "nope")))
    assert json.loads(base64.b64decode(line[2:]))["status"] == "401"
    assert command(pop, "") == FAILED
    still_usable(pop)


def test_cancel_at_the_error_challenge(tokens):
    pop = connect(tokens)
    command(pop, "AUTH XOAUTH2 " + b64(xoauth2("alice", "nope")))
    assert command(pop, "*") == b"-ERR AUTH cancelled"
    still_usable(pop)


@pytest.mark.parametrize(
    "response",
    [
        b"user=alice\x01\x01",  # no auth=
        b"user=alice\x01auth=Basic abc\x01\x01",  # not a bearer token
        b"y,a=alice,\x01auth=Bearer t\x01\x01",  # GS2 flag claims channel binding
        b"n,,\x01auth=Bearer t\x01\x01",  # no authzid
        b"\x01",  # the dummy, first
        b"\xff\xfe",  # not UTF-8
        b"x" * 9000,  # over the 8 KiB limit
    ],
    ids=["no-auth", "basic", "gs2-y", "no-authzid", "dummy-first", "not-utf8", "too-long"],
)
def test_malformed_responses_fail_and_the_session_stays_usable(accepting, response):
    mechanism = "XOAUTH2" if response.startswith(b"user=") else "OAUTHBEARER"
    pop = connect(accepting)
    assert command(pop, f"AUTH {mechanism} {b64(response)}") == FAILED
    still_usable(pop)


def test_bad_base64_is_refused(accepting):
    pop = connect(accepting)
    assert command(pop, "AUTH XOAUTH2 !!!notbase64").startswith(b"-ERR")
    still_usable(pop)


def test_second_session_of_a_locked_maildrop_gets_in_use(accepting):
    first = connect(accepting)
    assert command(first, "AUTH XOAUTH2 " + b64(xoauth2("alice", "t"))).startswith(b"+OK")
    second = connect(accepting)
    line = command(second, "AUTH XOAUTH2 " + b64(xoauth2("alice", "t")))
    assert line.startswith(b"-ERR [IN-USE]")
    first.quit()
    second.quit()


def test_a_kilobyte_token_as_initial_response_signs_in(tokens):
    # RFC 5034 §4 asks clients not to make AUTH longer than 255 octets with an initial
    # response; clients carrying Microsoft's ~2 KB JWTs do it anyway, and are served.
    token = tokens.oauth_token("alice", token="eyJ" + "a" * 2500)
    pop = connect(tokens)
    assert command(pop, "AUTH XOAUTH2 " + b64(xoauth2("alice", token))).startswith(b"+OK")
    pop.quit()


def test_other_commands_keep_the_255_octet_limit(accepting):
    pop = connect(accepting)
    assert command(pop, "USER " + "a" * 300) == b"-ERR Command line too long"
    still_usable(pop)
