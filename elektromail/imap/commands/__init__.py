"""IMAP command handlers, one module per family; importing this package fills dispatch.TABLE."""

from elektromail.imap.commands import auth, fetch, mailboxes, messages, search, state, store

__all__ = ["auth", "fetch", "mailboxes", "messages", "search", "state", "store"]
