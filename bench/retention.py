"""Retention memory: deliver 100,000 messages over SMTP to elektromail (in memory) with
`--max-messages 1000` and print its RSS at the start, every 10,000 messages and at the end.
With the cap, RSS should level off once the first thousand are stored: the pruned messages'
pages go back to the system (store/memory.py) and no cache grows with the count.

Run by hand, never as a unit test:

    python bench/retention.py                          # 100,000 messages of 2 KB, 4 sessions
    python bench/retention.py -n 20000 --max-messages 500 --db /tmp/r.db

The server runs in a child process (its RSS is read from /proc/<pid>/status); the client is
an asyncio SMTP client that pipelines MAIL, RCPT and DATA over persistent sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
USER, PASSWORD = "bench", "bench"
SENDER, RECIPIENT = b"sender@bench.example", b"bench@bench.example"


def make_message(number: int, size: int) -> bytes:
    head = (
        b"From: Bench <sender@bench.example>\r\nTo: Bench <bench@bench.example>\r\n"
        b"Subject: retention %d\r\nMessage-ID: <%d@bench.example>\r\n\r\n" % (number, number)
    )
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def reply(reader: asyncio.StreamReader) -> int:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if line[3:4] != b"-":
            return int(line[:3])


async def sender(port: int, numbers, size: int, done: list[int]) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    await reply(reader)
    writer.write(b"EHLO bench.example\r\n")
    await reply(reader)
    for number in numbers:
        writer.write(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (SENDER, RECIPIENT))
        codes = [await reply(reader) for _ in range(3)]
        writer.write(make_message(number, size) + b".\r\n")
        codes.append(await reply(reader))
        if codes != [250, 250, 354, 250]:
            raise SystemExit(f"message {number}: {codes}")
        done.append(number)
    writer.write(b"QUIT\r\n")
    await reply(reader)
    writer.close()


async def deliver_all(port, pid, count, sessions, size, every) -> list[tuple[int, int, float]]:
    todo = iter(range(1, count + 1))
    done: list[int] = []
    samples = [(0, rss_kib(pid), 0.0)]
    start = time.monotonic()

    async def sample() -> None:
        mark = every
        while mark <= count:
            while len(done) < mark:
                await asyncio.sleep(0.05)
            samples.append((mark, rss_kib(pid), time.monotonic() - start))
            print(f"{mark:>7} messages  RSS {samples[-1][1] / 1024:7.1f} MiB", flush=True)
            mark += every

    await asyncio.gather(sample(), *(sender(port, todo, size, done) for _ in range(sessions)))
    return samples


def wait_ready(log: Path, process: subprocess.Popen, timeout: float = 30.0) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if "elektromail ready" in line:
                words = dict(w.split("=", 1) for w in line.split("elektromail ready")[1].split())
                return int(words["smtp"].rsplit(":", 1)[1]), int(words["imap"].rsplit(":", 1)[1])
        if process.poll() is not None:
            raise SystemExit("elektromail exited:\n" + log.read_text())
        time.sleep(0.05)
    raise SystemExit("elektromail did not get ready")


def inbox_count(imap_port: int) -> int:
    with imaplib.IMAP4(HOST, imap_port) as imap:
        imap.login(USER, PASSWORD)
        _typ, data = imap.select("INBOX", readonly=True)
        return int(data[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=100_000)
    parser.add_argument("--max-messages", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--db", help="an ELEKTROMAIL_DB file instead of the in-memory store")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("ELEKTROMAIL_")}
    env["ELEKTROMAIL_USERS"] = f"{USER}:{PASSWORD}"
    argv = [sys.executable, "-m", "elektromail", "--smtp-port", "0", "--imap-port", "0"]
    argv += ["--max-messages", str(args.max_messages)]
    if args.db:
        argv += ["--db", args.db]
    with tempfile.NamedTemporaryFile(prefix="elektromail-retention-", suffix=".log") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        try:
            smtp_port, imap_port = wait_ready(Path(log.name), process)
            print(
                f"elektromail pid {process.pid}, --max-messages {args.max_messages}, "
                f"{args.messages} messages of ~{args.size} bytes over SMTP, "
                f"{args.sessions} sessions, store: {args.db or 'memory'}"
            )
            start = rss_kib(process.pid)
            print(f"{0:>7} messages  RSS {start / 1024:7.1f} MiB (start)", flush=True)
            samples = asyncio.run(
                deliver_all(
                    smtp_port, process.pid, args.messages, args.sessions, args.size, args.every
                )
            )
            deadline = time.monotonic() + 30  # the last pass may be PASS_GAP away
            while (kept := inbox_count(imap_port)) > args.max_messages:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            end = rss_kib(process.pid)
            seconds = samples[-1][2]
            text = Path(log.name).read_text(errors="replace")
            passes = text.count("pruned ")
            print(
                f"    end  RSS {end / 1024:7.1f} MiB; INBOX holds {kept}; "
                f"{args.messages / seconds:.0f} msg/s; {passes} pruning log lines"
            )
            after_cap = [kib for n, kib, _ in samples if n >= 2 * args.every]
            if after_cap:
                print(
                    f"RSS from {2 * args.every} on: min {min(after_cap) / 1024:.1f}, "
                    f"max {max(after_cap) / 1024:.1f} MiB"
                )
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
