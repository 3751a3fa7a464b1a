"""The HTTP control API's speed, by hand: `python bench/http_api.py [-n 10000] [--rounds 5]`.

Runs elektromail in this process (reactor thread, free ports), stores N messages of about
1 KB for 10 users, and times over a real loopback socket: GET /messages listing all of them,
the same with a subject filter, the web inbox's pages (newest first, 50 at a time, first and
last page, with and without a text search `q`), GET /messages/{uid}, POST /inject one at a
time, and POST /reset with N messages stored (refilled before each round). Prints the median
and worst round.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time

from twisted.internet import defer

from elektromail.testing import MailServer

USERS = [f"u{i}" for i in range(10)]


def message(i: int) -> bytes:
    head = (
        f"From: Bench <bench@example.org>\r\nTo: u{i % 10}@example.org\r\n"
        f"Subject: message {i}\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
        f"Message-ID: <{i}@bench>\r\n\r\n"
    ).encode()
    return head + (b"The quick brown fox jumps over the lazy dog.\r\n" * 20)


def fill(mail: MailServer, count: int) -> None:
    postoffice = mail.server.postoffice

    async def store() -> None:
        batch = [
            postoffice.deliver([f"{USERS[i % 10]}@example.org"], message(i)) for i in range(count)
        ]
        await defer.gatherResults(batch)

    mail.call(store)


class Client:
    def __init__(self, mail: MailServer) -> None:
        self.conn = http.client.HTTPConnection(mail.host, mail.http_port, timeout=120)

    def call(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        try:
            self.conn.request(method, path, body=data)
            answer = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed the kept-alive connection while we were filling the store
            # (--http-timeout): a new connection, as any HTTP client makes.
            self.conn.close()
            self.conn.request(method, path, body=data)
            answer = self.conn.getresponse()
        return answer.status, answer.read()


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def line(name: str, seconds: list[float], per: int = 1) -> None:
    median, worst = statistics.median(seconds), max(seconds)
    rate = f"  {per / median:,.0f}/s" if per > 1 else ""
    print(f"{name:<44} median {median * 1000:8.1f} ms  worst {worst * 1000:8.1f} ms{rate}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="messages stored")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    users = ",".join(f"{u}:pw" for u in USERS)
    with MailServer(http_port=0, imap_port=None, users=users) as mail:
        client = Client(mail)
        fill(mail, args.n)

        def listing(path: str, expected: int):
            def run() -> None:
                status, body = client.call("GET", path)
                assert status == 200 and json.loads(body)["count"] == expected

            return run

        line(
            f"GET /messages ({args.n:,} listed)",
            [timed(listing("/messages", args.n)) for _ in range(args.rounds)],
        )
        subject = f"/messages?subject=message%20{args.n - 1}"
        line(
            f"GET /messages?subject= ({args.n:,} scanned)",
            [timed(listing(subject, 1)) for _ in range(args.rounds)],
        )
        # What the web inbox asks for: one page, newest first, and a text search.
        pages = [
            ("first page", "/messages?order=newest&limit=50", 50),
            ("last page", f"/messages?order=newest&limit=50&offset={max(args.n - 50, 0)}", 50),
            ("q= search, first page", "/messages?q=message%201&order=newest&limit=50", 50),
            ("q= search, no match", "/messages?q=zebrafish&order=newest&limit=50", 0),
        ]
        for name, path, expected in pages:
            expected = min(expected, args.n)
            line(
                f"GET /messages {name}",
                [timed(listing(path, expected)) for _ in range(args.rounds * 4)],
            )
        one = "/messages/1?user=u0"
        line("GET /messages/{uid}", [timed(lambda: client.call("GET", one)) for _ in range(200)])
        inject = {"user": "u0", "raw": message(0).decode()}
        line(
            "POST /inject (one at a time)",
            [timed(lambda: client.call("POST", "/inject", inject)) for _ in range(200)],
        )
        resets = []
        for _ in range(args.rounds):
            fill(mail, args.n)
            resets.append(timed(lambda: client.call("POST", "/reset")))
        line(f"POST /reset ({args.n:,} stored)", resets)


if __name__ == "__main__":
    main()
