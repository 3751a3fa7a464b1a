"""SMTP ingest: N messages over C concurrent sessions, into elektromail (in memory and with an
`ELEKTROMAIL_DB` file, and on PostgreSQL: a throwaway cluster on the same host, each checked
over IMAP), and the same load, in the same run, into the
peers: aiosmtpd and Twisted's own `twisted.mail.smtp.ESMTP`, each keeping the messages in a list
(what a protocol costs without parsing or storing), and Postfix's smtp-sink (discards; the
ceiling). Two load shapes: one message per session (connect, EHLO, MAIL, RCPT, DATA, QUIT) and
many per session; two load generators: Postfix's smtp-source (C, one command at a time) when
installed, and a Python asyncio client (pipelines MAIL, RCPT and DATA).

Run by hand, never as a unit test:

    python bench/smtp.py                    # 10,000 messages of 2 KB over 20 sessions, 3 rounds
    python bench/smtp.py -n 2000 --rounds 1 --servers elektromail-memory,twisted
    python bench/smtp.py --profile /tmp/p.txt --servers elektromail-memory --clients smtp-source

Needs `aiosmtpd` (pip) for that peer and Debian's `postfix` package for smtp-source/smtp-sink;
what is missing is skipped and said so.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
SENDER = b"sender@bench.example"
RECIPIENT = b"bench@bench.example"
USER, PASSWORD = "bench", "bench"
WARM_UP = 200  # messages sent before each server's first timed run

SHAPES = {"per-session": "one message per session", "persistent": "many per session"}


@dataclass
class Result:
    server: str
    client: str
    shape: str
    messages: int
    seconds: float
    cpu: float | None = None  # the server's CPU seconds (all threads) for the run

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


# --- the message and the Python client -------------------------------------------------------


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


class Session:
    """One SMTP session of the Python client."""

    def __init__(self, port: int, recipient: bytes = RECIPIENT) -> None:
        self.port = port
        self.recipient = recipient

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        await read_reply(self.reader)
        self.writer.write(b"EHLO bench.example\r\n")
        await read_reply(self.reader)

    async def send(self, number: int, message: bytes) -> list[int]:
        # RFC 2920: MAIL, RCPT and DATA in one go. None of the peers advertises PIPELINING, but
        # all read commands one after another, so each answers them in order all the same.
        self.writer.write(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (SENDER, self.recipient))
        codes = [await read_reply(self.reader) for _ in range(3)]
        self.writer.write(b"X-Sequence: %d\r\n" % number + message + b".\r\n")
        codes.append(await read_reply(self.reader))
        return codes

    async def close(self) -> None:
        self.writer.write(b"QUIT\r\n")
        await read_reply(self.reader)
        self.writer.close()
        await self.writer.wait_closed()


async def one_worker(
    port: int,
    todo: list[int],
    message: bytes,
    persistent: bool,
    failures: list[str],
    recipient: bytes = RECIPIENT,
) -> None:
    session = None
    while todo:
        number = todo.pop()
        if session is None:
            session = Session(port, recipient)
            await session.open()
        codes = await session.send(number, message)
        if codes != [250, 250, 354, 250]:
            failures.append(f"message {number}: {codes}")
        if not persistent:
            await session.close()
            session = None
    if session is not None:
        await session.close()


async def send_all(
    port: int,
    count: int,
    connections: int,
    message: bytes,
    persistent: bool,
    recipients: list[bytes] | None = None,
) -> list[str]:
    """`recipients`: session i sends to recipients[i % len]; RECIPIENT when None."""
    todo = list(range(count, 0, -1))
    failures: list[str] = []
    to = recipients or [RECIPIENT]
    workers = (
        one_worker(port, todo, message, persistent, failures, to[i % len(to)])
        for i in range(connections)
    )
    await asyncio.gather(*workers)
    return failures


def python_client(port: int, count: int, args: argparse.Namespace, persistent: bool) -> None:
    message = make_message(args.size)
    failures = asyncio.run(send_all(port, count, args.connections, message, persistent))
    if failures:
        raise SystemExit(f"{len(failures)} messages failed, first: {failures[0]}")


def smtp_source(port: int, count: int, args: argparse.Namespace, persistent: bool) -> None:
    """Postfix's load generator: `-s` sessions in parallel, `-d` to keep a session for the next
    message; `-l` is the payload after its few header lines."""
    argv = ["smtp-source", "-s", str(args.connections), "-m", str(count), "-l", str(args.size)]
    if persistent:
        argv.append("-d")
    argv += ["-f", SENDER.decode(), "-t", RECIPIENT.decode(), f"{HOST}:{port}"]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


CLIENTS: dict[str, Callable[[int, int, argparse.Namespace, bool], None]] = {
    "smtp-source": smtp_source,
    "python": python_client,
}


# --- servers ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc); None elsewhere. Steadier than
    wall time on a busy machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    """elektromail in a child process, its log in a file (a pipe nobody reads would fill).
    `settle(n)` waits until IMAP's EXAMINE INBOX counts n messages."""

    def __init__(
        self,
        db: str | None,
        profile: Path | None,
        tree: str | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ELEKTROMAIL_")}
        env.update(ELEKTROMAIL_USERS=f"{USER}:{PASSWORD}")
        if tree is not None:  # another checkout's elektromail, for before/after in one run
            env["PYTHONPATH"] = tree
        argv = ["-m", "elektromail", "--smtp-port", "0", "--imap-port", "0", *extra]
        if db:
            argv += ["--db", db]
        if profile is not None:
            argv = [os.path.abspath(__file__), "--serve-profiled", str(profile), *argv[2:]]
        self.log = tempfile.NamedTemporaryFile(prefix="elektromail-bench-", suffix=".log")
        # `python -m` puts the working directory first on sys.path: run another tree from it
        self.process = subprocess.Popen(
            [sys.executable, *argv], env=env, stdout=self.log, stderr=self.log, cwd=tree
        )
        self.pid = self.process.pid
        self.port, self.imap_port = self._wait_ready()

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

    def settle(self, expected: int, timeout: float = 60.0) -> None:
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

    def log_lines(self) -> int:
        return len(Path(self.log.name).read_bytes().splitlines())

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


class ListPeer:
    """A peer in a child process (`bench/smtp.py --serve-<name> PORT`) that keeps messages in a
    list and answers "count" on stdin with how many it holds."""

    def __init__(self, name: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, __file__, f"--serve-{name}", str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self.process.pid
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit(f"{name} did not start")

    def count(self) -> int:
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def settle(self, expected: int) -> None:
        if self.count() != expected:
            raise SystemExit(f"the peer holds {self.count()} messages, not {expected}")

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


def serve_twisted(port: int) -> None:
    """Twisted's own ESMTP, as its documentation builds one: an IMessageDelivery whose messages
    append their lines to a list. TCP_NODELAY is set as elektromail sets it, so that the two
    differ in what they do per message, not in socket options."""
    from twisted.internet import defer, reactor, stdio
    from twisted.mail import smtp
    from twisted.protocols.basic import LineReceiver
    from zope.interface import implementer

    messages: list[bytes] = []

    @implementer(smtp.IMessage)
    class ListMessage:
        def __init__(self) -> None:
            self.lines: list[bytes] = []

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)

        def eomReceived(self):
            messages.append(b"\r\n".join(self.lines) + b"\r\n")
            return defer.succeed(None)

        def connectionLost(self) -> None:
            self.lines = []

    @implementer(smtp.IMessageDelivery)
    class ListDelivery:
        def receivedHeader(self, helo, origin, recipients):
            return None

        def validateFrom(self, helo, origin):
            return origin

        def validateTo(self, user):
            return ListMessage

    class Factory(smtp.SMTPFactory):
        protocol = smtp.ESMTP

        def buildProtocol(self, addr):
            p = super().buildProtocol(addr)
            p.delivery = ListDelivery()
            made = p.connectionMade

            def connection_made() -> None:
                p.transport.setTcpNoDelay(True)
                made()

            p.connectionMade = connection_made
            return p

    class Control(LineReceiver):
        delimiter = b"\n"

        def connectionMade(self) -> None:
            self.sendLine(b"ready")

        def lineReceived(self, line: bytes) -> None:
            if line.strip() == b"count":
                self.sendLine(b"%d" % len(messages))

        def connectionLost(self, reason) -> None:
            reactor.stop()

    reactor.listenTCP(port, Factory(), interface=HOST, backlog=128)
    stdio.StandardIO(Control())
    reactor.run()


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
        self.pid = self.process.pid
        wait_connectable(self.port)

    def settle(self, expected: int) -> None:
        pass

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


# --- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    name: str  # as --servers names it
    label: str  # as the table shows it
    start: Callable[[argparse.Namespace], object]
    counts: bool = True  # settle() can check a count


def _db_path(args: argparse.Namespace) -> str:
    path = os.path.join(args.workdir, "bench.db")
    for leftover in (path, f"{path}-wal", f"{path}-shm"):
        if os.path.exists(leftover):
            os.remove(leftover)
    return path


_CLUSTER: list = []  # the PostgreSQL cluster of this run, started when first needed


def _postgresql_url(args: argparse.Namespace) -> str:
    """A new database of a throwaway cluster (tests/pgcluster.py) for one run."""
    if not _CLUSTER:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.pgcluster import ThrowawayCluster

        _CLUSTER.append(ThrowawayCluster().start())
    return _CLUSTER[0].new_database()


def _postgresql_missing() -> str | None:
    """Why the PostgreSQL rows cannot run, or None."""
    import importlib.util

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.pgcluster import find_bin_dir

    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed (pip install 'elektromail[postgresql]')"
    if find_bin_dir() is None:
        return "PostgreSQL is not installed (Debian: postgresql)"
    return None


def elektromail_contenders(tree: str | None = None) -> list[Contender]:
    suffix = "" if tree is None else "@baseline"
    label = "" if tree is None else f" ({os.path.basename(tree.rstrip('/'))})"
    return [
        Contender(
            "elektromail-memory" + suffix,
            "elektromail, in memory" + label,
            lambda args: Elektromail(None, args.profile, tree),
        ),
        Contender(
            "elektromail-file" + suffix,
            "elektromail, ELEKTROMAIL_DB file" + label,
            lambda args: Elektromail(_db_path(args), args.profile, tree),
        ),
        Contender(
            "elektromail-postgresql" + suffix,
            "elektromail, PostgreSQL (same host, Unix socket)" + label,
            lambda args: Elektromail(_postgresql_url(args), args.profile, tree),
        ),
    ]


PEERS = [
    Contender("aiosmtpd", "aiosmtpd (list)", lambda args: ListPeer("aiosmtpd")),
    Contender("twisted", "Twisted ESMTP (list)", lambda args: ListPeer("twisted")),
    Contender("smtp-sink", "Postfix smtp-sink (discards)", lambda args: SmtpSink(), counts=False),
]
CONTENDERS = elektromail_contenders() + PEERS


def bench_server(
    contender: Contender, args: argparse.Namespace, runs: list[tuple[str, str]]
) -> list[Result]:
    """Start the server, warm it up, then time each (client, shape) of `runs` with the same
    number of messages; each run is checked (stored and visible) before the clock stops."""
    server = contender.start(args)
    results = []
    try:
        warm_client = CLIENTS[runs[0][0]]
        warm_client(server.port, WARM_UP, args, True)
        held = WARM_UP
        server.settle(held)
        for client, shape in runs:
            cpu_before = cpu_seconds(server.pid)
            started = time.perf_counter()
            CLIENTS[client](server.port, args.messages, args, shape == "persistent")
            held += args.messages
            server.settle(held)
            seconds = time.perf_counter() - started
            cpu_after = cpu_seconds(server.pid)
            cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
            results.append(Result(contender.label, client, shape, args.messages, seconds, cpu))
    finally:
        server.stop()
    if args.profile and contender.name.startswith("elektromail"):
        print(f"profile of {contender.label} written to {args.profile}")
    return results


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def tables(rounds: list[list[Result]], args: argparse.Namespace) -> str:
    """One table per (client, shape): each server's median rate and range over the rounds, its
    CPU per message, and elektromail's ratios to the peers."""
    every = [r for results in rounds for r in results]
    out = [
        f"{args.messages} messages of {args.size} bytes over {args.connections} sessions,"
        f" median of {len(rounds)} round(s); ratios are of the medians",
    ]
    for client, shape in dict.fromkeys((r.client, r.shape) for r in every):
        rows = [r for r in every if (r.client, r.shape) == (client, shape)]
        rate: dict[str, float] = {}
        out += [
            "",
            f"{client}, {SHAPES[shape]}:",
            "",
            "| server | messages/s | range | server CPU µs/message |",
            "|---|---:|---:|---:|",
        ]
        for label in dict.fromkeys(r.server for r in rows):
            runs = [r for r in rows if r.server == label]
            rates = sorted(r.rate for r in runs)
            rate[label] = median(rates)
            spread = f"{rates[0]:,.0f} to {rates[-1]:,.0f}" if len(rates) > 1 else ""
            cpus = [r.cpu / r.messages * 1e6 for r in runs if r.cpu is not None]
            cpu = f"{median(cpus):,.0f}" if cpus else "n/a"
            out.append(f"| {label} | {rate[label]:,.0f} | {spread} | {cpu} |")
        peers = [p for p in ("aiosmtpd (list)", "Twisted ESMTP (list)") if p in rate]
        for label in (label for label in rate if label.startswith("elektromail")):
            ratios = ", ".join(f"{rate[label] / rate[p]:.2f}x {p}" for p in peers)
            if ratios:
                out.append(f"\n{label}: {ratios}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=10_000, help="per timed run")
    parser.add_argument("-c", "--connections", type=int, default=20, help="parallel sessions")
    parser.add_argument("-s", "--size", type=int, default=2048, help="message size in bytes")
    names = [c.name for c in CONTENDERS]
    parser.add_argument(
        "--servers", default=",".join(names), help=f"comma-separated, of {','.join(names)}"
    )
    parser.add_argument(
        "--clients",
        default="smtp-source,python",
        help="comma-separated load generators: smtp-source (Postfix's), python (asyncio)",
    )
    parser.add_argument(
        "--shapes", default=",".join(SHAPES), help="comma-separated: per-session, persistent"
    )
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile here")
    parser.add_argument(
        "--baseline-tree",
        help="also run the elektromail of this source tree (e.g. an export of an earlier"
        " commit), interleaved with this one, as elektromail-memory@baseline and"
        " elektromail-file@baseline",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of every server, interleaved (median shown)"
    )
    if sys.argv[1:2] == ["--serve-profiled"]:
        serve_profiled(sys.argv[2], sys.argv[3:])
        return
    if sys.argv[1:2] == ["--serve-aiosmtpd"]:
        serve_aiosmtpd(int(sys.argv[2]))
        return
    if sys.argv[1:2] == ["--serve-twisted"]:
        serve_twisted(int(sys.argv[2]))
        return
    args = parser.parse_args()
    wanted = args.servers.split(",")
    every = CONTENDERS
    if args.baseline_tree:
        every = elektromail_contenders(args.baseline_tree) + CONTENDERS
        wanted += [f"{name}@baseline" for name in wanted if name.startswith("elektromail")]
    contenders = [c for c in every if c.name in wanted]
    clients = [c for c in args.clients.split(",") if c]
    postfix_tools = bool(shutil.which("smtp-sink") and shutil.which("smtp-source"))
    if not postfix_tools:
        print("smtp-sink/smtp-source not installed (Debian: postfix): their rows are skipped")
        clients = [c for c in clients if c != "smtp-source"]
        contenders = [c for c in contenders if c.name != "smtp-sink"]
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        print("aiosmtpd is not installed: its rows are skipped (pip install aiosmtpd)")
        contenders = [c for c in contenders if c.name != "aiosmtpd"]
    if any(c.name.startswith("elektromail-postgresql") for c in contenders):
        missing = _postgresql_missing()
        if missing:
            print(f"{missing}: the PostgreSQL rows are skipped")
            contenders = [c for c in contenders if not c.name.startswith("elektromail-postgresql")]
    runs = [(c, s) for c in clients for s in args.shapes.split(",")]
    if not runs or not contenders:
        raise SystemExit("nothing to run")
    rounds = []
    try:
        with tempfile.TemporaryDirectory(prefix="smtp-bench-") as workdir:
            args.workdir = workdir
            for number in range(1, args.rounds + 1):
                results = []
                for contender in contenders:
                    results += bench_server(contender, args, runs)
                rounds.append(results)
                print(
                    f"round {number}: "
                    + ", ".join(
                        f"{r.server} [{r.client} {r.shape}] {r.rate:,.0f}/s" for r in results
                    ),
                    flush=True,
                )
    finally:
        for cluster in _CLUSTER:
            cluster.stop()
    print(tables(rounds, args))


if __name__ == "__main__":
    main()
