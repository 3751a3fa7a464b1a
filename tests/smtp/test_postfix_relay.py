"""Postfix's SMTP client relaying into us, as a real MTA in front of the server would. A private
Postfix instance (its own config, queue and log in a temporary directory; nothing in /etc
touched) takes a message from its sendmail command and relays it to our SMTP port; the stored
bytes are Postfix's Received line followed by the message octet for octet.

Postfix's SMTP client sends DATA even when EHLO offers CHUNKING: Postfix has BDAT in its SMTP
server only (its BDAT_README: "no changes for down-stream SMTP servers"; src/smtp/ has no
BDAT), in 3.7 as in its newest source. So this covers relaying, dot-stuffing and 8BITMIME from
a real MTA, and takes BDAT if a later Postfix sends it; BDAT from a real MTA's client is
tests/smtp/test_exim_relay.py's (Exim uses it when offered).

Needs the Debian package `postfix` (installed by .ci/run) and root (Postfix's master runs
only as root); skips otherwise."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from elektromail.testing import MailServer
from tests.http.client import Api
from tests.smtp.conftest import USERS

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
SENDMAIL = "/usr/sbin/sendmail"


def _why_not() -> str | None:
    if not os.path.exists(POSTFIX) or not os.path.exists("/usr/lib/postfix/sbin/master"):
        return "Postfix is not installed (Debian package postfix)"
    if os.geteuid() != 0:
        return "Postfix's master daemon runs only as root"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "no system user postfix (the Debian package makes it)"
    return None


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=str(_why_not()))

MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def main_cf(directory: Path, port: int) -> str:
    return f"""\
compatibility_level = 3.6
queue_directory = {directory}/spool
data_directory = {directory}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {directory}/log
maillog_file = {directory}/log/postfix.log
myhostname = relay-postfix.test
mydomain = relay-postfix.test
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
relayhost = [127.0.0.1]:{port}
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
smtp_tls_security_level = none
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""


@pytest.fixture(scope="module")
def server() -> Iterator[MailServer]:
    with MailServer(users=USERS) as server:
        yield server


@pytest.fixture
def mail(server: MailServer) -> MailServer:
    server.purge()
    return server


@pytest.fixture(scope="module")
def postfix(server: MailServer) -> Iterator[Path]:
    """A private Postfix relaying everything to `server`'s SMTP port; its directory."""
    directory = Path(tempfile.mkdtemp(prefix="elektromail-postfix-", dir="/tmp"))
    directory.chmod(0o755)  # Postfix's daemons (user postfix) enter it
    for sub in ("etc", "spool", "data", "log"):
        (directory / sub).mkdir()
    shutil.chown(directory / "data", "postfix")
    (directory / "etc" / "main.cf").write_text(main_cf(directory, server.smtp_port))
    (directory / "etc" / "master.cf").write_text(MASTER_CF)
    config = ["-c", str(directory / "etc")]
    try:
        # `start` checks the configuration and makes the queue's directories itself
        done = subprocess.run([POSTFIX, *config, "start"], capture_output=True, text=True)
        if done.returncode:  # its fatal errors go to the terminal, and to its log
            log = directory / "log" / "postfix.log"
            why = log.read_text() if log.exists() else done.stderr
            pytest.fail(f"postfix start failed: {why}")
        yield directory
    finally:
        subprocess.run([POSTFIX, *config, "stop"], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


def submit(directory: Path, message: bytes, recipient: str) -> None:
    """Postfix's sendmail, as a local program would: the message as UNIX text (LF line ends)."""
    subprocess.run(
        [SENDMAIL, "-C", str(directory / "etc"), "-i", "-f", "a@example.com", recipient],
        input=message.replace(b"\r\n", b"\n"),
        check=True,
        capture_output=True,
        timeout=30,
    )


def stored_after(mail: MailServer, directory: Path) -> dict:
    try:
        [stored] = mail.wait_for_messages(1, user="user", timeout=30)
    except TimeoutError:
        log = directory / "log" / "postfix.log"
        raise AssertionError(log.read_text() if log.exists() else "no Postfix log") from None
    return stored


def transcript_lines(mail: MailServer, uid: int) -> list[str]:
    answer = Api(mail).get(f"/messages/{uid}/transcript?user=user").json()
    return [line["text"] for line in answer["lines"] if line["direction"] == "client"]


def test_postfix_relays_into_us_and_the_bytes_arrive_as_sent(mail, postfix) -> None:
    # A dot line, lines that start with dots, 8-bit text (declared 8bit): Postfix dot-stuffs
    # them for DATA (RFC 5321 §4.5.2) and we unstuff, or sends them raw with BDAT; either way
    # the store keeps what Postfix had.
    message = (
        "From: a@example.com\r\nTo: user@example.com\r\nSubject: via Postfix\r\n"
        "Date: Mon, 07 Dec 2026 12:00:00 +0000\r\nMessage-ID: <relay-1@example.com>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Grüße aus Postfix.\r\n.\r\n..two dots\r\n.leading dot\r\nend\r\n"
    ).encode()
    submit(postfix, message, "user@example.com")
    stored = stored_after(mail, postfix)
    raw = Api(mail).get(f"/messages/{stored['uid']}/raw?user=user").body
    # Postfix prepends its Received field (RFC 5321 §4.4); the rest is the message exactly
    assert raw.endswith(message)
    added = raw[: -len(message)]
    assert re.fullmatch(rb"Received: [^\r\n]*(\r\n[ \t][^\r\n]*)*\r\n", added), added
    assert b"relay-postfix.test" in added
    commands = transcript_lines(mail, stored["uid"])
    assert commands[0] == "EHLO relay-postfix.test"
    mail_from = next(c for c in commands if c.startswith("MAIL FROM:"))
    assert "BODY=8BITMIME" in mail_from and f"SIZE={len(raw)}" in mail_from, mail_from
    chunks = [c for c in commands if c.startswith("BDAT ")]
    if chunks:  # a Postfix whose client speaks RFC 3030
        assert chunks[-1].endswith(" LAST") and "DATA" not in commands
        assert sum(int(c.split()[1]) for c in chunks) == len(raw)
    else:
        assert commands[-1] == "DATA", commands


def test_a_large_message_relayed_by_postfix_arrives_intact(mail, postfix) -> None:
    line = "The quick brown fox jumps over the lazy dog 0123456789 äöü.\r\n.dot\r\n"
    message = (
        "From: a@example.com\r\nTo: user@example.com\r\nSubject: big via Postfix\r\n"
        "Date: Mon, 07 Dec 2026 12:00:00 +0000\r\nMessage-ID: <relay-2@example.com>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n" + line * 5000
    ).encode()
    submit(postfix, message, "user@example.com")
    stored = stored_after(mail, postfix)
    raw = Api(mail).get(f"/messages/{stored['uid']}/raw?user=user").body
    assert raw.endswith(message)
