"""RFC 9051 §6.2.3 LOGIN."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_no,
    assert_not_ok,
    assert_ok,
    assert_still_usable,
    require,
)
from tests.rfc9051.client import Literal, quote


@pytest.fixture(autouse=True)
def _login_allowed(target):
    caps = target.capabilities_before_login
    if "LOGINDISABLED" in caps and "STARTTLS" not in caps:
        pytest.skip("LOGIN is disabled on this connection")


def plain_login(target, client):
    """Bring the connection to where LOGIN is permitted (STARTTLS if LOGINDISABLED)."""
    if "LOGINDISABLED" in target.capabilities_before_login and not client.tls:
        assert_ok(client.starttls())


def test_login_with_valid_credentials_succeeds(client, target):
    """RFC 9051 §6.2.3: "OK - login completed, now in authenticated state"."""
    plain_login(target, client)
    assert_ok(client.login(target.user, target.password))


def test_login_enters_authenticated_state(client, target):
    """RFC 9051 §6.2.3: "OK - login completed, now in authenticated state"; RFC 9051 §6.3:
    in the authenticated state "the following commands are valid ... SELECT, EXAMINE ...
    LIST ..."."""
    plain_login(target, client)
    assert_bad(client.command("LIST", '""', '""'))
    assert_ok(client.login(target.user, target.password))
    assert_ok(client.command("LIST", '""', '""'))
    assert_ok(client.select("INBOX", examine=True))


@pytest.mark.parametrize("wrong", ["password", "user"])
def test_login_with_wrong_credentials_fails_with_no(client, target, wrong):
    """RFC 9051 §6.2.3: "NO - login failure: user name or password rejected"."""
    plain_login(target, client)
    if wrong == "password":
        result = client.login(target.user, target.password + "-wrong")
    else:
        result = client.login("rfc9051-no-such-user", target.password)
    assert_no(result)


def test_failed_login_stays_not_authenticated_and_may_retry(client, target):
    """RFC 9051 §6: "A failed command (NO response) generally does not change the state of
    the connection"; RFC 9051 §6.2.2: the client "MAY also attempt to authenticate by using
    the LOGIN command" again."""
    plain_login(target, client)
    assert_no(client.login(target.user, target.password + "-wrong"))
    assert_bad(client.command("LIST", '""', '""'))
    assert_ok(client.login(target.user, target.password))


def test_second_user_can_log_in(client, target, second_user):
    """RFC 9051 §6.2.3: "The LOGIN command identifies the client to the server and carries
    the plaintext password authenticating this user." """
    plain_login(target, client)
    assert_ok(client.login(*second_user))


@pytest.mark.parametrize(
    "form",
    ["atom", "quoted", "literal", "literal-password", "literal+"],
)
def test_login_accepts_every_astring_form(client, target, form):
    """RFC 9051 §9: login = "LOGIN" SP userid SP password; userid = astring; password =
    astring; astring = 1*ASTRING-CHAR / string; string = quoted / literal."""
    plain_login(target, client)
    user, password = target.user, target.password
    if not user.isalnum() or not password.isalnum():
        pytest.skip("credentials are not plain atoms")
    if form == "atom":
        result = client.command("LOGIN", user, password)
    elif form == "quoted":
        result = client.command("LOGIN", quote(user), quote(password))
    elif form == "literal":
        result = client.command("LOGIN", Literal(user.encode()), Literal(password.encode()))
    elif form == "literal-password":
        result = client.command("LOGIN", user, Literal(password.encode()))
    else:
        require(target.capabilities_before_login, "LITERAL+")
        result = client.command(
            "LOGIN", Literal(user.encode(), plus=True), Literal(password.encode(), plus=True)
        )
    assert_ok(result)


def test_login_response_capability_code_lists_an_imap_revision(client, target):
    """RFC 9051 §6.2.3: "A server MAY include a CAPABILITY response code in the tagged OK
    response to a successful LOGIN command in order to send capabilities automatically."
    When it does, that list is a CAPABILITY list like any other (RFC 9051 §7.1)."""
    plain_login(target, client)
    tagged = assert_ok(client.login(target.user, target.password))
    if tagged.code != "CAPABILITY":
        return
    names = {str(n).upper() for n in tagged.code_data}
    assert names & {"IMAP4REV1", "IMAP4REV2"}, f"LOGIN's CAPABILITY code: {tagged}"


@pytest.mark.parametrize(
    "arguments",
    [(), ("user",), ("a", "b", "c"), ("(user)", "pass"), ('"unterminated',)],
    ids=["none", "user-only", "three", "list", "unterminated-quote"],
)
def test_login_with_malformed_arguments_is_bad(client, arguments):
    """RFC 9051 §6.2.3: "BAD - command unknown or arguments invalid"; login = "LOGIN" SP
    userid SP password (RFC 9051 §9)."""
    assert_bad(client.command("LOGIN", *arguments))
    assert_still_usable(client)


@pytest.mark.parametrize("state", ["authenticated", "selected"])
def test_login_when_already_authenticated_is_bad(in_state, target, state):
    """RFC 9051 §6.2: "Once authenticated (including as anonymous), it is not possible to
    re-enter not authenticated state." LOGIN is a command of the not authenticated state
    only (RFC 9051 §6.2); a command in the wrong state is a protocol error (BAD)."""
    client = in_state(state)
    assert_bad(client.login(target.user, target.password))
    assert_still_usable(client)


def test_login_with_empty_password_is_rejected(client, target):
    """RFC 9051 §6.2.3: "NO - login failure: user name or password rejected" (the account's
    password is not empty)."""
    plain_login(target, client)
    if target.password == "":
        pytest.skip("the test account has an empty password")
    assert_not_ok(client.login(target.user, ""))
    assert_still_usable(client)
