"""Persistence: users, mailboxes and messages in SQLite through twisted.enterprise.adbapi."""

from elektromail.store.db import (
    MailboxExists,
    MailboxRow,
    MessageRow,
    NoSuchMailbox,
    Store,
    StoreError,
    UserExists,
    UserRow,
    normalize_flags,
)

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
