"""The quota desk: each user's limits (their own, else the server's settings) with what their
mailboxes use, for IMAP GETQUOTA/GETQUOTAROOT (RFC 9208) and the checks that refuse mail
over a limit (IMAP [OVERQUOTA], SMTP 552 5.2.2)."""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.defer import Deferred

from elektromail.postoffice.desk import Desk
from elektromail.store import QuotaRow


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
    def quota(self, user: str) -> Deferred[Quota]:
        """The user's (any case) limits in force and usage. NoSuchUser."""
        return self.store.quota(user).addCallback(self._in_force)

    def set_quota(self, user: str, storage: int | None, messages: int | None) -> Deferred[Quota]:
        """Give the user limits of their own (None: the server's); fires with the result.
        NoSuchUser."""
        return self.store.set_quota(user, storage, messages).addCallback(self._in_force)

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
