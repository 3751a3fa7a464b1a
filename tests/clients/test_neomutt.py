"""neomutt reads, flags and saves into the UTF-8 folder over IMAP, on a pseudo-terminal.

Unlike mbsync and offlineimap it sends ENABLE UTF8=ACCEPT, so it names the folder in UTF-8
and its APPEND of 8-bit headers is allowed by RFC 6855 itself."""

from __future__ import annotations

from pathlib import Path

from tests.clients.conftest import EIGHT_BIT, FOLDER, need, normalized, on_server
from tests.clients.terminal import run_on_terminal, tail

# An mbox (From_ line, LF line ends, a blank line after each message) with 8-bit headers.
LOCAL_MBOX = (
    b"From me@example.com Thu Jan  1 00:00:00 2026\n"
    b"From: Me <me@example.com>\nTo: x@example.com\nSubject: aus neomutt \xc3\xa4\xc3\xb6\xc3\xbc\n"
    b"Message-ID: <neomutt@example.com>\n\nvon neomutt gespeichert\n\n"
)
# What neomutt adds to a message it copies out of an mbox.
NEOMUTT_HEADERS = (b"Content-Length:", b"Lines:")


def write_rc(tmp_path: Path, port: int) -> Path:
    rc = tmp_path / "neomuttrc"
    rc.write_text(
        f"""set folder="imap://user@127.0.0.1:{port}/"
set imap_pass="pass"
set spoolfile="+INBOX"
set ssl_starttls=no
set ssl_force_tls=no
set imap_passive=no
set header_cache=""
set message_cachedir=""
set wait_key=no
set pipe_decode=no
set sort=mailbox-order
set move=no
set mark_old=no
set confirmappend=no
set mbox_type=mbox
set charset=utf-8
"""
    )
    return rc


def test_neomutt_reads_flags_and_saves_into_a_utf8_folder(mail_8bit, tmp_path):
    binary = need("neomutt", "neomutt")
    mail = mail_8bit
    rc = write_rc(tmp_path, mail.imap_port)
    out = tmp_path / "piped.eml"

    # open "Projekte/Über", pipe the first message out, flag it, write the change, quit
    push = f'push "<pipe-message>cat > {out}<enter><flag-message><sync-mailbox><quit>"'
    screen = run_on_terminal(
        [binary, "-n", "-F", str(rc), "-f", f"+{FOLDER}", "-e", push], tmp_path
    )
    assert out.exists(), tail(screen)
    assert out.read_bytes() == normalized(EIGHT_BIT[0]), "the 8-bit header reaches neomutt"
    stored = on_server(mail, FOLDER)[normalized(EIGHT_BIT[0])]
    assert "\\Flagged" in stored["flags"], tail(screen)
    assert stored["raw"] == EIGHT_BIT[0]

    # copy a message with 8-bit headers from a local mbox into the folder (an APPEND)
    mbox = tmp_path / "local.mbox"
    mbox.write_bytes(LOCAL_MBOX)
    target = f"imap://user@127.0.0.1:{mail.imap_port}/{FOLDER}"
    push = f'push "<copy-message>{target}<enter><quit>"'
    screen = run_on_terminal([binary, "-n", "-F", str(rc), "-f", str(mbox), "-e", push], tmp_path)
    saved = [m["raw"] for m in mail.messages("user", FOLDER) if b"<neomutt@" in m["raw"]]
    assert len(saved) == 1, tail(screen)
    message = LOCAL_MBOX.split(b"\n", 1)[1].removesuffix(b"\n")  # no From_ line, no separator
    lines = saved[0].split(b"\r\n")
    assert b"\r\n".join(line for line in lines if not line.startswith(NEOMUTT_HEADERS)) == (
        message.replace(b"\n", b"\r\n")
    )
