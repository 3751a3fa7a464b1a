"""RFC 9051 §6.1.3 LOGOUT."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import assert_bad, assert_ok, assert_still_usable
from tests.rfc9051.client import ConnectionClosed
from tests.rfc9051.fixtures import STATES


@pytest.mark.parametrize("state", STATES)
def test_logout_sends_bye_before_tagged_ok(in_state, state):
    """RFC 9051 §6.1.3: "The server MUST send a BYE untagged response before the (tagged)
    OK response, and then close the network connection." """
    client = in_state(state)
    result = client.command("LOGOUT")
    assert_ok(result)
    byes = result.of("BYE")
    assert len(byes) == 1, f"expected one untagged BYE before the tagged OK: {result}"


@pytest.mark.parametrize("state", STATES)
def test_logout_closes_the_connection(in_state, state):
    """RFC 9051 §6.1.3: "The server MUST send a BYE untagged response before the (tagged) OK
    response, and then close the network connection." """
    client = in_state(state)
    assert_ok(client.command("LOGOUT"))
    leftover = client.wait_closed()
    assert leftover == b"", f"data after the LOGOUT OK: {leftover!r}"


def test_logout_bye_is_untagged_status_response(client):
    """RFC 9051 §7.1.5: "The BYE response is always untagged and indicates that the server is
    about to close the connection." resp-cond-bye = "BYE" SP resp-text (RFC 9051 §9)."""
    result = client.command("LOGOUT")
    assert_ok(result)
    (bye,) = result.of("BYE")
    assert bye.tag == "*" and bye.is_status, f"malformed BYE: {bye}"


@pytest.mark.dovecot_deviation("ignores arguments after LOGOUT and logs out")
def test_logout_with_arguments_is_bad_and_keeps_the_session(imap):
    """RFC 9051 §6.1.3: "Arguments: none ... BAD - command unknown or arguments invalid";
    RFC 9051 §6: "A rejected command (BAD response) never changes the state of the
    connection"."""
    assert_bad(imap.command("LOGOUT", "now"))
    assert_still_usable(imap)
    assert_ok(imap.command("LIST", '""', '""'))


def test_logout_pipelined_after_noop_answers_both(imap):
    """RFC 9051 §5.5: "The client MAY send another command without waiting for the completion
    result response of a command"; RFC 9051 §6.1.3: "The server MUST send a BYE untagged
    response before the (tagged) OK response, and then close the network connection." The
    pipelined NOOP still gets its answer before the connection closes."""
    imap.send_raw(b"p1 NOOP\r\np2 LOGOUT\r\n")
    tagged = {}
    seen_bye_before_p2 = False
    while "p2" not in tagged:
        response = imap.read_response()
        if response.tag in ("p1", "p2"):
            tagged[response.tag] = response
        elif response.kind == "BYE":
            seen_bye_before_p2 = True
    assert tagged.get("p1") is not None and tagged["p1"].kind == "OK", imap.tail()
    assert tagged["p2"].kind == "OK" and seen_bye_before_p2, imap.tail()
    imap.wait_closed()


def test_logout_drops_the_connection_so_later_commands_fail(client):
    """RFC 9051 §6.1.3: after the tagged OK the server will "close the network connection";
    a command sent afterwards gets no answer."""
    assert_ok(client.command("LOGOUT"))
    client.wait_closed()
    with pytest.raises((ConnectionClosed, OSError)):
        client.command("NOOP")
