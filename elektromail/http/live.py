"""Waiting for mail without polling: the long-poll of GET /messages and the Server-Sent Events
of GET /events, both driven by the post office's event hub. A client that goes away cancels
its request's Deferred, which unsubscribes here."""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from elektromail.events import (
    MAILBOX_EVENTS,
    Event,
    Events,
    EventsMissed,
    FlagsChanged,
    MessageAdded,
    MessagesExpunged,
    ServerReset,
)

log = Logger()
T = TypeVar("T")

MAX_WAIT = 60  # seconds a long-poll may ask for
HEARTBEAT = 15.0  # seconds between SSE comments, so proxies and dead peers notice


class Signal:
    """A flag that can be awaited: `set()` wakes the one waiter, or the next one to wait."""

    def __init__(self) -> None:
        self._pending = False
        self._waiter: Deferred[None] | None = None

    def set(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.callback(None)
        else:
            self._pending = True

    def wait(self) -> Deferred[None]:
        if self._pending:
            self._pending = False
            return succeed(None)
        self._waiter = Deferred(lambda _: setattr(self, "_waiter", None))
        return self._waiter


def _same(wanted: str | None, actual: str) -> bool:
    return wanted is None or wanted.lower() == actual.lower()


async def wait_for(
    reactor,
    events: Events,
    query: Callable[[], Awaitable[T]],
    count: int,
    timeout: float,
    user: str | None = None,
    mailbox: str | None = None,
    measure: Callable[[T], int] = len,
    belongs: Callable[[str], bool] | None = None,
) -> tuple[T, bool]:
    """Run `query` until `measure` of its answer (by default its length) reaches `count`,
    again after each message added to a mailbox that may match (`user`/`mailbox` None: any;
    `belongs`: of a user it says is in the caller's namespace), or `timeout` seconds have
    passed. Returns (the last answer, whether the time ran out)."""
    signal = Signal()
    timed_out = False

    def on_event(event: Event) -> None:
        # the baseline's fixtures may match; events of other processes may have been missed
        if isinstance(event, (ServerReset, EventsMissed)):
            signal.set()
        elif belongs is not None and isinstance(event, MessageAdded) and not belongs(event.user):
            return
        elif isinstance(event, MessageAdded) and _same(user, event.user):
            if _same(mailbox, event.mailbox):
                signal.set()

    def time_up() -> None:
        nonlocal timed_out
        timed_out = True
        signal.set()

    # Subscribed before the first query, so a delivery between the two is not missed.
    unsubscribe = events.subscribe(on_event)
    timer = reactor.callLater(timeout, time_up)
    try:
        while True:
            answer = await query()
            if measure(answer) >= count or timed_out:
                return answer, measure(answer) < count
            await signal.wait()  # several deliveries meanwhile cost one query
    finally:
        unsubscribe()
        if timer.active():
            timer.cancel()


# --- Server-Sent Events ------------------------------------------------------------------------


def sse_records(
    event: Event, shown: Callable[[str], str] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event type, data) per message the event is about (`shown`: the user's name as the
    stream's namespace shows it)."""
    user = event.user if shown is None else shown(event.user)
    if isinstance(event, MessageAdded):
        yield "delivered", _record(event, user, event.uid, event.flags)
    elif isinstance(event, FlagsChanged):
        for uid, flags in event.changes:
            yield "flags", _record(event, user, uid, flags)
    elif isinstance(event, MessagesExpunged):
        for uid in event.uids:
            yield "expunged", _record(event, user, uid, None)


def _record(event: Event, user: str, uid: int, flags: tuple[str, ...] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"user": user, "mailbox": event.mailbox, "uid": uid}
    if flags is not None:
        out["flags"] = list(flags)
    return out


class EventStream:
    """One open GET /events response: writes each matching event as an SSE record."""

    _ids = itertools.count(1)  # shared by all streams: an id names one record everywhere

    def __init__(
        self,
        request,
        events: Events,
        clock,
        user: str | None,
        mailbox: str | None,
        belongs: Callable[[str], bool] | None = None,
        shown: Callable[[str], str] | None = None,
    ) -> None:
        self.request = request
        self.belongs = belongs  # whether a user is in the stream's namespace (None: all are)
        self.shown = shown
        self.events = events
        self.clock = clock
        self.user = user
        self.mailbox = mailbox
        self.open = True
        request.notifyFinish().addBoth(self._closed)

    def _closed(self, _result) -> None:
        self.open = False

    def start(self) -> None:
        self.request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
        self.request.setHeader(b"Cache-Control", b"no-store")
        self.request.setHeader(b"X-Accel-Buffering", b"no")  # nginx: do not hold records back
        # A first comment flushes the headers: the client knows it is subscribed.
        self.request.write(b"retry: 2000\n: subscribed\n\n")

    async def run(self) -> None:
        """Stream until the client leaves (or the server stops): the request's Deferred is
        cancelled then, which ends the wait below."""
        self.start()
        unsubscribe = self.events.subscribe(self._on_event)
        heartbeat = LoopingCall(self._write, b": keep-alive\n\n")
        heartbeat.clock = self.clock
        heartbeat.start(HEARTBEAT, now=False)
        try:
            await Deferred()  # never fires: only cancellation ends a stream
        finally:
            unsubscribe()
            heartbeat.stop()

    def _on_event(self, event: Event) -> None:
        if not isinstance(event, MAILBOX_EVENTS):
            return
        if not (_same(self.user, event.user) and _same(self.mailbox, event.mailbox)):
            return
        if self.belongs is not None and not self.belongs(event.user):
            return
        for kind, data in sse_records(event, self.shown):
            record = json.dumps(data, ensure_ascii=False)
            self._write(f"id: {next(self._ids)}\nevent: {kind}\ndata: {record}\n\n".encode())

    def _write(self, data: bytes) -> None:
        if self.open:
            self.request.write(data)
