"""fetchmail and getmail6 (Debian packages, installed by .ci/run) fetch real mail through our
POP3: the bytes they deliver are the stored ones (they write LF line ends, and add their own
trace header on top), and their DELE at QUIT empties the maildrop."""

from __future__ import annotations

import os
import poplib
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from elektromail.testing import MailServer

MESSAGE = (
    b"From: a@example.org\r\nTo: user@example.org\r\nSubject: fetched\r\n\r\n"
    b"line one\r\n.starts with a dot\r\n\xc3\xa9 eight-bit bytes\r\n\r\nlast\r\n"
)
AS_LF = MESSAGE.replace(b"\r\n", b"\n")


def stat(server: MailServer) -> tuple[int, int]:
    pop = poplib.POP3(server.host, server.pop3_port, timeout=10)
    pop.user("user")
    pop.pass_("pass")
    try:
        return pop.stat()
    finally:
        pop.quit()


@pytest.mark.skipif(shutil.which("fetchmail") is None, reason="fetchmail is not installed")
def test_fetchmail_fetches_and_deletes(tmp_path):
    out = tmp_path / "out"
    with MailServer() as server:
        server.inject("user", MESSAGE)
        rc = tmp_path / "fetchmailrc"
        rc.write_text(
            f"poll {server.host} service {server.pop3_port} protocol pop3 auth password\n"
            f"  user user password pass sslproto '' mda \"cat >> {out}\"\n"
        )
        rc.chmod(0o600)
        done = subprocess.run(
            ["fetchmail", "-f", str(rc), "--nosyslog", "--pidfile", str(tmp_path / "pid")],
            capture_output=True,
            env={**os.environ, "HOME": str(tmp_path)},
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        delivered = out.read_bytes()
        assert delivered.startswith(b"Received: from ")  # fetchmail's own trace header
        assert delivered.endswith(b"\n" + AS_LF)
        assert stat(server) == (0, 0)


@pytest.mark.skipif(shutil.which("getmail") is None, reason="getmail6 is not installed")
def test_getmail6_fetches_and_deletes(tmp_path):
    with tempfile.TemporaryDirectory() as where:  # pytest's tmp_path is closed to nobody
        os.chmod(where, 0o755)
        getmail_run(tmp_path, Path(where) / "Maildir")


def getmail_run(tmp_path: Path, maildir: Path) -> None:
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    as_root = os.geteuid() == 0  # getmail refuses to deliver as root: it delivers as nobody
    if as_root:
        for path in (maildir, *(maildir / sub for sub in ("new", "cur", "tmp"))):
            shutil.chown(path, "nobody")
    with MailServer() as server:
        server.inject("user", MESSAGE)
        rc = tmp_path / "getmailrc"
        rc.write_text(
            "[retriever]\ntype = SimplePOP3Retriever\n"
            f"server = {server.host}\nport = {server.pop3_port}\n"
            "username = user\npassword = pass\n"
            f"[destination]\ntype = Maildir\npath = {maildir}/\n"
            + ("user = nobody\n" if as_root else "")
            + "[options]\ndelete = true\nread_all = true\ndelivered_to = false\n"
            "received = false\n"
        )
        done = subprocess.run(
            ["getmail", "--rcfile", str(rc), "--getmaildir", str(tmp_path)],
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        (delivered,) = [p.read_bytes() for p in (maildir / "new").iterdir()]
        assert delivered == b"Return-Path: <unknown>\n" + AS_LF
        assert stat(server) == (0, 0)
