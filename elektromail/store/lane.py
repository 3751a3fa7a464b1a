"""adbapi's ConnectionPool on one thread of the store's own.

The store keeps one SQLite connection (cp_min = cp_max = 1: with ":memory:" a second one would
be another, empty database). adbapi hands each interaction to twisted's ThreadPool, whose team
and coordinator layers cost about as much as a small query on every store call (one per IMAP
FETCH). `StorePool` is a ConnectionPool in every other respect (commit on return, rollback
on an exception, close at shutdown); the hand-off to its thread is `OneThread`, one queue, an
interaction gets the driver's cursor itself (adbapi's Connection and Transaction wrappers cost
a __getattr__ hop per cursor call), and a database server's connection that was lost is
replaced (StorePool's docstring).
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

from twisted.enterprise import adbapi
from twisted.python import context, log
from twisted.python.failure import Failure

from elektromail.store.errors import StoreUnavailable

OnResult = Callable[[bool, Any], object]
# (onResult, the caller's logging context, func, args, kw); None tells the thread to end
Job = tuple[OnResult | None, dict, Callable[..., Any], tuple, dict] | None


class OneThread:
    """twisted's ThreadPool as ConnectionPool and deferToThreadPool use it (start, stop,
    callInThread, callInThreadWithCallback, started, joined, threads), on one thread: work
    runs in the order given, in the logging context of the caller; `stop` runs what was given
    before it and joins the thread; work given after `stop` is dropped, as ThreadPool drops
    it; `start` after `stop` starts a new thread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = False
        self.joined = False
        self.threads: list[threading.Thread] = []
        self._jobs: SimpleQueue[Job] = SimpleQueue()
        # Work given (counted by the threads that give it: the reactor's) and work finished
        # (counted by this thread alone): equal when nothing waits or runs (see `idle`).
        self._given = 0
        self._finished = 0

    def start(self) -> None:
        self.joined = False
        self.started = True
        if not self.threads:
            # not a daemon unless the starting thread is one, as ThreadPool's threads
            thread = threading.Thread(target=self._work, name=self.name)
            self.threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self.joined = True
        self.started = False
        threads, self.threads = self.threads, []
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join()

    def callInThread(self, func: Callable[..., Any], *args: Any, **kw: Any) -> None:
        self.callInThreadWithCallback(None, func, *args, **kw)

    def callInThreadWithCallback(
        self, onResult: OnResult | None, func: Callable[..., Any], *args: Any, **kw: Any
    ) -> None:
        if self.joined:
            return
        # ThreadPool runs the work in the caller's context: legacy log calls made there (adbapi's
        # "Rollback failed") carry the caller's `system`.
        ctx = context.theContextTracker.currentContext().contexts[-1]
        self._given += 1
        self._jobs.put((onResult, ctx, func, args, kw))

    def idle(self) -> bool:
        """Whether all work given has finished (its result may not have been delivered yet).
        Asked from the thread that gives work: nothing can begin meanwhile, so the caller
        may use the connection itself until it gives work again (StorePool.run_here)."""
        return self._given == self._finished

    def waiting(self) -> bool:
        """Whether work was given that has not begun (asked from the thread itself: a long
        job can make way for it)."""
        return not self._jobs.empty()

    def _work(self) -> None:
        jobs = self._jobs
        while (job := jobs.get()) is not None:
            onResult, ctx, func, args, kw = job
            job = None
            try:
                result = context.call(ctx, func, *args, **kw)
                ok = True
            except BaseException:
                result = Failure()
                ok = False
            # finished before its result is handed over, so that whoever receives it finds
            # the lane idle (when nothing else was given)
            self._finished += 1
            # drop the work's arguments before running on: a big result must not live on
            # until the next job arrives
            ctx = func = args = kw = None
            try:
                if onResult is not None:
                    onResult(ok, result)
                elif not ok:
                    log.err(result)
            except BaseException:
                # ThreadPool's team logs what escapes a task and its worker goes on
                log.err()
            onResult = result = None


class StorePool(adbapi.ConnectionPool):
    """adbapi's ConnectionPool whose one connection lives on `OneThread`.

    A connection that can be lost (a database server's, `reconnects`: not SQLite's file) is
    replaced by the pool itself: adbapi's own `cp_reconnect` reconnects only after a rollback
    fails, and keeps one connection per thread, where this pool has one for every thread.
    When an interaction fails on a connection that is gone (psycopg's `closed`: the server
    went away, restarted, or the network broke), the connection is dropped and the error
    raised (errors.unavailable() makes it StoreUnavailable: nothing was committed, or a
    COMMIT's outcome is not known, and the caller answers a temporary failure either way).
    The next interaction connects again, running `cp_openfun` (the schema check) again. Before
    one uses a connection that was idle, the server's goodbye is looked for (`_gone`: its
    socket readable without a question asked), so that the first command after the server
    came back does not fail. While connecting takes long and fails (a server that does not
    answer: the driver's connect timeout), interactions fail at once for `reconnect_pause`
    seconds instead of each waiting out the timeout."""

    # After a failed connection attempt that took at least SLOW_CONNECT seconds, for this long
    # no attempt is made: the work waiting fails at once (StoreUnavailable).
    reconnect_pause = 2.0
    SLOW_CONNECT = 0.5

    # ConnectionPool.__init__ assigns a ThreadPool of its own and, when the reactor already
    # runs, starts the pool at once (callWhenRunning calls right away): the assignment is
    # ignored, so that the pool starts, uses and stops the OneThread.
    threadpool = property(
        lambda self: self._lane,
        lambda self, _threadpool: None,
    )

    def __init__(self, *connargs: Any, **connkw: Any) -> None:
        self._lane = OneThread("elektromail-store")
        super().__init__(*connargs, **connkw)
        # One connection whichever thread asks: adbapi keeps one per thread (its __init__ sets
        # this attribute), and a second ":memory:" connection would be another, empty
        # database. The store thread and `run_here` never use it at the same time.
        self.threadID = lambda: 0
        self.reconnects = self.dbapiName != "sqlite3"
        self.monotonic = time.monotonic  # tests: a clock of their own
        # (when, why) of the last failed slow connection attempt
        self._connect_failed: tuple[float, BaseException] | None = None

    def connect(self) -> Any:
        """The connection, opened (and `cp_openfun` run on it) if there is none or the one
        there is gone; raises what the driver raises when it cannot connect."""
        conn = self.connections.get(0)
        if conn is not None:
            if not self.reconnects or not self._gone(conn):
                return conn
            self._drop(conn)
        if not self.reconnects:
            return super().connect()
        failed = self._connect_failed
        began = self.monotonic()
        if failed is not None and began - failed[0] < self.reconnect_pause:
            raise StoreUnavailable(f"{failed[1]} (not retried for {self.reconnect_pause} s)")
        try:
            conn = self.dbapi.connect(*self.connargs, **self.connkw)
        except Exception as e:
            if self.monotonic() - began >= self.SLOW_CONNECT:
                self._connect_failed = (self.monotonic(), e)
            raise
        try:
            if self.openfun is not None:
                self.openfun(conn)
        except BaseException:
            self._close_quietly(conn)
            raise
        self._connect_failed = None
        self.connections[0] = conn
        return conn

    def _gone(self, conn: Any) -> bool:
        """Whether `conn` (idle: between transactions) can no longer be used: known closed,
        or its socket is readable with no question asked, which is the server's farewell
        (a shutdown's FATAL, or the end of the stream) or a notice; a question then tells."""
        if conn.closed:
            return True
        try:
            readable = select.select([conn.fileno()], [], [], 0)[0]
        except Exception:  # a closed socket's fileno, a descriptor select refuses
            return True
        if not readable:
            return False
        try:
            conn.execute("SELECT 1")
            conn.rollback()
        except Exception:
            return True
        return bool(conn.closed)

    def _drop(self, conn: Any) -> None:
        if self.connections.get(0) is conn:
            del self.connections[0]
        self._close_quietly(conn)

    def _close_quietly(self, conn: Any) -> None:
        try:
            conn.close()
        except Exception:
            pass  # a connection already gone: closing it has nothing to tell

    def _lost(self, conn: Any) -> bool:
        return self.reconnects and bool(getattr(conn, "closed", False))

    def _runInteraction(self, interaction: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        # on the store thread (adbapi's, without its Connection and Transaction wrappers)
        return self._transact(self.connect(), interaction, args, kw)

    def run_here(self, interaction: Callable[..., Any], *args: Any) -> Any:
        """`interaction` in a transaction on the calling (reactor) thread; only when
        `can_run_here()`. For small reads: the hand-off to the store thread and back costs
        more than they do."""
        # can_run_here found the connection open (a reconnecting pool's): never connect here
        conn = self.connections[0] if self.reconnects else self.connect()
        return self._transact(conn, interaction, args, {})

    def _transact(self, conn: Any, interaction: Callable[..., Any], args: tuple, kw: dict) -> Any:
        """adbapi's _runInteraction without its Connection and Transaction wrappers (two
        objects and a __getattr__ hop per cursor call, for every FETCH): the cursor itself,
        committed on return and rolled back on an exception as there. A connection found
        lost after the failure is dropped (the next interaction opens another)."""
        try:
            cursor = conn.cursor()
            result = interaction(cursor, *args, **kw)
            cursor.close()
            conn.commit()
            return result
        except BaseException:
            if self._lost(conn):
                self._drop(conn)  # the server rolled back what was not committed
                raise
            try:
                conn.rollback()
            except BaseException:
                if self._lost(conn):
                    self._drop(conn)
                else:
                    log.err(None, "Rollback failed")
            raise

    def can_run_here(self) -> bool:
        """Whether the pool runs and its thread has nothing to do (nor anything to deliver
        that changes what a read sees: what it finished is committed), and, for a connection
        that can be lost, one is open and not gone (else it is dropped: the store thread
        connects again; the reactor thread never waits to connect)."""
        if not (self.running and self._lane.started and self._lane.idle()):
            return False
        if not self.reconnects:
            return True
        conn = self.connections.get(0)
        if conn is None:
            return False
        if self._gone(conn):
            self._drop(conn)
            return False
        return True
