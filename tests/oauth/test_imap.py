"""IMAP AUTHENTICATE XOAUTH2 and OAUTHBEARER, with and without SASL-IR (RFC 4959): imaplib,
imapclient's oauth2_login and oauthbearer_login, and raw exchanges for the error paths."""

from __future__ import annotations

import base64
import imaplib
import json
import re

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from elektromail.testing import MailServer
from tests.imap.wire import ImapWire

LOGGED_IN = re.compile(rb"a OK \[CAPABILITY [^\]]*\] Logged in\r\n\Z")
FAILED = b"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n"


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def xoauth2(user: str, token: str) -> bytes:
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def bearer(user: str, token: str, header: str | None = None) -> bytes:
    header = f"n,a={user}," if header is None else header
    return f"{header}\x01host=localhost\x01port=1143\x01auth=Bearer {token}\x01\x01".encode()


def capabilities(mail: MailServer) -> set[bytes]:
    with ImapWire(mail.imap_port) as wire:
        line = wire.command(b"c CAPABILITY")
    return set(re.search(rb"\* CAPABILITY ([^\r]*)", line).group(1).split())


def still_usable(wire: ImapWire) -> None:
    assert wire.command(b"z NOOP") == b"z OK NOOP completed\r\n"


def refusal(wire: ImapWire) -> dict:
    line = wire.line()
    assert line.startswith(b"+ "), line
    return json.loads(base64.b64decode(line[2:]))


# --- advertising --------------------------------------------------------------------------------


def test_off_by_default_not_advertised_and_refused(start_mail):
    mail = start_mail()
    assert not {b"AUTH=XOAUTH2", b"AUTH=OAUTHBEARER"} & capabilities(mail)
    with ImapWire(mail.imap_port) as wire:
        reply = wire.command(b"a AUTHENTICATE XOAUTH2 " + b64(xoauth2("user", "t")))
        assert reply == b"a NO [CANNOT] Unsupported authentication mechanism XOAUTH2\r\n"


@pytest.mark.parametrize("mode", ["accept", "tokens"])
def test_advertised_before_login_when_enabled(start_mail, mode):
    mail = start_mail(oauth=mode)
    assert {b"AUTH=XOAUTH2", b"AUTH=OAUTHBEARER", b"SASL-IR"} <= capabilities(mail)
    with ImapWire(mail.imap_port) as wire:
        wire.login()
        after = wire.command(b"c CAPABILITY")
    assert b"AUTH=XOAUTH2" not in after


# --- real clients --------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_imaplib_authenticate(accepting, mechanism):
    response = xoauth2("alice", "tok") if mechanism == "XOAUTH2" else bearer("alice", "tok")
    client = imaplib.IMAP4(accepting.host, accepting.imap_port, timeout=10)
    typ, _ = client.authenticate(mechanism, lambda _challenge: response)
    assert typ == "OK" and client.state == "AUTH"
    assert client.select("INBOX")[0] == "OK"
    client.logout()


def test_imaplib_authenticate_refused_raises(tokens):
    client = imaplib.IMAP4(tokens.host, tokens.imap_port, timeout=10)
    challenges = []

    def answer(challenge: bytes) -> bytes:
        challenges.append(challenge)
        return bearer("alice", "made-up") if len(challenges) == 1 else b"\x01"

    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.authenticate("OAUTHBEARER", answer)
    assert json.loads(challenges[1])["status"] == "invalid_token"
    client.logout()


def test_imapclient_oauth2_login_and_oauthbearer_login(tokens):
    token = tokens.oauth_token("alice", scope="https://mail.google.com/")
    with IMAPClient(tokens.host, tokens.imap_port, ssl=False, timeout=10) as client:
        client.oauth2_login("alice", token)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    with IMAPClient(tokens.host, tokens.imap_port, ssl=False, timeout=10) as client:
        client.oauthbearer_login("alice", token)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0


@pytest.mark.parametrize("method", ["oauth2_login", "oauthbearer_login"])
def test_imapclient_login_with_an_expired_token_fails(tokens, method):
    token = tokens.oauth_token("alice", expires_in=-1)
    with IMAPClient(tokens.host, tokens.imap_port, ssl=False, timeout=10) as client:
        with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
            getattr(client, method)("alice", token)
        client.oauth2_login("alice", tokens.oauth_token("alice"))  # the connection goes on


def test_imapclient_xoauth2_with_yahoos_vendor_key(accepting):
    with IMAPClient(accepting.host, accepting.imap_port, ssl=False, timeout=10) as client:
        client.oauth2_login("alice", "tok", vendor="elektromail")


# --- raw exchanges -------------------------------------------------------------------------------


def test_sasl_ir_and_continuation_both_sign_in(accepting):
    with ImapWire(accepting.imap_port) as wire:
        assert LOGGED_IN.match(
            wire.command(b"a AUTHENTICATE OAUTHBEARER " + b64(bearer("alice", "t")))
        )
    with ImapWire(accepting.imap_port) as wire:
        wire.send(b"a AUTHENTICATE XOAUTH2\r\n")
        assert wire.line() == b"+ \r\n"
        wire.send(b64(xoauth2("alice", "t")) + b"\r\n")
        assert LOGGED_IN.match(wire.until(b"a"))


@pytest.mark.parametrize(
    ("user", "token_of", "scope", "expires_in", "status"),
    [
        ("alice", "alice", None, -5, "invalid_token"),
        ("alice", "user", None, None, "invalid_token"),
        ("alice", "alice", "https://outlook.office.com/SMTP.Send", None, "insufficient_scope"),
    ],
    ids=["expired", "wrong-user", "scope"],
)
def test_refused_token_gets_the_json_then_no_after_the_dummy(
    tokens, user, token_of, scope, expires_in, status
):
    token = tokens.oauth_token(token_of, scope=scope, expires_in=expires_in)
    with ImapWire(tokens.imap_port) as wire:
        wire.send(b"a AUTHENTICATE OAUTHBEARER " + b64(bearer(user, token)) + b"\r\n")
        assert refusal(wire) == {"status": status, "scope": "https://mail.google.com/"}
        wire.send(b"AQ==\r\n")  # RFC 7628 §3.2.3: the dummy \x01
        assert wire.until(b"a") == FAILED
        still_usable(wire)


def test_xoauth2_refusal_is_googles_json(tokens):
    with ImapWire(tokens.imap_port) as wire:
        wire.send(b"a AUTHENTICATE XOAUTH2 " + b64(xoauth2("alice", "nope")) + b"\r\n")
        assert refusal(wire) == {
            "status": "401",
            "schemes": "bearer",
            "scope": "https://mail.google.com/",
        }
        wire.send(b"\r\n")
        assert wire.until(b"a") == FAILED


def test_cancel_at_the_error_challenge(tokens):
    with ImapWire(tokens.imap_port) as wire:
        wire.send(b"a AUTHENTICATE XOAUTH2 " + b64(xoauth2("alice", "nope")) + b"\r\n")
        refusal(wire)
        wire.send(b"*\r\n")
        assert wire.until(b"a") == b"a BAD Authentication cancelled\r\n"
        still_usable(wire)


@pytest.mark.parametrize(
    "response",
    [
        b64(b"user=alice auth=Bearer t"),
        b64(b"n,a=alice,auth=Bearer t\x01\x01"),
        b64(bearer("alice", "t", header="y,,")),
        b64(bearer("alice", "t", header="p=tls-unique,a=alice,")),
        b64(bearer("alice", "t", header="n,,")),
        b64(bearer("alice", "")),
        b64(b"\x01"),
        b64(bearer("alice", "t" * 20_000)),
        b"=",
    ],
    ids=[
        "no-separators",
        "no-header-separator",
        "gs2-y",
        "gs2-p",
        "gs2-no-authzid",
        "empty-token",
        "lone-kvsep",
        "over-long",
        "empty",
    ],
)
@pytest.mark.parametrize("initial", [True, False], ids=["sasl-ir", "continuation"])
def test_malformed_responses_fail_and_the_connection_stays_usable(accepting, response, initial):
    with ImapWire(accepting.imap_port) as wire:
        if initial:
            wire.send(b"a AUTHENTICATE OAUTHBEARER " + response + b"\r\n")
        else:
            wire.send(b"a AUTHENTICATE OAUTHBEARER\r\n")
            assert wire.line() == b"+ \r\n"
            # "=" stands for an empty response only as SASL-IR (RFC 4959 §3)
            wire.send((b"" if response == b"=" else response) + b"\r\n")
        assert wire.until(b"a") == FAILED
        still_usable(wire)
        assert LOGGED_IN.match(
            wire.command(b"a AUTHENTICATE OAUTHBEARER " + b64(bearer("alice", "t")))
        )


def test_bad_base64_is_bad(accepting):
    with ImapWire(accepting.imap_port) as wire:
        assert wire.command(b"a AUTHENTICATE XOAUTH2 %%%") == b"a BAD Invalid base64 data\r\n"
        wire.send(b"b AUTHENTICATE XOAUTH2\r\n")
        wire.line()
        wire.send(b"dXNlcg\r\n")
        assert wire.until(b"b") == b"b BAD Invalid base64 data\r\n"
        still_usable(wire)


def test_cancel_at_the_first_challenge(accepting):
    with ImapWire(accepting.imap_port) as wire:
        wire.send(b"a AUTHENTICATE OAUTHBEARER\r\n")
        assert wire.line() == b"+ \r\n"
        wire.send(b"*\r\n")
        assert wire.until(b"a") == b"a BAD Authentication cancelled\r\n"


# --- auth-disabled mode and namespaces -----------------------------------------------------------


def test_auth_disabled_accept_takes_any_user(start_mail):
    mail = start_mail(oauth="accept", auth_disabled=True)
    with IMAPClient(mail.host, mail.imap_port, ssl=False, timeout=10) as client:
        client.oauthbearer_login("someone-new", "anything")
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
