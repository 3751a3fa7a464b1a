"""mbsync (isync) syncs a server's mailboxes to a local Maildir and back."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.clients import maildir
from tests.clients.conftest import (
    EIGHT_BIT,
    FOLDER,
    FOLDER_MUTF7,
    LOCAL_8BIT,
    MESSAGES,
    NEW_FOLDER,
    NEW_FOLDER_MUTF7,
    assert_stored_as_uploaded,
    inbox,
    need,
    normalized,
    on_server,
)

COMPLAINT = re.compile(r"error|refuse|Warning:", re.IGNORECASE)


def run_mbsync(binary: str, config: Path, home: Path) -> str:
    result = subprocess.run(
        [binary, "-c", str(config), "-a"],
        capture_output=True,
        timeout=60,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    output = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
    assert result.returncode == 0, output
    # mbsync 1.4 exits 0 when the server refuses a message ("Warning: far side refuses to
    # store message"), and never tries it again: its output must be free of those too.
    complaints = [line for line in output.splitlines() if COMPLAINT.search(line)]
    assert not complaints, output
    return output


def write_config(tmp_path: Path, port: int, patterns: str = "INBOX") -> tuple[Path, Path]:
    local = tmp_path / "mail"
    local.mkdir()
    config = tmp_path / "mbsyncrc"
    config.write_text(
        f"""IMAPAccount em
Host 127.0.0.1
Port {port}
User user
Pass pass
SSLType None
AuthMechs LOGIN

IMAPStore em-remote
Account em

MaildirStore em-local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel em
Far :em-remote:
Near :em-local:
Patterns {patterns}
Create Both
Expunge Both
SyncState *
Sync All
"""
    )
    return config, local / "INBOX"


def test_mbsync_round_trip(mail, tmp_path):
    binary = need("mbsync", "isync")
    config, inbox_dir = write_config(tmp_path, mail.imap_port)

    run_mbsync(binary, config, tmp_path)
    files = maildir.messages(inbox_dir)
    assert set(files) == {normalized(m) for m in MESSAGES}, "server messages reach the Maildir"

    # a flag set locally reaches the server
    maildir.set_flags(files[normalized(MESSAGES[0])], "FS")
    # a new server message reaches the Maildir
    new = b"From: x@example.com\r\nSubject: third\r\n\r\nthird body\r\n"
    mail.call(mail.server.postoffice.deliver, ["user@example.com"], new)
    # a message written locally reaches the server
    local = b"From: me@example.com\r\nSubject: local\r\n\r\nwritten here\r\n"
    (inbox_dir / "new" / "1700000000.1.local").write_bytes(local)

    run_mbsync(binary, config, tmp_path)
    _, rows = inbox(mail)
    by_subject = {row.raw.split(b"Subject: ")[1].split(b"\r\n")[0]: row for row in rows}
    assert set(by_subject) == {b"first", b"second", b"third", b"local"}
    assert {"\\Flagged", "\\Seen"} <= set(by_subject[b"first"].flags)
    assert b"written here" in by_subject[b"local"].raw
    assert normalized(new) in maildir.messages(inbox_dir)


def test_mbsync_syncs_8bit_headers_and_a_utf8_folder_both_ways(mail_8bit, tmp_path):
    """Every folder (`Patterns *`), "Projekte/Über" among them, with raw 8-bit headers both
    ways; mbsync 1.4 neither enables UTF8=ACCEPT nor decodes modified UTF-7, so its local
    folder is "Projekte/&ANw-ber" and a local folder named so reaches the server decoded."""
    binary = need("mbsync", "isync")
    mail = mail_8bit
    config, inbox_dir = write_config(tmp_path, mail.imap_port, patterns="*")
    root = inbox_dir.parent

    run_mbsync(binary, config, tmp_path)
    folder = maildir.either(root, FOLDER, FOLDER_MUTF7)
    assert set(maildir.messages(inbox_dir)) == set(on_server(mail, "INBOX"))
    assert set(maildir.messages(folder)) == {normalized(m) for m in EIGHT_BIT}

    # locally: flag the UTF-8 message, write 8-bit-header mail into both folders and into a
    # new folder named as this mbsync names folders
    local_files = maildir.messages(folder)
    maildir.set_flags(local_files[normalized(EIGHT_BIT[0])], "FS")
    written, in_inbox, in_new = LOCAL_8BIT
    maildir.deliver(folder, "1700000000.1.local", written)
    maildir.deliver(inbox_dir, "1700000000.2.local", in_inbox)
    new_name = NEW_FOLDER if folder.name == "\u00dcber" else NEW_FOLDER_MUTF7
    maildir.deliver(maildir.make_folder(root / new_name), "1700000000.3.local", in_new)
    # on the server: a new 8-bit message, and \Seen on the latin-1 one
    arrived = EIGHT_BIT[0].replace(b"<koeln@", b"<koeln2@")
    mail.inject("user", arrived, mailbox=FOLDER)
    latin1 = on_server(mail, FOLDER)[normalized(EIGHT_BIT[1])]
    mail.call(mail.server.postoffice.change_flags, "user", FOLDER, latin1["uid"], ["\\Seen"])

    run_mbsync(binary, config, tmp_path)
    server = on_server(mail, FOLDER)
    assert set(server) == {normalized(m) for m in [*EIGHT_BIT, arrived, written]}
    assert {"\\Flagged", "\\Seen"} <= set(server[normalized(EIGHT_BIT[0])]["flags"])
    assert server[normalized(EIGHT_BIT[0])]["raw"] == EIGHT_BIT[0], "stored bytes unchanged"
    assert_stored_as_uploaded(server[normalized(written)]["raw"], written)
    assert_stored_as_uploaded(on_server(mail, "INBOX")[normalized(in_inbox)]["raw"], in_inbox)
    [created] = on_server(mail, NEW_FOLDER).values()
    assert_stored_as_uploaded(created["raw"], in_new)
    local_files = maildir.messages(folder)
    assert normalized(arrived) in local_files
    assert "S" in maildir.flags(local_files[normalized(EIGHT_BIT[1])])

    # a run with nothing to do changes nothing, and exits 0 too
    before = {box: set(on_server(mail, box)) for box in ("INBOX", FOLDER, NEW_FOLDER)}
    run_mbsync(binary, config, tmp_path)
    assert {box: set(on_server(mail, box)) for box in before} == before
    assert set(maildir.messages(folder)) == before[FOLDER]
