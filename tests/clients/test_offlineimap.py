"""offlineimap (offlineimap3) syncs a server's mailboxes into a Maildir and back."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.clients import maildir
from tests.clients.conftest import (
    EIGHT_BIT,
    FOLDER,
    LOCAL_8BIT,
    MESSAGES,
    NEW_FOLDER,
    assert_stored_as_uploaded,
    need,
    normalized,
    on_server,
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

    # locally: flag the UTF-8 message, write 8-bit-header mail into both folders and into a
    # new folder with a UTF-8 name
    maildir.set_flags(maildir.messages(folder)[normalized(EIGHT_BIT[0])], "FS")
    written, in_inbox, in_new = LOCAL_8BIT
    maildir.deliver(folder, "1700000000.1.local", written)
    maildir.deliver(root / "INBOX", "1700000000.2.local", in_inbox)
    maildir.deliver(maildir.make_folder(root / NEW_FOLDER), "1700000000.3.local", in_new)
    # on the server: a new 8-bit message, and \Seen on the latin-1 one
    arrived = EIGHT_BIT[0].replace(b"<koeln@", b"<koeln2@")
    mail.inject("user", arrived, mailbox=FOLDER)
    latin1 = on_server(mail, FOLDER)[normalized(EIGHT_BIT[1])]
    mail.call(mail.server.postoffice.change_flags, "user", FOLDER, latin1["uid"], ["\\Seen"])

    run_offlineimap(binary, config, tmp_path)
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
    run_offlineimap(binary, config, tmp_path)
    assert {box: set(on_server(mail, box)) for box in before} == before
    assert set(maildir.messages(folder)) == before[FOLDER]
