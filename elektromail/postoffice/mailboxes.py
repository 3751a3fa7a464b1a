"""The mailbox desk: a user's mailboxes as IMAP sees them. Finding, listing and opening one
(its messages' UIDs and flags, for SELECT), STATUS counts, and the changes: create, delete,
rename, subscribe, unsubscribe. A delete or an INBOX rename empties a mailbox, which its
selected sessions hear of as MessagesExpunged. Each change of the list of mailboxes or of
subscriptions is published too (for IMAP NOTIFY)."""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from elektromail.events import MailboxNameChanged, MessagesExpunged, SubscriptionChanged
from elektromail.names import INBOX
from elektromail.postoffice.desk import Desk
from elektromail.store import MailboxRow, UserRow
from elektromail.store.errors import StoreUnavailable
from elektromail.store.mailboxes import MailboxCounts, MailboxListing, Renamed

log = Logger()


class MailboxDesk(Desk):
    # --- reading ----------------------------------------------------------------------------

    def find_mailbox(self, user: UserRow, name: str) -> Deferred[MailboxRow | None]:
        """The user's mailbox named `name` (canonical form), or None."""
        return self.store.get_mailbox(user.id, name)

    def mailbox_view(self, mailbox_id: int) -> Deferred[tuple[MailboxRow, list[tuple[int, str]]]]:
        """The mailbox row and its (uid, flags text) pairs in UID order, for SELECT.
        NoSuchMailbox when it is gone."""
        return self.store.mailbox_view(mailbox_id)

    def messages_after(self, mailbox_id: int, uid: int) -> Deferred[list[tuple[int, str]]]:
        """The (uid, flags text) pairs of the mailbox's messages above `uid`, in UID order:
        what a selected view catches up with when other processes share the store."""
        return self.store.messages_after(mailbox_id, uid)

    def mailbox_listing(self, user: UserRow, *, counts: bool = False) -> Deferred[MailboxListing]:
        """The user's mailboxes and subscriptions in one snapshot (with STATUS counts when
        `counts`), for LIST and LSUB."""
        return self.store.mailbox_listing(user.id, counts=counts)

    def mailbox_status(
        self, user: UserRow, name: str
    ) -> Deferred[tuple[MailboxRow, MailboxCounts] | None]:
        """The mailbox and what STATUS counts in it, or None when it does not exist."""
        return self.store.mailbox_status(user.id, name)

    # --- \Recent ---------------------------------------------------------------------------
    # RFC 3501 §2.3.2: a message is recent in the one session that is "the first session to
    # have been notified about this message". As in Dovecot, that is the first read-write
    # SELECT to open the mailbox after the message arrived (or the session that has it
    # selected read-write when it arrives); EXAMINE and STATUS look without taking. The
    # decision is made here, synchronously, so two sessions never both take a message.

    def open_recent(self, mailbox: MailboxRow, *, claim: bool) -> int:
        """The first UID that is recent for a session opening `mailbox` (as just read for
        SELECT). With `claim` the session takes every message up to UIDNEXT: later sessions
        do not see them as recent."""
        first = self._known_first_recent(mailbox)
        taken = max(first, mailbox.uidnext) if claim else first
        self._first_recent[mailbox.id] = (mailbox.uidvalidity, taken)
        if taken > mailbox.first_recent:
            self._keep_first_recent(mailbox.id, taken)
        return first

    def recent_arrival(self, mailbox_id: int, uid: int, *, claim: bool) -> bool:
        """Whether a message that arrived while a session has the mailbox open is recent
        there; with `claim` (read-write) the session takes it."""
        known = self._first_recent.get(mailbox_id)
        if known is None or uid < known[1]:
            return False
        if claim:
            self._first_recent[mailbox_id] = (known[0], uid + 1)
            self._keep_first_recent(mailbox_id, uid + 1)
        return True

    # When other processes share the store (Events.shared) the decision is made there, under
    # the mailbox row's lock: the sessions to take a message may be in different processes.

    def open_recent_shared(
        self, mailbox_id: int, *, claim: bool
    ) -> Deferred[tuple[MailboxRow, list[tuple[int, str]], int]]:
        """mailbox_view with open_recent's first recent UID, decided in the shared store."""
        return self.store.mailbox_view_recent(mailbox_id, claim=claim)

    def arrivals_shared(
        self, mailbox_id: int, uid: int, *, claim: bool
    ) -> Deferred[tuple[list[tuple[int, str]], int]]:
        """messages_after with the first of them recent in the reading session, decided
        (and with `claim` taken) in the shared store."""
        return self.store.messages_after_recent(mailbox_id, uid, claim=claim)

    def _known_first_recent(self, mailbox: MailboxRow) -> int:
        known = self._first_recent.get(mailbox.id)
        if known is None or known[0] != mailbox.uidvalidity:  # a new mailbox with an old id
            return mailbox.first_recent
        return max(known[1], mailbox.first_recent)

    def _keep_first_recent(self, mailbox_id: int, uid: int) -> None:
        # In submission order with the store's other work, so a STATUS asked after this
        # counts with it. A failed write costs only a message shown recent once more.
        self.store.set_first_recent(mailbox_id, uid).addErrback(_first_recent_failed)

    # --- changing ---------------------------------------------------------------------------

    def create_mailbox(
        self, user: UserRow, name: str, special_use: str | None = None, *, origin: object = None
    ) -> Deferred[MailboxRow]:
        """The mailbox and any missing parents (not subscribed). MailboxExists."""

        def created(mailbox: MailboxRow) -> MailboxRow:
            self.events.publish(MailboxNameChanged(user.name, mailbox.name, True, origin=origin))
            return mailbox

        return self.store.create_mailbox_path(user.id, name, special_use).addCallback(created)

    def delete_mailbox(
        self, user: UserRow, name: str, *, origin: object = None
    ) -> Deferred[MailboxRow]:
        """Remove a mailbox without children and its messages; sessions that have it selected
        see it emptied (not vanish under them). Fires with its row. NoSuchMailbox,
        MailboxHasChildren."""

        def deleted(result: tuple[MailboxRow, list[int]]) -> MailboxRow:
            mailbox, uids = result
            if uids:
                self.events.publish(MessagesExpunged(user.name, name, mailbox.id, tuple(uids)))
            self.events.publish(MailboxNameChanged(user.name, mailbox.name, False, origin=origin))
            return mailbox

        return self.store.delete_mailbox(user.id, name).addCallback(deleted)

    def rename_mailbox(
        self, user: UserRow, old: str, new: str, *, origin: object = None
    ) -> Deferred[Renamed]:
        """Rename `old` and its subtree to `new`, UIDs kept. Renaming INBOX moves its messages
        to the new mailbox and leaves INBOX empty, which its sessions are told with EXPUNGEs.
        NoSuchMailbox, MailboxExists, MailboxIntoItself."""

        def renamed(result: Renamed) -> Renamed:
            if result.inbox_id is not None and result.inbox_uids:
                self.events.publish(
                    MessagesExpunged(user.name, INBOX, result.inbox_id, result.inbox_uids)
                )
            if result.names:  # the subtree moved with it: one event (RFC 5465 §5.4)
                first_old, first_new = result.names[0]
                self.events.publish(
                    MailboxNameChanged(user.name, first_new, True, first_old, origin=origin)
                )
            return result

        return self.store.rename_mailbox(user.id, old, new).addCallback(renamed)

    def subscribe(self, user: UserRow, name: str, *, origin: object = None) -> Deferred[None]:
        """Subscribe `name`, existing or not."""
        return self.store.subscribe(user.id, name).addCallback(
            self._subscription_changed, user, name, subscribed=True, origin=origin
        )

    def unsubscribe(self, user: UserRow, name: str, *, origin: object = None) -> Deferred[None]:
        """Unsubscribe `name`; nothing happens when it was not subscribed."""
        return self.store.unsubscribe(user.id, name).addCallback(
            self._subscription_changed, user, name, subscribed=False, origin=origin
        )

    def _subscription_changed(
        self, _: None, user: UserRow, name: str, *, subscribed: bool, origin: object
    ) -> None:
        self.events.publish(SubscriptionChanged(user.name, name, subscribed, origin=origin))


def _first_recent_failed(failure) -> None:
    if failure.check(StoreUnavailable):  # the database away: a warning, not a traceback
        log.warn("could not keep \\Recent state: {why}", why=failure.value)
    else:
        log.failure("could not keep \\Recent state", failure)
