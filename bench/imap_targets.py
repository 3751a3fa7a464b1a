"""The two servers of bench/imap.py: elektromail in a child process and the reference Dovecot.

A `Target` says where a server listens and as whom to log in; `fill` puts messages in one of
its mailboxes (pipelined LITERAL+ APPEND, or for a local Dovecot, files written straight into
its Maildir, which is some twenty times faster than Dovecot's fsync per APPEND).
"""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parent.parent / "shared" / "reference"
DOVECOT_DIR = Path(os.environ.get("REF_DOVECOT_DIR", "/tmp/ref-dovecot"))
MAILDIR_FLAGS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S"}


@dataclass
class Target:
    name: str
    host: str
    port: int
    user: str
    password: str
    pid: int | None = None  # the server's process, when we started it (for CPU and RSS)
    maildir_home: Path | None = None  # a local Dovecot's home of `user`, for the quick fill


class Client:
    """A minimal raw IMAP client: sends a command, reads until its tagged reply."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=600)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.counter = 0
        self._read_until(b"\r\n", b"")

    @classmethod
    def login(cls, target: Target) -> Client:
        client = cls(target.host, target.port)
        client.command(b"LOGIN %s %s" % (target.user.encode(), target.password.encode()))
        return client

    def _read_until(self, marker: bytes, first: bytes) -> bytes:
        chunks, tail = [], b""
        while True:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed the connection")
            chunks.append(chunk)
            window = tail + chunk
            if (first and window.startswith(first) and len(chunks) == 1) or marker in window:
                return b"".join(chunks)
            tail = window[-(len(marker) + 64) :]

    def command(self, text: bytes) -> bytes:
        self.counter += 1
        tag = b"b%d" % self.counter
        self.sock.sendall(tag + b" " + text + b"\r\n")
        data = self._read_until(b"\r\n" + tag + b" ", tag + b" ")
        status = data.rsplit(tag + b" ", 1)[1]
        if not status.startswith(b"OK"):
            raise RuntimeError(f"{text[:60]!r} failed: {status[:200]!r}")
        return data

    def append_many(
        self, mailbox: bytes, messages: Sequence[bytes], flags: Sequence[tuple[str, ...]] = ()
    ) -> None:
        """Pipelined APPENDs with non-synchronising literals (LITERAL+), in batches."""
        for start in range(0, len(messages), 500):
            out, tag = [], b""
            for i in range(start, min(start + 500, len(messages))):
                self.counter += 1
                tag = b"a%d" % self.counter
                listed = b" (%s)" % " ".join(flags[i]).encode() if i < len(flags) else b""
                body = messages[i]
                out.append(b"%s APPEND %s%s {%d+}\r\n" % (tag, mailbox, listed, len(body)))
                out += [body, b"\r\n"]
            self.sock.sendall(b"".join(out))
            data = self._read_until(b"\r\n" + tag + b" ", tag + b" ")
            refused = re.search(rb"(?m)^a\d+ (?:NO|BAD)[^\r\n]*", data)
            if refused:
                raise RuntimeError(f"APPEND refused: {refused.group()[:200]!r}")

    def close(self) -> None:
        try:
            self.command(b"LOGOUT")
        except (ConnectionError, RuntimeError, OSError):
            pass
        self.sock.close()


def fill(
    target: Target, mailbox: str, messages: Sequence[bytes], flags: Sequence[tuple[str, ...]] = ()
) -> str:
    """Create `mailbox` and put the messages in it; returns how ("APPEND" or "Maildir")."""
    client = Client.login(target)
    try:
        client.command(b"CREATE " + mailbox.encode())
        directory = target.maildir_home and target.maildir_home / "Maildir" / mailbox
        if directory and (directory / "cur").is_dir() and os.access(directory, os.W_OK):
            _write_maildir(directory, messages, flags)
            client.command(b"SELECT " + mailbox.encode())  # Dovecot indexes the files now
            client.command(b"UNSELECT")
            return "Maildir"
        client.append_many(mailbox.encode(), messages, flags)
        return "APPEND"
    finally:
        client.close()


def _write_maildir(directory: Path, messages: Sequence[bytes], flags) -> None:
    owner = directory.stat()
    stamp = int(time.time())
    for i, body in enumerate(messages):
        letters = "".join(sorted(MAILDIR_FLAGS[f] for f in (flags[i] if i < len(flags) else ())))
        path = directory / "cur" / f"{stamp}.M{i}P{os.getpid()}.bench,S={len(body)}:2,{letters}"
        path.write_bytes(body)
        os.chown(path, owner.st_uid, owner.st_gid)


def drop(target: Target, mailboxes: Sequence[str]) -> None:
    client = Client.login(target)
    try:
        for mailbox in mailboxes:
            try:
                client.command(b"DELETE " + mailbox.encode())
            except RuntimeError as e:
                print(f"  {target.name}: could not delete {mailbox}: {e}", file=sys.stderr)
    finally:
        client.close()


def start_elektromail(extra: Sequence[str] = ()) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "elektromail",
            "--smtp-port",
            "off",
            "--pop3-port",  # its default port may be another server's (a helper's, a test's)
            "off",
            "--imap-port",
            "0",
            "--max-message-size",
            "1M",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = b""
    deadline = time.monotonic() + 30
    while b"elektromail ready" not in output:
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"elektromail did not start:\n{output.decode()}")
        ready, _, _ = select.select([process.stdout], [], [], 1)
        if ready:
            output += os.read(process.stdout.fileno(), 65536)
    line = output.split(b"elektromail ready", 1)[1].split(b"\n", 1)[0].decode()
    port = int(line.split("imap=")[1].split()[0].rsplit(":", 1)[1])
    # Keep reading its log: a full pipe would stop the server mid-benchmark.
    threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
    return process, port


def _drain(stream) -> None:
    while stream.read(65536):
        pass


def dovecot_available(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        pass
    script = REFERENCE / "start-dovecot.sh"
    if not script.exists() or not Path("/usr/sbin/dovecot").exists():
        return False
    # Never a pipe: with Postfix the script leaves its standard output open.
    with open(os.devnull, "wb") as devnull:
        subprocess.run(["bash", str(script)], stdout=devnull, stderr=devnull, check=False)
    try:
        socket.create_connection((host, port), timeout=5).close()
        return True
    except OSError:
        return False


def dovecot_home(user: str, directory: Path = DOVECOT_DIR) -> Path | None:
    """`user`'s home in a local reference Dovecot's passwd-file, if we can write there."""
    try:
        lines = (directory / "etc" / "passwd").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(":")
        if fields[0] == user and len(fields) >= 6:
            home = Path(fields[5])
            return home if os.access(home, os.W_OK) else None
    return None


def cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU time of a process, from /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine, all cores, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def busy_since(before: tuple[int, int]) -> float:
    """The share of the machine's CPU (all cores) busy since `before`: ours and everyone's."""
    busy, total = machine_jiffies()
    return (busy - before[0]) / max(1, total - before[1])
