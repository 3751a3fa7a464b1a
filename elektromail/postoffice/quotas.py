"""The quota desk: each user's limits (their own, else the server's settings) with what their
mailboxes use, for IMAP GETQUOTA/GETQUOTAROOT (RFC 9208) and the checks that refuse mail
over a limit (IMAP [OVERQUOTA], SMTP 552 5.2.2)."""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.defer import Deferred, inlineCallbacks, succeed

from elektromail.postoffice.desk import Desk
from elektromail.store import NoSuchUser, QuotaRow


class OverQuota(Exception):
    """Adding the messages would put their user over a limit (IMAP NO [OVERQUOTA], SMTP 552
    5.2.2)."""


@dataclass(frozen=True, slots=True)
class Quota:
    """A user's limits in force (None: none) and usage: message bytes and count over all of
    their mailboxes; `own_*` are the user's own limits (None: the server's apply)."""

    storage_limit: int | None
    messages_limit: int | None
    storage_used: int
    messages_used: int
    own_storage: int | None = None
    own_messages: int | None = None

    @property
    def limited(self) -> bool:
        return self.storage_limit is not None or self.messages_limit is not None

    def exceeded_by(self, size: int, count: int = 1) -> bool:
        """Whether adding `count` messages of `size` bytes in all goes over a limit."""
        if self.messages_limit is not None and self.messages_used + count > self.messages_limit:
            return True
        return self.storage_limit is not None and self.storage_used + size > self.storage_limit


class QuotaDesk(Desk):
    # Whether some user has limits of their own (None: not asked yet; learnt at start). With
    # none, and no server-wide limits, nothing is checked: no store round trip per message.
    _own_quotas: bool | None = None

    def quota(self, user: str) -> Deferred[Quota]:
        """The user's (any case) limits in force and usage. NoSuchUser."""
        return self.store.quota(user).addCallback(self._in_force)

    def set_quota(self, user: str, storage: int | None, messages: int | None) -> Deferred[Quota]:
        """Give the user limits of their own (None: the server's); fires with the result, and
        they apply to the next message. NoSuchUser."""
        if storage is not None or messages is not None:
            self._own_quotas = True
        return self.store.set_quota(user, storage, messages).addCallback(self._in_force)

    def learn_quotas(self) -> Deferred[None]:
        """Ask the store whether some user has limits of their own (a file database keeps
        them over a restart)."""

        def learned(found: bool) -> None:
            if not self._own_quotas:
                self._own_quotas = bool(found)

        return self.store.any_quotas().addCallback(learned)

    def forget_quotas(self) -> None:
        """After a reset, which drops every user's own limits."""
        self._own_quotas = False

    def quotas_apply(self) -> bool:
        """False when no limit can apply (none in the settings, no user with their own):
        callers skip gathering what check_room needs. A plain attribute test, so that mail
        costs nothing more when no quota is set."""
        settings = self.settings
        if settings.quota_storage is not None or settings.quota_messages is not None:
            return True
        return self._own_quotas is not False

    def check_room(self, user: str, size: int, count: int = 1) -> Deferred[None]:
        """Fires when `count` messages of `size` bytes in all fit in the user's limits, the
        limit itself included (as Dovecot counts); fails with OverQuota when they do not. The
        check is made before the store is asked to add them: two deliveries at the same
        moment may both fit and together go over (as Dovecot's quota also allows)."""
        if not self.quotas_apply():
            return succeed(None)
        return self._check_room(user, size, count)

    @inlineCallbacks
    def _check_room(self, user: str, size: int, count: int):
        if not (yield self.has_room(user, size, count)):
            raise OverQuota(user)

    @inlineCallbacks
    def has_room(self, user: str, size: int, count: int = 1):
        """Whether `count` messages of `size` bytes fit in the user's limits (a user not
        there yet, being made by this delivery, has none of their own)."""
        if self._own_quotas is None:
            yield self.learn_quotas()
            if not self.quotas_apply():
                return True
        try:
            quota = yield self.quota(user)
        except NoSuchUser:
            return True
        return not quota.exceeded_by(size, count)

    def _in_force(self, row: QuotaRow) -> Quota:
        settings = self.settings
        storage = row.storage_limit if row.storage_limit is not None else settings.quota_storage
        messages = row.messages_limit if row.messages_limit is not None else settings.quota_messages
        return Quota(
            storage,
            messages,
            row.storage_used,
            row.messages_used,
            row.storage_limit,
            row.messages_limit,
        )
