"""The message desk: the messages of a mailbox. IMAP reads them by UID and changes them in its
selected mailbox (flags and keywords, \\Seen set by FETCH, expunge, copy, move); the control
API finds, lists, reads, flags and deletes them by user and mailbox name. Every change publishes
FlagsChanged, MessagesExpunged or MessageAdded; `origin` names the IMAP session that made it,
which reports the change in its own responses instead."""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.logger import Logger

from elektromail.events import FlagsChanged, MessageAdded, MessagesExpunged
from elektromail.flags import check_flags
from elektromail.mailquery import Query
from elektromail.postoffice.quotas import QuotaDesk
from elektromail.postoffice.routing import MailboxRef
from elektromail.store import MailboxRow, MessageExtras, MessageRow
from elektromail.store.db import FlagsStored
from elektromail.store.query import QueryPage
from elektromail.store.summaries import Located, MailboxSummary, MessagePage, MessageSummary

log = Logger()

Copied = tuple[int, list[tuple[int, int, tuple[str, ...]]]]  # uidvalidity, (source, new, flags)


class MessageDesk(QuotaDesk):
    # --- a mailbox's messages by UID (IMAP) -------------------------------------------------

    def fetch_messages(
        self,
        mailbox_id: int,
        uids: Sequence[int],
        *,
        structure: bool = False,
        raw: bool = False,
        rendered: bool = False,
        budget: tuple[int, int] | None = None,
        changedsince: int | None = None,
        limit: int | None = None,
        envelope_only: bool = False,
    ) -> Deferred[list[MessageRow]]:
        """Messages by UID (ascending) with flags, dates, size and mod-sequence; `structure`,
        `raw` and `rendered` say which of the stored body's columns to read too (of the
        renderings only ENVELOPE with `envelope_only`); `budget`
        (messages, bytes) reads only the first that fit, by stored size (see Store.fetch);
        `changedsince` only those whose mod-sequence is above it (RFC 7162 §3.1.4.1), the
        first `limit` of them."""
        return self.store.fetch(
            mailbox_id,
            uids,
            structure=structure,
            raw=raw,
            rendered=rendered,
            budget=budget,
            changedsince=changedsince,
            limit=limit,
            envelope_only=envelope_only,
        )

    def expunged_since(self, mailbox_id: int, modseq: int) -> Deferred[list[int] | None]:
        """The UIDs expunged from the mailbox after mod-sequence `modseq`, ascending (QRESYNC's
        VANISHED (EARLIER), RFC 7162 §3.2.5.1); None when the bounded history of expunges
        (store/modseq.py) no longer reaches back that far."""
        return self.store.expunged_since(mailbox_id, modseq)

    def highest_modseq_of(self, mailbox_id: int, uids: Sequence[int]) -> Deferred[int]:
        """The largest mod-sequence among the messages `uids` (SEARCH's `(MODSEQ n)`)."""
        return self.store.highest_modseq_of(mailbox_id, uids)

    def message_extras(
        self, mailbox_id: int, uids: Sequence[int], *, parse: bool = True
    ) -> Deferred[dict[int, MessageExtras]]:
        """uid -> EMAILID, SAVEDATE and PREVIEW of the mailbox's messages among `uids`
        (store/objectids.py); without `parse`, unparsed bodies have no preview yet."""
        return self.store.message_extras(mailbox_id, uids, parse=parse)

    def search_uids(
        self, mailbox_id: int, query: tuple, uids: Sequence[int] | None = None
    ) -> Deferred[list[int]]:
        """The UIDs of the mailbox's messages matching one SEARCH key the store answers
        (store/search.py lists the queries; TEXT and BODY look at `uids` only, when given)."""
        return self.store.search_uids(mailbox_id, query, uids)

    def thread_messages(self, mailbox_id: int) -> Deferred[list[tuple]]:
        """What IMAP THREAD reads of each message of the mailbox, in UID order (store/search.py
        says what each row holds)."""
        return self.store.thread_messages(mailbox_id)

    def sorted_uids(
        self, mailbox_id: int, order: tuple[tuple[str, bool], ...]
    ) -> Deferred[list[int]]:
        """Every UID of the mailbox in IMAP SORT's order: `order` is (key, reverse) pairs
        (store/search.py lists the keys)."""
        return self.store.sorted_uids(mailbox_id, order)

    def store_flags(
        self,
        where: MailboxRef,
        uids: Sequence[int],
        mode: str,
        flags: Sequence[str],
        *,
        origin: object = None,
        unchangedsince: int | None = None,
    ) -> Deferred[FlagsStored]:
        """Set ("set"), add ("add") or remove ("remove") flags of the messages `uids`; fires
        with (uid, flags now, modseq) of each that still exists, changed or not, and the UIDs
        left alone because their mod-sequence is above `unchangedsince` (RFC 7162 §3.1.3)."""

        def stored(result: FlagsStored) -> FlagsStored:
            rows, _modified = result
            change = FlagsChanged(
                where.user,
                where.name,
                where.id,
                tuple((uid, new) for uid, new, _ in rows),
                origin=origin,
                modseqs=tuple(modseq for _, _, modseq in rows),
            )
            self.events.publish(change)
            return result

        d = self.store.store_flags_since(where.id, uids, mode, flags, unchangedsince)
        return d.addCallback(stored)

    def expunge(
        self, where: MailboxRef, uids: Sequence[int] | None = None, *, origin: object = None
    ) -> Deferred[list[int]]:
        """Remove the messages flagged \\Deleted (only among `uids` when given); fires with
        the removed UIDs, ascending."""

        def removed(gone: list[int]) -> list[int]:
            if gone:
                self.events.publish(
                    MessagesExpunged(where.user, where.name, where.id, tuple(gone), origin=origin)
                )
            return gone

        return self.store.expunge(where.id, uids).addCallback(removed)

    def copy(self, where: MailboxRef, uids: Sequence[int], target: MailboxRow) -> Deferred[Copied]:
        """Copy messages into `target` (of the same user); fires with the target's UIDVALIDITY
        and (source uid, new uid, flags) per copy, in source UID order. OverQuota when the
        copies do not fit in the user's limits; a MOVE adds nothing to them (one quota root
        per user), so it is never refused, as Dovecot moves even for a user over quota."""
        if not self.quotas_apply():
            return self._copy(where, uids, target, move=False, origin=None)
        return self._copy_within_quota(where, uids, target)

    @inlineCallbacks
    def _copy_within_quota(self, where: MailboxRef, uids: Sequence[int], target: MailboxRow):
        size, count = yield self.store.size_of(where.id, uids)
        yield self.check_room(where.user, size, count)
        copied = yield self._copy(where, uids, target, move=False, origin=None)
        return copied

    def move(
        self, where: MailboxRef, uids: Sequence[int], target: MailboxRow, *, origin: object = None
    ) -> Deferred[Copied]:
        """Move messages into `target` in one transaction (RFC 6851); fires as `copy`."""
        return self._copy(where, uids, target, move=True, origin=origin)

    def _copy(self, where, uids, target, *, move: bool, origin: object) -> Deferred[Copied]:
        def copied(result: Copied) -> Copied:
            _uidvalidity, copies = result
            for _source, new_uid, flags in copies:
                added = MessageAdded(
                    where.user, target.name, target.id, new_uid, flags, "move" if move else "copy"
                )
                self.events.publish(added)
            if move and copies:
                moved = tuple(source for source, _, _ in copies)
                self.events.publish(
                    MessagesExpunged(where.user, where.name, where.id, moved, origin=origin)
                )
            return result

        return self.store.copy(where.id, uids, target.id, move=move).addCallback(copied)

    # --- messages by user and mailbox name (the control API) --------------------------------

    def list_messages(
        self, user: str | None = None, mailbox: str | None = None, namespace: str | None = None
    ) -> Deferred[list[MessageSummary]]:
        """Every message (of `namespace`; None: the default one), or those of `user` and/or
        mailboxes named `mailbox`, oldest first."""
        return self.store.list_messages(user, mailbox, self.scope(namespace))

    def page_messages(
        self,
        user: str | None,
        mailbox: str | None,
        text: str | None,
        *,
        newest_first: bool,
        limit: int,
        offset: int,
        namespace: str | None = None,
    ) -> Deferred[MessagePage]:
        """One page of the listing (`text`: subject, addresses or body contain it) and the
        number of messages that match in all."""
        return self.store.page_messages(
            user, mailbox, text, newest_first, limit, offset, self.scope(namespace)
        )

    def search_messages(
        self,
        user: str | None,
        mailbox: str | None,
        text: str | None,
        *,
        newest_first: bool,
        namespace: str | None = None,
    ) -> Deferred[list[MessageSummary]]:
        """The whole listing narrowed by `text`, in either order."""
        return self.store.search_messages(user, mailbox, text, newest_first, self.scope(namespace))

    def query_messages(
        self,
        user: str | None,
        mailbox: str | None,
        query: Query,
        *,
        after: int = 0,
        newest_first: bool = False,
        limit: int | None = None,
        offset: int = 0,
        count: bool = True,
        namespace: str | None = None,
    ) -> Deferred[QueryPage]:
        """The listing narrowed by a parsed query (elektromail.mailquery) to the messages
        stored after cursor `after`: one page (`limit` None: all), the total that match, the
        cursor of this moment and each listed message's arrival number (without `count`, the
        total is the page's length: cheaper). Only `namespace`'s users' messages (None: the
        default namespace's)."""
        return self.store.query_messages(
            user,
            mailbox,
            query,
            after=after,
            newest_first=newest_first,
            limit=limit,
            offset=offset,
            count=count,
            scope=self.scope(namespace),
        )

    def message_cursor(self) -> Deferred[int]:
        """The arrival cursor of this moment: every message stored later comes after it."""
        return self.store.message_cursor()

    def mailbox_summaries(
        self, user: str | None = None, namespace: str | None = None
    ) -> Deferred[list[MailboxSummary]]:
        """Every mailbox (of `user`, or of `namespace`'s users) with its message and unseen
        counts."""
        return self.store.mailbox_summaries(user, self.scope(namespace))

    def get_message(
        self, user: str, mailbox: str, uid: int, *, raw: bool = True
    ) -> Deferred[MessageSummary | None]:
        """One message, with its bytes unless `raw` is False; None when it does not exist."""
        return self.store.get_message(user, mailbox, uid, raw=raw)

    def get_transcript(self, user: str, mailbox: str, uid: int) -> Deferred[tuple | None]:
        """(the stored SMTP transcript of one message or None,), or None when the message does
        not exist."""
        return self.store.get_transcript(user, mailbox, uid)

    @inlineCallbacks
    def change_flags(
        self, user: str, mailbox: str, uid: int, add: Sequence[str] = (), remove: Sequence[str] = ()
    ):
        """Add, then remove, flags of one message (the API's seen/flagged switches); selected
        IMAP sessions are told. Fires with the store's Located (its flags as they are now), or
        None when the user, mailbox or UID does not exist. InvalidInput for a flag that
        cannot be."""
        add, remove = check_flags(add), check_flags(remove)
        found: Located | None = yield self.store.change_flags(user, mailbox, uid, add, remove)
        if found is not None:
            change = ((found.uid, found.flags),)
            self.events.publish(
                FlagsChanged(
                    found.user, found.mailbox, found.mailbox_id, change, modseqs=(found.modseq,)
                )
            )
        return found

    @inlineCallbacks
    def delete_message(self, user: str, mailbox: str, uid: int):
        """Remove one message at once (no \\Deleted step); selected IMAP sessions get its
        EXPUNGE. Fires with the store's Located, or None when it does not exist."""
        found: Located | None = yield self.store.remove_message(user, mailbox, uid)
        if found is not None:
            self.events.publish(
                MessagesExpunged(found.user, found.mailbox, found.mailbox_id, (found.uid,))
            )
            log.info(
                "deleted {uid} from {user}/{mailbox}",
                uid=uid,
                user=found.user,
                mailbox=found.mailbox,
            )
        return found
