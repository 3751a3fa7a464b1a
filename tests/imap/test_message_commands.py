"""EXPUNGE, UID EXPUNGE, CLOSE, UNSELECT, COPY and MOVE over real sockets."""

from __future__ import annotations

import imaplib
import re

import pytest

from elektromail.testing import MailServer


def deliver(mail: MailServer, count: int, user: str = "user") -> None:
    for i in range(1, count + 1):
        mail.call(
            mail.server.postoffice.deliver, [f"{user}@x"], b"Subject: m%d\r\n\r\nbody\r\n" % i
        )


def login(mail: MailServer) -> imaplib.IMAP4:
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    return client


def uids(client: imaplib.IMAP4) -> list[int]:
    _, data = client.fetch("1:*", "(UID)")
    if data == [None]:
        return []
    return [int(re.search(rb"UID (\d+)", line).group(1)) for line in data]


@pytest.fixture
def mail():
    with MailServer() as server:
        deliver(server, 5)
        yield server


def test_expunge_removes_deleted_messages_and_reports_sequence_numbers(mail):
    client = login(mail)
    client.select("INBOX")
    client.store("2,4", "+FLAGS.SILENT", "(\\Deleted)")
    typ, data = client.expunge()
    assert typ == "OK"
    # RFC 9051 §7.5.1: each EXPUNGE decrements later sequence numbers at once: 4 then 2,
    # or 2 then 3; Dovecot sends them highest first, as we do.
    assert data == [b"4", b"2"]
    assert uids(client) == [1, 3, 5]
    client.logout()


def test_uid_expunge_removes_only_the_named_deleted_messages(mail):
    client = login(mail)
    client.select("INBOX")
    client.store("1:3", "+FLAGS.SILENT", "(\\Deleted)")
    typ, _ = client.uid("EXPUNGE", "2:5")
    assert typ == "OK"
    assert client.untagged_responses.pop("EXPUNGE") == [b"3", b"2"]
    assert uids(client) == [1, 4, 5]
    client.logout()


def test_expunge_in_examined_mailbox_is_refused(mail):
    client = login(mail)
    client.select("INBOX", readonly=True)
    typ, _ = client.expunge()
    assert typ == "NO"
    client.logout()


def test_close_expunges_silently_and_unselect_does_not(mail):
    client = login(mail)
    client.select("INBOX")
    client.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    typ, _ = client.unselect()
    assert typ == "OK"
    client.select("INBOX")
    assert uids(client) == [1, 2, 3, 4, 5]
    typ, _ = client.close()
    assert typ == "OK"
    assert "EXPUNGE" not in client.untagged_responses
    assert client.select("INBOX") == ("OK", [b"4"])
    client.logout()


def test_copy_answers_copyuid_and_keeps_flags(mail):
    client = login(mail)
    client.select("INBOX")
    client.store("2", "+FLAGS.SILENT", "(\\Flagged)")
    typ, data = client.copy("2:3", "Archive")
    assert typ == "OK"
    code = re.match(rb"\[COPYUID (\d+) 2:3 1:2\]", data[0])
    assert code, data
    client.select("Archive")
    _, data = client.fetch("1:2", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    # RFC 3501 §6.4.7: "the Recent flag SHOULD be set, in the copy"
    assert b"FLAGS (\\Flagged \\Recent)" in data[0][0] and b"m2" in data[0][1]
    client.logout()


def test_copy_to_missing_mailbox_asks_to_create(mail):
    client = login(mail)
    client.select("INBOX")
    typ, data = client.copy("1", "Nowhere")
    assert typ == "NO" and data[0].startswith(b"[TRYCREATE]")
    client.logout()


def test_move_sends_copyuid_then_expunges_then_ok(mail):
    client = login(mail)
    client.select("INBOX")
    tag = client._new_tag()
    client.send(tag + b" UID MOVE 2,4 Trash\r\n")
    lines = []
    while True:
        line = client.readline()
        lines.append(line)
        if line.startswith(tag):
            break
    assert lines[0].startswith(b"* OK [COPYUID ") and b" 2,4 1:2]" in lines[0]
    assert lines[1:3] == [b"* 4 EXPUNGE\r\n", b"* 2 EXPUNGE\r\n"]
    assert lines[3].startswith(tag + b" OK")
    assert uids(client) == [1, 3, 5]
    client.logout()


def test_move_into_the_selected_mailbox_renumbers_the_message(mail):
    """RFC 9051 §6.4.8: moving to the currently selected mailbox is allowed when copying
    there is; the message gets a new UID at the end (as Dovecot does)."""
    client = login(mail)
    client.select("INBOX")
    lines = raw_command_lines(client, b"MOVE 1 INBOX")
    assert lines[0].startswith(b"* OK [COPYUID ") and lines[0].endswith(b" 1 6] Moved")
    assert lines[1:3] == [b"* 1 EXPUNGE", b"* 5 EXISTS"]
    assert uids(client) == [2, 3, 4, 5, 6]
    client.logout()


def raw_command_lines(client: imaplib.IMAP4, command: bytes) -> list[bytes]:
    tag = client._new_tag()
    client.send(tag + b" " + command + b"\r\n")
    lines = []
    while True:
        line = client.readline().rstrip(b"\r\n")
        lines.append(line)
        if line.startswith(tag + b" "):
            return lines


def test_other_session_gets_expunges_on_noop_but_not_during_fetch(mail):
    actor, watcher = login(mail), login(mail)
    actor.select("INBOX")
    watcher.select("INBOX")
    actor.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    actor.expunge()
    _, data = watcher.fetch("5", "(UID)")
    assert data == [b"5 (UID 5)"]  # sequence numbers unchanged while answering FETCH
    assert "EXPUNGE" not in watcher.untagged_responses
    watcher.noop()
    assert watcher.untagged_responses["EXPUNGE"] == [b"1"]
    assert uids(watcher) == [2, 3, 4, 5]
    actor.logout()
    watcher.logout()


@pytest.mark.parametrize(
    "command",
    [
        b"EXPUNGE 1",
        b"UID EXPUNGE",
        b"UID EXPUNGE x",
        b"CLOSE now",
        b"UNSELECT INBOX",
        b"COPY 1",
        b"COPY 99 Trash",
        b"COPY 1 (Trash)",
    ],
)
def test_malformed_commands_get_bad(mail, command):
    client = login(mail)
    client.select("INBOX")
    assert raw_command(client, command).startswith(b"BAD"), command
    assert client.noop()[0] == "OK"
    client.logout()


def raw_command(client: imaplib.IMAP4, command: bytes) -> bytes:
    """Send a command imaplib would refuse; the tagged reply without the tag."""
    tag = client._new_tag()
    client.send(tag + b" " + command + b"\r\n")
    line = client.readline()
    while not line.startswith(tag):
        line = client.readline()
    return line[len(tag) + 1 :]


@pytest.mark.parametrize(
    "command", ["EXPUNGE", "CLOSE", "UNSELECT", "COPY 1 Trash", "MOVE 1 Trash"]
)
def test_commands_outside_the_selected_state_get_bad(mail, command):
    client = login(mail)
    assert raw_command(client, command.encode()).startswith(b"BAD")
    client.logout()


def test_expunge_removes_what_another_session_flagged_deleted_just_before(mail):
    actor, watcher = login(mail), login(mail)
    actor.select("INBOX")
    watcher.select("INBOX")
    actor.store("2", "+FLAGS.SILENT", "(\\Deleted)")
    typ, data = watcher.expunge()  # the change is not yet told to `watcher`
    assert (typ, data) == ("OK", [b"2"])
    assert uids(actor) == [1, 3, 4, 5]
    actor.logout()
    watcher.logout()


def test_expunge_removes_what_the_control_api_flagged_deleted(mail):
    client = login(mail)
    client.select("INBOX")
    mail.call(mail.server.postoffice.change_flags, "user", "INBOX", 3, add=["\\Deleted"])
    typ, data = client.expunge()
    assert (typ, data) == ("OK", [b"3"])
    assert uids(client) == [1, 2, 4, 5]
    client.logout()
