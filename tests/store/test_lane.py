"""store/lane.py: adbapi's ConnectionPool on the store's one thread runs interactions in order,
off the reactor thread, each in a transaction of its own that commits on return and rolls back
on an exception, in the caller's logging context; closing runs what was asked first and drops
what comes after; a failing callback is logged and no result outlives its work."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest
from twisted.enterprise import adbapi
from twisted.internet import defer
from twisted.python import context, log

from elektromail.store.lane import OneThread, StorePool
from elektromail.testing import reactor_in_thread
from tests.store.conftest import run


def _pool() -> StorePool:
    return StorePool(
        "sqlite3",
        ":memory:",
        check_same_thread=False,
        cp_min=1,
        cp_max=1,
        cp_openfun=lambda conn: conn.execute("CREATE TABLE t (n INTEGER)"),
        cp_noisy=False,
    )


@pytest.fixture
def pool() -> Iterator[StorePool]:
    opened = _pool()
    run(opened.start)
    yield opened
    run(opened.close)


def _insert(cursor, n: int) -> str:
    cursor.execute("INSERT INTO t VALUES (?)", (n,))
    return threading.current_thread().name


def _numbers(cursor) -> list[int]:
    return [n for (n,) in cursor.execute("SELECT n FROM t ORDER BY rowid")]


def _insert_then_fail(cursor, n: int) -> None:
    cursor.execute("INSERT INTO t VALUES (?)", (n,))
    raise ValueError("no")


def _pool_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("PoolThread-")}


def test_it_is_adbapis_connection_pool_on_one_thread(pool: StorePool) -> None:
    assert isinstance(pool, adbapi.ConnectionPool)
    assert isinstance(pool.threadpool, OneThread)


def test_a_pool_built_while_the_reactor_runs_starts_its_own_thread_only() -> None:
    # ConnectionPool.__init__ starts the pool at once when the reactor already runs; that
    # start must be the OneThread's, not that of the ThreadPool adbapi builds.
    reactor_in_thread()
    before = _pool_threads()
    pool = _pool()
    try:
        assert pool.running and pool.threadpool.started
        assert [t.name for t in pool.threadpool.threads] == ["elektromail-store"]
        assert run(pool.runInteraction, _insert, 1) == "elektromail-store"
        assert _pool_threads() == before
    finally:
        run(pool.close)
    assert pool.threadpool.threads == [] and not pool.running


def test_interactions_run_off_the_reactor_thread_in_the_order_asked(pool: StorePool) -> None:
    async def several() -> tuple[list[str], str]:
        names = await defer.gatherResults([pool.runInteraction(_insert, n) for n in range(20)])
        return names, threading.current_thread().name

    names, reactor_thread = run(several)
    assert set(names) == {"elektromail-store"} and reactor_thread != "elektromail-store"
    assert run(pool.runInteraction, _numbers) == list(range(20))


def test_a_failing_interaction_rolls_back_and_its_deferred_fails(pool: StorePool) -> None:
    run(pool.runInteraction, _insert, 1)
    with pytest.raises(ValueError, match="no"):
        run(pool.runInteraction, _insert_then_fail, 2)
    assert run(pool.runInteraction, _numbers) == [1]  # the failed one left nothing


def test_interactions_run_in_the_callers_logging_context(pool: StorePool) -> None:
    def system_seen(cursor) -> str | None:
        return context.get(log.ILogContext, {}).get("system")

    def asked_as_a_connection() -> defer.Deferred[str | None]:
        return log.callWithContext(
            {"system": "IMAP4Server,7,127.0.0.1"}, pool.runInteraction, system_seen
        )

    assert run(asked_as_a_connection) == "IMAP4Server,7,127.0.0.1"


def test_close_runs_what_was_asked_first_and_drops_what_comes_after() -> None:
    pool = _pool()
    run(pool.start)

    def ask_then_close() -> defer.Deferred[list[int]]:
        for n in range(5):
            pool.runInteraction(_insert, n)
        last = pool.runInteraction(_numbers)
        pool.close()
        return last

    assert run(ask_then_close) == list(range(5))
    late = run(lambda: [pool.runInteraction(_numbers)])[0]
    # as twisted's ThreadPool, work given after stop never runs, not even after a restart
    # (a new connection: a new, empty database)
    run(pool.start)
    try:
        assert run(pool.runInteraction, _numbers) == []
        assert not late.called
    finally:
        run(pool.close)


def test_a_callback_that_raises_is_logged_and_the_thread_goes_on() -> None:
    lane = OneThread("lane-test")
    lane.start()
    errors: list[dict] = []
    log.addObserver(errors.append)
    try:
        done = threading.Event()

        def boom(ok: bool, result: object) -> None:
            raise RuntimeError("callback failed")

        lane.callInThreadWithCallback(boom, lambda: 1)
        lane.callInThreadWithCallback(lambda ok, result: done.set(), lambda: 2)
        assert done.wait(10)
    finally:
        lane.stop()
        log.removeObserver(errors.append)
    logged = [e["failure"].value for e in errors if e.get("isError") and "failure" in e]
    assert [str(value) for value in logged] == ["callback failed"]


def test_no_work_or_result_stays_alive_after_it_is_done() -> None:
    class Big:
        pass

    lane = OneThread("lane-test")
    lane.start()
    try:
        given, answered = Big(), []
        done = threading.Event()
        kept = weakref.ref(given)

        def answer(ok: bool, result: Big) -> None:
            answered.append(weakref.ref(result))
            done.set()

        lane.callInThreadWithCallback(answer, lambda big: Big(), given)
        del given
        assert done.wait(10)
        # the thread now waits for the next job; it must hold neither argument nor result
        for _ in range(100):
            gc.collect()
            if kept() is None and answered[0]() is None:
                break
            threading.Event().wait(0.01)
        assert kept() is None and answered[0]() is None
    finally:
        lane.stop()


def test_the_lane_is_idle_only_when_all_work_given_has_finished() -> None:
    # StorePool.run_here relies on it: the connection is free, and what was asked before is
    # done, only when every job given has finished (asked from the thread that gives work).
    lane = OneThread("lane-test")
    lane.start()
    try:
        assert lane.idle()
        running, release, answered = threading.Event(), threading.Event(), threading.Event()

        def blocked() -> None:
            running.set()
            assert release.wait(10)

        lane.callInThreadWithCallback(None, blocked)
        lane.callInThreadWithCallback(lambda ok, result: answered.set(), lambda: 1)
        assert not lane.idle()  # the first waits to run, or runs
        assert running.wait(10)
        assert not lane.idle()  # the first runs, the second waits
        release.set()
        assert answered.wait(10)
        for _ in range(1000):  # the count follows the callback, in the lane's thread
            if lane.idle():
                break
            threading.Event().wait(0.001)
        assert lane.idle()
    finally:
        lane.stop()


def test_run_here_uses_the_store_threads_connection_on_the_callers_thread(pool) -> None:
    # One connection whichever thread asks: with ":memory:" a second one would be another,
    # empty database.
    run(pool.runInteraction, _insert, 7)

    def here() -> tuple[bool, str, list[int]]:
        can = pool.can_run_here()
        return can, pool.run_here(_insert, 8), pool.run_here(_numbers)

    can, thread, numbers = run(here)
    assert can and thread != "elektromail-store"
    assert numbers == [7, 8]
    assert run(pool.runInteraction, _numbers) == [7, 8]  # committed, seen by the thread


def test_run_here_rolls_back_what_fails(pool) -> None:
    with pytest.raises(ValueError, match="no"):
        run(lambda: pool.run_here(_insert_then_fail, 1))
    assert run(pool.runInteraction, _numbers) == []


def test_a_pool_that_is_closed_or_busy_cannot_run_here() -> None:
    pool = _pool()
    run(pool.start)
    release = threading.Event()

    def busy_then_ask() -> bool:
        pool.runInteraction(lambda cursor: release.wait(10))
        return pool.can_run_here()

    try:
        assert not run(busy_then_ask)
    finally:
        release.set()
        run(pool.close)
    assert not run(pool.can_run_here)
