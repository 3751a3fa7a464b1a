"""OBJECTID (RFC 8474) over real sockets: MAILBOXID in CREATE, SELECT/EXAMINE and STATUS,
EMAILID and THREADID in FETCH and SEARCH, kept across COPY, MOVE, RENAME and a restart, both
dialects, bad input. The reference Dovecot has no OBJECTID: the answers follow the RFC."""

from __future__ import annotations

import imaplib
import re

import pytest

from elektromail.testing import MailServer
from tests.imap.test_search_command import raw

MESSAGE = b"From: a@x\r\nSubject: Hello\r\nMessage-ID: <1@x>\r\n\r\nbody text\r\n"
OBJECTID = rb"[A-Za-z0-9_-]{1,255}"  # RFC 8474 §7


@pytest.fixture(scope="module")
def mail():
    with MailServer() as server:
        yield server


def connect(server: MailServer, *, rev2: bool = False) -> imaplib.IMAP4:
    client = imaplib.IMAP4(server.host, server.imap_port, timeout=10)
    client.login("user", "pass")
    if rev2:
        assert raw(client, b"ENABLE IMAP4rev2")[-1].startswith(b"OK")
    return client


_names = iter(f"box{n}" for n in range(10_000))


def create(client: imaplib.IMAP4) -> tuple[str, bytes]:
    """A new mailbox: (name, its MAILBOXID from CREATE's tagged OK)."""
    name = next(_names)
    [answer] = raw(client, b"CREATE " + name.encode())
    match = re.fullmatch(rb"OK \[MAILBOXID \((" + OBJECTID + rb")\)\] CREATE completed", answer)
    assert match, answer
    return name, match.group(1)


def status_id(client: imaplib.IMAP4, name: str) -> bytes:
    lines = raw(client, b"STATUS " + name.encode() + b" (MAILBOXID)")
    assert lines[-1] == b"OK STATUS completed"
    match = re.fullmatch(rb"\* STATUS \S+ \(MAILBOXID \((" + OBJECTID + rb")\)\)", lines[0])
    assert match, lines
    return match.group(1)


def select_id(client: imaplib.IMAP4, command: bytes) -> bytes:
    lines = raw(client, command)
    assert lines[-1].startswith(b"OK ["), lines
    [found] = [line for line in lines if b"[MAILBOXID" in line]
    match = re.fullmatch(rb"\* OK \[MAILBOXID \((" + OBJECTID + rb")\)\] Ok", found)
    assert match, found
    return match.group(1)


def emailids(client: imaplib.IMAP4, command: bytes = b"FETCH 1:* (EMAILID)") -> list[bytes]:
    lines = raw(client, command)
    assert lines[-1].endswith(b"FETCH completed"), lines
    found = [re.search(rb"EMAILID \((" + OBJECTID + rb")\)", line) for line in lines[:-1]]
    assert all(found), lines
    return [match.group(1) for match in found]


def test_capability_lists_objectid(mail):
    client = connect(mail)
    assert "OBJECTID" in client.capabilities or b"OBJECTID" in raw(client, b"CAPABILITY")[0]
    client.logout()


def test_create_status_select_and_examine_give_one_mailboxid(mail):
    # RFC 8474 §4.1 (CREATE's OK), §4.2 (SELECT and EXAMINE), §4.3 (STATUS)
    client = connect(mail)
    name, made = create(client)
    assert status_id(client, name) == made
    assert select_id(client, b"SELECT " + name.encode()) == made
    assert select_id(client, b"EXAMINE " + name.encode()) == made
    client.logout()


def test_mailboxes_have_different_ids_and_inbox_has_one(mail):
    client = connect(mail)
    first, second = create(client)[1], create(client)[1]
    inbox = status_id(client, "INBOX")
    assert len({first, second, inbox}) == 3
    client.logout()


def test_rename_keeps_the_mailboxid(mail):
    # RFC 8474 §4: "The server MUST keep the same MAILBOXID for the source and destination
    # when renaming a mailbox"
    client = connect(mail)
    name, made = create(client)
    child = name + "/child"
    [answer] = raw(client, b"CREATE " + child.encode())
    child_id = re.search(rb"MAILBOXID \((\S+)\)", answer).group(1)
    assert raw(client, b"RENAME " + name.encode() + b" renamed-" + name.encode()) == [
        b"OK RENAME completed"
    ]
    assert status_id(client, "renamed-" + name) == made
    assert status_id(client, f"renamed-{name}/child") == child_id
    client.logout()


def test_delete_and_create_again_gives_a_new_mailboxid(mail):
    # RFC 8474 §4: not reused for a mailbox that does not keep the RFC 3501 invariants
    client = connect(mail)
    name, made = create(client)
    assert raw(client, b"DELETE " + name.encode()) == [b"OK DELETE completed"]
    [answer] = raw(client, b"CREATE " + name.encode())
    assert b"MAILBOXID" in answer and made not in answer
    client.logout()


def test_renaming_inbox_makes_a_new_mailbox_and_inbox_keeps_its_id():
    # RFC 8474 §4: renaming INBOX "is treated as creating a new mailbox and moving the messages"
    with MailServer() as server:
        client = connect(server)
        inbox = status_id(client, "INBOX")
        assert raw(client, b"RENAME INBOX Old") == [b"OK RENAME completed"]
        assert status_id(client, "INBOX") == inbox
        assert status_id(client, "Old") != inbox
        client.logout()


def test_list_status_returns_the_mailboxid(mail):
    # RFC 8474 §4.3 with LIST-STATUS (RFC 5819)
    client = connect(mail)
    name, made = create(client)
    lines = raw(client, b'LIST "" ' + name.encode() + b" RETURN (STATUS (MAILBOXID))")
    assert lines[1] == b"* STATUS " + name.encode() + b" (MAILBOXID (" + made + b"))"
    client.logout()


def test_emailid_is_kept_by_copy_and_move_and_new_for_an_append(mail):
    # RFC 8474 §5.1: "MUST return the same EMAILID as the source message for the matching
    # destination message in the COPYUID pairing after a COPY or MOVE command"; a new APPEND
    # of the same bytes is a new message here (the RFC allows either)
    client = connect(mail)
    name, _ = create(client)
    other, _ = create(client)
    client.append(name, None, None, MESSAGE)
    client.append(name, None, None, MESSAGE)
    client.select(name)
    first, second = emailids(client)
    assert first != second
    assert raw(client, b"COPY 1 " + other.encode())[-1].startswith(b"OK [COPYUID")
    assert raw(client, b"MOVE 2 " + other.encode())[-1].startswith(b"OK")
    client.select(other)
    assert emailids(client) == [first, second]
    assert emailids(client, b"UID FETCH 2 (EMAILID)") == [second]
    client.logout()


def test_threadid_is_nil_and_search_threadid_matches_nothing(mail):
    # RFC 8474 §5.2: without THREADID "it MUST return NIL to all FETCH responses for the
    # THREADID data item, and a SEARCH for THREADID MUST NOT match any messages"
    client = connect(mail)
    name, _ = create(client)
    client.append(name, None, None, MESSAGE)
    client.select(name)
    lines = raw(client, b"FETCH 1 (THREADID EMAILID)")
    assert re.fullmatch(rb"\* 1 FETCH \(THREADID NIL EMAILID \(M[0-9a-f]{24}\)\)", lines[0])
    assert raw(client, b"SEARCH THREADID T1") == [b"* SEARCH", b"OK SEARCH completed"]
    client.logout()


def test_search_emailid_finds_the_message_and_its_copy(mail):
    # RFC 8474 §6
    client = connect(mail)
    name, _ = create(client)
    for n in range(3):
        client.append(name, None, None, MESSAGE.replace(b"body", b"body %d" % n))
    client.select(name)
    ids = emailids(client)
    assert raw(client, b"SEARCH EMAILID " + ids[1]) == [b"* SEARCH 2", b"OK SEARCH completed"]
    assert raw(client, b"UID SEARCH NOT EMAILID " + ids[1])[0] == b"* SEARCH 1 3"
    assert raw(client, b"SEARCH OR EMAILID " + ids[0] + b" EMAILID " + ids[2])[0] == (
        b"* SEARCH 1 3"
    )
    assert raw(client, b"SEARCH EMAILID M000")[0] == b"* SEARCH"
    client.logout()


def test_rev2_fetches_and_searches_the_same_ids(mail):
    client = connect(mail, rev2=True)
    name, made = create(client)
    client.append(name, None, None, MESSAGE)
    assert select_id(client, b"SELECT " + name.encode()) == made
    [emailid] = emailids(client)
    lines = raw(client, b"SEARCH RETURN (ALL) EMAILID " + emailid)
    assert lines[0].endswith(b" ALL 1")
    client.logout()


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(b"EMAILID", id="missing"),
        pytest.param(b"EMAILID M$1", id="bad-character"),
        pytest.param(b'EMAILID "M 1"', id="space"),
        pytest.param(b'EMAILID ""', id="empty"),
        pytest.param(b"EMAILID " + b"M" * 256, id="256-characters"),
        pytest.param(b"EMAILID (M1)", id="a-list"),
        pytest.param(b"THREADID T.1", id="threadid-bad-character"),
        pytest.param(b"THREADID", id="threadid-missing"),
    ],
)
def test_a_malformed_objectid_is_bad(mail, arguments):
    client = connect(mail)
    client.select("INBOX")
    [answer] = raw(client, b"SEARCH " + arguments)
    assert answer.startswith(b"BAD "), answer
    assert raw(client, b"NOOP")[-1] == b"OK NOOP completed"
    client.logout()


def test_an_objectid_of_255_characters_is_accepted(mail):
    client = connect(mail)
    client.select("INBOX")
    assert raw(client, b"SEARCH EMAILID " + b"M" * 255) == [b"* SEARCH", b"OK SEARCH completed"]
    client.logout()


def test_status_mailboxid_of_a_missing_mailbox_is_no(mail):
    client = connect(mail)
    [answer] = raw(client, b"STATUS nowhere (MAILBOXID)")
    assert answer.startswith(b"NO [NONEXISTENT]")
    client.logout()


def test_fetch_emailid_needs_a_selected_mailbox(mail):
    client = connect(mail)
    [answer] = raw(client, b"FETCH 1 (EMAILID)")
    assert answer.startswith(b"BAD ")
    client.logout()


def test_mail_not_parsed_yet_gets_its_emailid_once():
    with MailServer() as server:
        server.call(server.server.postoffice.deliver, ["user@x"], MESSAGE)
        client = connect(server)
        client.select("INBOX")
        first = emailids(client)
        assert first == emailids(client)
        client.logout()


def test_ids_survive_a_restart(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(db=db) as server:
        client = connect(server)
        name, made = create(client)
        client.append(name, None, None, MESSAGE)
        client.select(name)
        before = emailids(client)
        client.logout()
    with MailServer(db=db) as server:
        client = connect(server)
        assert status_id(client, name) == made
        client.select(name)
        assert emailids(client) == before
        client.logout()
