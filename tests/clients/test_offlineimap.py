"""offlineimap one-shot sync of INBOX into a Maildir."""

from __future__ import annotations

import subprocess

from tests.clients.conftest import MESSAGES, need, normalized


def test_offlineimap_one_shot_sync(mail, tmp_path):
    binary = need("offlineimap", "offlineimap3")
    local = tmp_path / "mail"
    config = tmp_path / "offlineimaprc"
    config.write_text(
        f"""[general]
accounts = em
metadata = {tmp_path / "meta"}
ui = quiet

[Account em]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {local}

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = {mail.imap_port}
remoteuser = user
remotepass = pass
ssl = no
starttls = no
folderfilter = lambda name: name == "INBOX"
"""
    )
    result = subprocess.run(
        [binary, "-c", str(config), "-o", "-u", "quiet"],
        capture_output=True,
        timeout=60,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    bodies = {normalized(p.read_bytes()) for p in (local / "INBOX").glob("*/*")}
    assert bodies == {normalized(m) for m in MESSAGES}, result.stdout.decode()
