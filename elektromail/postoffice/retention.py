"""The retention desk: --max-messages and --max-age. The oldest messages go first (by save
date, then arrival), after deliveries and on a timer, through the one door: each pass publishes
MessagesExpunged per mailbox (selected IMAP sessions get EXPUNGE, IDLE and the web inbox hear
of it) and logs one line, however many messages it removed.

The cap counts each namespace apart: the default namespace keeps at most --max-messages, and
so does every namespace made with POST /namespaces, so one team's flood never prunes another's
mail. A pass follows the deliveries of a reactor turn, not each message: under load the
passes coalesce (one in flight, at least PASS_GAP apart).
"""

from __future__ import annotations

import datetime

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from elektromail.events import Event, MessageAdded, MessagesExpunged
from elektromail.postoffice.namespaces import NamespaceDesk
from elektromail.store.errors import StoreUnavailable
from elektromail.store.namespaces import Scope
from elektromail.store.retention import Pruned

log = Logger()

# How often the age timer looks for old messages, at most.
AGE_SWEEP_SECONDS = 60.0
# Under load, passes start at least this far apart (the first after a quiet spell runs on the
# next reactor turn): the cap may be passed by what arrives in that time, and a flood costs a
# pass and a log line every half second rather than one every few messages.
PASS_GAP = 0.5
_EVERY = object()  # a pending pass over every scope (the timer's, the start's)


class RetentionDesk(NamespaceDesk):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._retention_clock = None  # the reactor (or a test's Clock), set by start_retention
        self._waiting_scopes: set = set()  # scopes (or _EVERY) a pass is due for
        self._pass_call = None
        self._pass: Deferred | None = None
        self._pass_started = float("-inf")  # clock time
        self._settled: list[Deferred] = []
        self._pass_ended: list[Deferred] = []
        self._age_sweep: LoopingCall | None = None
        self._retention_stopped = False
        if self.settings.max_messages is not None:
            self.events.subscribe(self._on_event_for_retention)

    # --- when -------------------------------------------------------------------------------

    def start_retention(self, clock) -> None:
        """Prune on `clock` from now on: a first pass at once (a database file may hold more
        than the cap, or old mail), then every minute at most while --max-age is set."""
        self._retention_clock = clock
        self._retention_stopped = False
        if self.settings.max_messages is None and self.settings.max_age is None:
            return
        self._want_pass(_EVERY)
        age = self.settings.max_age
        if age is not None and self._age_sweep is None:
            self._age_sweep = LoopingCall(self._want_pass, _EVERY)
            self._age_sweep.clock = clock
            every = min(AGE_SWEEP_SECONDS, max(age / 4, 0.01))
            self._age_sweep.start(every, now=False).addErrback(
                lambda failure: log.failure("retention timer failed", failure)
            )

    def stop_retention(self) -> None:
        self._retention_stopped = True
        if self._age_sweep is not None and self._age_sweep.running:
            self._age_sweep.stop()
        self._age_sweep = None
        if self._pass_call is not None and self._pass_call.active():
            self._pass_call.cancel()
        self._pass_call = None
        self._waiting_scopes.clear()
        if self._pass is None:  # else the pass's end tells them
            settled, self._settled = self._settled, []
            for d in settled:
                d.callback(None)

    def retention_settled(self) -> Deferred[None]:
        """Fires once no pruning pass is due or running (tests wait on it)."""
        if self._pass is None and self._pass_call is None:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._settled.append(d)
        return d

    def retention_due(self) -> bool:
        """Whether a pass is waiting for its turn on the clock (not yet running)."""
        return self._pass_call is not None

    def retention_pass_ended(self) -> Deferred[None]:
        """Fires once no pass is running, whether or not another is due (tests on a Clock,
        which runs the due ones only when advanced, wait on this)."""
        if self._pass is None:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._pass_ended.append(d)
        return d

    def _on_event_for_retention(self, event: Event) -> None:
        # another process's delivery is that process's to prune after (store/pgevents.py)
        if isinstance(event, MessageAdded) and not event.remote:
            self._want_pass(self.scope(self.namespace_of_user(event.user)))

    def _clock(self):
        if self._retention_clock is None:
            from twisted.internet import reactor

            self._retention_clock = reactor
        return self._retention_clock

    def _want_pass(self, scope: Scope | object) -> None:
        if self._retention_stopped:
            return
        self._waiting_scopes.add(scope)
        if self._pass_call is None and self._pass is None:
            self._arm_pass()

    def _arm_pass(self) -> None:
        clock = self._clock()
        wait = max(0.0, self._pass_started + PASS_GAP - clock.seconds())
        self._pass_call = clock.callLater(wait, self._run_pass)

    def _run_pass(self) -> None:
        self._pass_call = None
        self._pass_started = self._clock().seconds()
        waiting, self._waiting_scopes = self._waiting_scopes, set()
        d = self.prune(None if _EVERY in waiting else tuple(waiting))
        self._pass = d
        d.addErrback(self._pass_failed)
        d.addBoth(self._pass_done)

    def _pass_failed(self, failure) -> None:
        if self._retention_stopped:  # the store closing under a pass is no failure
            return
        if failure.check(StoreUnavailable):  # the next delivery or age sweep tries again
            log.warn("pruning old messages waits: {why}", why=failure.value)
            return
        log.failure("pruning old messages failed", failure)

    def _pass_done(self, _result: object) -> None:
        self._pass = None
        ended, self._pass_ended = self._pass_ended, []
        for d in ended:
            d.callback(None)
        if self._waiting_scopes:
            self._arm_pass()
            return
        settled, self._settled = self._settled, []
        for d in settled:
            d.callback(None)

    # --- what -------------------------------------------------------------------------------

    def prune(self, scopes: tuple[Scope, ...] | None = None) -> Deferred[int]:
        """One pass now: the oldest messages beyond --max-messages in each of `scopes` (None:
        every namespace and the default one), and every message older than --max-age. Fires
        with how many went."""
        keep, age = self.settings.max_messages, self.settings.max_age
        if keep is None and age is None:
            return succeed(0)
        if scopes is None:
            scopes = (self.scope(None), *self.namespaces) if self.namespaces else (None,)
        before = None if age is None else self._clock().seconds() - age
        return self.store.prune(scopes, keep, before).addCallback(self._pruned)

    def _pruned(self, pruned: Pruned) -> int:
        for gone in pruned.mailboxes:
            self.events.publish(
                MessagesExpunged(gone.user, gone.mailbox, gone.mailbox_id, gone.uids)
            )
        self.metrics.pruned += pruned.count  # GET /metrics
        if pruned.count:
            oldest = datetime.datetime.fromtimestamp(pruned.oldest or 0, datetime.UTC)
            log.info(
                "pruned {count} messages, oldest from {oldest}",
                count=pruned.count,
                oldest=oldest.isoformat(timespec="seconds"),
            )
        return pruned.count
