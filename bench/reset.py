"""PostOffice.reset() with many messages stored: the time from the call until the store has
committed the start state (and the sessions are told), measured in the reactor thread.

Run by hand, never as a unit test:

    python bench/reset.py                   # 10,000 messages of 2 KB, in memory, 5 rounds
    python bench/reset.py -n 50000 --db /tmp/bench.db
    python bench/reset.py --fixtures 200    # with 200 preloaded fixtures to restore

Each round stores the messages again (10 users x 5 mailboxes, through the group commit), then
times one reset; the line shows the median and the worst round. Also prints purge() for
comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from twisted.internet import defer

from elektromail.testing import MailServer

USERS = [f"u{i}" for i in range(10)]
MAILBOXES = ["INBOX", "Archive", "Sent", "Work/A", "Work/B"]


def message(i: int, size: int) -> bytes:
    head = (
        f"From: Bench <bench@example.org>\r\nTo: u{i % 10}@example.org\r\n"
        f"Subject: message {i}\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
        f"Message-ID: <{i}@bench>\r\n\r\n"
    ).encode()
    line = b"x" * 70 + b"\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


async def fill(postoffice, count: int, size: int) -> None:
    pending = []
    for i in range(count):
        user = USERS[i % len(USERS)]
        mailbox = MAILBOXES[(i // len(USERS)) % len(MAILBOXES)]
        pending.append(postoffice.inject(user, mailbox, message(i, size)))
    await defer.gatherResults(pending, consumeErrors=True)


async def timed(fn) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


def write_fixtures(root: Path, count: int) -> None:
    for i in range(count):
        folder = root / USERS[i % len(USERS)] / MAILBOXES[i % len(MAILBOXES)]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:05d}.eml").write_bytes(message(i, 2048).replace(b"\r\n", b"\n"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--messages", type=int, default=10_000)
    parser.add_argument("-s", "--size", type=int, default=2048, help="bytes per message")
    parser.add_argument("-r", "--rounds", type=int, default=5)
    parser.add_argument("--db", help="SQLite file (default: in memory)")
    parser.add_argument("--fixtures", type=int, default=0, help="preloaded fixtures")
    args = parser.parse_args()
    if args.db and os.path.exists(args.db):
        sys.exit(f"{args.db} exists; give a new path")
    users = ",".join(f"{u}:pw" for u in USERS)
    with tempfile.TemporaryDirectory() as fixtures:
        settings = {"users": users, "db": args.db, "http_port": None, "smtp_port": None}
        if args.fixtures:
            write_fixtures(Path(fixtures), args.fixtures)
            settings["preload_dir"] = fixtures
        with MailServer(**settings) as mail:
            postoffice = mail.server.postoffice
            resets, purges = [], []
            for _ in range(args.rounds):
                mail.call(fill, postoffice, args.messages, args.size)
                purges.append(mail.call(timed, postoffice.purge))
                mail.call(fill, postoffice, args.messages, args.size)
                resets.append(mail.call(timed, postoffice.reset))
            stored = len(mail.call(mail.server.store.list_messages))
    storage = f"file {args.db}" if args.db else "memory"
    print(
        f"reset with {args.messages} messages of {args.size} B ({storage}, "
        f"{args.fixtures} fixtures restored, {stored} after): "
        f"median {statistics.median(resets) * 1000:.1f} ms, "
        f"worst {max(resets) * 1000:.1f} ms over {args.rounds} rounds; "
        f"purge median {statistics.median(purges) * 1000:.1f} ms"
    )
    if args.db:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(args.db + suffix):
                os.remove(args.db + suffix)


if __name__ == "__main__":
    main()
