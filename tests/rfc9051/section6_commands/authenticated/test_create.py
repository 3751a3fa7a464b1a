"""RFC 9051 §6.3.4 CREATE, with CREATE-SPECIAL-USE (RFC 6154 §3) and mailbox name
encodings (modified UTF-7 for IMAP4rev1, UTF-8 for IMAP4rev2; RFC 9051 §5.1)."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_listed,
    assert_no,
    assert_not_listed,
    assert_ok,
    assert_still_usable,
    listed,
    require,
    selection,
)
from tests.rfc9051.client import Literal, quote
from tests.rfc9051.fixtures import PLAIN
from tests.rfc9051.response import fetch_items


def exists(client, name: str) -> bool:
    result = client.list("", name)
    assert_ok(result)
    return name in listed(result)


def test_create_new_mailbox_succeeds_and_is_listed(session, names):
    """RFC 9051 §6.3.4: "The CREATE command creates a mailbox with the given name. An OK
    response is returned only if a new mailbox with that name has been created." """
    name = names.new()
    assert not exists(session, name)
    assert_ok(session.create(name))
    assert exists(session, name)


def test_created_mailbox_can_be_selected_and_is_empty(session, names):
    """RFC 9051 §6.3.4: "The CREATE command creates a mailbox with the given name." A new
    mailbox holds no messages (RFC 9051 §6.3.2: "<n> EXISTS The number of messages in the
    mailbox")."""
    name = names.created(session)
    assert selection(session.select(name))["EXISTS"] == 0


def test_create_existing_mailbox_fails_with_alreadyexists(session, names, target):
    """RFC 9051 §6.3.4: "It is an error to attempt to create INBOX or a mailbox with a name
    that refers to an extant mailbox. Any error in creation will return a tagged NO
    response." RFC 9051 §7.1 (folding in RFC 5530): "ALREADYEXISTS The operation attempts to
    create something that already exists, such as when a CREATE or RENAME command attempts
    to create a mailbox and there is already one of that name." (The code is checked on
    IMAP4rev2 servers, which fold RFC 5530 in.)"""
    name = names.created(session)
    result = session.create(name)
    assert_no(result)
    if "IMAP4REV2" in target.capabilities:
        assert result.tagged.code == "ALREADYEXISTS", result


@pytest.mark.parametrize("spelling", ["INBOX", "inbox", "InBox"])
def test_create_inbox_fails_with_no(session, spelling):
    """RFC 9051 §6.3.4: "It is an error to attempt to create INBOX [...]. Any error in
    creation will return a tagged NO response." RFC 9051 §5.1: "The case-insensitive mailbox
    name INBOX is a special name"."""
    assert_no(session.create(spelling))
    assert_still_usable(session)


def test_create_with_trailing_delimiter_creates_name_without_it(session, names, delimiter):
    """RFC 9051 §6.3.4: "If the mailbox name is suffixed with the server's hierarchy
    separator character [...] this is a declaration that the client intends to create mailbox
    names under this name in the hierarchy. [...] In any case, the name created is without
    the trailing hierarchy delimiter." """
    name = names.new("parent")
    assert_ok(session.create(name + delimiter))
    result = session.list("", names.base + "*")
    assert_listed(result, name)
    assert_not_listed(result, name + delimiter)


def test_create_child_under_declared_parent(session, names, delimiter):
    """RFC 9051 §6.3.4 example: "C: A003 CREATE owatagusiam/ / S: A003 OK CREATE completed /
    C: A004 CREATE owatagusiam/blurdybloop / S: A004 OK CREATE completed"."""
    parent = names.new("owatagusiam")
    assert_ok(session.create(parent + delimiter))
    child = names.child(parent, "blurdybloop")
    assert_ok(session.create(child))
    assert exists(session, child)


def test_create_hierarchical_name_creates_it(session, names, delimiter):
    """RFC 9051 §6.3.4: "If the server's hierarchy separator character appears elsewhere in
    the name, the server SHOULD create any superior hierarchical names that are needed for
    the CREATE command to be successfully completed." The name itself exists after OK, and
    the superior level is visible to LIST % (RFC 9051 §6.3.9: "If the "%" wildcard is the
    last character of a mailbox name argument, matching levels of hierarchy are also
    returned")."""
    top = names.new("foo")
    deep = names.child(names.child(top, "bar"), "zap")
    assert_ok(session.create(deep))
    assert exists(session, deep)
    assert_listed(session.list("", top + "%"), top)


def test_recreated_mailbox_has_greater_uids_or_new_uidvalidity(session, names):
    """RFC 9051 §6.3.4: "If a new mailbox is created with the same name as a mailbox that was
    deleted, its unique identifiers MUST be greater than any unique identifiers used in the
    previous incarnation of the mailbox unless the new incarnation has a different unique
    identifier validity value." """
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    old = selection(session.select(name))
    assert_ok(session.command("CLOSE"))
    assert_ok(session.delete(name))
    assert_ok(session.create(name))
    assert_ok(session.append(name, PLAIN))
    new = selection(session.select(name))
    result = session.command("FETCH", "1", "(UID)")
    assert_ok(result)
    uid = int(fetch_items(result.of("FETCH")[0])["UID"])
    assert new["UIDVALIDITY"] != old["UIDVALIDITY"] or uid >= old["UIDNEXT"], (
        f"UID {uid} reused under UIDVALIDITY {old['UIDVALIDITY']} (old UIDNEXT {old['UIDNEXT']})"
    )


def test_create_name_as_literal(session, names):
    """RFC 9051 §9: create = "CREATE" SP mailbox; mailbox = "INBOX" / astring; a string may
    be a literal."""
    name = names.new()
    assert_ok(session.command("CREATE", Literal(name.encode())))
    assert exists(session, name)


@pytest.mark.parametrize("suffix", ["with space", 'with "quotes"', "brace{3}", "percent-less#hash"])
def test_create_name_with_special_characters_round_trips(session, names, suffix):
    """RFC 9051 §5.1: mailbox names are strings; §9: mailbox = "INBOX" / astring, and a
    quoted string may hold SP, escaped DQUOTE and other non-atom characters. LIST gives back
    the same name."""
    name = f"{names.new()} {suffix}"
    assert_ok(session.create(name))
    assert exists(session, name)


def test_create_rev1_modified_utf7_name_round_trips(rev1, names):
    """RFC 3501 §5.1.3: "By convention, international mailbox names in IMAP4rev1 are specified
    using a modified version of the UTF-7 encoding described in [UTF-7]." LIST returns the
    name as created ("&AOQ-" is U+00E4)."""
    name = names.new("caf") + "-&AOQ-"
    assert_ok(rev1.create(name))
    assert exists(rev1, name)


def test_create_rev2_utf8_name_round_trips(rev2, names):
    """RFC 9051 §5.1: "In IMAP4rev2, mailbox names are encoded in Net-Unicode [NET-UNICODE]
    (this differs from IMAP4rev1)."; LIST returns the name as created."""
    name = names.new("café") + "-✓"
    assert_ok(rev2.create(name))
    assert exists(rev2, name)


def test_utf8_name_from_rev2_is_modified_utf7_in_rev1(rev2, connect, target, names):
    """RFC 9051 §5.1: IMAP4rev1 clients see mailbox names in modified UTF-7 (RFC 3501
    §5.1.3); RFC 6855 §3: "The IMAP server MUST NOT send UTF-8 in quoted-strings to the
    client unless the client has indicated support for that syntax by using the "ENABLE
    UTF8=ACCEPT" command." (ä is "&AOQ-")."""
    require(target.capabilities, "IMAP4rev1")
    name = names.new("caf") + "-ä"
    assert_ok(rev2.create(name))
    rev1 = connect(login=True)
    result = rev1.list("", names.base + "*")
    assert_ok(result)
    assert name.replace("ä", "&AOQ-") in listed(result), result
    assert all(r.raw.isascii() for r in result.of("LIST")), result


def test_modified_utf7_name_from_rev1_is_utf8_in_rev2(rev1, connect, target, names):
    """RFC 9051 §5.1: "In IMAP4rev2, mailbox names are encoded in Net-Unicode"; RFC 3501
    §5.1.3: an IMAP4rev1 client names them in modified UTF-7. The mailbox an IMAP4rev1 client
    created as "&AOQ-" is "ä" to an IMAP4rev2 client."""
    require(target.capabilities, "IMAP4rev2")
    name = names.new("caf") + "-&AOQ-"
    assert_ok(rev1.create(name))
    rev2 = connect(login=True)
    assert_ok(rev2.command("ENABLE", "IMAP4rev2"))
    result = rev2.list("", names.base + "*")
    assert_ok(result)
    assert name.replace("&AOQ-", "ä") in listed(result), result


@pytest.mark.parametrize(
    "form",
    [
        "none",
        pytest.param(
            "two", marks=pytest.mark.dovecot_deviation("ignores a second CREATE argument")
        ),
        "unterminated",
    ],
)
def test_create_with_malformed_arguments_is_bad(session, names, form):
    """RFC 9051 §6.3.4: "BAD - command unknown or arguments invalid"; create = "CREATE" SP
    mailbox (RFC 9051 §9; RFC 4466 adds only a parenthesized parameter list); RFC 9051
    §2.2.1: "It is a syntax error to send a command with missing or extraneous spaces or
    arguments." """
    arguments = {
        "none": (),
        "two": (quote(names.new()), quote(names.new())),
        "unterminated": (b'"' + names.new().encode(),),
    }[form]
    assert_bad(session.command("CREATE", *arguments))
    assert_still_usable(session)


def test_create_before_login_is_bad(client, names):
    """RFC 9051 §6.3: CREATE is one of the commands "valid in the authenticated state"."""
    assert_bad(client.create(names.new()))
    assert_still_usable(client)


def test_create_in_selected_state_succeeds(session, names):
    """RFC 9051 §6: "commands valid in authenticated and selected states are listed in the
    authenticated state commands"; CREATE is one (RFC 9051 §6.3)."""
    assert_ok(session.select("INBOX", examine=True))
    name = names.new()
    assert_ok(session.create(name))
    assert exists(session, name)


@pytest.mark.parametrize("use", ["\\Archive", "\\Drafts", "\\Sent", "\\Trash", "\\Junk"])
def test_create_special_use_sets_the_attribute(session, target, names, use):
    """RFC 6154 §3: "a server MAY allow clients to designate a mailbox, at creation, as
    having one or more special uses. This extension defines the "USE" parameter to the IMAP
    CREATE command for that purpose"; RFC 6154 §2: "If the client specifies the
    "SPECIAL-USE" return option, the LIST command MUST return the new special-use attributes
    on those mailboxes that have them set." """
    require(target.capabilities, "CREATE-SPECIAL-USE")
    name = names.new("special")
    assert_ok(session.command("CREATE", quote(name), f"(USE ({use}))"))
    entry = assert_listed(
        session.command("LIST", '""', quote(name), "RETURN", "(SPECIAL-USE)"), name
    )
    assert entry.has(use), f"{use} missing: {entry}"


def test_create_with_unknown_special_use_fails_and_creates_nothing(session, target, names):
    """RFC 6154 §3: "If the server cannot create a mailbox with the designated special use
    defined, for whatever reason, it MUST NOT create the mailbox, and MUST respond to the
    CREATE command with a tagged NO response. If the reason for the failure is related to
    the special-use attribute (the specified special use is not supported or cannot be
    assigned to the specified mailbox), the server SHOULD include the new "USEATTR" response
    code in the tagged response"."""
    require(target.capabilities, "CREATE-SPECIAL-USE")
    name = names.new("special")
    result = session.command("CREATE", quote(name), "(USE (\\X-Rfc9051-Nonsense))")
    assert_no(result)
    assert not exists(session, name)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(Literal("Projekte/Über".encode()), id="8bit"),
        pytest.param("&Jjo", id="unterminated-shift"),
        pytest.param("&AGEAYgBj-", id="encoded-ascii"),
    ],
)
def test_create_of_a_name_that_is_not_modified_utf7_is_no_in_rev1(rev1, names, name):
    """RFC 3501 §5.1.3: names are modified UTF-7, so these name no mailbox; but each is a
    valid astring, and BAD is for "command unknown or arguments invalid" (RFC 3501 §6.3.3):
    the answer is NO (Dovecot: "Mailbox name is not valid mUTF-7")."""
    argument = name if isinstance(name, Literal) else quote(names.new() + name)
    assert_no(rev1.command("CREATE", argument))
    assert_still_usable(rev1)
