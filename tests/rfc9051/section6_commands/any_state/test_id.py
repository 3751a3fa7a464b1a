"""RFC 2971 ID: valid in any state, answered with one untagged ID response."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_ok,
    assert_still_usable,
    assert_untagged,
    capability_list,
    require,
)
from tests.rfc9051.client import Literal
from tests.rfc9051.fixtures import STATES
from tests.rfc9051.response import string_value


@pytest.fixture(autouse=True)
def _needs_id(target):
    require(target.capabilities_before_login, "ID")


def server_id(result) -> list | None:
    """The parameter list of the one untagged ID response (None for NIL)."""
    (response,) = assert_untagged(result, "ID", count=1)
    assert len(response.data) == 1, f"ID response takes one argument: {response}"
    return response.data[0]


@pytest.mark.parametrize("state", STATES)
def test_id_nil_gets_one_untagged_id_and_ok(in_state, state):
    """RFC 2971 §3.1: "This command is valid in any state." §3.2: "A server MUST send a
    tagged ID response to an ID command. However, a server MAY send NIL in place of the
    list." (the "tagged" there is the untagged ID response before the tagged OK)."""
    result = in_state(state).command("ID", "NIL")
    assert_ok(result)
    server_id(result)


def test_id_with_client_parameters_is_accepted(client):
    """RFC 2971 §3.1: "The information sent is in the form of a list of field/value pairs.
    Fields are permitted to be any IMAP4 string, and values are permitted to be any IMAP4
    string or NIL." Example: a023 ID ("name" "sodr" "version" "19.34" ...)."""
    result = client.command(
        "ID", '("name" "rfc9051-harness" "version" "1.0" "vendor" "elektromail tests")'
    )
    assert_ok(result)
    server_id(result)


def test_id_accepts_nil_values_and_literal_strings(client):
    """RFC 2971 §3.1: "values are permitted to be any IMAP4 string or NIL. A value of NIL
    indicates that the client can not or will not specify this information." A string may
    be a literal (RFC 3501 §4.3)."""
    result = client.command("ID", '("name" NIL "os"', Literal(b"Linux"), ")")
    assert_ok(result)
    server_id(result)


def test_id_response_is_nil_or_field_value_pairs(client):
    """RFC 2971 §4: id_response ::= "ID" SPACE id_params_list; id_params_list ::= "("
    #(string SPACE nstring) ")" / nil. §3.3: "Field strings MUST NOT be longer than 30
    octets. Value strings MUST NOT be longer than 1024 octets. Implementations MUST NOT
    send more than 30 field-value pairs." """
    params = server_id(client.command("ID", "NIL"))
    if params is None:
        return
    assert isinstance(params, list) and len(params) % 2 == 0, f"not field/value pairs: {params}"
    assert len(params) // 2 <= 30, f"more than 30 field-value pairs: {params}"
    for i in range(0, len(params), 2):
        field, value = params[i], params[i + 1]
        assert isinstance(field, (str, bytes)) and not isinstance(field, type(None))
        assert len(string_value(field).encode()) <= 30, f"field {field!r} over 30 octets"
        if value is not None:
            assert len(string_value(value).encode()) <= 1024, f"value of {field!r} too long"


@pytest.mark.dovecot_deviation("answers a bare ID (no parameter list) with OK")
def test_id_without_argument_is_bad(client):
    """RFC 2971 §4: id ::= "ID" SPACE id_params_list; §3.1: "BAD command unknown or
    arguments invalid"."""
    assert_bad(client.command("ID"))
    assert_still_usable(client)


@pytest.mark.parametrize(
    "arguments",
    ['"name"', "name", "(name)", '("name" "x"'],
    ids=["bare-string", "atom", "list-of-atom", "unclosed-list"],
)
def test_id_with_malformed_parameter_list_is_bad(client, arguments):
    """RFC 2971 §4: id_params_list ::= "(" #(string SPACE nstring) ")" / nil — anything else
    is "BAD command unknown or arguments invalid" (§3.1)."""
    assert_bad(client.command("ID", arguments))
    assert_still_usable(client)


def test_id_does_not_change_capabilities(client):
    """RFC 2971 §3: "Servers MUST NOT provide features to a client or otherwise optimize for
    a particular client by using information from the ID command." The capability list is
    the same after an ID naming a well-known client."""
    before = capability_list(client.command("CAPABILITY"))
    assert_ok(client.command("ID", '("name" "Microsoft Outlook" "version" "16.0")'))
    after = capability_list(client.command("CAPABILITY"))
    assert sorted(c.upper() for c in after) == sorted(c.upper() for c in before)


def test_id_does_not_affect_login(client, target):
    """RFC 2971 §3: "Servers MUST NOT deny access to or refuse service for a client based on
    information from the ID command." """
    assert_ok(client.command("ID", '("name" "unknown-client" "version" "0.0.1-alpha")'))
    target.login(client)
    assert_ok(client.command("ID", "NIL"))
