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
    MESSAGES,
    NEW_FOLDER,
    NEW_FOLDER_MUTF7,
    inbox,
    need,
    normalized,
    on_server,
    sync_both_ways,
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

    # the new local folder is named as this mbsync names folders
    new_name = NEW_FOLDER if folder.name == "\u00dcber" else NEW_FOLDER_MUTF7
    sync_both_ways(
        mail, folder, inbox_dir, root / new_name, lambda: run_mbsync(binary, config, tmp_path)
    )
