"""mutt opens INBOX over IMAP and pipes a message out, driven through a pseudo-terminal."""

from __future__ import annotations

from tests.clients.conftest import MESSAGES, need
from tests.clients.terminal import run_on_terminal, tail


def test_mutt_reads_the_inbox(mail, tmp_path):
    binary = need("mutt", "mutt")
    out = tmp_path / "piped.eml"
    rc = tmp_path / "muttrc"
    rc.write_text(
        f"""set folder="imap://user@127.0.0.1:{mail.imap_port}/"
set imap_pass="pass"
set spoolfile="+INBOX"
set ssl_starttls=no
set ssl_force_tls=no
set imap_passive=no
set header_cache=""
set message_cachedir=""
set wait_key=no
set pipe_decode=no
set sort=date-sent
set move=no
set mbox_type=mbox
"""
    )
    push = f'push "<pipe-message>cat > {out}<enter><exit>"'
    screen = run_on_terminal([binary, "-n", "-F", str(rc), "-e", push], tmp_path)
    assert out.exists(), tail(screen)
    piped = out.read_bytes().replace(b"\r\n", b"\n")
    assert piped.endswith(MESSAGES[0].split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n"))
    assert b"Subject: first" in piped
