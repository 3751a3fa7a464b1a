"""SMTP AUTH XOAUTH2 and OAUTHBEARER over real sockets (RFC 4954, RFC 7628 §3.2.3): smtplib
with a custom mechanism callable, and raw exchanges for every error path."""

from __future__ import annotations

import base64
import json
import smtplib

import pytest

from elektromail.testing import MailServer
from tests.smtp.wire import Wire, mailbox

AUTH_OK = b"235 2.7.0 Authentication successful\r\n"
AUTH_FAILED = b"535 5.7.8 Authentication credentials invalid\r\n"
BAD_BASE64 = b"501 5.5.2 Cannot decode base64 response\r\n"
MALFORMED = b"501 5.5.2 Malformed authentication response\r\n"
CANCELLED = b"501 5.7.0 Authentication cancelled\r\n"
UNKNOWN = b"504 5.5.4 Unrecognized authentication mechanism\r\n"


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def xoauth2(user: str, token: str) -> bytes:
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def bearer(user: str, token: str, header: str | None = None) -> bytes:
    header = f"n,a={user}," if header is None else header
    return f"{header}\x01host=localhost\x01port=2525\x01auth=Bearer {token}\x01\x01".encode()


def wire_of(mail: MailServer) -> Wire:
    wire = Wire(mail.smtp_port)
    assert wire.command(b"EHLO client.test").startswith(b"250-")
    return wire


def auth_line(wire: Wire) -> bytes:
    ehlo = wire.command(b"EHLO client.test")
    return next(line[4:] for line in ehlo.split(b"\r\n") if line[4:].startswith(b"AUTH "))


def challenge(reply: bytes) -> dict:
    assert reply.startswith(b"334 "), reply
    return json.loads(base64.b64decode(reply[4:]))


# --- advertising --------------------------------------------------------------------------------


def test_off_by_default_not_advertised_and_unknown_mechanism(start_mail):
    wire = wire_of(start_mail())
    assert auth_line(wire) == b"AUTH PLAIN LOGIN"
    assert wire.command(b"AUTH XOAUTH2 " + b64(xoauth2("user", "t"))) == UNKNOWN
    assert wire.command(b"AUTH OAUTHBEARER") == UNKNOWN


@pytest.mark.parametrize("mode", ["accept", "tokens"])
def test_advertised_when_enabled(start_mail, mode):
    assert auth_line(wire_of(start_mail(oauth=mode))) == b"AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER"


# --- accept mode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_smtplib_custom_mechanism_signs_in_and_sends(accepting, mechanism):
    response = xoauth2("alice", "any") if mechanism == "XOAUTH2" else bearer("alice", "any")
    with smtplib.SMTP("127.0.0.1", accepting.smtp_port, timeout=5) as client:
        client.ehlo()
        code, _ = client.auth(mechanism, lambda challenge=None: response.decode())
        assert code == 235
        client.sendmail("alice@example.org", ["bob@example.com"], b"Subject: s\r\n\r\nhi\r\n")
    assert mailbox(accepting, "bob") == [b"Subject: s\r\n\r\nhi\r\n"]


def test_without_initial_response_the_first_challenge_is_empty(accepting):
    wire = wire_of(accepting)
    assert wire.command(b"AUTH XOAUTH2") == b"334 \r\n"
    assert wire.command(b64(xoauth2("alice", "tok"))) == AUTH_OK


def test_accept_refuses_an_unknown_user_with_the_error_challenge(accepting):
    wire = wire_of(accepting)
    reply = wire.command(b"AUTH OAUTHBEARER " + b64(bearer("nobody", "tok")))
    assert challenge(reply)["status"] == "invalid_token"
    assert wire.command(b"AQ==") == AUTH_FAILED  # the dummy \x01, RFC 7628 §3.2.3
    assert wire.command(b"AUTH OAUTHBEARER " + b64(bearer("alice", "tok"))) == AUTH_OK


def test_accept_with_auth_disabled_takes_any_user(start_mail):
    mail = start_mail(oauth="accept", auth_disabled=True)
    wire = wire_of(mail)
    assert wire.command(b"AUTH XOAUTH2 " + b64(xoauth2("newcomer", "tok"))) == AUTH_OK


# --- tokens mode ---------------------------------------------------------------------------------


def test_smtplib_xoauth2_error_flow_raises_535(tokens):
    with smtplib.SMTP("127.0.0.1", tokens.smtp_port, timeout=5) as client:
        client.ehlo()
        seen = []

        def answer(challenge=None):
            seen.append(challenge)
            return xoauth2("alice", "wrong").decode() if challenge is None else ""

        with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
            client.auth("XOAUTH2", answer)
    assert caught.value.smtp_code == 535
    assert json.loads(seen[1])["status"] == "401"


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_tokens_mode_takes_a_minted_token(tokens, mechanism):
    token = tokens.oauth_token("alice", scope="https://outlook.office.com/SMTP.Send")
    response = xoauth2("alice", token) if mechanism == "XOAUTH2" else bearer("alice", token)
    with smtplib.SMTP("127.0.0.1", tokens.smtp_port, timeout=5) as client:
        client.ehlo()
        assert client.auth(mechanism, lambda challenge=None: response.decode())[0] == 235


@pytest.mark.parametrize(
    ("user", "token_of", "scope", "expires_in", "status"),
    [
        ("alice", "alice", None, -1, "invalid_token"),  # expired
        ("alice", "user", None, None, "invalid_token"),  # another user's token
        (
            "alice",
            "alice",
            "https://outlook.office.com/IMAP.AccessAsUser.All",
            None,
            "insufficient_scope",
        ),
    ],
    ids=["expired", "wrong-user", "scope"],
)
def test_tokens_mode_refusals(tokens, user, token_of, scope, expires_in, status):
    token = tokens.oauth_token(token_of, scope=scope, expires_in=expires_in)
    wire = wire_of(tokens)
    assert challenge(wire.command(b"AUTH OAUTHBEARER " + b64(bearer(user, token))))["status"] == (
        status
    )
    assert wire.command(b"AQ==") == AUTH_FAILED
    assert wire.command(b"NOOP") == b"250 2.0.0 OK\r\n"


def test_tokens_mode_refuses_an_unknown_token_even_for_a_known_user(tokens):
    wire = wire_of(tokens)
    reply = wire.command(b"AUTH XOAUTH2 " + b64(xoauth2("alice", "made-up")))
    assert challenge(reply) == {
        "status": "401",
        "schemes": "bearer",
        "scope": "https://mail.google.com/",
    }
    assert wire.command(b"") == AUTH_FAILED  # XOAUTH2 clients answer with an empty response


def test_the_dummy_response_may_be_anything_and_still_fails(tokens):
    wire = wire_of(tokens)
    wire.command(b"AUTH XOAUTH2 " + b64(xoauth2("alice", "made-up")))
    token = tokens.oauth_token("alice")
    assert wire.command(b64(xoauth2("alice", token))) == AUTH_FAILED


def test_cancelling_at_the_error_challenge(tokens):
    wire = wire_of(tokens)
    wire.command(b"AUTH OAUTHBEARER " + b64(bearer("alice", "made-up")))
    assert wire.command(b"*") == CANCELLED
    assert wire.command(b"NOOP") == b"250 2.0.0 OK\r\n"


# --- malformed input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (b"%%%not-base64%%%", BAD_BASE64),
        (b"dXNlcg", BAD_BASE64),
        (b"=", MALFORMED),
        (b64(b"user=alice auth=Bearer t"), MALFORMED),
        (b64(b"n,a=alice,auth=Bearer t\x01\x01"), MALFORMED),
        (b64(bearer("alice", "t", header="y,,")), MALFORMED),
        (b64(bearer("alice", "t", header="p=tls-unique,a=alice,")), MALFORMED),
        (b64(bearer("alice", "t", header="n,,")), MALFORMED),
        (b64(bearer("alice", "")), MALFORMED),
        (b64(b"\x01"), MALFORMED),
        (b64(bearer("alice", "t" * 9_000)), MALFORMED),
        (b"*", CANCELLED),
    ],
    ids=[
        "garbage",
        "no-padding",
        "empty",
        "no-separators",
        "no-header-separator",
        "gs2-y",
        "gs2-p",
        "gs2-no-authzid",
        "empty-token",
        "lone-kvsep",
        "over-long",
        "cancel",
    ],
)
@pytest.mark.parametrize("initial", [True, False], ids=["initial", "continuation"])
def test_malformed_oauthbearer_answers_501_and_the_connection_stays_usable(
    accepting, response, expected, initial
):
    wire = wire_of(accepting)
    if initial:
        assert wire.command(b"AUTH OAUTHBEARER " + response) == expected
    else:
        assert wire.command(b"AUTH OAUTHBEARER") == b"334 \r\n"
        assert wire.command(response) == expected
    assert wire.command(b"NOOP") == b"250 2.0.0 OK\r\n"
    assert wire.command(b"AUTH OAUTHBEARER " + b64(bearer("alice", "t"))) == AUTH_OK


@pytest.mark.parametrize(
    "data",
    [b"user=alice\x01auth=Bearer t", b"user=alice\x01\x01", b"user=alice\x01auth=Basic x\x01\x01"],
    ids=["no-final-separators", "no-auth", "basic"],
)
def test_malformed_xoauth2_answers_501(accepting, data):
    wire = wire_of(accepting)
    assert wire.command(b"AUTH XOAUTH2 " + b64(data)) == MALFORMED


def test_a_response_over_the_line_limit_is_500_and_the_exchange_ends(accepting):
    wire = wire_of(accepting)
    assert wire.command(b"AUTH XOAUTH2") == b"334 \r\n"
    assert wire.command(b"A" * 20_000) == b"500 5.5.2 Line too long\r\n"
    assert wire.command(b"NOOP") == b"250 2.0.0 OK\r\n"


def test_the_transcript_never_holds_the_token(start_mail):
    mail = start_mail(oauth="accept", http_port=0)
    wire = wire_of(mail)
    assert wire.command(b"AUTH XOAUTH2 " + b64(xoauth2("alice", "secret-token"))) == AUTH_OK
    wire.command(b"MAIL FROM:<alice@example.org>")
    wire.command(b"RCPT TO:<bob@example.com>")
    wire.command(b"DATA")
    assert wire.command(b"Subject: x\r\n\r\nhi\r\n.").startswith(b"250 ")
    import urllib.request

    with urllib.request.urlopen(f"{mail.http_url}/transcripts", timeout=5) as answer:
        text = answer.read()
    assert b"secret-token" not in text
    assert base64.b64encode(xoauth2("alice", "secret-token")) not in text
