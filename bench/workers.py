"""Issue 20's table: one process against two, and PostgreSQL against the SQLite file store, in
one run on this machine. Rows: the SQLite file store with one worker, PostgreSQL (a throwaway
cluster on the same host, tests/pgcluster.py: Unix socket, durability off: fsync,
full_page_writes and synchronous_commit are off) with one worker and with `--workers 2`.
For each: SMTP ingest (bench/smtp.py's asyncio client, many messages per session), then
imaptest's stress with persistent sessions (`logout=0`, bench/imap_stress.py) when imaptest is
built. Beside each figure: our CPU (the elektromail processes, workers and parent) and the
database server's (every postgres process of the cluster), both from /proc, and the ratios the
issue asks for (2 workers / 1 worker; PostgreSQL per worker / SQLite file).

Run by hand, never as a unit test:

    python bench/workers.py                       # 5,000 messages, 20 s of imaptest, 1 round
    python bench/workers.py -n 2000 --imap-seconds 0 --rounds 3

The machine has two cores shared with whoever else runs: the load average before and after
each row is printed; compare rows of the same run only.
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import smtp as smtpbench  # noqa: E402
from imap_stress import IMAPTEST, run_imaptest  # noqa: E402
from imap_targets import Target  # noqa: E402

STRESS_MBOX = Path("/tmp/stress.mbox")  # imaptest APPENDs from it (see ../shared/tools/imaptest)
STRESS_BOX = "stress"
STRESS_CLIENTS = 10


def _ticks(pid: int) -> tuple[int, int] | None:
    """(parent pid, utime + stime + cutime + cstime in clock ticks) of a process, or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), sum(int(f) for f in fields[11:15])


def tree_cpu(root: int) -> float:
    """CPU seconds of `root` and every process below it: what they used so far, and what the
    children that ended and were reaped used (their parents' cutime/cstime)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _ticks(int(entry))
            if found is not None:
                parents[int(entry)], ticks[int(entry)] = found
    inside = {root}
    grown = True
    while grown:
        grown = False
        for pid, parent in parents.items():
            if parent in inside and pid not in inside:
                inside.add(pid)
                grown = True
    return sum(ticks.get(pid, 0) for pid in inside) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


@dataclass
class Row:
    label: str
    workers: int
    engine: str
    tree: str | None = None  # another checkout's elektromail (--baseline-tree)
    messages: int = 0
    refused: int = 0  # of the timed messages, answered other than 250 (counted in the rate)
    first_refusal: str = ""
    seconds: float = 0.0
    ours: float = 0.0  # CPU seconds, ingest
    db: float | None = None
    imap_rate: float | None = None
    imap_errors: int | None = None
    imap_first_error: str = ""
    imap_ours: float = 0.0
    imap_db: float | None = None
    load_before: str = ""
    load_after: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


class Cluster:
    def __init__(self) -> None:
        from tests.pgcluster import ThrowawayCluster

        self.cluster = ThrowawayCluster().start()

    def postmaster(self) -> int:
        return int(Path(self.cluster.data_dir, "postmaster.pid").read_text().split()[0])

    def cpu(self) -> float:
        return tree_cpu(self.postmaster())

    def stop(self) -> None:
        self.cluster.stop()


def stored(db: str) -> int:
    """How many messages the database holds (every mailbox's), read from it directly."""
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        conn.close()


def settle(db: str, expected: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while (count := stored(db)) < expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {count} of {expected} messages stored")
        time.sleep(0.01)


def send(port: int, count: int, args: argparse.Namespace) -> list[str]:
    """The --client's messages, the sessions spread over --mailboxes recipients; the messages
    refused (code list of each; smtp-source reports none: `settle` then waits in vain)."""
    if args.client == "smtp-source":
        return send_smtp_source(port, count, args)
    recipients = [b"bench%d@bench.example" % i for i in range(args.mailboxes)]
    if args.mailboxes == 1:
        recipients = [smtpbench.RECIPIENT]
    message = smtpbench.make_message(args.size)
    failures = asyncio.run(
        smtpbench.send_all(port, count, args.connections, message, True, recipients)
    )
    return failures


def send_smtp_source(port: int, count: int, args: argparse.Namespace) -> list[str]:
    """Postfix's smtp-source (C: its CPU is a tenth of the asyncio client's, which competes
    with the servers for the same 2 cores), one process per recipient, each with its share of
    the sessions and messages, a session kept for the next message (-d)."""
    boxes = args.mailboxes
    procs = []
    for i in range(boxes):
        share = count // boxes + (1 if i < count % boxes else 0)
        sessions = max(1, args.connections // boxes)
        to = smtpbench.RECIPIENT if boxes == 1 else b"bench%d@bench.example" % i
        argv = ["smtp-source", "-d", "-s", str(sessions), "-m", str(share), "-l", str(args.size)]
        argv += ["-f", smtpbench.SENDER.decode(), "-t", to.decode(), f"{smtpbench.HOST}:{port}"]
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL))
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"smtp-source failed with status {proc.returncode}")
    return []


def bench_row(row: Row, args: argparse.Namespace, cluster: Cluster | None) -> Row:
    if row.engine == "sqlite":
        db = os.path.join(args.workdir, "bench.db")
        for leftover in (db, f"{db}-wal", f"{db}-shm"):
            if os.path.exists(leftover):
                os.remove(leftover)
    else:
        assert cluster is not None
        db = cluster.cluster.new_database()
    extra = ("--pop3-port", "0", "--http-port", "0")  # off the default ports others hold
    if row.workers > 1:
        extra += ("--workers", str(row.workers))
    server = smtpbench.Elektromail(db, None, row.tree, extra=extra)
    db_cpu = cluster.cpu if (cluster is not None and row.engine == "postgresql") else None
    try:
        held = smtpbench.WARM_UP - len(send(server.port, smtpbench.WARM_UP, args))
        settle(db, held)
        row.load_before = load()
        ours, dbs = tree_cpu(server.pid), db_cpu() if db_cpu else None
        started = time.perf_counter()
        refused = send(server.port, args.messages, args)
        row.refused = len(refused)
        row.first_refusal = refused[0] if refused else ""
        held += args.messages - len(refused)
        settle(db, held)
        row.seconds = time.perf_counter() - started
        row.messages = args.messages
        row.ours = tree_cpu(server.pid) - ours
        row.db = db_cpu() - dbs if db_cpu and dbs is not None else None
        if args.imap_seconds and IMAPTEST.exists() and STRESS_MBOX.exists():
            with imaplib.IMAP4(smtpbench.HOST, server.imap_port) as imap:
                imap.login(smtpbench.USER, smtpbench.PASSWORD)
                imap.create(STRESS_BOX)
            target = Target(
                row.label, smtpbench.HOST, server.imap_port, smtpbench.USER, smtpbench.PASSWORD
            )
            ours, dbs = tree_cpu(server.pid), db_cpu() if db_cpu else None
            stress = run_imaptest(
                IMAPTEST,
                target,
                STRESS_BOX,
                STRESS_MBOX,
                ["logout=0"],
                STRESS_CLIENTS,
                args.imap_seconds,
            )
            row.imap_ours = tree_cpu(server.pid) - ours
            row.imap_db = db_cpu() - dbs if db_cpu and dbs is not None else None
            row.imap_rate = stress.commands_per_second
            row.imap_errors = stress.errors
            row.imap_first_error = stress.first_errors[0] if stress.first_errors else ""
        row.load_after = load()
    finally:
        server.stop()
    return row


def median_row(rows: list[Row]) -> Row:
    return sorted(rows, key=lambda r: r.rate)[len(rows) // 2]


def table(rounds: list[list[Row]], args: argparse.Namespace) -> str:
    labels = list(dict.fromkeys(r.label for rows in rounds for r in rows))
    chosen = {
        label: median_row([r for rows in rounds for r in rows if r.label == label])
        for label in labels
    }
    out = [
        f"SMTP ingest: {args.messages} messages of {args.size} bytes over {args.connections}"
        f" sessions into {args.mailboxes} mailbox(es), many per session ("
        + (
            "Postfix's smtp-source"
            if args.client == "smtp-source"
            else "bench/smtp.py's asyncio client"
        )
        + "); median of"
        f" {len(rounds)} round(s) by ingest rate. PostgreSQL: a throwaway cluster on this host"
        " (Unix socket; fsync, full_page_writes and synchronous_commit off). CPU: seconds of"
        " our processes (parent and workers) and of the database server's (every postgres"
        " process), from /proc. The load generators run on the same 2 cores.",
        "",
        "| server | workers | msgs/s | refused | our CPU µs/msg | DB CPU µs/msg |"
        " load before/after |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for label in labels:
        r = chosen[label]
        db = f"{r.db / r.messages * 1e6:,.0f}" if r.db is not None else "n/a"
        out.append(
            f"| {r.label} | {r.workers} | {r.rate:,.0f} | {r.refused} |"
            f" {r.ours / r.messages * 1e6:,.0f} |"
            f" {db} | {r.load_before}/{r.load_after} |"
        )
    for r in chosen.values():
        if r.refused:
            out.append(f"{r.label}: first refused: {r.first_refusal}")
    if any(r.imap_rate is not None for r in chosen.values()):
        out += [
            "",
            f"imaptest stress, persistent sessions (logout=0), {STRESS_CLIENTS} clients,"
            f" {args.imap_seconds} s, after the ingest (imaptest's error lines counted apart;"
            " with two workers they are what one process's sessions saw of another's):",
            "",
            "| server | workers | cmds/s | errors | our CPU s | DB CPU s | first error |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for label in labels:
            r = chosen[label]
            if r.imap_rate is None:
                continue
            db = f"{r.imap_db:.1f}" if r.imap_db is not None else "n/a"
            out.append(
                f"| {r.label} | {r.workers} | {r.imap_rate:,.0f} | {r.imap_errors} |"
                f" {r.imap_ours:.1f} | {db} | {r.imap_first_error[:80]} |"
            )
    sqlite = chosen.get("sqlite-1")
    pg1, pg2 = chosen.get("postgresql-1"), chosen.get("postgresql-2")
    for label in labels:
        if label.endswith("@baseline") and label.split("@")[0] in chosen:
            now, then = chosen[label.split("@")[0]], chosen[label]
            out.append(
                f"{label.split('@')[0]} now / baseline: {now.rate / then.rate:.2f}x ingest,"
                f" our CPU per message {now.ours / now.messages / (then.ours / then.messages):.2f}x"
            )
    out.append("")
    if sqlite and pg1:
        out.append(
            f"PostgreSQL 1 worker / SQLite file: {pg1.rate / sqlite.rate:.2f}x ingest"
            " (goal: >= 0.7x per worker)"
        )
    if pg1 and pg2:
        out.append(
            f"PostgreSQL 2 workers / 1 worker: {pg2.rate / pg1.rate:.2f}x ingest (goal: >= 1.5x)"
        )
        if pg1.imap_rate and pg2.imap_rate:
            out.append(f"  imaptest: {pg2.imap_rate / pg1.imap_rate:.2f}x commands/s")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=5000, help="per timed run")
    parser.add_argument("-c", "--connections", type=int, default=20, help="parallel sessions")
    parser.add_argument("-s", "--size", type=int, default=2048, help="message size in bytes")
    parser.add_argument(
        "--mailboxes",
        type=int,
        default=1,
        help="recipients the sessions are spread over (1: every message into one INBOX,"
        " whose next UID every delivery of every worker takes in turn)",
    )
    parser.add_argument("--imap-seconds", type=int, default=20, help="imaptest's secs=; 0: none")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--client",
        choices=("python", "smtp-source"),
        default="python",
        help="SMTP load generator: bench/smtp.py's asyncio client, or Postfix's smtp-source"
        " (Debian: postfix), which leaves more of the cores to the servers",
    )
    parser.add_argument(
        "--baseline-tree",
        help="also run each row with the elektromail of this source tree (e.g. an export of"
        " main), interleaved, as <row>@baseline",
    )
    parser.add_argument(
        "--rows",
        default="sqlite-1,postgresql-1,postgresql-2",
        help="engine-workers, comma-separated",
    )
    args = parser.parse_args()
    if args.imap_seconds and not (IMAPTEST.exists() and STRESS_MBOX.exists()):
        print(f"imaptest ({IMAPTEST}) or its mbox ({STRESS_MBOX}) missing: no imaptest rows")
    wanted = [tuple(spec.rsplit("-", 1)) for spec in args.rows.split(",")]
    trees: list[str | None] = [None] + ([args.baseline_tree] if args.baseline_tree else [])
    cluster = None
    if any(engine == "postgresql" for engine, _ in wanted):
        missing = smtpbench._postgresql_missing()
        if missing:
            print(f"{missing}: the PostgreSQL rows are skipped")
            wanted = [w for w in wanted if w[0] != "postgresql"]
        else:
            cluster = Cluster()
    rounds: list[list[Row]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="workers-bench-") as workdir:
            args.workdir = workdir
            for number in range(1, args.rounds + 1):
                rows = []
                for (engine, workers), tree in ((w, t) for w in wanted for t in trees):
                    label = f"{engine}-{workers}" + ("" if tree is None else "@baseline")
                    row = bench_row(Row(label, int(workers), engine, tree), args, cluster)
                    rows.append(row)
                    imap = (
                        "" if row.imap_rate is None else f", imaptest {row.imap_rate:,.0f} cmds/s"
                    )
                    print(f"round {number}: {label} {row.rate:,.0f} msgs/s{imap}", flush=True)
                rounds.append(rows)
    finally:
        if cluster is not None:
            cluster.stop()
    print(table(rounds, args))


if __name__ == "__main__":
    main()
