"""The soak load by hand: IMAP sessions selecting, fetching, storing, appending and idling while
SMTP connections deliver and the API injects and lists, against elektromail in a child process.
Prints messages/s, p50/p99 latency of IMAP commands, SMTP transactions and API requests, and
the server's RSS after each round and at its peak.

    python bench/soak.py                      # the issue's size: 200 sessions, 10,000 messages
    python bench/soak.py -s 50 -n 2000 -c 5   # smaller
    python bench/soak.py --duration 120       # SMTP paced to take 120 s (steady load)
    python bench/soak.py --rounds 5           # does the RSS stay flat round after round?
    python bench/soak.py --memory             # the in-memory store (RSS grows with the mail)

The load is `tests/soak/` (the CI test runs it at a smaller size): each round starts from
purged mailboxes, and every round's messages are read back over IMAP and HTTP and checked (all
stored exactly once, UIDs increasing, every IDLE session told of every message). The first
round warms up; "RSS before" in the test is the RSS after it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

# The load lives with the test that runs it in CI; run from anywhere, import it from the root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.soak.load import Plan
from tests.soak.run import ServerProcess, soak, summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-s", "--sessions", type=int, default=200, help="IMAP sessions (200)")
    parser.add_argument("-n", "--messages", type=int, default=10_000, help="SMTP messages")
    parser.add_argument("-c", "--connections", type=int, default=20, help="SMTP connections")
    parser.add_argument("-i", "--injects", type=int, default=None, help="/inject calls (n/10)")
    parser.add_argument("-u", "--users", type=int, default=8, help="users (8)")
    parser.add_argument(
        "-d", "--duration", type=float, default=None, help="pace SMTP over this many seconds"
    )
    parser.add_argument(
        "--think", type=float, default=0.05, help="mean pause between a session's commands (s)"
    )
    parser.add_argument("--idle-share", type=float, default=0.25, help="idling sessions (0.25)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the load (2)")
    parser.add_argument("--memory", action="store_true", help="in-memory store, not a file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = Plan(
        sessions=args.sessions,
        messages=args.messages,
        connections=args.connections,
        injects=args.messages // 10 if args.injects is None else args.injects,
        users=args.users,
        duration=args.duration,
        idle_share=args.idle_share,
        think=args.think,
    )
    with tempfile.TemporaryDirectory(prefix="elektromail-soak-") as directory:
        server = ServerProcess(plan.users, None if args.memory else directory).start()
        started = time.perf_counter()
        try:
            report = asyncio.run(soak(plan, server.ports, server.pid, rounds=args.rounds))
        finally:
            server.stop()
    print(summary(report))
    print(f"wall time {time.perf_counter() - started:.0f} s for {args.rounds} round(s)")
    failed = False
    for number, done in enumerate(report.rounds):
        for kind, lines in done.problems.items():
            for line in lines:
                print(f"round {number}: {kind}: {line}")
                failed = True
        for error in done.outcome.errors:
            print(f"round {number}: error: {error}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
