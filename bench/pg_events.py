"""How soon an IMAP IDLE on one node hears a delivery made on another (issue 20: "within
100 ms"), beside the same IDLE hearing a delivery made on its own node, in the same run.

Two elektromail processes share one throwaway PostgreSQL cluster (tests/pgcluster.py). A
client IDLEs in INBOX on node B; each sample sends one message over SMTP (to node A for the
cross-node line, to node B for the same-node line, taking turns) and times from the SMTP
`250` to the `* n EXISTS` line on the IDLE connection. Wall clock on a shared machine: read
the ratio of the two lines, not the absolute figures alone.

    .venv/bin/python bench/pg_events.py [samples]
"""

from __future__ import annotations

import os
import re
import smtplib
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from tests.pgcluster import ThrowawayCluster


def start(url: str) -> tuple[subprocess.Popen, dict[str, int]]:
    env = dict(os.environ, POP3_PORT="0")
    args = ["--smtp-port", "0", "--imap-port", "0", "--http-port", "0", "--db", url]
    child = subprocess.Popen(
        [sys.executable, "-m", "elektromail", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    for line in child.stdout:
        match = re.search(rb"elektromail ready (.*)", line)
        if match:
            ports = dict(re.findall(r"(\w+)=[\d.]+:(\d+)", match.group(1).decode()))
            return child, {name: int(port) for name, port in ports.items()}
    raise SystemExit("a server did not start")


def main() -> None:
    samples = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    cluster = ThrowawayCluster().start()
    children = []
    try:
        url = cluster.new_database()
        a = start(url)
        children.append(a[0])
        b = start(url)
        children.append(b[0])
        idle = socket.create_connection(("127.0.0.1", b[1]["imap"]), timeout=30)
        lines = idle.makefile("rb")

        def until(marker: bytes) -> None:
            while marker not in lines.readline():
                pass

        lines.readline()
        idle.sendall(b"a LOGIN user pass\r\nb SELECT INBOX\r\nc IDLE\r\n")
        until(b"+ ")
        smtp = {
            "cross": smtplib.SMTP("127.0.0.1", a[1]["smtp"]),
            "same": smtplib.SMTP("127.0.0.1", b[1]["smtp"]),
        }
        times: dict[str, list[float]] = {"cross": [], "same": []}
        count = 0
        for i in range(samples * 2 + 4):
            kind = ("cross", "same")[i % 2]
            body = f"Subject: {kind} {i}\r\n\r\nbody\r\n".encode()
            smtp[kind].sendmail("app@example.com", ["user@example.com"], body)
            sent = time.perf_counter()
            count += 1
            until(b"* %d EXISTS" % count)
            if i >= 4:  # the first few warm up
                times[kind].append((time.perf_counter() - sent) * 1000)
        for client in smtp.values():
            client.quit()
        print(f"IDLE hears a delivery ({samples} samples each, ms from SMTP 250 to EXISTS):")
        for kind, label in (("cross", "made on the other node"), ("same", "made on its own node")):
            got = sorted(times[kind])
            p95 = got[int(len(got) * 0.95) - 1]
            print(
                f"  {label:24} median {statistics.median(got):6.2f}  p95 {p95:6.2f}"
                f"  max {got[-1]:6.2f}"
            )
        ratio = statistics.median(times["cross"]) / statistics.median(times["same"])
        print(f"  cross-node / same-node median: {ratio:.2f}")
    finally:
        for child in children:
            child.terminate()
            child.wait(30)
        cluster.stop()


if __name__ == "__main__":
    main()
