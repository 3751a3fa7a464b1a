"""IMAP command handlers, one module per family; importing this package fills dispatch.TABLE."""

from elektromail.imap.commands import (
    append,
    auth,
    fetch,
    idle,
    listing,
    mailboxes,
    messages,
    notify,
    quota,
    search,
    sort,
    state,
    status,
    store,
    thread,
)

__all__ = [
    "append",
    "auth",
    "fetch",
    "idle",
    "listing",
    "mailboxes",
    "messages",
    "notify",
    "quota",
    "search",
    "sort",
    "state",
    "status",
    "store",
    "thread",
]
