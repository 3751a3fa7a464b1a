"""offlineimap (offlineimap3) syncs a server's mailboxes into a Maildir and back."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.clients import maildir
from tests.clients.conftest import (
    EIGHT_BIT,
    FOLDER,
    MESSAGES,
    NEW_FOLDER,
    need,
    normalized,
    on_server,
    sync_both_ways,
)


def write_config(tmp_path: Path, port: int, account: str = "", remote: str = "") -> Path:
    config = tmp_path / "offlineimaprc"
    config.write_text(
        f"""[general]
accounts = em
metadata = {tmp_path / "meta"}
ui = quiet

[Account em]
localrepository = local
remoterepository = remote
{account}

[Repository local]
type = Maildir
localfolders = {tmp_path / "mail"}
sep = /

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = {port}
remoteuser = user
remotepass = pass
ssl = no
starttls = no
{remote}
"""
    )
    return config


def run_offlineimap(binary: str, config: Path, home: Path) -> str:
    result = subprocess.run(
        [binary, "-c", str(config), "-o", "-u", "quiet"],
        capture_output=True,
        timeout=60,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    output = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
    assert result.returncode == 0, output
    assert "ERROR" not in output, output
    return output


def test_offlineimap_one_shot_sync(mail, tmp_path):
    binary = need("offlineimap", "offlineimap3")
    only_inbox = 'folderfilter = lambda name: name == "INBOX"'
    run_offlineimap(binary, write_config(tmp_path, mail.imap_port, remote=only_inbox), tmp_path)
    bodies = set(maildir.messages(tmp_path / "mail" / "INBOX"))
    assert bodies == {normalized(m) for m in MESSAGES}


def test_offlineimap_syncs_8bit_headers_and_a_utf8_folder_both_ways(mail_8bit, tmp_path):
    """Every folder, "Projekte/Über" among them, with raw 8-bit headers both ways.
    offlineimap never enables UTF8=ACCEPT; `utf8foldernames` makes it decode modified UTF-7
    into UTF-8 local names and encode them back when it creates a folder on the server."""
    binary = need("offlineimap", "offlineimap3")
    mail = mail_8bit
    config = write_config(tmp_path, mail.imap_port, account="utf8foldernames = yes")
    root = tmp_path / "mail"

    run_offlineimap(binary, config, tmp_path)
    folder = root / FOLDER
    assert set(maildir.messages(root / "INBOX")) == set(on_server(mail, "INBOX"))
    assert set(maildir.messages(folder)) == {normalized(m) for m in EIGHT_BIT}

    sync_both_ways(
        mail,
        folder,
        root / "INBOX",
        root / NEW_FOLDER,
        lambda: run_offlineimap(binary, config, tmp_path),
    )
