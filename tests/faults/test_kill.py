"""`kill -9` of the server while several SMTP clients deliver, then a restart on the same file:
the database is intact and every message that got its `250` is there, exactly once.

RFC 5321 §4.2.5: "When an SMTP server returns a positive completion status (2yz code) after
the DATA command is completed with <CRLF>.<CRLF>, it accepts responsibility for: delivering
the message". A message the client saw no 250 for may be stored or not (the kill can fall
between the commit and the reply), but never twice and never to one recipient only: the
copies of one message are one transaction.

ELEKTROMAIL_FAULT_ROUNDS sets the number of kills (5 by default, more for a long run);
ELEKTROMAIL_FAULT_SEED replays the kill moments and message sizes of a failed run.
"""

from __future__ import annotations

import imaplib
import os
import random
import re
import smtplib
import sqlite3
import sys
import threading
from dataclasses import dataclass, field

from tests.faults.conftest import message

ROUNDS = int(os.environ.get("ELEKTROMAIL_FAULT_ROUNDS", "5"))
SEED = int(os.environ.get("ELEKTROMAIL_FAULT_SEED", str(random.randrange(1 << 30))))
CLIENTS = 4
RECIPIENTS = ["alice@faults.test", "bob@faults.test"]
USERS = "alice:alice-pw,bob:bob-pw"
_FETCHED = re.compile(rb"UID (\d+) RFC822\.SIZE (\d+) BODY\[HEADER\.FIELDS \(MESSAGE-ID\)\]")
_MESSAGE_ID = re.compile(rb"<(r\d+\.c\d+\.m\d+)@faults\.test>")


@dataclass
class Stream:
    """The deliveries of one round: what got a 250, and when to kill."""

    round: int
    kill_after: int  # acknowledged messages before the kill
    sizes: random.Random
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: dict[str, int] = field(default_factory=dict)  # message id -> size sent
    order: dict[int, list[str]] = field(default_factory=dict)  # client -> ids acked, in order
    enough: threading.Event = field(default_factory=threading.Event)
    cut: int = 0  # messages in flight when the server died

    def killed_in_flight(self) -> None:
        with self.lock:
            self.cut += 1

    def size(self) -> int:
        with self.lock:
            # mostly small, sometimes large enough that the kill lands mid-DATA
            return self.sizes.choice([300, 2_000, 20_000, 300_000])

    def ack(self, client: int, ident: str, size: int) -> None:
        with self.lock:
            self.acked[ident] = size
            self.order.setdefault(client, []).append(ident)
            if len(self.acked) >= self.kill_after:
                self.enough.set()


def deliver_until_gone(port: int, stream: Stream, client: int) -> None:
    """Send messages one after another until the server is gone; record each 250."""
    try:
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=10)
    except OSError:
        return
    number = 0
    try:
        while True:
            ident = f"r{stream.round}.c{client}.m{number}"
            raw = message(ident, stream.size())
            smtp.sendmail("app@faults.test", RECIPIENTS, raw)  # returns after the 250
            stream.ack(client, ident, len(raw))
            number += 1
    except (OSError, smtplib.SMTPException):
        stream.killed_in_flight()  # the message in flight got no 250
    finally:
        smtp.close()


def start(child_server, db: str):
    env = {
        "ELEKTROMAIL_DB": db,
        "SMTP_PORT": "0",
        "IMAP_PORT": "0",
        "ELEKTROMAIL_USERS": USERS,
    }
    child = child_server([], env=env).wait_ready()
    child.drainer = drain(child.process.stdout.fileno())
    return child


def drain(fd: int) -> threading.Thread:
    """Keep reading the child's log: a full pipe would block the server mid-delivery."""

    def read() -> None:
        while os.read(fd, 65536):
            pass

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def halt(child, kill: bool) -> None:
    """`kill -9` the server, or stop it (SIGTERM); its log is read to the end before the pipe
    may be closed."""
    if kill:
        child.process.kill()
    else:
        child.process.terminate()
    child.process.wait(10)
    child.drainer.join(10)


def mailbox(port: int, user: str) -> list[tuple[int, str, int]]:
    """(uid, message id, size) of every message in the user's INBOX, in UID order."""
    found = []
    with imaplib.IMAP4("127.0.0.1", port, timeout=10) as imap:
        imap.login(user, f"{user}-pw")
        imap.select("INBOX", readonly=True)
        items = "(RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
        status, data = imap.uid("FETCH", "1:*", items)
        assert status == "OK", data
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta, header = item
            fetched = _FETCHED.search(meta)
            ident = _MESSAGE_ID.search(header)
            assert fetched and ident, item
            found.append((int(fetched[1]), ident[1].decode(), int(fetched[2])))
    return sorted(found)


def integrity(db: str) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def check(port: int, acked: dict[str, int], order: list[list[str]]) -> dict[str, int]:
    """Every acknowledged message exactly once in each recipient's INBOX, intact; no message
    twice or in one INBOX only; UIDs unique and in the order each client sent. Returns the
    number of stored messages that were not acknowledged, per recipient."""
    boxes = {user: mailbox(port, user) for user in ("alice", "bob")}
    for user, found in boxes.items():
        uids = [uid for uid, _, _ in found]
        ids = [ident for _, ident, _ in found]
        assert len(set(uids)) == len(uids), f"seed {SEED}, {user}: a UID twice"
        duplicates = {i for i in ids if ids.count(i) > 1}
        assert not duplicates, f"seed {SEED}, {user}: stored twice: {sorted(duplicates)}"
        sizes = {ident: size for _, ident, size in found}
        lost = sorted(set(acked) - set(sizes))
        assert not lost, f"seed {SEED}, {user}: acknowledged but lost: {lost}"
        damaged = [i for i, size in acked.items() if sizes[i] != size]
        assert not damaged, f"seed {SEED}, {user}: stored with another size: {damaged}"
        uid_of = {ident: uid for uid, ident, _ in found}
        for sent in order:
            got = [uid_of[i] for i in sent]
            assert got == sorted(got), f"seed {SEED}, {user}: UIDs out of order: {sent} {got}"
    alice = {ident for _, ident, _ in boxes["alice"]}
    bob = {ident for _, ident, _ in boxes["bob"]}
    assert alice == bob, f"seed {SEED}: delivered to one recipient only: {sorted(alice ^ bob)}"
    return {user: len(alice) - len(acked) for user in boxes}


def test_kill_9_during_smtp_deliveries_loses_no_acknowledged_message(tmp_path, child_server):
    db = str(tmp_path / "mail.db")
    rng = random.Random(SEED)
    acked: dict[str, int] = {}
    order: list[list[str]] = []
    server = start(child_server, db)
    unseen = 0
    for number in range(ROUNDS):
        stream = Stream(number, kill_after=rng.randint(1, 150), sizes=random.Random(rng.random()))
        port = server.ports["smtp"]
        clients = [
            threading.Thread(target=deliver_until_gone, args=(port, stream, c), daemon=True)
            for c in range(CLIENTS)
        ]
        for client in clients:
            client.start()
        assert stream.enough.wait(60), f"seed {SEED}: only {len(stream.acked)} acknowledged"
        halt(server, kill=True)
        for client in clients:
            client.join(20)
        with stream.lock:
            acked.update(stream.acked)
            order.extend(stream.order.values())
        server = start(child_server, db)  # the same file: recovery from the WAL
        assert integrity(db) == "ok", f"seed {SEED}, round {number}"
        stored_unseen = check(server.ports["imap"], acked, order)["alice"]
        sys.stdout.write(
            f"kill round {number}: {len(stream.acked)} acknowledged, {stream.cut} in flight "
            f"({stored_unseen - unseen} of them stored, their 250 unseen), 0 lost; "
            f"{len(acked)} acknowledged in all (seed {SEED})\n"
        )
        unseen = stored_unseen
    # Mail goes on after the last restart, with UIDs after every earlier one.
    smtp = smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10)
    smtp.sendmail("app@faults.test", RECIPIENTS, message("r999.c0.m0"))
    smtp.quit()
    acked["r999.c0.m0"] = len(message("r999.c0.m0"))
    check(server.ports["imap"], acked, [*order, ["r999.c0.m0"]])
    last = mailbox(server.ports["imap"], "alice")[-1]
    assert last[1] == "r999.c0.m0"
    halt(server, kill=False)
    assert integrity(db) == "ok"
