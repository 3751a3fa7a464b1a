"""store/lane.py's StorePool with a connection that can be lost (a database server's): a
connection found closed after a failure is dropped and the next interaction opens another,
running cp_openfun (the schema check) again; a connection whose server said farewell while it
was idle is replaced before use, so the first interaction after a restart succeeds; a commit
whose connection died is a failure (never acknowledged); the reactor thread never connects;
after a slow failed connection attempt work fails at once for a pause.

The connection is tests/store/flakydb.py's, faults injected; tests/faults/test_database_loss.py
does it all with a real PostgreSQL server stopped and started.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from elektromail.store.errors import StoreUnavailable
from elektromail.store.lane import StorePool
from tests.store import flakydb
from tests.store.conftest import run


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[flakydb.Server]:
    flakydb.server = flakydb.Server()
    yield flakydb.server
    flakydb.server = flakydb.Server()


@pytest.fixture
def opened(server, tmp_path) -> Iterator[list[int]]:
    """How many times the schema check ran (one per connection)."""
    calls: list[int] = []
    yield calls


@pytest.fixture
def pool(server, tmp_path, opened) -> Iterator[StorePool]:
    def openfun(conn) -> None:
        opened.append(1)
        conn.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
        conn.commit()

    made = StorePool(
        "tests.store.flakydb",
        str(tmp_path / "flaky.db"),
        cp_min=1,
        cp_max=1,
        cp_openfun=openfun,
        cp_noisy=False,
    )
    made.monotonic = Clock()
    run(made.start)
    yield made
    run(made.close)


def _insert(cursor, n: int) -> None:
    cursor.execute("INSERT INTO t VALUES (?)", (n,))


def _numbers(cursor) -> list[int]:
    return [n for (n,) in cursor.execute("SELECT n FROM t ORDER BY rowid").fetchall()]


def test_a_sqlite_pool_does_not_reconnect():
    pool = StorePool("sqlite3", ":memory:", check_same_thread=False, cp_min=1, cp_max=1)
    assert pool.reconnects is False


def test_a_connection_lost_in_a_statement_is_dropped_and_the_next_interaction_connects(
    pool, server, opened
):
    run(pool.runInteraction, _insert, 1)
    first = pool.connections[0]
    server.cut()  # no farewell: found out by the next statement
    with pytest.raises(sqlite3.OperationalError, match="closed the connection"):
        run(pool.runInteraction, _insert, 2)
    assert 0 not in pool.connections and first.closed
    run(pool.runInteraction, _insert, 3)
    assert pool.connections[0] is not first
    assert opened == [1, 1]  # the schema check ran on the new connection
    assert run(pool.runInteraction, _numbers) == [1, 3]


def test_a_commit_whose_connection_dies_fails_and_is_not_kept(pool, server):
    """The caller sees a failure (its client: a temporary one, to try again), never a
    success it cannot vouch for."""
    run(pool.runInteraction, _insert, 1)
    server.die_at_commit = True
    with pytest.raises(sqlite3.OperationalError, match="at COMMIT"):
        run(pool.runInteraction, _insert, 2)
    assert 0 not in pool.connections
    assert run(pool.runInteraction, _numbers) == [1]


def test_the_first_interaction_after_a_restart_succeeds(pool, server, opened):
    """The server's farewell waits on the idle connection's socket: the pool replaces the
    connection before the interaction uses it."""
    run(pool.runInteraction, _insert, 1)
    server.stop()
    server.start()
    run(pool.runInteraction, _insert, 2)
    assert opened == [1, 1]
    assert run(pool.runInteraction, _numbers) == [1, 2]


def test_while_the_server_is_down_every_interaction_fails_and_then_service_resumes(pool, server):
    run(pool.runInteraction, _insert, 1)
    server.stop()
    for n in (2, 3):
        with pytest.raises(sqlite3.OperationalError, match="server is down"):
            run(pool.runInteraction, _insert, n)
    server.start()
    run(pool.runInteraction, _insert, 4)
    assert run(pool.runInteraction, _numbers) == [1, 4]


def test_a_failing_schema_check_leaves_no_connection_behind(pool, server, opened):
    run(pool.runInteraction, _insert, 1)
    server.cut()
    broken = []

    def openfun(conn) -> None:
        opened.append(1)
        if not broken:
            broken.append(conn)
            raise sqlite3.OperationalError("the server went away during the schema check")

    pool.openfun = openfun
    for _ in range(2):
        with pytest.raises(sqlite3.OperationalError):
            run(pool.runInteraction, _insert, 2)
    assert broken[0].closed and 0 not in pool.connections
    run(pool.runInteraction, _insert, 3)
    assert run(pool.runInteraction, _numbers) == [1, 3]


def test_the_reactor_thread_reads_only_on_an_open_connection(pool, server):
    """can_run_here is what lets a read run on the reactor thread (StorePool.run_here): never
    without a connection, nor on one the server said farewell to (dropped there, and the
    store thread connects)."""
    assert not run(pool.can_run_here)  # nothing connected yet
    run(pool.runInteraction, _insert, 1)
    assert run(pool.can_run_here)
    assert run(pool.run_here, _numbers) == [1]
    server.stop()
    server.start()
    assert not run(pool.can_run_here)
    assert 0 not in pool.connections
    assert server.connects == 1  # the reactor thread did not connect
    run(pool.runInteraction, _insert, 2)
    assert run(pool.can_run_here)
    # lost under a read on the reactor thread: the read fails, the connection goes
    server.cut()
    with pytest.raises(sqlite3.OperationalError):
        run(pool.run_here, _numbers)
    assert 0 not in pool.connections and not run(pool.can_run_here)
    assert run(pool.runInteraction, _numbers) == [1, 2]


def test_after_a_slow_failed_connection_attempt_work_fails_at_once_for_a_pause(pool, server):
    """A server that does not answer costs each attempt the driver's connect timeout: after
    one such attempt, the work waiting fails at once until `reconnect_pause` has passed."""
    clock = pool.monotonic
    server.stop()
    server.on_connect = lambda: setattr(clock, "now", clock.now + 5)  # a timeout's wait
    with pytest.raises(sqlite3.OperationalError):
        run(pool.runInteraction, _insert, 1)
    assert server.connects == 1
    with pytest.raises(StoreUnavailable, match="not retried"):
        run(pool.runInteraction, _insert, 2)
    assert server.connects == 1  # not tried
    clock.now += pool.reconnect_pause
    server.start()
    server.on_connect = lambda: None
    run(pool.runInteraction, _insert, 3)
    assert server.connects == 2
    assert run(pool.runInteraction, _numbers) == [3]


def test_a_quick_refusal_is_tried_again_at_once(pool, server):
    """A refused connection (the server's socket gone) costs nothing to try: no pause."""
    server.stop()
    with pytest.raises(sqlite3.OperationalError):
        run(pool.runInteraction, _insert, 1)
    server.start()
    run(pool.runInteraction, _insert, 2)
    assert server.connects == 2
