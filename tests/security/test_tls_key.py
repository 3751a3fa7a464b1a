"""The generated certificate's private key never leaves the process when no key path is set:
the server runs in a child process with its own empty HOME, TMPDIR and working directory,
speaks TLS on every door (STARTTLS on SMTP and IMAP, the SMTPS and IMAPS ports), and then no
file it could have written holds a PEM private key, its log names none, and GET /config shows
none. Where strace works, every file the process opened for writing is checked too, wherever
it is.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.imap.wire import ImapWire, unverified_tls

TOKEN = "tls-key-test-token"
KEY_MARKERS = (b"PRIVATE KEY", b"BEGIN EC", b"BEGIN RSA")
PORTS = ["--smtp-port", "0", "--imap-port", "0", "--http-port", "0"]
TLS_PORTS = ["--smtps-port", "0", "--imaps-port", "0"]
# `python -m elektromail` with its working directory set first (the fixture cannot set one)
IN_DIRECTORY = (
    "import os, sys; os.chdir(sys.argv[1]); from elektromail.__main__ import main; "
    "main(sys.argv[2:])"
)


def certificate_via_starttls(port: int, protocol: str) -> bytes:
    """The server certificate (DER) after STARTTLS on an SMTP or IMAP port."""
    if protocol == "imap":
        with ImapWire(port) as imap:
            assert imap.command(b"a STARTTLS").startswith(b"a OK")
            imap.start_tls(unverified_tls())
            return imap.sock.getpeercert(binary_form=True)
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    reader = sock.makefile("rb")
    reader.readline()  # the greeting
    sock.sendall(b"EHLO client.test\r\n")
    while reader.readline()[3:4] == b"-":
        pass
    sock.sendall(b"STARTTLS\r\n")
    assert reader.readline().startswith(b"220")
    reader.close()
    with unverified_tls().wrap_socket(sock) as tls:
        return tls.getpeercert(binary_form=True)


def certificate_via_implicit_tls(port: int) -> bytes:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with unverified_tls().wrap_socket(raw) as tls:
        return tls.getpeercert(binary_form=True)


def speak_tls_everywhere(ports: dict[str, int]) -> set[bytes]:
    return {
        certificate_via_starttls(ports["smtp"], "smtp"),
        certificate_via_starttls(ports["imap"], "imap"),
        certificate_via_implicit_tls(ports["smtps"]),
        certificate_via_implicit_tls(ports["imaps"]),
    }


def get_config(port: int) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/config", headers={"Authorization": f"Bearer {TOKEN}"})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 200
    return body


def holding_a_key(root: Path) -> list[str]:
    """Files under `root` with a PEM private key in them."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and any(marker in path.read_bytes() for marker in KEY_MARKERS):
            found.append(str(path))
    return found


def stopped_log(child) -> bytes:
    child.process.terminate()
    rest = child.process.stdout.read()
    child.process.wait(10)
    return child.output + rest


@pytest.fixture
def sandbox(tmp_path: Path) -> dict[str, Path]:
    places = {name: tmp_path / name for name in ("home", "tmp", "cwd")}
    for place in places.values():
        place.mkdir()
    return places


def sandbox_env(sandbox: dict[str, Path]) -> dict[str, str]:
    return {
        "HOME": str(sandbox["home"]),
        "TMPDIR": str(sandbox["tmp"]),
        "XDG_CACHE_HOME": str(sandbox["home"] / ".cache"),
        "XDG_CONFIG_HOME": str(sandbox["home"] / ".config"),
        "XDG_DATA_HOME": str(sandbox["home"] / ".local"),
        "PYTHONDONTWRITEBYTECODE": "1",  # so that nothing at all is expected to be written
        "ELEKTROMAIL_HTTP_TOKEN": TOKEN,
    }


def test_the_generated_key_is_written_nowhere_and_never_shown(child_server, sandbox):
    command = [sys.executable, "-c", IN_DIRECTORY, str(sandbox["cwd"])]
    child = child_server([*PORTS, *TLS_PORTS], sandbox_env(sandbox), command=command)
    child.wait_ready()
    certificates = speak_tls_everywhere(child.ports)
    assert len(certificates) == 1  # one generated certificate, on every door
    config = get_config(child.ports["http"])
    log = stopped_log(child)

    for marker in (*KEY_MARKERS, b"BEGIN"):
        assert marker not in config
        assert marker not in log
    assert set(json.loads(config)) >= {"smtp_starttls", "imap_starttls"}
    for place in sandbox.values():
        assert holding_a_key(place) == []
        assert [str(p) for p in place.rglob("*")] == []  # nothing written at all


def stop_traced(child) -> None:
    """SIGTERM the server strace runs (stopping strace would leave it running, detached);
    strace ends with it."""
    strace = child.process.pid
    children = Path(f"/proc/{strace}/task/{strace}/children")
    pids = children.read_text().split() if children.exists() else []
    for pid in pids:
        os.kill(int(pid), signal.SIGTERM)
    child.process.stdout.read()
    child.process.wait(30)


def strace_works() -> bool:
    if shutil.which("strace") is None:
        return False
    result = subprocess.run(["strace", "-f", "-o", "/dev/null", "true"], capture_output=True)
    return result.returncode == 0


_OPEN_FOR_WRITING = re.compile(
    r'(?:openat|open|creat)\((?:[^,]+, )?"([^"]+)", ([A-Z_|]+)[^)]*\) = \d+'
)
_RENAMED = re.compile(r'rename(?:at2?)?\((?:[^,]+, )?"[^"]+", (?:[^,]+, )?"([^"]+)"')


def written_files(trace: str) -> set[str]:
    """Paths the traced process opened for writing, created or renamed into place."""
    paths = set()
    for match in _OPEN_FOR_WRITING.finditer(trace):
        if re.search(r"O_WRONLY|O_RDWR|O_CREAT", match.group(2)):
            paths.add(match.group(1))
    paths.update(match.group(1) for match in _RENAMED.finditer(trace))
    return paths


@pytest.mark.skipif(not strace_works(), reason="strace is not installed or cannot trace here")
def test_no_file_the_server_writes_anywhere_holds_a_key(child_server, sandbox, tmp_path):
    trace = tmp_path / "trace.txt"
    command = [
        "strace",
        "-f",
        "-qq",
        "-e",
        "trace=open,openat,creat,rename,renameat,renameat2",
        "-o",
        str(trace),
        sys.executable,
        "-m",
        "elektromail",
    ]
    child = child_server([*PORTS, *TLS_PORTS], sandbox_env(sandbox), command=command)
    try:
        child.wait_ready(60)
        assert len(speak_tls_everywhere(child.ports)) == 1
    finally:
        stop_traced(child)

    text = trace.read_text(errors="replace")
    assert "openat(" in text or "open(" in text  # the trace did see the process
    written = written_files(text)
    holding = [
        path
        for path in written
        if Path(path).is_file() and any(m in Path(path).read_bytes() for m in KEY_MARKERS)
    ]
    assert holding == [], f"written: {sorted(written)}"
