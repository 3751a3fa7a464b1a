"""RFC 9051 §6.1.1 CAPABILITY (and RFC 3501 §6.1.1 for IMAP4rev1 servers)."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_ok,
    assert_still_usable,
    assert_untagged,
    capability_list,
    has_capability,
    require,
)
from tests.rfc9051.fixtures import PLAIN, STATES
from tests.rfc9051.response import Atom


@pytest.mark.parametrize("state", STATES)
def test_capability_sends_single_untagged_capability_before_ok(in_state, state):
    """RFC 9051 §6.1.1: "The server MUST send a single untagged CAPABILITY response with
    "IMAP4rev2" as one of the listed capabilities before the (tagged) OK response."
    RFC 9051 §6.1: "The following commands are valid in any state: CAPABILITY, NOOP, and
    LOGOUT." """
    client = in_state(state)
    result = client.command("CAPABILITY")
    assert_ok(result)
    assert_untagged(result, "CAPABILITY", count=1)


@pytest.mark.parametrize("state", ["not_authenticated", "authenticated"])
def test_capability_lists_an_imap_revision(in_state, state):
    """RFC 9051 §6.1.1: the CAPABILITY response has "IMAP4rev2" as one of the listed
    capabilities; RFC 3501 §6.1.1: "... with "IMAP4rev1" as one of the listed
    capabilities". A server speaks at least one of the two revisions."""
    names = {n.upper() for n in capability_list(in_state(state).command("CAPABILITY"))}
    assert names & {"IMAP4REV1", "IMAP4REV2"}, f"neither IMAP4rev1 nor IMAP4rev2 in {names}"


def test_capability_names_are_atoms(client):
    """RFC 9051 §9: capability-data = "CAPABILITY" *(SP capability) SP "IMAP4rev2"
    *(SP capability); capability = ("AUTH=" auth-type) / atom."""
    result = client.command("CAPABILITY")
    for name in assert_untagged(result, "CAPABILITY", count=1)[0].data:
        assert isinstance(name, Atom), f"capability {name!r} is not an atom: {result}"
        assert not any(c in name for c in '(){%*"\\]'), f"{name!r} has atom-specials"


def test_capability_lists_auth_plain(connect, target):
    """RFC 9051 §6.1.1: "Client and server implementations MUST also implement AUTH=PLAIN
    (described in [PLAIN]) capability on both cleartext and Implicit TLS ports." (After
    STARTTLS when the server advertises LOGINDISABLED on a cleartext port.)"""
    client = connect()
    names = client.capabilities()
    if "LOGINDISABLED" in names and not client.tls:
        require(names, "STARTTLS")
        assert_ok(client.starttls())
        names = client.capabilities()
    assert "AUTH=PLAIN" in names, f"AUTH=PLAIN missing from {sorted(names)}"


def test_capability_on_implicit_tls_port_lists_auth_plain(connect, target):
    """RFC 9051 §6.1.1: "Client and server implementations MUST also implement AUTH=PLAIN
    (described in [PLAIN]) capability on both cleartext and Implicit TLS ports." """
    if target.imaps_port is None:
        pytest.skip("no implicit-TLS port known (RFC9051_TEST_IMAPS_PORT)")
    client = connect(tls=True, port=target.imaps_port)
    names = client.capabilities()
    assert "AUTH=PLAIN" in names, f"AUTH=PLAIN missing from {sorted(names)}"


@pytest.mark.dovecot_deviation("ignores arguments after CAPABILITY and answers OK")
@pytest.mark.parametrize("arguments", ["IMAP4rev2", "(x)", '"x"'])
def test_capability_with_arguments_is_bad(client, arguments):
    """RFC 9051 §6.1.1: "Arguments: none ... Result: ... BAD - arguments invalid"; the
    grammar (RFC 9051 §9) is command-any = "CAPABILITY" / "LOGOUT" / "NOOP" / x-command /
    id, with nothing after CAPABILITY."""
    assert_bad(client.command("CAPABILITY", arguments))
    assert_still_usable(client)


@pytest.mark.parametrize("spelling", ["capability", "Capability", "cApAbIlItY"])
def test_capability_command_name_is_case_insensitive(client, spelling):
    """RFC 9051 §9: "Unless otherwise noted, all alphabetic characters are case insensitive. The use
    of uppercase or lowercase characters to define token strings is for editorial clarity only.
    Implementations MUST accept these strings in a case-insensitive fashion." """
    result = client.command(spelling)
    assert_ok(result)
    assert_untagged(result, "CAPABILITY", count=1)


def test_capability_in_greeting_code_lists_an_imap_revision(client):
    """RFC 9051 §7.1: "CAPABILITY Followed by a list of capabilities. This can appear in the
    initial OK or PREAUTH response to transmit an initial capabilities list." When the
    greeting carries it, it is a capability list like the CAPABILITY response's."""
    greeting = client.greeting
    assert greeting.kind in ("OK", "PREAUTH"), f"greeting is {greeting}"
    if greeting.code != "CAPABILITY":
        pytest.skip("greeting carries no CAPABILITY response code")
    names = {str(n).upper() for n in greeting.code_data}
    assert names & {"IMAP4REV1", "IMAP4REV2"}, f"greeting capabilities {names}"


def test_capability_with_both_revisions_starts_in_imap4rev1(imap, target, names):
    """RFC 9051 §6.1.1: "If both IMAP4rev1 and IMAP4rev2 capabilities are advertised, no
    capabilities, beyond the base IMAP4rev1 set specified in [RFC3501], are enabled
    without explicit client action to invoke the capability." Without ENABLE, SEARCH
    answers with the IMAP4rev1 untagged SEARCH response, not ESEARCH (RFC 9051 Appendix E
    item 4)."""
    require(target.capabilities, "IMAP4rev1", "IMAP4rev2")
    name = names.created(imap)
    assert_ok(imap.append(name, PLAIN))
    assert_ok(imap.select(name))
    result = imap.command("SEARCH", "ALL")
    assert_ok(result)
    assert_untagged(result, "SEARCH", count=1)
    assert not result.of("ESEARCH"), f"ESEARCH before ENABLE IMAP4rev2: {result}"


def test_capability_is_the_same_after_enable(imap, target):
    """RFC 9051 §6.3.1: "The server MUST NOT change the CAPABILITY list as a result of
    executing ENABLE; that is, a CAPABILITY command issued right after an ENABLE command
    MUST list the same capabilities as a CAPABILITY command issued before the ENABLE
    command." """
    require(target.capabilities, "ENABLE")
    before = capability_list(imap.command("CAPABILITY"))
    wanted = [c for c in ("IMAP4rev2", "UTF8=ACCEPT", "CONDSTORE") if has_capability(before, c)]
    assert_ok(imap.command("ENABLE", *(wanted or ["X-RFC9051-UNKNOWN"])))
    after = capability_list(imap.command("CAPABILITY"))
    assert sorted(c.upper() for c in after) == sorted(c.upper() for c in before)
