"""RFC 9051 §6.3.1 ENABLE (RFC 5161 for IMAP4rev1 servers), and what ENABLE IMAP4rev2 and
ENABLE UTF8=ACCEPT (RFC 6855) switch on."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_ok,
    assert_still_usable,
    assert_untagged,
    capability_list,
    listed,
    require,
)
from tests.rfc9051.client import quote


@pytest.fixture(autouse=True)
def _needs_enable(target):
    require_any_enable(target)


def require_any_enable(target):
    caps = target.capabilities
    if "ENABLE" not in caps and "IMAP4REV2" not in caps:
        pytest.skip("server advertises neither ENABLE nor IMAP4rev2")


NO_EMPTY_ENABLED = pytest.mark.dovecot_deviation(
    "sends no untagged ENABLED when nothing was enabled"
)


def enabled(result) -> list[str]:
    """The upper-cased names of the one untagged ENABLED response."""
    (response,) = assert_untagged(result, "ENABLED", count=1)
    return [str(name).upper() for name in response.data]


@NO_EMPTY_ENABLED
def test_enable_unknown_extension_is_ignored_and_enabled_still_sent(imap):
    """RFC 9051 §6.3.1: "If the argument is not an extension known to the server, the server
    MUST ignore the argument." "If the ENABLE command is successful, the server MUST send an
    untagged ENABLED response [...]. The ENABLED response is sent even if no extensions were
    enabled." """
    result = imap.command("ENABLE", "X-RFC9051-UNKNOWN")
    assert_ok(result)
    assert enabled(result) == []


@NO_EMPTY_ENABLED
def test_enable_known_but_not_enableable_extension_is_ignored(imap, target):
    """RFC 9051 §6.3.1: "If the argument is an extension known to the server, and it is not
    specifically permitted to be enabled using ENABLE, the server MUST ignore the
    argument." (IDLE, NAMESPACE and UIDPLUS need no enabling.)"""
    known = [c for c in ("IDLE", "NAMESPACE", "UIDPLUS", "LITERAL+") if c in target.capabilities]
    if not known:
        pytest.skip("no extension here that is known but not enableable")
    result = imap.command("ENABLE", *known)
    assert_ok(result)
    assert enabled(result) == []


def test_enable_imap4rev2_reports_it_enabled(imap, target):
    """RFC 9051 §6.3.1: "a client can enable IMAP4rev2-specific behavior when both IMAP4rev1
    and IMAP4rev2 are advertised in the CAPABILITY response." "If the argument is an
    extension that is supported by the server and that needs to be enabled, the server MUST
    enable the extension"; the ENABLED response "includes all enabled extensions"."""
    require(target.capabilities, "IMAP4rev1", "IMAP4rev2")
    result = imap.command("ENABLE", "IMAP4rev2")
    assert_ok(result)
    assert enabled(result) == ["IMAP4REV2"]


def test_enable_lists_only_what_it_enabled_among_unknown_names(imap, target):
    """RFC 9051 §6.3.1: unknown arguments are ignored; the ENABLED response "includes all
    enabled extensions as specified above" — and nothing the server ignored."""
    require(target.capabilities, "IMAP4rev1", "IMAP4rev2")
    result = imap.command("ENABLE", "X-RFC9051-UNKNOWN", "IMAP4rev2", "X-OTHER")
    assert_ok(result)
    assert enabled(result) == ["IMAP4REV2"]


def test_enable_names_are_case_insensitive(imap, target):
    """RFC 9051 §9: "Unless otherwise noted, all alphabetic characters are case insensitive. The use
    of uppercase or lowercase characters to define token strings is for editorial clarity only.
    Implementations MUST accept these strings in a case-insensitive fashion." (capability =
    atom)."""
    require(target.capabilities, "IMAP4rev1", "IMAP4rev2")
    result = imap.command("ENABLE", "imap4REV2")
    assert_ok(result)
    assert enabled(result) == ["IMAP4REV2"]


def test_enable_does_not_change_capability_list(imap, target):
    """RFC 9051 §6.3.1: "The server MUST NOT change the CAPABILITY list as a result of
    executing ENABLE; that is, a CAPABILITY command issued right after an ENABLE command MUST
    list the same capabilities as a CAPABILITY command issued before the ENABLE command." """
    before = capability_list(imap.command("CAPABILITY"))
    wanted = [
        c for c in ("IMAP4rev2", "UTF8=ACCEPT", "CONDSTORE") if c.upper() in target.capabilities
    ]
    assert_ok(imap.command("ENABLE", *(wanted or ["X-RFC9051-UNKNOWN"])))
    after = capability_list(imap.command("CAPABILITY"))
    assert sorted(c.upper() for c in after) == sorted(c.upper() for c in before)


def test_enable_twice_is_additive_and_second_time_enables_nothing_new(imap, target):
    """RFC 9051 §6.3.1: "The ENABLE command can be issued multiple times in a session. It is
    additive"; "Once enabled using ENABLE, each extension remains active until the IMAP
    connection is closed." Re-enabling an active extension is an argument that no longer
    "needs to be enabled", so the command still succeeds."""
    require(target.capabilities, "IMAP4rev1", "IMAP4rev2")
    assert enabled(imap.command("ENABLE", "IMAP4rev2")) == ["IMAP4REV2"]
    result = imap.command("ENABLE", "IMAP4rev2")
    assert_ok(result)
    assert_untagged(result, "ENABLED", count=1)


@pytest.mark.dovecot_deviation("answers ENABLE without arguments with OK")
def test_enable_without_arguments_is_bad(imap):
    """RFC 9051 §6.3.1: "BAD - No arguments, or syntax error in an argument"."""
    assert_bad(imap.command("ENABLE"))
    assert_still_usable(imap)


@pytest.mark.parametrize("argument", ["(IMAP4rev2)", '"IMAP4rev2"'], ids=["list", "quoted"])
def test_enable_with_non_atom_argument_is_bad(imap, argument):
    """RFC 9051 §6.3.1: "BAD - No arguments, or syntax error in an argument"; enable =
    "ENABLE" 1*(SP capability) and capability is an atom (RFC 9051 §9)."""
    assert_bad(imap.command("ENABLE", argument))
    assert_still_usable(imap)


@pytest.mark.dovecot_deviation("answers ENABLE before authentication with OK")
def test_enable_before_authentication_is_bad(client):
    """RFC 9051 §6.3.1: "The ENABLE command is only valid in the authenticated state";
    RFC 9051 §6.2 lists the commands valid before it (STARTTLS, AUTHENTICATE, LOGIN) and
    ENABLE is not one of them."""
    assert_bad(client.command("ENABLE", "IMAP4rev2"))
    assert_still_usable(client)


def test_enable_pipelined_right_after_login(client, target):
    """RFC 9051 §6.3.1: "There are no limitations on pipelining ENABLE. For example, it is
    possible to send ENABLE and then immediately SELECT, or a LOGIN immediately followed by
    ENABLE." """
    require(target.capabilities, "IMAP4rev1", "IMAP4rev2")
    if "LOGINDISABLED" in target.capabilities_before_login:
        pytest.skip("LOGIN needs STARTTLS first here")
    client.send_raw(
        b"p1 LOGIN "
        + quote(target.user)
        + b" "
        + quote(target.password)
        + b"\r\np2 ENABLE IMAP4rev2\r\np3 SELECT INBOX\r\n"
    )
    assert_ok(client.read_until_tagged("p1"))
    result = client.read_until_tagged("p2")
    assert_ok(result)
    assert enabled(result) == ["IMAP4REV2"]
    selected = client.read_until_tagged("p3")
    assert_ok(selected)
    assert_untagged(selected, "LIST")  # IMAP4rev2 SELECT (RFC 9051 §6.3.2)


def test_enable_utf8_accept_reports_it_enabled(imap, target):
    """RFC 6855 §3: "A client MUST use the "ENABLE" command [RFC5161] with the "UTF8=ACCEPT"
    option [...] to indicate to the server that the client accepts UTF-8 in quoted-strings
    and supports the "UTF8=ACCEPT" extension." RFC 9051 §6.3.1: the server "MUST enable the
    extension" and list it in ENABLED."""
    require(target.capabilities, "UTF8=ACCEPT")
    result = imap.command("ENABLE", "UTF8=ACCEPT")
    assert_ok(result)
    assert enabled(result) == ["UTF8=ACCEPT"]


def test_enable_utf8_accept_takes_and_lists_utf8_mailbox_names(imap, target, names):
    """RFC 6855 §3: "All IMAP servers that support "UTF8=ACCEPT" SHOULD accept UTF-8 in
    mailbox names, and those that also support the Mailbox International Naming Convention
    described in RFC 3501, Section 5.1.3, MUST accept UTF8-quoted mailbox names"; the server
    "can provide UTF-8 responses to the "LIST" and "LSUB" commands"."""
    require(target.capabilities, "UTF8=ACCEPT", "IMAP4rev1")
    assert enabled(imap.command("ENABLE", "UTF8=ACCEPT")) == ["UTF8=ACCEPT"]
    name = names.new("grüße") + "-✓"
    assert_ok(imap.create(name))
    result = imap.list("", name)
    assert_ok(result)
    assert name in listed(result), f"UTF-8 name not listed as sent: {result}"


def test_enable_utf8_accept_rejects_invalid_utf8_in_quoted_strings(imap, target, names):
    """RFC 6855 §3: "When this extended quoting mechanism is used by the client, the server
    MUST reject, with a "BAD" response, any octet sequences with the high bit set that fail
    to comply with the formal syntax requirements of UTF-8 [RFC3629]." """
    require(target.capabilities, "UTF8=ACCEPT")
    assert enabled(imap.command("ENABLE", "UTF8=ACCEPT")) == ["UTF8=ACCEPT"]
    bad_name = names.new("bad").encode() + b"-\xff\xfe\xc3"
    assert_bad(imap.command("CREATE", quote(bad_name)))
    assert_still_usable(imap)
