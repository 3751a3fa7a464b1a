"""One soak run against a server in another process: two rounds of the same load, RSS
measured after each, every mailbox read back over IMAP and over HTTP after each, and a list of
what does not hold. Used by `tests/soak/test_soak.py` and `bench/soak.py`.

What "RSS before the load" means here: the server's resident set after a first round of the
very same load (the warm-up), once all of its connections are closed and a GET /healthz has
been answered. "RSS after" is read the same way after the second round, which starts from the
same place: every mailbox purged, so its sessions select mailboxes of the same sizes. Why not
"after start-up": a first round raises the resident set once and for all, and that is no leak.
Code paths import and warm up on first use, the allocator keeps the pools it grew for 200
sessions each holding a view of a mailbox of a thousand or more messages, and the API's
listing keeps a bounded cache of decoded envelopes (up to 10,000). Measured: 60 MB at start,
~75 MB after a first round at the CI size (~87 MB at the full size), then +1% to +7% after a
second, and flat after that (`bench/soak.py -n 5000 --rounds 4`: 75, 82, 83, 82 MB, the
envelope cache full by the second round). What a second round adds is what the load leaves
behind: a leak, and the check catches one of 20% of the server's size.

The store is a file (ELEKTROMAIL_DB): stored mail lives in the file and the page cache, not in
the process (SQLite's own page cache is bounded at ~2 MB), so mail that stays stored is not
mistaken for a leak. The in-memory store would grow with the mail itself, by design.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ChildServer
from tests.soak.clients import TOKEN, Http, ImapClient, ImapError, Outcome
from tests.soak.load import INJECTED, MAILBOXES, Plan, load, user_names, users_spec

_FETCHED_ID = re.compile(
    rb"\* (\d+) FETCH \(UID (\d+) BODY\[HEADER\.FIELDS \(MESSAGE-ID\)\] \{\d+\}\r\n(.*?)\)\r\n$",
    re.S | re.I,
)
_MESSAGE_ID = re.compile(rb"Message-ID:\s*(<[^>\r\n]*>)", re.I)

Key = tuple[str, str]  # (user, mailbox)
PAGE = 1000  # messages per GET /messages when reading back


@dataclass
class Round:
    """One round of the load: what the clients were told, the RSS after it, what was stored
    and what does not hold."""

    plan: Plan
    outcome: Outcome
    rss: int  # kB, settled after the round
    stored: dict[Key, list[tuple[int, str]]] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Report:
    rounds: list[Round]
    rss_start: int  # kB, just after the server said it was ready
    rss_peak: int  # kB, VmHWM

    @property
    def errors(self) -> list[str]:
        return [e for r in self.rounds for e in r.outcome.errors]

    def problems(self, kind: str) -> list[str]:
        return [p for r in self.rounds for p in r.problems.get(kind, [])]

    @property
    def rss_before(self) -> int:
        return self.rounds[0].rss

    @property
    def rss_after(self) -> int:
        return self.rounds[-1].rss

    @property
    def rss_growth(self) -> float:
        return self.rss_after / self.rss_before - 1

    @property
    def measured(self) -> Round:
        return self.rounds[-1]


class ServerProcess:
    """`python -m elektromail` in a child process on free ports with the soak's users, the
    API token and a database file in `directory` (None: in memory). Its output is drained by
    a thread (a pipe nobody reads would stop the server once 64 KB of log lines wait) and kept."""

    def __init__(self, users: int, directory: str | None) -> None:
        env = {
            "SMTP_PORT": "0",
            "IMAP_PORT": "0",
            "HTTP_PORT": "0",
            "ELEKTROMAIL_USERS": users_spec(users),
            "ELEKTROMAIL_HTTP_TOKEN": TOKEN,
        }
        if directory is not None:  # None: the in-memory store
            env["ELEKTROMAIL_DB"] = os.path.join(directory, "soak.db")
        self.child = ChildServer([sys.executable, "-m", "elektromail"], env)
        self._chunks: list[bytes] = []
        self._drain: threading.Thread | None = None

    def start(self) -> ServerProcess:
        self.child.wait_ready()
        self._chunks.append(self.child.output)
        self._drain = threading.Thread(target=self._read, name="soak-server-log", daemon=True)
        self._drain.start()
        return self

    @property
    def pid(self) -> int:
        return self.child.process.pid

    @property
    def ports(self) -> dict[str, int]:
        return self.child.ports

    def log(self) -> str:
        return b"".join(self._chunks).decode("utf-8", "replace")

    def _read(self) -> None:
        fd = self.child.process.stdout.fileno()
        while chunk := os.read(fd, 65536):
            self._chunks.append(chunk)

    def stop(self) -> None:
        """Stop the server; the log is complete once this returns."""
        process = self.child.process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)
        if self._drain is not None:
            self._drain.join(30)
        self.child.stop()


def rss_kb(pid: int, field_name: str = "VmRSS") -> int:
    """A /proc/<pid>/status field in kB (VmRSS now, VmHWM the peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise LookupError(field_name)


async def soak(plan: Plan, ports: dict[str, int], pid: int, rounds: int = 2) -> Report:
    """`rounds` rounds of `plan` (the first is the warm-up), each from empty mailboxes."""
    report = Report([], rss_kb(pid), 0)
    await prepare(ports, plan)
    for number in range(rounds):
        this = dataclasses.replace(plan, tag=f"r{number}", seed=plan.seed + number)
        if number:
            await purge(ports)
        outcome = await load(this, ports)
        done = Round(this, outcome, await settled_rss(ports, pid))
        done.stored = await read_back_imap(ports["imap"], plan)
        done.problems = check(outcome, done.stored, await read_back_http(ports["http"], plan))
        report.rounds.append(done)
    report.rss_peak = rss_kb(pid, "VmHWM")
    return report


async def prepare(ports: dict[str, int], plan: Plan) -> None:
    """CREATE the mailbox /inject and the sessions use, for every user."""
    outcome = Outcome()
    for user in user_names(plan.users):
        client = ImapClient(f"prepare {user}", outcome)
        await client.connect(ports["imap"])
        await client.login(user)
        await client.command(f'CREATE "{INJECTED}"')
        await client.logout()
    if outcome.errors:
        raise ImapError("; ".join(outcome.errors))


async def purge(ports: dict[str, int]) -> None:
    http = Http(ports["http"])
    status, payload = await http.request("POST", "/purge", {})
    await http.close()
    if status != 200:
        raise AssertionError(f"POST /purge -> {status} {payload!r}")


async def settled_rss(ports: dict[str, int], pid: int) -> int:
    """VmRSS once GET /healthz, sent after every connection closed, is answered."""
    http = Http(ports["http"], token=None)
    status, payload = await http.request("GET", "/healthz")
    await http.close()
    if status != 200:
        raise AssertionError(f"GET /healthz -> {status} {payload!r}")
    return rss_kb(pid)


# --- reading back -----------------------------------------------------------------------------


async def read_back_imap(port: int, plan: Plan) -> dict[Key, list[tuple[int, str]]]:
    """Every mailbox's (UID, Message-ID) in sequence order, over IMAP."""
    stored: dict[Key, list[tuple[int, str]]] = {}
    outcome = Outcome()
    for user in user_names(plan.users):
        client = ImapClient(f"read back {user}", outcome)
        await client.connect(port)
        await client.login(user)
        for mailbox in MAILBOXES:
            await client.select(mailbox, readonly=True)
            client.untagged = []
            await client.command("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            rows = []
            for response in client.untagged:
                found = _FETCHED_ID.match(response)
                if found is None:
                    continue
                message_id = _MESSAGE_ID.search(found.group(3))
                rows.append(
                    (
                        int(found.group(1)),
                        int(found.group(2)),
                        message_id.group(1).decode() if message_id else "",
                    )
                )
            client.untagged = None
            rows.sort()
            if [seq for seq, _, _ in rows] != list(range(1, client.exists + 1)):
                outcome.error(f"{user}/{mailbox}: FETCH 1:* did not answer for every message")
            stored[(user, mailbox)] = [(uid, message_id) for _, uid, message_id in rows]
        await client.logout()
    if outcome.errors:
        raise ImapError("; ".join(outcome.errors))
    return stored


async def read_back_http(port: int, plan: Plan) -> dict[Key, list[tuple[int, str]]]:
    """Every mailbox's (UID, Message-ID) as GET /messages lists them, page by page."""
    http = Http(port)
    stored: dict[Key, list[tuple[int, str]]] = {}
    try:
        for user in user_names(plan.users):
            for mailbox in MAILBOXES:
                rows: list[tuple[int, str]] = []
                while True:
                    query = f"user={user}&mailbox={mailbox}&order=oldest&limit={PAGE}"
                    status, payload = await http.request(
                        "GET", f"/messages?{query}&offset={len(rows)}"
                    )
                    if status != 200:
                        raise AssertionError(f"GET /messages?{query} -> {status} {payload!r}")
                    items = json.loads(payload)["messages"]
                    rows += [(item["uid"], item["message_id"] or "") for item in items]
                    if len(items) < PAGE:
                        break
                stored[(user, mailbox)] = sorted(rows)
    finally:
        await http.close()
    return stored


# --- the checks -------------------------------------------------------------------------------


# What `check` reports, by kind.
STORED_ONCE = "every acknowledged message stored exactly once"
UIDS = "UIDs unique and increasing per mailbox"
HTTP_AGREES = "GET /messages lists what IMAP shows"
IDLE = "every IDLE session saw every EXISTS"


def check(
    outcome: Outcome,
    over_imap: dict[Key, list[tuple[int, str]]],
    over_http: dict[Key, list[tuple[int, str]]],
) -> dict[str, list[str]]:
    """What does not hold after a round that started from empty mailboxes: kind -> one line
    per problem (at most 20 alike)."""
    problems: dict[str, list[str]] = {STORED_ONCE: [], UIDS: [], HTTP_AGREES: [], IDLE: []}
    acked = outcome.acked
    for key in sorted(set(acked) | set(over_imap)):
        where = "/".join(key)
        rows = over_imap.get(key, [])
        if not increasing([uid for uid, _ in rows]):
            problems[UIDS].append(f"{where}: UIDs do not increase with sequence numbers")
        stored = Counter(message_id for _, message_id in rows)
        expected = Counter(acked.get(key, []))
        for message_id, times in expected.items():
            if times > 1:
                problems[STORED_ONCE].append(f"{where}: {message_id} acknowledged {times} times")
            if stored[message_id] == 0:
                problems[STORED_ONCE].append(f"{where}: {message_id} acknowledged, not stored")
        for message_id, times in stored.items():
            if times > 1:
                problems[STORED_ONCE].append(f"{where}: {message_id} stored {times} times")
            if message_id not in expected:
                problems[STORED_ONCE].append(f"{where}: {message_id!r} stored, not acknowledged")
        if sorted(rows) != over_http.get(key, []):
            problems[HTTP_AGREES].append(f"{where}: other UIDs or Message-IDs than over IMAP")
    problems[UIDS] += check_named_uids(outcome, over_imap)
    problems[IDLE] += check_idlers(outcome, over_imap)
    return {kind: _first_of_each_kind(lines) for kind, lines in problems.items()}


def check_named_uids(outcome: Outcome, over_imap: dict[Key, list[tuple[int, str]]]) -> list[str]:
    """A UID the server named (APPENDUID, /inject) is the one the message is stored under,
    and a client was told increasing UIDs for a mailbox."""
    problems = []
    for (user, mailbox, client), named in outcome.named.items():
        where = f"{user}/{mailbox}"
        stored = {message_id: uid for uid, message_id in over_imap.get((user, mailbox), [])}
        for uid, message_id in named:
            if stored.get(message_id, uid) != uid:
                problems.append(
                    f"{where}: {client} was told UID {uid} for {message_id}, "
                    f"stored as {stored[message_id]}"
                )
        if not increasing([uid for uid, _ in named]):
            problems.append(f"{where}: {client} was told UIDs that do not increase")
    return problems


def check_idlers(outcome: Outcome, over_imap: dict[Key, list[tuple[int, str]]]) -> list[str]:
    """Every idling session was told EXISTS up to the count its mailbox ended with."""
    problems = []
    for name, key, seen in outcome.idle_seen:
        last, final = (seen[-1] if seen else None), len(over_imap.get(key, []))
        if last != final:
            problems.append(f"{name}: last EXISTS {last}, the mailbox ended with {final}")
    return problems


def increasing(values: list[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))


def _first_of_each_kind(problems: list[str], keep: int = 20) -> list[str]:
    kinds: Counter[str] = Counter()
    kept = []
    for problem in problems:
        kind = re.sub(r"\d+|<[^>]*>", "#", problem)
        kinds[kind] += 1
        if kinds[kind] <= keep:
            kept.append(problem)
    return kept


# --- figures ----------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(report: Report) -> str:
    """The figures of a run, as lines of text: the measured (last) round in detail."""
    measured = report.measured
    plan, outcome = measured.plan, measured.outcome
    imap = [t for values in outcome.imap_latency.values() for t in values]
    by_source = Counter(
        message_id.split(".")[1] for ids in outcome.acked.values() for message_id in ids
    )
    acked = outcome.acked_count()
    lines = [
        f"{plan.sessions} IMAP sessions ({round(plan.sessions * plan.idle_share)} idling), "
        f"{plan.messages} SMTP messages over {plan.connections} connections, "
        f"{plan.injects} injects, {plan.users} users; {len(report.rounds)} rounds, "
        "figures of the last",
        f"load {outcome.load_seconds:.1f} s: SMTP {plan.messages / outcome.smtp_seconds:,.0f} "
        f"messages/s; {acked / outcome.load_seconds:,.0f} stored copies/s "
        f"({by_source['smtp']} by SMTP, {by_source['inject']} by /inject, "
        f"{by_source['append']} by IMAP APPEND)",
        f"IMAP commands ({len(imap)}): p50 {ms(percentile(imap, 0.5))}, "
        f"p99 {ms(percentile(imap, 0.99))}",
        f"SMTP transactions ({len(outcome.smtp_latency)}): "
        f"p50 {ms(percentile(outcome.smtp_latency, 0.5))}, "
        f"p99 {ms(percentile(outcome.smtp_latency, 0.99))}",
    ]
    for kind, latencies in (("HTTP", outcome.http_latency), ("IMAP", outcome.imap_latency)):
        for name, values in sorted(latencies.items()):
            lines.append(
                f"  {kind} {name} ({len(values)}): p50 {ms(percentile(values, 0.5))}, "
                f"p99 {ms(percentile(values, 0.99))}"
            )
    rounds = ", ".join(mb(r.rss) for r in report.rounds)
    lines.append(
        f"RSS MB: at start {mb(report.rss_start)}, after each round {rounds}, "
        f"peak {mb(report.rss_peak)}; last round vs first {report.rss_growth:+.1%}"
    )
    return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def mb(kb: int) -> str:
    return f"{kb / 1024:.1f}"
