"""NOTIFY (RFC 5465): the command, the STATUS it sends at once, and the `Notifier` that stays
with the session afterwards: STATUS and LIST about other mailboxes as their changes are
published, and the selected mailbox's changes pushed between commands."""

from __future__ import annotations

from bisect import bisect_right
from typing import Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from elektromail.events import (
    MAILBOX_EVENTS,
    Event,
    FlagsChanged,
    MailboxEvent,
    MailboxNameChanged,
    MessageAdded,
    SubscriptionChanged,
)
from elektromail.imap import format as fmt
from elektromail.imap import notify as spec
from elektromail.imap.args import format_mailbox
from elektromail.imap.commands.fetch import unsolicited_fetch
from elektromail.imap.commands.listing import list_line
from elektromail.imap.commands.status import ITEMS, status_line
from elektromail.imap.dispatch import (
    AUTH,
    Argument,
    Context,
    Done,
    advertise,
    command,
)
from elektromail.imap.listmatch import list_order
from elektromail.imap.session import Session
from elektromail.names import DELIMITER
from elektromail.store.errors import StoreUnavailable
from elektromail.store.mailboxes import MailboxCounts, MailboxListing

# Only once logged in, as Dovecot announces it: NOTIFY is an authenticated-state command.
advertise("NOTIFY", states=AUTH)
log = Logger()

# §3.1 "If MessageNew is enabled, the STATUS response MUST contain MESSAGES, UIDNEXT, and
# UIDVALIDITY. If MessageExpunge is enabled, ... MESSAGES"; Dovecot sends these four whatever
# was enabled, and HIGHESTMODSEQ where FlagChange is (CONDSTORE is supported, enabled or not).
FIRST_STATUS = ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN")
_COUNTING = frozenset({spec.MESSAGE_NEW, spec.MESSAGE_EXPUNGE, spec.FLAG_CHANGE})
LOST = "NOTIFY error, some events may have got lost"


class Channel(Protocol):
    """The connection, as the notifier writes to it (imap/connection.py)."""

    between_commands: object

    @property
    def busy(self) -> bool: ...

    @property
    def waiting_for_line(self) -> bool: ...

    @property
    def closed(self) -> bool: ...

    def send_unsolicited(self, data: bytes) -> None: ...


@command("NOTIFY", AUTH)
async def notify(ctx: Context, args: list[Argument]) -> Done:
    session = ctx.session
    request = spec.parse_notify(args, session.dialect)
    postoffice = ctx.services.postoffice
    listing = None
    if request.groups:
        listing = await postoffice.mailbox_listing(session.user, counts=request.status)
    notifier = Notifier(session, ctx, ctx.unsolicited(), request, listing)
    if request.status and listing is not None:
        ctx.write(notifier.first_status(listing))
    notifier.start()
    # §3.1: "a successful NOTIFY SET command implies an implicit NOOP command": the pending
    # changes of the selected mailbox follow, as after every command
    return Done("NOTIFY completed")


class Notifier:
    """One session's NOTIFY in effect; `stop()` ends it (another NOTIFY, logout)."""

    def __init__(
        self,
        session: Session,
        ctx: Context,
        channel: Channel,
        request: spec.NotifyRequest,
        listing: MailboxListing | None,
    ) -> None:
        self.session = session
        self.user = session.user
        self.postoffice = ctx.services.postoffice
        self.services = ctx.services
        self.channel = channel
        self.request = request
        self.subscriptions: set[str] = set(listing.subscriptions) if listing else set()
        # the mailboxes there are: delivery and the HTTP API's inject create missing ones as
        # they store, which is a MailboxName event too (§5.4) that only a new name shows
        self.known: set[str] = {m.name for m in listing.mailboxes} if listing else set()
        self.unseen: dict[int, int] = {}  # mailbox id -> UNSEEN last told (FlagChange, §5.1)
        self.fetched_view: object = session.view
        self.fetched_to = session.view.largest_uid() if session.view is not None else 0
        self._unsubscribe = None
        self._stopped = False

    # --- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        """In place of the NOTIFY before, if any; what it held back is looked at again."""
        session = self.session
        if session.notifier is not None:
            session.notifier.stop()
        session.notifier = self
        selected = self.request.selected
        pushes = selected is not None and bool(selected.events)
        session.on_notified_change = self._selected_changed if pushes else None
        self.channel.between_commands = self._between_commands if pushes else None
        session.notify_selected(self.request.selected_events)
        if self.request.groups:
            self._unsubscribe = self.postoffice.events.subscribe(self._on_event)

    def stop(self) -> None:
        self._stopped = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.channel.between_commands == self._between_commands:
            self.channel.between_commands = None

    # --- STATUS at once (§3.1) ----------------------------------------------------------------

    def first_status(self, listing: MailboxListing) -> bytes:
        """A STATUS for each mailbox a group asks message events about, the selected one
        excepted (as Dovecot does: its state comes with the selected mailbox's responses)."""
        request = self.request
        wanted = set(FIRST_STATUS)
        if request.uses_flag_change:
            wanted.add("HIGHESTMODSEQ")
        items = tuple(item for item in ITEMS if item in wanted)
        view = self.session.view
        out = []
        for mailbox in sorted(listing.mailboxes, key=lambda m: list_order(m.name)):
            if view is not None and view.mailbox_id == mailbox.id:
                continue
            subscribed = mailbox.name in listing.subscriptions
            if not request.events_for(mailbox.name, subscribed=subscribed) & _COUNTING:
                continue
            counts = listing.counts.get(mailbox.id) or MailboxCounts()
            self.unseen[mailbox.id] = counts.unseen
            out.append(status_line(mailbox.name, mailbox, counts, items, self.session.dialect))
        return b"".join(out)

    # --- other mailboxes (§5.1-§5.5) ----------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if self._stopped or self.session.user is not self.user or self.user is None:
            return
        if getattr(event, "user", None) != self.user.name:
            return
        if isinstance(event, MAILBOX_EVENTS):
            if isinstance(event, MessageAdded) and event.mailbox not in self.known:
                created = MailboxNameChanged(event.user, event.mailbox, True)
                self._learn(created)
                self._name_event(created)
            self._message_event(event)
        elif isinstance(event, SubscriptionChanged):
            was = event.name in self.subscriptions
            if event.subscribed:
                self.subscriptions.add(event.name)
            else:
                self.subscriptions.discard(event.name)
            # §5: not told of what this session did itself
            if event.origin is not self.session:
                self._list_event(spec.SUBSCRIPTION_CHANGE, [event.name], was or event.subscribed)
        elif isinstance(event, MailboxNameChanged):
            self._learn(event)
            if event.origin is not self.session:
                self._name_event(event)

    def _learn(self, event: MailboxNameChanged) -> None:
        """Keep `known` as the store has it: a rename takes the subtree along."""
        known = self.known
        if event.old_name is not None:
            prefix = event.old_name + DELIMITER
            moved = {name for name in known if name == event.old_name or name.startswith(prefix)}
            known -= moved
            known |= {event.name + name[len(event.old_name) :] for name in moved}
        elif event.exists:
            known.add(event.name)
            parent = event.name
            while DELIMITER in parent:  # parents are created along with it
                parent = parent.rsplit(DELIMITER, 1)[0]
                known.add(parent)
        else:
            known.discard(event.name)

    def _message_event(self, event: MailboxEvent) -> None:
        view = self.session.view
        if view is not None and view.mailbox_id == event.mailbox_id:
            return  # the selected mailbox: told as SELECTED asks (§3.1)
        if isinstance(event, MessageAdded):
            kind = spec.MESSAGE_NEW
        elif isinstance(event, FlagsChanged):
            kind = spec.FLAG_CHANGE
        else:
            kind = spec.MESSAGE_EXPUNGE
        subscribed = event.mailbox in self.subscriptions
        if kind in self.request.events_for(event.mailbox, subscribed=subscribed):
            self._later(self._send_status(event.mailbox, kind))

    async def _send_status(self, name: str, kind: str) -> None:
        """§5.2, §5.3: STATUS (UIDNEXT MESSAGES), with UNSEEN as Dovecot adds it; §5.1: for
        flags, UNSEEN when it changed; HIGHESTMODSEQ when CONDSTORE or QRESYNC is enabled
        (with nothing else to say, nothing is sent)."""
        found = await self.postoffice.mailbox_status(self.user, name)
        if found is None or self._stopped:
            return
        row, counts = found
        dialect = self.session.dialect
        wanted = set()
        if kind != spec.FLAG_CHANGE:
            wanted |= {"MESSAGES", "UIDNEXT", "UNSEEN"}
        elif self.unseen.get(row.id) != counts.unseen:
            wanted.add("UNSEEN")
        if dialect.condstore or dialect.qresync:
            wanted.add("HIGHESTMODSEQ")
            if kind == spec.FLAG_CHANGE:  # §5.1: "at least HIGHESTMODSEQ and UIDVALIDITY"
                wanted.add("UIDVALIDITY")
        self.unseen[row.id] = counts.unseen
        if wanted:
            items = tuple(item for item in ITEMS if item in wanted)
            self.channel.send_unsolicited(status_line(row.name, row, counts, items, dialect))

    def _name_event(self, event: MailboxNameChanged) -> None:
        """§5.4: the mailbox, and for a create or delete its direct parent too."""
        names = [event.name]
        if event.old_name is None and DELIMITER in event.name:
            names.append(event.name.rsplit(DELIMITER, 1)[0])
        watched = [event.name] if event.old_name is None else [event.name, event.old_name]
        subscribed = any(name in self.subscriptions for name in watched)
        wanted = any(
            spec.MAILBOX_NAME in self.request.events_for(name, subscribed=subscribed)
            for name in watched
        )
        if wanted:
            self._later(self._send_list(names, event.old_name))

    def _list_event(self, kind: str, names: list[str], subscribed: bool) -> None:
        if any(kind in self.request.events_for(n, subscribed=subscribed) for n in names):
            self._later(self._send_list(names, None))

    async def _send_list(self, names: list[str], old_name: str | None) -> None:
        listing = await self.postoffice.mailbox_listing(self.user)
        if self._stopped:
            return
        dialect = self.session.dialect
        existing = {mailbox.name for mailbox in listing.mailboxes}
        out = []
        for i, name in enumerate(names):
            extra = b""
            if i == 0 and old_name is not None:
                # §5.4: "an extended LIST response ... containing the OLDNAME extended data item"
                extra = b' ("OLDNAME" (' + format_mailbox(old_name, dialect) + b"))"
            attributes = _attributes(name, existing, listing)
            out.append(list_line(b"LIST", attributes, name, dialect, extra))
        self.channel.send_unsolicited(b"".join(out))

    def _later(self, work) -> None:
        Deferred.fromCoroutine(work).addErrback(self._lost)

    def _lost(self, failure: Failure) -> None:
        """A notification that could not be made (the store away): said so, as Dovecot does,
        and the client may look again."""
        if failure.check(StoreUnavailable):
            log.warn("NOTIFY could not tell a change: {why}", why=failure.getErrorMessage())
        else:
            log.failure("NOTIFY could not tell a change", failure)
        self.channel.send_unsolicited(fmt.untagged_status(fmt.NO, LOST))

    # --- the selected mailbox (§5.1-§5.3, §6.1) -----------------------------------------------

    def _selected_changed(self) -> None:
        """A wanted change reached the view: out now unless a command runs (its end tells it;
        IDLE, waiting for DONE, is told at once, as NOTIFY asks, §4)."""
        channel = self.channel
        if channel.busy and not channel.waiting_for_line:
            return
        self._push_selected(idling=channel.busy)

    def _between_commands(self) -> None:
        """After each command: what it could not tell (EXPUNGE during FETCH, STORE, SEARCH)
        goes out now for SELECTED, and new messages' FETCH."""
        self._push_selected(idling=False)

    def _push_selected(self, *, idling: bool) -> None:
        session = self.session
        selected = self.request.selected
        if self._stopped or session.view is None or selected is None:
            return
        # §6.1.2 SELECTED-DELAYED: expunges wait for a command that may report them
        data = session.updates(allow_expunge=idling or not selected.delayed)
        self.channel.send_unsolicited(data)
        if session.contexts:  # SEARCH RETURN (UPDATE) results follow (RFC 5267 §4.3.2)
            self._later(self._send_context_updates())
        self._fetch_new()

    async def _send_context_updates(self) -> None:
        self.channel.send_unsolicited(await self.session.context_updates())

    def _fetch_new(self) -> None:
        """§5.2: after EXISTS, an unsolicited FETCH of what MessageNew asked for."""
        view = self.session.view
        selected = self.request.selected
        if view is None or selected is None or not selected.fetch:
            return
        if view is not self.fetched_view:  # another SELECT: its messages were listed
            self.fetched_view, self.fetched_to = view, view.largest_uid()
            return
        new = view.uids[bisect_right(view.uids, self.fetched_to) :]
        if not new:
            return
        self.fetched_to = new[-1]
        self._later(self._send_fetch(new, selected.fetch))

    async def _send_fetch(self, uids: list[int], items: tuple) -> None:
        closed = lambda: self.channel.closed  # noqa: E731
        data = await unsolicited_fetch(self.session, self.services, closed, uids, items)
        self.channel.send_unsolicited(data)


def _attributes(name: str, existing: set[str], listing: MailboxListing) -> list[str]:
    prefix = name + DELIMITER
    children = any(other.startswith(prefix) for other in existing)
    attributes = []
    if name not in existing:
        attributes.append("\\NonExistent")  # §5.4: deleted, or a parent that is no mailbox
        if children:
            attributes.append("\\HasChildren")
    else:
        attributes.append("\\HasChildren" if children else "\\HasNoChildren")
    if name in listing.subscriptions:
        attributes.append("\\Subscribed")  # §5.5: "If and only if the mailbox is subscribed"
    return attributes
