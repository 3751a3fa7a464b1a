"""What processes sharing one PostgreSQL database allocate at once (issue 20): UIDVALIDITYs
(store/mailboxes.py `_take_uidvalidities`, strictly increasing across the database so that a
recreated mailbox never reuses one) and message ids (above every id ever taken, deleted rows'
included: store/arrivals.py). Each allocation runs from two connections at once, in threads
of their own, many rounds; none may repeat a value or go back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from elektromail.store import PreparedMessage, Store
from elektromail.store.arrivals import note_highest
from elektromail.store.control import _reserve_uidvalidities
from elektromail.store.db import _append_named
from elektromail.store.mailboxes import _next_uidvalidity
from elektromail.testing import call_in_reactor
from tests.pgcluster import ThrowawayCluster, own_cluster

ROUNDS = 200


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    yield from own_cluster()


@pytest.fixture
def url(cluster) -> str:
    """A database with the schema, user `user` and mailboxes INBOX and Other."""
    made = cluster.new_database()
    store = Store(made)
    call_in_reactor(store.open)
    user = call_in_reactor(store.add_user, "user", "pass")
    for name in ("INBOX", "Other"):
        call_in_reactor(store.create_mailbox, user.id, name)
    call_in_reactor(store.close)
    return made


def at_once(url: str, work: Callable[[object, int], object], rounds: int = ROUNDS) -> list[list]:
    """`work(cursor, round)` `rounds` times on each of two connections, each round its own
    transaction, both threads at once; what each thread's rounds returned, in order."""
    from elektromail.store import pgdriver

    barrier = threading.Barrier(2)
    results: list[list] = [[], []]
    errors: list[BaseException] = []

    def thread(index: int) -> None:
        conn = pgdriver.connect(url)
        try:
            barrier.wait()
            for _ in range(rounds):
                cursor = conn.cursor()
                results[index].append(work(cursor, index))
                conn.commit()
        except BaseException as e:
            errors.append(e)
            barrier.abort()
        finally:
            conn.close()

    threads = [threading.Thread(target=thread, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_two_connections_never_take_the_same_uidvalidity(url):
    """RFC 9051 §2.3.1.1: a mailbox's UIDVALIDITY must change when it is recreated; the store
    keeps them strictly increasing across the database, whichever process creates."""
    taken = at_once(url, lambda cursor, _i: _next_uidvalidity(cursor))
    every = taken[0] + taken[1]
    assert len(set(every)) == len(every) == 2 * ROUNDS
    for mine in taken:
        assert mine == sorted(mine) and len(set(mine)) == len(mine)


def test_reserved_ranges_of_uidvalidities_never_overlap(url):
    """A reset reserves a range for all its mailboxes at once (store/control.py)."""
    taken = at_once(url, lambda cursor, i: (_reserve_uidvalidities(cursor, 3 + i), 3 + i))
    every = [first + k for mine in taken for first, count in mine for k in range(count)]
    assert len(set(every)) == len(every)
    single = at_once(url, lambda cursor, _i: _next_uidvalidity(cursor), rounds=5)
    assert min(single[0] + single[1]) > max(every)


def _message(n: int) -> PreparedMessage:
    raw = f"Subject: {n}\r\n\r\nbody\r\n".encode()
    return PreparedMessage(raw, None, internal_date=time.time())


def test_a_message_id_is_never_taken_again_after_a_concurrent_delete(url):
    """One connection delivers to INBOX; the other delivers to Other and empties INBOX
    (note_highest, then a DELETE of every row of the mailbox, as a purge or a user's
    deletion does). The ids delivered are all different: the delete noted the highest id
    under the lock the id trigger takes, so a row delivered meanwhile was either seen by the
    note or not yet given its id."""

    def work(cursor, index: int) -> int:
        user_id = cursor.execute("SELECT id FROM users WHERE name = 'user'").fetchone()[0]
        mailbox = "INBOX" if index == 0 else "Other"
        mailbox_id, _, uid = _append_named(cursor, user_id, mailbox, _message(index))
        (message_id,) = cursor.execute(
            "SELECT id FROM messages WHERE mailbox_id = ? AND uid = ?", (mailbox_id, uid)
        ).fetchone()
        if index == 1:
            inbox = cursor.execute(
                "SELECT id FROM mailboxes WHERE user_id = ? AND name = 'INBOX'", (user_id,)
            ).fetchone()[0]
            note_highest(cursor)
            cursor.execute("DELETE FROM messages WHERE mailbox_id = ?", (inbox,))
        return message_id

    taken = at_once(url, work)
    every = taken[0] + taken[1]
    assert len(set(every)) == len(every), sorted(i for i in every if every.count(i) > 1)[:10]
    for mine in taken:
        assert mine == sorted(mine)


def _deliver(conn, mailbox: str) -> int:
    """A message delivered to `mailbox` of `user` and committed; its id."""
    cursor = conn.cursor()
    user_id = cursor.execute("SELECT id FROM users WHERE name = 'user'").fetchone()[0]
    mailbox_id, _, uid = _append_named(cursor, user_id, mailbox, _message(0))
    (message_id,) = cursor.execute(
        "SELECT id FROM messages WHERE mailbox_id = ? AND uid = ?", (mailbox_id, uid)
    ).fetchone()
    conn.commit()
    return message_id


def test_a_delivery_waits_for_a_delete_that_noted_the_highest_id(url):
    """The interleaving that would take an id again, step by step: a delete notes the
    highest id; another connection delivers; the delete removes the mailbox's rows by
    mailbox (its statement sees the new row) and commits; the next delivery would take the
    removed row's id. The delivery instead waits for the delete's transaction to end."""
    from elektromail.store import pgdriver

    deliverer, deleter, watcher = (pgdriver.connect(url) for _ in range(3))
    watcher.autocommit = True
    try:
        first = _deliver(deliverer, "INBOX")
        cursor = deleter.cursor()
        inbox = cursor.execute("SELECT id FROM mailboxes WHERE name = 'INBOX'").fetchone()[0]
        note_highest(cursor)
        delivered: list[int] = []
        during = threading.Thread(target=lambda: delivered.append(_deliver(deliverer, "INBOX")))
        during.start()

        def waiting_for_the_lock() -> bool:
            (count,) = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"
            ).fetchone()
            return count > 0

        deadline = time.monotonic() + 10
        while during.is_alive() and not waiting_for_the_lock():
            assert time.monotonic() < deadline, "the delivery neither waited nor ended"
            time.sleep(0.005)
        assert during.is_alive(), "the delivery took an id while a delete held its note"
        cursor.execute("DELETE FROM messages WHERE mailbox_id = ?", (inbox,))
        deleter.commit()
        during.join(10)
        last = _deliver(deliverer, "INBOX")
        assert first < delivered[0] < last
    finally:
        for conn in (deliverer, deleter, watcher):
            conn.close()
