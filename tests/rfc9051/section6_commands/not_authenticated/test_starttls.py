"""RFC 9051 §6.2.1 STARTTLS, and the Implicit TLS port it must not be used on."""

from __future__ import annotations

import base64
import ssl

import pytest

from tests.imap.wire import unverified_tls
from tests.rfc9051.assertions import (
    assert_bad,
    assert_ok,
    assert_still_usable,
    require,
)
from tests.rfc9051.client import ConnectionClosed, quote


@pytest.fixture
def cleartext(connect, target):
    """A not authenticated connection on a cleartext port that offers STARTTLS."""
    if target.tls:
        pytest.skip("the target port is implicit TLS")
    require(target.capabilities_before_login, "STARTTLS")
    return connect()


@pytest.fixture
def implicit_tls(connect, target):
    if target.imaps_port is None:
        pytest.skip("no implicit-TLS port known (RFC9051_TEST_IMAPS_PORT)")
    return connect(tls=True, port=target.imaps_port)


def test_starttls_ok_then_tls_handshake_succeeds(cleartext):
    """RFC 9051 §6.2.1: "OK - starttls completed, begin TLS negotiation"; "A TLS [TLS-1.3]
    negotiation begins immediately after the CRLF at the end of the tagged OK response from
    the server." """
    assert_ok(cleartext.starttls())
    assert cleartext.sock.version() is not None
    assert_still_usable(cleartext)


def test_starttls_keeps_not_authenticated_state(cleartext, target):
    """RFC 9051 §6.2.1: "After successful TLS negotiation, the server remains in the
    non-authenticated state, even if client credentials are supplied during the TLS
    negotiation." """
    assert_ok(cleartext.starttls())
    assert_bad(cleartext.command("LIST", '""', '""'))
    assert_ok(cleartext.login(target.user, target.password))


def test_starttls_capability_afterwards_lists_auth_plain(cleartext):
    """RFC 9051 §6.2.1: "Once TLS has been started, the client MUST discard cached
    information about server capabilities and SHOULD reissue the CAPABILITY command."
    RFC 9051 §6.1.1: servers "MUST also implement AUTH=PLAIN"."""
    assert_ok(cleartext.starttls())
    names = cleartext.capabilities()
    assert "AUTH=PLAIN" in names, f"AUTH=PLAIN missing after STARTTLS: {sorted(names)}"
    assert names & {"IMAP4REV1", "IMAP4REV2"}


def test_starttls_twice_is_bad(cleartext):
    """RFC 9051 §6.2.1: "BAD - STARTTLS received after a successful TLS negotiation or
    arguments invalid"."""
    assert_ok(cleartext.starttls())
    assert_bad(cleartext.command("STARTTLS"))
    assert_still_usable(cleartext)


@pytest.mark.dovecot_deviation("ignores arguments after STARTTLS and starts TLS")
def test_starttls_with_arguments_is_bad(cleartext):
    """RFC 9051 §6.2.1: "Arguments: none ... BAD - STARTTLS received after a successful TLS
    negotiation or arguments invalid"."""
    assert_bad(cleartext.command("STARTTLS", "now"))
    assert_still_usable(cleartext)


@pytest.mark.parametrize("state", ["authenticated", "selected"])
def test_starttls_after_login_is_bad(in_state, target, state):
    """RFC 9051 §6.2: STARTTLS is one of the commands "valid in the not authenticated state";
    in another state it is a protocol error (BAD) and the session goes on in cleartext."""
    if target.tls:
        pytest.skip("the target port is implicit TLS")
    require(target.capabilities_before_login, "STARTTLS")
    client = in_state(state)
    assert_bad(client.command("STARTTLS"))
    assert_still_usable(client)


def test_starttls_discards_pipelined_cleartext_command(cleartext):
    """RFC 9051 §6.2.1: "server implementations MUST do one of the following if any data is
    received in the same TCP buffer after the CRLF that starts the STARTTLS command: 1. Extra
    data from the TCP buffer is interpreted as the beginning of the TLS handshake. [...] 2.
    Extra data from the TCP buffer is thrown away." The injected command never runs."""
    cleartext.send_raw(b"s1 STARTTLS\r\ninj1 CAPABILITY\r\n")
    result = cleartext.read_until_tagged("s1")
    assert_ok(result)
    assert not cleartext.pending(), "server answered the injected command in cleartext"
    try:
        cleartext.sock = unverified_tls().wrap_socket(cleartext.sock, server_hostname="localhost")
    except (ssl.SSLError, OSError):
        return  # option 1: the injected bytes broke the handshake
    cleartext.tls = True
    try:
        result = cleartext.command("NOOP")
    except (ConnectionClosed, OSError):
        return
    assert all(r.tag != "inj1" for r in result.responses), f"injected command ran: {result}"
    assert "CAPABILITY" not in {r.kind for r in result.untagged}, result


def test_starttls_on_implicit_tls_port_is_bad(implicit_tls):
    """RFC 9051 §6.2.1: "The server MUST always respond with a tagged BAD response when the
    STARTTLS command is received on an Implicit TLS port." """
    assert_bad(implicit_tls.command("STARTTLS"))
    assert_still_usable(implicit_tls)


def test_implicit_tls_port_greets_in_not_authenticated_state(implicit_tls):
    """RFC 9051 §3.1: the not authenticated state "is entered when a connection starts unless
    the connection has been pre-authenticated"; the greeting is an untagged OK (or PREAUTH,
    RFC 9051 §7.1.4) sent over the TLS layer."""
    greeting = implicit_tls.greeting
    assert greeting.tag == "*" and greeting.kind in ("OK", "PREAUTH"), f"greeting: {greeting}"


def test_implicit_tls_port_accepts_login(implicit_tls, target):
    """RFC 9051 §6.2.3: LOGIN is permitted when "the client is accessing IMAP service on an
    Implicit TLS port [RFC8314]"."""
    assert_ok(implicit_tls.login(target.user, target.password))
    assert_ok(implicit_tls.select("INBOX", examine=True))


def test_implicit_tls_port_accepts_authenticate_plain(implicit_tls, target):
    """RFC 9051 §6.1.1: "Client and server implementations MUST also implement AUTH=PLAIN
    (described in [PLAIN]) capability on both cleartext and Implicit TLS ports." """
    token = base64.b64encode(f"\0{target.user}\0{target.password}".encode()).decode()
    tag, _ = implicit_tls.send_command("AUTHENTICATE", "PLAIN")
    response = implicit_tls.read_response()
    assert response.tag == "+", f"expected a continuation request: {response}"
    implicit_tls.send_line(token)
    assert_ok(implicit_tls.read_until_tagged(tag))
    assert_ok(implicit_tls.command("LIST", quote(""), quote("")))
