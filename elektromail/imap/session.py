"""One IMAP connection's state: who is logged in, which dialect, what is selected, and the
untagged updates waiting to be told. No sockets here: the protocol class moves the bytes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from itertools import chain
from typing import Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from elektromail.events import (
    MAILBOX_EVENTS,
    Event,
    Events,
    EventsMissed,
    FlagsChanged,
    MessageAdded,
    MessagesExpunged,
    session_ended_by,
)
from elektromail.flags import SYSTEM_FLAGS
from elektromail.imap import format as fmt
from elektromail.imap.contexts import Contexts
from elektromail.imap.seqset import format_sequence_set
from elektromail.imap.view import MailboxView
from elektromail.store import UserRow

log = Logger()

# (mailbox id, UID) -> the (uid, flags text) of the mailbox's messages above that UID
ReadAfter = Callable[[int, int], "Deferred[list[tuple[int, str]]]"]
# As ReadAfter, with the first UID among the rows that is \Recent in the session, decided in the
# shared store (PostOffice.arrivals_shared)
ReadRecent = Callable[[int, int], "Deferred[tuple[list[tuple[int, str]], int]]"]


@dataclass
class _CatchUp:
    """A read of the selected mailbox in flight (other processes share the store): what
    changed meanwhile wins over what the read returns."""

    full: bool  # every message (after EventsMissed), else those above the view's last
    again: bool = False  # more arrived meanwhile: read again after this one
    again_full: bool = False
    expunged: set[int] = field(default_factory=set)
    flags: dict[int, tuple[str, ...]] = field(default_factory=dict)
    # Session.settled()'s: fired when this read is in the view; those asked once `again` was
    # set wait for the read after it (which has what arrived meanwhile), no longer.
    waiting: list[Deferred[None]] = field(default_factory=list)
    waiting_next: list[Deferred[None]] = field(default_factory=list)


class State(Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


@dataclass
class Dialect:
    """IMAP4rev1 until ENABLE IMAP4rev2; UTF8=ACCEPT switches mailbox names to UTF-8.
    `condstore` and `qresync`: the session is CONDSTORE- / QRESYNC-aware (RFC 7162 §3.1, §3.2.3)."""

    rev2: bool = False
    utf8: bool = False
    condstore: bool = False
    qresync: bool = False

    @property
    def utf8_names(self) -> bool:
        return self.rev2 or self.utf8


def flags_responses(view: MailboxView) -> tuple[bytes, bytes]:
    """FLAGS and OK [PERMANENTFLAGS] for the selected mailbox (RFC 9051 §7.3.5, §7.1): at
    SELECT, and again whenever a keyword the session was not told of appears, before any FETCH
    shows it (as Dovecot does). Keywords are permanent here, and new ones may be made (\\*)."""
    keywords = view.announced_keywords()
    flags = fmt.format_flags([*SYSTEM_FLAGS, *keywords])
    permanent = fmt.format_flags([] if view.readonly else [*SYSTEM_FLAGS, *keywords, "\\*"])
    code = fmt.format_response_code(fmt.PERMANENTFLAGS, permanent)
    return (
        fmt.untagged(b"FLAGS " + flags),
        fmt.untagged_status(fmt.OK, "Flags permitted", code),
    )


def _next_uid(view: MailboxView) -> int:
    """The UID the mailbox's next message will have, as far as the view knows."""
    pending = view.pending.added
    return max(view.uidnext, view.largest_uid() + 1, max(pending, default=0) + 1)


class Notifier(Protocol):
    """What NOTIFY left running for this session (commands/notify.py)."""

    def stop(self) -> None: ...


# The RFC 5465 event each change of the selected mailbox is
NOTIFY_EVENT_NAMES = {
    MessageAdded: "MessageNew",
    MessagesExpunged: "MessageExpunge",
    FlagsChanged: "FlagChange",
}


class Session:
    def __init__(self, events: Events) -> None:
        self.events = events
        self.state = State.NOT_AUTHENTICATED
        self.user: UserRow | None = None
        self.dialect = Dialect()
        self.tls = False
        self.oauth = False  # XOAUTH2 and OAUTHBEARER offered (--oauth not off)
        self.view: MailboxView | None = None
        self._unsubscribe: Callable[[], None] | None = None
        # Whether a message that arrives in the selected mailbox is \Recent here (None: the
        # dialect has no \Recent); set by select().
        self._recent_arrival: Callable[[int], bool] | None = None
        # Called after a change from elsewhere reached the view: IDLE pushes it at once.
        self.on_change: Callable[[], None] | None = None
        # SEARCH RETURN (UPDATE) contexts of the selected mailbox (RFC 5267 §4.3)
        self.contexts = Contexts()
        # RFC 5465 NOTIFY, once used: the message events wanted about the selected mailbox
        # (None: no NOTIFY yet). Changes made elsewhere that are not wanted are held back, the
        # view a snapshot (§5), until a NOTIFY asks for them; `on_notified_change` replaces
        # `on_change` while NOTIFY pushes the wanted ones.
        self.selected_events: frozenset[str] | None = None
        self._withheld: list[Event] = []
        self.on_notified_change: Callable[[], None] | None = None
        self.notifier: Notifier | None = None
        # When other processes share the store (Events.shared): reads the selected mailbox's
        # messages above a UID, to catch up with deliveries heard out of UID order or missed.
        self._read_after: ReadAfter | None = None
        # Instead of both of those when \Recent is decided in the shared store: every arrival
        # is read with the decision, in UID order.
        self._read_recent: ReadRecent | None = None
        self._catching: _CatchUp | None = None
        # uid -> the highest mod-sequence heard of it while selected (a shared store only)
        self._seen_modseqs: dict[int, int] = {}

    # --- state changes ----------------------------------------------------------------------

    def login(self, user: UserRow) -> None:
        self.user = user
        self.state = State.AUTHENTICATED

    def watch(self, mailbox_id: int) -> list[Event]:
        """Start collecting events for `mailbox_id` before its view is loaded; the returned
        list fills until `select` replays it into the view."""
        self.unselect()
        early: list[Event] = []

        def collect(event: Event) -> None:
            if isinstance(event, EventsMissed):
                if self.view is not None and self.view.mailbox_id == mailbox_id:
                    self._want_catch_up(full=True)
                return
            if not isinstance(event, MAILBOX_EVENTS) or event.mailbox_id != mailbox_id:
                return
            if self.view is None or self.view.mailbox_id != mailbox_id:
                early.append(event)
            else:
                self._apply(event)

        self._unsubscribe = self.events.subscribe(collect)
        return early

    def select(
        self,
        view: MailboxView,
        early: list[Event],
        recent_arrival: Callable[[int], bool] | None = None,
        read_after: ReadAfter | None = None,
        read_recent: ReadRecent | None = None,
    ) -> None:
        self.view = view
        self._recent_arrival = recent_arrival
        self._read_after = read_after if self.events.shared else None
        self._read_recent = read_recent if self.events.shared else None
        self.state = State.SELECTED
        for event in early:
            self._apply(event)

    def unselect(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.contexts.clear()  # updates cease with the selection (RFC 5267 §4.3)
        self._withheld.clear()
        self.view = None
        self._recent_arrival = None
        self._read_after = None
        self._read_recent = None
        if self._catching is not None:
            _fire(self._catching)
        self._catching = None
        self._seen_modseqs = {}
        if self.state is State.SELECTED:
            self.state = State.AUTHENTICATED

    def unauthenticate(self) -> None:
        """Back to not authenticated, keeping only TLS (RFC 8437 §3): the mailbox is left
        without expunging, what ENABLE enabled is disabled, `$` goes with the view."""
        self.unselect()
        self.stop_notifying()
        self.user = None
        self.dialect = Dialect()
        self.state = State.NOT_AUTHENTICATED

    def logout(self) -> None:
        self.unselect()
        self.stop_notifying()
        self.state = State.LOGOUT

    def notify_selected(self, events: frozenset[str] | None) -> None:
        """NOTIFY changed what is wanted about the selected mailbox (None: NOTIFY's end):
        what was held back is looked at again."""
        self.selected_events = events
        held, self._withheld = self._withheld, []
        for event in held:
            self._apply(event)

    def stop_notifying(self) -> None:
        notifier, self.notifier = self.notifier, None
        if notifier is not None:
            notifier.stop()
        self.on_notified_change = None
        self.selected_events = None
        self._withheld.clear()

    def ended_by(self, event: Event) -> str | None:
        """The text of the BYE that `event` ends this session with, or None when it does not:
        a reset ends every logged-in session, a deleted user that user's sessions."""
        if self.user is None or self.state is State.LOGOUT:
            return None
        return session_ended_by(event, self.user.name)

    # --- updates from elsewhere -------------------------------------------------------------

    def _apply(self, event: Event) -> None:
        view = self.view
        if view is None:
            return
        wanted = self.selected_events
        if wanted is not None and NOTIFY_EVENT_NAMES[type(event)] not in wanted:
            self._withheld.append(event)
            return
        if isinstance(event, FlagsChanged) and event.modseqs and self._read_after is not None:
            event = self._newer_changes(event)  # other processes' may come out of order
        catching = self._catching
        if catching is not None:  # what the read in flight returns is older than this
            if isinstance(event, FlagsChanged):
                catching.flags.update(event.changes)
            elif isinstance(event, MessagesExpunged):
                catching.expunged.update(event.uids)
        if isinstance(event, MessageAdded) and self._read_after is not None:
            # Other processes share the store: their deliveries may be heard out of UID
            # order, so one that is not the next UID, or is another's (whose flags may have
            # changed since), is read from the store with all below it.
            # With \Recent decided there, every delivery is (the session's share is read too).
            if (
                event.remote
                or catching is not None
                or self._read_recent is not None
                or event.uid != _next_uid(view)
            ):
                if view.is_new(event.uid):
                    self._want_catch_up(full=False)
                return
        if isinstance(event, MessageAdded):
            if view.is_new(event.uid):
                arrival = self._recent_arrival
                recent = arrival is not None and arrival(event.uid)
                view.note_added(event.uid, event.flags, recent=recent)
        elif isinstance(event, FlagsChanged):
            if event.origin is not self:
                modseqs = event.modseqs or (0,) * len(event.changes)
                for (uid, flags), modseq in zip(event.changes, modseqs, strict=True):
                    view.note_flags(uid, flags, modseq)
        elif isinstance(event, MessagesExpunged) and event.origin is not self:
            for uid in event.uids:
                view.note_expunged(uid)
        self._changed()

    def _newer_changes(self, event: FlagsChanged) -> FlagsChanged:
        """`event` without the changes older than one already heard of the same message (by
        mod-sequence, RFC 7162 §3.1.1: a message's only grows): two processes' changes to one
        message may be heard the other way round."""
        seen = self._seen_modseqs
        changes, modseqs = [], []
        for change, modseq in zip(event.changes, event.modseqs, strict=True):
            if modseq > seen.get(change[0], 0):
                seen[change[0]] = modseq
                changes.append(change)
                modseqs.append(modseq)
        if len(changes) == len(event.changes):
            return event
        return FlagsChanged(
            event.user,
            event.mailbox,
            event.mailbox_id,
            tuple(changes),
            event.origin,
            tuple(modseqs),
        )

    def _changed(self) -> None:
        if self.on_notified_change is not None:
            self.on_notified_change()
        elif self.on_change is not None:
            self.on_change()

    def _want_catch_up(self, full: bool) -> None:
        catching = self._catching
        if catching is not None:
            catching.again = True
            catching.again_full = catching.again_full or full
        elif self._read_after is not None and self.view is not None:
            self._start_catch_up(full)

    def settled(self) -> Deferred[None] | None:
        """With \\Recent decided in the shared store (even the session's own APPEND is read
        from it) and a read of arrivals in flight: fires when what arrived until now is in
        the view, so a command's EXISTS goes before its tagged OK; None otherwise, at no
        cost. Never waits for arrivals after the call (deliveries that keep coming)."""
        catching = self._catching
        if catching is None or self._read_recent is None:
            return None
        d: Deferred[None] = Deferred()
        (catching.waiting_next if catching.again else catching.waiting).append(d)
        return d

    def _start_catch_up(self, full: bool, waiting: list[Deferred[None]] | None = None) -> None:
        view = self.view
        assert view is not None and self._read_after is not None
        catching = self._catching = _CatchUp(full, waiting=waiting or [])
        after = 0 if full else view.largest_uid()
        if self._read_recent is not None:
            d = self._read_recent(view.mailbox_id, after)
        else:
            d = self._read_after(view.mailbox_id, after).addCallback(lambda rows: (rows, None))
        d.addCallbacks(
            lambda answer: self._caught_up(view, catching, *answer),
            lambda failure: self._catch_up_failed(view, catching, failure),
        )

    def _caught_up(
        self, view: MailboxView, catching: _CatchUp, rows, first_recent: int | None
    ) -> None:
        if self.view is not view or self._catching is not catching:
            return  # unselected meanwhile
        self._catching = None
        arrival = self._recent_arrival
        if first_recent is not None:  # decided in the store

            def arrival(uid: int) -> bool:
                return uid >= first_recent

        stored: dict[int, tuple[str, ...]] = {}
        for uid, text in rows:
            if uid not in catching.expunged:
                stored[uid] = catching.flags.get(uid) or tuple(text.split())
        if catching.full:
            for uid in [uid for uid in (*view.flags, *view.pending.added) if uid not in stored]:
                view.note_expunged(uid)
        largest = view.largest_uid()
        for uid, flags in stored.items():
            if uid > largest:
                view.note_added(uid, flags, recent=arrival is not None and arrival(uid))
            elif uid in view.flags and view.pending.flags.get(uid, view.flags[uid]) != flags:
                view.note_flags(uid, flags)
        if catching.again:
            waiting, catching.waiting_next = catching.waiting_next, []
            self._start_catch_up(catching.again_full, waiting)
        self._changed()
        _fire(catching)

    def _catch_up_failed(self, view: MailboxView, catching: _CatchUp, failure) -> None:
        if self._catching is catching:
            self._catching = None
        _fire(catching)
        if self.view is view:
            log.warn(
                "IMAP: could not read the selected mailbox again: {reason}",
                reason=failure.getErrorMessage(),
            )

    def updates(self, allow_expunge: bool) -> bytes:
        """Untagged responses for what changed since the last report."""
        view = self.view
        if view is None:
            return b""
        pending = view.pending
        if not (pending.added or pending.flags or pending.expunged):
            return b""  # most commands: nothing happened elsewhere meanwhile
        out = []
        if allow_expunge and self.contexts and pending.expunged:
            # RFC 5267 §4.3.4: REMOVEFROM while the expunged numbers are still valid
            out.append(self.contexts.removed_by_expunge(view, pending.expunged))
        if allow_expunge and self.dialect.qresync and pending.expunged:
            # RFC 7162 §3.2.10.2: a QRESYNC-aware session hears of expunges as UIDs
            gone = sorted(uid for uid in pending.expunged if uid in view.flags)
            view.take_expunges()
            if gone:
                out.append(fmt.untagged(b"VANISHED " + format_sequence_set(gone).encode()))
        elif allow_expunge:
            out.extend(fmt.untagged(b"%d EXPUNGE" % seq) for seq in view.take_expunges())
        if view.announce(chain(*pending.added.values(), *pending.flags.values())):
            out.extend(flags_responses(view))
        if view.take_added():
            out.append(fmt.untagged(b"%d EXISTS" % view.exists))
            if not self.dialect.rev2:
                out.append(fmt.untagged(b"%d RECENT" % len(view.recent)))
        # RFC 9051 §7.5.2: an unsolicited FETCH carries the UID in IMAP4rev2 (rev1 clients
        # get the RFC 3501 form, as from Dovecot).
        rev2 = self.dialect.rev2
        # RFC 7162 §3.1.4.2: a CONDSTORE-aware session gets the MODSEQ too (before FLAGS, as
        # from Dovecot); §3.2.4: a QRESYNC one the UID, and so does RFC 5465 §5.1 where NOTIFY
        # asked for FlagChange ("MUST include UID and FLAGS")
        condstore, uid_too = self.dialect.condstore, rev2 or self.dialect.qresync
        if not uid_too and self.selected_events is not None:
            uid_too = "FlagChange" in self.selected_events
        modseqs, pending.modseqs = pending.modseqs, {}
        for seq, uid, flags in view.take_flag_changes():
            items = [(b"UID", b"%d" % uid)] if uid_too else []
            if condstore and uid in modseqs:
                items.append((b"MODSEQ", b"(%d)" % modseqs[uid]))
            items.append((b"FLAGS", fmt.format_flags(view.shown_flags(uid, flags))))
            out.append(fmt.format_fetch(seq, items))
        return b"".join(out)

    async def context_updates(self) -> bytes:
        """ADDTO and REMOVEFROM for the update contexts, after `updates` told the changes
        that cause them (RFC 5267 §4.3.3): the messages added or changed since last time."""
        view = self.view
        if view is None or not self.contexts or not view.touched:
            return b""
        touched, view.touched = view.touched, set()
        try:
            return await self.contexts.changed(view, touched)
        except BaseException:
            if self.view is view:  # told next time
                view.touched |= touched
            raise


def _fire(catching: _CatchUp) -> None:
    """Release the commands waiting for `catching` (each once: the lists are emptied)."""
    waiting = catching.waiting + catching.waiting_next
    catching.waiting, catching.waiting_next = [], []
    for d in waiting:
        d.callback(None)
