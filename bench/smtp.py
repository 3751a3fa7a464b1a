"""SMTP throughput: N messages over C concurrent connections, until all are committed and visible
over IMAP; the same load against an aiosmtpd server that keeps messages in a list (the Python
peer) and, when Postfix's smtp-sink/smtp-source are installed, against smtp-sink (the ceiling).

Run by hand, never as a unit test:

    python bench/smtp.py                    # 10,000 messages of 2 KB over 20 connections
    python bench/smtp.py -n 2000 -c 5 --db /tmp/bench.db
    python bench/smtp.py --profile          # elektromail's reactor thread under pyinstrument

Needs `aiosmtpd` (pip) for the Python peer; without it that row is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
SENDER = b"sender@bench.example"
RECIPIENT = b"bench@bench.example"
USER, PASSWORD = "bench", "bench"


@dataclass
class Result:
    label: str
    messages: int
    seconds: float
    note: str = ""
    cpu: float | None = None  # the server's CPU seconds (all threads) for the run

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


# --- the message and the client ------------------------------------------------------------


def make_message(size: int) -> bytes:
    """A plain-text message of `size` bytes (headers included), CRLF lines, no leading dots."""
    head = (
        b"From: Bench <sender@bench.example>\r\n"
        b"To: Bench <bench@bench.example>\r\n"
        b"Subject: benchmark message\r\n"
        b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
        b"Message-ID: <bench@bench.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"\r\n"
    )
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
    body = line * ((size - len(head)) // len(line) + 1)
    return (head + body)[: size - 2] + b"\r\n"


async def read_reply(reader: asyncio.StreamReader) -> int:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if line[3:4] != b"-":
            return int(line[:3])


async def one_session(port: int, todo: list[int], message: bytes, failures: list[str]) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    await read_reply(reader)
    writer.write(b"EHLO bench.example\r\n")
    await read_reply(reader)
    envelope = b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (SENDER, RECIPIENT)
    while todo:
        number = todo.pop()
        writer.write(envelope)  # RFC 2920: MAIL, RCPT and DATA in one go
        codes = [await read_reply(reader) for _ in range(3)]
        writer.write(b"X-Sequence: %d\r\n" % number + message + b".\r\n")
        codes.append(await read_reply(reader))
        if codes != [250, 250, 354, 250]:
            failures.append(f"message {number}: {codes}")
    writer.write(b"QUIT\r\n")
    await read_reply(reader)
    writer.close()
    await writer.wait_closed()


async def send_all(port: int, count: int, connections: int, message: bytes) -> list[str]:
    todo = list(range(count, 0, -1))
    failures: list[str] = []
    await asyncio.gather(*(one_session(port, todo, message, failures) for _ in range(connections)))
    return failures


def run_client(port: int, count: int, connections: int, message: bytes) -> float:
    started = time.perf_counter()
    failures = asyncio.run(send_all(port, count, connections, message))
    if failures:
        raise SystemExit(f"{len(failures)} messages failed, first: {failures[0]}")
    return time.perf_counter() - started


# --- servers ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc); None elsewhere. Steadier than
    wall time on a busy machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Wall and CPU time of one server process over a run."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.cpu = cpu_seconds(pid)
        self.started = time.perf_counter()

    def result(self, label: str, messages: int, note: str = "") -> Result:
        seconds = time.perf_counter() - self.started
        cpu = cpu_seconds(self.pid)
        used = None if cpu is None or self.cpu is None else cpu - self.cpu
        return Result(label, messages, seconds, note, used)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_connectable(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class Elektromail:
    """elektromail in a child process, its log in a file (a pipe nobody reads would fill)."""

    def __init__(self, db: str | None, profile: Path | None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ELEKTROMAIL_")}
        env.update(ELEKTROMAIL_USERS=f"{USER}:{PASSWORD}")
        argv = ["-m", "elektromail", "--smtp-port", "0", "--imap-port", "0"]
        if db:
            argv += ["--db", db]
        if profile is not None:
            argv = [__file__, "--serve-profiled", str(profile), *argv[2:]]
        self.log = tempfile.NamedTemporaryFile(prefix="elektromail-bench-", suffix=".log")
        self.process = subprocess.Popen(
            [sys.executable, *argv], env=env, stdout=self.log, stderr=self.log
        )
        self.smtp_port, self.imap_port = self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> tuple[int, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = Path(self.log.name).read_text(errors="replace")
            for line in text.splitlines():
                if "elektromail ready" in line:
                    ports = dict(
                        word.split("=", 1) for word in line.split("elektromail ready")[1].split()
                    )
                    return int(ports["smtp"].rsplit(":", 1)[1]), int(ports["imap"].rsplit(":")[1])
            if self.process.poll() is not None:
                raise SystemExit("elektromail exited:\n" + text)
            time.sleep(0.02)
        raise SystemExit("elektromail did not get ready")

    def visible_over_imap(self, expected: int, timeout: float = 60.0) -> None:
        """Wait until EXAMINE INBOX counts `expected` messages."""
        deadline = time.monotonic() + timeout
        with imaplib.IMAP4(HOST, self.imap_port) as imap:
            imap.login(USER, PASSWORD)
            while True:
                count = int(imap.select("INBOX", readonly=True)[1][0])
                if count >= expected:
                    return
                if time.monotonic() > deadline:
                    raise SystemExit(f"only {count} of {expected} messages visible over IMAP")
                time.sleep(0.005)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def serve_profiled(out: str, argv: list[str]) -> None:
    """elektromail with its reactor thread under pyinstrument, until SIGINT; the text report
    goes to `out`. (twistd exits without giving a profiler the chance to write.)"""
    from pyinstrument import Profiler
    from twisted.internet import defer, reactor

    from elektromail.tap import Options

    options = Options()
    options.parseOptions(argv)
    from elektromail.service import Server

    server = Server(options.settings)
    server.listen()

    def started() -> None:
        d = defer.Deferred.fromCoroutine(server.start())
        d.addCallback(lambda _: print(server.ready_line(), flush=True))

    reactor.callWhenRunning(started)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    reactor.run()
    profiler.stop()
    Path(out).write_text(profiler.output_text(unicode=True, show_all=False))


class Aiosmtpd:
    """aiosmtpd in a child process (`bench/smtp.py --serve-aiosmtpd`), keeping messages in a
    list; `count()` asks it how many it holds."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-aiosmtpd", str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit("aiosmtpd did not start")

    def count(self) -> int:
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(10)


def serve_aiosmtpd(port: int) -> None:
    from aiosmtpd.controller import Controller

    class KeepInList:
        def __init__(self) -> None:
            self.messages: list[bytes] = []

        async def handle_DATA(self, server, session, envelope) -> str:
            self.messages.append(envelope.original_content)
            return "250 OK"

    handler = KeepInList()
    controller = Controller(handler, hostname=HOST, port=port)
    controller.start()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            print(len(handler.messages), flush=True)
    controller.stop()


class SmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        argv = ["smtp-sink"]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]
        self.process = subprocess.Popen(
            [*argv, f"{HOST}:{self.port}", "256"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_connectable(self.port)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def smtp_source(port: int, count: int, connections: int, size: int) -> float:
    argv = ["smtp-source", "-d", "-s", str(connections), "-m", str(count), "-l", str(size)]
    argv += ["-f", SENDER.decode(), "-t", RECIPIENT.decode(), f"{HOST}:{port}"]
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


# --- the run ---------------------------------------------------------------------------------


def bench_elektromail(args: argparse.Namespace, message: bytes, source: bool) -> list[Result]:
    results = []
    server = Elektromail(args.db, args.profile)
    try:
        run_client(server.smtp_port, min(200, args.messages), args.connections, message)  # warm
        server.visible_over_imap(min(200, args.messages))
        base = min(200, args.messages)
        meter = Meter(server.process.pid)
        run_client(server.smtp_port, args.messages, args.connections, message)
        server.visible_over_imap(base + args.messages)
        storage = "SQLite file" if args.db else "in memory"
        results.append(meter.result("elektromail", args.messages, f"{storage}, IMAP-checked"))
        if source:
            meter = Meter(server.process.pid)
            smtp_source(server.smtp_port, args.messages, args.connections, args.size)
            server.visible_over_imap(base + 2 * args.messages)
            label = "elektromail, smtp-source client"
            results.append(meter.result(label, args.messages, "IMAP-checked"))
    finally:
        server.stop()
    if args.profile:
        print(f"profile of elektromail written to {args.profile}")
    return results


def bench_aiosmtpd(args: argparse.Namespace, message: bytes, source: bool) -> list[Result]:
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        print("aiosmtpd is not installed: its rows are skipped (pip install aiosmtpd)")
        return []
    results = []
    server = Aiosmtpd()
    try:
        run_client(server.port, min(200, args.messages), args.connections, message)
        base = server.count()
        meter = Meter(server.process.pid)
        run_client(server.port, args.messages, args.connections, message)
        if server.count() != base + args.messages:
            raise SystemExit("aiosmtpd lost messages")
        results.append(meter.result("aiosmtpd (list)", args.messages, "in memory"))
        if source:
            meter = Meter(server.process.pid)
            smtp_source(server.port, args.messages, args.connections, args.size)
            results.append(meter.result("aiosmtpd, smtp-source client", args.messages))
    finally:
        server.stop()
    return results


def bench_sink(args: argparse.Namespace, message: bytes) -> list[Result]:
    sink = SmtpSink()
    try:
        meter = Meter(sink.process.pid)
        run_client(sink.port, args.messages, args.connections, message)
        results = [meter.result("smtp-sink", args.messages, "discards; our client's ceiling")]
        meter = Meter(sink.process.pid)
        smtp_source(sink.port, args.messages, args.connections, args.size)
        results.append(meter.result("smtp-sink, smtp-source client", args.messages, "C to C"))
    finally:
        sink.stop()
    return results


def table(rounds: list[list[Result]], args: argparse.Namespace) -> str:
    """One row per server: the median round, and the range of rates over the rounds."""
    lines = [
        f"{args.messages} messages of {args.size} bytes over {args.connections} connections,"
        f" median of {len(rounds)} round(s)",
        "",
        "| server | messages/s | range | server CPU µs/message | note |",
        "|---|---:|---:|---:|---|",
    ]
    for label in dict.fromkeys(r.label for results in rounds for r in results):
        runs = sorted(
            (r for results in rounds for r in results if r.label == label), key=lambda r: r.rate
        )
        median = runs[len(runs) // 2]
        spread = f"{runs[0].rate:,.0f} to {runs[-1].rate:,.0f}" if len(runs) > 1 else ""
        cpus = sorted(r.cpu / r.messages * 1e6 for r in runs if r.cpu is not None)
        cpu = f"{cpus[len(cpus) // 2]:,.0f}" if cpus else "n/a"
        lines.append(f"| {label} | {median.rate:,.0f} | {spread} | {cpu} | {median.note} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=10_000)
    parser.add_argument("-c", "--connections", type=int, default=20)
    parser.add_argument("-s", "--size", type=int, default=2048, help="message size in bytes")
    parser.add_argument("--db", help="SQLite file for elektromail (default: in memory)")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile here")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of every server, interleaved (median shown)"
    )
    parser.add_argument("--serve-aiosmtpd", type=int, help=argparse.SUPPRESS)
    if sys.argv[1:2] == ["--serve-profiled"]:
        serve_profiled(sys.argv[2], sys.argv[3:])
        return
    args = parser.parse_args()
    if args.serve_aiosmtpd:
        serve_aiosmtpd(args.serve_aiosmtpd)
        return
    if args.db and os.path.exists(args.db):
        raise SystemExit(f"{args.db} exists; give a new file (it is replaced every round)")
    message = make_message(args.size)
    postfix_tools = bool(shutil.which("smtp-sink") and shutil.which("smtp-source"))
    if not postfix_tools:
        print("smtp-sink/smtp-source not installed (Debian: postfix): no ceiling row")
    rounds = []
    for number in range(1, args.rounds + 1):
        for leftover in (args.db, f"{args.db}-wal", f"{args.db}-shm") if args.db else ():
            if os.path.exists(leftover):
                os.remove(leftover)
        results = bench_elektromail(args, message, postfix_tools)
        results += bench_aiosmtpd(args, message, postfix_tools)
        if postfix_tools:
            results += bench_sink(args, message)
        rounds.append(results)
        print(f"round {number}: " + ", ".join(f"{r.label} {r.rate:,.0f}/s" for r in results))
    print(table(rounds, args))


if __name__ == "__main__":
    main()
