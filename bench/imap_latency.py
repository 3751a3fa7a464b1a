"""What a client doing one thing at a time feels: bench/imap.py's one-command and load lines.

The client is Python's plain `imaplib` with its default socket options (Nagle on, as in most
client libraries), one session per server. Each line runs once unmeasured, then `repeat` times
with the servers taking turns, so that the noise of a shared machine falls on both alike.
"""

from __future__ import annotations

import imaplib
import multiprocessing
import random
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from imap_corpus import BODY_WORD, SENDERS, SUBJECT_WORD, Message, corpus
from imap_targets import Target, busy_since, cpu_seconds, machine_jiffies

FETCH_ONE = "(UID FLAGS BODY.PEEK[])"


@dataclass
class Timing:
    median_ms: float
    p90_ms: float
    samples: int


def session(target: Target, mailbox: str | None) -> imaplib.IMAP4:
    client = imaplib.IMAP4(target.host, target.port, timeout=600)
    client.login(target.user, target.password)
    if mailbox is not None:
        _ok(client.select(mailbox), "SELECT")
    return client


def _ok(answer: tuple[str, list], what: str) -> list:
    status, data = answer
    if status != "OK":
        raise RuntimeError(f"{what}: {status} {data!r}")
    return data


Call = Callable[[imaplib.IMAP4, random.Random, str], object]


class Line(NamedTuple):
    """A one-command line: `call` is measured `repeat` times per server, after `prepare` (if
    any) has readied that server's session once, unmeasured."""

    name: str
    repeat: int
    call: Call
    prepare: Callable[[imaplib.IMAP4, str], None] | None = None


def one_command_lines(messages: Sequence[Message], repeat: int, repeat_quick: int) -> list[Line]:
    """The one-command lines of issue 15's first table, and issue 16's SORT, THREAD and
    CHANGEDSINCE lines."""
    n = len(messages)
    message_id = messages[n // 2].message_id
    extra = corpus(repeat_quick + 1, seed=99)

    def search(*keys: str):
        return lambda c, rng, box: _ok(c.uid("SEARCH", *keys), "SEARCH")

    def ordered(command: str, *arguments: str):
        return lambda c, rng, box: _ok(c.uid(command, *arguments, "UTF-8", "ALL"), command)

    def append(c, rng, box):
        return _ok(c.append(box, None, None, extra[rng.randrange(len(extra))].raw), "APPEND")

    changed = ChangedSince(n)
    lines = [
        ("UID SEARCH FROM sender7", repeat, search("FROM", "sender7")),
        (f"UID SEARCH SUBJECT {SUBJECT_WORD}", repeat, search("SUBJECT", SUBJECT_WORD)),
        ("UID SEARCH HEADER Message-ID <one>", repeat, search("HEADER", "Message-ID", message_id)),
        ("UID SEARCH SEEN", repeat, search("SEEN")),
        ("UID SEARCH LARGER 100", repeat, search("LARGER", "100")),
        (f"UID SEARCH TEXT {BODY_WORD}", repeat, search("TEXT", BODY_WORD)),
        ("UID SORT (DATE) ALL", repeat, ordered("SORT", "(DATE)")),
        ("UID SORT (SUBJECT) ALL", repeat, ordered("SORT", "(SUBJECT)")),
        ("UID THREAD REFERENCES ALL", repeat, ordered("THREAD", "REFERENCES")),
        (changed.line, repeat, changed.fetch, changed.prepare),
        (
            f"FETCH n {FETCH_ONE}, one message",
            repeat_quick,
            lambda c, rng, box: _ok(c.fetch(str(rng.randint(1, n)), FETCH_ONE), "FETCH"),
        ),
        ("APPEND, synchronizing literal", repeat_quick, append),
    ]
    return [Line(*line) for line in lines]


class ChangedSince:
    """`FETCH 1:* (FLAGS) (CHANGEDSINCE n)` (RFC 7162 §3.1.4.1), n being the mailbox's
    HIGHESTMODSEQ before a keyword was added to 1 % of its messages: what a syncing client asks
    for after a while away. `prepare` makes the change in each server's mailbox, once."""

    KEYWORD = "$BenchChanged"

    def __init__(self, n: int) -> None:
        self.numbers = list(range(1, n + 1, 100))  # 1 %, spread through the mailbox
        self.line = f"FETCH 1:* (FLAGS) (CHANGEDSINCE n), {len(self.numbers)} changed"
        self.since: dict[int, int] = {}  # id(client) -> n

    def prepare(self, client: imaplib.IMAP4, mailbox: str) -> None:
        [status] = _ok(client.status(mailbox, "(HIGHESTMODSEQ)"), "STATUS")
        self.since[id(client)] = int(status.split(b"HIGHESTMODSEQ ")[1].split(b")")[0])
        numbers = ",".join(map(str, self.numbers))
        _ok(client.store(numbers, "+FLAGS.SILENT", f"({self.KEYWORD})"), "STORE")
        answered = [r for r in self.fetch(client) if r is not None]  # [None]: no answer
        if len(answered) != len(self.numbers):  # a line that measures the wrong thing is worse
            raise RuntimeError(f"CHANGEDSINCE answered {len(answered)} of {len(self.numbers)}")

    def fetch(self, client: imaplib.IMAP4, rng: random.Random | None = None, box: str = ""):
        since = self.since[id(client)]
        return _ok(client.fetch("1:*", f"(FLAGS) (CHANGEDSINCE {since})"), "FETCH")


def measure_one_commands(
    targets: Sequence[Target],
    mailbox: str,
    append_box: str,
    messages: Sequence[Message],
    repeat: int,
    repeat_quick: int,
    progress: Callable[[str], None] = print,
    only: str | None = None,
) -> dict[str, dict[str, Timing]]:
    """{line: {target name: Timing}}, every target measured in the same loop; with `only`,
    just the lines whose name holds that text."""
    clients = [session(t, mailbox) for t in targets]
    results: dict[str, dict[str, Timing]] = {}
    try:
        if only is not None:
            for client in clients:
                # The lines left out would have had every body read (and elektromail parses
                # what it stored while idle, meanwhile): done here, untimed.
                _ok(client.fetch("1:*", "(BODYSTRUCTURE)"), "FETCH")
        for line, times, call, prepare in one_command_lines(messages, repeat, repeat_quick):
            if only is not None and only.lower() not in line.lower():
                continue
            if prepare is not None:
                for client in clients:
                    prepare(client, mailbox)
            samples: list[list[float]] = [[] for _ in targets]
            rng = random.Random(line)
            for client in clients:
                call(client, rng, append_box)  # unmeasured: caches, first-use costs
            for _ in range(times):
                for client, taken in zip(clients, samples, strict=True):
                    start = time.perf_counter()
                    call(client, rng, append_box)
                    taken.append((time.perf_counter() - start) * 1000)
            results[line] = {t.name: _timing(s) for t, s in zip(targets, samples, strict=True)}
            progress(
                f"  {line:48} "
                + "  ".join(f"{t.name} {results[line][t.name].median_ms:9.2f} ms" for t in targets)
            )
    finally:
        for client in clients:
            try:
                client.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
    return results


def _timing(samples: list[float]) -> Timing:
    p90 = (
        statistics.quantiles(samples, n=10, method="inclusive")[8]
        if len(samples) > 1
        else samples[0]
    )
    return Timing(statistics.median(samples), p90, len(samples))


@dataclass
class Load:
    commands_per_second: float
    commands: int
    seconds: float
    client_cpu: float  # seconds of CPU the client processes used
    server_cpu: float | None  # seconds of CPU the server used, when we know its process
    machine_busy: float  # share of all cores busy meanwhile, every process on the machine


def measure_load(
    target: Target,
    mailbox: str,
    n: int,
    clients: int,
    seconds: float,
    server_pid: int | None,
    search: bool = True,
) -> Load:
    """`clients` processes, one session each, looping FETCH n + UID SEARCH FROM senderK
    (FETCH n alone without `search`)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(clients + 1)
    results = context.Queue()
    workers = [
        context.Process(
            target=_load_worker,
            args=(target, mailbox, n, seconds, barrier, results, seed, search),
            daemon=True,
        )
        for seed in range(clients)
    ]
    for worker in workers:
        worker.start()
    try:
        barrier.wait(timeout=120)  # every session is logged in and selected
    except threading.BrokenBarrierError:
        raise RuntimeError(f"load client failed: {results.get(timeout=10)}") from None
    cpu_before, machine = cpu_seconds(server_pid), machine_jiffies()
    start = time.perf_counter()
    done = [results.get(timeout=seconds + 600) for _ in workers]
    elapsed = time.perf_counter() - start
    cpu_after, busy = cpu_seconds(server_pid), busy_since(machine)
    for worker in workers:
        worker.join()
    errors = [d for d in done if isinstance(d, str)]
    if errors:
        raise RuntimeError(f"load client failed: {errors[0]}")
    commands = sum(count for count, _ in done)
    return Load(
        commands / seconds,
        commands,
        elapsed,
        sum(cpu for _, cpu in done),
        None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
        busy,
    )


def _load_worker(target, mailbox, n, seconds, barrier, results, seed, search=True) -> None:
    """One client: counts the commands it completes before the deadline."""
    try:
        rng = random.Random(seed)
        client = session(target, mailbox)
        barrier.wait(timeout=120)
        cpu = time.process_time()
        deadline = time.monotonic() + seconds
        count = 0
        while True:
            _ok(client.fetch(str(rng.randint(1, n)), FETCH_ONE), "FETCH")
            if time.monotonic() >= deadline:
                break
            count += 1
            if not search:
                continue
            _ok(client.uid("SEARCH", "FROM", f"sender{rng.randrange(SENDERS)}"), "SEARCH")
            if time.monotonic() >= deadline:
                break
            count += 1
        results.put((count, time.process_time() - cpu))
        client.logout()
    except Exception as e:  # reported by the parent, which is waiting on the queue
        results.put(f"{type(e).__name__}: {e}")
        barrier.abort()
