"""The one mailbox-name rule over IMAP (elektromail.names.mailbox_name_problem), each case
answered as the reference Dovecot 2.3 answers it (checked against it; its text in comments).
RFC 9051 §5.1: "The interpretation of all other names is implementation dependent"; RFC 3501
§5.1.3 / RFC 9051 Appendix A.1 for modified UTF-7 in IMAP4rev1."""

from __future__ import annotations

import pytest

from tests.imap.mailbox_wire import Wire, deliver, list_lines, message


@pytest.fixture
def wire(mail):
    connection = Wire(mail)
    yield connection
    connection.close()


def literal(name: bytes) -> bytes:
    return b"{%d+}\r\n" % len(name) + name


def listed(wire: Wire) -> list[bytes]:
    return [line.split(b' "/" ', 1)[1] for line in list_lines(wire.ok('LIST "" "*"'))]


CREATE_CASES = [
    (b"..", b"NO [CANNOT] Invalid mailbox name: contains a '..' level"),  # Contains '..' part
    (b"a/..", b"NO [CANNOT] Invalid mailbox name: contains a '..' level"),
    (b"inbox/..", b"NO [CANNOT] Invalid mailbox name: contains a '..' level"),
    (b".", b"NO [CANNOT] Invalid mailbox name: contains a '.' level"),  # Contains '.' part
    (b"/lead", b"NO [CANNOT] Invalid mailbox name: begins with the hierarchy delimiter /"),
    (b"a//b", b"NO [CANNOT] Invalid mailbox name: adjacent hierarchy delimiters"),
    (b"a/b//", b"NO [CANNOT] Invalid mailbox name: ends with the hierarchy delimiter /"),
    (b"/", b"NO [CANNOT] Invalid mailbox name: empty name"),  # Name is empty
    (b"~tilde", b"NO [CANNOT] Invalid mailbox name: begins with '~'"),  # Begins with '~'
    (b"ctl\x01x", b"NO [CANNOT] Mailbox name is not valid mUTF-7"),  # the same text
    (b"8bit\xc3\xa9", b"NO [CANNOT] Mailbox name is not valid mUTF-7"),
    (b"&Jjo", b"NO [CANNOT] Mailbox name is not valid mUTF-7"),
    (b"&AGE-", b"NO [CANNOT] Mailbox name is not valid mUTF-7"),  # "a" needs no encoding
    (b"x" * 256, b"NO [CANNOT] Invalid mailbox name: a hierarchy level longer than 255"),
    (b"x" * 4097, b"NO [CANNOT] Invalid mailbox name: longer than 4096 bytes"),
    (b"Inbox", b"NO [ALREADYEXISTS]"),
]


@pytest.mark.parametrize(
    ("name", "answer"), CREATE_CASES, ids=[repr(n[:12]) for n, _ in CREATE_CASES]
)
def test_create_refuses_what_dovecot_refuses(wire, name, answer):
    before = listed(wire)
    assert wire.status(b"CREATE " + literal(name)).startswith(answer)
    assert listed(wire) == before


ACCEPTED = [
    (b" ", b'" "'),
    (b"trail ", b'"trail "'),
    (b"with space", b'"with space"'),
    (b"trailslash/", b"trailslash"),  # RFC 9051 §6.3.4: the trailing delimiter is dropped
    (b"&AOk-", b"&AOk-"),
    (b"&Jjo-", b"&Jjo-"),
    (b"&-", b"&-"),
    (b"a~b", b"a~b"),
    (b"a.b", b"a.b"),
    (b"...", b"..."),
    (b"x" * 255, b"x" * 255),
]


@pytest.mark.parametrize(("name", "shown"), ACCEPTED, ids=[repr(n[:12]) for n, _ in ACCEPTED])
def test_create_takes_what_dovecot_takes(wire, name, shown):
    assert wire.status(b"CREATE " + literal(name)).startswith(b"OK")
    assert shown in listed(wire)
    wire.ok(b"SELECT " + literal(shown.strip(b'"')))


def test_a_deep_hierarchy_is_created_up_to_64_levels(wire):
    wire.ok(b"CREATE " + b"/".join([b"d"] * 64))
    assert wire.status(b"CREATE " + b"/".join([b"e"] * 65)).startswith(
        b"NO [CANNOT] Invalid mailbox name: more than 64 hierarchy levels"
    )


LOOKUPS = [
    b"SELECT {name}",
    b"EXAMINE {name}",
    b"STATUS {name} (MESSAGES)",
    b"DELETE {name}",
    b"RENAME {name} elsewhere",
    b"RENAME Sent {name}",
    b"APPEND {name} {{7+}}\r\nA: b\r\n\r\n",
]


UNREACHABLE = [
    (b"..", b"contains a '..' level"),
    (b"a/../b", b"contains a '..' level"),
    (b"~x", b"begins with '~'"),
    (b"/x", b"begins with the hierarchy delimiter /"),
    (b"a//b", b"adjacent hierarchy delimiters"),
    (b"Junk/", b"ends with the hierarchy delimiter /"),
]
# RENAME's new name is a name to create: its one trailing delimiter is dropped (as CREATE's)
LOOKUP_CASES = [
    (command, name, problem)
    for command in LOOKUPS
    for name, problem in UNREACHABLE
    if not (command.startswith(b"RENAME Sent") and name.endswith(b"/"))
]


@pytest.mark.parametrize(
    ("command", "name", "problem"),
    LOOKUP_CASES,
    ids=[f"{c.split()[0].decode()}-{n.decode()}" for c, n, _ in LOOKUP_CASES],
)
def test_every_command_answers_cannot_for_a_name_no_mailbox_can_have(wire, command, name, problem):
    """Dovecot answers SELECT, STATUS, DELETE, RENAME and APPEND of such a name NO [CANNOT]
    "Invalid mailbox name": an APPEND gets no [TRYCREATE], which would send the client to a
    CREATE that fails."""
    sent = command.replace(b"{name}", b'"' + name + b'"')
    answer = wire.status(sent.replace(b"{{", b"{").replace(b"}}", b"}"))
    assert answer.startswith(b"NO [CANNOT] Invalid mailbox name: " + problem)


def test_copy_to_a_name_no_mailbox_can_have_is_cannot_not_trycreate(mail, wire):
    deliver(mail, "INBOX", message())
    wire.ok("SELECT INBOX")
    assert wire.status('COPY 1 "../x"').startswith(b"NO [CANNOT] Invalid mailbox name")
    assert wire.status('MOVE 1 "~x"').startswith(b"NO [CANNOT] Invalid mailbox name")
    assert wire.status("COPY 1 nowhere").startswith(b"NO [TRYCREATE]")


def test_a_name_only_too_long_does_not_exist_as_dovecot_answers(wire):
    assert wire.status(b"SELECT " + literal(b"x" * 5000)).startswith(b"NO [NONEXISTENT]")
    assert wire.status(b"APPEND " + literal(b"x" * 300) + b" {7+}\r\nA: b\r\n\r\n").startswith(
        b"NO [TRYCREATE]"
    )


def test_a_mailbox_stored_under_an_older_rule_can_still_be_used_and_removed(mail, wire):
    """No mailbox or message is lost to the new rule: one named `..` (as POST /inject used to
    make) is listed, selected, fetched, renamed to a good name and deleted."""
    deliver(mail, "..", message("old"))
    assert b".." in listed(wire)
    untagged = wire.ok('SELECT ".."')
    assert b"* 1 EXISTS" in untagged
    wire.ok("UNSELECT")
    wire.ok('RENAME ".." Rescued')
    assert b"1 EXISTS" in b" ".join(wire.ok("SELECT Rescued"))
    deliver(mail, "~old", message("tilde"))
    wire.ok('DELETE "~old"')
    assert b"~old" not in listed(wire)
