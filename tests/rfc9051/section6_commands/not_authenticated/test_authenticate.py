"""RFC 9051 §6.2.2 AUTHENTICATE, with SASL PLAIN (RFC 4616), the initial response of
SASL-IR (RFC 4959) and the common LOGIN mechanism."""

from __future__ import annotations

import base64

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_no,
    assert_not_ok,
    assert_ok,
    assert_still_usable,
    require,
)
from tests.rfc9051.client import ImapClient, Result


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def plain(user: str, password: str, authzid: str = "") -> str:
    """An RFC 4616 PLAIN message: [authzid] NUL authcid NUL passwd, base64-encoded."""
    return b64(f"{authzid}\0{user}\0{password}")


def sasl(client: ImapClient, mechanism: str, *responses: str, initial: str | None = None):
    """Run AUTHENTICATE, answering each "+" with the next of `responses`; an unexpected "+"
    is answered with "*" (cancel). Returns the Result (continuations included)."""
    parts = ["AUTHENTICATE", mechanism] + ([initial] if initial is not None else [])
    tag, early = client.send_command(*parts)
    pending = list(responses)
    collected = list(early)
    while True:
        response = client.read_response()
        if response.tag == tag:
            return Result(tag, response, collected)
        collected.append(response)
        if response.tag == "+":
            client.send_line(pending.pop(0) if pending else "*")


@pytest.fixture
def auth(connect, target) -> ImapClient:
    """A not authenticated connection where AUTH=PLAIN may be used (after STARTTLS when the
    cleartext port advertises LOGINDISABLED)."""
    client = connect()
    names = client.capabilities()
    if "LOGINDISABLED" in names and not client.tls and "STARTTLS" in names:
        assert_ok(client.starttls())
        names = client.capabilities()
    require(names, "AUTH=PLAIN")
    client.names = names
    return client


def test_authenticate_plain_without_initial_response_succeeds(auth, target):
    """RFC 9051 §6.2.2: "Note that because the initial response is optional, the following
    negotiation (which does not use the initial response) is still valid and MUST be
    supported by the server: C: A01 AUTHENTICATE PLAIN / S: + / C: dGVzdAB0ZXN0AHRlc3Q= /
    S: A01 OK Success"."""
    result = sasl(auth, "PLAIN", plain(target.user, target.password))
    assert_ok(result)
    assert len(result.continuations) == 1, result


def test_authenticate_plain_first_challenge_is_empty(auth, target):
    """RFC 9051 §6.2.2: "A server challenge consists of a command continuation request
    response with the "+" token followed by a base64-encoded ... string"; PLAIN has no server
    challenge (RFC 4616 §2), so it is empty: "Note that in the above example there is a
    space following the "+" from the server." """
    tag, _ = auth.send_command("AUTHENTICATE", "PLAIN")
    challenge = auth.read_response()
    assert challenge.tag == "+", f"expected a continuation request: {challenge}"
    assert challenge.raw in (b"+ \r\n", b"+\r\n"), f"PLAIN challenge not empty: {challenge.raw!r}"
    auth.send_line(plain(target.user, target.password))
    assert_ok(auth.read_until_tagged(tag))


def test_authenticate_plain_with_initial_response_succeeds(auth, target):
    """RFC 9051 §6.2.2: "The AUTHENTICATE command supports the optional "initial response"
    feature"; example: "C: A03 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q= / S: A03 OK"
    (RFC 4959 §3 for IMAP4rev1 servers advertising SASL-IR)."""
    require(auth.names, "SASL-IR")
    result = sasl(auth, "PLAIN", initial=plain(target.user, target.password))
    assert_ok(result)
    assert not result.continuations, f"continuation despite the initial response: {result}"


@pytest.mark.parametrize("form", ["continuation", "initial-response"])
def test_authenticate_plain_with_wrong_password_fails_with_no(auth, target, form):
    """RFC 9051 §6.2.2: "NO - authenticate failure: unsupported authentication mechanism,
    credentials rejected"."""
    token = plain(target.user, target.password + "-wrong")
    if form == "initial-response":
        require(auth.names, "SASL-IR")
        result = sasl(auth, "PLAIN", initial=token)
    else:
        result = sasl(auth, "PLAIN", token)
    assert_no(result)
    assert_bad(auth.command("LIST", '""', '""'))


def test_authenticate_plain_with_unknown_user_fails_with_no(auth, target):
    """RFC 9051 §6.2.2: "NO - authenticate failure: ... credentials rejected"."""
    assert_no(sasl(auth, "PLAIN", plain("rfc9051-no-such-user", target.password)))


def test_authenticate_cancelled_with_star_is_bad(auth):
    """RFC 9051 §6.2.2: "If the client wishes to cancel an authentication exchange, it issues
    a line consisting of a single "*". If the server receives such a response [...] it MUST
    reject the AUTHENTICATE command by sending a tagged BAD response." """
    assert_bad(sasl(auth, "PLAIN", "*"))
    assert_still_usable(auth)


OUTSIDE_ALPHABET = pytest.mark.dovecot_deviation(
    "answers base64 with characters outside the alphabet with NO [ALERT], not BAD"
)


@pytest.mark.parametrize(
    "response",
    [
        pytest.param("!!!!", marks=OUTSIDE_ALPHABET),
        "=AAA",
        "AAA=BBB",
        "dXNlcg=x",
        pytest.param("dXN lcg==", marks=OUTSIDE_ALPHABET),
    ],
)
def test_authenticate_invalid_base64_response_is_bad(auth, response):
    """RFC 9051 §6.2.2: "if it receives an invalid base64 string (e.g., characters outside
    the base64 alphabet or non-terminal "="), it MUST reject the AUTHENTICATE command by
    sending a tagged BAD response." """
    assert_bad(sasl(auth, "PLAIN", response))
    assert_still_usable(auth)


@pytest.mark.parametrize("initial", ["!!!!", "=AAA", "AAA=BBB"])
def test_authenticate_invalid_base64_initial_response_is_bad(auth, initial):
    """RFC 9051 §6.2.2: "When decoding the base64 data in the initial response, decoding
    errors MUST be treated as in any normal SASL client response, i.e., with a tagged BAD
    response. In particular, the server should check for any characters not explicitly
    allowed by the base64 alphabet, as well as any sequence of base64 characters that
    contains the pad character ('=') anywhere other than the end of the string (e.g., "=AAA"
    and "AAA=BBB" are not allowed)." """
    require(auth.names, "SASL-IR")
    assert_bad(sasl(auth, "PLAIN", initial=initial))
    assert_still_usable(auth)


def test_authenticate_initial_response_in_quotes_is_bad(auth, target):
    """RFC 9051 §6.2.2: "As with any other client response, the initial response MUST be
    encoded as base64. It also MUST be transmitted outside of a quoted string or literal."
    initial-resp = (base64 / "=") (RFC 9051 §9): a quoted string does not match."""
    require(auth.names, "SASL-IR")
    token = plain(target.user, target.password)
    assert_bad(sasl(auth, "PLAIN", initial=f'"{token}"'))
    assert_still_usable(auth)


def test_authenticate_empty_initial_response_is_zero_length_not_a_request(auth):
    """RFC 9051 §6.2.2: "To send a zero-length initial response, the client MUST send a single
    pad character ("="). This indicates that the response is present, but it is a
    zero-length string." An empty PLAIN message cannot authenticate anyone (RFC 4616 §2:
    message = [authzid] UTF8NUL authcid UTF8NUL passwd)."""
    require(auth.names, "SASL-IR")
    result = sasl(auth, "PLAIN", initial="=")
    assert_not_ok(result)
    assert_still_usable(auth)


def test_authenticate_unsupported_mechanism_fails_with_no(auth):
    """RFC 9051 §6.2.2: "If the requested authentication mechanism is not supported, the
    server SHOULD reject the AUTHENTICATE command by sending a tagged NO response." Result:
    "NO - authenticate failure: unsupported authentication mechanism"."""
    result = sasl(auth, "X-RFC9051-NO-SUCH-MECHANISM")
    assert_no(result)
    assert_still_usable(auth)


def test_authenticate_without_mechanism_is_bad(auth):
    """RFC 9051 §9: authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp]; "BAD -
    command unknown or arguments invalid"."""
    assert_bad(auth.command("AUTHENTICATE"))
    assert_still_usable(auth)


def test_authenticate_plain_with_own_authzid_succeeds(auth, target):
    """RFC 4616 §2: "the client does not provide an authorization identity when it wishes the
    server to derive an identity from the credentials and use that as the authorization
    identity"; naming oneself is what the server would derive. RFC 9051 §6.2.2: "The
    authorization identity passed from the client to the server during the authentication
    exchange is interpreted by the server as the user name whose privileges the client is
    requesting." """
    assert_ok(sasl(auth, "PLAIN", plain(target.user, target.password, authzid=target.user)))


def test_authenticate_plain_as_other_user_is_refused(auth, target, second_user):
    """RFC 4616 §2: the server "will verify that the authentication credentials permit the
    client to act as the (presented or derived) authorization identity (authzid). If both
    steps succeed, the user is authenticated." A plain user may not act as another: RFC 9051
    §7.1 AUTHORIZATIONFAILED, "the server cannot or will not allow the authentication
    identity to act as the requested authorization identity"."""
    token = plain(target.user, target.password, authzid=second_user[0])
    assert_no(sasl(auth, "PLAIN", token))
    assert_still_usable(auth)


@pytest.mark.parametrize(
    "message", ["userpass", "\0onlyuser", "a\0b\0c\0d"], ids=["no-nul", "one-nul", "three-nuls"]
)
def test_authenticate_malformed_plain_message_is_rejected(auth, message):
    """RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd, and "the server will
    verify the presented (in the message) authentication identity (authcid) and password
    (passwd)" — a message without exactly that shape presents no credentials to accept."""
    assert_not_ok(sasl(auth, "PLAIN", b64(message)))
    assert_still_usable(auth)


def test_authenticate_mechanism_name_is_case_insensitive(auth, target):
    """RFC 9051 §9: "Unless otherwise noted, all alphabetic characters are case insensitive. The use
    of uppercase or lowercase characters to define token strings is for editorial clarity only.
    Implementations MUST accept these strings in a case-insensitive fashion." (auth-type = atom)."""
    assert_ok(sasl(auth, "plain", plain(target.user, target.password)))


def test_authenticate_enters_authenticated_state(auth, target):
    """RFC 9051 §6.2.2: "OK - authenticate completed, now in authenticated state"."""
    assert_ok(sasl(auth, "PLAIN", plain(target.user, target.password)))
    assert_ok(auth.command("LIST", '""', '""'))
    assert_ok(auth.select("INBOX", examine=True))


def test_authenticate_failure_then_login_succeeds(auth, target):
    """RFC 9051 §6.2.2: "If an AUTHENTICATE command fails with a NO response, the client MAY
    try another authentication mechanism by issuing another AUTHENTICATE command. It MAY
    also attempt to authenticate by using the LOGIN command"."""
    assert_no(sasl(auth, "PLAIN", plain(target.user, target.password + "-wrong")))
    if "LOGINDISABLED" not in auth.names:
        assert_ok(auth.login(target.user, target.password))
    else:
        assert_ok(sasl(auth, "PLAIN", plain(target.user, target.password)))


@pytest.mark.parametrize("state", ["authenticated", "selected"])
def test_authenticate_after_login_is_bad(in_state, target, state):
    """RFC 9051 §6.2: "Once authenticated (including as anonymous), it is not possible to
    re-enter not authenticated state." AUTHENTICATE is valid in the not authenticated state
    only (RFC 9051 §6.2)."""
    client = in_state(state)
    result = sasl(client, "PLAIN", plain(target.user, target.password))
    assert_bad(result)
    assert_still_usable(client)


def test_authenticate_login_mechanism_succeeds(auth, target):
    """RFC 9051 §6.2.2: "A server challenge consists of a command continuation request
    response with the "+" token followed by a base64-encoded [...] string. The client
    response consists of a single line consisting of a base64-encoded string." The LOGIN
    mechanism (AUTH=LOGIN) asks for the user name, then the password."""
    require(auth.names, "AUTH=LOGIN")
    result = sasl(auth, "LOGIN", b64(target.user), b64(target.password))
    assert_ok(result)
    assert len(result.continuations) == 2, result
    for challenge in result.continuations:
        base64.b64decode(challenge.text, validate=True)


def test_authenticate_login_mechanism_with_wrong_password_fails_with_no(auth, target):
    """RFC 9051 §6.2.2: "NO - authenticate failure: unsupported authentication mechanism,
    credentials rejected"."""
    require(auth.names, "AUTH=LOGIN")
    assert_no(sasl(auth, "LOGIN", b64(target.user), b64(target.password + "-wrong")))
    assert_still_usable(auth)


def test_authenticate_login_mechanism_cancelled_is_bad(auth, target):
    """RFC 9051 §6.2.2: "If the client wishes to cancel an authentication exchange, it issues
    a line consisting of a single "*". If the server receives such a response [...] it MUST
    reject the AUTHENTICATE command by sending a tagged BAD response." """
    require(auth.names, "AUTH=LOGIN")
    assert_bad(sasl(auth, "LOGIN", b64(target.user), "*"))
    assert_still_usable(auth)
