"""mutt opens INBOX over IMAP and pipes a message out, driven through a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

from tests.clients.conftest import MESSAGES, need


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
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [binary, "-n", "-F", str(rc), "-e", push],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={"HOME": str(tmp_path), "TERM": "vt100", "PATH": "/usr/bin:/bin"},
        close_fds=True,
    )
    os.close(terminal)
    screen = b""
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                screen += os.read(controller, 65536)
            except OSError:
                break
    if process.poll() is None:
        process.kill()
    process.wait(10)
    os.close(controller)
    assert out.exists(), screen.decode(errors="replace")[-2000:]
    piped = out.read_bytes().replace(b"\r\n", b"\n")
    assert piped.endswith(MESSAGES[0].split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n"))
    assert b"Subject: first" in piped
