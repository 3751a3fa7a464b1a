"""Persistence: users, mailboxes and messages in SQLite through twisted.enterprise.adbapi."""

from elektromail.store.db import (
    MailboxExists,
    MailboxRow,
    MessageRow,
    NoSuchMailbox,
    StoreError,
    UserExists,
    UserRow,
    normalize_flags,
)
from elektromail.store.db import Store as _CoreStore
from elektromail.store.messages import MessageOps


class Store(_CoreStore, MessageOps):
    """Users, mailboxes and messages in one SQLite database (see db.py and messages.py)."""


__all__ = [
    "MailboxExists",
    "MailboxRow",
    "MessageRow",
    "NoSuchMailbox",
    "Store",
    "StoreError",
    "UserExists",
    "UserRow",
    "normalize_flags",
]
