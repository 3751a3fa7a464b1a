"""The --oauth settings, the token map's HTTP API (POST/GET/DELETE /oauth/tokens, scoped by
namespace), the Python API, /reset, and namespaces' users signing in with OAuth."""

from __future__ import annotations

import base64
import json
import smtplib

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from elektromail.config import ConfigError, resolve
from elektromail.oauth import Grant
from elektromail.remote import RemoteMailServer
from tests.http.client import Api
from tests.smtp.wire import Wire


def xoauth2(user: str, token: str) -> str:
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def smtp_signs_in(mail, user: str, token: str) -> bool:
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as client:
        client.ehlo()
        try:
            client.auth("XOAUTH2", lambda c=None: xoauth2(user, token) if c is None else "")
        except smtplib.SMTPAuthenticationError:
            return False
        return True


def imap_signs_in(mail, user: str, token: str) -> bool:
    with IMAPClient(mail.host, mail.imap_port, ssl=False, timeout=10) as client:
        try:
            client.oauthbearer_login(user, token)
        except LoginError:
            return False
        return True


# --- settings ------------------------------------------------------------------------------------


def test_oauth_is_off_by_default():
    settings = resolve({}, {})
    assert (settings.oauth, settings.oauth_tokens) == ("off", ())


@pytest.mark.parametrize("value", ["off", "accept", "tokens", " Tokens "])
def test_oauth_modes_from_env_and_cli(value):
    assert resolve({}, {"ELEKTROMAIL_OAUTH": value}).oauth == value.strip().lower()
    assert resolve({"oauth": value}, {"ELEKTROMAIL_OAUTH": "off"}).oauth == value.strip().lower()


def test_oauth_tokens_from_env():
    settings = resolve({}, {"ELEKTROMAIL_OAUTH_TOKENS": '[{"user": "a", "token": "t"}]'})
    assert settings.oauth_tokens == (Grant("a", "t"),)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ELEKTROMAIL_OAUTH": "yes"}, "ELEKTROMAIL_OAUTH='yes'"),
        ({"ELEKTROMAIL_OAUTH_TOKENS": "[{"}, "ELEKTROMAIL_OAUTH_TOKENS='***'"),
        ({"ELEKTROMAIL_OAUTH_TOKENS": '[{"user": "a"}]'}, "entry 0: token"),
    ],
)
def test_invalid_oauth_settings_name_the_setting(env, named):
    with pytest.raises(ConfigError) as info:
        resolve({}, env)
    assert named in str(info.value)


def test_configured_tokens_are_not_echoed_in_errors():
    with pytest.raises(ConfigError) as info:
        resolve({}, {"ELEKTROMAIL_OAUTH_TOKENS": '[{"user": "a", "token": "s3cret", "x": 1}]'})
    assert "s3cret" not in str(info.value)


def test_configured_tokens_sign_in_and_config_shows_the_mode(start_mail):
    mail = start_mail(
        oauth="tokens",
        http_port=0,
        oauth_tokens=[
            {"user": "alice", "token": "good", "scope": "smtp imap"},
            {"user": "alice", "token": "old", "expiry": "2001-01-01T00:00:00Z"},
        ],
    )
    assert Api(mail).get("/config").json()["oauth"] == "tokens"
    assert smtp_signs_in(mail, "alice", "good")
    assert imap_signs_in(mail, "alice", "good")
    assert not smtp_signs_in(mail, "alice", "old")
    assert not imap_signs_in(mail, "user", "good")


# --- HTTP API ------------------------------------------------------------------------------------


def test_mint_list_and_revoke_over_http(tokens):
    api = Api(tokens)
    made = api.post("/oauth/tokens", {"user": "alice", "scope": "imap", "expires_in": 3600})
    assert made.status == 201
    body = made.json()
    assert body["user"] == "alice" and body["scope"] == "imap" and body["expiry"].endswith("Z")
    assert body["token"].startswith("elektromail-oauth-")
    assert imap_signs_in(tokens, "alice", body["token"])
    assert not smtp_signs_in(tokens, "alice", body["token"])  # the scope is IMAP's
    assert [t["token"] for t in api.get("/oauth/tokens").json()] == [body["token"]]
    assert api.delete(f"/oauth/tokens/{body['token']}").json() == {"ok": True}
    assert not imap_signs_in(tokens, "alice", body["token"])
    assert api.delete(f"/oauth/tokens/{body['token']}").status == 404
    assert api.get("/oauth/tokens").json() == []


def test_mint_a_chosen_token_with_an_iso_expiry(tokens):
    api = Api(tokens)
    made = api.post(
        "/oauth/tokens", {"user": "alice", "token": "ya29.chosen", "expiry": "2099-01-01T00:00:00"}
    ).json()
    assert made == {
        "user": "alice",
        "token": "ya29.chosen",
        "expiry": "2099-01-01T00:00:00Z",
        "scope": "",
    }
    assert smtp_signs_in(tokens, "alice", "ya29.chosen")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"user": ""},
        {"user": 3},
        {"user": "alice", "token": ""},
        {"user": "alice", "token": "a\x01b"},
        {"user": "alice", "token": " padded "},
        {"user": "alice", "token": "x" * 5000},
        {"user": "alice", "expires_in": "soon"},
        {"user": "alice", "expires_in": True},
        {"user": "alice", "expires_in": 1e30},
        {"user": "alice", "expiry": "next week"},
        {"user": "alice", "expiry": 1e300},
        {"user": "alice", "expiry": 5, "expires_in": 5},
        {"user": "alice", "scope": 7},
        {"user": "alice", "colour": "red"},
    ],
)
def test_bad_mint_requests_are_400(tokens, body):
    answer = Api(tokens).post("/oauth/tokens", body)
    assert answer.status == 400, answer.body
    assert answer.error


def test_not_json_is_400(tokens):
    assert Api(tokens).post("/oauth/tokens", data=b"{not json").status == 400


def test_reset_drops_minted_tokens_and_keeps_configured_ones(start_mail):
    mail = start_mail(
        oauth="tokens", http_port=0, oauth_tokens=[{"user": "alice", "token": "configured"}]
    )
    minted = mail.oauth_token("alice")
    mail.reset()
    assert not smtp_signs_in(mail, "alice", minted)
    assert smtp_signs_in(mail, "alice", "configured")


def test_python_api_expiry_and_scope(tokens):
    assert not imap_signs_in(tokens, "alice", tokens.oauth_token("alice", expires_in=-1))
    assert imap_signs_in(tokens, "alice", tokens.oauth_token("alice", expires_in=60))
    assert not imap_signs_in(tokens, "alice", tokens.oauth_token("alice", scope="smtp"))
    assert tokens.oauth_token("alice", token="fixed") == "fixed"


# --- namespaces -------------------------------------------------------------------------


def test_namespace_tokens_are_scoped_and_sign_in_the_namespaces_user(tokens):
    api = Api(tokens)
    ns = api.post("/namespaces", {"name": "team"}).json()
    scoped = Api(tokens, ns["token"])
    made = scoped.post("/oauth/tokens", {"user": "dev"}).json()
    assert made["user"] == "dev"
    assert [t["user"] for t in api.get("/oauth/tokens?namespace=team").json()] == ["dev"]
    assert api.get("/oauth/tokens").json() == []  # not the default namespace's
    assert scoped.delete(f"/oauth/tokens/{made['token']}").status == 200
    made = scoped.post("/oauth/tokens", {"user": "dev"}).json()
    assert api.delete(f"/oauth/tokens/{made['token']}").status == 404  # not from outside
    # the namespace's user is made on first sign-in, as with PLAIN and the namespace's token
    assert imap_signs_in(tokens, "dev@team", made["token"])
    assert not imap_signs_in(tokens, "dev", made["token"])
    assert not imap_signs_in(tokens, "other@team", made["token"])
    # a namespace's reset drops its minted tokens
    scoped.post("/reset")
    assert not imap_signs_in(tokens, "dev@team", made["token"])


def test_remote_client_mints_a_token_for_its_namespace(tokens):
    with RemoteMailServer(tokens.http_url) as remote:
        token = remote.oauth_token("dev", scope="imap")
        assert imap_signs_in(tokens, remote.imap_login("dev"), token)


def test_accept_mode_signs_a_namespace_user_in_with_the_namespaces_token(start_mail):
    mail = start_mail(oauth="accept", http_port=0)
    ns = Api(mail).post("/namespaces", {"name": "crew"}).json()
    assert not imap_signs_in(mail, "pat@crew", "some-other-token")
    assert imap_signs_in(mail, "pat@crew", ns["token"])
    assert imap_signs_in(mail, "pat@crew", "any-token-now-pat-exists")


def test_smtp_session_signed_in_with_oauth_keeps_mail_in_the_namespace(tokens):
    api = Api(tokens)
    ns = api.post("/namespaces", {"name": "mailers"}).json()
    token = Api(tokens, ns["token"]).post("/oauth/tokens", {"user": "app"}).json()["token"]
    wire = Wire(tokens.smtp_port)
    wire.command(b"EHLO x")
    auth = base64.b64encode(xoauth2("app@mailers", token).encode())
    assert wire.command(b"AUTH XOAUTH2 " + auth).startswith(b"235 ")
    wire.command(b"MAIL FROM:<app@example.com>")
    wire.command(b"RCPT TO:<someone@example.com>")
    wire.command(b"DATA")
    assert wire.command(b"Subject: ns\r\n\r\nhi\r\n.").startswith(b"250 ")
    wire.close()
    listed = Api(tokens, ns["token"]).get("/messages").json()
    assert [m["subject"] for m in listed["messages"]] == ["ns"]
    assert json.loads(Api(tokens).get("/messages").body)["messages"] == []
