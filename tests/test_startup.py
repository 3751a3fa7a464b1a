"""Entry points and start-up: twistd plugin, python -m, console script, ready line, errors."""

from __future__ import annotations

import http.client
import imaplib
import json
import os
import shutil
import smtplib
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.imap.wire import ImapWire

BIN = Path(sys.executable).parent
TWISTD = str(BIN / "twistd")
SCRIPT = str(BIN / "elektromail")
ANY_PORTS = ["--smtp-port", "0", "--imap-port", "0"]


def run_to_exit(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, capture_output=True, timeout=60, env={**os.environ, **(env or {})}, text=True
    )


def send(port: int, to: str, body: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("sender@example.com", [to], body)


def test_twistd_finds_the_plugin_after_the_readme_install():
    result = run_to_exit([TWISTD, "--help"])
    assert result.returncode == 0
    assert "elektromail" in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([TWISTD, "-n", "--pidfile=", "elektromail"], id="twistd"),
        pytest.param([sys.executable, "-m", "elektromail"], id="python-m"),
        pytest.param([SCRIPT], id="console-script"),
    ],
)
def test_every_entry_point_starts_the_same_server(child_server, command):
    server = child_server(ANY_PORTS, command=command).wait_ready()
    assert set(server.ports) == {"smtp", "imap", "pop3"}  # POP3_PORT=0 from tests/conftest.py
    send(server.ports["smtp"], "user@example.com", b"Subject: hi\r\n\r\nhello\r\n")
    with ImapWire(server.ports["imap"]) as imap:
        assert imap.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2")


def test_ready_line_names_bound_ports_and_off_listeners(child_server):
    server = child_server(["--smtp-port", "0", "--imap-port", "off"]).wait_ready()
    line = server.wait_for(b"elektromail ready").decode()
    assert f"smtp=127.0.0.1:{server.ports['smtp']}" in line
    assert "imap=off" in line and "http=off" in line
    assert f"pop3=127.0.0.1:{server.ports['pop3']}" in line


def test_env_vars_configure_the_server(child_server):
    env = {"SMTP_PORT": "0", "IMAP_PORT": "off", "ELEKTROMAIL_USERS": "demo:demo"}
    server = child_server([], env=env).wait_ready()
    assert set(server.ports) == {"smtp", "pop3"}


def test_http_api_starts_from_the_command_line_with_its_token(child_server, tmp_path):
    args = [*ANY_PORTS, "--http-port", "0", "--http-token", "t", "--preload-dir", str(tmp_path)]
    server = child_server(args).wait_ready()
    assert set(server.ports) == {"smtp", "imap", "pop3", "http"}
    assert b"not implemented yet" not in server.output
    conn = http.client.HTTPConnection("127.0.0.1", server.ports["http"], timeout=10)
    conn.request("GET", "/config", headers={"Authorization": "Bearer t"})
    config = json.loads(conn.getresponse().read())
    conn.close()
    assert config["http_port"] == server.ports["http"]
    assert config["http_token_required"] is True


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--smtp-port", "abc"], {}, "--smtp-port='abc'"),
        ([], {"IMAP_PORT": "99999"}, "IMAP_PORT='99999'"),
        ([], {"ELEKTROMAIL_USERS": "a:b,a:c"}, "duplicate user"),
        ([], {"ELEKTROMAIL_USERS": "justaname"}, "ELEKTROMAIL_USERS"),
        (["--db", "/nonexistent/dir/x.db"], {}, "--db='/nonexistent/dir/x.db'"),
        (["--bind", "999.1.1.1"], {}, "--bind='999.1.1.1'"),
    ],
)
def test_invalid_setting_stops_with_one_line(args, env, named):
    result = run_to_exit([sys.executable, "-m", "elektromail", *args], env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_port_in_use_stops_with_one_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_to_exit(
            [sys.executable, "-m", "elektromail", "--smtp-port", "0", "--imap-port", str(port)]
        )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "IMAP_PORT/--imap-port" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_unusable_database_file_stops_with_one_line(tmp_path):
    bad = tmp_path / "mail.db"
    bad.write_bytes(b"this is not a sqlite database" * 100)
    result = run_to_exit([sys.executable, "-m", "elektromail", *ANY_PORTS, "--db", str(bad)])
    assert result.returncode != 0
    assert str(bad) in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_delivers(child_server):
    server = child_server(ANY_PORTS).wait_ready()
    result = run_to_exit(
        [
            "swaks",
            "--server",
            "127.0.0.1",
            "--port",
            str(server.ports["smtp"]),
            "--to",
            "user@example.com",
            "--from",
            "app@example.com",
            "--body",
            "hello swaks",
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    imap = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
    imap.login("user", "pass")
    assert imap.select("INBOX") == ("OK", [b"1"])
    raw = imap.fetch("1", "(BODY.PEEK[])")[1][0][1]
    assert b"hello swaks" in raw and b"To: user@example.com" in raw
    imap.logout()
