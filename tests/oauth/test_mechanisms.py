"""XOAUTH2 and OAUTHBEARER as pure code: parsing (RFC 7628 §3.1, RFC 5801 §4 GS2 header),
the exchange's error challenge and dummy response (RFC 7628 §3.2.2, §3.2.3), the token map."""

from __future__ import annotations

import json

import pytest
from twisted.internet.defer import Deferred

from elektromail import oauth
from elektromail.oauth import (
    Bearer,
    Challenge,
    Exchange,
    Failure,
    Grant,
    Malformed,
    Success,
    TokenMap,
    Verdict,
)


def run(coroutine):
    """The result of a coroutine that never waits (verify answers at once)."""
    d = Deferred.fromCoroutine(coroutine)
    results = []
    d.addBoth(results.append)
    return results[0]


def xoauth2(user: bytes, token: bytes) -> bytes:
    return b"user=" + user + b"\x01auth=Bearer " + token + b"\x01\x01"


def bearer(header: bytes, token: bytes, extra: bytes = b"") -> bytes:
    return header + b"\x01" + extra + b"auth=Bearer " + token + b"\x01\x01"


# --- parsing -------------------------------------------------------------------------------------


def test_xoauth2_as_google_documents_it():
    assert oauth.parse_xoauth2(xoauth2(b"someuser@example.com", b"ya29.vF9dft4")) == Bearer(
        "someuser@example.com", "ya29.vF9dft4"
    )


def test_oauthbearer_as_rfc7628_section_4_1_shows_it():
    # RFC 7628 §4.1: "n,a=user@example.com,^Ahost=server.example.com^Aport=143^A
    # auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==^A^A"
    data = (
        b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
        b"auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
    )
    assert oauth.parse_oauthbearer(data) == Bearer(
        "user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
    )


def test_oauthbearer_ignores_unknown_keys_and_decodes_the_saslname():
    # §3.1 "Unknown key/value pairs MUST be ignored"; RFC 5801 §4: =2C is ",", =3D is "="
    data = bearer(b"n,a=a=2Cb=3Dc,", b"t", b"mthd=POST\x01zzz=1\x01")
    assert oauth.parse_oauthbearer(data) == Bearer("a,b=c", "t")


def test_bearer_scheme_is_case_insensitive():
    assert oauth.parse_xoauth2(b"user=u\x01auth=bearer tok\x01\x01").token == "tok"


@pytest.mark.parametrize(
    "data",
    [
        b"user=u auth=Bearer t",  # no \x01 at all
        b"user=u\x01auth=Bearer t\x01",  # one \x01 at the end
        b"user=u\x01auth=Bearer t",
        b"auth=Bearer t\x01\x01",  # no user
        b"user=u\x01\x01",  # no auth
        b"user=\x01auth=Bearer t\x01\x01",  # empty user
        b"user=u\x01auth=Bearer \x01\x01",  # empty token
        b"user=u\x01auth=Basic dTpw\x01\x01",  # not Bearer
        b"user=u\x01auth=Bearer t\x01user=v\x01\x01",  # twice
        b"user=\xff\x01auth=Bearer t\x01\x01",  # not UTF-8
        b"",
    ],
    ids=[
        "no-separators",
        "one-final-separator",
        "no-final-separators",
        "no-user",
        "no-auth",
        "empty-user",
        "empty-token",
        "basic",
        "user-twice",
        "not-utf8",
        "empty",
    ],
)
def test_malformed_xoauth2(data):
    with pytest.raises(Malformed):
        oauth.parse_xoauth2(data)


@pytest.mark.parametrize(
    "data",
    [
        bearer(b"y,,", b"t"),  # claims the server could do channel binding
        bearer(b"y,a=u,", b"t"),
        bearer(b"p=tls-unique,a=u,", b"t"),  # asks for channel binding
        bearer(b"n,,", b"t"),  # no authzid
        bearer(b"n,u,", b"t"),
        bearer(b"n,a=,", b"t"),
        bearer(b"n,a=u", b"t"),  # no final comma
        bearer(b"n,a=u,x,", b"t"),
        bearer(b"n,a=a=2Xb,", b"t"),  # bad escape
        bearer(b"F,n,a=u,", b"t"),  # the non-standard flag
        b"n,a=u,auth=Bearer t\x01\x01",  # no \x01 after the header
        b"n,a=u,\x01auth=Bearer t\x01",  # no final \x01
        b"n,a=u,\x01auth=Bearer t",
        b"n,a=u,\x01\x01",  # no auth
        b"n,a=u,",
        bearer(b"n,a=u,", b""),  # empty token
        bearer(b"n,a=u,", b"t", b"port=0143\x01"),  # RFC 7628 §3.1: no leading zeros
        bearer(b"n,a=u,", b"t", b"user=v\x01"),  # a user= that is not the authzid
    ],
    ids=[
        "y-empty",
        "y",
        "p",
        "no-authzid",
        "authzid-without-a",
        "empty-authzid",
        "no-final-comma",
        "extra-field",
        "bad-escape",
        "nonstandard-flag",
        "no-separator",
        "one-final-separator",
        "no-final-separators",
        "no-auth",
        "header-only",
        "empty-token",
        "port",
        "user-mismatch",
    ],
)
def test_malformed_oauthbearer(data):
    with pytest.raises(Malformed):
        oauth.parse_oauthbearer(data)


# --- the exchange --------------------------------------------------------------------------------


class Verifier:
    def __init__(self, good: dict[tuple[str, str], str]) -> None:
        self.good = good
        self.asked: list[tuple[str, str, str]] = []

    async def __call__(self, user: str, token: str, protocol: str) -> Verdict:
        self.asked.append((user, token, protocol))
        name = self.good.get((user, token))
        return Verdict(name) if name else Verdict(error=oauth.INVALID_TOKEN)


@pytest.mark.parametrize("mechanism", oauth.MECHANISMS)
def test_a_good_token_succeeds_with_the_user(mechanism):
    verify = Verifier({("alice", "t1"): "alice-row"})
    exchange = Exchange(mechanism, verify, "imap")
    data = xoauth2(b"alice", b"t1") if mechanism == "XOAUTH2" else bearer(b"n,a=alice,", b"t1")
    assert run(exchange.respond(data)) == Success("alice-row")
    assert verify.asked == [("alice", "t1", "imap")]


def test_oauthbearer_refusal_is_the_rfc7628_json_then_failure_after_the_dummy():
    exchange = Exchange("OAUTHBEARER", Verifier({}), "smtp")
    outcome = run(exchange.respond(bearer(b"n,a=alice,", b"bad")))
    assert isinstance(outcome, Challenge)
    # §3.2.2: "status (REQUIRED)", "scope (OPTIONAL)"
    assert json.loads(outcome.data) == {"status": "invalid_token", "scope": oauth.GOOGLE_MAIL_SCOPE}
    # §3.2.3: the client sends the dummy \x01, and the server fails
    assert run(exchange.respond(b"\x01")) == Failure("invalid_token")


def test_xoauth2_refusal_is_googles_json_then_failure_after_the_empty_response():
    exchange = Exchange("XOAUTH2", Verifier({}), "smtp")
    outcome = run(exchange.respond(xoauth2(b"alice", b"bad")))
    assert json.loads(outcome.data) == {
        "status": "401",
        "schemes": "bearer",
        "scope": "https://mail.google.com/",
    }
    assert isinstance(run(exchange.respond(b"")), Failure)


def test_insufficient_scope_is_told():
    async def verify(user, token, protocol):
        return Verdict(error=oauth.INSUFFICIENT_SCOPE)

    outcome = run(Exchange("OAUTHBEARER", verify, "imap").respond(bearer(b"n,a=u,", b"t")))
    assert json.loads(outcome.data)["status"] == "insufficient_scope"
    outcome = run(Exchange("XOAUTH2", verify, "imap").respond(xoauth2(b"u", b"t")))
    assert json.loads(outcome.data)["status"] == "403"


def test_malformed_fails_at_once_without_asking():
    verify = Verifier({})
    outcome = run(Exchange("OAUTHBEARER", verify, "imap").respond(bearer(b"y,,", b"t")))
    assert isinstance(outcome, Failure) and outcome.malformed
    assert verify.asked == []


def test_a_lone_kvsep_first_fails():
    # §3.1: the single kvsep "is only valid" after a failure; "the server MAY simply fail"
    outcome = run(Exchange("OAUTHBEARER", Verifier({}), "imap").respond(b"\x01"))
    assert isinstance(outcome, Failure) and outcome.malformed


def test_an_over_long_response_fails():
    data = xoauth2(b"alice", b"t" * oauth.MAX_RESPONSE)
    outcome = run(Exchange("XOAUTH2", Verifier({}), "imap").respond(data))
    assert outcome == Failure("response too long", malformed=True)


# --- the token map -------------------------------------------------------------------------------


def test_parse_tokens_inline_json_with_iso_and_epoch_expiry():
    grants = oauth.parse_tokens(
        '[{"user": "alice", "token": "t1", "expiry": "2030-01-01T00:00:00Z", "scope": "imap"},'
        ' {"user": "bob", "token": "t2", "expiry": 1700000000, "scope": ["smtp", "imap"]},'
        ' {"user": "carol", "token": "t3"}]'
    )
    assert grants == (
        Grant("alice", "t1", 1893456000.0, ("imap",)),
        Grant("bob", "t2", 1700000000.0, ("smtp", "imap")),
        Grant("carol", "t3", None, ()),
    )


def test_parse_tokens_from_a_file(tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text('[{"user": "alice", "token": "t1", "expiry": "2030-01-01T00:00:00"}]')
    assert oauth.parse_tokens(str(path)) == (Grant("alice", "t1", 1893456000.0),)


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        "[1]",
        '[{"user": "a"}]',
        '[{"token": "t"}]',
        '[{"user": "a", "token": ""}]',
        '[{"user": "a", "token": "t\\u0001"}]',
        '[{"user": "a", "token": "t", "expiry": "soon"}]',
        '[{"user": "a", "token": "t", "expiry": true}]',
        '[{"user": "a", "token": "t", "scope": 3}]',
        '[{"user": "a", "token": "t", "colour": "red"}]',
        "[not json",
        "/no/such/file.json",
    ],
)
def test_parse_tokens_refuses(text):
    with pytest.raises(ValueError):
        oauth.parse_tokens(text)


def test_scopes_grant_protocols():
    assert Grant("u", "t").grants("imap")
    assert Grant("u", "t", scopes=("https://mail.google.com/",)).grants("smtp")
    assert Grant("u", "t", scopes=("https://outlook.office.com/SMTP.Send",)).grants("smtp")
    assert not Grant("u", "t", scopes=("https://outlook.office.com/SMTP.Send",)).grants("imap")
    assert not Grant("u", "t", scopes=("openid", "profile")).grants("imap")


def test_token_map_reset_returns_to_the_configured_tokens():
    tokens = TokenMap([Grant("alice", "configured")])
    tokens.add(Grant("bob", "minted"))
    tokens.add(Grant("x@ns1", "in-ns"))
    assert tokens.get("minted") is not None
    tokens.reset(lambda g: not g.user.endswith("@ns1"))
    assert {g.token for g in tokens.grants()} == {"configured", "minted"}
    tokens.reset()
    assert [g.token for g in tokens.grants()] == ["configured"]
