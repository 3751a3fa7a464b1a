"""Exim's SMTP client relaying into us with BDAT: the real-MTA test of CHUNKING (RFC 3030).
Exim uses BDAT whenever EHLO offers CHUNKING (its smtp transport's `hosts_try_chunking`
defaults to `*`), as Exchange does; Postfix's client never does (tests/smtp/
test_postfix_relay.py). Exim 4.96 also pipelines QUIT behind `BDAT n LAST` and half-closes
the connection at once, which the server has to answer (server.readConnectionLost).

Exim runs from its own configuration in a temporary directory (`-C`), takes the message on
standard input and delivers it in the foreground (`-odf`) to our SMTP port, in plain text and
after STARTTLS (then it sends no half-close); nothing in /etc.

Needs Exim (Debian's exim4-daemon-light; it conflicts with the postfix package, so .ci/run
unpacks it under /opt/elektromail-exim rather than installing it), its system user
Debian-exim, and root; skips otherwise. ELEKTROMAIL_TEST_EXIM names another exim binary."""

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

UNPACKED = "/opt/elektromail-exim/usr/sbin/exim4"  # where .ci/debian-packages unpacks it
EXIM_USER = "Debian-exim"  # the user Debian's Exim is built to run as


def find_exim() -> str | None:
    for candidate in (
        os.environ.get("ELEKTROMAIL_TEST_EXIM"),
        shutil.which("exim4"),
        shutil.which("exim"),
        UNPACKED,
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


EXIM = find_exim()


def _why_not() -> str | None:
    if EXIM is None:
        return f"no Exim (exim4-daemon-light, unpacked by .ci/debian-packages to {UNPACKED})"
    if os.geteuid() != 0:
        return "Exim with its own configuration (-C) is run as root here"
    try:
        pwd.getpwnam(EXIM_USER)
    except KeyError:
        return f"no system user {EXIM_USER}, whom Debian's Exim runs as (.ci/debian-packages adds)"
    return None


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=str(_why_not()))


def configuration(directory: Path, port: int, tls: bool) -> str:
    # with STARTTLS, the server's self-signed certificate is taken unverified
    tls_line = "tls_verify_certificates =" if tls else "hosts_avoid_tls = *"
    return f"""\
primary_hostname = relay-exim.test
exim_path = {EXIM}
spool_directory = {directory}/spool
log_file_path = {directory}/log/%slog
keep_environment =
daemon_smtp_ports =
qualify_domain = example.com

begin routers
to_elektromail:
  driver = manualroute
  route_list = * 127.0.0.1
  self = send
  transport = to_elektromail

begin transports
to_elektromail:
  driver = smtp
  port = {port}
  allow_localhost
  {tls_line}

begin retry
* * F,1m,1m
"""


@pytest.fixture(scope="module")
def server() -> Iterator[MailServer]:
    with MailServer(users=USERS) as running:
        yield running


@pytest.fixture
def mail(server: MailServer) -> MailServer:
    server.purge()
    return server


@pytest.fixture(scope="module", params=["plain", "starttls"])
def exim(request, server: MailServer) -> Iterator[Path]:
    """A directory with an Exim configuration that sends everything to `server`, in plain
    text (then Exim half-closes after QUIT) or after STARTTLS."""
    directory = Path(tempfile.mkdtemp(prefix=f"elektromail-exim-{request.param}-", dir="/tmp"))
    directory.chmod(0o755)
    for sub in ("spool", "log"):
        (directory / sub).mkdir()
        shutil.chown(directory / sub, EXIM_USER, EXIM_USER)
    (directory / "exim.conf").write_text(
        configuration(directory, server.smtp_port, tls=request.param == "starttls")
    )
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def relay(directory: Path, message: bytes) -> str:
    """Hand the message (as UNIX text) to Exim, which delivers it before it returns; its log."""
    assert EXIM is not None
    command = [EXIM, "-C", str(directory / "exim.conf"), "-odf", "-i", "-f", "a@example.com"]
    done = subprocess.run(
        [*command, "user@example.com"],
        input=message.replace(b"\r\n", b"\n"),
        capture_output=True,
        timeout=60,
    )
    log = (directory / "log" / "mainlog").read_text(errors="replace")
    assert done.returncode == 0, (done.stderr, log)
    return log


def delivered(mail: MailServer, directory: Path, log: str) -> tuple[bytes, list[str]]:
    """The stored bytes and our transcript's client lines, once Exim says it delivered."""
    # "=>" is Exim's delivered line; "K" marks a delivery made with CHUNKING, "X=" with TLS
    found = re.findall(r"=> user@example\.com .* K C=\"250 2\.0\.0 Message accepted\"", log)
    assert found, log
    tls = "-starttls-" in directory.name
    assert (" X=TLS" in found[-1]) is tls, found[-1]
    [stored] = mail.wait_for_messages(1, user="user", timeout=30)
    api = Api(mail)
    raw = api.get(f"/messages/{stored['uid']}/raw?user=user").body
    lines = api.get(f"/messages/{stored['uid']}/transcript?user=user").json()["lines"]
    commands = [line["text"] for line in lines if line["direction"] == "client"]
    # RFC 3207 §4.2: the transcript starts over after STARTTLS, at the second EHLO
    assert commands[0] == "EHLO relay-exim.test"
    return raw, commands


def test_exim_relays_into_us_with_bdat_and_the_bytes_arrive_as_sent(mail, exim) -> None:
    # RFC 3030 §2: chunks are octets, never dot-stuffed: a dot line, lines that begin with
    # dots and 8-bit text arrive as Exim had them
    message = (
        "From: a@example.com\r\nTo: user@example.com\r\nSubject: via Exim\r\n"
        "Date: Mon, 07 Dec 2026 12:00:00 +0000\r\nMessage-ID: <exim-1@example.com>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Grüße aus Exim.\r\n.\r\n..two dots\r\n.leading dot\r\nend\r\n"
    ).encode()
    raw, commands = delivered(mail, exim, relay(exim, message))
    # Exim prepends its Received field (RFC 5321 §4.4); the rest is the message exactly
    assert raw.endswith(message)
    added = raw[: -len(message)]
    assert re.fullmatch(rb"Received: [^\r\n]*(\r\n[ \t][^\r\n]*)*\r\n", added), added
    assert b"relay-exim.test" in added
    assert any(c.startswith("MAIL FROM:<a@example.com>") for c in commands), commands
    chunks = [c for c in commands if c.startswith("BDAT ")]
    assert chunks and chunks[-1].endswith(" LAST") and "DATA" not in commands, commands
    assert sum(int(c.split()[1]) for c in chunks) == len(raw)


def test_a_large_message_from_exim_arrives_intact_in_its_chunks(mail, exim) -> None:
    line = "The quick brown fox jumps over the lazy dog 0123456789 äöü.\r\n.dot\r\n"
    message = (
        "From: a@example.com\r\nTo: user@example.com\r\nSubject: big via Exim\r\n"
        "Date: Mon, 07 Dec 2026 12:00:00 +0000\r\nMessage-ID: <exim-2@example.com>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n" + line * 5000
    ).encode()
    raw, commands = delivered(mail, exim, relay(exim, message))
    assert raw.endswith(message)
    chunks = [c for c in commands if c.startswith("BDAT ")]
    assert chunks[-1].endswith(" LAST") and sum(int(c.split()[1]) for c in chunks) == len(raw)
