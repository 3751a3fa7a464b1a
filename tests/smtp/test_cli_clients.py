"""The command-line clients swaks and msmtp against the server: pipelining, STARTTLS, AUTH, DSN
options and refusals (each skipped, saying why, when the program is not installed)."""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from elektromail.testing import MailServer
from tests.smtp.wire import client_context, mailbox, use_rules

# With Date and Message-ID, so that msmtp adds no header of its own.
MESSAGE = (
    b"From: app@example.org\r\nTo: bob@example.com\r\nSubject: hello\r\n"
    b"Date: Mon, 6 May 2024 07:08:09 +0000\r\nMessage-ID: <m1@example.org>\r\n\r\nhi there\r\n"
)


def run(argv: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=60)


def pem_file(mail: MailServer, tmp_path: Path) -> str:
    client_context(mail)  # makes the certificate
    path = tmp_path / "server.pem"
    path.write_bytes(mail.server.tls.certificate_pem)
    return str(path)


# --- swaks -----------------------------------------------------------------------------------

needs_swaks = pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")


def swaks_has_tls() -> bool:
    if shutil.which("swaks") is None:
        return False
    return b"=== TLS supported" in run(["swaks", "--support"]).stdout


needs_swaks_tls = pytest.mark.skipif(
    not swaks_has_tls(), reason="swaks without TLS (Debian: libnet-ssleay-perl) or not installed"
)


@needs_swaks_tls
def test_swaks_pipelining_starttls_and_auth(mail: MailServer) -> None:
    result = run(
        [
            "swaks",
            "--server",
            f"127.0.0.1:{mail.smtp_port}",
            "--from",
            "alice@example.org",
            "--to",
            "bob@example.com,user@example.com",
            "--pipeline",
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            "alice",
            "--auth-password",
            "alice-pw",
            "--header",
            "Subject: from swaks",
            "--body",
            "hello swaks",
        ]
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert b"<-  220 2.0.0 Ready to start TLS" in result.stdout
    assert b"~> AUTH PLAIN" in result.stdout
    for user in ("bob", "user"):
        (stored,) = mailbox(mail, user)
        assert b"Subject: from swaks\r\n" in stored and b"hello swaks" in stored


@needs_swaks
def test_swaks_reports_a_rejected_recipient(mail: MailServer) -> None:
    use_rules(mail, [{"recipient": "gone@*", "action": "reject", "diagnostic": "No such user"}])
    result = run(["swaks", "--server", f"127.0.0.1:{mail.smtp_port}", "--to", "gone@x"])
    assert result.returncode != 0
    assert b"<** 550 5.1.1 No such user" in result.stdout


@needs_swaks
def test_swaks_pipelining_and_auth_without_tls(mail: MailServer) -> None:
    result = run(
        [
            "swaks",
            "--server",
            f"127.0.0.1:{mail.smtp_port}",
            "--to",
            "bob@example.com",
            "--pipeline",
            "--auth",
            "LOGIN",
            "--auth-user",
            "alice",
            "--auth-password",
            "alice-pw",
        ]
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert b"<~  235 2.7.0 Authentication successful" not in result.stdout
    assert b"<-  235 2.7.0 Authentication successful" in result.stdout
    assert len(mailbox(mail, "bob")) == 1


@needs_swaks_tls
def test_swaks_tls_on_connect(start_mail: Callable[..., MailServer]) -> None:
    mail = start_mail(smtps_port=0)
    port = mail.server.port("smtps")
    result = run(["swaks", "--server", f"127.0.0.1:{port}", "--tlsc", "--to", "bob@x"])
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert len(mailbox(mail, "bob")) == 1


# --- msmtp -----------------------------------------------------------------------------------

needs_msmtp = pytest.mark.skipif(shutil.which("msmtp") is None, reason="msmtp is not installed")


def msmtp(port: int, *options: str) -> list[str]:
    return ["msmtp", "--file=/dev/null", "--host=127.0.0.1", f"--port={port}", *options]


@needs_msmtp
def test_msmtp_plain(mail: MailServer) -> None:
    argv = msmtp(mail.smtp_port, "--from=app@example.org", "--", "bob@example.com")
    result = run(argv, MESSAGE)
    assert result.returncode == 0, result.stderr.decode()
    assert mailbox(mail, "bob") == [MESSAGE]


@needs_msmtp
def test_msmtp_starttls_with_certificate_check_and_auth(mail: MailServer, tmp_path: Path) -> None:
    argv = msmtp(
        mail.smtp_port,
        "--tls=on",
        "--tls-starttls=on",
        f"--tls-trust-file={pem_file(mail, tmp_path)}",
        "--auth=plain",
        "--user=alice",
        "--passwordeval=echo alice-pw",
        "--from=alice@example.org",
        "--",
        "bob@example.com",
    )
    result = run(argv, MESSAGE)
    assert result.returncode == 0, result.stderr.decode()
    assert mailbox(mail, "bob") == [MESSAGE]


@needs_msmtp
def test_msmtp_dsn_options_shape_the_bounce(mail: MailServer) -> None:
    use_rules(mail, [{"recipient": "bounce@*", "action": "bounce"}])
    argv = msmtp(
        mail.smtp_port,
        "--from=app@example.org",
        "--dsn-notify=failure",
        "--dsn-return=headers",
        "--",
        "bounce@example.com",
    )
    assert run(argv, MESSAGE).returncode == 0
    (raw,) = mailbox(mail, "app")
    report = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert report.get_payload(2).get_content_type() == "text/rfc822-headers"
    _, recipient = report.get_payload(1).get_payload()
    assert recipient["Final-Recipient"] == "rfc822; bounce@example.com"


@needs_msmtp
def test_msmtp_reports_a_tempfail(mail: MailServer) -> None:
    use_rules(mail, [{"recipient": "*", "action": "tempfail", "stage": "data"}])
    result = run(msmtp(mail.smtp_port, "--from=a@b", "--", "bob@x"), MESSAGE)
    assert result.returncode != 0
    assert b"451 4.3.0 Temporary failure" in result.stderr
    assert mailbox(mail, "bob") == []
