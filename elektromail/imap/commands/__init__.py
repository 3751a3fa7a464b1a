"""IMAP command handlers, one module per family; importing this package fills dispatch.TABLE."""

from elektromail.imap.commands import auth, fetch, mailboxes, state, store

__all__ = ["auth", "fetch", "mailboxes", "state", "store"]
