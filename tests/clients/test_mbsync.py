"""mbsync (isync) syncs INBOX to a local Maildir and back."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.clients.conftest import MESSAGES, inbox, need, normalized


def run_mbsync(binary: str, config: Path, home: Path) -> None:
    result = subprocess.run(
        [binary, "-c", str(config), "-a"],
        capture_output=True,
        timeout=60,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def maildir_files(maildir: Path) -> dict[bytes, Path]:
    files = [*maildir.glob("cur/*"), *maildir.glob("new/*")]
    return {normalized(path.read_bytes()): path for path in files}


def write_config(tmp_path: Path, port: int) -> tuple[Path, Path]:
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

Channel em
Far :em-remote:
Near :em-local:
Patterns INBOX
Create Both
Expunge Both
SyncState *
Sync All
"""
    )
    return config, local / "INBOX"


def test_mbsync_round_trip(mail, tmp_path):
    binary = need("mbsync", "isync")
    config, maildir = write_config(tmp_path, mail.imap_port)

    run_mbsync(binary, config, tmp_path)
    files = maildir_files(maildir)
    assert set(files) == {normalized(m) for m in MESSAGES}, "server messages reach the Maildir"

    # a flag set locally reaches the server
    first = files[normalized(MESSAGES[0])]
    flagged = first.parent.parent / "cur" / (first.name.split(":2,")[0] + ":2,FS")
    first.rename(flagged)
    # a new server message reaches the Maildir
    new = b"From: x@example.com\r\nSubject: third\r\n\r\nthird body\r\n"
    mail.call(mail.server.postoffice.deliver, ["user@example.com"], new)
    # a message written locally reaches the server
    local = b"From: me@example.com\r\nSubject: local\r\n\r\nwritten here\r\n"
    (maildir / "new" / "1700000000.1.local").write_bytes(local)

    run_mbsync(binary, config, tmp_path)
    _, rows = inbox(mail)
    by_subject = {row.raw.split(b"Subject: ")[1].split(b"\r\n")[0]: row for row in rows}
    assert set(by_subject) == {b"first", b"second", b"third", b"local"}
    assert {"\\Flagged", "\\Seen"} <= set(by_subject[b"first"].flags)
    assert b"written here" in by_subject[b"local"].raw
    assert normalized(new) in maildir_files(maildir)
