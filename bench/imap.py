"""IMAP speed, by hand: `python bench/imap.py [-n 10000] [--big 100000] [--no-dovecot]`.

Starts elektromail in a child process (so the client here does not share its interpreter),
fills a mailbox with N messages of about 2 KB in a mix of MIME shapes over IMAP APPEND, and
prints operations per second for SELECT, envelope and body FETCH, UID SEARCH TEXT and
UID STORE, then SELECT latency for a mailbox of --big messages. When Dovecot runs on
127.0.0.1:11143 (../shared/reference/start-dovecot.sh) or can be started by that script,
the same lines run against it in the same run and the ratio is printed.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parent.parent / "shared" / "reference"
DOVECOT = ("127.0.0.1", 11143, "user", "pass")


def message(i: int) -> bytes:
    """About 2 KB, cycling through plain, alternative, mixed-with-attachment and nested."""
    head = (
        f"From: Sender {i} <sender{i}@example.com>\r\nTo: User <user@example.com>\r\n"
        f"Subject: Benchmark message {i}\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{i}@bench.example>\r\nMIME-Version: 1.0\r\n"
    ).encode()
    text = (b"The quick brown fox jumps over the lazy dog. " * 20)[:900]
    needle = b" needle " if i % 10 == 0 else b" "
    shape = i % 4
    if shape == 0:
        return head + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + needle + text
    if shape == 1:
        return (
            head + b'Content-Type: multipart/alternative; boundary="a"\r\n\r\n'
            b"--a\r\nContent-Type: text/plain\r\n\r\n" + text + needle + b"\r\n"
            b"--a\r\nContent-Type: text/html\r\n\r\n<p>" + text + b"</p>\r\n--a--\r\n"
        )
    if shape == 2:
        return (
            head + b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
            b"--m\r\nContent-Type: text/plain\r\n\r\n" + text + needle + b"\r\n"
            b"--m\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="a.pdf"\r\n\r\n'
            + b"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\r\n" * 12
            + b"--m--\r\n"
        )
    return (
        head + b'Content-Type: multipart/mixed; boundary="o"\r\n\r\n'
        b'--o\r\nContent-Type: multipart/alternative; boundary="i"\r\n\r\n'
        b"--i\r\nContent-Type: text/plain\r\n\r\n" + text[:600] + needle + b"\r\n"
        b"--i\r\nContent-Type: text/html\r\n\r\n<b>" + text[:600] + b"</b>\r\n--i--\r\n"
        b"--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nFrom: x@y\r\n\r\nhi\r\n"
        b"--o--\r\n"
    )


class Client:
    """A minimal raw IMAP client: sends a command, reads until its tagged reply."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=600)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.counter = 0
        self._read_until(b"\r\n", b"")

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

    def append_many(self, mailbox: bytes, messages: list[bytes]) -> None:
        """Pipelined APPENDs with non-synchronising literals (LITERAL+), in batches."""
        for start in range(0, len(messages), 500):
            batch = messages[start : start + 500]
            tags = []
            out = []
            for body in batch:
                self.counter += 1
                tag = b"a%d" % self.counter
                tags.append(tag)
                out.append(tag + b" APPEND " + mailbox + b" {%d+}\r\n" % len(body) + body + b"\r\n")
            self.sock.sendall(b"".join(out))
            self._read_until(b"\r\n" + tags[-1] + b" ", tags[-1] + b" ")

    def close(self) -> None:
        try:
            self.command(b"LOGOUT")
        except (ConnectionError, RuntimeError):
            pass
        self.sock.close()


def timed(fn, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def run_lines(client: Client, mailbox: bytes, n: int) -> dict[str, float]:
    """The benchmark lines: operations (or messages) per second."""
    client.append_many(mailbox, [message(i) for i in range(n)])
    results = {}
    results["SELECT (ops/s)"] = 1 / timed(lambda: client.command(b"SELECT " + mailbox), 5)
    envelope = timed(lambda: client.command(b"FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)"), 3)
    results["FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE) (msgs/s)"] = n / envelope
    results["FETCH 1:* BODY.PEEK[] (msgs/s)"] = n / timed(
        lambda: client.command(b"FETCH 1:* BODY.PEEK[]"), 3
    )
    try:
        search = timed(lambda: client.command(b"UID SEARCH TEXT needle"), 3)
        results["UID SEARCH TEXT (msgs/s)"] = n / search
    except RuntimeError as e:
        print(f"  UID SEARCH TEXT failed: {e}", file=sys.stderr)
    results["UID STORE 1:* +FLAGS (msgs/s)"] = n / timed(
        lambda: client.command(b"UID STORE 1:* +FLAGS.SILENT (\\Flagged)"), 1
    )
    return results


def select_latency(client: Client, mailbox: bytes, n: int) -> float:
    tiny = [b"Subject: s%d\r\n\r\nx\r\n" % i for i in range(n)]
    client.append_many(mailbox, tiny)
    client.command(b"SELECT INBOX")
    return min(timed(lambda: client.command(b"SELECT " + mailbox)) for _ in range(5)) * 1000


def bench_target(host: str, port: int, user: str, password: str, n: int, big: int) -> dict:
    client = Client(host, port)
    client.command(b"LOGIN " + user.encode() + b" " + password.encode())
    suffix = uuid.uuid4().hex[:8].encode()
    boxes = [b"bench-" + suffix, b"bench-big-" + suffix]
    for box in boxes:
        client.command(b"CREATE " + box)
    try:
        results = run_lines(client, boxes[0], n)
        if big:
            results[f"SELECT of {big} messages (ms)"] = select_latency(client, boxes[1], big)
    finally:
        client.command(b"SELECT INBOX")
        for box in boxes:
            client.command(b"DELETE " + box)
        client.close()
    return results


def start_elektromail() -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "elektromail",
            "--smtp-port",
            "off",
            "--imap-port",
            "0",
            "--max-message-size",
            "1M",
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


def dovecot_available() -> bool:
    try:
        socket.create_connection(DOVECOT[:2], timeout=1).close()
        return True
    except OSError:
        pass
    script = REFERENCE / "start-dovecot.sh"
    if not script.exists() or not Path("/usr/sbin/dovecot").exists():
        return False
    with open(os.devnull, "wb") as devnull:
        subprocess.run(["bash", str(script)], stdout=devnull, stderr=devnull, check=False)
    try:
        socket.create_connection(DOVECOT[:2], timeout=5).close()
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=10_000, help="messages for the main lines")
    parser.add_argument("--big", type=int, default=100_000, help="messages for SELECT latency")
    parser.add_argument("--no-dovecot", action="store_true", help="skip the Dovecot comparison")
    args = parser.parse_args()

    process, port = start_elektromail()
    try:
        ours = bench_target("127.0.0.1", port, "user", "pass", args.n, args.big)
    finally:
        process.terminate()
        process.wait()
    print(f"IMAP benchmark, {args.n} messages of ~2 KB; big mailbox {args.big}", flush=True)
    for name, value in ours.items():
        print(f"  elektromail  {name:58} {value:12.1f}", flush=True)
    theirs = {}
    if not args.no_dovecot and dovecot_available():
        theirs = bench_target(*DOVECOT, args.n, args.big)
    print(f"{'line':58} {'elektromail':>12} {'dovecot':>12} {'ratio':>7}")
    for name, value in ours.items():
        other = theirs.get(name)
        if other is None:
            print(f"{name:58} {value:12.1f} {'-':>12} {'-':>7}")
        else:
            ratio = other / value if name.endswith("(ms)") else value / other
            print(f"{name:58} {value:12.1f} {other:12.1f} {ratio:7.2f}")


if __name__ == "__main__":
    main()
