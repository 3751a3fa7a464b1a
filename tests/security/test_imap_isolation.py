"""No IMAP command lets one user reach another's mail. Logged in as alice, every command that
names a mailbox is tried with bob's names and with names shaped like other users' and shared
namespaces (`bob/INBOX`, `../bob/INBOX`, `~bob`, `#shared`, `Other Users/bob`, ...): each is
refused or stays inside alice's own namespace, nothing alice is told carries bob's mail, and
bob's mailboxes are exactly as they were. Authentication cannot act as bob either.
"""

from __future__ import annotations

import base64
import re
import smtplib
from collections.abc import Iterator

import pytest

from elektromail.testing import MailServer
from tests.imap.test_session_commands import ImapWire

ALICE_MARK = b"ALICE-OWN-MAIL"
BOB_MARK = b"BOB-SECRET"
ALICE_BOXES = {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"}

# bob's real names, then names shaped like paths to him or to shared or public namespaces
NAMES = [
    "Secret",
    "Secret/Deeper",
    "bob",
    "BOB",
    "bob/INBOX",
    "bob/Secret",
    "bob@example.org",
    "bob@example.org/INBOX",
    "../bob/INBOX",
    "../bob",
    "..",
    "../../bob/Secret",
    "INBOX/../../bob/INBOX",
    "./bob/INBOX",
    "~bob",
    "~bob/INBOX",
    "~/bob/INBOX",
    "user/bob",
    "user/bob/INBOX",
    "user.bob",
    "user.bob.INBOX",
    "bob.INBOX",
    "#shared",
    "#shared/bob",
    "#shared/bob/INBOX",
    "#user/bob",
    "#user/bob/INBOX",
    "#users/bob/INBOX",
    "#public",
    "#news.bob",
    "Other Users",
    "Other Users/bob",
    "Other Users/bob/INBOX",
    "Shared Folders",
    "Shared Folders/bob",
    "Public Folders",
]

PLANTED = "Subject: planted\r\n\r\nnot for bob"
REFUSED = {
    "SELECT": 'SELECT "{name}"',
    "EXAMINE": 'EXAMINE "{name}"',
    "STATUS": 'STATUS "{name}" (MESSAGES UIDNEXT UNSEEN SIZE)',
    "APPEND": 'APPEND "{name}" {{' + str(len(PLANTED)) + "+}}\r\n" + PLANTED,
    "COPY": 'COPY 1 "{name}"',
    "UID COPY": 'UID COPY 1:* "{name}"',
    "MOVE": 'MOVE 1 "{name}"',
    "RENAME": 'RENAME "{name}" "Stolen"',
    "DELETE": 'DELETE "{name}"',
}
LISTINGS = {
    "LIST name": 'LIST "" "{name}"',
    "LIST name/*": 'LIST "" "{name}/*"',
    "LIST reference": 'LIST "{name}" "*"',
    "LIST reference %": 'LIST "{name}/" "%"',
    "LIST STATUS": 'LIST "" "{name}" RETURN (STATUS (MESSAGES))',
    "LSUB": 'LSUB "" "{name}"',
}


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with MailServer(users="alice:alice@example.org:wonder,bob:bob@example.org:builder") as server:
        server.inject("alice", b"Subject: " + ALICE_MARK + b"\r\n\r\nmine\r\n")
        server.inject("bob", b"Subject: " + BOB_MARK + b" inbox\r\n\r\n" + BOB_MARK + b"\r\n")
        for mailbox in ("Secret", "Secret/Deeper"):
            raw = b"Subject: " + BOB_MARK + b" " + mailbox.encode() + b"\r\n\r\nhidden\r\n"
            server.inject("bob", raw, mailbox=mailbox)
        yield server


def bobs_mail(mail: MailServer) -> list[tuple[str, int, bytes]]:
    return sorted((m["mailbox"], m["uid"], m["raw"]) for m in mail.messages("bob", None))


@pytest.fixture
def alice(mail: MailServer) -> Iterator[ImapWire]:
    """alice logged in with her INBOX selected; on the way out, bob's mail is checked to be
    untouched and alice's session to have been told nothing of it."""
    before = bobs_mail(mail)
    wire = ImapWire(mail.imap_port)
    wire.seen = b""
    wire.login(b"alice", b"wonder")
    wire.seen += wire.command(b"s SELECT INBOX")
    yield wire
    wire.close()
    assert BOB_MARK not in wire.seen
    assert bobs_mail(mail) == before


def send(wire: ImapWire, command: str) -> bytes:
    response = wire.command(b"t " + command.encode())
    wire.seen += response
    return response


def listed_names(response: bytes) -> set[str]:
    return {
        m.group(1).decode().strip('"')
        for m in re.finditer(rb'^\* (?:LIST|LSUB) \([^)]*\) (?:"/"|NIL) (.+)\r$', response, re.M)
    }


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("command", REFUSED, ids=list(REFUSED))
def test_commands_on_other_users_names_are_refused(alice, command, name):
    response = send(alice, REFUSED[command].format(name=name))
    tagged = response.splitlines()[-1]
    assert tagged.startswith(b"t NO "), response
    if command in ("SELECT", "EXAMINE"):  # a failed SELECT leaves nothing selected
        assert send(alice, "FETCH 1 BODY.PEEK[]").startswith(b"t BAD ")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("command", LISTINGS, ids=list(LISTINGS))
def test_listings_show_only_alices_own_mailboxes(alice, command, name):
    response = send(alice, LISTINGS[command].format(name=name))
    assert response.splitlines()[-1].startswith(b"t OK ")
    assert listed_names(response) <= ALICE_BOXES


@pytest.mark.parametrize(
    "command",
    [
        'LIST "" "*"',
        'LIST "" "%"',
        'LIST "" "*bob*"',
        'LIST "" "*Secret*"',
        'LIST (SUBSCRIBED) "" "*"',
        'LIST (SPECIAL-USE) "" "*"',
        'LIST "" "*" RETURN (STATUS (MESSAGES SIZE))',
        'LSUB "" "*"',
        'LIST "/" "*"',
        'LIST "" "/*"',
    ],
)
def test_wildcard_listings_show_only_alices_own_mailboxes(alice, command):
    response = send(alice, command)
    assert listed_names(response) <= ALICE_BOXES


def test_namespace_has_no_other_users_or_shared_namespace(alice):
    assert (
        send(alice, "NAMESPACE")
        == b'* NAMESPACE (("" "/")) NIL NIL\r\nt OK NAMESPACE completed\r\n'
    )


@pytest.mark.parametrize(
    "command",
    [
        "FETCH 1:* (BODY.PEEK[] ENVELOPE)",
        "UID FETCH 1:4294967295 (BODY.PEEK[])",
        "UID FETCH 2:* (BODY.PEEK[])",
        "UID SEARCH ALL",
        "SEARCH TEXT BOB-SECRET",
        "UID SEARCH SUBJECT BOB-SECRET",
    ],
)
def test_the_selected_mailbox_holds_only_alices_mail(alice, command):
    """UIDs are per mailbox: bob's UID 1 is another message, never reachable by number."""
    response = send(alice, command)
    assert response.splitlines()[-1].startswith(b"t OK ")
    if "FETCH 1:*" in command or "4294967295" in command:
        assert ALICE_MARK in response


@pytest.mark.parametrize("name", ["bob/INBOX", "../bob/INBOX", "~bob", "#shared/bob"])
def test_creating_a_name_like_bobs_makes_a_mailbox_of_alices_own(mail, alice, name):
    created = send(alice, f'CREATE "{name}"')
    if not created.startswith(b"t OK "):
        assert created.startswith(b"t NO ")
        return
    try:
        assert send(alice, f'APPEND "{name}" {{17+}}\r\nSubject: alices\r\n').startswith(b"t OK ")
        assert [m["raw"] for m in mail.messages("alice", name)] == [b"Subject: alices\r\n"]
        selected = send(alice, f'SELECT "{name}"')
        assert b"* 1 EXISTS" in selected
    finally:
        send(alice, "SELECT INBOX")
        send(alice, f'DELETE "{name}"')


def test_idle_is_not_told_of_mail_for_bob(mail):
    wire = ImapWire(mail.imap_port)
    wire.login(b"alice", b"wonder")
    selected = wire.command(b"s SELECT INBOX")
    exists = int(re.search(rb"\* (\d+) EXISTS", selected).group(1))
    wire.send(b"i IDLE\r\n")
    assert wire.line().startswith(b"+ ")
    mail.inject("bob", b"Subject: " + BOB_MARK + b" while alice idles\r\n\r\nx\r\n")
    mail.inject("alice", b"Subject: for alice\r\n\r\nx\r\n")  # what alice is told next
    told = wire.line()
    wire.send(b"DONE\r\n")
    rest = wire.until(b"i") + wire.command(b"n NOOP")
    wire.close()
    assert told == b"* %d EXISTS\r\n" % (exists + 1)  # her own message, not bob's too
    assert b"EXISTS" not in rest and b"FETCH" not in rest
    assert BOB_MARK not in selected + told + rest


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        b"a LOGIN bob wonder",
        b"a LOGIN BOB wonder",
        b'a LOGIN "bob" ""',
        b"a AUTHENTICATE PLAIN " + base64.b64encode(b"bob\0alice\0wonder"),
        b"a AUTHENTICATE PLAIN " + base64.b64encode(b"\0bob\0wonder"),
        b"a AUTHENTICATE PLAIN " + base64.b64encode(b"bob\0alice\0wrong"),
    ],
    ids=["login", "login-case", "empty-password", "authzid", "plain", "authzid-wrong"],
)
def test_alices_password_does_not_open_bobs_mailbox(mail, command):
    wire = ImapWire(mail.imap_port)
    response = wire.command(command)
    assert response.startswith(b"a NO ")
    assert wire.command(b"b SELECT INBOX").startswith(b"b BAD ")
    wire.close()


def test_a_user_made_by_mail_to_a_new_address_cannot_log_in(mail):
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as client:
        client.sendmail("x@example.com", ["carol@example.org"], b"Subject: hi\r\n\r\nx\r\n")
    assert [m["user"] for m in mail.messages("carol")] == ["carol"]
    wire = ImapWire(mail.imap_port)
    for password in (b'""', b"carol", b"pass", b"NIL"):
        assert wire.command(b"a LOGIN carol " + password).startswith(b"a NO ")
    wire.close()


def test_smtp_auth_cannot_act_as_another_user(mail):
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as client:
        client.ehlo()
        blob = base64.b64encode(b"bob\0alice\0wonder").decode()
        code, _ = client.docmd("AUTH", "PLAIN " + blob)
        assert code == 535
