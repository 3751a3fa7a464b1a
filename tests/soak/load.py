"""The soak load: IMAP sessions, SMTP senders, and API injectors and listers on one asyncio loop
against an elektromail in another process (see `tests/soak/run.py` for the whole run).

Working sessions select, fetch, store flags, search, append and idle a while, with pauses;
idling sessions IDLE from start to end and must see their mailbox's every message arrive.
SMTP and /inject deliver numbered messages, each with its own Message-ID, to several users
and mailboxes.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass

from tests.soak.clients import (
    HOST,
    PASSWORD,
    Http,
    ImapClient,
    ImapError,
    Outcome,
    smtp_reply,
)

DOMAIN = "soak.test"
INBOX = "INBOX"
INJECTED = "Injected"  # created before the load; /inject and IMAP sessions use it
DRAFTS = "Drafts"  # a default mailbox; IMAP sessions APPEND into it
MAILBOXES = (INBOX, INJECTED, DRAFTS)


def user_names(count: int) -> list[str]:
    return [f"soak{i}" for i in range(count)]


def users_spec(count: int) -> str:
    """ELEKTROMAIL_USERS for `count` soak users."""
    return ",".join(f"{name}:{name}@{DOMAIN}:{PASSWORD}" for name in user_names(count))


# --- the plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The size of one run. `duration` paces SMTP so the messages take at least that many
    seconds (None: as fast as the server takes them); IMAP sessions and API listers work until
    SMTP and /inject are done."""

    sessions: int = 200
    messages: int = 10_000
    connections: int = 20
    injects: int = 1_000
    users: int = 8
    duration: float | None = None
    idle_share: float = 0.25  # sessions that only IDLE, from start to end
    think: float = 0.05  # mean pause between a working session's commands, seconds
    injectors: int = 4
    listers: int = 2
    seed: int = 9
    tag: str = "run"  # in Message-IDs, to tell one round's messages from another's


# --- messages ---------------------------------------------------------------------------------


def message(message_id: str, sender: str, to: str, number: int) -> bytes:
    """About 1.5 KB, plain text or multipart/alternative, with the given Message-ID."""
    head = (
        f"From: Soak sender <{sender}>\r\nTo: <{to}>\r\nSubject: soak message {number}\r\n"
        f"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
    ).encode()
    text = b"The quick brown fox jumps over the lazy dog, again and again.\r\n" * 16
    if number % 3:
        return head + b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text
    return (
        head + b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\n" + text + b"--b\r\n"
        b"Content-Type: text/html\r\n\r\n<p>" + text[:400] + b"</p>\r\n--b--\r\n"
    )


# --- the IMAP sessions ------------------------------------------------------------------------


class Appended:
    """Message-IDs that IMAP sessions appended, numbered across the run."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.count = 0

    def next_id(self) -> tuple[str, int]:
        self.count += 1
        return f"<{self.plan.tag}.append.{self.count}@{DOMAIN}>", self.count


async def start_session(
    client: ImapClient, port: int, user: str, rev2: bool, mailbox: str, ready: Ready
) -> bool:
    """Connect, log in and select, at most `ready.parallel` sessions at a time; False (the
    error recorded) when that failed."""
    try:
        async with ready.starting:
            await client.connect(port)
            await client.login(user, rev2=rev2)
            await client.select(mailbox)
        return True
    except (ImapError, ConnectionError, OSError) as e:
        client.outcome.error(f"{client.name}: could not start: {e!r}")
        await client.close()
        return False
    finally:
        ready.one_more()


class Ready:
    """Counts sessions that are in place (or failed to get there)."""

    def __init__(self, total: int, parallel: int = 50) -> None:
        self.starting = asyncio.Semaphore(parallel)
        self.total = total
        self.count = 0
        self.all_in = asyncio.Event()
        if total == 0:
            self.all_in.set()

    def one_more(self) -> None:
        self.count += 1
        if self.count >= self.total:
            self.all_in.set()


async def idle_session(
    index: int, port: int, user: str, mailbox: str, outcome: Outcome, ready, finals: Finals
) -> None:
    """SELECT, then IDLE from start to end; ends once told the mailbox's final count and its
    EXISTS reached it (or when `finals` gives up waiting, which the check reports)."""
    client = ImapClient(f"idler {index} ({user}/{mailbox})", outcome)
    if not await start_session(client, port, user, index % 5 == 0, mailbox, ready):
        return
    finals.clients.append(client)

    def reached() -> bool:
        final = finals.expected(user, mailbox)
        return finals.given_up or (final is not None and client.exists >= final)

    try:
        await client.idle(reached)
        outcome.idle_seen.append((client.name, (user, mailbox), list(client.exists_seen)))
        await client.logout()
    except (ImapError, ConnectionError):
        await client.close()


async def working_session(
    index: int,
    port: int,
    user: str,
    plan: Plan,
    outcome: Outcome,
    stop: asyncio.Event,
    ready,
    appended: Appended,
) -> None:
    """A client that selects, fetches, stores flags, searches, appends and idles for a while,
    with pauses of `plan.think` on average, until `stop`."""
    rng = random.Random(plan.seed * 100_003 + index)
    client = ImapClient(f"session {index} ({user})", outcome)
    if not await start_session(client, port, user, index % 5 == 1, rng.choice(MAILBOXES), ready):
        return
    try:
        while not stop.is_set():
            await one_step(client, user, rng, outcome, appended)
            if plan.think:
                await asyncio.sleep(rng.expovariate(1 / plan.think))
        await client.logout()
    except (ImapError, ConnectionError):
        await client.close()


STEPS = (
    ("fetch", 25),
    ("body", 12),
    ("store", 15),
    ("noop", 10),
    ("select", 8),
    ("status", 6),
    ("search", 5),
    ("idle", 8),
    ("append", 5),
    ("list", 3),
    ("missing", 1),
)
_STEP_NAMES = [name for name, _ in STEPS]
_STEP_WEIGHTS = [weight for _, weight in STEPS]


async def one_step(client: ImapClient, user: str, rng: random.Random, outcome, appended) -> None:
    step = rng.choices(_STEP_NAMES, _STEP_WEIGHTS)[0]
    exists = client.exists
    if client.selected is None:
        step = "select"
    if step == "store" and client.readonly:
        step = "fetch"
    if step in ("fetch", "body", "store", "search") and exists == 0:
        step = "noop"
    if step == "fetch":
        low = max(1, exists - rng.randint(0, 20))
        await client.command(f"FETCH {low}:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)")
    elif step == "body":
        await client.command(f"FETCH {rng.randint(1, exists)} (BODY.PEEK[])", kind="FETCH BODY")
    elif step == "store":
        sign = rng.choice("+-")
        flag = rng.choice(("\\Seen", "\\Flagged", "$Soak"))
        await client.command(f"STORE {rng.randint(1, exists)} {sign}FLAGS ({flag})")
    elif step == "noop":
        await client.command("NOOP")
    elif step == "select":
        await client.select(rng.choice(MAILBOXES), readonly=rng.random() < 0.3)
    elif step == "status":
        await client.command(f'STATUS "{rng.choice(MAILBOXES)}" (MESSAGES UIDNEXT UNSEEN)')
    elif step == "search":
        await client.command("UID SEARCH UNSEEN", kind="UID SEARCH")
    elif step == "idle":
        until = asyncio.Event()
        asyncio.get_running_loop().call_later(rng.uniform(0.05, 0.5), until.set)
        await client.idle(until)
    elif step == "append":
        message_id, number = appended.next_id()
        raw = message(message_id, f"{user}@{DOMAIN}", f"{user}@{DOMAIN}", number)
        uid = await client.append(DRAFTS, raw)
        outcome.acknowledge(user, DRAFTS, message_id)
        outcome.named[(user, DRAFTS, client.name)].append((uid, message_id))
    elif step == "list":
        await client.command('LIST "" "*"')
    elif step == "missing":
        # the one error a session causes: it must be NO [NONEXISTENT], and unselects
        client.exists_seen, client.selected = [], None
        line = await client.command('SELECT "no such mailbox"', expect="NO", kind="SELECT")
        if b"[NONEXISTENT]" not in line:
            outcome.error(f"{client.name}: SELECT of a missing mailbox -> {line!r}")


def smtp_recipients(number: int, users: list[str]) -> list[str]:
    """One user, or two for every tenth message (stored once for each)."""
    first = users[number % len(users)]
    if number % 10 == 0 and len(users) > 1:
        return [first, users[(number + 1) % len(users)]]
    return [first]


async def smtp_sender(
    port: int, numbers: list[int], plan: Plan, outcome: Outcome, interval: float
) -> None:
    """One connection sending `numbers` with MAIL, RCPT and DATA pipelined (RFC 2920); a
    message counts as acknowledged when DATA's final reply is 250."""
    users = user_names(plan.users)
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        if not (await smtp_reply(reader)).startswith(b"220"):
            raise ConnectionError("no SMTP greeting")
        writer.write(b"EHLO soak.client\r\n")
        ehlo = await smtp_reply(reader)
        if not ehlo.startswith(b"250") or b"PIPELINING" not in ehlo:
            outcome.error(f"SMTP EHLO -> {ehlo!r}")
            return
        started = time.perf_counter()
        for position, number in enumerate(numbers):
            if interval:
                delay = started + position * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            recipients = smtp_recipients(number, users)
            message_id = f"<{plan.tag}.smtp.{number}@{DOMAIN}>"
            to = f"{recipients[0]}@{DOMAIN}"
            raw = message(message_id, f"sender{number}@client.test", to, number)
            envelope = b"MAIL FROM:<sender%d@client.test>\r\n" % number + b"".join(
                b"RCPT TO:<%s@%s>\r\n" % (r.encode(), DOMAIN.encode()) for r in recipients
            )
            sent = time.perf_counter()
            writer.write(envelope + b"DATA\r\n")
            replies = [await smtp_reply(reader) for _ in range(len(recipients) + 2)]
            if [r[:3] for r in replies] != [b"250"] * (len(recipients) + 1) + [b"354"]:
                outcome.error(f"SMTP message {number}: {replies!r}")
                writer.write(b".\r\n" if replies[-1].startswith(b"354") else b"RSET\r\n")
                await smtp_reply(reader)
                continue
            writer.write(raw + b".\r\n")
            final = await smtp_reply(reader)
            outcome.smtp_latency.append(time.perf_counter() - sent)
            if not final.startswith(b"250"):
                outcome.error(f"SMTP message {number}: DATA -> {final!r}")
                continue
            for user in recipients:
                outcome.acknowledge(user, INBOX, message_id)
        writer.write(b"QUIT\r\n")
        quit_reply = await smtp_reply(reader)
        if not quit_reply.startswith(b"221"):
            outcome.error(f"SMTP QUIT -> {quit_reply!r}")
    except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
        outcome.error(f"SMTP connection lost: {e!r}")
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def injector(index: int, port: int, numbers: list[int], plan: Plan, outcome: Outcome) -> None:
    """POST /inject, one at a time; a message counts as acknowledged on 201 with a UID."""
    users = user_names(plan.users)
    http = Http(port)
    name = f"injector {index}"
    try:
        for number in numbers:
            user = users[number % len(users)]
            mailbox = INJECTED if number % 2 else INBOX
            message_id = f"<{plan.tag}.inject.{number}@{DOMAIN}>"
            raw = message(message_id, "api@client.test", f"{user}@{DOMAIN}", number)
            started = time.perf_counter()
            status, payload = await http.request(
                "POST", "/inject", {"user": user, "mailbox": mailbox, "raw": raw.decode()}
            )
            outcome.http_latency["POST /inject"].append(time.perf_counter() - started)
            if status != 201:
                outcome.error(f"{name}: /inject {number} -> {status} {payload[:200]!r}")
                continue
            outcome.acknowledge(user, mailbox, message_id)
            outcome.named[(user, mailbox, name)].append((json.loads(payload)["uid"], message_id))
    except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
        outcome.error(f"{name}: connection lost: {e!r}")
    finally:
        await http.close()


async def lister(index: int, port: int, plan: Plan, outcome: Outcome, stop: asyncio.Event):
    """GET /messages for one user's mailbox after another, whole or its newest page, until
    `stop`; a mailbox's total never goes down and a listing never shows a UID twice."""
    rng = random.Random(plan.seed * 7 + index)
    users = user_names(plan.users)
    http = Http(port)
    name = f"lister {index}"
    last: dict[tuple[str, str], int] = {}
    try:
        while not stop.is_set():
            user, mailbox = rng.choice(users), rng.choice(MAILBOXES)
            query = f"user={user}&mailbox={mailbox}"
            if rng.random() < 0.5:
                query += "&order=newest&limit=50"
            started = time.perf_counter()
            status, payload = await http.request("GET", f"/messages?{query}")
            outcome.http_latency["GET /messages"].append(time.perf_counter() - started)
            if status != 200:
                outcome.error(f"{name}: /messages?{query} -> {status} {payload[:200]!r}")
                continue
            listing = json.loads(payload)
            uids = [item["uid"] for item in listing["messages"]]
            total = listing.get("total", len(uids))
            if len(set(uids)) != len(uids):
                outcome.error(f"{name}: /messages?{query} lists a UID twice")
            if total < last.get((user, mailbox), 0):
                outcome.error(
                    f"{name}: /messages?{query}: {last[(user, mailbox)]} messages, then {total}"
                )
            last[(user, mailbox)] = total
            await asyncio.sleep(rng.uniform(0.05, 0.2))
    except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
        outcome.error(f"{name}: connection lost: {e!r}")
    finally:
        await http.close()


# --- the run ----------------------------------------------------------------------------------


class Finals:
    """The count each mailbox must reach, known once every acknowledgement is in; idlers wait
    for it. `give_up` ends the idlers that never get there (the check reports them)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] | None = None
        self.given_up = False
        self.clients: list[ImapClient] = []

    def expected(self, user: str, mailbox: str) -> int | None:
        if self.counts is None:
            return None
        return self.counts.get((user, mailbox), 0)

    def settle(self, counts: dict[tuple[str, str], int]) -> None:
        self.counts = counts
        self._wake()

    def give_up(self) -> None:
        self.given_up = True
        self._wake()

    def _wake(self) -> None:
        for client in self.clients:
            client.changed.set()


async def load(plan: Plan, ports: dict[str, int], idle_timeout: float = 60.0) -> Outcome:
    """Run `plan` against the server, whose mailboxes are empty. Every connection is closed
    when this returns; idlers that do not see their mailbox's final count within
    `idle_timeout` seconds of the end are given up on (and reported by the check)."""
    outcome = Outcome()
    users = user_names(plan.users)
    stop, finals = asyncio.Event(), Finals()
    idlers = round(plan.sessions * plan.idle_share)
    appended = Appended(plan)
    # Every session is in place before mail starts to flow.
    ready = Ready(plan.sessions)
    idle_tasks, work_tasks = [], []
    for i in range(plan.sessions):
        user = users[i % len(users)]
        if i < idlers:
            mailbox = MAILBOXES[(i // len(users)) % len(MAILBOXES)]
            session = idle_session(i, ports["imap"], user, mailbox, outcome, ready, finals)
            idle_tasks.append(asyncio.create_task(session))
        else:
            session = working_session(i, ports["imap"], user, plan, outcome, stop, ready, appended)
            work_tasks.append(asyncio.create_task(session))
    await ready.all_in.wait()
    started = time.perf_counter()

    numbers = list(range(1, plan.messages + 1))
    shares = [numbers[k :: plan.connections] for k in range(plan.connections)]
    interval = plan.duration * plan.connections / plan.messages if plan.duration else 0.0
    senders = [
        smtp_sender(ports["smtp"], share, plan, outcome, interval) for share in shares if share
    ]
    inject_numbers = list(range(1, plan.injects + 1))
    injectors = [
        injector(k, ports["http"], inject_numbers[k :: plan.injectors], plan, outcome)
        for k in range(plan.injectors)
    ]
    listers = [
        asyncio.create_task(lister(k, ports["http"], plan, outcome, stop))
        for k in range(plan.listers)
    ]

    async def smtp_all() -> None:
        await asyncio.gather(*senders)
        outcome.smtp_seconds = time.perf_counter() - started

    await asyncio.gather(smtp_all(), *injectors)
    stop.set()
    await asyncio.gather(*listers)
    outcome.load_seconds = time.perf_counter() - started

    await asyncio.gather(*work_tasks)  # their last APPENDs are acknowledged now

    finals.settle({key: len(ids) for key, ids in outcome.acked.items()})
    try:
        await asyncio.wait_for(asyncio.shield(asyncio.gather(*idle_tasks)), idle_timeout)
    except TimeoutError:
        finals.give_up()
        await asyncio.gather(*idle_tasks)
    return outcome
