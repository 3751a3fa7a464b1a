"""adbapi's ConnectionPool on one thread of the store's own.

The store keeps one SQLite connection (cp_min = cp_max = 1: with ":memory:" a second one would
be another, empty database). adbapi hands each interaction to twisted's ThreadPool, whose team
and coordinator layers cost about as much as a small query on every store call (one per IMAP
FETCH). `StorePool` is a ConnectionPool in every other respect (its connection and
transaction handling, commit on return, rollback on an exception, close at shutdown); only
the hand-off to its thread is `OneThread`, one queue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

from twisted.enterprise import adbapi
from twisted.python import context, log
from twisted.python.failure import Failure

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
    """adbapi's ConnectionPool whose one connection lives on `OneThread`."""

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

    def _runInteraction(self, interaction: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """adbapi's, without its Connection and Transaction wrappers: `interaction` gets the
        DB-API cursor itself, committed on return and rolled back on an exception as there
        (the wrappers only add reconnecting, which this pool never asks for). Each attribute
        of a Transaction is a __getattr__ hop after a failed lookup whose AttributeError is
        formatted and dropped: ~2,000 instructions for every `cursor.execute`, five of them
        per delivered message."""
        conn = self.connect()
        cursor = conn.cursor()
        try:
            result = interaction(cursor, *args, **kw)
            cursor.close()
            conn.commit()
            return result
        except BaseException:
            try:
                conn.rollback()
            except BaseException:
                log.err(None, "Rollback failed")
            raise

    def run_here(self, interaction: Callable[..., Any], *args: Any) -> Any:
        """`interaction` in a transaction on the calling (reactor) thread; only when
        `can_run_here()`. For small reads: the hand-off to the store thread and back costs
        more than they do."""
        return self._runInteraction(interaction, *args)

    def can_run_here(self) -> bool:
        """Whether the pool runs and its thread has nothing to do (nor anything to deliver
        that changes what a read sees: what it finished is committed)."""
        return self.running and self._lane.started and self._lane.idle()
